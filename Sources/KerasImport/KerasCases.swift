import RNNRef

/// The conformance cases of fixtures/keras (`framework` = "keras"): Keras 2 (tf-keras 2.21)
/// and Keras 3 (3.15) chain models captured by `fixtures/generate/gen_keras2.py` /
/// `gen_keras3.py`, run as Keras runs them.
///
/// How a case runs: its model JSON is read by KerasImport's graph parser (`GraphParser`,
/// the one Keras graph parser, which also reads every saved model), the path from the
/// sequence input to the output becomes a chain of layers, and each layer goes through
/// the Keras adapter's layer API (`Keras.LayerConfig`, `Keras.importLayer`,
/// `Keras.callLayer`), the calls `RecurrentBuilder` makes for a saved model. The chain
/// is thin on purpose rather than `KerasModel`'s built graph: a case runs at its own
/// precision (float32 cases in `Float`, like every other adapter; the built graph
/// computes in `Double`), takes its weights by their Keras names (a saved model's are
/// positional), and follows Keras' documented masking (the built graph reproduces Keras
/// 3 dropping the mask of a layer called with `initial_state`, which two cases record as
/// expected failures).
///
/// A case is a chain model: `InputLayer` (+ state `InputLayer`s), optional `Masking` or a
/// boolean mask `InputLayer` passed to the first recurrent layer as `mask=`,
/// then `SimpleRNN` / `LSTM` / `GRU` / `RNN(cell)` / `RNN(StackedRNNCells([...]))` /
/// `Bidirectional(...)` layers. Any other layer on the path from the input to the
/// output is an error naming its class and name (Keras 3 records the `NotEqual`/`Any`
/// ops a functional `Masking` creates; they are off that path and ignored).
///
/// Native weights, named by Keras (`lstm/lstm_cell/kernel:0` in tf-keras, the variable
/// path `lstm/lstm_cell/kernel` in Keras 3, with the model name in front in a Keras 3
/// Sequential): the owning layer is the first path component naming a chain layer;
/// `forward_*`/`backward_*` split a Bidirectional; a stacked cell's own name splits
/// `StackedRNNCells`; the last component (without `:0`) says which tensor. `CuDNNLSTM` /
/// `CuDNNGRU` and Keras 1 layers store other layouts: their weights are taken in
/// `layer.weights` order and converted (`Keras.fusedFromCuDNN`, `Keras.fusedFromKeras1`).
///
/// Native config (fixtures/README.md, "### keras"): `{"library": "tf-keras" | "keras",
/// "keras_version", "calls": n, "model": <model.to_json()>}`. Inputs: the
/// sequence `x` (or the name of its `InputLayer`) and state inputs by their
/// `InputLayer` names; with `calls > 1` every input and output name ends in
/// `_call{k}`. Outputs, in the model's output order: `output` (Bidirectional
/// with `merge_mode=None`: `output_fw`, `output_bw`), then with `return_state`
/// `state_h` [`state_c`]; Bidirectional `fw_state_h` [`fw_state_c`]
/// `bw_state_h` [`bw_state_c`]; `RNN(StackedRNNCells)` `cell{k}_state_h` [`cell{k}_state_c`].
public enum KerasCases: NetworkConvention, LayerwiseConvention {
  public static let framework = Framework.keras

  /// A case is parsed once into its chain, which `evaluate`, `importNetwork` and `axisNames` share.
  public typealias Config = Chain
  public static func parseConfig(_ json: JSONValue) throws -> Chain { try chain(json) }

  /// A case's model: the chain from the sequence input to the output.
  public struct Chain: Sendable {
    public var version: Keras.Version
    public var calls: Int
    public var inputName: String
    /// Feature size from the InputLayer's shape, when known.
    public var inputFeatures: Int?
    public var maskValue: Double?
    /// The model input passed as `mask=` to the first recurrent layer (`(N, T)`, true = valid),
    /// which then propagates down the chain as a `Masking` mask does.
    public var maskInput: String? = nil
    public var layers: [Keras.LayerConfig]
    /// Per layer, the InputLayers passed as its `initial_state`, in order.
    public var initialStates: [[String]]
    /// A chain of ConvLSTM layers (ConvLSTMCases.swift); `layers` is then empty.
    public var convLSTM: ConvLSTMChain? = nil
  }

  static func invalid(_ key: String, _ value: JSONValue?, _ reason: String) -> RNNRefError {
    RNNRefError.invalidConfig(key: key, value: value?.jsonText ?? "absent", reason: reason)
  }

  /// Reads a case's native config (or a bare `model.to_json()` document).
  public static func chain(_ config: JSONValue) throws -> Chain {
    let model: JSONValue
    if let m = config["model"] { model = m } else if config["class_name"] != nil { model = config }
    else { throw invalid("model", nil, "expected the model JSON (model.to_json()) under `model`") }
    let version = Keras.Version(config["keras_version"]?.string ?? model["keras_version"]?.string ?? "3",
                                library: config["library"]?.string)
    let calls = config["calls"]?.int ?? 1
    guard calls >= 1 else { throw invalid("calls", config["calls"], "expected an integer >= 1") }
    let spec = try GraphParser.parse(model, location: "", version: version)
    // The path from the output back to the input, through each layer's first call.
    let lastNames = Set(spec.outputs.map(\.layer))
    guard lastNames.count == 1, let last = spec.outputs.first?.layer else {
      throw invalid("model.config.output_layers", model["config"]?["output_layers"],
                    "expected every output to come from one recurrent layer (a chain model)")
    }
    var path: [(entry: LayerEntry, extra: [String])] = []
    var current: String? = last
    var seen = Set<String>()
    while let name = current {
      guard !seen.contains(name), let i = spec.index(of: name) else {
        throw invalid("model.config.layers", .string(name), "layer referenced by the graph is not in the model")
      }
      seen.insert(name)
      let refs = spec.layers[i].inbound.first ?? []
      path.insert((spec.layers[i], refs.dropFirst().map(\.layer)), at: 0)
      current = refs.first?.layer
    }
    if path.contains(where: { Keras.convLSTMClasses.contains($0.entry.className) }) {
      let conv = try ConvLSTMChain(path: path, spec: spec, version: version)
      return Chain(version: version, calls: calls, inputName: conv.inputName, inputFeatures: nil, maskValue: nil,
                   layers: [], initialStates: [], convLSTM: conv)
    }
    var chain = Chain(version: version, calls: calls, inputName: "x", inputFeatures: nil, maskValue: nil,
                      layers: [], initialStates: [])
    for (idx, item) in path.enumerated() {
      let e = item.entry, c = e.config
      switch e.className {
      case "InputLayer":
        guard idx == 0 else { throw invalid("layer `\(e.name)`", .string(e.className), "an InputLayer inside the chain") }
        let shape = c["batch_shape"] ?? c["batch_input_shape"]
        if let s = shape?.array, s.count == 3 { chain.inputFeatures = s[2].int }
        if e.isImplicitInput { continue }  // a Sequential model without an InputLayer: the input is `x`
        chain.inputName = e.name
        if let s = shape?.array, s.count != 3 {
          throw invalid("\(e.name).batch_shape", shape, "expected a sequence input (batch, steps, features)")
        }
      case "Masking":
        guard chain.layers.isEmpty, chain.maskValue == nil else {
          throw invalid("layer `\(e.name)`", .string(e.className), "Masking is supported only before the first recurrent layer")
        }
        guard let v = c["mask_value"]?.double else { throw invalid("\(e.name).mask_value", c["mask_value"], "expected a number") }
        chain.maskValue = v
      default:
        // The call's `mask=`: tf-keras records only a mask the user passed; Keras 3 also records the
        // mask it propagates (from Masking's NotEqual/Any ops, or the same model input down the chain).
        if let m = e.explicitMasks[0] {
          let fromInput = spec.index(of: m.layer).map { spec.layers[$0].className == "InputLayer" } ?? false
          if fromInput && m.layer == chain.maskInput {
            // the explicit mask, propagated down the chain
          } else if fromInput {
            guard chain.layers.isEmpty, chain.maskValue == nil else {
              throw invalid("layer `\(e.name)` mask", .string(m.layer),
                            "an explicit mask is supported only on the first recurrent layer, without a Masking layer")
            }
            chain.maskInput = m.layer
          } else if chain.maskValue == nil && chain.maskInput == nil {
            throw invalid("layer `\(e.name)` mask", .string(m.layer),
                          "a mask computed inside the model is not supported; pass a model input as `mask=`, or use Masking")
          }
        }
        for x in item.extra {
          guard let i = spec.index(of: x), spec.layers[i].className == "InputLayer" else {
            throw invalid("layer `\(e.name)` initial_state", .string(x), "initial states must come straight from model inputs")
          }
        }
        chain.layers.append(try Keras.LayerConfig(layer: ["class_name": .string(e.className), "config": .object(c)],
                                                  version: version))
        chain.initialStates.append(item.extra)
      }
    }
    guard !chain.layers.isEmpty else { throw invalid("model.config.layers", nil, "the model has no recurrent layer") }
    for l in chain.layers.dropLast() where !l.returnSequences || l.returnState {
      throw invalid("layer `\(l.name)`", nil,
                    "a recurrent layer feeding another needs return_sequences=True and return_state=False")
    }
    for (l, states) in zip(chain.layers, chain.initialStates) where !states.isEmpty {
      guard states.count == l.stateCount else {
        throw invalid("layer `\(l.name)` initial_state", .array(states.map { .string($0) }),
                      "expected \(l.stateCount) state inputs")
      }
    }
    return chain
  }

  // MARK: - Weights

  static func leaf(_ name: String) -> String {
    var last = String(name.split(separator: "/").last ?? "")
    if let colon = last.lastIndex(of: ":") { last = String(last[..<colon]) }
    return last
  }

  static func components(_ name: String) -> [String] { name.split(separator: "/").map(String.init) }

  /// The canonical layers of each chain layer, its weights found by name.
  static func importLayers<Scalar: RNNScalar>(_ m: Chain, weights: NamedTensors<Scalar>) throws -> [[RecurrentLayer<Scalar>]] {
    if let conv = m.convLSTM {
      throw RNNRefError.unsupported(
        framework: "the canonical network (and so PyTorch's and ONNX's recurrent layers)",
        feature: "\(conv.layers.map { "\($0.className) `\($0.name)`" }.joined(separator: ", ")): a ConvLSTM's input and recurrent products are convolutions")
    }
    let layerNames = Set(m.layers.map(\.name))
    var owned: [String: [(name: String, tensor: Tensor<Scalar>)]] = [:]
    var unused: [String] = []
    for e in weights.entries {
      if let owner = components(e.name).first(where: { layerNames.contains($0) }) {
        owned[owner, default: []].append(e)
      } else {
        unused.append(e.name)
      }
    }
    if !unused.isEmpty { throw RNNRefError.unusedWeights(names: unused) }

    var result: [[RecurrentLayer<Scalar>]] = []
    var inputSize = m.inputFeatures
    for layer in m.layers {
      var pool = owned[layer.name] ?? []
      guard layer.storage == .fused else {
        // cuDNN and Keras 1 layouts: the layer's weights in `layer.weights` order, converted.
        result.append(try Keras.importLayer(layer, inputFeatures: inputSize, weights: try fused(layer, pool)))
        inputSize = layer.outputFeatures
        continue
      }
      let canon: [RecurrentLayer<Scalar>] = try Keras.importLayer(layer, inputFeatures: inputSize) { slot in
        guard let i = pool.firstIndex(where: { e in
          guard leaf(e.name) == slot.leaf else { return false }
          let comps = components(e.name)
          if layer.bidirectional != nil {
            guard comps.contains(layer.directionNames[slot.direction]) else { return false }
          }
          if layer.cells.count > 1, let n = slot.cell.name { return comps.contains(n) }
          return true
        }) else { return nil }
        return pool.remove(at: i)
      }
      if !pool.isEmpty { throw RNNRefError.unusedWeights(names: pool.map(\.name)) }
      result.append(canon)
      inputSize = layer.outputFeatures
    }
    return result
  }

  /// A cuDNN or Keras 1 layer's stored weights (in `layer.weights` order) in the fused layout.
  static func fused<Scalar: RNNScalar>(_ layer: Keras.LayerConfig, _ stored: [(name: String, tensor: Tensor<Scalar>)])
    throws -> [Keras.NamedWeight<Scalar>] {
    guard stored.count == layer.storedWeightCount else {
      throw RNNRefError.invalidConfig(
        key: "layer `\(layer.name)` weights", value: "\(stored.count) arrays",
        reason: "a \(layer.storage.rawValue) \(layer.className) stores \(layer.storedWeightCount), in layer.weights order")
    }
    var rest = stored[...], out: [Keras.NamedWeight<Scalar>] = []
    for d in 0..<layer.directions {
      for cell in layer.cells(direction: d) {
        let n = layer.storage == .cudnn ? 3 : 3 * cell.kind.gates
        let mine = Array(rest.prefix(n)).map { (name: $0.name, tensor: $0.tensor) }
        rest = rest.dropFirst(n)
        out += layer.storage == .cudnn ? try Keras.fusedFromCuDNN(mine, kind: cell.kind)
                                       : try Keras.fusedFromKeras1(mine, kind: cell.kind)
      }
    }
    return out
  }

  public static func importNetwork<Scalar: RNNScalar>(config: Chain, weights: NamedTensors<Scalar>) throws -> Network<Scalar> {
    Network(layers: try importLayers(config, weights: weights).flatMap { $0 })
  }

  // MARK: - Evaluate

  /// Output names of the last layer (see the type's doc comment).
  static func outputNames(_ l: Keras.LayerConfig) -> [String] {
    var names = l.bidirectional == MergeMode.none ? ["output_fw", "output_bw"] : ["output"]
    guard l.returnState else { return names }
    if l.bidirectional != nil {
      for d in ["fw", "bw"] { names += l.cells[0].kind.stateNames.map { "\(d)_state_\($0)" } }
    } else if l.cells.count > 1 {
      for (k, c) in l.cells.enumerated() { names += c.kind.stateNames.map { "cell\(k)_state_\($0)" } }
    } else {
      names += l.cells[0].kind.stateNames.map { "state_\($0)" }
    }
    return names
  }

  public static func evaluate<Scalar: RNNScalar>(
    config m: Chain, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    try evaluateLayers(config: m, weights: weights, inputs: inputs).outputs
  }

  /// `evaluate`, plus each chain layer's first output (`result.outputs[0]`: the sequence, or
  /// the last output) under the layer's name, `_call{k}` appended when `calls > 1`: what
  /// `keras.Model(model.inputs, layer.output)` gives, as the case's `/intermediate/<layer>`.
  public static func evaluateLayers<Scalar: RNNScalar>(
    config m: Chain, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>) {
    if let conv = m.convLSTM { return try conv.evaluateLayers(calls: m.calls, weights: weights, inputs: inputs) }
    let net = try importLayers(m, weights: weights)
    var out = NamedTensors<Scalar>()
    var layerOutputs = NamedTensors<Scalar>()
    // Per Keras layer, per canonical layer: the states a stateful layer carries into the next call.
    var carried: [[[LayerState<Scalar>]]?] = Array(repeating: nil, count: m.layers.count)
    var known = Set<String>()
    // Every call's sequence input and the set of inputs are checked before any layer runs:
    // a wrong shape or an unknown input is knowable up front (issue 11, nothing sized from it first).
    let i0 = net[0][0].inputSize
    var taken = Set<String>()
    for call in 0..<m.calls {
      let suffix = m.calls > 1 ? "_call\(call)" : ""
      let xName = inputs[m.inputName + suffix] != nil || inputs["x" + suffix] == nil ? m.inputName + suffix : "x" + suffix
      // Each call has its own sequence input, so an absurd `calls` stops at the first missing one.
      guard let x = inputs[xName] else {
        throw RNNRefError.missingInput(name: m.inputName + suffix, reason: "the sequence input (N, T, I) of the model")
      }
      if x.rank != 3 || x.shape[2] != i0 {
        throw RNNRefError.shapeMismatch(name: xName, actual: x.shape,
                                        expected: [x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1, i0],
                                        reason: "batch-major (N, T, I) with I = \(i0) from the first kernel")
      }
      taken.insert(xName)
      if let mi = m.maskInput { taken.insert(mi + suffix) }
      for states in m.initialStates { for name in states { taken.insert(name + suffix) } }
    }
    let unknown = inputs.names.filter { !taken.contains($0) }
    if !unknown.isEmpty {
      throw RNNRefError.invalidConfig(key: "inputs", value: unknown.joined(separator: ", "),
                                      reason: "inputs the model does not take; expected \(taken.sorted())")
    }
    for call in 0..<m.calls {
      let suffix = m.calls > 1 ? "_call\(call)" : ""
      func input(_ name: String, alias: String? = nil, reason: String) throws -> Tensor<Scalar> {
        if let t = inputs[name + suffix] { known.insert(name + suffix); return t }
        if let a = alias, let t = inputs[a + suffix] { known.insert(a + suffix); return t }
        throw RNNRefError.missingInput(name: name + suffix, reason: reason)
      }
      let x = try input(m.inputName, alias: "x", reason: "the sequence input (N, T, I) of the model")
      guard x.rank == 3, x.shape[2] == i0 else {
        throw RNNRefError.shapeMismatch(name: m.inputName + suffix, actual: x.shape,
                                        expected: [x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1, i0],
                                        reason: "batch-major (N, T, I) with I = \(i0) from the first kernel")
      }
      let n = x.shape[0], steps = x.shape[1]
      var mask: StepMask?
      if let mi = m.maskInput {
        let t = try input(mi, reason: "the boolean mask (N, T) passed to layer `\(m.layers[0].name)` as `mask=`")
        guard t.shape == [n, steps] else {
          throw RNNRefError.shapeMismatch(name: mi + suffix, actual: t.shape, expected: [n, steps],
                                          reason: "the mask is (N, T) of the sequence input, 1 = valid step")
        }
        guard t.scalars.allSatisfy({ $0 == 0 || $0 == 1 }) else {
          throw RNNRefError.invalidConfig(key: "inputs/\(mi + suffix)", value: "values other than 0 and 1",
                                          reason: "a boolean mask is stored as 0 (masked) and 1 (valid)")
        }
        mask = StepMask(batch: n, steps: steps, valid: t.scalars.map { $0 == 1 })
      } else if let mv = m.maskValue {
        let mvs = Scalar(mv)
        var valid = [Bool](repeating: false, count: n * steps)
        for b in 0..<n { for t in 0..<steps {
          let base = (b * steps + t) * i0
          valid[b * steps + t] = (0..<i0).contains { x.scalars[base + $0] != mvs }
        } }
        mask = StepMask(batch: n, steps: steps, valid: valid)
      }
      var current = x
      for (li, layer) in m.layers.enumerated() {
        let given = try m.initialStates[li].enumerated().map { k, name in
          (name: name + suffix, tensor: try input(name, reason: "initial state \(k) of layer `\(layer.name)`"))
        }
        let result = try Keras.callLayer(layer, canonical: net[li], input: current, mask: mask,
                                         initialStates: given.isEmpty ? nil : given,
                                         carried: layer.stateful ? carried[li] : nil)
        if layer.stateful { carried[li] = result.finalStates }
        current = result.sequence
        if let first = result.outputs.first { layerOutputs.append(layer.name + suffix, first) }
        guard li == m.layers.count - 1 else { continue }
        let names = outputNames(layer).map { $0 + suffix }
        guard result.outputs.count == names.count else {
          throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "\(result.outputs.count) outputs",
                                          reason: "expected \(names.count): \(names)")
        }
        for (nm, v) in zip(names, result.outputs) { out.append(nm, v) }
      }
    }
    let extra = inputs.names.filter { !known.contains($0) }
    if !extra.isEmpty {
      throw RNNRefError.invalidConfig(key: "inputs", value: extra.joined(separator: ", "),
                                      reason: "inputs the model does not take; expected \(known.sorted())")
    }
    return (out, layerOutputs)
  }

  /// Layer outputs are batch-major, like the model's: `(N, T, F)` sequences, `(N, F)` last outputs.
  public static func layerAxisNames(rank: Int, config: Chain) -> [String]? {
    rank == 3 ? ["batch", "step", "unit"] : rank == 2 ? ["batch", "unit"] : nil
  }

  public static func axisNames(output: String, config m: Chain) -> [String]? {
    if let conv = m.convLSTM { return conv.axisNames(output: output) }
    guard let last = m.layers.last else { return nil }
    if output.hasPrefix("output") {
      return last.returnSequences ? ["batch", "step", "unit"] : ["batch", "unit"]
    }
    return ["batch", "unit"]
  }

  // MARK: - Export

  public static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    try exportNetwork(network, version: Keras.preferredVersion(network))
  }

  /// Exports a canonical network as a Keras functional chain model (`x` ->
  /// layers, all `return_sequences=True`) in the given version's config and weight names.
  public static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>, version: Keras.Version) throws
    -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    guard let first = network.layers.first else {
      throw RNNRefError.unsupported(framework: "Keras", feature: "an empty network")
    }
    var weights = NamedTensors<Scalar>()
    let suffix = version.isKeras3 ? "" : ":0"
    var layerJSON: [JSONValue] = []
    let shapeKey = version.isKeras3 ? "batch_shape" : "batch_input_shape"
    layerJSON.append(.object([
      "class_name": .string("InputLayer"), "name": .string("x"), "inbound_nodes": .array([]),
      "config": .object([shapeKey: .array([.null, .null, .number(Double(first.inputSize))]),
                         "name": .string("x"), "dtype": .string(Scalar.self == Double.self ? "float64" : "float32")]),
    ]))
    var used: [String: Int] = [:]
    func unique(_ base: String) -> String {
      let k = used[base, default: 0]; used[base] = k + 1
      return k == 0 ? base : "\(base)_\(k)"
    }
    var previous = "x"
    for (li, layer) in network.layers.enumerated() {
      let kind = Keras.kind(of: layer.cells[0])
      guard layer.cells.allSatisfy({ Keras.kind(of: $0) == kind }) else {
        throw RNNRefError.unsupported(framework: "Keras", feature: "a Bidirectional layer with different cell types per direction (layer \(li))")
      }
      let (cellCfg, _) = try Keras.exportCell(layer.cells[0], version: version, layer: li)
      if layer.cells.count == 2 {
        let (other, _) = try Keras.exportCell(layer.cells[1], version: version, layer: li)
        guard other == cellCfg else {
          throw RNNRefError.unsupported(framework: "Keras", feature: "a Bidirectional layer whose directions differ in units, activations, use_bias or reset_after (layer \(li))")
        }
      }
      let name = unique(kind.snakeLayer)
      var cfg = cellCfg
      cfg["name"] = .string(name)
      cfg["return_sequences"] = .bool(true)
      cfg["return_state"] = .bool(false)
      cfg["stateful"] = .bool(false)
      cfg["go_backwards"] = .bool(false)
      var outer: [String: JSONValue]
      var outerName = name
      switch layer.direction {
      case .forward, .reverse:
        if layer.direction == .reverse {
          guard layer.reverseOutputOrder == .timeReversed else {
            throw RNNRefError.unsupported(framework: "Keras", feature: "a reverse layer whose outputs align to input time (layer \(li)); Keras go_backwards returns them time-reversed")
          }
          cfg["go_backwards"] = .bool(true)
        }
        cfg["zero_output_for_mask"] = .bool(layer.padding == .zeroOutput)
        outer = ["class_name": .string(kind.rawValue), "config": .object(cfg)]
        let (_, w) = try Keras.exportCell(layer.cells[0], version: version, layer: li)
        for (leafName, t) in w { weights.append("\(name)/\(kind.snakeCell)/\(leafName)\(suffix)", t) }
      case .bidirectional:
        guard layer.padding == .zeroOutput else {
          throw RNNRefError.unsupported(framework: "Keras", feature: "a Bidirectional layer returning sequences that repeats the previous output at masked steps (layer \(li)); Keras zeroes them")
        }
        outerName = unique("bidirectional")
        outer = ["class_name": .string("Bidirectional"),
                 "config": .object(["name": .string(outerName),
                                    "merge_mode": layer.merge == .none ? .null : .string(layer.merge.rawValue),
                                    "layer": .object(["class_name": .string(kind.rawValue), "config": .object(cfg)])])]
        for (d, prefix) in ["forward_", "backward_"].enumerated() {
          let (_, w) = try Keras.exportCell(layer.cells[d], version: version, layer: li)
          for (leafName, t) in w {
            weights.append("\(outerName)/\(prefix)\(name)/\(kind.snakeCell)/\(leafName)\(suffix)", t)
          }
        }
      }
      outer["name"] = .string(outerName)
      outer["inbound_nodes"] = .array([.array([.array([.string(previous), .number(0), .number(0), .object([:])])])])
      layerJSON.append(.object(outer))
      previous = outerName
    }
    let model: JSONValue = .object([
      "class_name": .string("Functional"),
      "config": .object(["name": .string("model"), "layers": .array(layerJSON),
                         "input_layers": .array([.array([.string("x"), .number(0), .number(0)])]),
                         "output_layers": .array([.array([.string(previous), .number(0), .number(0)])])]),
    ])
    let config: JSONValue = .object(["library": .string(version.library), "keras_version": .string(version.text),
                                     "calls": .number(1), "model": model])
    return (config, weights)
  }
}
