/// Keras' recurrent layers, one layer at a time: the layer-level semantics every
/// Keras path shares. Keras 1 (standalone, per-gate weights), Keras 2 (tf.keras,
/// tf-keras 2.21, `TF_USE_LEGACY_KERAS=1`), cuDNN layers and Keras 3 (3.15, TensorFlow
/// backend), checked against the installed sources (`tf_keras/src/layers/rnn/*.py`,
/// `tf_keras/src/backend.py` `rnn()`, `tf_keras/src/saving/legacy/hdf5_format.py`,
/// `keras/src/layers/rnn/*.py`, `keras/src/backend/tensorflow/rnn.py`).
///
/// The API, used by KerasImport (`RecurrentBuilder` for saved models, `KerasCases`
/// for the conformance cases in fixtures/keras), which owns the only model-graph parser:
/// - `LayerConfig(layer:version:)`: one layer's JSON (`SimpleRNN` / `LSTM` / `GRU` /
///   `RNN(cell)` / `RNN(StackedRNNCells([...]))` / `Bidirectional(...)`, `CuDNNLSTM` /
///   `CuDNNGRU`, Keras 1 keys) read with the `Version` that wrote it;
/// - `importLayer`: the layer's weights in Keras order (`layer.weights`) to canonical layers;
///   `fusedFromCuDNN` / `fusedFromKeras1` convert stored cuDNN and Keras 1 weights first;
/// - `callLayer`: runs a layer the way Keras does (masking, `go_backwards`, merge, states);
/// - `activation(_:key:version:)`: Keras activation names;
/// - `exportCell`: one canonical cell as Keras config keys and weights.
///
/// Weights per cell (k = gates: 1 simple RNN, 4 LSTM, 3 GRU; I = input features,
/// H = `units`), in this order:
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
/// version decides.
/// GRU `reset_after=False` (Keras <= 2.2 default): `n = tanh(x Wn + (r*h) Un + b)`;
/// `reset_after=True` (default since Keras 2.3): `n = tanh(x Wn + b_in + r*(h Un + b_hn))`.
///
/// Run time (batch-major): `x: (N, T, I)`; states `(N, H)`, LSTM `[h, c]`.
/// - A mask (`Masking(mask_value)`: step t of sample n is valid when
///   `any(x[n, t, :] != mask_value)`): a masked step carries the state and outputs
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
public enum Keras {
  // MARK: - Version

  /// The Keras that wrote a model or a case (`keras_version`, and the `library` a
  /// case names): decides `hard_sigmoid`, defaults, Keras 1 keys and weights, and
  /// how nested models number their nodes. The one Keras version type.
  public struct Version: Sendable, Hashable, CustomStringConvertible {
    /// `keras_version` as stored (`"1"` when a legacy file has none, as Keras assumes).
    public var text: String
    /// Keras 3: its `hard_sigmoid`, variable paths as weight names.
    public var isKeras3: Bool

    /// `library` is a case's `"keras"` (Keras 3) or `"tf-keras"`; nil for saved files.
    public init(_ text: String, library: String? = nil) {
      self.text = text
      self.isKeras3 = library == "keras" || text.hasPrefix("3")
    }

    public static let keras2 = Version("2.21.0", library: "tf-keras")
    public static let keras3 = Version("3.15.1", library: "keras")

    public var description: String { text }
    /// The library a case names for this version.
    public var library: String { isKeras3 ? "keras" : "tf-keras" }
    /// The major version (2 when unreadable, as the `-tf` tf.keras versions are).
    public var major: Int { Int(text.split(separator: ".").first ?? "") ?? 2 }
    /// The leading numbers of each dot-separated part: `2.2.4-tf` -> [2, 2, 4].
    var numbers: [Int] { text.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) } }
    /// Keras 1: `output_dim`, `inner_activation`, per-gate weights.
    public var isKeras1: Bool { major <= 1 }
    /// Keras < 2.3: GRU `reset_after=False` and `recurrent_activation="hard_sigmoid"` by
    /// default; nested models' weights stored trainable first.
    public var isBefore2_3: Bool {
      let p = numbers
      guard p.count >= 2 else { return false }
      return p[0] < 2 || (p[0] == 2 && p[1] < 3)
    }
    /// Whether a Keras 2 version leaves out the first node of nested models built on an
    /// Input (tf.keras `-tf` versions and Keras >= 2.4, which is tf.keras; standalone
    /// Keras <= 2.3 renumbers the kept nodes from 0).
    public var skipsFirstNestedNode: Bool {
      if text.hasSuffix("-tf") { return true }
      let p = numbers
      guard p.count >= 2 else { return true }
      return p[0] > 2 || (p[0] == 2 && p[1] >= 4)
    }
  }

  // MARK: - Configuration

  public enum CellKind: String, Sendable {
    case simple = "SimpleRNN", lstm = "LSTM", gru = "GRU"
    public var gates: Int { switch self { case .simple: 1; case .lstm: 4; case .gru: 3 } }
    var cellClass: String { rawValue + "Cell" }
    public var stateNames: [String] { self == .lstm ? ["h", "c"] : ["h"] }
    /// Keras' snake-case cell name, used in weight names of exported networks.
    public var snakeCell: String {
      switch self { case .simple: "simple_rnn_cell"; case .lstm: "lstm_cell"; case .gru: "gru_cell" }
    }
    public var snakeLayer: String {
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

  /// How a layer's weights are stored.
  public enum WeightStorage: String, Sendable {
    /// `kernel`, `recurrent_kernel`[, `bias`] per cell (Keras 2 and 3).
    case fused
    /// Keras 1: `W`, `U`, `b` per gate (LSTM i, c, f, o; GRU z, r, h); see `fusedFromKeras1`.
    case keras1PerGate
    /// `CuDNNLSTM` / `CuDNNGRU`: cuDNN's layout and both biases; see `fusedFromCuDNN`.
    case cudnn
  }

  /// One Keras recurrent layer.
  public struct LayerConfig: Equatable, Sendable {
    public var name: String
    /// The class Keras runs the layer as (`CuDNNLSTM` is an `LSTM`).
    public var className: String
    /// One cell (SimpleRNN/LSTM/GRU/RNN(cell)), several (StackedRNNCells); Bidirectional:
    /// the forward and the backward layer's cell.
    public var cells: [CellConfig]
    /// `merge_mode` when the layer is a Bidirectional wrapper (`.none` = None).
    public var bidirectional: MergeMode?
    public var returnSequences: Bool
    public var returnState: Bool
    public var goBackwards: Bool
    public var stateful: Bool
    public var zeroOutputForMask: Bool
    public var storage: WeightStorage
    /// A Bidirectional's two inner layers as their weights are named, forward then backward:
    /// tf-keras `forward_<name>`, `backward_<name>` (a user's `backward_layer` renamed too);
    /// Keras 3 `forward_<name>` and `backward_<name>`, but a user's `backward_layer` under its own
    /// name (keras/src/layers/rnn/bidirectional.py). Empty otherwise.
    public var directionNames: [String] = []
    /// A Bidirectional whose wrapped (forward) layer has `go_backwards=True`: Keras runs that layer
    /// backwards and its backward layer forwards (tf-keras flips the flag; Keras 3 needs a
    /// `backward_layer` with `go_backwards=False`), returns the forward layer's outputs in its
    /// processing order and still flips the backward layer's sequence. The canonical layer then
    /// holds the backward layer's cell as its forward direction and the forward layer's as its
    /// reverse one (`Keras.callLayer` puts them back in Keras order).
    public var forwardGoesBackwards = false

    public var directions: Int { bidirectional == nil ? 1 : 2 }
    /// The cells of one direction, in weight order.
    public func cells(direction d: Int) -> [CellConfig] { bidirectional == nil ? cells : [cells[d]] }
    /// Number of states `initial_state` takes: h (and c for an LSTM) per direction and cell.
    /// Features of the sequence a next layer reads (both directions for a Bidirectional
    /// that concatenates or returns both).
    public var outputFeatures: Int {
      if let m = bidirectional { return m == .concat || m == .none ? 2 * cells[0].units : cells[0].units }
      return cells[cells.count - 1].units
    }
    public var stateCount: Int {
      bidirectional != nil ? 2 * cells[0].kind.stateNames.count : cells.reduce(0) { $0 + $1.kind.stateNames.count }
    }
    /// Number of stored weight arrays, in `layer.weights` order.
    public var storedWeightCount: Int {
      (0..<directions).reduce(0) { n, d in
        n + cells(direction: d).reduce(0) { m, c in
          switch storage {
          case .cudnn: return m + 3
          case .keras1PerGate: return m + 3 * c.kind.gates
          case .fused: return m + (c.useBias ? 3 : 2)
          }
        }
      }
    }
  }

  /// The recurrent layer classes `LayerConfig` reads.
  public static let layerClasses: Set<String> = ["SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional", "CuDNNLSTM",
                                                 "CuDNNGRU", "LSTMV1", "GRUV1"]

  static func invalid(_ key: String, _ value: JSONValue?, _ reason: String) -> RNNRefError {
    RNNRefError.invalidConfig(key: key, value: value?.jsonText ?? "absent", reason: reason)
  }

  /// A Keras activation name (or Keras 3's serialised function) as a canonical
  /// activation; `hard_sigmoid` follows the version. nil when absent. The one place
  /// Keras activation names are read.
  public static func activation(_ v: JSONValue?, key: String, version: Version) throws -> Activation? {
    guard let v else { return nil }
    var name: String?
    if let s = v.string { name = s }
    else if let o = v.object {  // Keras 3 may serialise a function as {"class_name": "function", "config": "tanh"}
      name = o["config"]?.string ?? o["class_name"]?.string
    }
    guard let name else { throw invalid(key, v, "expected an activation name") }
    if name == "hard_sigmoid" { return version.isKeras3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2 }
    if let entry = activationNames.first(where: { $0.name == name }) {
      guard version.isKeras3 ? entry.keras3 : entry.keras2 else {
        throw invalid(key, v, "`\(name)` is a Keras \(version.isKeras3 ? "2" : "3") activation that Keras "
                        + "\(version) does not accept; known to it: " + knownActivations(version))
      }
      return entry.activation
    }
    if let reason = refusedActivations[name] { throw invalid(key, v, reason) }
    throw invalid(key, v, "unknown Keras \(version) activation; known: " + knownActivations(version))
  }

  /// The elementwise activation names each Keras accepts for a recurrent layer, besides `hard_sigmoid`
  /// (which follows the version): tf-keras 2.21 `activations.deserialize` (its module's functions plus
  /// `leaky_relu`, `relu6`, `silu` = `tf.nn.*`), Keras 3.15 `ALL_OBJECTS_DICT` (with the aliases `swish`,
  /// `hard_swish`). Defaults as those Keras call them: `leaky_relu` slope 0.2 (`tf.nn.leaky_relu` and
  /// Keras 3's `negative_slope`), `gelu` exact, `celu` alpha 1, shrink thresholds 0.5, `squareplus` b 4.
  /// The first name of an activation is the one Keras saves (tf-keras saves `silu` as `swish`, Keras 3
  /// `swish` as `silu`). The one place these names are written (export reads it too).
  static let activationNames: [(name: String, activation: Activation, keras2: Bool, keras3: Bool)] = [
    ("tanh", .tanh, true, true), ("sigmoid", .sigmoid, true, true), ("relu", .relu, true, true),
    ("linear", .linear, true, true), ("elu", .elu(alpha: 1), true, true), ("selu", .selu, true, true),
    ("softsign", .softsign, true, true), ("softplus", .softplus, true, true),
    ("exponential", .exponential, true, true),
    ("relu6", .relu6, true, true), ("leaky_relu", .leakyRelu(alpha: 0.2), true, true),
    ("gelu", .gelu, true, true), ("mish", .mish, true, true),
    ("swish", .silu, true, true), ("silu", .silu, true, true),
    ("celu", .elu(alpha: 1), false, true),
    ("hard_silu", .hardSilu, false, true), ("hard_swish", .hardSilu, false, true),
    ("hard_tanh", .hardTanh, false, true), ("log_sigmoid", .logSigmoid, false, true),
    ("tanh_shrink", .tanhShrink, false, true), ("soft_shrink", .softShrink(threshold: 0.5), false, true),
    ("hard_shrink", .hardShrink(threshold: 0.5), false, true), ("sparse_plus", .sparsePlus, false, true),
    ("sparse_sigmoid", .sparseSigmoid, false, true), ("squareplus", .squareplus(b: 4), false, true),
  ]

  /// The names tf-keras 2.21's `activations.get` accepts, with their canonical form: `hard_sigmoid`
  /// (Keras 2's) and the `keras2` rows above. `tf.compat.v1.nn.rnn_cell` cells read a string
  /// `activation` with it (on TF 2.21 they are tf-keras' `legacy_cells`), so the TF1 adapter uses it.
  static let keras2ActivationNames: [(name: String, activation: Activation)] =
    [("hard_sigmoid", .hardSigmoidKeras2)] + activationNames.filter(\.keras2).map { ($0.name, $0.activation) }

  /// Names a Keras accepts for a recurrent layer that rnnconf refuses, with the reason.
  static let refusedActivations: [String: String] = {
    let notElementwise = "couples the units (normalises over the last axis of each step's (batch, units) "
      + "pre-activations); rnnconf's cells apply activations elementwise, so this is refused rather than "
      + "computed differently"
    var r: [String: String] = [:]
    for n in ["softmax", "log_softmax", "sparsemax"] { r[n] = "`\(n)` " + notElementwise }
    r["glu"] = "`glu` halves the units axis; Keras 3.15's own cell call fails with it"
    r["threshold"] = "`threshold` needs `threshold` and `default_value` arguments; Keras 3.15's own cell call fails without them"
    for n in ["LeakyReLU", "ELU", "ReLU", "PReLU", "ThresholdedReLU", "Softmax"] {
      r[n] = "tf-keras deserialises `\(n)` as an activation *layer* object; rnnconf reads activation functions "
        + "by name only (use the function name, e.g. `leaky_relu`)"
    }
    return r
  }()

  static func knownActivations(_ version: Version) -> String {
    (["hard_sigmoid"] + activationNames.filter { version.isKeras3 ? $0.keras3 : $0.keras2 }.map(\.name))
      .joined(separator: ", ")
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

  /// Keras 1 keys as Keras 2 names them (`output_dim` -> `units`, `inner_activation` ->
  /// `recurrent_activation`); cuDNN layers as the layers Keras converts them to.
  static func normalize(_ cls: String, _ c: [String: JSONValue], version: Version)
    -> (cls: String, config: [String: JSONValue], cudnn: Bool) {
    var c = c
    if version.isKeras1 {
      if let u = c["output_dim"], c["units"] == nil { c["units"] = u }
      if let a = c["inner_activation"], c["recurrent_activation"] == nil { c["recurrent_activation"] = a }
    }
    switch cls {
    case "Bidirectional":
      var cudnn = false
      for key in ["layer", "backward_layer"] {
        if let inner = c[key]?.object, let icls = inner["class_name"]?.string {
          let n = normalize(icls, inner["config"]?.object ?? [:], version: version)
          cudnn = cudnn || n.cudnn
          var o = inner
          o["class_name"] = .string(n.cls); o["config"] = .object(n.config)
          c[key] = .object(o)
        }
      }
      return (cls, c, cudnn)
    case "CuDNNLSTM", "CuDNNGRU":
      c["activation"] = .string("tanh")
      c["recurrent_activation"] = .string("sigmoid")
      c["use_bias"] = .bool(true)
      if cls == "CuDNNGRU" { c["reset_after"] = .bool(true) }
      return (cls == "CuDNNLSTM" ? "LSTM" : "GRU", c, true)
    default:
      return (cls, c, false)
    }
  }

  static func cellConfig(_ cls: String, _ c: [String: JSONValue], layerName: String, named: Bool,
                         version: Version) throws -> CellConfig {
    let kind = try kind(className: cls, layerName: layerName)
    guard let units = c["units"]?.int, units > 0 else {
      throw invalid("\(layerName).units", c["units"], "expected a positive integer")
    }
    let old = version.isBefore2_3
    let act = try activation(c["activation"], key: "\(layerName).activation", version: version) ?? .tanh
    let rec = try activation(c["recurrent_activation"], key: "\(layerName).recurrent_activation", version: version)
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
}

extension Keras.LayerConfig {
  /// Reads one layer of a model config (`{"class_name", "config"}`, the name from
  /// `config.name` or `name`) written by `version`.
  public init(layer: [String: JSONValue], version: Keras.Version) throws {
    typealias K = Keras
    let written = layer["class_name"]?.string ?? "?"
    guard let raw = layer["config"]?.object else { throw K.invalid("layer config", layer["config"], "expected an object") }
    let (cls, c, cudnn) = K.normalize(written, raw, version: version)
    let name = c["name"]?.string ?? layer["name"]?.string ?? "?"
    var inner = c
    var merge: MergeMode?
    var swapsDirections = false
    var cells: [Keras.CellConfig]
    switch cls {
    case "Bidirectional":
      guard let wrapped = c["layer"]?.object, let wc = wrapped["config"]?.object,
            let wcls = wrapped["class_name"]?.string else {
        throw K.invalid("\(name).layer", c["layer"], "a Bidirectional needs the wrapped layer's config")
      }
      switch c["merge_mode"] {
      case nil: merge = .concat  // the Bidirectional default
      case .some(.null): merge = MergeMode.none  // both directions returned
      case .some(.string(let s)):
        guard let m = MergeMode(rawValue: s), m != .none else {
          throw K.invalid("\(name).merge_mode", c["merge_mode"], "expected concat, sum, mul, ave or null")
        }
        merge = m
      default: throw K.invalid("\(name).merge_mode", c["merge_mode"], "expected concat, sum, mul, ave or null")
      }
      inner = wc
      if wcls == "RNN" || wcls == "Bidirectional" {
        throw K.invalid("\(name).layer", .string(wcls), "Bidirectional over \(wcls) is not supported; wrap LSTM, GRU or SimpleRNN")
      }
      let fw = try K.cellConfig(wcls, wc, layerName: name, named: false, version: version)
      var bw = fw
      if let b = c["backward_layer"]?.object, let bc = b["config"]?.object, let bcls = b["class_name"]?.string {
        bw = try K.cellConfig(bcls, bc, layerName: name + " (backward_layer)", named: false, version: version)
      }
      let fwBackwards = wc["go_backwards"]?.bool ?? false
      if let b = c["backward_layer"]?["config"]?.object {
        guard (b["go_backwards"]?.bool ?? false) != fwBackwards else {
          throw K.invalid("\(name).backward_layer.go_backwards", b["go_backwards"] ?? .bool(false),
                          "Keras requires the forward and backward layers to have different go_backwards values")
        }
      } else if fwBackwards && version.isKeras3 {
        throw K.invalid("\(name).layer.go_backwards", .bool(true),
                        "Keras 3 sets go_backwards=True on the backward copy too and refuses the layer; give a "
                          + "backward_layer with go_backwards=False")
      }
      swapsDirections = fwBackwards
      cells = [fw, bw]
    case "RNN":
      guard let cell = c["cell"]?.object, let ccls = cell["class_name"]?.string else {
        throw K.invalid("\(name).cell", c["cell"], "an RNN layer needs its cell's config")
      }
      if ccls == "StackedRNNCells" {
        guard let list = cell["config"]?["cells"]?.array, !list.isEmpty else {
          throw K.invalid("\(name).cell.cells", cell["config"]?["cells"], "StackedRNNCells needs a non-empty list of cells")
        }
        cells = try list.map { item in
          guard let ic = item["config"]?.object, let icls = item["class_name"]?.string else {
            throw K.invalid("\(name).cell.cells[]", item, "expected {class_name, config}")
          }
          return try K.cellConfig(icls, ic, layerName: "\(name)/\(ic["name"]?.string ?? icls)", named: true,
                                  version: version)
        }
      } else if ["SimpleRNNCell", "LSTMCell", "GRUCell"].contains(ccls) {
        guard let cc = cell["config"]?.object else { throw K.invalid("\(name).cell.config", cell["config"], "expected an object") }
        cells = [try K.cellConfig(ccls, cc, layerName: name, named: true, version: version)]
      } else {
        throw K.invalid("\(name).cell", .string(ccls),
                        "unknown cell class; known: SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells")
      }
    case "SimpleRNN", "LSTM", "GRU", "LSTMV1", "GRUV1":
      cells = [try K.cellConfig(cls, c, layerName: name, named: false, version: version)]
    default:
      throw RNNRefError.invalidConfig(
        key: "layer `\(name)`", value: cls,
        reason: "unknown layer class on the model's path; this adapter reads InputLayer, Masking, SimpleRNN, LSTM, "
          + "GRU, RNN(SimpleRNNCell|LSTMCell|GRUCell|StackedRNNCells) and Bidirectional")
    }
    let wrapperZero = merge != nil ? (inner["return_sequences"]?.bool ?? false) : (c["zero_output_for_mask"]?.bool ?? false)
    self.init(
      name: name, className: cls, cells: cells, bidirectional: merge,
      returnSequences: inner["return_sequences"]?.bool ?? false,
      returnState: inner["return_state"]?.bool ?? false,
      goBackwards: c["go_backwards"]?.bool ?? false,
      stateful: inner["stateful"]?.bool ?? false,
      zeroOutputForMask: wrapperZero,
      storage: cudnn ? .cudnn : version.isKeras1 ? .keras1PerGate : .fused)
    forwardGoesBackwards = swapsDirections
    if cls == "Bidirectional" {
      func innerName(_ key: String) -> String? { c[key]?["config"]?["name"]?.string }
      let fw = innerName("layer") ?? "?"
      func strip(_ s: String, _ p: String) -> String { s.hasPrefix(p) ? String(s.dropFirst(p.count)) : s }
      if version.isKeras3 {
        directionNames = ["forward_" + strip(fw, "forward_"), innerName("backward_layer") ?? "backward_" + strip(fw, "backward_")]
      } else {
        directionNames = ["forward_" + fw, "backward_" + (innerName("backward_layer") ?? fw)]
      }
    }
  }
}
