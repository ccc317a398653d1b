import Foundation
import HDF5
import RNNRef

/// The scalar type a `KerasModel` computes in.
public enum KerasPrecision: String, CaseIterable, Sendable, CustomStringConvertible {
  /// `Float`, as Keras computes a model in its default `floatx` (float32). Results round the
  /// way Keras' own do.
  case float32
  /// `Double`: as Keras computes a model whose layers are float64 (`floatx` float64), or
  /// any model with rounding out of the way, to tell float32 rounding from a disagreement.
  case float64

  public var description: String { rawValue }
}

/// A Keras model loaded from its saved file, run by the RNNRef engine.
///
/// ```swift
/// let model = try KerasModel(contentsOf: URL(fileURLWithPath: "model.h5"))
/// print(model.summary)
/// let outputs = try model.predict([x])      // one tensor per model output, computed in Float
/// let exact = try KerasModel(contentsOf: url, precision: .float64).predict([x])  // in Double
/// ```
///
/// Formats: Keras 1/2 legacy `.h5` full models (standalone Keras, tf.keras, tf-keras),
/// `save_weights` `.h5` with the architecture from `model.to_json()` (pass the JSON as
/// `contentsOf` and the weights as `weights`), Keras 3 legacy `.h5`, `.keras`
/// archives, and Keras 3 `.weights.h5` with the archive's `config.json`.
/// Inputs and outputs are batch-major as in Keras (`(N, T, F)` sequences, integer ids
/// as floating-point values for `Embedding`). By default the model computes as Keras does:
/// in `Float`, or in `Double` when its layers are float64 (`kerasPrecision`); `precision:`
/// chooses either. The weights are kept as loaded and converted once per precision, and
/// both precisions run the same code.
///
/// Weights are matched to layers the way Keras loads them: by position within a layer
/// (`layer.weights` order), by layer name (legacy `.h5`) or by the Keras 3 saving keys
/// (`layers/<snake_case_class>[_N]`). Every stored weight must be used and every needed
/// weight present with its shape; violations are `KerasImportError`s naming the layer,
/// the weight and both shapes.
public final class KerasModel: CustomStringConvertible {
  /// The file the model came from.
  public let url: URL
  public let format: KerasFileFormat
  /// `keras_version` as stored (`"1"` when a legacy file has none, as Keras assumes).
  public let kerasVersion: String
  /// `backend` as stored (nil for Keras 3 archives, which do not record it).
  public let backend: String?
  public let name: String
  /// What Keras computes this model in: `.float64` when its layers are float64 (their
  /// `dtype` or dtype policy, as `floatx` float64 saves them), else `.float32`.
  public let kerasPrecision: KerasPrecision
  /// The scalar type `predict` computes in: `kerasPrecision` unless chosen at load or set
  /// here. Inputs and outputs keep the type they are given in either way.
  public var precision: KerasPrecision
  let graph: ModelGraph

  /// Loads a model. `weights`: a separate weights file (`save_weights` `.h5` or
  /// Keras 3 `.weights.h5`) when `url` is an architecture JSON, or to replace the
  /// weights of a full model. `precision`: what `predict` computes in; nil (the default)
  /// computes as Keras does (`kerasPrecision`: `Float`, or `Double` for a float64 model).
  /// `cut`: build and run only part of the model (`KerasCut`). `customLayers`: implementations
  /// for layer and RNN cell classes this importer does not know (`KerasCustomLayers`).
  public init(contentsOf url: URL, weights: URL? = nil, precision: KerasPrecision? = nil,
              cut: KerasCut = KerasCut(), customLayers: KerasCustomLayers = KerasCustomLayers()) throws {
    let loaded = try Storage.load(url, weights: weights)
    self.kerasPrecision = Self.kerasPrecision(loaded.model)
    self.precision = precision ?? kerasPrecision
    defer { for t in loaded.temporaries { try? FileManager.default.removeItem(at: t) } }
    self.url = url
    self.format = loaded.format
    let version = loaded.kerasVersion ?? loaded.model["keras_version"]?.string
      ?? (loaded.format == .kerasArchive || loaded.format == .kerasWeightsH5 ? "3" : "1")
    self.kerasVersion = version
    self.backend = loaded.backend ?? loaded.model["backend"]?.string
    guard let store = loaded.store else {
      throw KerasImportError(.noWeights, "\(url.path): no weights found")
    }
    // A cut model refuses a Lambda only where it builds one (`Builder.buildLayer`).
    if cut.isEmpty { try Self.refuseLambda(loaded.model, source: loaded.path, location: "") }
    let whole = try GraphParser.parse(loaded.model, location: "", version: Keras.Version(version))
    self.name = whole.name
    var builder = Builder(version: Keras.Version(version), source: loaded.weightsPath, store: store)
    builder.weightsVersion = Self.weightsVersion(loaded)
    builder.isCut = !cut.isEmpty
    builder.custom = customLayers
    var queues = try builder.queues(for: whole)
    let spec = try whole.cut(cut, source: loaded.path)
    for n in cut.inputLayers { queues[n] = nil }
    let stored = queues.values.reduce(0) { $0 + $1.count }
    if stored == 0 && Self.needsWeights(spec) {
      throw KerasImportError(.noWeights, "\(loaded.weightsPath): the file holds no weight values although the architecture has layers with weights (\(spec.layers.filter { Self.weighted($0.className) }.map(\.name).joined(separator: ", "))): the model was saved before it was built (never called or trained); build it (call it on data or fit) and save it again")
    }
    self.graph = try builder.build(spec, queues: queues)
    graph.expandCutOutputs(cut)
  }

  /// What Keras computes a saved architecture in: float64 when a layer other than an
  /// `InputLayer` (nested and wrapped layers included) has `dtype` float64 (tf-keras writes
  /// the name, Keras 3 a `DTypePolicy`), else float32 (mixed_float16 computes in float16
  /// and keeps float32 variables; it is run in float32 here).
  static func kerasPrecision(_ v: JSONValue) -> KerasPrecision {
    switch v {
    case .object(let o):
      if let cls = o["class_name"]?.string, cls != "InputLayer", let dtype = o["config"]?["dtype"],
         (dtype.string ?? dtype["config"]?["name"]?.string) == "float64" {
        return .float64
      }
      return o.values.contains { kerasPrecision($0) == .float64 } ? .float64 : .float32
    case .array(let a):
      return a.contains { kerasPrecision($0) == .float64 } ? .float64 : .float32
    default:
      return .float32
    }
  }

  /// A Lambda anywhere in the architecture is an error before anything else is built:
  /// its `function` (marshalled bytecode) is never read.
  static func refuseLambda(_ v: JSONValue, source: String, location: String) throws {
    switch v {
    case .object(let o):
      let name = o["config"]?["name"]?.string ?? o["name"]?.string
      if o["class_name"]?.string == "Lambda" {
        throw KerasImportError(.lambdaLayer, "\(source): layer `\(name ?? "?")` (at \(location.isEmpty ? "the model" : location)) is a Lambda layer: it holds arbitrary Python code, which is never executed or unmarshalled; rebuild the model without the Lambda (or cut it at the layer before) and save it again")
      }
      let here = name.map { location.isEmpty ? $0 : location + " > " + $0 } ?? location
      for (k, x) in o.sorted(by: { $0.key < $1.key }) where k != "function" {
        try refuseLambda(x, source: source, location: o["class_name"] != nil ? here : location)
      }
    case .array(let a):
      for x in a { try refuseLambda(x, source: source, location: location) }
    default: return
    }
  }

  static func weighted(_ cls: String) -> Bool {
    Keras.layerClasses.contains(cls) || ["Dense", "Embedding", "BatchNormalization", "LayerNormalization",
                                                "TimeDistributed"].contains(cls) || GraphParser.modelClasses.contains(cls)
  }
  static func needsWeights(_ spec: GraphSpec) -> Bool { spec.layers.contains { weighted($0.className) } }

  /// Names of the model inputs, in the order `predict` takes them.
  public var inputNames: [String] { graph.spec.inputs.map(\.layer) }
  /// Input shapes, batch first (nil = any size).
  public var inputShapes: [[Int?]] { graph.inputShapes }
  /// Output names (`layer` or `layer[k]` for the k-th output of a layer), in order.
  public var outputNames: [String] {
    graph.spec.outputs.map { r in
      let multiple = graph.spec.outputs.filter { $0.layer == r.layer }.count > 1 || r.index > 0
      return multiple ? "\(r.layer)[\(r.index)]" : r.layer
    }
  }
  public var outputShapes: [[Int?]] { graph.outputShapes }
  /// Number of weight scalars.
  public var parameterCount: Int { graph.layers.values.reduce(0) { $0 + $1.parameterCount } }

  /// Runs the model in `precision`: one tensor per input, batch-major (`(N, T, F)` for
  /// sequences), one per output, batch-major. With `.float32` the inputs are rounded to
  /// `Float` and the outputs widened exactly to `Double`.
  /// Stateful recurrent layers carry their states into the next call (see `resetStates()`).
  public func predict(_ inputs: [Tensor<Double>]) throws -> [Tensor<Double>] {
    switch precision {
    case .float64: return try run(inputs)
    case .float32: return try run(inputs.map { Tensor<Float>($0) }).map { Tensor<Double>($0) }
    }
  }

  /// `predict` on `Float` tensors: computed in `precision` (with `.float64` the inputs are
  /// widened exactly and the outputs rounded to `Float`).
  public func predict(_ inputs: [Tensor<Float>]) throws -> [Tensor<Float>] {
    switch precision {
    case .float32: return try run(inputs)
    case .float64: return try run(inputs.map { Tensor<Double>($0) }).map { Tensor<Float>($0) }
    }
  }

  /// The one path both precisions take: the graph run in scalar type `S`.
  func run<S: RNNScalar>(_ inputs: [Tensor<S>], also extra: [Ref] = []) throws -> [Tensor<S>] {
    guard inputs.count == inputNames.count else {
      throw KerasImportError(.invalidInput, "the model takes \(inputNames.count) input(s) (\(inputNames.joined(separator: ", "))) in this order, got \(inputs.count)")
    }
    for (k, (t, s)) in zip(inputs, inputShapes).enumerated() {
      // The batch axis is free (Keras predicts any batch for a non-stateful model).
      let ok = t.rank == s.count && zip(t.shape, s).enumerated().allSatisfy { k, p in k == 0 || p.1 == nil || p.0 == p.1! }
      guard ok else {
        throw KerasImportError(.invalidInput, "input \(k) (`\(inputNames[k])`) has shape \(KerasImportError.dims(t.shape)), the model expects \(KerasImportError.dims(s)) (None = any size)")
      }
      if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
        throw KerasImportError(.invalidInput, "input \(k) (`\(inputNames[k])`) holds a non-finite value (\(t.scalars[bad])) at flat index \(bad)")
      }
    }
    return try graph.run(inputs.map { Value(t: $0, mask: nil) }, also: extra).map(\.t)
  }

  /// Clears the states stateful layers carry between calls.
  public func resetStates() { graph.resetStates() }

  /// The model's layers, in config order: name, class, output shape(s), parameter count.
  public struct LayerSummary: Sendable, Equatable {
    public var name: String
    public var className: String
    public var outputShapes: [[Int?]]
    public var parameterCount: Int
  }

  public var layers: [LayerSummary] {
    graph.order.compactMap { n in
      guard let l = graph.layers[n] else { return nil }
      var shapes: [[Int?]] = []
      for k in 0..<8 { if let s = graph.nodeShapes[ModelGraph.key(n, k)] { shapes += s } else { break } }
      return LayerSummary(name: n, className: l.className, outputShapes: shapes, parameterCount: l.parameterCount)
    }
  }

  /// The recurrent layers as RNNRef networks with the weights as loaded (by Keras layer
  /// name, in model order; nested models included as `outer/inner`).
  public var recurrentLayers: [(name: String, network: Network<Double>)] {
    func collect(_ g: ModelGraph, prefix: String) -> [(String, Network<Double>)] {
      g.order.flatMap { n -> [(String, Network<Double>)] in
        switch g.layers[n] {
        case let r as RecurrentKLayer: return [(prefix + n, r.network)]
        case let m as NestedModelKLayer: return collect(m.graph, prefix: prefix + n + "/")
        case let t as TimeDistributedKLayer:
          if let r = t.inner as? RecurrentKLayer { return [(prefix + n, r.network)] }
          return []
        default: return []
        }
      }
    }
    return collect(graph, prefix: "").map { (name: $0.0, network: $0.1) }
  }

  /// One recurrent layer as an RNNRef network.
  public func recurrentNetwork(named name: String) -> Network<Double>? {
    recurrentLayers.first { $0.name == name }?.network
  }

  /// A printable summary: layers, output shapes, parameters, Keras version and backend.
  public var summary: String {
    func shape(_ s: [Int?]) -> String { KerasImportError.dims(s) }
    var rows: [(String, String, String)] = [("Layer (type)", "Output shape", "Param #")]
    for l in layers {
      rows.append(("\(l.name) (\(l.className))", l.outputShapes.map(shape).joined(separator: ", "), String(l.parameterCount)))
    }
    let w0 = rows.map(\.0.count).max() ?? 0, w1 = rows.map(\.1.count).max() ?? 0
    func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: Swift.max(0, w - s.count)) }
    var out = "Model: \"\(name)\" (\(graph.spec.className)), saved by Keras \(kerasVersion)"
      + (backend.map { " with the \($0) backend" } ?? "") + "; \(format)\n"
    for (k, r) in rows.enumerated() {
      out += pad(r.0, w0) + "  " + pad(r.1, w1) + "  " + r.2 + "\n"
      if k == 0 { out += String(repeating: "-", count: w0 + w1 + 12) + "\n" }
    }
    out += "Inputs: " + zip(inputNames, inputShapes).map { "\($0) \(shape($1))" }.joined(separator: ", ") + "\n"
    out += "Outputs: " + zip(outputNames, outputShapes).map { "\($0) \(shape($1))" }.joined(separator: ", ") + "\n"
    out += "Total params: \(parameterCount)\n"
    return out
  }

  public var description: String { summary }
}
