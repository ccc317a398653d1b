import Foundation
import RNNRef

/// Converting a recurrent network between frameworks: a source (a case file of any framework,
/// a Keras model, or a PyTorch export) is imported into the canonical `Network` with the
/// adapters' `importNetwork`, exact rewrites are applied and named (`Rewrite`), and the network
/// is exported with the target adapter's `exportNetwork` and written as files the target
/// framework loads (`PyTorchExport`, `KerasExport`, `ONNXExport`). What the target cannot express is refused
/// with the adapter's reason (`ConversionError.refused`).
public enum ConversionTarget: String, CaseIterable, Sendable {
  case pytorch, keras, onnx
}

/// Why a conversion did not happen. Messages name the file and what to do.
public enum ConversionError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// The source file is not something `convert` reads, or is malformed.
  case invalidSource(path: String, reason: String)
  /// A Keras model with several recurrent layers and no `--layer`, or an unknown `--layer`.
  case layerChoice(path: String, reason: String, layers: [String])
  /// The target framework cannot express the network.
  case refused(target: String, reason: String)
  /// The output path does not fit the target.
  case invalidOutput(path: String, reason: String)
  /// The target is not implemented.
  case unsupportedTarget(String)

  public var description: String {
    switch self {
    case let .invalidSource(path, reason): return "\(path): \(reason)"
    case let .layerChoice(path, reason, layers):
      return "\(path): \(reason); its recurrent layers: " + layers.map { "`\($0)`" }.joined(separator: ", ")
        + " (pass --layer NAME)"
    case let .refused(target, reason): return "cannot convert to \(target): \(reason)"
    case let .invalidOutput(path, reason): return "--output \(path): \(reason)"
    case let .unsupportedTarget(t): return "--to \(t) is not implemented; use --to pytorch, keras or onnx"
    }
  }
  public var errorDescription: String? { description }
}

/// An exact rewrite applied on the way (the converted model computes the same function).
public struct Rewrite: Equatable, Sendable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// A network read from a source, with what is known about how it was called.
public struct SourceNetwork: Sendable {
  /// The canonical network (Double: float32 weights are held exactly).
  public var network: Network<Double>
  /// The framework the source came from.
  public var framework: Framework
  /// Whether the source takes batch-major sequences `(N, T, I)` (Keras always; PyTorch `batch_first`).
  public var batchMajor: Bool
  /// What the source was (for messages): `keras model m.h5, layer lstm`.
  public var label: String
  /// The precision the source computes in.
  public var dtype: DType
  /// Whether the source is called with initial states (a case file with state inputs): the ONNX
  /// graph then takes them as inputs.
  public var initialStates: Bool = false
  /// The source's own sequence layout when `batchMajor` does not give it (TF1: `time_major`).
  public var sequenceBatchMajor: Bool? = nil
  /// Whether the source is called with per-sample lengths (ONNX `sequence_lens`, TF1
  /// `sequence_length`, PyTorch packed sequences' `lengths`): the ONNX graph then takes them.
  public var lengths: Bool = false
  public init(network: Network<Double>, framework: Framework, batchMajor: Bool, label: String, dtype: DType) {
    self.network = network; self.framework = framework; self.batchMajor = batchMajor
    self.label = label; self.dtype = dtype
  }
}

/// What `convert` wrote.
public struct ConversionResult: Sendable {
  public var files: [String]
  public var rewrites: [Rewrite]
  /// The ONNX graph's inputs and outputs, in order (empty for the other targets).
  public var inputs: [String] = []
  public var outputs: [String] = []
}

public enum Converter {
  /// Applies the rewrites a target needs before its adapter exports, each named; throws `refused`
  /// when the adapter cannot express what remains.
  static func prepare(_ source: SourceNetwork, for target: ConversionTarget) -> (Network<Double>, [Rewrite]) {
    var net = source.network
    var rewrites: [Rewrite] = []
    for (k, layer) in net.layers.enumerated() {
      for (d, cell) in layer.cells.enumerated() {
        let here = "layer \(k)" + (layer.cells.count == 2 ? (d == 0 ? " forward" : " backward") : "")
        guard case .lstm(var c) = cell, c.forgetBias != 0 else { continue }
        // f = sigmoid(x Wf + h Uf + bf + forget_bias): the same sum with forget_bias inside bf.
        let h = c.hiddenSize
        for j in h..<(2 * h) { c.inputBias.scalars[j] += c.forgetBias }
        rewrites.append(Rewrite("\(here): the run-time forget_bias=\(c.forgetBias) (TF1) is added to the forget-gate block of the bias"))
        c.forgetBias = 0
        net.layers[k].cells[d] = .lstm(c)
      }
      // Keras keeps merge_mode=None and ONNX's Y its direction axis; torch only concatenates, and a
      // layer below another one feeds it the concatenation.
      if layer.direction == .bidirectional && layer.merge == .none && (target == .pytorch || k < net.layers.count - 1) {
        net.layers[k].merge = .concat
        let h = layer.cells[0].outputSize
        rewrites.append(Rewrite("layer \(k): the two directions' outputs, returned separately by the source (Keras merge_mode=None, TF1 bidirectional_dynamic_rnn, ONNX's direction axis), are " + (k < net.layers.count - 1 ? "concatenated, forward first, into the next layer's input" : "returned concatenated, forward first: output[..., :\(h)] is the forward direction's, output[..., \(h):] the backward's")))
      }
      if layer.padding == .repeatPreviousOutput && target != .keras {
        net.layers[k].padding = .zeroOutput
        rewrites.append(Rewrite("layer \(k): Keras' masking rule (zero_output_for_mask=False: a masked step repeats the previous output) is dropped, \(target == .pytorch ? "torch" : "the ONNX graph") takes no mask: the same outputs on unmasked inputs"))
      }
    }
    func isZero(_ t: Tensor<Double>) -> Bool { t.scalars.allSatisfy { $0 == 0 } }
    var oneBias = false, twoBias = false
    for layer in net.layers { for cell in layer.cells {
      let (bi, bh, resetAfterGRU): (Tensor<Double>, Tensor<Double>, Bool)
      switch cell {
      case .simple(let c): (bi, bh, resetAfterGRU) = (c.inputBias, c.recurrentBias, false)
      case .lstm(let c): (bi, bh, resetAfterGRU) = (c.inputBias, c.recurrentBias, false)
      case .gru(let c): (bi, bh, resetAfterGRU) = (c.inputBias, c.recurrentBias, c.resetAfter)
      }
      if !isZero(bi) && isZero(bh) { oneBias = true }
      if !isZero(bh) && !resetAfterGRU { twoBias = true }
    } }
    switch target {
    case .pytorch, .onnx:
      if oneBias {
        rewrites.append(Rewrite("the single bias of \(source.framework.rawValue) is written as the input-side bias (bias_ih / Wb); the recurrent-side bias (bias_hh / Rb) is zero"))
      }
    case .keras:
      if twoBias {
        rewrites.append(Rewrite("the input-side and recurrent-side biases of \(source.framework.rawValue) are summed into Keras' one bias (exact up to one float32 rounding per element)"))
      }
    }
    return (net, rewrites)
  }

  /// Converts and writes the target's files; `output` without an extension for PyTorch
  /// (`PATH.safetensors` + `PATH.json`), `.keras` (Keras 3) or `.h5` (tf-keras) for Keras.
  /// `initialStates` (ONNX): whether the graph takes initial states; default: when the source does.
  public static func convert(_ source: SourceNetwork, to target: ConversionTarget, output: String,
                             initialStates: Bool? = nil) throws -> ConversionResult {
    let (net, rewrites) = prepare(source, for: target)
    // No target's exporter writes a residual connection (TF1 ResidualWrapper): refuse rather than drop it.
    if !net.residuals.isEmpty {
      throw ConversionError.refused(
        target: target.rawValue,
        reason: "\(source.label) has residual connections (" + net.residuals.map { "layer \($0.from) input -> layer \($0.to) output" }
          .joined(separator: ", ") + ", TF1 ResidualWrapper), which no \(target.rawValue) recurrent layer can express")
    }
    do {
      switch target {
      case .pytorch:
        let files = try PyTorchExport.write(net, batchFirst: source.batchMajor, dtype: source.dtype, output: output)
        return ConversionResult(files: files, rewrites: rewrites)
      case .keras:
        let files = try KerasExport.write(net, dtype: source.dtype, output: output)
        return ConversionResult(files: files, rewrites: rewrites)
      case .onnx:
        let signature = ONNXExport.Signature.of(source, initialStates: initialStates)
        let written = try ONNXExport.write(net, signature: signature, dtype: source.dtype, output: output)
        return ConversionResult(files: written.files, rewrites: rewrites + written.rewrites,
                                inputs: written.inputs, outputs: written.outputs)
      }
    } catch let RNNRefError.unsupported(framework, feature) {
      throw ConversionError.refused(target: framework, reason: feature)
    }
  }
}
