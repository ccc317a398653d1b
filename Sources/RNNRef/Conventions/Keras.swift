/// Keras 2 (tf.keras, tf-keras 2.21, `TF_USE_LEGACY_KERAS=1`) and Keras 3 (3.15,
/// TensorFlow backend) recurrent models, checked against the installed sources
/// (`tf_keras/src/layers/rnn/*.py`, `tf_keras/src/backend.py` `rnn()`,
/// `keras/src/layers/rnn/*.py`, `keras/src/backend/tensorflow/rnn.py`) and by
/// `fixtures/generate/gen_keras2.py` / `gen_keras3.py`.
///
/// A case is a chain model: `InputLayer` (+ state `InputLayer`s), optional
/// `Masking`, then `SimpleRNN` / `LSTM` / `GRU` / `RNN(cell)` /
/// `RNN(StackedRNNCells([...]))` / `Bidirectional(...)` layers. Any other layer
/// on the path from the input to the output is an error naming its class and name
/// (Keras 3 records the `NotEqual`/`Any` ops a functional `Masking` creates; they
/// are off that path and ignored).
///
/// Native weights per cell, named by Keras (`lstm/lstm_cell/kernel:0` in
/// tf-keras, the variable path `lstm/lstm_cell/kernel` in Keras 3, with the model
/// name in front in a Keras 3 Sequential), in `model.weights` order; k = gates
/// (1 simple RNN, 4 LSTM, 3 GRU), I = input features, H = `units`:
/// - `kernel`: `(I, kH)`
/// - `recurrent_kernel`: `(H, kH)`
/// - `bias`: `(kH)`; GRU `reset_after=True`: `(2, 3H)`, row 0 input bias, row 1
///   recurrent bias. Absent with `use_bias=False`.
/// Gate order along `kH`: LSTM **i, f, c, o**; GRU **z, r, h** — the canonical
/// orders (i, f, g, o; z, r, n), so no reordering. Keras has one bias (GRU
/// `reset_after` two rows); `unit_forget_bias` only initialises the forget block
/// of the stored bias, nothing is added at run time.
/// Activations: `activation` (simple RNN; LSTM cell candidate *and* output; GRU
/// candidate), `recurrent_activation` (LSTM i, f, o; GRU z, r). `hard_sigmoid`
/// is `clip(0.2x + 0.5, 0, 1)` in Keras 2 and `relu6(x + 3) / 6` in Keras 3: the
/// `keras_version` of the config decides.
/// GRU `reset_after=False` (Keras <= 2.2 default): `n = tanh(x Wn + (r*h) Un + b)`;
/// `reset_after=True` (default since Keras 2.3): `n = tanh(x Wn + b_in + r*(h Un + b_hn))`.
///
/// Run time (batch-major): `x: (N, T, I)`; states `(N, H)`, LSTM `[h, c]`.
/// - `Masking(mask_value)`: step t of sample n is valid when
///   `any(x[n, t, :] != mask_value)`. A masked step carries the state and outputs
///   the previous output (zeros before the first valid one); with
///   `zero_output_for_mask` (set by `Bidirectional` to `return_sequences`) it
///   outputs zeros.
/// - `go_backwards`: processes t = T-1 ... 0 and returns the outputs in that
///   processing order (time-reversed; keras-onnx#523, tensorflow#40345).
/// - `return_sequences=False`: the last output in processing order.
/// - `Bidirectional`: the backward layer goes backwards, its sequence is flipped
///   back to input time, merged by `merge_mode` (concat, sum, mul, ave, None =
///   both returned); `return_state` gives `[output(s), fw states..., bw states...]`.
/// - `stateful`: each call starts from the previous call's final states.
///
/// Native config (fixtures/README.md, "### keras"): `{"library": "tf-keras" | "keras",
/// "keras_version", "calls": n, "model": <model.to_json()>}`. Inputs: the
/// sequence `x` (or the name of its `InputLayer`) and state inputs by their
/// `InputLayer` names; with `calls > 1` every input and output name ends in
/// `_call{k}`. Outputs, in the model's output order: `output` (Bidirectional
/// with `merge_mode=None`: `output_fw`, `output_bw`), then with `return_state`
/// `state_h` [`state_c`]; Bidirectional `fw_state_h` [`fw_state_c`]
/// `bw_state_h` [`bw_state_c`]; `RNN(StackedRNNCells)` `cell{k}_state_h` [`cell{k}_state_c`].
public enum Keras: NetworkConvention {
  /// The Keras adapter parses its model per call (`parse`); its conformance keeps
  /// the JSON as `Config` (smallest change; the Keras rework may give it a typed one).
  public typealias Config = JSONValue
  public static func parseConfig(_ json: JSONValue) throws -> JSONValue { json }
  public static let framework = "keras"

  // MARK: - Configuration

  /// Which Keras: decides `hard_sigmoid`, defaults and weight names.
  public enum Flavor: String, Sendable {
    /// Keras <= 2.2, tf.keras, tf-keras: weight names end in `:0`.
    case keras2
    /// Keras 3: weight names are variable paths.
    case keras3

    public var library: String { self == .keras3 ? "keras" : "tf-keras" }
    public var defaultVersion: String { self == .keras3 ? "3.15.1" : "2.21.0" }
  }

  public enum CellKind: String, Sendable {
    case simple = "SimpleRNN", lstm = "LSTM", gru = "GRU"
    var gates: Int { switch self { case .simple: 1; case .lstm: 4; case .gru: 3 } }
    var cellClass: String { rawValue + "Cell" }
    var stateNames: [String] { self == .lstm ? ["h", "c"] : ["h"] }
    /// Keras' snake-case cell name, used in weight names of exported networks.
    var snakeCell: String {
      switch self { case .simple: "simple_rnn_cell"; case .lstm: "lstm_cell"; case .gru: "gru_cell" }
    }
    var snakeLayer: String {
      switch self { case .simple: "simple_rnn"; case .lstm: "lstm"; case .gru: "gru" }
    }
  }

  /// One cell's hyperparameters, as a Keras layer or cell config gives them.
  public struct CellConfig: Equatable, Sendable {
    public var kind: CellKind
    /// The cell's name when it is a configured cell (`RNN(cell)`), else nil.
    public var name: String?
    public var units: Int
    public var activation: Activation
    public var recurrentActivation: Activation
    public var useBias: Bool
    public var resetAfter: Bool
  }

  /// One recurrent layer of the chain.
  public struct LayerConfig: Equatable, Sendable {
    public var name: String
    public var className: String
    /// One cell (SimpleRNN/LSTM/GRU/RNN(cell)), several (StackedRNNCells).
    public var cells: [CellConfig]
    /// `merge_mode` when the layer is a Bidirectional wrapper (`.none` = None).
    public var bidirectional: MergeMode?
    public var returnSequences: Bool
    public var returnState: Bool
    public var goBackwards: Bool
    public var stateful: Bool
    public var zeroOutputForMask: Bool
    /// Names of the InputLayers passed as `initial_state`, in order.
    public var initialStateInputs: [String]

    var directions: Int { bidirectional == nil ? 1 : 2 }
  }

  /// A parsed model: the chain from the sequence input to the output.
  public struct ModelConfig: Equatable, Sendable {
    public var flavor: Flavor
    public var kerasVersion: String
    public var calls: Int
    public var inputName: String
    /// Feature size from the InputLayer's shape, when known.
    public var inputFeatures: Int?
    public var maskValue: Double?
    public var layers: [LayerConfig]
  }

  static func invalid(_ key: String, _ value: JSONValue?, _ reason: String) -> RNNRefError {
    RNNRefError.invalidConfig(key: key, value: value?.jsonText ?? "absent", reason: reason)
  }

  static func flavor(version: String, library: String?) -> Flavor {
    if library == "keras" || version.hasPrefix("3") { return .keras3 }
    return .keras2
  }

  /// Keras 2.3 made GRU `reset_after=True` and `recurrent_activation="sigmoid"` the defaults.
  static func isOldKeras2(_ version: String) -> Bool {
    let parts = version.split(separator: ".").compactMap { Int($0) }
    guard parts.count >= 2 else { return false }
    return parts[0] < 2 || (parts[0] == 2 && parts[1] < 3)
  }

  /// A Keras activation name (or Keras 3's serialised function) as a canonical
  /// activation; `hard_sigmoid` follows the flavor. nil when absent. The one place
  /// Keras activation names are read (KerasImport uses it too).
  public static func activation(_ v: JSONValue?, key: String, flavor: Flavor) throws -> Activation? {
    guard let v else { return nil }
    var name: String?
    if let s = v.string { name = s }
    else if let o = v.object {  // Keras 3 may serialise a function as {"class_name": "function", "config": "tanh"}
      name = o["config"]?.string ?? o["class_name"]?.string
    }
    guard let name else { throw invalid(key, v, "expected an activation name") }
    switch name {
    case "tanh": return .tanh
    case "sigmoid": return .sigmoid
    case "relu": return .relu
    case "linear": return .linear
    case "hard_sigmoid": return flavor == .keras3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2
    case "elu": return .elu(alpha: 1)
    case "selu": return .selu
    case "softsign": return .softsign
    case "softplus": return .softplus
    case "exponential": return .exponential
    default:
      throw invalid(key, v, "unknown Keras activation; known: tanh, sigmoid, relu, linear, hard_sigmoid, elu, "
                      + "selu, softsign, softplus, exponential")
    }
  }

  static func kind(className: String, layerName: String) throws -> CellKind {
    switch className {
    case "SimpleRNN", "SimpleRNNCell": return .simple
    case "LSTM", "LSTMCell", "LSTMV1": return .lstm
    case "GRU", "GRUCell", "GRUV1": return .gru
    default: break
    }
    throw RNNRefError.invalidConfig(
      key: "layer `\(layerName)`", value: className,
      reason: "not a Keras recurrent layer this adapter reads (SimpleRNN, LSTM, GRU, RNN, Bidirectional)")
  }

  static func cellConfig(_ cls: String, _ c: [String: JSONValue], layerName: String, named: Bool,
                         flavor: Flavor, version: String) throws -> CellConfig {
    let kind = try kind(className: cls, layerName: layerName)
    guard let units = c["units"]?.int, units > 0 else {
      throw invalid("\(layerName).units", c["units"], "expected a positive integer")
    }
    let old = isOldKeras2(version)
    let act = try activation(c["activation"], key: "\(layerName).activation", flavor: flavor) ?? .tanh
    let rec = try activation(c["recurrent_activation"], key: "\(layerName).recurrent_activation", flavor: flavor)
      ?? (old ? .hardSigmoidKeras2 : .sigmoid)
    let useBias = c["use_bias"]?.bool ?? true
    var resetAfter = false
    if kind == .gru {
      resetAfter = c["reset_after"]?.bool ?? !old
    }
    if let tm = c["time_major"]?.bool, tm {
      throw invalid("\(layerName).time_major", .bool(true), "time-major Keras layers are not supported")
    }
    return CellConfig(kind: kind, name: named ? c["name"]?.string : nil, units: units, activation: act,
                      recurrentActivation: rec, useBias: useBias, resetAfter: resetAfter)
  }

  /// The recurrent layer(s) a Keras layer config describes.
  static func layerConfig(_ layer: [String: JSONValue], flavor: Flavor, version: String,
                          initialStates: [String]) throws -> LayerConfig {
    let cls = layer["class_name"]?.string ?? "?"
    guard let c = layer["config"]?.object else { throw invalid("layer config", layer["config"], "expected an object") }
    let name = c["name"]?.string ?? layer["name"]?.string ?? "?"
    var inner = c
    var merge: MergeMode?
    var cells: [CellConfig]
    switch cls {
    case "Bidirectional":
      guard let wrapped = c["layer"]?.object, let wc = wrapped["config"]?.object,
            let wcls = wrapped["class_name"]?.string else {
        throw invalid("\(name).layer", c["layer"], "a Bidirectional needs the wrapped layer's config")
      }
      switch c["merge_mode"] {
      case nil: merge = .concat  // the Bidirectional default
      case .some(.null): merge = MergeMode.none  // both directions returned
      case .some(.string(let s)):
        guard let m = MergeMode(rawValue: s), m != .none else {
          throw invalid("\(name).merge_mode", c["merge_mode"], "expected concat, sum, mul, ave or null")
        }
        merge = m
      default: throw invalid("\(name).merge_mode", c["merge_mode"], "expected concat, sum, mul, ave or null")
      }
      inner = wc
      if wcls == "RNN" || wcls == "Bidirectional" {
        throw invalid("\(name).layer", .string(wcls), "Bidirectional over \(wcls) is not supported; wrap LSTM, GRU or SimpleRNN")
      }
      let fw = try cellConfig(wcls, wc, layerName: name, named: false, flavor: flavor, version: version)
      var bw = fw
      if let b = c["backward_layer"]?.object, let bc = b["config"]?.object, let bcls = b["class_name"]?.string {
        bw = try cellConfig(bcls, bc, layerName: name + " (backward_layer)", named: false, flavor: flavor, version: version)
      }
      if wc["go_backwards"]?.bool == true {
        throw invalid("\(name).layer.go_backwards", .bool(true), "Bidirectional over a go_backwards layer is not supported")
      }
      cells = [fw, bw]
    case "RNN":
      guard let cell = c["cell"]?.object, let ccls = cell["class_name"]?.string else {
        throw invalid("\(name).cell", c["cell"], "an RNN layer needs its cell's config")
      }
      if ccls == "StackedRNNCells" {
        guard let list = cell["config"]?["cells"]?.array, !list.isEmpty else {
          throw invalid("\(name).cell.cells", cell["config"]?["cells"], "StackedRNNCells needs a non-empty list of cells")
        }
        cells = try list.map { item in
          guard let ic = item["config"]?.object, let icls = item["class_name"]?.string else {
            throw invalid("\(name).cell.cells[]", item, "expected {class_name, config}")
          }
          return try cellConfig(icls, ic, layerName: "\(name)/\(ic["name"]?.string ?? icls)", named: true,
                                flavor: flavor, version: version)
        }
      } else if ["SimpleRNNCell", "LSTMCell", "GRUCell"].contains(ccls) {
        guard let cc = cell["config"]?.object else { throw invalid("\(name).cell.config", cell["config"], "expected an object") }
        cells = [try cellConfig(ccls, cc, layerName: name, named: true, flavor: flavor, version: version)]
      } else {
        throw invalid("\(name).cell", .string(ccls),
                      "unknown cell class; known: SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells")
      }
    case "SimpleRNN", "LSTM", "GRU", "LSTMV1", "GRUV1":
      cells = [try cellConfig(cls, c, layerName: name, named: false, flavor: flavor, version: version)]
    default:
      throw RNNRefError.invalidConfig(
        key: "layer `\(name)`", value: cls,
        reason: "unknown layer class on the model's path; this adapter reads InputLayer, Masking, SimpleRNN, LSTM, "
          + "GRU, RNN(SimpleRNNCell|LSTMCell|GRUCell|StackedRNNCells) and Bidirectional")
    }
    let wrapperZero = merge != nil ? (inner["return_sequences"]?.bool ?? false) : (c["zero_output_for_mask"]?.bool ?? false)
    return LayerConfig(
      name: name, className: cls, cells: cells, bidirectional: merge,
      returnSequences: inner["return_sequences"]?.bool ?? false,
      returnState: inner["return_state"]?.bool ?? false,
      goBackwards: c["go_backwards"]?.bool ?? false,
      stateful: inner["stateful"]?.bool ?? false,
      zeroOutputForMask: wrapperZero,
      initialStateInputs: initialStates)
  }

  /// Every `[layer_name, node, tensor]` reference in an inbound-node structure,
  /// in order: tf-keras lists (`[["x", 0, 0, {}], ["h0", 0, 0, {}]]`) and Keras 3
  /// `{"args": [...], "kwargs": {"initial_state": [...]}}` with `keras_history`.
  static func references(_ v: JSONValue) -> [String] {
    switch v {
    case .array(let a):
      if a.count >= 3, let s = a[0].string, a[1].int != nil, a[2].int != nil { return [s] }
      return a.flatMap(references)
    case .object(let o):
      if let h = o["keras_history"], let s = h[0]?.string { return [s] }
      var out: [String] = []
      if o["args"] != nil || o["kwargs"] != nil {
        // A Keras 3 node: positional args, then initial_state. The `mask` kwarg a
        // functional Masking passes (from its NotEqual/Any ops) is not a data input.
        out += o["args"].map(references) ?? []
        if let s = o["kwargs"]?["initial_state"] { out += references(s) }
        return out
      }
      if let c = o["config"] { return references(c) }
      for key in o.keys.sorted() { out += references(o[key]!) }
      return out
    default:
      return []
    }
  }

  /// Reads a case's native config (or a bare `model.to_json()` document).
  public static func parse(_ config: JSONValue) throws -> ModelConfig {
    let model: JSONValue
    if let m = config["model"] { model = m } else if config["class_name"] != nil { model = config }
    else { throw invalid("model", nil, "expected the model JSON (model.to_json()) under `model`") }
    let version = config["keras_version"]?.string ?? model["keras_version"]?.string ?? "3"
    let flavor = flavor(version: version, library: config["library"]?.string)
    let calls = config["calls"]?.int ?? 1
    guard calls >= 1 else { throw invalid("calls", config["calls"], "expected an integer >= 1") }
    let modelClass = model["class_name"]?.string ?? "?"
    guard let mc = model["config"]?.object, let list = mc["layers"]?.array else {
      throw invalid("model.config.layers", model["config"], "expected the model's list of layers")
    }
    var byName: [String: [String: JSONValue]] = [:]
    for l in list {
      guard let o = l.object else { continue }
      let n = o["name"]?.string ?? o["config"]?["name"]?.string ?? ""
      byName[n] = o
    }
    // The chain, input first, with each layer's extra (state) inputs.
    var chain: [(layer: [String: JSONValue], extra: [String])] = []
    if modelClass == "Sequential" {
      chain = list.compactMap { $0.object }.map { ($0, []) }
    } else {
      var outs: [String] = []
      func collect(_ v: JSONValue) { outs += references(v) }
      if let ol = mc["output_layers"] { collect(ol) }
      let lastNames = Set(outs)
      guard lastNames.count == 1, let last = outs.first else {
        throw invalid("model.config.output_layers", mc["output_layers"],
                      "expected every output to come from one recurrent layer (a chain model)")
      }
      var current: String? = last
      var seen = Set<String>()
      while let name = current {
        guard !seen.contains(name), let layer = byName[name] else {
          throw invalid("model.config.layers", .string(name), "layer referenced by the graph is not in the model")
        }
        seen.insert(name)
        let refs = layer["inbound_nodes"].map(references) ?? []
        chain.insert((layer, Array(refs.dropFirst())), at: 0)
        current = refs.first
      }
    }
    var inputName = "x"
    var inputFeatures: Int?
    var maskValue: Double?
    var layers: [LayerConfig] = []
    for (idx, item) in chain.enumerated() {
      let cls = item.layer["class_name"]?.string ?? "?"
      let c = item.layer["config"]?.object ?? [:]
      let lname = c["name"]?.string ?? item.layer["name"]?.string ?? "?"
      switch cls {
      case "InputLayer":
        guard idx == 0 else { throw invalid("layer `\(lname)`", .string(cls), "an InputLayer inside the chain") }
        inputName = lname
        let shape = c["batch_shape"] ?? c["batch_input_shape"]
        if let s = shape?.array, s.count == 3 { inputFeatures = s[2].int }
        else if let s = shape?.array, s.count != 3 {
          throw invalid("\(lname).batch_shape", shape, "expected a sequence input (batch, steps, features)")
        }
      case "Masking":
        guard layers.isEmpty, maskValue == nil else {
          throw invalid("layer `\(lname)`", .string(cls), "Masking is supported only before the first recurrent layer")
        }
        guard let v = c["mask_value"]?.double else { throw invalid("\(lname).mask_value", c["mask_value"], "expected a number") }
        maskValue = v
      default:
        for e in item.extra {
          guard byName[e]?["class_name"]?.string == "InputLayer" else {
            throw invalid("layer `\(lname)` initial_state", .string(e), "initial states must come straight from model inputs")
          }
        }
        layers.append(try layerConfig(item.layer, flavor: flavor, version: version, initialStates: item.extra))
      }
    }
    guard !layers.isEmpty else { throw invalid("model.config.layers", nil, "the model has no recurrent layer") }
    for l in layers.dropLast() where !l.returnSequences || l.returnState {
      throw invalid("layer `\(l.name)`", nil,
                    "a recurrent layer feeding another needs return_sequences=True and return_state=False")
    }
    for l in layers where !l.initialStateInputs.isEmpty {
      let want = l.bidirectional != nil ? 2 * l.cells[0].kind.stateNames.count
        : l.cells.reduce(0) { $0 + $1.kind.stateNames.count }
      guard l.initialStateInputs.count == want else {
        throw invalid("layer `\(l.name)` initial_state", .array(l.initialStateInputs.map { .string($0) }),
                      "expected \(want) state inputs")
      }
    }
    return ModelConfig(flavor: flavor, kerasVersion: version, calls: calls, inputName: inputName,
                       inputFeatures: inputFeatures, maskValue: maskValue, layers: layers)
  }

  // MARK: - Weights

  static func leaf(_ name: String) -> String {
    var last = String(name.split(separator: "/").last ?? "")
    if let colon = last.lastIndex(of: ":") { last = String(last[..<colon]) }
    return last
  }

  static func components(_ name: String) -> [String] { name.split(separator: "/").map(String.init) }

  /// Native names expected for one cell, for messages: `<layer>/<cell>/kernel`.
  static func describe(_ layer: LayerConfig, dir: Int, cell: CellConfig, leaf: String) -> String {
    var parts = [layer.name]
    if layer.bidirectional != nil { parts.append((dir == 0 ? "forward_" : "backward_") + "<layer>") }
    if let n = cell.name, layer.cells.count > 1 { parts.append("stacked_rnn_cells/\(n)") }
    else { parts.append(cell.name ?? cell.kind.snakeCell) }
    parts.append(leaf)
    return parts.joined(separator: "/")
  }

  /// Imports the canonical layers of each Keras layer. Weights are found by name:
  /// the owning layer is the first path component naming a chain layer;
  /// `forward_*`/`backward_*` split a Bidirectional; a stacked cell's own name splits
  /// `StackedRNNCells`; the last component (without `:0`) says which tensor.
  static func importLayers<Scalar: RNNScalar>(_ m: ModelConfig, weights: NamedTensors<Scalar>)
    throws -> [[RecurrentLayer<Scalar>]] {
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
      func take(dir: Int, cell: CellConfig, leafName: String) -> (name: String, tensor: Tensor<Scalar>)? {
        guard let i = pool.firstIndex(where: { e in
          guard leaf(e.name) == leafName else { return false }
          let comps = components(e.name)
          if layer.bidirectional != nil {
            let prefix = dir == 0 ? "forward_" : "backward_"
            guard comps.contains(where: { $0.hasPrefix(prefix) }) else { return false }
          }
          if layer.cells.count > 1, let n = cell.name { return comps.contains(n) }
          return true
        }) else { return nil }
        return pool.remove(at: i)
      }
      var perDirection: [[Cell<Scalar>]] = Array(repeating: [], count: layer.directions)
      var cellInput = inputSize
      for (ci, cell) in layer.cells.enumerated() {
        for dir in 0..<layer.directions {
          let cfg = layer.bidirectional != nil ? layer.cells[dir] : cell
          if layer.bidirectional != nil && ci > 0 { break }
          let g = cfg.kind.gates, h = cfg.units
          let why = "\(cfg.kind.rawValue) units=\(h): k=\(g) gates"
          guard let k = take(dir: dir, cell: cfg, leafName: "kernel") else {
            throw RNNRefError.missingWeight(name: describe(layer, dir: dir, cell: cfg, leaf: "kernel"),
                                            expectedShape: [cellInput ?? -1, g * h], reason: "\(why), kernel (I, kH)")
          }
          let i = cellInput ?? (k.tensor.rank == 2 ? k.tensor.shape[0] : -1)
          guard k.tensor.shape == [i, g * h] else {
            throw RNNRefError.shapeMismatch(name: k.name, actual: k.tensor.shape, expected: [i, g * h],
                                            reason: "\(why), kernel (I, kH) with I = \(i) input features")
          }
          guard let r = take(dir: dir, cell: cfg, leafName: "recurrent_kernel") else {
            throw RNNRefError.missingWeight(name: describe(layer, dir: dir, cell: cfg, leaf: "recurrent_kernel"),
                                            expectedShape: [h, g * h], reason: "\(why), recurrent_kernel (H, kH)")
          }
          guard r.tensor.shape == [h, g * h] else {
            throw RNNRefError.shapeMismatch(name: r.name, actual: r.tensor.shape, expected: [h, g * h],
                                            reason: "\(why), recurrent_kernel (H, kH)")
          }
          var bi = Tensor<Scalar>(zeros: [g * h]), bh = Tensor<Scalar>(zeros: [g * h])
          if cfg.useBias {
            let shape = cfg.resetAfter ? [2, g * h] : [g * h]
            let bwhy = cfg.resetAfter ? "GRU reset_after=True: bias (2, 3H), row 0 input, row 1 recurrent"
                                      : "\(why), use_bias=True: bias (kH)"
            guard let b = take(dir: dir, cell: cfg, leafName: "bias") else {
              throw RNNRefError.missingWeight(name: describe(layer, dir: dir, cell: cfg, leaf: "bias"),
                                              expectedShape: shape, reason: bwhy)
            }
            guard b.tensor.shape == shape else {
              throw RNNRefError.shapeMismatch(name: b.name, actual: b.tensor.shape, expected: shape,
                                              reason: bwhy + (cfg.kind == .gru ? " (check reset_after)" : ""))
            }
            if cfg.resetAfter {
              bi = b.tensor.slice(axis: 0, range: 0..<1).reshaped([g * h])
              bh = b.tensor.slice(axis: 0, range: 1..<2).reshaped([g * h])
            } else {
              bi = b.tensor
            }
          }
          let c: Cell<Scalar>
          switch cfg.kind {
          case .simple:
            c = .simple(SimpleRNNCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                                      inputBias: bi, recurrentBias: bh, activation: cfg.activation))
          case .lstm:
            c = .lstm(LSTMCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                               inputBias: bi, recurrentBias: bh, gateActivation: cfg.recurrentActivation,
                               cellActivation: cfg.activation, outputActivation: cfg.activation))
          case .gru:
            c = .gru(GRUCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                             inputBias: bi, recurrentBias: bh, resetAfter: cfg.resetAfter,
                             gateActivation: cfg.recurrentActivation, candidateActivation: cfg.activation))
          }
          perDirection[dir].append(c)
          if layer.bidirectional == nil { cellInput = h }
        }
      }
      if !pool.isEmpty { throw RNNRefError.unusedWeights(names: pool.map(\.name)) }
      // Canonical layers.
      var canon: [RecurrentLayer<Scalar>] = []
      let padding: PaddingPolicy = layer.zeroOutputForMask ? .zeroOutput : .repeatPreviousOutput
      if let merge = layer.bidirectional {
        canon.append(RecurrentLayer(direction: .bidirectional, cells: [perDirection[0][0], perDirection[1][0]],
                                    merge: merge, padding: padding))
        let h = layer.cells[0].units
        inputSize = merge == .concat || merge == .none ? 2 * h : h
      } else {
        let cells = perDirection[0]
        for (j, c) in cells.enumerated() {
          if layer.goBackwards {
            // Stacked cells step together backwards: inner layers keep input time so the
            // next one reads them backwards too; the last returns processing order.
            canon.append(RecurrentLayer(direction: .reverse, cells: [c], padding: padding,
                                        reverseOutputOrder: j == cells.count - 1 ? .timeReversed : .alignedToInput))
          } else {
            canon.append(RecurrentLayer(direction: .forward, cells: [c], padding: padding))
          }
        }
        inputSize = layer.cells.last!.units
      }
      result.append(canon)
    }
    return result
  }

  public static func importNetwork<Scalar: RNNScalar>(config: JSONValue, weights: NamedTensors<Scalar>) throws -> Network<Scalar> {
    let m = try parse(config)
    return Network(layers: try importLayers(m, weights: weights).flatMap { $0 })
  }

  // MARK: - Export

  static func activationName(_ a: Activation, flavor: Flavor, role: String) throws -> String {
    switch a {
    case .tanh: return "tanh"
    case .sigmoid: return "sigmoid"
    case .relu: return "relu"
    case .linear: return "linear"
    case .elu(let alpha) where alpha == 1: return "elu"
    case .selu: return "selu"
    case .softsign: return "softsign"
    case .softplus: return "softplus"
    case .exponential: return "exponential"
    case .hardSigmoidKeras2 where flavor == .keras2: return "hard_sigmoid"
    case .hardSigmoidKeras3 where flavor == .keras3: return "hard_sigmoid"
    case .hardSigmoidKeras2:
      throw RNNRefError.unsupported(framework: "Keras 3", feature: "the Keras 2 hard_sigmoid clip(0.2x+0.5, 0, 1) (\(role)); Keras 3's is relu6(x+3)/6")
    case .hardSigmoidKeras3:
      throw RNNRefError.unsupported(framework: "Keras 2", feature: "the Keras 3 hard_sigmoid relu6(x+3)/6 (\(role)); Keras 2's is clip(0.2x+0.5, 0, 1)")
    default:
      throw RNNRefError.unsupported(framework: "Keras", feature: "the activation \(a) (\(role))")
    }
  }

  /// Which Keras can express a network: Keras 2 when it uses the Keras 2 hard_sigmoid, else Keras 3.
  static func preferredFlavor<Scalar: RNNScalar>(_ network: Network<Scalar>) -> Flavor {
    for l in network.layers { for c in l.cells {
      switch c {
      case .lstm(let x) where [x.gateActivation, x.cellActivation].contains(.hardSigmoidKeras2): return .keras2
      case .gru(let x) where [x.gateActivation, x.candidateActivation].contains(.hardSigmoidKeras2): return .keras2
      case .simple(let x) where x.activation == .hardSigmoidKeras2: return .keras2
      default: continue
      }
    } }
    return .keras3
  }

  public static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    try exportNetwork(network, flavor: preferredFlavor(network))
  }

  /// Exports a canonical network as a Keras functional chain model (`x` ->
  /// layers, all `return_sequences=True`) in the given flavor's config and weight names.
  public static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>, flavor: Flavor) throws
    -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    guard let first = network.layers.first else {
      throw RNNRefError.unsupported(framework: "Keras", feature: "an empty network")
    }
    var weights = NamedTensors<Scalar>()
    let suffix = flavor == .keras2 ? ":0" : ""
    var layerJSON: [JSONValue] = []
    let shapeKey = flavor == .keras3 ? "batch_shape" : "batch_input_shape"
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
      let kind: CellKind
      switch layer.cells[0] { case .simple: kind = .simple; case .lstm: kind = .lstm; case .gru: kind = .gru }
      for c in layer.cells {
        let k2: CellKind
        switch c { case .simple: k2 = .simple; case .lstm: k2 = .lstm; case .gru: k2 = .gru }
        guard k2 == kind else {
          throw RNNRefError.unsupported(framework: "Keras", feature: "a Bidirectional layer with different cell types per direction (layer \(li))")
        }
      }
      let (cellCfg, _) = try exportCell(layer.cells[0], flavor: flavor, layer: li)
      if layer.cells.count == 2 {
        let (other, _) = try exportCell(layer.cells[1], flavor: flavor, layer: li)
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
        let (_, w) = try exportCell(layer.cells[0], flavor: flavor, layer: li)
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
          let (_, w) = try exportCell(layer.cells[d], flavor: flavor, layer: li)
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
    let config: JSONValue = .object(["library": .string(flavor.library), "keras_version": .string(flavor.defaultVersion),
                                     "calls": .number(1), "model": model])
    return (config, weights)
  }

  /// One cell's Keras config keys and weights (`kernel`, `recurrent_kernel`, `bias`).
  static func exportCell<Scalar: RNNScalar>(_ cell: Cell<Scalar>, flavor: Flavor, layer li: Int) throws
    -> ([String: JSONValue], [(String, Tensor<Scalar>)]) {
    func unsupported(_ f: String) -> RNNRefError { .unsupported(framework: "Keras", feature: "\(f) (layer \(li))") }
    func isZero(_ t: Tensor<Scalar>) -> Bool { t.scalars.allSatisfy { $0 == 0 } }
    func sum(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> {
      Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
    }
    var cfg: [String: JSONValue] = [:]
    var w: [(String, Tensor<Scalar>)] = []
    switch cell {
    case .simple(let c):
      if c.activationClip != nil { throw unsupported("an activation clip") }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.activation, flavor: flavor, role: "activation"))
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias { w.append(("bias", sum(c.inputBias, c.recurrentBias))) }
    case .lstm(let c):
      if c.peepholes != nil { throw unsupported("LSTM peepholes") }
      if c.projection != nil { throw unsupported("an LSTM projection") }
      if c.cellClip != nil { throw unsupported("an LSTM cell clip") }
      if c.activationClip != nil { throw unsupported("an activation clip") }
      if c.coupledInputForget { throw unsupported("a coupled input-forget gate") }
      if c.forgetBias != 0 { throw unsupported("a run-time forget bias (fold it into the bias first)") }
      guard c.cellActivation == c.outputActivation else {
        throw unsupported("different cell-candidate and output activations (Keras uses `activation` for both)")
      }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.cellActivation, flavor: flavor, role: "activation"))
      cfg["recurrent_activation"] = .string(try activationName(c.gateActivation, flavor: flavor, role: "recurrent_activation"))
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      cfg["unit_forget_bias"] = .bool(true)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias { w.append(("bias", sum(c.inputBias, c.recurrentBias))) }
    case .gru(let c):
      if c.activationClip != nil { throw unsupported("an activation clip") }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.candidateActivation, flavor: flavor, role: "activation"))
      cfg["recurrent_activation"] = .string(try activationName(c.gateActivation, flavor: flavor, role: "recurrent_activation"))
      cfg["reset_after"] = .bool(c.resetAfter)
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias {
        if c.resetAfter {
          w.append(("bias", Tensor.concatenate([c.inputBias.reshaped([1, c.inputBias.count]),
                                                c.recurrentBias.reshaped([1, c.recurrentBias.count])], axis: 0)))
        } else {
          w.append(("bias", sum(c.inputBias, c.recurrentBias)))
        }
      }
    }
    return (cfg, w)
  }

  // MARK: - Evaluate

  /// Output names of the last layer (see the type's doc comment).
  static func outputNames(_ l: LayerConfig) -> [String] {
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

  /// Batch-major `(N, T, F)` from time-major `(T, N, F)`.
  static func batchMajor<Scalar: RNNScalar>(_ t: Tensor<Scalar>) -> Tensor<Scalar> { t.transposed([1, 0, 2]) }

  static func step<Scalar: RNNScalar>(_ t: Tensor<Scalar>, _ k: Int) -> Tensor<Scalar> {
    t.slice(axis: 0, range: k..<(k + 1)).reshaped([t.shape[1], t.shape[2]])
  }

  public static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    let m = try parse(config)
    let net = try importLayers(m, weights: weights)
    var out = NamedTensors<Scalar>()
    // Per Keras layer, per canonical layer: the states a stateful layer carries into the next call.
    var carried: [[[LayerState<Scalar>]]?] = Array(repeating: nil, count: m.layers.count)
    var known = Set<String>()
    for call in 0..<m.calls {
      let suffix = m.calls > 1 ? "_call\(call)" : ""
      func input(_ name: String, alias: String? = nil, reason: String) throws -> Tensor<Scalar> {
        if let t = inputs[name + suffix] { known.insert(name + suffix); return t }
        if let a = alias, let t = inputs[a + suffix] { known.insert(a + suffix); return t }
        throw RNNRefError.missingInput(name: name + suffix, reason: reason)
      }
      let x = try input(m.inputName, alias: "x", reason: "the sequence input (N, T, I) of the model")
      let i0 = net[0][0].inputSize
      guard x.rank == 3, x.shape[2] == i0 else {
        throw RNNRefError.shapeMismatch(name: m.inputName + suffix, actual: x.shape,
                                        expected: [x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1, i0],
                                        reason: "batch-major (N, T, I) with I = \(i0) from the first kernel")
      }
      let n = x.shape[0], steps = x.shape[1]
      var mask: StepMask?
      if let mv = m.maskValue {
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
        let given = try layer.initialStateInputs.enumerated().map { k, name in
          (name: name + suffix, tensor: try input(name, reason: "initial state \(k) of layer `\(layer.name)`"))
        }
        let result = try callLayer(layer, canonical: net[li], input: current, mask: mask,
                                   initialStates: given.isEmpty ? nil : given,
                                   carried: layer.stateful ? carried[li] : nil)
        if layer.stateful { carried[li] = result.finalStates }
        current = result.sequence
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
    return out
  }

  /// Calls one Keras recurrent layer the way Keras does, over its canonical layers
  /// (one per cell; several for `StackedRNNCells`). The one place that knows how a
  /// Keras layer turns engine results into its outputs; `evaluate` and KerasImport use it.
  /// - Parameters:
  ///   - x: `(N, T, I)`, batch-major.
  ///   - initialStates: the tensors passed as `initial_state`, in Keras order (per
  ///     canonical layer, per direction: `h`, then `c` for an LSTM), named for errors.
  ///   - carried: a stateful layer's final states from its previous call.
  /// - Returns: the native outputs (the output, or both directions' for merge_mode
  ///   None; then the states when `return_state`, `[h, c]` per direction), the final
  ///   states to carry, and the merged output sequence `(N, T, F)` a next layer reads.
  public static func callLayer<Scalar: RNNScalar>(
    _ layer: LayerConfig, canonical: [RecurrentLayer<Scalar>], input x: Tensor<Scalar>, mask: StepMask?,
    initialStates: [(name: String, tensor: Tensor<Scalar>)]?, carried: [[LayerState<Scalar>]]?
  ) throws -> (outputs: [Tensor<Scalar>], finalStates: [[LayerState<Scalar>]], sequence: Tensor<Scalar>) {
    guard let first = canonical.first else {
      throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "no cells", reason: "a recurrent layer needs a cell")
    }
    guard x.rank == 3, x.shape[2] == first.inputSize else {
      throw RNNRefError.shapeMismatch(name: "input of layer `\(layer.name)`", actual: x.shape,
                                      expected: [x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1, first.inputSize],
                                      reason: "batch-major (N, T, I) with I from the layer's kernel")
    }
    let n = x.shape[0], steps = x.shape[1]
    // Initial states per canonical layer and direction: given, else carried (stateful), else zeros.
    var initial: [[LayerState<Scalar>]?] = Array(repeating: nil, count: canonical.count)
    if let given = initialStates {
      let want = canonical.reduce(0) { $0 + $1.cells.reduce(0) { $0 + ($1.hasCellState ? 2 : 1) } }
      guard given.count == want else {
        throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "\(given.count) initial states",
                                        reason: "the layer takes \(want): h\(first.cells[0].hasCellState ? " and c" : "") per direction and cell")
      }
      var pos = 0
      func next(_ shape: [Int], what: String) throws -> Tensor<Scalar> {
        let (name, t) = given[pos]; pos += 1
        guard t.shape == shape else {
          throw RNNRefError.shapeMismatch(name: name, actual: t.shape, expected: shape,
                                          reason: "\(what) of layer `\(layer.name)`: (N, units)")
        }
        return t
      }
      for (ci, cl) in canonical.enumerated() {
        initial[ci] = try cl.cells.enumerated().map { d, cell in
          LayerState(h: try next([n, cell.outputSize], what: "h of direction \(d)"),
                     c: cell.hasCellState ? try next([n, cell.hiddenSize], what: "c of direction \(d)") : nil)
        }
      }
    } else if let carry = carried {
      guard carry.allSatisfy({ $0.allSatisfy { $0.h.shape[0] == n } }) else {
        throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "batch \(n)",
                                        reason: "a stateful layer was called with another batch size than before; reset its states first")
      }
      initial = carry.map { Optional($0) }
    }
    var current = x.transposed([1, 0, 2])
    var outputs: [LayerOutput<Scalar>] = []
    for (ci, cl) in canonical.enumerated() {
      let o = try Engine.run(cl, input: current, mask: mask, initialStates: initial[ci])
      outputs.append(o)
      current = o.merged
    }
    let lastOut = outputs[outputs.count - 1]
    var values: [Tensor<Scalar>] = []
    if layer.returnSequences {
      if layer.bidirectional == MergeMode.none {
        values += lastOut.directionOutputs.map(batchMajor)
      } else {
        values.append(batchMajor(lastOut.merged))
      }
    } else {
      // The last output in processing order: slot T-1, except a reverse direction aligned to input time (slot 0).
      let cl = canonical[canonical.count - 1]
      var lasts: [Tensor<Scalar>] = []
      for (d, seq) in lastOut.directionOutputs.enumerated() {
        let reversed = cl.direction == .reverse || d == 1
        let slot = (reversed && cl.reverseOutputOrder == .alignedToInput) ? 0 : steps - 1
        lasts.append(steps > 0 ? step(seq, slot) : Tensor(zeros: [n, seq.shape[2]]))
      }
      values += lasts.count == 1 ? lasts : merge(lasts[0], lasts[1], layer.bidirectional ?? .concat)
    }
    if layer.returnState {
      for o in outputs { for s in o.finalStates {
        values.append(s.h)
        if let c = s.c { values.append(c) }
      } }
    }
    return (values, outputs.map(\.finalStates), batchMajor(current))
  }

  /// Keras' Bidirectional merge of two `(N, F)` last outputs.
  static func merge<Scalar: RNNScalar>(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>, _ mode: MergeMode) -> [Tensor<Scalar>] {
    switch mode {
    case .none: return [a, b]
    case .concat: return [Tensor.concatenate([a, b], axis: 1)]
    case .sum: return [Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })]
    case .mul: return [Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 * $1 })]
    case .ave: return [Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { ($0 + $1) / 2 })]
    }
  }

  public static func axisNames(output: String, config: JSONValue) -> [String]? {
    guard let m = try? parse(config), let last = m.layers.last else { return nil }
    if output.hasPrefix("output") {
      return last.returnSequences ? ["batch", "step", "unit"] : ["batch", "unit"]
    }
    return ["batch", "unit"]
  }
}
