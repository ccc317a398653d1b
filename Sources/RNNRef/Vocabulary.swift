/// The words a conformance case is described in, typed from the case file to the report.
/// Raw values are the exact spelling in case files (fixtures/README.md), JSON reports and on
/// the command line; `description` is the raw value, so text output reads the same.

/// A framework whose conventions RNNRef implements: a case file's `framework` attribute, the
/// folder a case lives in (`fixtures/<framework>/`), `--framework`. Each adapter names its own
/// (`FrameworkConvention.framework`); Conformance's `Conventions.convention(for:)` maps each to the
/// adapter its cases run through.
public enum Framework: String, CaseVocabulary, Codable, Hashable, Sendable, CustomStringConvertible {
  case keras, tf1, pytorch, onnx

  public var description: String { rawValue }
}

/// The recurrent cell a case exercises: a case file's `cell` attribute, `--cell`.
public enum CellFamily: String, CaseVocabulary, Codable, Hashable, Sendable, CustomStringConvertible {
  /// The plain tanh/ReLU recurrence (Keras SimpleRNN, PyTorch RNN, TF1 BasicRNNCell, ONNX RNN).
  case rnn
  case lstm
  case gru
  /// A stack of layers of different cells (a TF1 `MultiRNNCell`, a Keras model of several layers).
  case mixed

  public var description: String { rawValue }
}

/// A floating-point precision: the one a framework ran a case in (a case file's `dtype`
/// attribute) and the one the reference runs in.
public enum DType: String, CaseVocabulary, Codable, Hashable, Sendable, CustomStringConvertible {
  case float32, float64

  public var description: String { rawValue }
}

/// A closed set of words spelled by their raw values.
public protocol CaseVocabulary: CaseIterable, RawRepresentable where RawValue == String {}

extension CaseVocabulary {
  /// Every value as written in files, e.g. "keras, tf1, pytorch, onnx" (for error messages).
  public static var spelledOut: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
