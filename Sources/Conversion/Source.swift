import Conformance
import Foundation
import HDF5
import KerasImport
import ONNXImport
import RNNRef

/// Reading what `convert` converts, into the canonical form:
/// - a case file of any framework (`rnnconf_case_schema`): the case's adapter's `importNetwork`;
/// - a Keras model (`.h5`, `.keras`, architecture `.json` with `weights`): KerasImport, one
///   recurrent layer (`layer`, required when the model has several);
/// - a PyTorch export (`.safetensors` with its `.json` beside it, or the `.json` with `weights`);
/// - an ONNX model (`.onnx`): one LSTM/GRU/RNN node (`layer` = its node name) through ONNXImport.
public enum ConversionSource {
  public static func load(path: String, weights: String? = nil, layer: String? = nil) throws -> SourceNetwork {
    if let special = RegularFile.specialKind(path: path) {
      throw ConversionError.invalidSource(path: path, reason: RegularFile.refusal(special))
    }
    guard FileManager.default.fileExists(atPath: path) else {
      throw ConversionError.invalidSource(path: path, reason: "no such file")
    }
    if path.hasSuffix(".safetensors") {
      if weights != nil { throw ConversionError.invalidSource(path: path, reason: "--weights is for a Keras architecture JSON or a PyTorch .json; a .safetensors file is itself the weights") }
      return try PyTorchExport.read(safetensors: path)
    }
    if path.hasSuffix(".json"), let w = weights, w.hasSuffix(".safetensors") {
      return try PyTorchExport.read(safetensors: w, config: path)
    }
    if path.hasSuffix(".json"), weights == nil,
       FileManager.default.fileExists(atPath: PyTorchExport.base(path) + ".safetensors") {
      return try PyTorchExport.read(safetensors: PyTorchExport.base(path) + ".safetensors", config: path)
    }
    if path.lowercased().hasSuffix(".onnx") {
      if weights != nil { throw ConversionError.invalidSource(path: path, reason: "--weights is for Keras models and PyTorch .json files; an ONNX model holds its weights") }
      return try onnxNetwork(path, layer: layer)
    }
    if Case.isCaseFile(path: path) {
      if layer != nil || weights != nil {
        throw ConversionError.invalidSource(path: path, reason: "--layer and --weights are for Keras models; a case file holds its network and weights")
      }
      return try caseNetwork(path)
    }
    return try kerasNetwork(path, weights: weights, layer: layer)
  }

  static func caseNetwork(_ path: String) throws -> SourceNetwork {
    let c = try Case.load(path: path)
    guard let adapter = Conventions.convention(for: c.framework) as? any NetworkConvention.Type else {
      throw ConversionError.invalidSource(path: path, reason: "the \(c.framework.rawValue) adapter does not import networks")
    }
    let network: Network<Double>
    do { network = try adapter.importNetwork(config: c.config, weights: c.weights) } catch {
      throw ConversionError.invalidSource(path: path, reason: "\(error)")
    }
    var source = SourceNetwork(network: network, framework: c.framework, batchMajor: batchMajor(c),
                               label: "\(c.framework.rawValue) case \(c.name)", dtype: c.dtype)
    source.initialStates = hasInitialStates(c)
    source.lengths = c.inputs.names.contains { lengthNames.contains($0) }
    if c.framework == .tf1 { source.sequenceBatchMajor = tf1BatchMajor(c) }
    return source
  }

  /// Whether a case is called with initial states: inputs other than the sequence, its lengths or mask.
  static func hasInitialStates(_ c: Case) -> Bool {
    c.inputs.names.dropFirst().contains { !lengthNames.contains($0) && $0 != "mask" }
  }
  /// Per-sample lengths inputs: ONNX, TF1, PyTorch packed sequences.
  static let lengthNames: Set<String> = ["sequence_lens", "sequence_length", "lengths"]

  /// TF1's own layout: batch-major unless `time_major` or a static (list of steps) driver.
  static func tf1BatchMajor(_ c: Case) -> Bool {
    if c.config["driver"]?.string?.hasPrefix("static") == true { return false }
    return c.config["driver_kwargs"]?["time_major"]?.bool != true
  }

  /// Whether a case's sequence input is batch-major: always for Keras, `batch_first` for
  /// PyTorch; TF1 and ONNX cases give it by their input's layout, which a converted model
  /// does not keep (torch's default, time-major, is written).
  static func batchMajor(_ c: Case) -> Bool {
    switch c.framework {
    case .keras: return true
    case .pytorch: return (try? PyTorch.parseConfig(c.config).module.batchFirst) ?? false
    case .tf1, .onnx: return false
    }
  }

  /// An ONNX model (ONNXImport): one recurrent node (`layer` = its node name; default the only
  /// one), its weights computed from the model's initializers, through the ONNX adapter.
  static func onnxNetwork(_ path: String, layer: String?) throws -> SourceNetwork {
    let nodes: [(name: String, opType: String, network: Network<Double>)]
    let model: ONNXModel
    do {
      model = try ONNXModel(path: path)
      nodes = try model.recurrentNetworks()
    } catch {
      throw ConversionError.invalidSource(path: path, reason: "\(error)")
    }
    let chosen: (name: String, opType: String, network: Network<Double>)
    if let l = layer {
      guard let found = nodes.first(where: { $0.name == l }) else {
        throw ConversionError.layerChoice(path: path, reason: "the model has no LSTM/GRU/RNN node `\(l)`", layers: nodes.map(\.name))
      }
      chosen = found
    } else {
      guard nodes.count == 1 else {
        if nodes.isEmpty { throw ConversionError.invalidSource(path: path, reason: "the model has no LSTM, GRU or RNN node") }
        throw ConversionError.layerChoice(path: path, reason: "the model has \(nodes.count) recurrent nodes; choose one", layers: nodes.map(\.name))
      }
      chosen = nodes[0]
    }
    let double = model.inputs.contains { $0.elementType == .double }
    return SourceNetwork(network: chosen.network, framework: .onnx, batchMajor: false,
                         label: "ONNX model \(path), \(chosen.opType) node \(chosen.name)", dtype: double ? .float64 : .float32)
  }

  static func kerasNetwork(_ path: String, weights: String?, layer: String?) throws -> SourceNetwork {
    let model: KerasModel
    do {
      model = try KerasModel(contentsOf: URL(fileURLWithPath: path), weights: weights.map { URL(fileURLWithPath: $0) })
    } catch {
      throw ConversionError.invalidSource(path: path, reason: "not a case file, a PyTorch export or a Keras model this reads: \(error)")
    }
    let layers = model.recurrentLayers
    let chosen: (name: String, network: Network<Double>)
    if let l = layer {
      guard let found = layers.first(where: { $0.name == l }) else {
        throw ConversionError.layerChoice(path: path, reason: "the model has no recurrent layer `\(l)`", layers: layers.map(\.name))
      }
      chosen = found
    } else {
      guard !layers.isEmpty else {
        let conv = model.convLSTMLayers
        if !conv.isEmpty {
          throw ConversionError.invalidSource(path: path, reason: "its recurrent layers are \(conv.map { "\($0.className) `\($0.name)`" }.joined(separator: ", ")): a ConvLSTM's products are convolutions, which the canonical network and PyTorch's and ONNX's recurrent layers cannot express")
        }
        throw ConversionError.invalidSource(path: path, reason: "the model has no recurrent layer (SimpleRNN, LSTM, GRU, RNN, Bidirectional)")
      }
      guard layers.count == 1 else {
        throw ConversionError.layerChoice(path: path, reason: "the model has \(layers.count) recurrent layers; choose one", layers: layers.map(\.name))
      }
      chosen = layers[0]
    }
    return SourceNetwork(network: chosen.network, framework: .keras, batchMajor: true,
                         label: "Keras \(model.kerasVersion) model \(path), layer \(chosen.name)",
                         dtype: model.kerasPrecision == .float64 ? .float64 : .float32)
  }
}
