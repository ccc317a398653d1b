import Foundation
import HDF5
import RNNRef

/// A built model graph: layers reachable from the outputs, inferred shapes, execution.
///
/// `@unchecked Sendable`: `Builder.build` fills `layers`, `order` and `nodeShapes` before the
/// graph is handed to a `KerasModel` (or a nested-model layer); nothing mutates it after, and
/// its layers are `Sendable`. A run's states live in the caller's `CarriedStates`.
final class ModelGraph: @unchecked Sendable {
  let spec: GraphSpec
  /// Built layers by name, and their order (config order).
  var layers: [String: KerasLayer] = [:]
  var order: [String] = []
  /// Output shapes per (layer, node).
  var nodeShapes: [String: [Shape]] = [:]

  init(spec: GraphSpec) { self.spec = spec }

  static func key(_ layer: String, _ node: Int) -> String { "\(layer)#\(node)" }

  var inputShapes: [Shape] { spec.inputs.map { nodeShapes[Self.key($0.layer, $0.node)]?[$0.index] ?? [nil] } }
  var outputShapes: [Shape] { spec.outputs.map { nodeShapes[Self.key($0.layer, $0.node)]?[safe: $0.index] ?? [nil] } }

  /// Runs the graph on values for its inputs, in input order: the outputs, then the values
  /// of `extra` (further layer outputs, computed as needed). Stateful layers read and update
  /// their entries in `states`.
  @_specialize(where S == Float) @_specialize(where S == Double)
  func run<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates, also extra: [Ref] = []) throws -> [Value<S>] {
    guard inputs.count == spec.inputs.count else {
      throw KerasImportError(.invalidInput, "model `\(spec.name)` takes \(spec.inputs.count) input(s) (\(spec.inputs.map(\.layer).joined(separator: ", "))), got \(inputs.count)")
    }
    var memo: [String: [Value<S>]] = [:]
    for (r, v) in zip(spec.inputs, inputs) { memo[Self.key(r.layer, r.node)] = [v] }
    var visiting = Set<String>()
    func value(_ r: Ref) throws -> Value<S> {
      let k = Self.key(r.layer, r.node)
      if memo[k] == nil {
        guard !visiting.contains(k) else {
          throw KerasImportError(.invalidConfig, "model `\(spec.name)`: the graph has a cycle through `\(r.layer)`")
        }
        visiting.insert(k)
        guard let layer = layers[r.layer], let entry = spec.layers.first(where: { $0.name == r.layer }) else {
          throw KerasImportError(.invalidConfig, "model `\(spec.name)`: `\(r.layer)` is not a built layer")
        }
        guard r.node < entry.inbound.count else {
          throw KerasImportError(.invalidConfig, "\(entry.location): node \(r.node) is referenced but the layer has \(entry.inbound.count) call(s)")
        }
        var ins = try entry.inbound[r.node].map(value)
        if entry.unmaskedNodes.contains(r.node) { for i in ins.indices { ins[i].mask = nil } }
        // A `mask=` model input (boolean, fed as 0/1) replaces the first input's mask. A mask Keras 3
        // records from Masking's own ops is the one already propagated with the values.
        if let m = entry.explicitMasks[r.node], !ins.isEmpty, spec.inputs.contains(where: { $0.layer == m.layer }) {
          let mv = try value(m).t, x = ins[0].t
          guard x.rank >= 2, mv.shape == [x.shape[0], x.shape[1]] else {
            throw KerasImportError(.invalidInput, "\(entry.location): the `mask=` tensor `\(m.layer)` has shape \(mv.shape); "
              + "the layer's input \(x.shape) needs (batch, steps) = \([x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1]), 1 = valid step")
          }
          ins[0].mask = mv.scalars.map { $0 != 0 }
        }
        memo[k] = try layer.call(ins, states: &states)
      }
      guard let outs = memo[k], r.index < outs.count else {
        throw KerasImportError(.invalidConfig, "model `\(spec.name)`: output \(r.index) of `\(r.layer)` is referenced, the layer returns \(memo[k]?.count ?? 0)")
      }
      return outs[r.index]
    }
    return try (spec.outputs + extra).map(value)
  }

  /// Whether a layer (nested and wrapped layers included) carries states between calls.
  var isStateful: Bool {
    func stateful(_ l: KerasLayer) -> Bool {
      switch l {
      case let r as RecurrentKLayer: return r.config.stateful
      case let m as NestedModelKLayer: return m.graph.isStateful
      case let t as TimeDistributedKLayer: return stateful(t.inner)
      default: return false
      }
    }
    return layers.values.contains(where: stateful)
  }
}

extension Array {
  subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}

/// A nested Sequential/Functional model used as a layer.
final class NestedModelKLayer: StatefulKerasLayer {
  let name: String, className: String, location: String
  let graph: ModelGraph
  var parameterCount: Int { graph.layers.values.reduce(0) { $0 + $1.parameterCount } }
  init(name: String, className: String, location: String, graph: ModelGraph) {
    self.name = name; self.className = className; self.location = location; self.graph = graph
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { graph.outputShapes }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates) throws -> [Value<S>] {
    try graph.run(inputs, states: &states)
  }
}

/// Builds layers from a parsed config and a weight store.
struct Builder {
  var version: Keras.Version
  var source: String
  var store: WeightStore
  /// The Keras version that wrote the weights, when not the architecture's (a Keras 1
  /// `save_weights` file loaded with a Keras 2 architecture): tf-keras converts by it.
  var weightsVersion: Keras.Version? = nil
  /// A cut model (`KerasCut`): layers outside the cut may hold weights that are not read.
  var isCut = false
  /// Implementations the user registered for layer and cell classes.
  var custom = KerasCustomLayers()

  static let identityClasses: Set<String> = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                                             "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"]
  static let mergeClasses: Set<String> = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
  static let supported = "InputLayer, Masking, Embedding, SimpleRNN, LSTM, GRU, RNN(cell), StackedRNNCells, Bidirectional, "
    + "CuDNNLSTM, CuDNNGRU, TimeDistributed, Dense, Activation, Softmax, ReLU, LeakyReLU, Dropout, SpatialDropout1D, "
    + "GaussianNoise, Flatten, Reshape, RepeatVector, Permute, BatchNormalization, LayerNormalization, Concatenate, Add, "
    + "Subtract, Multiply, Average, Maximum, Minimum, Conv1D, MaxPooling1D, AveragePooling1D, "
    + "ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, MaxPooling2D/3D, AveragePooling2D/3D, nested Sequential/Functional "
    + "models, and classes registered as custom layers (KerasCustomLayers)"

  /// The stored weights of each top-level layer, in `layer.weights` order.
  func queues(for spec: GraphSpec) throws -> [String: WeightQueue] {
    var out: [String: WeightQueue] = [:]
    switch store {
    case .legacy(let g):
      for l in spec.layers {
        let items = try WeightReader.legacy(g, layer: l.name) ?? []
        out[l.name] = WeightQueue(layer: l.name, location: l.location, source: source, items: items)
      }
      // `layer_names` against the groups and the model, as Keras checks it (Weights.swift).
      try WeightReader.checkLayerNames(g, layers: spec.layers.map(\.name), source: source)
    case .v3(let g):
      // tf-keras 2.13/2.14 zips keep the layers under `_layer_checkpoint_dependencies`, Keras 3 under `layers`.
      let root = (try? g.exists("layers")) != true && (try? g.exists("_layer_checkpoint_dependencies")) == true
        ? "_layer_checkpoint_dependencies/" : "layers/"
      let listed = spec.layers.filter { !(spec.isSequential && $0.className == "InputLayer") }
      let keys = WeightReader.keys(listed.map(\.className))
      for (k, l) in zip(keys, listed) {
        let items = try WeightReader.v3(g, path: root + k, className: l.className, config: l.config)
        out[l.name] = WeightQueue(layer: l.name, location: l.location, source: source, items: items)
      }
      for l in spec.layers where out[l.name] == nil {
        out[l.name] = WeightQueue(layer: l.name, location: l.location, source: source, items: [])
      }
    }
    return out
  }

  func build(_ spec: GraphSpec, queues: [String: WeightQueue], inputShapes: [Shape]? = nil) throws -> ModelGraph {
    let graph = ModelGraph(spec: spec)
    // Reachable layers, from the outputs back.
    var reachable = Set<String>()
    var stack = spec.outputs.map(\.layer) + spec.inputs.map(\.layer)
    while let n = stack.popLast() {
      guard !reachable.contains(n), let e = spec.layers.first(where: { $0.name == n }) else { continue }
      reachable.insert(n)
      for node in e.inbound { stack += node.map(\.layer) }
    }
    for l in spec.layers where !reachable.contains(l.name) && !isCut {
      if let q = queues[l.name], q.count > 0 {
        throw KerasImportError(.surplusWeight, "\(source): layer `\(l.name)` (\(l.location)) is not on the path to any output but holds \(q.count) weight(s) (\(q.names.joined(separator: ", "))); this importer does not drop weights silently")
      }
    }
    if let given = inputShapes {
      for (r, s) in zip(spec.inputs, given) { graph.nodeShapes[ModelGraph.key(r.layer, r.node)] = [s] }
    }
    var visiting = Set<String>()
    func shapes(_ r: Ref) throws -> Shape {
      let k = ModelGraph.key(r.layer, r.node)
      if graph.nodeShapes[k] == nil || graph.layers[r.layer] == nil {
        guard !visiting.contains(k) else {
          throw KerasImportError(.invalidConfig, "model `\(spec.name)`: the graph has a cycle through `\(r.layer)`")
        }
        visiting.insert(k)
        guard let entry = spec.layers.first(where: { $0.name == r.layer }) else {
          throw KerasImportError(.invalidConfig, "model `\(spec.name)`: `\(r.layer)` is not a layer of the model")
        }
        // A layer without calls (an input layer) has values only at the model inputs' nodes:
        // `predict` refuses any other node of it, so a damaged `inbound_nodes` pointing there
        // is refused here, at load, naming the file.
        if entry.inbound.isEmpty, !spec.inputs.contains(where: { ModelGraph.key($0.layer, $0.node) == k }) {
          throw KerasImportError(.invalidConfig, "\(source): \(entry.location): node \(r.node) is referenced but the layer has 0 call(s) and that node is not a model input; the model config's `inbound_nodes` are damaged: re-save the model")
        }
        let ins: [Shape]
        if entry.className == "InputLayer" || entry.inbound.isEmpty {
          ins = graph.nodeShapes[k] ?? []
        } else {
          guard r.node < entry.inbound.count else {
            throw KerasImportError(.invalidConfig, "\(entry.location): node \(r.node) is referenced but the layer has \(entry.inbound.count) call(s)")
          }
          ins = try entry.inbound[r.node].map(shapes)
        }
        let layer: KerasLayer
        if let l = graph.layers[r.layer] { layer = l } else {
          let q = queues[entry.name] ?? WeightQueue(layer: entry.name, location: entry.location, source: source, items: [])
          layer = try buildLayer(entry, inputs: ins, queue: q, givenShape: graph.nodeShapes[k]?.first)
          try q.finish(what: "\(entry.className) `\(entry.name)`")
          graph.layers[entry.name] = layer
        }
        graph.nodeShapes[k] = try layer.outputShapes(ins)
      }
      guard let s = graph.nodeShapes[k]?[safe: r.index] else {
        throw KerasImportError(.invalidConfig, "model `\(spec.name)`: output \(r.index) of `\(r.layer)` is referenced, the layer returns \(graph.nodeShapes[k]?.count ?? 0)")
      }
      return s
    }
    for r in spec.inputs { _ = try shapes(r) }
    for r in spec.outputs { _ = try shapes(r) }
    graph.order = spec.layers.map(\.name).filter { graph.layers[$0] != nil }
    return graph
  }

  func unsupported(_ e: LayerEntry, _ why: String? = nil) -> KerasImportError {
    KerasImportError(.unsupportedLayer, "\(source): layer class `\(e.className)` (layer `\(e.name)`, at \(e.location)) cannot be imported\(why.map { ": " + $0 } ?? ""); supported: \(Self.supported)")
  }

  func activation(_ e: LayerEntry, _ key: String = "activation") throws -> KerasActivation {
    do { return try KerasActivation.parse(e.config[key], version: version, key: "layer `\(e.name)` (\(e.location)).\(key)") }
  }

  func buildLayer(_ e: LayerEntry, inputs: [Shape], queue q: WeightQueue, givenShape: Shape?) throws -> KerasLayer {
    let c = e.config
    let inShape = inputs.first ?? [nil]
    if let made = try custom.build(e, inputs: inputs, queue: q, source: source) { return made }
    if let conv = try buildConv(e, inputs: inputs, queue: q) { return conv }
    if let conv = try buildConvRecurrent(e, inputs: inputs, queue: q) { return conv }
    switch e.className {
    case "InputLayer":
      var shape: Shape? = givenShape
      if shape == nil, let s = (c["batch_shape"] ?? c["batch_input_shape"])?.array { shape = s.map { $0.int } }
      if shape == nil, let s = c["shape"]?.array { shape = [nil] + s.map { $0.int } }
      let dtype = c["dtype"]?.string ?? c["dtype"]?["config"]?["name"]?.string ?? "float32"
      return InputKLayer(name: e.name, location: e.location, shape: shape, isInteger: dtype.contains("int"))
    case "Lambda":
      throw KerasImportError(.lambdaLayer, "\(source): layer `\(e.name)` (at \(e.location)) is a Lambda layer: it holds arbitrary Python code, which is never executed or unmarshalled; rebuild the model without the Lambda (or cut it at the layer before) and save it again")
    case let cls where Self.identityClasses.contains(cls):
      return IdentityKLayer(name: e.name, className: cls, location: e.location)
    case "Activation":
      return ActivationKLayer(name: e.name, className: e.className, location: e.location, activation: try activation(e))
    case "Softmax":
      if let ax = c["axis"], ax.int != -1 { throw unsupported(e, "Softmax over axis \(ax.jsonText); only the last axis") }
      return ActivationKLayer(name: e.name, className: e.className, location: e.location, activation: .softmax)
    case "ReLU":
      let mv = c["max_value"]?.double, ns = c["negative_slope"]?.double ?? 0, th = c["threshold"]?.double ?? 0
      guard ns == 0, th == 0, mv == nil || mv == 6 else { throw unsupported(e, "ReLU with negative_slope/threshold/max_value other than 6") }
      return ActivationKLayer(name: e.name, className: e.className, location: e.location, activation: mv == 6 ? .relu6 : .scalar(.relu))
    case "LeakyReLU":
      let a = c["negative_slope"]?.double ?? c["alpha"]?.double ?? 0.3
      return ActivationKLayer(name: e.name, className: e.className, location: e.location, activation: .scalar(.leakyRelu(alpha: a)))
    case "Dense":
      let units = c["units"]?.int ?? c["output_dim"]?.int
      guard let units else { throw KerasImportError(.invalidConfig, "\(e.location): Dense needs `units`") }
      let useBias = c["use_bias"]?.bool ?? c["bias"]?.bool ?? true
      let inF = inShape.last ?? nil
      let k = try q.take("kernel (input features, units)", expected: [inF, units])
      let b = useBias ? try q.take("bias (units)", expected: [units]) : nil
      return DenseKLayer(name: e.name, location: e.location, kernel: k, bias: b, activation: try activation(e))
    case "Embedding":
      guard let inDim = c["input_dim"]?.int, let outDim = c["output_dim"]?.int else {
        throw KerasImportError(.invalidConfig, "\(e.location): Embedding needs `input_dim` and `output_dim`")
      }
      let t = try q.take("embeddings (input_dim, output_dim)", expected: [inDim, outDim])
      return EmbeddingKLayer(name: e.name, location: e.location, table: t, maskZero: c["mask_zero"]?.bool ?? false)
    case "Masking":
      return MaskingKLayer(name: e.name, location: e.location, maskValue: c["mask_value"]?.double ?? 0)
    case "Flatten":
      return FlattenKLayer(name: e.name, location: e.location)
    case "Reshape":
      guard let t = c["target_shape"]?.array?.compactMap({ $0.int }) else {
        throw KerasImportError(.invalidConfig, "\(e.location): Reshape needs `target_shape`")
      }
      return ReshapeKLayer(name: e.name, location: e.location, target: t)
    case "RepeatVector":
      guard let n = c["n"]?.int else { throw KerasImportError(.invalidConfig, "\(e.location): RepeatVector needs `n`") }
      return RepeatVectorKLayer(name: e.name, location: e.location, times: n)
    case "Permute":
      guard let d = c["dims"]?.array?.compactMap({ $0.int }) else { throw KerasImportError(.invalidConfig, "\(e.location): Permute needs `dims`") }
      return PermuteKLayer(name: e.name, location: e.location, dims: d)
    case "BatchNormalization":
      if version.isKeras1 { throw unsupported(e, "Keras 1 BatchNormalization (modes and running_std) is not converted") }
      var axis = c["axis"]?.int ?? -1
      if let a = c["axis"]?.array { guard a.count == 1, let v = a[0].int else { throw unsupported(e, "BatchNormalization over several axes") }; axis = v }
      let ax = axis < 0 ? inShape.count + axis : axis
      let f = ax >= 0 && ax < inShape.count ? inShape[ax] : nil
      let gamma = (c["scale"]?.bool ?? true) ? try q.take("gamma", expected: [f]) : nil
      let beta = (c["center"]?.bool ?? true) ? try q.take("beta", expected: [f]) : nil
      let mean = try q.take("moving_mean", expected: [f])
      let variance = try q.take("moving_variance", expected: [f])
      return BatchNormKLayer(name: e.name, location: e.location, axis: axis, gamma: gamma, beta: beta, mean: mean,
                             variance: variance, epsilon: c["epsilon"]?.double ?? 1e-3)
    case "LayerNormalization":
      if c["rms_scaling"]?.bool == true { throw unsupported(e, "rms_scaling=True") }
      var axis = -1
      if let a = c["axis"] {
        let axes = a.array?.compactMap { $0.int } ?? [a.int ?? -1]
        guard axes.count == 1, axes[0] >= -inShape.count, axes[0] < max(inShape.count, 1) else {
          throw unsupported(e, "LayerNormalization over axes \(a.jsonText); only one axis")
        }
        axis = axes[0] < 0 ? inShape.count + axes[0] : axes[0]
        if axis == inShape.count - 1 { axis = -1 }
      }
      let f = axis == -1 ? (inShape.last ?? nil) : inShape[axis]
      let gamma = (c["scale"]?.bool ?? true) ? try q.take("gamma", expected: [f]) : nil
      let beta = (c["center"]?.bool ?? true) ? try q.take("beta", expected: [f]) : nil
      return LayerNormKLayer(name: e.name, location: e.location, gamma: gamma, beta: beta, epsilon: c["epsilon"]?.double ?? 1e-3,
                             axis: axis == -1 ? nil : axis)
    case let cls where Self.mergeClasses.contains(cls):
      return MergeKLayer(name: e.name, className: cls, location: e.location, axis: c["axis"]?.int ?? -1)
    case "TimeDistributed":
      guard let inner = c["layer"]?.object, let icls = inner["class_name"]?.string else {
        throw KerasImportError(.invalidConfig, "\(e.location): TimeDistributed needs the wrapped `layer`")
      }
      var ic = inner["config"]?.object ?? [:]
      if ic["name"] == nil { ic["name"] = .string(e.name + "_inner") }
      let ie = LayerEntry(name: ic["name"]?.string ?? e.name, className: icls, config: ic, inbound: [],
                          location: e.location + " > " + (ic["name"]?.string ?? icls))
      let innerShape: Shape = [nil] + Array(inShape.dropFirst(2))
      let layer = try buildLayer(ie, inputs: [innerShape], queue: q, givenShape: nil)
      return TimeDistributedKLayer(name: e.name, location: e.location, inner: layer)
    case let cls where Keras.layerClasses.contains(cls):
      return try RecurrentBuilder.build(name: e.name, className: cls, config: c, location: e.location,
                                        inputFeatures: inShape.count == 3 ? inShape[2] : nil, version: version, weights: q,
                                        weightsVersion: weightsVersion)
    case let cls where GraphParser.modelClasses.contains(cls):
      let model = c["__model"] ?? .object(["class_name": .string(cls), "config": .object(c)])
      let sub = try GraphParser.parse(model, location: e.location, version: version)
      // The nested model's weights are this layer's list, in its layers' order.
      if case .legacy = store { try reorderNested(sub, queue: q) }
      let shared = SharedQueue(q)
      var nested = Builder(version: version, source: source, store: store)
      nested.weightsVersion = weightsVersion; nested.custom = custom
      let graph = try nested.buildNested(sub, queue: shared, inputShapes: inputs)
      return NestedModelKLayer(name: e.name, className: cls, location: e.location, graph: graph)
    default:
      throw unsupported(e)
    }
  }

  /// How many (trainable, non-trainable) weights a layer config has; nil when unknown.
  func weightCounts(_ cls: String, _ c: [String: JSONValue]) -> (Int, Int)? {
    var counts: (Int, Int)
    switch cls {
    case "Dense": counts = ((c["use_bias"]?.bool ?? c["bias"]?.bool ?? true) ? 2 : 1, 0)
    case "Embedding": counts = (1, 0)
    case let cls where Keras.convLSTMClasses.contains(cls): counts = ((c["use_bias"]?.bool ?? true) ? 3 : 2, 0)
    case "BatchNormalization":
      counts = (((c["scale"]?.bool ?? true) ? 1 : 0) + ((c["center"]?.bool ?? true) ? 1 : 0), 2)
    case "LayerNormalization":
      counts = (((c["scale"]?.bool ?? true) ? 1 : 0) + ((c["center"]?.bool ?? true) ? 1 : 0), 0)
    case "TimeDistributed":
      guard let inner = c["layer"]?.object, let icls = inner["class_name"]?.string,
            let ic = weightCounts(icls, inner["config"]?.object ?? [:]) else { return nil }
      counts = ic
    case let r where Keras.layerClasses.contains(r):
      let layer: [String: JSONValue] = ["class_name": .string(r), "config": .object(c)]
      guard let lc = try? Keras.LayerConfig(layer: layer, version: version) else { return nil }
      counts = (lc.storedWeightCount, 0)
    case let m where GraphParser.modelClasses.contains(m):
      guard let model = c["__model"], let sub = try? GraphParser.parse(model, location: "") else { return nil }
      var t = 0, nt = 0
      for l in sub.layers {
        guard let (a, b) = weightCounts(l.className, l.config) else { return nil }
        t += a; nt += b
      }
      counts = (t, nt)
    default: counts = (0, 0)
    }
    if c["trainable"]?.bool == false { return (0, counts.0 + counts.1) }
    return counts
  }

  /// Puts a nested model's stored weights in sublayer order. tf.keras/tf-keras write them
  /// per sublayer; standalone Keras <= 2.2 wrote all trainable weights, then all
  /// non-trainable ones (`Network.weights`; tf-keras undoes it in `convert_nested_model`).
  /// When every stored name names its sublayer (`in_bn/moving_mean:0`), the names decide
  /// (a stable sort by sublayer); otherwise files from Keras <= 2.2 are regrouped by the
  /// trainable/non-trainable counts of each sublayer.
  func reorderNested(_ sub: GraphSpec, queue q: WeightQueue) throws {
    let names = sub.layers.map(\.name)
    let owners: [Int?] = q.items.map { w in
      let comps = w.name.split(separator: "/").map { String($0.split(separator: ":")[0]) }
      return comps.dropFirst().lazy.compactMap { names.firstIndex(of: $0) }.first
    }
    if owners.allSatisfy({ $0 != nil }) {
      q.items = zip(q.items, owners).enumerated().sorted { a, b in
        (a.element.1!, a.offset) < (b.element.1!, b.offset)
      }.map { $0.element.0 }
      return
    }
    guard version.isBefore2_3 else { return }
    var perLayer: [(Int, Int)] = []
    for l in sub.layers {
      guard let c = weightCounts(l.className, l.config) else { return }
      perLayer.append(c)
    }
    let t = perLayer.reduce(0) { $0 + $1.0 }, nt = perLayer.reduce(0) { $0 + $1.1 }
    guard nt > 0, t + nt == q.items.count else { return }
    var trainable = Array(q.items.prefix(t)), fixed = Array(q.items.dropFirst(t))
    var out: [StoredWeight] = []
    for (a, b) in perLayer {
      out += trainable.prefix(a); trainable.removeFirst(a)
      out += fixed.prefix(b); fixed.removeFirst(b)
    }
    q.items = out
  }

  /// A nested model's layers take their weights, in order, from the outer layer's list.
  func buildNested(_ spec: GraphSpec, queue: SharedQueue, inputShapes: [Shape]) throws -> ModelGraph {
    var qs: [String: WeightQueue] = [:]
    for l in spec.layers { qs[l.name] = queue.view(for: l) }
    return try build(spec, queues: qs, inputShapes: inputShapes.isEmpty ? nil : inputShapes)
  }
}

/// One weight list consumed by the layers of a nested model in turn.
final class SharedQueue {
  let base: WeightQueue
  init(_ base: WeightQueue) { self.base = base }
  /// A queue for one sublayer that draws from the shared list.
  func view(for l: LayerEntry) -> WeightQueue {
    DrawingQueue(shared: base, layer: l.name, location: l.location)
  }
}

/// A `WeightQueue` that takes from a shared list (nested models).
final class DrawingQueue: WeightQueue {
  let shared: WeightQueue
  init(shared: WeightQueue, layer: String, location: String) {
    self.shared = shared
    super.init(layer: layer, location: location, source: shared.source, items: [])
  }
  override var count: Int { 0 }
  override func take(_ what: String, expected: [Int?]) throws -> Tensor<Double> {
    let t = try shared.take("\(layer): \(what)", expected: expected)
    if let last = shared.taken.last { taken.append(last) }
    return t
  }
  override func takeRaw(_ n: Int, what: String) throws -> [StoredWeight] {
    let w = try shared.takeRaw(n, what: "\(layer): \(what)")
    taken += w
    return w
  }
  override func finish(what: String) throws {}
}
