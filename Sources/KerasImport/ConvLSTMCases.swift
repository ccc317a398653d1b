import RNNRef

/// Keras conformance cases whose chain is made of `ConvLSTM1D` / `ConvLSTM2D` / `ConvLSTM3D`
/// layers (fixtures/keras/convlstm/, fixtures/README.md "### keras", ConvLSTM). `KerasCases`
/// hands a chain to this type when its path holds a ConvLSTM layer.
///
/// A case is `InputLayer` `x` (+ `InputLayer`s for `initial_state` `[h, c]`), then ConvLSTM
/// layers, each feeding the next with `return_sequences=True`. Weights by their Keras names (the
/// owning layer is the first path component naming a chain layer; the last component, without
/// `:0`, is `kernel`, `recurrent_kernel` or `bias`). Outputs: `output`, then `state_h`,
/// `state_c` with `return_state`, in the layer's data format; `/intermediate/<layer>` each layer's
/// first output. A ConvLSTM has no canonical `Network` form (its products are convolutions), so
/// conversion refuses such a case.
public struct ConvLSTMChain: Sendable {
  public var inputName: String
  /// Input channels from the `InputLayer`'s shape, when known.
  public var inputChannels: Int?
  public var layers: [Keras.ConvLSTMConfig]
  /// Per layer, the `InputLayer`s passed as its `initial_state`.
  public var initialStates: [[String]]

  static func invalid(_ key: String, _ value: JSONValue?, _ reason: String) -> RNNRefError {
    RNNRefError.invalidConfig(key: key, value: value?.jsonText ?? "absent", reason: reason)
  }

  /// The chain of a path (input first) that holds a ConvLSTM layer.
  init(path: [(entry: LayerEntry, extra: [String])], spec: GraphSpec, version: Keras.Version) throws {
    inputName = "x"; inputChannels = nil; layers = []; initialStates = []
    for (idx, item) in path.enumerated() {
      let e = item.entry, c = e.config
      switch e.className {
      case "InputLayer":
        guard idx == 0 else { throw Self.invalid("layer `\(e.name)`", .string(e.className), "an InputLayer inside the chain") }
        // Its channels are read below, by the first layer's data format.
        if !e.isImplicitInput { inputName = e.name }
      case let cls where Keras.convLSTMClasses.contains(cls):
        for x in item.extra {
          guard let i = spec.index(of: x), spec.layers[i].className == "InputLayer" else {
            throw Self.invalid("layer `\(e.name)` initial_state", .string(x), "initial states must come straight from model inputs")
          }
        }
        guard item.extra.isEmpty || item.extra.count == 2 else {
          throw Self.invalid("layer `\(e.name)` initial_state", .array(item.extra.map { .string($0) }), "expected 2 state inputs: h and c")
        }
        layers.append(try Keras.convLSTMConfig(layer: ["class_name": .string(cls), "config": .object(c)], version: version))
        initialStates.append(item.extra)
      default:
        throw Self.invalid("layer `\(e.name)`", .string(e.className),
                           "a ConvLSTM case chains InputLayer and ConvLSTM1D/2D/3D layers only")
      }
    }
    guard let first = layers.first else { throw Self.invalid("model.config.layers", nil, "the model has no ConvLSTM layer") }
    if let input = path.first?.entry, input.className == "InputLayer",
       let s = (input.config["batch_shape"] ?? input.config["batch_input_shape"])?.array, s.count == first.rank + 3 {
      inputChannels = first.channelsFirst ? s[2].int : s[first.rank + 2].int
    }
    for l in layers.dropLast() where !l.returnSequences || l.returnState {
      throw Self.invalid("layer `\(l.name)`", nil, "a ConvLSTM layer feeding another needs return_sequences=True and return_state=False")
    }
    for (a, b) in zip(layers, layers.dropFirst()) where a.channelsFirst != b.channelsFirst || a.rank != b.rank {
      throw Self.invalid("layer `\(b.name)`", nil, "chained ConvLSTM layers must share rank and data_format")
    }
  }

  /// Each layer's canonical cell, its weights found by name.
  func cells<Scalar: RNNScalar>(_ weights: NamedTensors<Scalar>) throws -> [ConvLSTMCell<Scalar>] {
    let names = Set(layers.map(\.name))
    var owned: [String: [(name: String, tensor: Tensor<Scalar>)]] = [:]
    var unused: [String] = []
    for e in weights.entries {
      if let owner = KerasCases.components(e.name).first(where: { names.contains($0) }) {
        owned[owner, default: []].append(e)
      } else {
        unused.append(e.name)
      }
    }
    if !unused.isEmpty { throw RNNRefError.unusedWeights(names: unused) }
    var channels = inputChannels
    var out: [ConvLSTMCell<Scalar>] = []
    for l in layers {
      var pool = owned[l.name] ?? []
      let ordered = try l.weightLeaves.map { leaf in
        guard let i = pool.firstIndex(where: { KerasCases.leaf($0.name) == leaf }) else {
          throw RNNRefError.missingWeight(name: "\(l.name)/.../\(leaf)", expectedShape: [],
                                          reason: "\(l.className) `\(l.name)` stores \(l.weightLeaves.joined(separator: ", "))")
        }
        return pool.remove(at: i)
      }
      if !pool.isEmpty { throw RNNRefError.unusedWeights(names: pool.map(\.name)) }
      let cell = try Keras.importConvLSTM(l, inputChannels: channels, weights: ordered)
      out.append(cell)
      channels = l.filters
    }
    return out
  }

  /// Output names of the last layer: `output`, then `state_h`, `state_c` with `return_state`.
  var outputNames: [String] { (layers.last?.returnState ?? false) ? ["output", "state_h", "state_c"] : ["output"] }

  func evaluateLayers<Scalar: RNNScalar>(calls: Int, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>)
    throws -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>) {
    guard calls == 1 else {
      throw Self.invalid("calls", .number(Double(calls)), "ConvLSTM cases have one call (stateful ConvLSTM is not supported)")
    }
    let cells = try cells(weights)
    var known = Set<String>()
    func input(_ name: String, alias: String? = nil, reason: String) throws -> Tensor<Scalar> {
      if let t = inputs[name] { known.insert(name); return t }
      if let a = alias, let t = inputs[a] { known.insert(a); return t }
      throw RNNRefError.missingInput(name: name, reason: reason)
    }
    var current = try input(inputName, alias: "x", reason: "the sequence input (N, T, spatial..., channels) of the model")
    var out = NamedTensors<Scalar>(), layerOutputs = NamedTensors<Scalar>()
    for (li, (l, cell)) in zip(layers, cells).enumerated() {
      let given = try initialStates[li].enumerated().map { k, name in
        (name: name, tensor: try input(name, reason: "initial state \(k == 0 ? "h" : "c") of layer `\(l.name)`"))
      }
      let result = try Keras.callConvLSTM(l, cell: cell, input: current, initialStates: given.isEmpty ? nil : given)
      layerOutputs.append(l.name, result[0])
      current = result[0]
      if li == layers.count - 1 {
        for (n, v) in zip(outputNames, result) { out.append(n, v) }
      }
    }
    let extra = inputs.names.filter { !known.contains($0) }
    if !extra.isEmpty {
      throw RNNRefError.invalidConfig(key: "inputs", value: extra.joined(separator: ", "),
                                      reason: "inputs the model does not take; expected \(known.sorted())")
    }
    return (out, layerOutputs)
  }

  /// Axis names of an output in the last layer's data format.
  func axisNames(output: String) -> [String]? {
    guard let l = layers.last else { return nil }
    let spatial = ["d", "h", "w"].suffix(l.rank).map { $0 }
    var state = l.channelsFirst ? ["batch", "filter"] + spatial : ["batch"] + spatial + ["filter"]
    if output == "output" && l.returnSequences { state.insert("step", at: 1) }
    return state
  }
}
