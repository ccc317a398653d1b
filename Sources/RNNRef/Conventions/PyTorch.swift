/// PyTorch `nn.RNN`, `nn.LSTM`, `nn.GRU` and the cells `nn.RNNCell`, `nn.LSTMCell`,
/// `nn.GRUCell` (checked against torch 2.15: `torch/nn/modules/rnn.py`, and by
/// `fixtures/generate/gen_pytorch.py`, which re-computes torch's output before writing).
///
/// Native weights, by `state_dict()` name, for layer `k` (suffix `_l{k}`, and
/// `_l{k}_reverse` for the backward direction of a bidirectional module);
/// G = 1 (RNN), 4 (LSTM), 3 (GRU); H = hidden_size; P = proj_size (LSTM only,
/// Hout = P when P > 0, else H); D = 2 when bidirectional, else 1:
/// - `weight_ih_l{k}`: `(G*H, I)` for k = 0, `(G*H, D*Hout)` above
/// - `weight_hh_l{k}`: `(G*H, Hout)`
/// - `bias_ih_l{k}`, `bias_hh_l{k}`: `(G*H)` each (absent with `bias=False`)
/// - `weight_hr_l{k}`: `(P, H)` (LSTM with `proj_size > 0`)
/// Cells: `weight_ih (G*H, I)`, `weight_hh (G*H, H)`, `bias_ih`, `bias_hh (G*H)`.
///
/// Gate order along the `G*H` axis:
/// - LSTM: i, f, g, o (same as canonical)
/// - GRU: **r, z, n** (canonical z, r, n), reset applied after the recurrent
///   matmul: `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))` (canonical `resetAfter`)
/// - RNN: one block; `nonlinearity` "tanh" (default) or "relu".
/// Canonical kernels are the transposes: `kernel = weight_ih^T (I, G*H)`,
/// `recurrentKernel = weight_hh^T (Hout, G*H)`, `projection = weight_hr^T (H, P)`.
///
/// Run-time layout:
/// - `input`: `(T, N, I)`, or `(N, T, I)` with `batch_first=True`, or unbatched `(T, I)`.
/// - `h0`/`h_n`: `(L*D, N, Hout)` indexed `layer*D + dir`, never batch-first;
///   `c0`/`c_n`: `(L*D, N, H)`. Unbatched: `(L*D, Hout)` / `(L*D, H)`.
/// - `output`: `(T, N, D*Hout)` (or batch-first), `[forward, reverse]` along the
///   last axis; the reverse half is aligned to input time, so the reverse part of
///   `h_n` equals `output[0, :, Hout:]`, not `output[-1]` (pytorch#3587).
/// - Packed (`call.packed`): `lengths (N)` int64; outputs past each length are
///   zero, `h_n`/`c_n` are each sample's state at its own length (in the input's
///   batch order, also with `enforce_sorted=False`); `output` has
///   `total_length ?? max(lengths)` steps (`pad_packed_sequence`).
/// - Cells: `input (N, I)` or `(I)`, `hx (N, Hout)`, `cx (N, H)` (LSTMCell) -> `h`, `c`.
/// `dropout` acts only in training mode; cases run in eval mode (`training: false`).
///
/// Native config (documented in fixtures/README.md, "### pytorch"):
/// `{"module": "LSTM", "kwargs": {constructor kwargs}, "call": {"packed", "enforce_sorted",
/// "total_length", "initial_state", "batched"}, "dtype", "training"}`.
public enum PyTorch: NetworkConvention {
  public static let framework = Framework.pytorch

  // MARK: - Configuration

  /// The module kinds PyTorch has.
  public enum ModuleKind: String, Sendable, CaseIterable {
    case rnn = "RNN", lstm = "LSTM", gru = "GRU"
    case rnnCell = "RNNCell", lstmCell = "LSTMCell", gruCell = "GRUCell"

    public var isCell: Bool { self == .rnnCell || self == .lstmCell || self == .gruCell }
    /// Gate blocks along `G*H`.
    public var gates: Int {
      switch self {
      case .rnn, .rnnCell: 1
      case .lstm, .lstmCell: 4
      case .gru, .gruCell: 3
      }
    }
    var isLSTM: Bool { self == .lstm || self == .lstmCell }
    var isGRU: Bool { self == .gru || self == .gruCell }
    var isRNN: Bool { self == .rnn || self == .rnnCell }
    var gateLetters: String {
      switch gates { case 4: "4*hidden_size"; case 3: "3*hidden_size"; default: "hidden_size" }
    }
  }

  /// The constructor kwargs of a module or cell, with torch's defaults filled in.
  public struct ModuleConfig: Equatable, Sendable {
    public var kind: ModuleKind
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int = 1
    public var bias: Bool = true
    public var batchFirst: Bool = false
    public var dropout: Double = 0
    public var bidirectional: Bool = false
    /// 0: no projection.
    public var projSize: Int = 0
    /// "tanh" or "relu" (RNN, RNNCell).
    public var nonlinearity: String = "tanh"

    public var directions: Int { bidirectional ? 2 : 1 }
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }

    public init(kind: ModuleKind, inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true,
                batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false,
                projSize: Int = 0, nonlinearity: String = "tanh") {
      self.kind = kind; self.inputSize = inputSize; self.hiddenSize = hiddenSize
      self.numLayers = numLayers; self.bias = bias; self.batchFirst = batchFirst; self.dropout = dropout
      self.bidirectional = bidirectional; self.projSize = projSize; self.nonlinearity = nonlinearity
    }

    /// Parses `{"module": ..., "kwargs": {...}}`, validating as torch's constructors do.
    public init(config: JSONValue) throws {
      // `null` is Python's None: a wrong value for every kwarg torch takes here.
      let root = ConfigReader(config, nullIsAbsent: false)
      let modules = "expected a PyTorch recurrent module: one of " + ModuleKind.allCases.map(\.rawValue).joined(separator: ", ")
      guard let kind = try root.enumValue("module", as: ModuleKind.self, expected: modules) else {
        throw root.invalid("module", modules)
      }
      let kwargsText = "expected the constructor kwargs as a JSON object"
      guard let kw = try root.object("kwargs", expected: kwargsText) else { throw root.invalid("kwargs", kwargsText) }
      let known: Set<String> = kind.isCell
        ? ["input_size", "hidden_size", "bias", "nonlinearity", "device", "dtype"]
        : ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
           "proj_size", "nonlinearity", "device", "dtype"]
      try kw.rejectUnknownKeys(known: known,
                               reason: "nn.\(kind.rawValue) has no such argument; known: " + known.sorted().joined(separator: ", "))
      let positive = 1...Int.max
      self.kind = kind
      inputSize = try kw.int("input_size", required: "nn.\(kind.rawValue) requires input_size", in: positive)
      hiddenSize = try kw.int("hidden_size", required: "nn.\(kind.rawValue) requires hidden_size", in: positive)
      bias = try kw.bool("bias", default: true)
      if !kind.isCell {
        numLayers = try kw.int("num_layers", default: 1, in: positive)
        batchFirst = try kw.bool("batch_first", default: false)
        bidirectional = try kw.bool("bidirectional", default: false)
        projSize = try kw.int("proj_size", default: 0, in: 0...Int.max)
        dropout = try kw.double("dropout", in: 0...1, expected: "expected a number in [0, 1], as torch requires") ?? 0
      }
      if kw.raw("nonlinearity") != nil {
        guard kind.isRNN else { throw kw.invalid("nonlinearity", "only nn.RNN and nn.RNNCell take a nonlinearity") }
        let s = try kw.string("nonlinearity", expected: "torch accepts \"tanh\" or \"relu\"")
        guard s == "tanh" || s == "relu" else { throw kw.invalid("nonlinearity", "torch accepts \"tanh\" or \"relu\"") }
        nonlinearity = s!
      }
      if projSize != 0 {
        guard kind == .lstm else {
          throw kw.invalid("proj_size", "proj_size is only supported for LSTM, not RNN or GRU (torch)")
        }
        guard projSize < hiddenSize else {
          throw kw.invalid("proj_size", "proj_size must be >= 0 and smaller than hidden_size=\(hiddenSize)")
        }
      }
      if try ConfigReader(config).bool("training") == true {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "training mode (dropout is random); run the module in eval()")
      }
    }

    /// The `{"module", "kwargs"}` form with every kwarg written out.
    public var json: JSONValue {
      var kw: [String: JSONValue] = [
        "input_size": .number(Double(inputSize)), "hidden_size": .number(Double(hiddenSize)),
        "bias": .bool(bias),
      ]
      if kind.isRNN { kw["nonlinearity"] = .string(nonlinearity) }
      if !kind.isCell {
        kw["num_layers"] = .number(Double(numLayers))
        kw["batch_first"] = .bool(batchFirst)
        kw["dropout"] = .number(dropout)
        kw["bidirectional"] = .bool(bidirectional)
        if kind == .lstm { kw["proj_size"] = .number(Double(projSize)) }
      }
      return .object(["module": .string(kind.rawValue), "kwargs": .object(kw)])
    }
  }

  /// How the module was called (`config.call`).
  public struct CallConfig: Equatable, Sendable {
    public var packed = false
    public var enforceSorted = true
    public var totalLength: Int?
    public var initialState: Bool?
    public var batched: Bool?

    public init(config: JSONValue) throws {
      guard let call = try ConfigReader(config).object("call") else { return }
      packed = try call.bool("packed") ?? false
      enforceSorted = try call.bool("enforce_sorted") ?? true
      initialState = try call.bool("initial_state") ?? call.bool("hx")
      batched = try call.bool("batched")
      totalLength = try call.int("total_length", in: 0...Int.max, expected: "expected null or a non-negative integer")
    }
  }

  /// A case's configuration: the module and how it was called, parsed once.
  public struct Config: Equatable, Sendable {
    public var module: ModuleConfig
    public var call: CallConfig
    public init(module: ModuleConfig, call: CallConfig) { self.module = module; self.call = call }
  }

  public static func parseConfig(_ json: JSONValue) throws -> Config {
    Config(module: try ModuleConfig(config: json), call: try CallConfig(config: json))
  }

  // MARK: - Weights <-> canonical

  /// Native gate block k of the canonical order: canonical block j is native block `order[j]`
  /// (torch GRU r, z, n -> canonical z, r, n; LSTM i, f, g, o both; `Framework.gateOrder`).
  static func canonicalOrder(_ kind: ModuleKind) -> [Int] {
    framework.gateOrder(kind.isLSTM ? .lstm : kind.isGRU ? .gru : .rnn).toCanonical
  }

  /// One expected native weight: name, shape and why.
  struct WeightSpec {
    var name: String
    var shape: [Int]
    var reason: String
  }

  static func suffix(_ kind: ModuleKind, layer: Int, direction: Int) -> String {
    kind.isCell ? "" : "_l\(layer)" + (direction == 1 ? "_reverse" : "")
  }

  /// The native weights of one layer and direction (`layer` 0, `direction` 0 for a cell).
  struct LayerSpecs {
    var ih: WeightSpec
    var hh: WeightSpec
    var biasIH: WeightSpec?
    var biasHH: WeightSpec?
    var hr: WeightSpec?
    /// In `state_dict()` order.
    var all: [WeightSpec] { [ih, hh] + [biasIH, biasHH, hr].compactMap { $0 } }
  }

  static func layerSpecs(_ m: ModuleConfig, layer: Int, direction dir: Int) -> LayerSpecs {
    let gh = m.kind.gates * m.hiddenSize
    let g = m.kind.gateLetters
    let hout = m.projSize > 0 ? "proj_size" : "hidden_size"
    var sizes = "hidden_size=\(m.hiddenSize)"
    if m.projSize > 0 { sizes += ", proj_size=\(m.projSize)" }
    let fix = "; check the kwargs against the state_dict"
    let s = suffix(m.kind, layer: layer, direction: dir)
    let whereText = "nn.\(m.kind.rawValue)" + (m.kind.isCell ? "" : " layer \(layer)" + (dir == 1 ? " reverse" : ""))
    let inSize = layer == 0 ? m.inputSize : m.directions * m.outputSize
    let inWhy = layer == 0
      ? "(\(g), input_size) with \(sizes), input_size=\(m.inputSize)"
      : "(\(g), \(m.directions == 2 ? "2*" : "")\(hout)) with \(sizes)"
        + (m.bidirectional ? ", bidirectional" : "") + ": it reads layer \(layer - 1)'s output"
    func bias(_ b: String) -> WeightSpec? {
      m.bias ? WeightSpec(name: "\(b)\(s)", shape: [gh], reason: "\(whereText) with bias=True: (\(g)) with \(sizes)\(fix)") : nil
    }
    return LayerSpecs(
      ih: WeightSpec(name: "weight_ih\(s)", shape: [gh, inSize], reason: "\(whereText): \(inWhy)\(fix)"),
      hh: WeightSpec(name: "weight_hh\(s)", shape: [gh, m.outputSize], reason: "\(whereText): (\(g), \(hout)) with \(sizes)\(fix)"),
      biasIH: bias("bias_ih"), biasHH: bias("bias_hh"),
      hr: m.projSize > 0
        ? WeightSpec(name: "weight_hr\(s)", shape: [m.projSize, m.hiddenSize],
                     reason: "\(whereText): (proj_size, hidden_size) with \(sizes)\(fix)")
        : nil)
  }

  /// The native weights a configuration needs, in `state_dict()` order.
  static func weightSpecs(_ m: ModuleConfig) -> [WeightSpec] {
    let layers = m.kind.isCell ? 1 : m.numLayers, dirs = m.kind.isCell ? 1 : m.directions
    return (0..<layers).flatMap { l in (0..<dirs).flatMap { layerSpecs(m, layer: l, direction: $0).all } }
  }

  /// Refuses sizes no weight given can match (`num_layers = 1e9`, `hidden_size = 1e9`)
  /// before the weights are planned.
  static func checkSizes<Scalar: RNNScalar>(_ m: ModuleConfig, _ reader: WeightReader<Scalar>) throws {
    let fix = "check the kwargs against the state_dict"
    try reader.checkSize(m.inputSize, key: "kwargs.input_size", fix: fix)
    try reader.checkSize(m.hiddenSize, key: "kwargs.hidden_size", fix: fix)
    if !m.kind.isCell {
      try reader.checkCount(m.numLayers, key: "kwargs.num_layers", weightsEach: 2 * m.directions,
                            unit: "layer (weight_ih_l{k}, weight_hh_l{k}" + (m.bidirectional ? " and their _reverse" : "") + ")",
                            fix: "set num_layers to the number of layers in the state_dict")
    }
  }

  /// The canonical cell of one layer and direction, its weights taken from `reader`
  /// in `state_dict()` order (missing or misshaped weights throw, naming the shape).
  static func canonicalCell<Scalar: RNNScalar>(
    _ reader: inout WeightReader<Scalar>, _ m: ModuleConfig, layer: Int, direction: Int
  ) throws -> Cell<Scalar> {
    let spec = layerSpecs(m, layer: layer, direction: direction)
    func take(_ s: WeightSpec) throws -> Tensor<Scalar> { try reader.take(s.name, shape: s.shape, s.reason) }
    let order = canonicalOrder(m.kind)
    let gh = m.kind.gates * m.hiddenSize
    let inSize = layer == 0 ? m.inputSize : m.directions * m.outputSize
    let kernel = try take(spec.ih).reorderingBlocks(order, axis: 0).transposed2D
    let recurrent = try take(spec.hh).reorderingBlocks(order, axis: 0).transposed2D
    let bi = try spec.biasIH.map { try take($0).reorderingBlocks(order, axis: 0) } ?? Tensor<Scalar>(uncheckedZeros: [gh])
    let bh = try spec.biasHH.map { try take($0).reorderingBlocks(order, axis: 0) } ?? Tensor<Scalar>(uncheckedZeros: [gh])
    if m.kind.isLSTM {
      let projection = try spec.hr.map { try take($0).transposed2D }
      return .lstm(LSTMCell(inputSize: inSize, hiddenSize: m.hiddenSize, kernel: kernel, recurrentKernel: recurrent,
                            inputBias: bi, recurrentBias: bh, projection: projection))
    }
    if m.kind.isGRU {
      return .gru(GRUCell(inputSize: inSize, hiddenSize: m.hiddenSize, kernel: kernel, recurrentKernel: recurrent,
                          inputBias: bi, recurrentBias: bh, resetAfter: true))
    }
    return .simple(SimpleRNNCell(inputSize: inSize, hiddenSize: m.hiddenSize, kernel: kernel,
                                 recurrentKernel: recurrent, inputBias: bi, recurrentBias: bh,
                                 activation: m.nonlinearity == "relu" ? .relu : .tanh))
  }

  /// Native config and weights to the canonical network. A cell module becomes
  /// one forward layer holding that cell. Missing, misshaped and unused weights throw.
  public static func importNetwork<Scalar: RNNScalar>(
    config: Config, weights: NamedTensors<Scalar>
  ) throws -> Network<Scalar> {
    let m = config.module
    var reader = WeightReader(weights)
    try checkSizes(m, reader)
    let network: Network<Scalar>
    if m.kind.isCell {
      network = Network(layers: [RecurrentLayer(direction: .forward, cells: [try canonicalCell(&reader, m, layer: 0, direction: 0)])])
    } else {
      network = Network(layers: try (0..<m.numLayers).map { layer in
        RecurrentLayer(direction: m.bidirectional ? .bidirectional : .forward,
                       cells: try (0..<m.directions).map { try canonicalCell(&reader, m, layer: layer, direction: $0) },
                       merge: .concat, padding: .zeroOutput, reverseOutputOrder: .alignedToInput)
      })
    }
    try reader.finish()
    return network
  }

  /// The canonical network as an `nn.RNN` / `nn.LSTM` / `nn.GRU` (all kwargs written,
  /// `batch_first=False`, `dropout=0`). `bias=False` when every bias is zero.
  /// A run-time `forgetBias` is folded into `bias_ih`'s f block (same function).
  /// Throws `unsupported` for what these modules cannot express.
  public static func exportNetwork<Scalar: RNNScalar>(
    _ network: Network<Scalar>
  ) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    guard let first = network.layers.first else {
      throw RNNRefError.unsupported(framework: framework, feature: "an empty network (num_layers must be >= 1)")
    }
    let bidirectional = first.direction == .bidirectional
    let kind: ModuleKind
    switch first.cells[0] {
    case .simple: kind = .rnn
    case .lstm: kind = .lstm
    case .gru: kind = .gru
    }
    var m = ModuleConfig(kind: kind, inputSize: first.inputSize, hiddenSize: first.cells[0].hiddenSize,
                         numLayers: network.layers.count, bidirectional: bidirectional)
    if case .lstm(let c) = first.cells[0], let p = c.projection { m.projSize = p.shape[1] }
    if case .simple(let c) = first.cells[0] { m.nonlinearity = c.activation == .relu ? "relu" : "tanh" }
    var natives: [[(String, Tensor<Scalar>)]] = []
    var anyBias = false
    for (k, layer) in network.layers.enumerated() {
      switch layer.direction {
      case .reverse:
        throw RNNRefError.unsupported(
          framework: framework,
          feature: "a reverse-only layer (layer \(k)); torch runs a reverse direction only inside bidirectional=True")
      case .forward, .bidirectional:
        if (layer.direction == .bidirectional) != bidirectional {
          throw RNNRefError.unsupported(
            framework: framework,
            feature: "layers that differ in direction (layer \(k) is \(layer.direction), layer 0 is \(first.direction))")
        }
      }
      if bidirectional && layer.merge != .concat {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "merge mode \(layer.merge.rawValue) (layer \(k)); torch concatenates")
      }
      if layer.padding != .zeroOutput {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "padding that repeats the previous output (layer \(k)); packed sequences pad with zeros")
      }
      if layer.reverseOutputOrder != .alignedToInput {
        throw RNNRefError.unsupported(framework: framework,
                                      feature: "time-reversed outputs (Keras go_backwards) in layer \(k)")
      }
      let expectedInput = k == 0 ? m.inputSize : m.directions * m.outputSize
      for (dir, cell) in layer.cells.enumerated() {
        let here = "layer \(k)" + (dir == 1 ? " reverse" : "")
        guard cell.inputSize == expectedInput else {
          throw RNNRefError.unsupported(
            framework: framework,
            feature: "input size \(cell.inputSize) in \(here) (torch requires \(expectedInput))")
        }
        guard cell.hiddenSize == m.hiddenSize, cell.outputSize == m.outputSize else {
          throw RNNRefError.unsupported(
            framework: framework,
            feature: "hidden sizes that differ across layers (\(here): \(cell.hiddenSize)/\(cell.outputSize), "
              + "layer 0: \(m.hiddenSize)/\(m.outputSize))")
        }
        let native = try nativeWeights(cell, kind: kind, nonlinearity: m.nonlinearity, where: here)
        if native.biases.contains(where: { $0.scalars.contains { $0 != 0 } }) { anyBias = true }
        let s = suffix(kind, layer: k, direction: dir)
        var list = [("weight_ih\(s)", native.ih), ("weight_hh\(s)", native.hh),
                    ("bias_ih\(s)", native.biases[0]), ("bias_hh\(s)", native.biases[1])]
        if let hr = native.hr { list.append(("weight_hr\(s)", hr)) }
        natives.append(list)
      }
    }
    m.bias = anyBias
    var weights = NamedTensors<Scalar>()
    for list in natives {
      for (name, t) in list where m.bias || !name.hasPrefix("bias_") { weights.append(name, t) }
    }
    return (m.json, weights)
  }

  /// One canonical cell as native tensors, or `unsupported` naming what torch lacks.
  static func nativeWeights<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>, kind: ModuleKind, nonlinearity: String, where here: String
  ) throws -> (ih: Tensor<Scalar>, hh: Tensor<Scalar>, biases: [Tensor<Scalar>], hr: Tensor<Scalar>?) {
    func unsupported(_ feature: String) -> RNNRefError {
      .unsupported(framework: framework, feature: "\(feature) (\(here))")
    }
    let order = canonicalOrder(kind)  // self-inverse for every kind
    func native(_ k: Tensor<Scalar>, _ r: Tensor<Scalar>, _ bi: Tensor<Scalar>, _ bh: Tensor<Scalar>)
      -> (Tensor<Scalar>, Tensor<Scalar>, [Tensor<Scalar>]) {
      (k.transposed2D.reorderingBlocks(order, axis: 0), r.transposed2D.reorderingBlocks(order, axis: 0),
       [bi.reorderingBlocks(order, axis: 0), bh.reorderingBlocks(order, axis: 0)])
    }
    switch cell {
    case .simple(let c):
      guard kind.isRNN else { throw unsupported("a simple RNN cell in an nn.\(kind.rawValue)") }
      guard c.activation == .tanh || c.activation == .relu else {
        throw unsupported("simple RNN activation \(c.activation) (torch has tanh and relu)")
      }
      guard (c.activation == .relu ? "relu" : "tanh") == nonlinearity else {
        throw unsupported("simple RNN activations that differ across layers")
      }
      if c.activationClip != nil { throw unsupported("an activation clip (ONNX clip)") }
      let (ih, hh, b) = native(c.kernel, c.recurrentKernel, c.inputBias, c.recurrentBias)
      return (ih, hh, b, nil)
    case .lstm(let c):
      guard kind.isLSTM else { throw unsupported("an LSTM cell in an nn.\(kind.rawValue)") }
      if c.peepholes != nil { throw unsupported("peepholes (PyTorch has no peepholes)") }
      if c.cellClip != nil { throw unsupported("a cell clip (TF1 cell_clip)") }
      if c.projectionClip != nil { throw unsupported("a projection clip (TF1 proj_clip)") }
      if c.coupledInputForget { throw unsupported("coupled input-forget gates (ONNX input_forget)") }
      if c.activationClip != nil { throw unsupported("an activation clip (ONNX clip)") }
      guard c.gateActivation == .sigmoid, c.cellActivation == .tanh, c.outputActivation == .tanh else {
        throw unsupported("LSTM activations \(c.gateActivation)/\(c.cellActivation)/\(c.outputActivation) "
                          + "(torch fixes sigmoid/tanh/tanh)")
      }
      var bi = c.inputBias
      if c.forgetBias != 0 {
        let h = c.hiddenSize
        for j in h..<(2 * h) { bi.scalars[j] += Scalar(c.forgetBias) }
      }
      let (ih, hh, b) = native(c.kernel, c.recurrentKernel, bi, c.recurrentBias)
      return (ih, hh, b, c.projection?.transposed2D)
    case .gru(let c):
      guard kind.isGRU else { throw unsupported("a GRU cell in an nn.\(kind.rawValue)") }
      guard c.resetAfter else {
        throw unsupported("a GRU with the reset gate applied before the recurrent matmul "
                          + "(Keras reset_after=False, TF1 GRUCell, ONNX linear_before_reset=0); torch resets after")
      }
      if c.activationClip != nil { throw unsupported("an activation clip (ONNX clip)") }
      guard c.gateActivation == .sigmoid, c.candidateActivation == .tanh else {
        throw unsupported("GRU activations \(c.gateActivation)/\(c.candidateActivation) (torch fixes sigmoid/tanh)")
      }
      let (ih, hh, b) = native(c.kernel, c.recurrentKernel, c.inputBias, c.recurrentBias)
      return (ih, hh, b, nil)
    }
  }

  /// One canonical cell as `nn.RNNCell` / `nn.LSTMCell` / `nn.GRUCell`
  /// (`bias=False` when both biases are zero).
  public static func exportCell<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>
  ) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    let kind: ModuleKind
    var nonlinearity = "tanh"
    switch cell {
    case .simple(let c): kind = .rnnCell; nonlinearity = c.activation == .relu ? "relu" : "tanh"
    case .lstm(let c):
      kind = .lstmCell
      if c.projection != nil {
        throw RNNRefError.unsupported(framework: framework, feature: "a projection in nn.LSTMCell (only nn.LSTM has proj_size)")
      }
    case .gru: kind = .gruCell
    }
    let native = try nativeWeights(cell, kind: kind, nonlinearity: nonlinearity, where: "cell")
    let bias = native.biases.contains { $0.scalars.contains { $0 != 0 } }
    let m = ModuleConfig(kind: kind, inputSize: cell.inputSize, hiddenSize: cell.hiddenSize, bias: bias,
                         nonlinearity: nonlinearity)
    var w = NamedTensors<Scalar>([("weight_ih", native.ih), ("weight_hh", native.hh)])
    if bias { w.append("bias_ih", native.biases[0]); w.append("bias_hh", native.biases[1]) }
    return (m.json, w)
  }

  // MARK: - Running a native call

  public static func evaluate<Scalar: RNNScalar>(
    config: Config, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    let network: Network<Scalar> = try importNetwork(config: config, weights: weights)
    return config.module.kind.isCell
      ? try evaluateCell(network.layers[0].cells[0], config.module, config.call, inputs)
      : try evaluateModule(network, config.module, config.call, inputs)
  }

  /// Refuses inputs this module and call do not take.
  static func checkInputNames<Scalar: RNNScalar>(_ inputs: InputReader<Scalar>, allowed: [String], _ m: ModuleConfig) throws {
    try inputs.rejectOthers(than: allowed, reason: "nn.\(m.kind.rawValue) with this call takes only " + allowed.joined(separator: ", ")
                              + "; remove it or fix `call` (lengths need packed=true)")
  }

  /// The initial state inputs `h` and, for an LSTM, `c`: both or neither, and `h`
  /// present when the config's `call.<flag>` says a state was passed.
  static func stateTuple<Scalar: RNNScalar>(
    _ inputs: InputReader<Scalar>, h: String, c: String, _ m: ModuleConfig, _ call: CallConfig, flag: String
  ) throws -> (h: Tensor<Scalar>?, c: Tensor<Scalar>?) {
    let ht = inputs[h], ct = inputs[c]
    if call.initialState == true && ht == nil {
      throw RNNRefError.missingInput(name: h, reason: "config call.\(flag) is true")
    }
    if m.kind.isLSTM && (ht == nil) != (ct == nil) {
      throw RNNRefError.missingInput(name: ht == nil ? h : c,
                                     reason: "nn.\(m.kind.rawValue) takes the state as a tuple (\(h), \(c)): both or neither")
    }
    return (ht, ct)
  }

  static func evaluateCell<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>, _ m: ModuleConfig, _ call: CallConfig, _ native: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    let inputs = InputReader(native)
    try checkInputNames(inputs, allowed: m.kind.isLSTM ? ["input", "hx", "cx"] : ["input", "hx"], m)
    let x = try inputs.require("input", "nn.\(m.kind.rawValue) needs input (N, input_size) or (input_size)")
    guard x.rank == 1 || x.rank == 2, x.shape.last == m.inputSize else {
      throw RNNRefError.shapeMismatch(
        name: "input", actual: x.shape, expected: x.rank == 1 ? [m.inputSize] : [x.shape.first ?? 1, m.inputSize],
        reason: "nn.\(m.kind.rawValue) takes (N, input_size) or unbatched (input_size), input_size=\(m.inputSize)")
    }
    let batched = x.rank == 2
    let n = batched ? x.shape[0] : 1
    let stateShape = batched ? [n, m.hiddenSize] : [m.hiddenSize]
    let why = batched ? "(N, hidden_size) with N=\(n), hidden_size=\(m.hiddenSize)"
                      : "(hidden_size) for an unbatched input, hidden_size=\(m.hiddenSize)"
    var state = LayerState<Scalar>(h: Tensor(uncheckedZeros: [n, m.hiddenSize]),
                                   c: m.kind.isLSTM ? Tensor(uncheckedZeros: [n, m.hiddenSize]) : nil)
    let (hx, cx) = try stateTuple(inputs, h: "hx", c: "cx", m, call, flag: "hx")
    if let hx {
      try inputs.check("hx", hx, shape: stateShape, why)
      state.h = hx.reshaped([n, m.hiddenSize])
    }
    if let cx {
      try inputs.check("cx", cx, shape: stateShape, why)
      state.c = cx.reshaped([n, m.hiddenSize])
    }
    let next = try Engine.step(cell, input: x.reshaped([n, m.inputSize]), state: state)
    var out = NamedTensors<Scalar>([("h", next.h.reshaped(stateShape))])
    if m.kind.isLSTM, let c = next.c { out.append("c", c.reshaped(stateShape)) }
    return out
  }

  static func evaluateModule<Scalar: RNNScalar>(
    _ network: Network<Scalar>, _ m: ModuleConfig, _ call: CallConfig, _ native: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    try evaluateModuleLayers(network, m, call, native).outputs
  }

  /// `evaluateModule`, plus each layer's output sequence named `l{k}` (the `_l{k}` of its
  /// weights), in the layout, steps and padding of `output` (`LayerwiseConvention`).
  static func evaluateModuleLayers<Scalar: RNNScalar>(
    _ network: Network<Scalar>, _ m: ModuleConfig, _ call: CallConfig, _ native: NamedTensors<Scalar>
  ) throws -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>) {
    let inputs = InputReader(native)
    var allowed = ["input", "h0"]
    if m.kind.isLSTM { allowed.append("c0") }
    if call.packed { allowed.append("lengths") }
    try checkInputNames(inputs, allowed: allowed, m)
    let mod = "nn.\(m.kind.rawValue)"
    let x = try inputs.require("input", "\(mod) needs the input sequence")
    let layoutText = m.batchFirst ? "(N, T, input_size) with batch_first=True" : "(T, N, input_size)"
    guard x.rank == 2 || x.rank == 3, x.shape.last == m.inputSize else {
      throw RNNRefError.shapeMismatch(
        name: "input", actual: x.shape,
        expected: x.rank == 2 ? [x.shape[0], m.inputSize] : Array(x.shape.dropLast().prefix(2)) + [m.inputSize],
        reason: "\(mod) takes \(layoutText) or unbatched (T, input_size); input_size=\(m.inputSize)")
    }
    let batched = x.rank == 3
    if let b = call.batched, b != batched {
      throw RNNRefError.invalidConfig(
        key: "call.batched", value: "\(b)",
        reason: "input has shape \(x.shape) (rank \(x.rank)): batched input is rank 3, unbatched rank 2")
    }
    // Time-major (T, N, I).
    let xt = batched ? StateLayout.timeMajor(x, batchMajor: m.batchFirst) : x.reshaped([x.shape[0], 1, m.inputSize])
    let steps = xt.shape[0], n = xt.shape[1]
    let ld = m.numLayers * m.directions
    let hout = m.outputSize

    // Initial states (L*D, N, Hout) / (L*D, N, H), indexed layer*D + dir.
    let (h0, c0) = try stateTuple(inputs, h: "h0", c: "c0", m, call, flag: "initial_state")
    var initial: [[LayerState<Scalar>]]? = nil
    if let h0 {
      let hShape = batched ? [ld, n, hout] : [ld, hout]
      try inputs.check("h0", h0, shape: hShape,
                       "(num_layers*num_directions, " + (batched ? "N, " : "") + (m.projSize > 0 ? "proj_size" : "hidden_size")
                         + ") = \(hShape); h0 is never batch-first")
      let cShape = batched ? [ld, n, m.hiddenSize] : [ld, m.hiddenSize]
      if let c0 {
        try inputs.check("c0", c0, shape: cShape,
                         "(num_layers*num_directions, " + (batched ? "N, " : "") + "hidden_size) = \(cShape)")
      }
      initial = StateLayout.layerStates(h: h0.reshaped([ld, n, hout]), c: c0?.reshaped([ld, n, m.hiddenSize]),
                                        layers: m.numLayers, directions: m.directions)
    }

    // Packed sequences: a valid prefix per sample.
    var mask: StepMask? = nil
    var outSteps = steps
    if call.packed {
      guard batched else {
        throw RNNRefError.invalidConfig(key: "call.packed", value: "true",
                                        reason: "pack_padded_sequence needs a batched input; input has shape \(x.shape)")
      }
      _ = try inputs.require("lengths", "config call.packed is true: lengths (N) int64")
      let lengths = try inputs.lengths("lengths", batch: n, in: 1...steps, shapeMeaning: "one length per sample, N=\(n)",
                                       why: "T of the input; torch rejects zero lengths") ?? []
      if call.enforceSorted, zip(lengths, lengths.dropFirst()).contains(where: { $0 < $1 }) {
        throw RNNRefError.invalidConfig(
          key: "call.enforce_sorted", value: "true",
          reason: "lengths \(lengths) are not sorted in decreasing order, which torch rejects; sort the batch or pass enforce_sorted=False")
      }
      let maxLength = lengths.max() ?? 0
      if let total = call.totalLength {
        guard total >= maxLength else {
          throw RNNRefError.invalidConfig(
            key: "call.total_length", value: "\(total)",
            reason: "smaller than the longest sequence (\(maxLength)), which pad_packed_sequence rejects")
        }
        outSteps = total
      } else {
        outSteps = maxLength
      }
      mask = StepMask(lengths: lengths, steps: steps)
    }

    let result = try Engine.run(network, input: xt, mask: mask, initialStates: initial)
    let width = m.directions * hout
    // A layer's merged sequence (T, N, D*Hout) as torch returns `output`.
    func asNative(_ merged: Tensor<Scalar>) -> Tensor<Scalar> {
      var y = merged
      if outSteps < steps {
        y = y.slice(axis: 0, range: 0..<outSteps)
      } else if outSteps > steps {
        y = Tensor.concatenate([y, Tensor(uncheckedZeros: [outSteps - steps, n, width])], axis: 0)
      }
      return batched ? StateLayout.native(y, batchMajor: m.batchFirst) : y.reshaped([outSteps, width])
    }
    let output = asNative(result.last.merged)
    let layerOutputs = NamedTensors(result.layers.enumerated().map { (name: "l\($0.offset)", tensor: asNative($0.element.merged)) })

    // (L*D, N, Hout), index layer*D + dir
    let hn = StateLayout.stackLayers(result.layers.map { $0.finalStates.map(\.h) })
    var out = NamedTensors<Scalar>([("output", output), ("h_n", batched ? hn : hn.reshaped([ld, hout]))])
    if m.kind.isLSTM {
      let cs = try result.layers.map { layer in
        try layer.finalStates.map { s -> Tensor<Scalar> in
          guard let c = s.c else {
            throw RNNRefError.unsupported(framework: framework, feature: "an LSTM final state without c (engine returned none)")
          }
          return c
        }
      }
      let cn = StateLayout.stackLayers(cs)
      out.append("c_n", batched ? cn : cn.reshaped([ld, m.hiddenSize]))
    }
    return (out, layerOutputs)
  }

  // MARK: - Reports

  public static func axisNames(output: String, config: Config) -> [String]? {
    let m = config.module
    let batched = config.call.batched ?? true
    switch output {
    case "output":
      if !batched { return ["step", "unit"] }
      return m.batchFirst ? ["batch", "step", "unit"] : ["step", "batch", "unit"]
    case "h_n", "c_n":
      return batched ? ["layer*dir", "batch", "unit"] : ["layer*dir", "unit"]
    case "h", "c":
      return batched ? ["batch", "unit"] : ["unit"]
    default:
      return nil
    }
  }

  /// The layouts of `evaluateCell` and `evaluateModuleLayers`, from the shape of `input`
  /// (`FrameworkConvention.outputShapes`). With packed sequences the steps of `output` are
  /// the longest length unless `total_length` is given: a value, so nil.
  public static func outputShapes(config: Config, weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]? {
    let m = config.module
    guard let x = inputs["input"], x.last == m.inputSize else { return nil }
    var shapes: [String: [Int?]] = [:]
    if m.kind.isCell {
      guard x.count == 1 || x.count == 2 else { return nil }
      let state: [Int?] = x.count == 2 ? [x[0], m.hiddenSize] : [m.hiddenSize]
      shapes["h"] = state
      if m.kind.isLSTM { shapes["c"] = state }
      return shapes
    }
    guard x.count == 2 || x.count == 3 else { return nil }
    let batched = x.count == 3
    if let b = config.call.batched, b != batched { return nil }
    let steps = batched && m.batchFirst ? x[1] : x[0]
    let n = batched ? (m.batchFirst ? x[0] : x[1]) : nil
    let outSteps: Int? = config.call.packed ? config.call.totalLength : steps
    let ld = m.numLayers * m.directions, width = m.directions * m.outputSize
    func state(_ unit: Int) -> [Int?] { batched ? [ld, n, unit] : [ld, unit] }
    shapes["output"] = !batched ? [outSteps, width] : m.batchFirst ? [n, outSteps, width] : [outSteps, n, width]
    shapes["h_n"] = state(m.outputSize)
    if m.kind.isLSTM { shapes["c_n"] = state(m.hiddenSize) }
    return shapes
  }
}
