/// ONNX `LSTM`, `GRU` and `RNN` operators (opset 7 to 22; fixtures at opset 22), as
/// ONNX Runtime runs them. One node is one canonical layer.
///
/// Native tensors (D = num_directions: 2 for `direction = "bidirectional"`, else 1;
/// H = `hidden_size`, I = input size, T steps, N batch):
/// - `W: [D, G*H, I]`, `R: [D, G*H, H]`, `B: [D, 2*G*H]` (`Wb` then `Rb`), LSTM `P: [D, 3H]`.
/// - gate order: LSTM **i, o, f, c** (canonical i, f, g, o); GRU **z, r, h** (canonical z, r, n);
///   RNN one block. Peepholes `P` in order **i, o, f**; `o` uses the new cell state.
/// - direction index 0 is forward, 1 the reverse direction.
/// - inputs: `X: [T, N, I]` (`layout = 0`) or `[N, T, I]` (`layout = 1`); `sequence_lens: [N]`
///   (int32); `initial_h`, `initial_c: [D, N, H]` (`layout = 1`: `[N, D, H]`).
/// - outputs: `Y: [T, D, N, H]` (`layout = 1`: `[N, T, D, H]`); `Y_h`, `Y_c: [D, N, H]`
///   (`layout = 1`: `[N, D, H]`). The reverse direction's `Y` is aligned to input time.
///
/// Attributes: `activations` lists f, g, h (LSTM; GRU f, g; RNN f) for the forward
/// direction, then the reverse one; `activation_alpha` / `activation_beta` are consumed
/// in that order by the functions that take them (Affine, LeakyRelu, ThresholdedRelu,
/// ScaledTanh, HardSigmoid, Elu take alpha; Affine, ScaledTanh, HardSigmoid take beta),
/// with two counters. Missing values default as the ONNX operators do (LeakyRelu 0.01,
/// ThresholdedRelu 1.0, HardSigmoid 0.2/0.5, Elu 1.0, Affine 1.0/0.0; ScaledTanh has no
/// operator default, 1.0/1.0 here). `clip` clamps every activation's input; `input_forget`
/// couples f = 1 - i; GRU `linear_before_reset = 1` applies r after `H Rh + Rbh`.
/// Float attributes are float32 in ONNX and are rounded to float32 here.
///
/// Run-time conventions of ONNX Runtime (checked by running 1.31.1, see
/// fixtures/README.md): `Y` past a sample's length is zeros (onnxruntime#12492) and
/// `Y_h`/`Y_c` hold the state at that length; a sample of length 0 gives `Y_h = Y_c = 0`
/// (not its initial state). Where ONNX Runtime departs from the spec this adapter follows
/// the spec: `clip` on the cell state entering h, defaults of ThresholdedRelu and Affine
/// (listed in fixtures/expected-failures.json).
///
/// Native config (`config` of a case):
/// `{"op_type": "LSTM", "opset": 22, "attributes": {...}, "inputs_present": ["X", "W", "R", "", ...],
///   "outputs_requested": ["Y", "", "Y_c"]}`; `inputs_present` / `outputs_requested` are the
/// node's input and output lists ("" = absent). Without them, the weights and inputs given
/// decide what is present and every output is returned.
public enum ONNX: NetworkConvention {
  public static let framework = Framework.onnx
  /// The opset `exportNetwork` writes.
  public static let exportOpset = 22

  // MARK: - Node description

  enum OpType: String, CaseIterable {
    case lstm = "LSTM", gru = "GRU", rnn = "RNN"
    var gates: Int { switch self { case .lstm: 4; case .gru: 3; case .rnn: 1 } }
    /// Activations per direction.
    var activationCount: Int { switch self { case .lstm: 3; case .gru: 2; case .rnn: 1 } }
    var defaultActivations: [String] {
      switch self { case .lstm: ["Sigmoid", "Tanh", "Tanh"]; case .gru: ["Sigmoid", "Tanh"]; case .rnn: ["Tanh"] }
    }
    /// Positional node inputs.
    var inputOrder: [String] {
      switch self {
      case .lstm: ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
      case .gru, .rnn: ["X", "W", "R", "B", "sequence_lens", "initial_h"]
      }
    }
    var outputOrder: [String] { self == .lstm ? ["Y", "Y_h", "Y_c"] : ["Y", "Y_h"] }
    var weightNames: [String] { self == .lstm ? ["W", "R", "B", "P"] : ["W", "R", "B"] }
    var runtimeInputNames: [String] { self == .lstm ? ["X", "sequence_lens", "initial_h", "initial_c"] : ["X", "sequence_lens", "initial_h"] }
    var knownAttributes: Set<String> {
      var s: Set<String> = ["hidden_size", "direction", "layout", "clip", "activations", "activation_alpha", "activation_beta"]
      if self == .lstm { s.insert("input_forget") }
      if self == .gru { s.insert("linear_before_reset") }
      return s
    }
  }

  /// The positional inputs and outputs of the recurrent operator `opType` ("LSTM", "GRU",
  /// "RNN"; nil for any other), and which inputs are weights (W, R, B, P) rather than run-time
  /// inputs: what a graph reader needs to call `evaluate` on one node (ONNXImport).
  public static func nodeSignature(opType: String) -> (inputs: [String], outputs: [String], weights: Set<String>)? {
    guard let op = OpType(rawValue: opType) else { return nil }
    return (op.inputOrder, op.outputOrder, Set(op.weightNames))
  }

  public typealias Config = Node

  public static func parseConfig(_ json: JSONValue) throws -> Node { try Node(config: json) }

  /// A case's configuration: the node's op type and attributes, parsed once.
  public struct Node: Equatable {
    var op: OpType
    var inputsPresent: [String]?
    var outputsRequested: [String]?
    var direction: Direction
    var layout: Int
    var clip: Double?
    var inputForget: Bool
    var linearBeforeReset: Bool
    var hiddenSize: Int?
    var activationNames: [String]?
    var alphas: [Double]
    var betas: [Double]
    /// The activations per direction (forward first), alpha/beta resolved.
    var activations: [[Activation]] = []
    var numDirections: Int { direction == .bidirectional ? 2 : 1 }

    init(config: JSONValue) throws {
      let root = ConfigReader(config)
      try root.requireObject("ONNX config must be an object {\"op_type\", \"attributes\", ...}")
      let opText = "expected \"LSTM\", \"GRU\" or \"RNN\""
      guard let op = try root.enumValue("op_type", as: OpType.self, expected: opText) else { throw root.invalid("op_type", opText) }
      self.op = op
      _ = try root.int("opset", in: 7...Int.max, expected: "expected an integer opset >= 7 (LSTM/GRU/RNN versions 7, 14, 22)")
      let attrs = try root.object("attributes", expected: "expected an object of node attributes")
        ?? ConfigReader(.object([:]), path: "attributes")
      try attrs.rejectUnknownKeys(
        known: op.knownAttributes,
        reason: "not an attribute of ONNX \(op.rawValue); known: \(op.knownAttributes.sorted().joined(separator: ", "))")
      let names = "expected a list of names (\"\" for absent)"
      inputsPresent = try root.strings("inputs_present", expected: names)
      outputsRequested = try root.strings("outputs_requested", expected: names)
      if let ins = inputsPresent {
        for (k, name) in ins.enumerated() where !name.isEmpty {
          guard k < op.inputOrder.count, op.inputOrder[k] == name else {
            throw root.invalid(
              "inputs_present",
              "position \(k) of ONNX \(op.rawValue)'s inputs is `\(k < op.inputOrder.count ? op.inputOrder[k] : "none")`, got `\(name)`; order: \(op.inputOrder.joined(separator: ", "))")
          }
        }
        for required in ["X", "W", "R"] where !ins.contains(required) {
          throw root.invalid("inputs_present", "`\(required)` is a required input of ONNX \(op.rawValue)")
        }
      }
      if let outs = outputsRequested {
        for (k, name) in outs.enumerated() where !name.isEmpty {
          guard k < op.outputOrder.count, op.outputOrder[k] == name else {
            throw root.invalid(
              "outputs_requested",
              "ONNX \(op.rawValue)'s outputs are \(op.outputOrder.joined(separator: ", ")) in this order; position \(k) got `\(name)`")
          }
        }
      }
      switch try attrs.string("direction", expected: "expected \"forward\", \"reverse\" or \"bidirectional\"") ?? "forward" {
      case "forward": direction = .forward
      case "reverse": direction = .reverse
      case "bidirectional": direction = .bidirectional
      default: throw attrs.invalid("direction", "expected \"forward\", \"reverse\" or \"bidirectional\"")
      }
      layout = try attrs.int("layout", default: 0, in: 0...1, expected: "expected 0 ([T,N,I]) or 1 ([N,T,I])")
      clip = try attrs.double("clip", in: Double.leastNonzeroMagnitude...Double.infinity, expected: "expected a positive float")
        .map(ONNX.float32)
      inputForget = try attrs.int("input_forget", default: 0) != 0
      linearBeforeReset = try attrs.int("linear_before_reset", default: 0) != 0
      hiddenSize = try attrs.int("hidden_size", in: 1...Int.max, expected: "expected a positive integer")
      activationNames = try attrs.strings("activations", expected: "expected a list of names")
      alphas = try attrs.doubles("activation_alpha", expected: "expected a list of floats")?.map(ONNX.float32) ?? []
      betas = try attrs.doubles("activation_beta", expected: "expected a list of floats")?.map(ONNX.float32) ?? []
      activations = try resolveActivations()
    }

    /// The activations per direction, with alpha/beta consumed in order.
    func resolveActivations() throws -> [[Activation]] {
      let d = numDirections, k = op.activationCount
      let names = activationNames ?? Array(Array(repeating: op.defaultActivations, count: d).joined())
      guard names.count == d * k else {
        throw RNNRefError.invalidConfig(
          key: "attributes.activations", value: JSONValue.array(names.map(JSONValue.string)).jsonText,
          reason: "ONNX \(op.rawValue) with direction \(direction.rawValue) needs \(d * k) activations (\(k) per direction, forward first), got \(names.count)")
      }
      var ai = 0, bi = 0
      var parsed: [Activation] = []
      for name in names {
        let (act, usedAlpha, usedBeta) = try ONNX.activation(named: name, alphas: alphas, alphaIndex: ai, betas: betas, betaIndex: bi)
        if usedAlpha { ai += 1 }
        if usedBeta { bi += 1 }
        parsed.append(act)
      }
      if ai < alphas.count || bi < betas.count {
        throw RNNRefError.invalidConfig(
          key: ai < alphas.count ? "attributes.activation_alpha" : "attributes.activation_beta",
          value: "\(ai < alphas.count ? alphas : betas)",
          reason: "activations \(names) consume \(ai) alpha and \(bi) beta values; remove the extra ones")
      }
      return (0..<d).map { Array(parsed[($0 * k)..<(($0 + 1) * k)]) }
    }
  }

  /// ONNX float attributes are float32.
  static func float32(_ x: Double) -> Double { Double(Float(x)) }

  /// One activation by its ONNX name; returns whether it consumed an alpha and a beta.
  static func activation(named name: String, alphas: [Double], alphaIndex: Int, betas: [Double], betaIndex: Int)
    throws -> (Activation, Bool, Bool)
  {
    func alpha(_ d: Double) -> Double { alphaIndex < alphas.count ? alphas[alphaIndex] : float32(d) }
    func beta(_ d: Double) -> Double { betaIndex < betas.count ? betas[betaIndex] : float32(d) }
    switch name.lowercased() {
    case "sigmoid": return (.sigmoid, false, false)
    case "tanh": return (.tanh, false, false)
    case "relu": return (.relu, false, false)
    case "softsign": return (.softsign, false, false)
    case "softplus": return (.softplus, false, false)
    case "affine": return (.affine(alpha: alpha(1.0), beta: beta(0.0)), true, true)
    case "leakyrelu": return (.leakyRelu(alpha: alpha(0.01)), true, false)
    case "thresholdedrelu": return (.thresholdedRelu(alpha: alpha(1.0)), true, false)
    case "scaledtanh": return (.scaledTanh(alpha: alpha(1.0), beta: beta(1.0)), true, true)
    case "hardsigmoid": return (.hardSigmoid(alpha: alpha(0.2), beta: beta(0.5)), true, true)
    case "elu": return (.elu(alpha: alpha(1.0)), true, false)
    default:
      throw RNNRefError.invalidConfig(
        key: "attributes.activations", value: "\"\(name)\"",
        reason: "not an ONNX RNN activation; expected one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus")
    }
  }

  /// An activation's ONNX name and its alpha/beta (nil when it takes none), or nil when ONNX cannot express it.
  static func onnxActivation(_ a: Activation) -> (name: String, alpha: Double?, beta: Double?)? {
    switch a {
    case .sigmoid: ("Sigmoid", nil, nil)
    case .tanh: ("Tanh", nil, nil)
    case .relu: ("Relu", nil, nil)
    case .softsign: ("Softsign", nil, nil)
    case .softplus: ("Softplus", nil, nil)
    case .linear: ("Affine", 1.0, 0.0)
    case let .affine(alpha, beta): ("Affine", alpha, beta)
    case .leakyRelu(let alpha): ("LeakyRelu", alpha, nil)
    case .thresholdedRelu(let alpha): ("ThresholdedRelu", alpha, nil)
    case let .scaledTanh(alpha, beta): ("ScaledTanh", alpha, beta)
    case let .hardSigmoid(alpha, beta): ("HardSigmoid", alpha, beta)
    case .hardSigmoidKeras2: ("HardSigmoid", 0.2, 0.5)
    case .elu(let alpha): ("Elu", alpha, nil)
    // relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1); alpha is stored as float32 (1/6 rounded)
    case .hardSigmoidKeras3: ("HardSigmoid", 1.0 / 6.0, 0.5)
    case .selu, .exponential, .relu6, .silu, .gelu, .mish, .logSigmoid, .hardTanh, .hardSilu, .tanhShrink,
         .softShrink, .hardShrink, .sparsePlus, .sparseSigmoid, .squareplus: nil
    }
  }

  // MARK: - Import

  public static func importNetwork<Scalar: RNNScalar>(config: Node, weights: NamedTensors<Scalar>) throws -> Network<Scalar> {
    Network(layers: [try importLayer(node: config, weights: weights)])
  }

  static func importLayer<Scalar: RNNScalar>(node: Node, weights: NamedTensors<Scalar>) throws -> RecurrentLayer<Scalar> {
    let op = node.op, D = node.numDirections, G = op.gates
    let dirText = "direction = \(node.direction.rawValue) gives num_directions \(D)"
    var reader = WeightReader(weights)
    // Which weights the node has: from inputs_present when given, else from the weights.
    let present: Set<String> = node.inputsPresent.map { Set($0.filter { !$0.isEmpty }) } ?? Set(weights.names)
    let expected = present.intersection(op.weightNames)
    let unused = weights.names.filter { !expected.contains($0) }
    if let listed = node.inputsPresent, !unused.isEmpty, unused.allSatisfy(op.weightNames.contains) {
      throw RNNRefError.invalidConfig(
        key: "inputs_present", value: JSONValue.array(listed.map(JSONValue.string)).jsonText,
        reason: "weights \(unused.map { "`\($0)`" }.joined(separator: ", ")) are given but not node inputs; add them to inputs_present or drop them")
    }
    try reader.rejectOthers(than: expected)
    if let h = node.hiddenSize {
      try reader.checkSize(h, key: "attributes.hidden_size", fix: "set it to R's last dimension or drop it")
    }
    guard let W = reader.peek("W") else {
      throw RNNRefError.missingWeight(name: "W", expectedShape: [D, G * (node.hiddenSize ?? 0), 0],
                                      reason: "ONNX \(op.rawValue) W is [num_directions, \(G)*hidden_size, input_size]")
    }
    guard let R = reader.peek("R") else {
      throw RNNRefError.missingWeight(name: "R", expectedShape: [D, G * (node.hiddenSize ?? 0), node.hiddenSize ?? 0],
                                      reason: "ONNX \(op.rawValue) R is [num_directions, \(G)*hidden_size, hidden_size]")
    }
    let H: Int
    if let h = node.hiddenSize {
      H = h
    } else if R.rank == 3 {
      H = R.shape[2]  // hidden_size is optional in the spec: R's last axis decides
    } else {
      throw RNNRefError.shapeMismatch(name: "R", actual: R.shape, expected: [D, G, 0],
                                      reason: "R is [num_directions, \(G)*hidden_size, hidden_size] and hidden_size is not set")
    }
    // The input size is W's to say: any positive one.
    let I = W.rank == 3 && W.shape[2] > 0 ? W.shape[2] : -1
    func meaning(_ name: String, _ what: String) -> String {
      "ONNX \(op.rawValue) \(name) is \(what); \(dirText), hidden_size = \(H)"
    }
    _ = try reader.take("W", shape: [D, G * H, I], meaning("W", "[num_directions, \(G)*hidden_size, input_size]"))
    _ = try reader.take("R", shape: [D, G * H, H], meaning("R", "[num_directions, \(G)*hidden_size, hidden_size]"))
    for name in ["B", "P"] where expected.contains(name) && !reader.contains(name) {
      let shape = name == "B" ? [D, 2 * G * H] : [D, 3 * H]
      throw RNNRefError.missingWeight(name: name, expectedShape: shape,
                                      reason: "inputs_present lists `\(name)` (\(dirText), hidden_size = \(H))")
    }
    let B = try reader.takeIfPresent("B", shape: [D, 2 * G * H], meaning("B", "[num_directions, \(2 * G)*hidden_size] (Wb then Rb)"))
    let P = try reader.takeIfPresent("P", shape: [D, 3 * H], meaning("P", "[num_directions, 3*hidden_size] (i, o, f)"))
    try reader.finish()

    let acts = node.activations
    var cells: [Cell<Scalar>] = []
    // W[d]: (G*H, I) -> kernel (I, G*H); R[d]: (G*H, H) -> (H, G*H)
    let Ws = StateLayout.unstack(W, axis: 0), Rs = StateLayout.unstack(R, axis: 0)
    let Bs = B.map { StateLayout.unstack($0, axis: 0) }, Ps = P.map { StateLayout.unstack($0, axis: 0) }
    for d in 0..<D {
      let w = Ws[d], r = Rs[d]
      let b = Bs?[d] ?? Tensor(uncheckedZeros: [2 * G * H])
      let wb = b.slice(axis: 0, range: 0..<(G * H)), rb = b.slice(axis: 0, range: (G * H)..<(2 * G * H))
      switch op {
      case .lstm:
        // native i, o, f, c -> canonical i, f, g(=c), o
        let order = framework.gateOrder(.lstm).toCanonical
        var peep: LSTMCell<Scalar>.Peepholes?
        if let Ps {
          let p = Ps[d].split(3, axis: 0)  // i, o, f
          peep = .init(i: p[0], f: p[2], o: p[1])
        }
        cells.append(.lstm(LSTMCell(
          inputSize: I, hiddenSize: H,
          kernel: w.reorderingBlocks(order, axis: 0).transposed2D,
          recurrentKernel: r.reorderingBlocks(order, axis: 0).transposed2D,
          inputBias: wb.reorderingBlocks(order, axis: 0), recurrentBias: rb.reorderingBlocks(order, axis: 0),
          peepholes: peep, coupledInputForget: node.inputForget, activationClip: node.clip,
          gateActivation: acts[d][0], cellActivation: acts[d][1], outputActivation: acts[d][2])))
      case .gru:
        // z, r, h is the canonical z, r, n
        cells.append(.gru(GRUCell(
          inputSize: I, hiddenSize: H, kernel: w.transposed2D, recurrentKernel: r.transposed2D,
          inputBias: wb, recurrentBias: rb, resetAfter: node.linearBeforeReset, activationClip: node.clip,
          gateActivation: acts[d][0], candidateActivation: acts[d][1])))
      case .rnn:
        cells.append(.simple(SimpleRNNCell(
          inputSize: I, hiddenSize: H, kernel: w.transposed2D, recurrentKernel: r.transposed2D,
          inputBias: wb, recurrentBias: rb, activation: acts[d][0], activationClip: node.clip)))
      }
    }
    return RecurrentLayer(direction: node.direction, cells: cells,
                          merge: node.direction == .bidirectional ? .none : .concat,
                          padding: .zeroOutput, reverseOutputOrder: .alignedToInput)
  }

  // MARK: - Export

  public static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>) throws -> (config: JSONValue, weights: NamedTensors<Scalar>) {
    guard network.layers.count == 1, let layer = network.layers.first else {
      throw RNNRefError.unsupported(framework: framework, feature: "\(network.layers.count) stacked layers in one node (export one LSTM/GRU/RNN node per layer)")
    }
    guard layer.merge == .none || layer.merge == .concat || layer.direction != .bidirectional else {
      throw RNNRefError.unsupported(framework: framework, feature: "merge mode `\(layer.merge.rawValue)` (Y keeps the directions apart: [T, 2, N, H])")
    }
    guard layer.padding == .zeroOutput else {
      throw RNNRefError.unsupported(framework: framework, feature: "repeating the previous output past a sequence's length (ONNX Runtime writes zeros, onnxruntime#12492)")
    }
    guard layer.reverseOutputOrder == .alignedToInput else {
      throw RNNRefError.unsupported(framework: framework, feature: "time-reversed outputs of the reverse direction (Keras go_backwards): ONNX aligns them to input time")
    }
    let D = layer.cells.count
    let first = layer.cells[0]
    let op: OpType
    switch first { case .lstm: op = .lstm; case .gru: op = .gru; case .simple: op = .rnn }
    let H = first.hiddenSize, I = first.inputSize, G = op.gates
    var attrs: [String: JSONValue] = ["hidden_size": .number(Double(H))]
    if layer.direction != .forward { attrs["direction"] = .string(layer.direction.rawValue) }
    var W: [Scalar] = [], R: [Scalar] = [], B: [Scalar] = [], P: [Scalar] = []
    var names: [String] = [], alphas: [Double] = [], betas: [Double] = []
    var clip: Double?? = .none, inputForget: Bool? = nil, lbr: Bool? = nil
    var anyBias = false, anyPeephole = false
    func same<T: Equatable>(_ slot: inout T??, _ v: T?, _ what: String) throws {
      if case .some(let old) = slot, old != v {
        throw RNNRefError.unsupported(framework: framework, feature: "different \(what) per direction (one attribute per node)")
      }
      slot = .some(v)
    }
    func addActivations(_ list: [Activation]) throws {
      for a in list {
        guard let (name, alpha, beta) = onnxActivation(a) else {
          throw RNNRefError.unsupported(framework: framework, feature: "the activation \(a) (not in ONNX's RNN activation list)")
        }
        names.append(name)
        if let alpha { alphas.append(alpha) }
        if let beta { betas.append(beta) }
      }
    }
    for cell in layer.cells {
      guard cell.inputSize == I, cell.hiddenSize == H else {
        throw RNNRefError.unsupported(framework: framework, feature: "directions with different sizes")
      }
      let wb: Tensor<Scalar>, rb: Tensor<Scalar>, kernel: Tensor<Scalar>, rkernel: Tensor<Scalar>
      switch (op, cell) {
      case (.lstm, .lstm(let c)):
        if c.projection != nil { throw RNNRefError.unsupported(framework: framework, feature: "an LSTM projection (proj_size / num_proj)") }
        if c.cellClip != nil { throw RNNRefError.unsupported(framework: framework, feature: "a cell-state clip (`clip` clamps activation inputs, not the cell state)") }
        if let p = c.projectionClip { throw RNNRefError.unsupported(framework: framework, feature: "a projection clip (\(p))") }
        let inv = framework.gateOrder(.lstm).fromCanonical  // canonical i, f, g, o -> native i, o, f, c
        kernel = c.kernel.transposed2D.reorderingBlocks(inv, axis: 0)
        rkernel = c.recurrentKernel.transposed2D.reorderingBlocks(inv, axis: 0)
        var ib = c.inputBias
        if c.forgetBias != 0 {
          // a run-time forget bias (TF1) is exactly a constant added to the forget gate's bias
          for k in H..<(2 * H) { ib.scalars[k] += Scalar(c.forgetBias) }
        }
        wb = ib.reorderingBlocks(inv, axis: 0)
        rb = c.recurrentBias.reorderingBlocks(inv, axis: 0)
        if let p = c.peepholes {
          anyPeephole = true
          P += p.i.scalars + p.o.scalars + p.f.scalars
        } else {
          P += Array(repeating: 0, count: 3 * H)
        }
        try same(&clip, c.activationClip, "clip")
        if inputForget == nil { inputForget = c.coupledInputForget } else if inputForget != c.coupledInputForget {
          throw RNNRefError.unsupported(framework: framework, feature: "different input_forget per direction")
        }
        try addActivations([c.gateActivation, c.cellActivation, c.outputActivation])
      case (.gru, .gru(let c)):
        kernel = c.kernel.transposed2D; rkernel = c.recurrentKernel.transposed2D
        wb = c.inputBias; rb = c.recurrentBias
        try same(&clip, c.activationClip, "clip")
        if lbr == nil { lbr = c.resetAfter } else if lbr != c.resetAfter {
          throw RNNRefError.unsupported(framework: framework, feature: "different GRU reset placement per direction (linear_before_reset is one attribute)")
        }
        try addActivations([c.gateActivation, c.candidateActivation])
      case (.rnn, .simple(let c)):
        kernel = c.kernel.transposed2D; rkernel = c.recurrentKernel.transposed2D
        wb = c.inputBias; rb = c.recurrentBias
        try same(&clip, c.activationClip, "clip")
        try addActivations([c.activation])
      default:
        throw RNNRefError.unsupported(framework: framework, feature: "different cell kinds per direction")
      }
      W += kernel.scalars; R += rkernel.scalars
      B += wb.scalars + rb.scalars
      if (wb.scalars + rb.scalars).contains(where: { $0 != 0 }) { anyBias = true }
    }
    if names != Array(Array(repeating: op.defaultActivations, count: D).joined()) {
      attrs["activations"] = .array(names.map(JSONValue.string))
      if !alphas.isEmpty { attrs["activation_alpha"] = .array(alphas.map(JSONValue.number)) }
      if !betas.isEmpty { attrs["activation_beta"] = .array(betas.map(JSONValue.number)) }
    }
    if case .some(.some(let c)) = clip { attrs["clip"] = .number(c) }
    if inputForget == true { attrs["input_forget"] = .number(1) }
    if lbr == true { attrs["linear_before_reset"] = .number(1) }

    var weights = NamedTensors<Scalar>()
    weights.append("W", Tensor(uncheckedShape: [D, G * H, I], scalars: W))
    weights.append("R", Tensor(uncheckedShape: [D, G * H, H], scalars: R))
    var inputs = ["X", "W", "R"]
    if anyBias { weights.append("B", Tensor(uncheckedShape: [D, 2 * G * H], scalars: B)); inputs.append("B") }
    if anyPeephole {
      weights.append("P", Tensor(uncheckedShape: [D, 3 * H], scalars: P))
      inputs += (anyBias ? [] : [""]) + ["", "", "", "P"]
    }
    let config: JSONValue = .object([
      "op_type": .string(op.rawValue),
      "opset": .number(Double(exportOpset)),
      "attributes": .object(attrs),
      "inputs_present": .array(inputs.map(JSONValue.string)),
      "outputs_requested": .array(op.outputOrder.map(JSONValue.string)),
    ])
    return (config, weights)
  }

  // MARK: - Run

  public static func evaluate<Scalar: RNNScalar>(
    config node: Node, weights: NamedTensors<Scalar>, inputs native: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    let layer = try importLayer(node: node, weights: weights)
    let inputs = InputReader(native)
    let op = node.op, D = node.numDirections
    let H = layer.cells[0].hiddenSize, I = layer.cells[0].inputSize

    // Run-time inputs: exactly those the node lists.
    try inputs.rejectOthers(than: op.runtimeInputNames,
                            reason: "not a run-time input of ONNX \(op.rawValue); expected \(op.runtimeInputNames.joined(separator: ", "))")
    if let listed = node.inputsPresent {
      for name in op.runtimeInputNames where listed.contains(name) && inputs[name] == nil {
        throw RNNRefError.missingInput(name: name, reason: "inputs_present lists it")
      }
      if let extra = native.names.first(where: { !listed.contains($0) }) {
        throw RNNRefError.invalidConfig(key: "inputs_present", value: JSONValue.array(listed.map(JSONValue.string)).jsonText,
                                        reason: "input `\(extra)` is given but not a node input; add it or drop it")
      }
    }
    let X = try inputs.require("X", "the sequence input of every ONNX \(op.rawValue)")
    let layoutText = node.layout == 0 ? "layout 0: [seq_length, batch_size, input_size]" : "layout 1: [batch_size, seq_length, input_size]"
    guard X.rank == 3, X.shape[2] == I else {
      throw RNNRefError.shapeMismatch(name: "X", actual: X.shape, expected: [X.rank == 3 ? X.shape[0] : -1, X.rank == 3 ? X.shape[1] : -1, I],
                                      reason: "\(layoutText); input_size \(I) follows from W.shape[2]")
    }
    let x = StateLayout.timeMajor(X, batchMajor: node.layout == 1)  // (T, N, I)
    let T = x.shape[0], N = x.shape[1]

    let lengths = try inputs.lengths("sequence_lens", batch: N, in: 0...T, shapeMeaning: "one length per sample; batch_size \(N) from X",
                                     why: "seq_length of X, as ONNX Runtime requires")
    let stateShape = node.layout == 0 ? [D, N, H] : [N, D, H]
    let stateText = node.layout == 0 ? "[num_directions, batch_size, hidden_size]" : "[batch_size, num_directions, hidden_size] (layout 1)"
    func states(_ name: String) throws -> [Tensor<Scalar>]? {
      guard let s = try inputs.optional(name, shape: stateShape,
                                        "\(stateText); direction = \(node.direction.rawValue), batch_size \(N) from X, hidden_size \(H)")
      else { return nil }
      // (D, N, H), or (N, D, H) with layout 1
      return StateLayout.unstack(StateLayout.swapLeadingAxes(s, if: node.layout == 1), axis: 0)
    }
    let h0 = try states("initial_h")
    let c0 = op == .lstm ? try states("initial_c") : nil
    var initial: [LayerState<Scalar>]? = nil
    if h0 != nil || c0 != nil {
      initial = (0..<D).map { d in
        LayerState(h: h0?[d] ?? Tensor(uncheckedZeros: [N, H]), c: op == .lstm ? (c0?[d] ?? Tensor(uncheckedZeros: [N, H])) : nil)
      }
    }
    let mask = lengths.map { StepMask(lengths: $0, steps: T) }
    let out = try Engine.run(layer, input: x, mask: mask, initialStates: initial)

    // Y: per direction (T, N, H) -> [T, D, N, H]
    var Y = StateLayout.stack(out.directionOutputs, axis: 1)
    var finals = out.finalStates
    if let lengths {
      // ONNX Runtime: a sample of length 0 has Y_h = Y_c = 0, not its initial state.
      for (n, len) in lengths.enumerated() where len == 0 {
        for d in 0..<D {
          for k in 0..<H {
            finals[d].h.scalars[n * H + k] = 0
            finals[d].c?.scalars[n * H + k] = 0
          }
        }
      }
    }
    // [D, N, H], or [N, D, H] with layout 1
    let Yh = StateLayout.swapLeadingAxes(StateLayout.stack(finals.map(\.h), axis: 0), if: node.layout == 1)
    let Yc = op == .lstm
      ? StateLayout.swapLeadingAxes(StateLayout.stack(finals.map { $0.c ?? Tensor(uncheckedZeros: [N, H]) }, axis: 0), if: node.layout == 1)
      : nil
    if node.layout == 1 { Y = Y.transposed([2, 0, 1, 3]) }
    let requested = node.outputsRequested ?? op.outputOrder
    var result = NamedTensors<Scalar>()
    for name in requested where !name.isEmpty {
      switch name {
      case "Y": result.append("Y", Y)
      case "Y_h": result.append("Y_h", Yh)
      case "Y_c": if let Yc { result.append("Y_c", Yc) }
      default: break
      }
    }
    return result
  }

  public static func axisNames(output: String, config node: Node) -> [String]? {
    let layout = node.layout
    switch output {
    case "Y": return layout == 0 ? ["step", "direction", "batch", "unit"] : ["batch", "step", "direction", "unit"]
    case "Y_h", "Y_c": return layout == 0 ? ["direction", "batch", "unit"] : ["batch", "direction", "unit"]
    default: return nil
    }
  }

  /// The layouts `evaluate` gives Y, Y_h and Y_c, from the shapes of X and R (hidden_size is
  /// R's last dimension, as `importLayer` reads it) (`FrameworkConvention.outputShapes`).
  public static func outputShapes(config node: Node, weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]? {
    guard let X = inputs["X"], X.count == 3, let R = weights["R"], R.count == 3 else { return nil }
    let D = node.numDirections, H = R[2]
    let (T, N) = node.layout == 0 ? (X[0], X[1]) : (X[1], X[0])
    let state: [Int?] = node.layout == 0 ? [D, N, H] : [N, D, H]
    var shapes: [String: [Int?]] = ["Y": node.layout == 0 ? [T, D, N, H] : [N, T, D, H], "Y_h": state]
    if node.op == .lstm { shapes["Y_c"] = state }
    return shapes
  }
}
