/// TensorFlow 1 `tf.compat.v1.nn.rnn_cell` cells run by the `tf.compat.v1.nn`
/// drivers `dynamic_rnn`, `static_rnn`, `static_bidirectional_rnn` and
/// `bidirectional_dynamic_rnn`.
///
/// Checked against tensorflow 2.21.0 with `TF_USE_LEGACY_KERAS=1`, where the
/// cells are tf-keras' legacy cells (`tf_keras/src/layers/rnn/legacy_cells.py`)
/// and the drivers `tensorflow/python/ops/rnn.py`.
///
/// Native weights (I = input size, H = `num_units`, P = `num_proj` or H), every
/// kernel multiplies `concat([x, h_prev])`, so its first I rows are the input
/// part and the last P (or H) rows the recurrent part:
/// - `BasicRNNCell`: `kernel (I+H, H)`, `bias (H)`; `h' = act(concat([x, h]) K + b)`.
/// - `BasicLSTMCell`: `kernel (I+H, 4H)`, `bias (4H)`, gates **i, j, f, o**
///   (j = cell candidate); `forget_bias` (default 1.0) is added to f at run time
///   and is not stored in `bias`.
/// - `LSTMCell`: `kernel (I+P, 4H)`, `bias (4H)` (gates i, j, f, o), with
///   `use_peepholes` `w_f_diag, w_i_diag, w_o_diag (H)` (i and f read c_prev, o
///   reads the new c), `cell_clip` clips the stored c, `num_proj` adds
///   `projection/kernel (H, P)` and `proj_clip` clips the projected m.
/// - `GRUCell`: `gates/kernel (I+H, 2H)` gates **r, u**, `gates/bias (2H)`,
///   `candidate/kernel (I+H, H)`, `candidate/bias (H)`; reset before the matmul:
///   `c = act(concat([x, r*h]) Kc + bc)`, `h' = u*h + (1-u)*c`.
///
/// Canonical mapping: LSTM i,j,f,o -> i,f,g,o (one bias: `inputBias`, forget bias
/// kept as `forgetBias`); GRU u -> z, r -> r, candidate -> n with
/// `resetAfter = false`.
///
/// Weight names: `<scope>/<cell path>/<variable>` where scope is the config
/// `scope` or the driver's default (`rnn`; `bidirectional_rnn` for the
/// bidirectional drivers, which add `/fw` and `/bw`), the cell path is the
/// cell's `name` kwarg or its class in snake case (`basic_rnn_cell`,
/// `basic_lstm_cell`, `lstm_cell`, `gru_cell`), and a `MultiRNNCell` adds
/// `multi_rnn_cell/cell_<k>/` before it: `rnn/multi_rnn_cell/cell_0/lstm_cell/kernel`.
///
/// Cell wrappers (`tf_keras/src/layers/rnn/legacy_cell_wrappers.py`) keep the
/// variable names: `DropoutWrapper` with every keep probability 1.0 and
/// `DeviceWrapper` are the identity; `ResidualWrapper` (`_call_wrapped_cell`: the
/// default `residual_fn` is `inp + out` on the wrapped cell's call, the state passes
/// through untouched) becomes a canonical `Residual`: around cell k of a stack
/// `Residual(from: k, to: k)`, around a whole `MultiRNNCell` `Residual(from: 0, to: last)`
/// (the stack's input plus its top cell's output; the sizes in between may differ).
/// The drivers zero the steps past each length after the whole wrapped cell, which is
/// the canonical residual's rule (added at valid steps only).
///
/// Native run (layouts; fixtures/README.md "### tf1" documents the config):
/// - `inputs`: `(N, T, I)`, or `(T, N, I)` with `time_major` and always for the
///   static drivers (their list of T tensors `(N, I)`, stacked).
/// - `sequence_length (N)`: steps past a sample's length output zeros and carry
///   the state; the backward direction is reversed per sample
///   (`reverse_sequence`), so its outputs align to input time.
/// - states: `LSTMStateTuple(c, h)` -> `<prefix>/c (N, H)`, `<prefix>/h (N, P)`;
///   `state_is_tuple=False` -> `<prefix> (N, H+P)` = concat([c, h]); GRU and
///   simple RNN -> `<prefix> (N, H)`; `MultiRNNCell` -> `<prefix>/<k>/...`, or one
///   concatenation `<prefix>` with `state_is_tuple=False`. Prefixes: `initial_state`
///   / `state`, bidirectional `initial_state_fw`, `initial_state_bw` / `state_fw`, `state_bw`.
/// - outputs: `outputs` (layout of `inputs`); `bidirectional_dynamic_rnn` gives
///   `outputs_fw`, `outputs_bw`; `static_bidirectional_rnn` gives `outputs (T, N, Pfw+Pbw)`,
///   the per-step concat([fw, bw]) stacked.
public enum TF1: NetworkConvention {
  public static let framework = Framework.tf1

  // MARK: - Native description

  enum CellClass: String, CaseIterable {
    case basicRNN = "BasicRNNCell", basicLSTM = "BasicLSTMCell", lstm = "LSTMCell", gru = "GRUCell"

    var defaultScopeName: String {
      switch self {
      case .basicRNN: "basic_rnn_cell"
      case .basicLSTM: "basic_lstm_cell"
      case .lstm: "lstm_cell"
      case .gru: "gru_cell"
      }
    }
    var allowedKwargs: Set<String> {
      let common: Set<String> = ["num_units", "activation", "reuse", "name", "dtype", "trainable"]
      switch self {
      case .basicRNN, .gru: return common.union(["kernel_initializer", "bias_initializer"])
      case .basicLSTM: return common.union(["forget_bias", "state_is_tuple"])
      case .lstm:
        return common.union(["use_peepholes", "cell_clip", "initializer", "num_proj", "proj_clip",
                             "num_unit_shards", "num_proj_shards", "forget_bias", "state_is_tuple"])
      }
    }
  }

  /// One native cell with its options, as parsed from the config.
  struct CellSpec: Equatable {
    var cls: CellClass
    var numUnits: Int
    var activation: Activation = .tanh
    var activationName: String? = nil
    var scopeName: String
    var forgetBias: Double = 1.0
    var stateIsTuple: Bool = true
    var usePeepholes = false
    var cellClip: Double? = nil
    var numProj: Int? = nil
    var projClip: Double? = nil
    /// Wrapped in `ResidualWrapper`: the cell's output is `input + output`.
    var residual = false
    /// Key path of the cell in the config (`cell`, `cell.cells[1]`), for errors.
    var path = "cell"

    var isLSTM: Bool { cls == .basicLSTM || cls == .lstm }
    var outputSize: Int { numProj ?? numUnits }
    var describe: String {
      var parts = ["num_units=\(numUnits)"]
      if usePeepholes { parts.append("use_peepholes=True") }
      if let p = numProj { parts.append("num_proj=\(p)") }
      return "\(cls.rawValue)(\(parts.joined(separator: ", ")))"
    }
  }

  /// A cell or a `MultiRNNCell` of cells: one direction of the driver.
  struct StackSpec: Equatable {
    var cells: [CellSpec]
    var isMulti: Bool
    var stateIsTuple: Bool
    /// A `ResidualWrapper` around the whole `MultiRNNCell`: stack input + top output.
    var residual = false
    /// Key path of the stack in the config, for errors.
    var path = "cell"
    var outputSize: Int { cells[cells.count - 1].outputSize }
  }

  enum Driver: String, CaseIterable {
    case dynamicRNN = "dynamic_rnn", staticRNN = "static_rnn"
    case staticBidirectional = "static_bidirectional_rnn", bidirectionalDynamic = "bidirectional_dynamic_rnn"
    var isBidirectional: Bool { self == .staticBidirectional || self == .bidirectionalDynamic }
    var isStatic: Bool { self == .staticRNN || self == .staticBidirectional }
    var defaultScope: String { isBidirectional ? "bidirectional_rnn" : "rnn" }
  }

  /// A case's configuration: the cells and the driver call, parsed once.
  public struct Model: Equatable {
    var fw: StackSpec
    var bw: StackSpec?
    var driver: Driver
    var timeMajor: Bool
    var scope: String?
    /// Names the config says were passed (`sequence_length`, `initial_state`, ...).
    var passed: Set<String>

    var rootScope: String { scope ?? driver.defaultScope }
    var fwScope: String { driver.isBidirectional ? rootScope + "/fw" : rootScope }
    var bwScope: String { rootScope + "/bw" }
    /// Inputs and outputs are `(T, N, F)`.
    var isTimeMajor: Bool { driver.isStatic || timeMajor }
  }

  // MARK: - Config parsing

  public typealias Config = Model

  public static func parseConfig(_ json: JSONValue) throws -> Model { try parseModel(json) }

  static func parseModel(_ config: JSONValue) throws -> Model {
    let root = ConfigReader(config)
    try root.requireObject("expected a JSON object with `cell`, `driver` (fixtures/README.md, ### tf1)")
    let driver = try root.enumValue("driver", as: Driver.self) ?? .dynamicRNN
    guard let cell = root.child("cell") else {
      throw root.invalid("cell", "the config needs the cell the driver runs")
    }
    let fw = try parseStack(cell)
    var bw: StackSpec? = nil
    if driver.isBidirectional {
      guard let cellBW = root.child("cell_bw") else { throw root.invalid("cell_bw", "\(driver.rawValue) needs `cell_bw`") }
      bw = try parseStack(cellBW)
    } else if root.raw("cell_bw") != nil {
      throw root.invalid("cell_bw", "\(driver.rawValue) runs one direction; use a bidirectional driver or drop `cell_bw`")
    }
    let kwargs = try root.object("driver_kwargs") ?? ConfigReader(.object([:]), path: "driver_kwargs")
    let timeMajor = try kwargs.bool("time_major", default: false)
    if driver.isStatic && timeMajor {
      throw kwargs.invalid("time_major", "\(driver.rawValue) takes a list of time steps and has no time_major")
    }
    let passed = Set(["sequence_length", "initial_state", "initial_state_fw", "initial_state_bw"].filter { kwargs.raw($0) != nil })
    let scope = try root.string("scope", nonEmpty: true, expected: "expected a variable scope name or null")
    return Model(fw: fw, bw: bw, driver: driver, timeMajor: timeMajor, scope: scope, passed: passed)
  }

  static let wrapperClasses: Set<String> = ["DropoutWrapper", "DeviceWrapper", "ResidualWrapper"]

  /// Peels `DropoutWrapper` (every keep probability 1.0: inference), `DeviceWrapper`
  /// and `ResidualWrapper` (default `residual_fn`) off a cell; none changes the
  /// variable names. Returns the wrapped cell and whether a residual wraps it.
  static func peelWrappers(_ outer: ConfigReader) throws -> (ConfigReader, Bool) {
    var current = outer, residual = false
    while let cls = current.value["class"]?.string, wrapperClasses.contains(cls) {
      let kw = try current.object("kwargs") ?? ConfigReader(.object([:]), path: current.path("kwargs"))
      let allowed: Set<String>
      switch cls {
      case "DropoutWrapper":
        allowed = ["input_keep_prob", "output_keep_prob", "state_keep_prob", "variational_recurrent", "input_size",
                   "dtype", "seed", "dropout_state_filter_visitor"]
        for p in ["input_keep_prob", "output_keep_prob", "state_keep_prob"] {
          if let v = kw.raw(p), v.double != 1.0 {
            throw RNNRefError.unsupported(
              framework: "a reference run", feature: "`\(kw.path(p))` = \(v.jsonText): dropout is random; "
                + "capture the inference graph (keep probabilities 1.0)")
          }
        }
      case "ResidualWrapper":
        allowed = ["residual_fn"]
        if kw.raw("residual_fn") != nil {
          throw RNNRefError.unsupported(framework: framework, feature: "a custom `residual_fn` in `\(current.path)` (only the default input + output)")
        }
        if residual {
          throw RNNRefError.unsupported(framework: framework, feature: "nested ResidualWrappers in `\(current.path)`")
        }
        residual = true
      default:
        allowed = ["device"]
      }
      try kw.rejectUnknownKeys(known: allowed, reason: "not a \(cls) argument this adapter knows")
      guard let inner = current.child("cell") else { throw current.invalid("cell", "\(cls) needs the `cell` it wraps") }
      current = inner
    }
    return (current, residual)
  }

  static func parseStack(_ outer: ConfigReader) throws -> StackSpec {
    let (json, residual) = try peelWrappers(outer)
    guard let cls = json.value["class"]?.string else {
      throw json.invalid("class", "expected MultiRNNCell or one of " + CellClass.allCases.map(\.rawValue).joined(separator: ", "))
    }
    if cls == "MultiRNNCell" {
      let cellsText = "MultiRNNCell needs a non-empty list of cells"
      guard let cells = try json.elements("cells", expected: cellsText), !cells.isEmpty else {
        throw json.invalid("cells", cellsText)
      }
      let specs = try cells.map(parseCell)
      let isTuple = json.value["state_is_tuple"]?.bool ?? true
      if !isTuple, let k = specs.firstIndex(where: { $0.isLSTM && $0.stateIsTuple }) {
        throw json.invalid(
          "state_is_tuple",
          "cell \(k) (\(specs[k].cls.rawValue)) returns an LSTMStateTuple; TensorFlow rejects this "
            + "(\"Some cells return tuples of states, but the flag state_is_tuple is not set\"): "
            + "give the LSTM cells state_is_tuple=False")
      }
      return StackSpec(cells: specs, isMulti: true, stateIsTuple: isTuple, residual: residual, path: json.path)
    }
    return StackSpec(cells: [try parseCell(outer)], isMulti: false, stateIsTuple: true)
  }

  static func parseCell(_ outer: ConfigReader) throws -> CellSpec {
    let (json, residual) = try peelWrappers(outer)
    guard let cls = CellClass(rawValue: json.value["class"]?.string ?? "") else {
      throw json.invalid("class", "expected one of " + CellClass.allCases.map(\.rawValue).joined(separator: ", ")
                           + " (MultiRNNCell only at the top level)")
    }
    let kw = try json.object("kwargs") ?? ConfigReader(.object([:]), path: json.path("kwargs"))
    try kw.rejectUnknownKeys(known: cls.allowedKwargs, reason: "not a \(cls.rawValue) argument this adapter knows")
    let positive = 1...Int.max
    let units = try kw.int("num_units", required: "\(cls.rawValue) needs num_units", in: positive)
    var spec = CellSpec(cls: cls, numUnits: units, scopeName: cls.defaultScopeName)
    spec.residual = residual
    spec.path = json.path
    spec.scopeName = try kw.string("name", nonEmpty: true) ?? spec.scopeName
    if let s = try kw.string("activation", expected: activationExpected) {
      guard let act = activation(named: s) else { throw kw.invalid("activation", activationExpected) }
      spec.activation = act
      spec.activationName = s
    }
    if cls == .basicLSTM || cls == .lstm {
      spec.forgetBias = try kw.double("forget_bias") ?? 1.0
      spec.stateIsTuple = try kw.bool("state_is_tuple", default: true)
    }
    if cls == .lstm {
      spec.usePeepholes = try kw.bool("use_peepholes", default: false)
      spec.cellClip = try kw.double("cell_clip")
      spec.numProj = try kw.int("num_proj", in: positive)
      spec.projClip = try kw.double("proj_clip")
      for k in ["num_unit_shards", "num_proj_shards"] where kw.raw(k) != nil {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "`\(k)` (partitioned variables `kernel/part_<k>`); save the cell unsharded")
      }
      if spec.projClip != nil && spec.numProj == nil {
        // TensorFlow ignores proj_clip without num_proj; so do we, but keep it out of the canonical form.
        spec.projClip = nil
      }
    }
    return spec
  }

  static var activationExpected: String {
    "expected an activation name tf-keras' `activations.get` accepts (the legacy cells read it): "
      + Keras.keras2ActivationNames.map(\.name).joined(separator: ", ")
  }

  static func activation(named s: String) -> Activation? {
    Keras.keras2ActivationNames.first { $0.name == s }?.activation
  }
  static func activationName(_ a: Activation) -> String? {
    Keras.keras2ActivationNames.first { $0.activation == a }?.name
  }

  // MARK: - Weights

  /// Native weight path of cell k of a stack.
  static func cellPath(_ stack: StackSpec, _ k: Int, scope: String) -> String {
    stack.isMulti ? "\(scope)/multi_rnn_cell/cell_\(k)/\(stack.cells[k].scopeName)"
      : "\(scope)/\(stack.cells[k].scopeName)"
  }

  /// The input size of the first cell, read from its kernel (rows = I + P).
  static func inferInputSize<Scalar>(_ stack: StackSpec, scope: String, weights: NamedTensors<Scalar>) throws -> Int {
    let cell = stack.cells[0]
    let path = cellPath(stack, 0, scope: scope)
    let name = cell.cls == .gru ? "\(path)/gates/kernel" : "\(path)/kernel"
    let gates = [CellClass.basicRNN: 1, .basicLSTM: 4, .lstm: 4, .gru: 2][cell.cls]!
    let cols = gates * cell.numUnits
    guard let k = weights[name] else {
      throw RNNRefError.missingWeight(name: name, expectedShape: [-1, cols],
                                      reason: "\(cell.describe): (input size + \(cell.outputSize), \(cols)); weight names follow `scope` and the cell `name`")
    }
    guard k.rank == 2, k.shape[0] > cell.outputSize, k.shape[1] == cols else {
      throw RNNRefError.shapeMismatch(name: name, actual: k.shape, expected: [-1, cols],
                                      reason: "\(cell.describe): (input size + \(cell.outputSize), \(cols)) with input size >= 1")
    }
    return k.shape[0] - cell.outputSize
  }

  /// Native weights of one stack to canonical cells.
  static func importStack<Scalar: RNNScalar>(
    _ stack: StackSpec, inputSize: Int, scope: String, reader: inout WeightReader<Scalar>
  ) throws -> [Cell<Scalar>] {
    var cells: [Cell<Scalar>] = []
    var inSize = inputSize
    if stack.residual && inputSize != stack.outputSize {
      throw RNNRefError.invalidConfig(
        key: "ResidualWrapper(MultiRNNCell) at `\(stack.path)` under `\(scope)`",
        value: "input size \(inputSize), top output size \(stack.outputSize)",
        reason: "the residual adds the stack's input to its top cell's output, so both sizes must be equal")
    }
    for (k, spec) in stack.cells.enumerated() {
      let path = cellPath(stack, k, scope: scope)
      let H = spec.numUnits, P = spec.outputSize, I = inSize
      let what = "\(spec.describe) at `\(path)`, input size \(I)"
      if spec.residual && I != P {
        throw RNNRefError.invalidConfig(
          key: "ResidualWrapper(\(spec.cls.rawValue)) at `\(path)`", value: "input size \(I), output size \(P)",
          reason: "the residual adds the input to the output, so both sizes must be equal")
      }
      switch spec.cls {
      case .basicRNN:
        let kernel = try reader.take("\(path)/kernel", shape: [I + H, H], "\(what): (input size + num_units, num_units)")
        let bias = try reader.take("\(path)/bias", shape: [H], "\(what): (num_units)")
        cells.append(.simple(SimpleRNNCell(
          inputSize: I, hiddenSize: H,
          kernel: kernel.slice(axis: 0, range: 0..<I), recurrentKernel: kernel.slice(axis: 0, range: I..<(I + H)),
          inputBias: bias, recurrentBias: Tensor(uncheckedZeros: [H]), activation: spec.activation)))
      case .basicLSTM, .lstm:
        let kernel = try reader.take("\(path)/kernel", shape: [I + P, 4 * H],
                                     "\(what): (input size + \(spec.numProj == nil ? "num_units" : "num_proj"), 4*num_units), gates i, j, f, o")
        let bias = try reader.take("\(path)/bias", shape: [4 * H], "\(what): (4*num_units), gates i, j, f, o")
        var peepholes: LSTMCell<Scalar>.Peepholes? = nil
        if spec.usePeepholes {
          let wf = try reader.take("\(path)/w_f_diag", shape: [H], "\(what), use_peepholes=True: (num_units)")
          let wi = try reader.take("\(path)/w_i_diag", shape: [H], "\(what), use_peepholes=True: (num_units)")
          let wo = try reader.take("\(path)/w_o_diag", shape: [H], "\(what), use_peepholes=True: (num_units)")
          peepholes = .init(i: wi, f: wf, o: wo)
        }
        var projection: Tensor<Scalar>? = nil
        if let p = spec.numProj {
          projection = try reader.take("\(path)/projection/kernel", shape: [H, p], "\(what): (num_units, num_proj)")
        }
        // native i, j, f, o -> canonical i, f, g(=j), o
        let order = Framework.tf1.gateOrder(.lstm).toCanonical
        cells.append(.lstm(LSTMCell(
          inputSize: I, hiddenSize: H,
          kernel: kernel.slice(axis: 0, range: 0..<I).reorderingBlocks(order, axis: 1),
          recurrentKernel: kernel.slice(axis: 0, range: I..<(I + P)).reorderingBlocks(order, axis: 1),
          inputBias: bias.reorderingBlocks(order, axis: 0), recurrentBias: Tensor(uncheckedZeros: [4 * H]),
          peepholes: peepholes, projection: projection, projectionClip: spec.projClip, cellClip: spec.cellClip,
          forgetBias: spec.forgetBias, gateActivation: .sigmoid,
          cellActivation: spec.activation, outputActivation: spec.activation)))
      case .gru:
        let gk = try reader.take("\(path)/gates/kernel", shape: [I + H, 2 * H], "\(what): (input size + num_units, 2*num_units), gates r, u")
        let gb = try reader.take("\(path)/gates/bias", shape: [2 * H], "\(what): (2*num_units), gates r, u")
        let ck = try reader.take("\(path)/candidate/kernel", shape: [I + H, H], "\(what): (input size + num_units, num_units)")
        let cb = try reader.take("\(path)/candidate/bias", shape: [H], "\(what): (num_units)")
        // native [r, u] + candidate -> canonical z(=u), r, n(=candidate)
        let g = gk.split(2, axis: 1), b = gb.split(2, axis: 0)
        let full = Tensor.concatenate([g[1], g[0], ck], axis: 1)
        cells.append(.gru(GRUCell(
          inputSize: I, hiddenSize: H,
          kernel: full.slice(axis: 0, range: 0..<I), recurrentKernel: full.slice(axis: 0, range: I..<(I + H)),
          inputBias: Tensor.concatenate([b[1], b[0], cb], axis: 0), recurrentBias: Tensor(uncheckedZeros: [3 * H]),
          resetAfter: false, gateActivation: .sigmoid, candidateActivation: spec.activation)))
      }
      inSize = P
    }
    return cells
  }

  /// One direction's stack as a canonical network: a layer per cell, in `direction`, with its residuals
  /// (per-cell wrappers first, then a wrapper around the whole `MultiRNNCell`, as they nest).
  static func stackNetwork<Scalar: RNNScalar>(_ cells: [Cell<Scalar>], _ stack: StackSpec, direction: Direction)
    -> Network<Scalar> {
    let layers = cells.map { RecurrentLayer(direction: direction, cells: [$0], padding: .zeroOutput,
                                            reverseOutputOrder: .alignedToInput) }
    var residuals = stack.cells.indices.filter { stack.cells[$0].residual }.map { Residual(from: $0, to: $0) }
    if stack.residual { residuals.append(Residual(from: 0, to: cells.count - 1)) }
    return Network(layers: layers, residuals: residuals)
  }

  /// Parsed model plus canonical cells per direction.
  struct Imported<Scalar: RNNScalar> {
    var model: Model
    var inputSize: Int
    var fw: [Cell<Scalar>]
    var bw: [Cell<Scalar>]?
  }

  static func importModel<Scalar: RNNScalar>(
    _ model: Model, weights: NamedTensors<Scalar>, inputSize: Int?
  ) throws -> Imported<Scalar> {
    var reader = WeightReader(weights)
    // Sizes no weight can match (`num_units = 1e9`) are refused before any shape is planned.
    for cell in model.fw.cells + (model.bw?.cells ?? []) {
      let fix = "check the cell kwargs against the checkpoint's variables"
      try reader.checkSize(cell.numUnits, key: "\(cell.path).kwargs.num_units", fix: fix)
      if let p = cell.numProj { try reader.checkSize(p, key: "\(cell.path).kwargs.num_proj", fix: fix) }
    }
    let I = try inputSize ?? inferInputSize(model.fw, scope: model.fwScope, weights: weights)
    let fw = try importStack(model.fw, inputSize: I, scope: model.fwScope, reader: &reader)
    var bw: [Cell<Scalar>]? = nil
    if let bwStack = model.bw {
      bw = try importStack(bwStack, inputSize: I, scope: model.bwScope, reader: &reader)
    }
    try reader.finish()
    return Imported(model: model, inputSize: I, fw: fw, bw: bw)
  }

  // MARK: - NetworkConvention

  /// A forward stack becomes one forward layer per cell, with its `ResidualWrapper`s as
  /// `residuals`. A bidirectional driver over single cells becomes one bidirectional layer
  /// (`merge` `.none` for `bidirectional_dynamic_rnn`, `.concat` for
  /// `static_bidirectional_rnn`). A bidirectional driver over `MultiRNNCell` stacks, or
  /// with a residual in one direction, runs two independent stacks (each a canonical
  /// `Network`, as `evaluate` runs them), which one canonical `Network` (layer k+1 reads
  /// both directions of layer k) cannot express: that throws `unsupported`.
  public static func importNetwork<Scalar: RNNScalar>(
    config: Model, weights: NamedTensors<Scalar>
  ) throws -> Network<Scalar> {
    let m = try importModel(config, weights: weights, inputSize: nil)
    guard let bw = m.bw, let bwStack = m.model.bw else {
      return stackNetwork(m.fw, m.model.fw, direction: .forward)
    }
    let specs = m.model.fw.cells + bwStack.cells
    if m.model.fw.residual || bwStack.residual || specs.contains(where: \.residual) {
      throw RNNRefError.unsupported(
        framework: "the canonical Network",
        feature: "\(m.model.driver.rawValue) with a ResidualWrapper (a residual inside one direction of a "
          + "bidirectional layer; a canonical residual adds to both directions' merged output)")
    }
    guard m.fw.count == 1, bw.count == 1 else {
      throw RNNRefError.unsupported(
        framework: "the canonical Network",
        feature: "\(m.model.driver.rawValue) over MultiRNNCell stacks (two independent stacks, "
          + "\(m.fw.count) forward and \(bw.count) backward cells; a canonical layer stacks both directions together)")
    }
    return Network(layers: [RecurrentLayer(direction: .bidirectional, cells: [m.fw[0], bw[0]],
                                           merge: m.model.driver == .staticBidirectional ? .concat : .none)])
  }

  /// Exports forward layers as `dynamic_rnn` over one cell or a `MultiRNNCell`
  /// (batch-major, default scope and names, `LSTMCell` for every LSTM), and one
  /// bidirectional layer as `bidirectional_dynamic_rnn` (merge `.none`) or
  /// `static_bidirectional_rnn` (merge `.concat`). A two-bias canonical cell is
  /// written with the sum of its biases (TF1 has one); that is exact math for every
  /// cell TF1 can hold (a reset-before GRU adds its recurrent candidate bias outside
  /// the reset product too), rounding aside. Reset-after GRUs throw `unsupported`.
  /// Residuals of a forward stack become `ResidualWrapper`s: `Residual(k, k)` around cell k,
  /// `Residual(0, last)` of a stack of several around the `MultiRNNCell`; any other throws.
  public static func exportNetwork<Scalar: RNNScalar>(
    _ network: Network<Scalar>
  ) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    guard !network.layers.isEmpty else {
      throw RNNRefError.unsupported(framework: framework, feature: "an empty network")
    }
    var weights = NamedTensors<Scalar>()
    let L = network.layers.count
    var cellResidual = Set<Int>(), stackResidual = false
    for r in network.residuals {
      if r.from == r.to, r.from >= 0, r.to < L, !cellResidual.contains(r.from),
         network.layers[r.to].direction == .forward {
        cellResidual.insert(r.from)
      } else if L > 1, r.from == 0, r.to == L - 1, !stackResidual {
        stackResidual = true
      } else {
        throw RNNRefError.unsupported(
          framework: framework,
          feature: "a residual from layer \(r.from)'s input to layer \(r.to)'s output (ResidualWrapper wraps one cell or "
            + "the whole MultiRNNCell of a forward stack, once each)")
      }
    }
    if network.layers.contains(where: { $0.direction == .bidirectional }) {
      guard network.layers.count == 1, let layer = network.layers.first else {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "a stack of bidirectional layers (one driver call runs one bidirectional layer)")
      }
      let driver: Driver
      switch layer.merge {
      case .none: driver = .bidirectionalDynamic
      case .concat: driver = .staticBidirectional
      default:
        throw RNNRefError.unsupported(framework: framework, feature: "merge mode `\(layer.merge.rawValue)` (TF1 concatenates or returns both)")
      }
      try checkLayer(layer, index: 0)
      let fw = try exportCell(layer.cells[0], path: "bidirectional_rnn/fw/", into: &weights)
      let bw = try exportCell(layer.cells[1], path: "bidirectional_rnn/bw/", into: &weights)
      var dkw: [String: JSONValue] = ["dtype": .string(Scalar.self == Double.self ? "float64" : "float32")]
      if driver == .bidirectionalDynamic { dkw["time_major"] = .bool(false) }
      return (.object(["cell": fw, "cell_bw": bw, "driver": .string(driver.rawValue),
                       "driver_kwargs": .object(dkw), "scope": .null]), weights)
    }
    for (k, layer) in network.layers.enumerated() {
      guard layer.direction == .forward else {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "a lone reverse layer (layer \(k)); TF1 drivers reverse only inside a bidirectional call")
      }
      try checkLayer(layer, index: k)
    }
    let multi = network.layers.count > 1
    var cells: [JSONValue] = []
    for (k, layer) in network.layers.enumerated() {
      let prefix = multi ? "rnn/multi_rnn_cell/cell_\(k)/" : "rnn/"
      let c = try exportCell(layer.cells[0], path: prefix, into: &weights)
      cells.append(cellResidual.contains(k) ? residualWrapper(c) : c)
    }
    var cell: JSONValue = multi
      ? .object(["class": .string("MultiRNNCell"), "cells": .array(cells), "state_is_tuple": .bool(true)])
      : cells[0]
    if stackResidual { cell = residualWrapper(cell) }
    let dkw: [String: JSONValue] = ["dtype": .string(Scalar.self == Double.self ? "float64" : "float32"),
                                    "time_major": .bool(false)]
    return (.object(["cell": cell, "driver": .string("dynamic_rnn"), "driver_kwargs": .object(dkw), "scope": .null]),
            weights)
  }

  static func residualWrapper(_ cell: JSONValue) -> JSONValue {
    .object(["class": .string("ResidualWrapper"), "cell": cell, "kwargs": .object([:])])
  }

  static func checkLayer<Scalar>(_ layer: RecurrentLayer<Scalar>, index k: Int) throws {
    if layer.padding != .zeroOutput {
      throw RNNRefError.unsupported(framework: framework,
                                    feature: "padding policy `\(layer.padding.rawValue)` in layer \(k) (sequence_length zeroes outputs)")
    }
    if layer.direction != .forward && layer.reverseOutputOrder != .alignedToInput {
      throw RNNRefError.unsupported(framework: framework,
                                    feature: "time-reversed backward outputs in layer \(k) (TF1 aligns them to input time)")
    }
  }

  static func exportCell<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>, path: String, into weights: inout NamedTensors<Scalar>
  ) throws -> JSONValue {
    func act(_ a: Activation, _ role: String) throws -> String {
      guard let n = activationName(a) else {
        throw RNNRefError.unsupported(framework: framework, feature: "\(role) activation \(a)")
      }
      return n
    }
    func noClip(_ c: Double?) throws {
      if c != nil { throw RNNRefError.unsupported(framework: framework, feature: "an activation clip (ONNX `clip`)") }
    }
    func add(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> {
      Tensor(uncheckedShape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
    }
    switch cell {
    case .simple(let c):
      try noClip(c.activationClip)
      var kw: [String: JSONValue] = ["num_units": .number(Double(c.hiddenSize))]
      if c.activation != .tanh { kw["activation"] = .string(try act(c.activation, "simple RNN")) }
      let p = path + "basic_rnn_cell/"
      weights.append(p + "kernel", Tensor.concatenate([c.kernel, c.recurrentKernel], axis: 0))
      weights.append(p + "bias", add(c.inputBias, c.recurrentBias))
      return .object(["class": .string("BasicRNNCell"), "kwargs": .object(kw)])
    case .lstm(let c):
      try noClip(c.activationClip)
      if c.coupledInputForget {
        throw RNNRefError.unsupported(framework: framework, feature: "a coupled input-forget gate (ONNX `input_forget`)")
      }
      if c.gateActivation != .sigmoid {
        throw RNNRefError.unsupported(framework: framework, feature: "LSTM gate activation \(c.gateActivation) (TF1 gates are sigmoid)")
      }
      if c.cellActivation != c.outputActivation {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "different LSTM cell (\(c.cellActivation)) and output (\(c.outputActivation)) activations")
      }
      if c.projection == nil && c.projectionClip != nil {
        throw RNNRefError.unsupported(framework: framework, feature: "a projection clip without a projection")
      }
      var kw: [String: JSONValue] = ["num_units": .number(Double(c.hiddenSize))]
      if c.cellActivation != .tanh { kw["activation"] = .string(try act(c.cellActivation, "LSTM")) }
      if c.forgetBias != 1.0 { kw["forget_bias"] = .number(c.forgetBias) }
      if c.peepholes != nil { kw["use_peepholes"] = .bool(true) }
      if let v = c.cellClip { kw["cell_clip"] = .number(v) }
      if let pr = c.projection { kw["num_proj"] = .number(Double(pr.shape[1])) }
      if let v = c.projectionClip { kw["proj_clip"] = .number(v) }
      // canonical i, f, g, o -> native i, j(=g), f, o
      let order = Framework.tf1.gateOrder(.lstm).fromCanonical
      let p = path + "lstm_cell/"
      weights.append(p + "kernel", Tensor.concatenate([c.kernel, c.recurrentKernel], axis: 0).reorderingBlocks(order, axis: 1))
      weights.append(p + "bias", add(c.inputBias, c.recurrentBias).reorderingBlocks(order, axis: 0))
      if let ph = c.peepholes {
        weights.append(p + "w_f_diag", ph.f)
        weights.append(p + "w_i_diag", ph.i)
        weights.append(p + "w_o_diag", ph.o)
      }
      if let pr = c.projection { weights.append(p + "projection/kernel", pr) }
      return .object(["class": .string("LSTMCell"), "kwargs": .object(kw)])
    case .gru(let c):
      try noClip(c.activationClip)
      if c.resetAfter {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "a GRU with the reset after the recurrent matmul (reset_after / linear_before_reset); TF1 GRUCell resets before it")
      }
      if c.gateActivation != .sigmoid {
        throw RNNRefError.unsupported(framework: framework, feature: "GRU gate activation \(c.gateActivation) (TF1 gates are sigmoid)")
      }
      let H = c.hiddenSize
      var kw: [String: JSONValue] = ["num_units": .number(Double(H))]
      if c.candidateActivation != .tanh { kw["activation"] = .string(try act(c.candidateActivation, "GRU candidate")) }
      let full = Tensor.concatenate([c.kernel, c.recurrentKernel], axis: 0)   // (I+H, 3H): z, r, n
      let blocks = full.split(3, axis: 1)
      let bias = add(c.inputBias, c.recurrentBias).split(3, axis: 0)
      let p = path + "gru_cell/"
      weights.append(p + "gates/kernel", Tensor.concatenate([blocks[1], blocks[0]], axis: 1))
      weights.append(p + "gates/bias", Tensor.concatenate([bias[1], bias[0]], axis: 0))
      weights.append(p + "candidate/kernel", blocks[2])
      weights.append(p + "candidate/bias", bias[2])
      return .object(["class": .string("GRUCell"), "kwargs": .object(kw)])
    }
  }

  // MARK: - States

  enum StatePart { case c, h }

  /// One native state tensor: the concatenation (axis 1) of pieces of per-cell states.
  struct StateLeaf {
    var name: String
    var pieces: [(cell: Int, part: StatePart, width: Int)]
    var width: Int { pieces.reduce(0) { $0 + $1.width } }
  }

  static func stateLeaves(_ stack: StackSpec, prefix: String) -> [StateLeaf] {
    func cellPieces(_ k: Int) -> [(cell: Int, part: StatePart, width: Int)] {
      let s = stack.cells[k]
      return s.isLSTM ? [(k, .c, s.numUnits), (k, .h, s.outputSize)] : [(k, .h, s.numUnits)]
    }
    func cellLeaves(_ k: Int, _ name: String) -> [StateLeaf] {
      let s = stack.cells[k]
      if s.isLSTM && s.stateIsTuple {
        return [StateLeaf(name: name + "/c", pieces: [(k, .c, s.numUnits)]),
                StateLeaf(name: name + "/h", pieces: [(k, .h, s.outputSize)])]
      }
      return [StateLeaf(name: name, pieces: cellPieces(k))]
    }
    if !stack.isMulti { return cellLeaves(0, prefix) }
    if stack.stateIsTuple {
      return stack.cells.indices.flatMap { cellLeaves($0, "\(prefix)/\($0)") }
    }
    return [StateLeaf(name: prefix, pieces: stack.cells.indices.flatMap(cellPieces))]
  }

  /// Native initial-state inputs to canonical per-cell states (nil when none was passed).
  static func readStates<Scalar: RNNScalar>(
    _ stack: StackSpec, prefix: String, batch: Int, inputs: InputReader<Scalar>, passed: Bool
  ) throws -> [LayerState<Scalar>]? {
    let leaves = stateLeaves(stack, prefix: prefix)
    let present = leaves.filter { inputs[$0.name] != nil }
    if present.isEmpty && !passed { return nil }
    var c: [Tensor<Scalar>?] = Array(repeating: nil, count: stack.cells.count)
    var h: [Tensor<Scalar>?] = Array(repeating: nil, count: stack.cells.count)
    for leaf in leaves {
      let t = try inputs.require(leaf.name, "expected shape [\(batch), \(leaf.width)]; `\(prefix)` needs all of "
                                   + leaves.map { "`\($0.name)`" }.joined(separator: ", ") + " (see fixtures/README.md, ### tf1)")
      try inputs.check(leaf.name, t, shape: [batch, leaf.width],
                       "(batch, " + leaf.pieces.map { "\($0.part) of cell \($0.cell): \($0.width)" }.joined(separator: " + ") + ")")
      var col = 0
      for piece in leaf.pieces {
        let part = t.slice(axis: 1, range: col..<(col + piece.width))
        col += piece.width
        if piece.part == .c { c[piece.cell] = part } else { h[piece.cell] = part }
      }
    }
    return try stack.cells.indices.map { k in
      guard let hk = h[k] else {
        throw RNNRefError.invalidConfig(key: stack.cells[k].path, value: stack.cells[k].cls.rawValue,
                                        reason: "no state piece carries this cell's h")
      }
      return LayerState(h: hk, c: c[k])
    }
  }

  /// Canonical final states to native named tensors.
  static func writeStates<Scalar: RNNScalar>(
    _ states: [LayerState<Scalar>], stack: StackSpec, prefix: String, into out: inout NamedTensors<Scalar>
  ) throws {
    for leaf in stateLeaves(stack, prefix: prefix) {
      let parts: [Tensor<Scalar>] = try leaf.pieces.map { piece in
        let st = states[piece.cell]
        if piece.part == .h { return st.h }
        guard let c = st.c else {
          throw RNNRefError.invalidConfig(key: "cell", value: stack.cells[piece.cell].cls.rawValue,
                                          reason: "the engine returned no cell state for an LSTM cell")
        }
        return c
      }
      out.append(leaf.name, parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 1))
    }
  }

  // MARK: - Running

  public static func evaluate<Scalar: RNNScalar>(
    config model: Model, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    let reader = InputReader(inputs)
    let x = try reader.require("inputs", model.isTimeMajor ? "expected (T, N, I), time-major" : "expected (N, T, I), batch-major")
    guard x.rank == 3 else {
      throw RNNRefError.shapeMismatch(name: "inputs", actual: x.shape, expected: [-1, -1, -1],
                                      reason: model.isTimeMajor ? "(T, N, I): \(model.driver.isStatic ? "the static driver's steps stacked" : "time_major=True")"
                                        : "(N, T, I): time_major=False")
    }
    let xt = StateLayout.timeMajor(x, batchMajor: !model.isTimeMajor)   // (T, N, I)
    let T = xt.shape[0], N = xt.shape[1], I = xt.shape[2]
    let m = try importModel(model, weights: weights, inputSize: I)

    var mask: StepMask? = nil
    if let lengths = try reader.lengths("sequence_length", key: "inputs/sequence_length", batch: N, in: 0...T,
                                        shapeMeaning: "(batch)", why: "the number of time steps") {
      mask = StepMask(lengths: lengths, steps: T)
    } else if model.passed.contains("sequence_length") {
      throw RNNRefError.missingInput(name: "sequence_length", reason: "the config's driver_kwargs pass it; expected shape [\(N)]")
    }

    let bidir = model.driver.isBidirectional
    let fwPrefix = bidir ? "initial_state_fw" : "initial_state"
    let fwInit = try readStates(model.fw, prefix: fwPrefix, batch: N, inputs: reader,
                                passed: model.passed.contains(fwPrefix))
    var bwInit: [LayerState<Scalar>]? = nil
    if let bwStack = model.bw {
      bwInit = try readStates(bwStack, prefix: "initial_state_bw", batch: N, inputs: reader,
                              passed: model.passed.contains("initial_state_bw"))
    }
    var expected = ["inputs", "sequence_length"] + stateLeaves(model.fw, prefix: fwPrefix).map(\.name)
    if let bwStack = model.bw { expected += stateLeaves(bwStack, prefix: "initial_state_bw").map(\.name) }
    try reader.rejectOthers(than: expected, reason: "not inputs of this \(model.driver.rawValue) call; expected "
                                           + expected.map { "`\($0)`" }.joined(separator: ", "))

    // Each direction's stack is one canonical network (residuals included), run over the whole input.
    func runStack(_ cells: [Cell<Scalar>], _ stack: StackSpec, direction: Direction, initial: [LayerState<Scalar>]?)
      throws -> (outputs: Tensor<Scalar>, states: [LayerState<Scalar>]) {
      let out = try Engine.run(stackNetwork(cells, stack, direction: direction), input: xt, mask: mask,
                               initialStates: initial.map { $0.map { [$0] } })
      return (out.last.merged, out.layers.map { $0.finalStates[0] })
    }
    func native(_ y: Tensor<Scalar>) -> Tensor<Scalar> { StateLayout.native(y, batchMajor: !model.isTimeMajor) }

    var result = NamedTensors<Scalar>()
    let fw = try runStack(m.fw, model.fw, direction: .forward, initial: fwInit)
    guard let bwCells = m.bw, let bwStack = model.bw else {
      result.append("outputs", native(fw.outputs))
      try writeStates(fw.states, stack: model.fw, prefix: "state", into: &result)
      return result
    }
    let bw = try runStack(bwCells, bwStack, direction: .reverse, initial: bwInit)
    if model.driver == .staticBidirectional {
      result.append("outputs", Tensor.concatenate([fw.outputs, bw.outputs], axis: 2))
    } else {
      result.append("outputs_fw", native(fw.outputs))
      result.append("outputs_bw", native(bw.outputs))
    }
    try writeStates(fw.states, stack: model.fw, prefix: "state_fw", into: &result)
    try writeStates(bw.states, stack: bwStack, prefix: "state_bw", into: &result)
    return result
  }

  public static func axisNames(output: String, config model: Model) -> [String]? {
    if output.hasPrefix("outputs") {
      return model.isTimeMajor ? ["step", "batch", "unit"] : ["batch", "step", "unit"]
    }
    if output.hasPrefix("state") { return ["batch", "unit"] }
    return nil
  }

  /// The batch and step axes `evaluate` gives its outputs (the layouts of `axisNames`), from the
  /// shape of `inputs`; the unit axis follows from the cells' weights, so it is left open
  /// (`FrameworkConvention.outputShapes`).
  public static func outputShapes(config model: Model, weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]? {
    guard let x = inputs["inputs"], x.count == 3 else { return nil }
    let (T, N) = model.isTimeMajor ? (x[0], x[1]) : (x[1], x[0])
    let sequence: [Int?] = model.isTimeMajor ? [T, N, nil] : [N, T, nil]
    var shapes: [String: [Int?]] = [:]
    for name in ["outputs", "outputs_fw", "outputs_bw"] { shapes[name] = sequence }
    return shapes
  }
}
