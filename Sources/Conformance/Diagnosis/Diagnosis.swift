import Foundation
import RNNRef

/// The kind of a convention mistake the diagnosis found (docs/DIAGNOSIS.md: the vocabulary,
/// what each hypothesis changes and how to fix the conversion).
public enum DiagnosisKind: String, Codable, Sendable, CaseIterable {
  /// Gate blocks of one weight tensor (or of several) in another order.
  case gateOrder = "gate-order"
  /// Square kernel blocks (a whole square kernel for a simple RNN) used transposed.
  case transposedKernel = "transposed-kernel"
  /// A bias dropped, doubled, swapped or two biases summed into one.
  case biasSplit = "bias-split"
  /// The run-time forget bias (TF1 `forget_bias`) missing or applied twice.
  case forgetBias = "forget-bias"
  /// GRU reset gate applied before instead of after the recurrent matmul, or the other way.
  case resetAfter = "reset-after"
  /// Keras 2's `hard_sigmoid` for Keras 3's, the other way, or hard_sigmoid for sigmoid.
  case hardSigmoidVariant = "hard-sigmoid-variant"
  /// Batch-major data read as time-major, or outputs stored in the other layout.
  case timeMajor = "time-major"
  /// A bidirectional layer's backward outputs time-reversed instead of aligned to input time.
  case reverseAlignment = "reverse-alignment"
  /// State outputs in another order: `[h, c]` vs `(c, h)`, or `h_n` stacked by direction, not layer.
  case stateOrder = "state-order"
  /// Masked or padded steps output zeros instead of repeating the previous output, or the other way.
  case maskSemantics = "mask-semantics"
  /// A reverse-only (`go_backwards`) layer's outputs aligned to input time instead of time-reversed.
  case goBackwardsOrientation = "go-backwards-orientation"
}

/// One convention mistake under which the reference reproduces a failing case's expected
/// outputs within the case's tolerance. Part of the JSON report (`cases[].diagnosis`).
public struct Diagnosis: Codable, Equatable, Sendable {
  /// From the documented vocabulary; for a pair of mistakes, the first one's kind.
  public var kind: DiagnosisKind
  /// What the mistake is, in the case's native names, and how to fix the conversion.
  public var description: String
  /// The greatest absolute difference between the expected outputs and the reference run
  /// under this mistake (within the case's tolerance by construction).
  public var maxAbsError: Double

  public init(kind: DiagnosisKind, description: String, maxAbsError: Double) {
    self.kind = kind; self.description = description; self.maxAbsError = maxAbsError
  }
}

/// How much diagnosis a run does for its failing cases (`rnnconf run --explain`,
/// `--diagnosis-budget`).
public struct DiagnosisLimit: Sendable, Equatable {
  /// Stop trying further hypotheses after this moment; nil = try every one.
  public var deadline: Date?
  public init(deadline: Date?) { self.deadline = deadline }
  /// Every hypothesis for every failing case.
  public static let unlimited = DiagnosisLimit(deadline: nil)
}
