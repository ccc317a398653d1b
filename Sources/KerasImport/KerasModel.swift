import Foundation
import HDF5
// Re-exported: every type `KerasModel`'s API takes or returns (`Tensor`, `Network`, `Engine`,
// `LayerState`, `RNNScalar`, `RNNRefError`) is RNNRef's, so `import KerasImport` is enough to
// call it, and a caller that also imports RNNRef sees the same types (typealiases would leave
// the generic functions and the engine out, and clash with RNNRef's names in such a file).
@_exported import RNNRef

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
/// // (batch 2, 5 steps, 3 features), batch-major as Keras takes it
/// let x = try Tensor<Float>(shape: [2, 5, 3], scalars: (0..<30).map { Float($0) / 30 })
/// let outputs = try model.predict([x])      // one tensor per model output, computed in Float
/// let exact = try KerasModel(contentsOf: url, precision: .float64).predict([x])  // in Double
/// ```
///
/// Formats: Keras 1/2 legacy `.h5` full models (standalone Keras, tf.keras, tf-keras),
/// `save_weights` `.h5` with the architecture from `model.to_json()` (pass the JSON as
/// `contentsOf` and the weights as `weights`), Keras 3 legacy `.h5`, `.keras`
/// archives, and Keras 3 `.weights.h5` with the archive's `config.json`.
/// Inputs and outputs of `predict` are **batch-major** as in Keras (`(N, T, F)` sequences,
/// integer ids as floating-point values for `Embedding`). The RNNRef networks that
/// `recurrentLayers` and `recurrentNetwork(named:)` return are **time-major** (`Engine.run`
/// takes `(T, N, F)`): transpose with `x.transposed([1, 0, 2])` to run one on your own.
/// By default the model computes as Keras does:
/// in `Float`, or in `Double` when its layers are float64 (`kerasPrecision`); `precision:`
/// chooses either. The weights are kept as loaded and converted once per precision, and
/// both precisions run the same code.
///
/// Weights are matched to layers the way Keras loads them: by position within a layer
/// (`layer.weights` order), by layer name (legacy `.h5`) or by the Keras 3 saving keys
/// (`layers/<snake_case_class>[_N]`). Every stored weight must be used and every needed
/// weight present with its shape; violations are `KerasImportError`s naming the layer,
/// the weight and both shapes.
///
/// **Concurrency.** A `KerasModel` is immutable and `Sendable`: `predict` can run from many
/// tasks at once (e.g. a `TaskGroup`). Stateful recurrent layers (`stateful=True`) carry
/// their final states into the next call. Those states live either in a ``States`` value
/// you hold and pass to `predict(_:states:)` (one per independent stream), or, for
/// `predict(_:)`, in the model's own states, which a lock isolates: calls on a stateful
/// model through `predict(_:)` run one at a time, in the order they take the lock, and
/// `resetStates()` clears them. A model without stateful layers takes no lock.
public final class KerasModel: Sendable, CustomStringConvertible {
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
  /// The scalar type `predict` computes in: `kerasPrecision` unless chosen at load
  /// (`init(contentsOf:weights:precision:cut:customLayers:)`). Inputs and outputs keep the type they are given
  /// in either way.
  public let precision: KerasPrecision
  let graph: ModelGraph
  /// Whether a layer carries states between calls (then `predict(_:)` takes `ownStates`' lock).
  let isStateful: Bool
  /// The states `predict(_:)` carries for callers that hold no `States`.
  let ownStates = LockedStates()

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
    let whole = try Self.naming(loaded) { try GraphParser.parse(loaded.model, location: "", version: Keras.Version(version)) }
    self.name = whole.name
    var builder = Builder(version: Keras.Version(version), source: loaded.weightsPath, store: store)
    builder.weightsVersion = Self.weightsVersion(loaded)
    builder.isCut = !cut.isEmpty
    builder.custom = customLayers
    var queues = try Self.naming(loaded) { try builder.queues(for: whole) }
    let spec = try whole.cut(cut, source: loaded.path)
    for n in cut.inputLayers { queues[n] = nil }
    let stored = queues.values.reduce(0) { $0 + $1.count }
    if stored == 0 && Self.needsWeights(spec) {
      throw KerasImportError(.noWeights, "\(loaded.weightsPath): the file holds no weight values although the architecture has layers with weights (\(spec.layers.filter { Self.weighted($0.className) }.map(\.name).joined(separator: ", "))): the model was saved before it was built (never called or trained); build it (call it on data or fit) and save it again")
    }
    self.graph = try Self.naming(loaded) { try builder.build(spec, queues: queues) }
    graph.expandCutOutputs(cut)
    self.isStateful = graph.isStateful
  }

  /// Runs `body`; a `KerasImportError` from it that names neither the model file nor the weights
  /// file (the graph parser's and some layer builders' errors name only the layer) gets the
  /// model file's path in front, so every load error names its file.
  static func naming<T>(_ loaded: LoadedFile, _ body: () throws -> T) throws -> T {
    do { return try body() } catch var e as KerasImportError
      where !e.message.contains(loaded.path) && !e.message.contains(loaded.weightsPath) {
      e.message = "\(loaded.path): \(e.message)"
      throw e
    }
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
  /// Stateful recurrent layers carry their states into the next call through the model's own
  /// states (see `resetStates()`; calls on a stateful model run one at a time); hold a
  /// ``States`` and call `predict(_:states:)` to keep them yourself.
  /// - Throws: `KerasImportError` (`.invalidInput`) when the number of inputs, a shape (the
  ///   batch axis and `None` dimensions are free) or a value (NaN, infinity) does not fit.
  public func predict(_ inputs: [Tensor<Double>]) throws -> [Tensor<Double>] {
    try ownStates.update(if: isStateful) { try predict(inputs, states: &$0) }
  }

  /// `predict` on `Float` tensors: computed in `precision` (with `.float64` the inputs are
  /// widened exactly and the outputs rounded to `Float`).
  public func predict(_ inputs: [Tensor<Float>]) throws -> [Tensor<Float>] {
    try ownStates.update(if: isStateful) { try predict(inputs, states: &$0) }
  }

  /// `predict` with the states of stateful layers in `states`, which you hold: each stateful
  /// layer starts from its final states of the previous call made with the same `states`
  /// (zeros for a new `States()`), and leaves its new final states there. Use one `States`
  /// per independent stream; a model without stateful layers leaves `states` empty.
  /// - Throws: `KerasImportError` (`.invalidInput`) as `predict(_:)` does, and when `states`
  ///   was used with another `KerasModel`.
  public func predict(_ inputs: [Tensor<Double>], states: inout States) throws -> [Tensor<Double>] {
    try adopt(&states)
    switch precision {
    case .float64: return try run(inputs, states: &states.carried)
    case .float32: return try run(inputs.map { Tensor<Float>($0) }, states: &states.carried).map { Tensor<Double>($0) }
    }
  }

  /// `predict(_:states:)` on `Float` tensors.
  public func predict(_ inputs: [Tensor<Float>], states: inout States) throws -> [Tensor<Float>] {
    try adopt(&states)
    switch precision {
    case .float32: return try run(inputs, states: &states.carried)
    case .float64: return try run(inputs.map { Tensor<Double>($0) }, states: &states.carried).map { Tensor<Float>($0) }
    }
  }

  /// Binds a new `States` to this model; refuses one bound to another model.
  func adopt(_ states: inout States) throws {
    if let owner = states.owner, owner !== graph {
      throw KerasImportError(.invalidInput, "these KerasModel.States were used with another model; a States value belongs to the model it was first used with: make a new KerasModel.States() for model `\(name)`")
    }
    states.owner = graph
  }

  /// The one path both precisions take: the graph run in scalar type `S`.
  func run<S: RNNScalar>(_ inputs: [Tensor<S>], states: inout CarriedStates, also extra: [Ref] = []) throws -> [Tensor<S>] {
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
    return try graph.run(inputs.map { Value(t: $0, mask: nil) }, states: &states, also: extra).map(\.t)
  }

  /// `predict`, plus each top-level layer's first output (of its first call), named by the layer
  /// and in the model's layer order (its config order, which Keras writes in graph order); input
  /// layers are left out. What `keras.Model(model.inputs, layer.output)` gives, for
  /// `rnnconf compare` to name the first layer that diverges from a captured reference.
  public func predictLayers(_ inputs: [Tensor<Double>]) throws
    -> (outputs: [Tensor<Double>], layers: [(name: String, output: Tensor<Double>)])
  {
    let r = try runAllLayers(inputs)
    let inputLayers = Set(inputNames)
    let layers = r.layers.filter { $0.ref.index == 0 && !inputLayers.contains($0.ref.layer) }
    return (r.outputs, layers.map { (name: $0.ref.layer, output: $0.tensor) })
  }

  /// Clears the states stateful layers carry between `predict(_:)` calls (the model's own;
  /// a ``States`` you hold is cleared with `States.reset()`).
  public func resetStates() { ownStates.update(if: true) { $0.reset() } }

  /// Whether a layer (nested and wrapped layers included) is stateful: carries its final
  /// states into the next `predict` call.
  public var hasStatefulLayers: Bool { isStateful }

  /// What the stateful recurrent layers of one model carry from one `predict(_:states:)` call
  /// to the next: per layer, its final states (`h`, and `c` for an LSTM, per direction and
  /// cell). A value you hold, so independent streams (or tasks) keep independent states.
  /// A `States` belongs to the model it is first used with.
  public struct States: Sendable {
    var carried = CarriedStates()
    /// The graph of the model these states belong to (nil until first used).
    var owner: ModelGraph?

    /// Empty states: every stateful layer starts from zeros.
    public init() {}

    /// True when no stateful layer has left states here yet (new, or after `reset()`).
    public var isEmpty: Bool { carried.byLayer.isEmpty }

    /// Clears the states: every stateful layer starts from zeros on the next call.
    public mutating func reset() { carried = CarriedStates() }
  }

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
  /// name, in model order; nested models included as `outer/inner`). The networks are
  /// time-major (`(T, N, F)`), unlike `predict`: see `recurrentNetwork(named:)`.
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

  /// One recurrent layer as an RNNRef network (nil when no recurrent layer has that name),
  /// with the weights as loaded.
  ///
  /// The network is **time-major**, as the RNNRef engine is: `Engine.run(network, input:)`
  /// takes `(T, N, F)` and returns `(T, N, H)` outputs, where the model's `predict` takes and
  /// returns batch-major `(N, T, F)`. Transpose with `x.transposed([1, 0, 2])`.
  /// It runs the canonical layers only: a stateful layer's carried states, the incoming mask
  /// and Keras' output selection (`return_sequences`, `return_state`) are the model's.
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

/// The states stateful recurrent layers carry from one call to the next, by layer object (a
/// shared layer carries one state across its calls, as in Keras), per canonical layer and
/// direction, each in the scalar type of the call that left it.
struct CarriedStates: Sendable {
  enum Entry: Sendable {
    case float([[LayerState<Float>]])
    case double([[LayerState<Double>]])
  }
  var byLayer: [ObjectIdentifier: Entry] = [:]

  /// `layer`'s states in scalar type `S` (converted when the call that left them ran in
  /// another), nil when it has none.
  func states<S: RNNScalar>(of layer: AnyObject, _: S.Type) -> [[LayerState<S>]]? {
    func convert<T: RNNScalar>(_ states: [[LayerState<T>]]) -> [[LayerState<S>]] {
      if let same = states as? [[LayerState<S>]] { return same }
      return states.map { $0.map { LayerState(h: Tensor<S>($0.h), c: $0.c.map { Tensor<S>($0) }) } }
    }
    switch byLayer[ObjectIdentifier(layer)] {
    case .float(let f): return convert(f)
    case .double(let d): return convert(d)
    case nil: return nil
    }
  }

  mutating func set<S: RNNScalar>(_ states: [[LayerState<S>]], of layer: AnyObject) {
    if let f = states as? [[LayerState<Float>]] {
      byLayer[ObjectIdentifier(layer)] = .float(f)
    } else {
      byLayer[ObjectIdentifier(layer)] = .double(states.map { $0.map { LayerState(h: Tensor<Double>($0.h), c: $0.c.map { Tensor<Double>($0) }) } })
    }
  }
}

/// A model's own `KerasModel.States`, isolated by a lock: `predict(_:)` on a stateful model
/// holds it for the whole call, so calls from several tasks run one at a time.
final class LockedStates: @unchecked Sendable {
  private var states = KerasModel.States()
  private let lock = NSLock()

  /// `body` on the states, under the lock when `locked`; without it (a model with no
  /// stateful layer) on a fresh empty `States`, which such a model leaves empty.
  func update<T>(if locked: Bool, _ body: (inout KerasModel.States) throws -> T) rethrows -> T {
    guard locked else {
      var none = KerasModel.States()
      return try body(&none)
    }
    lock.lock()
    defer { lock.unlock() }
    return try body(&states)
  }
}
