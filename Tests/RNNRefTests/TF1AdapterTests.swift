import Testing
@testable import RNNRef
import _TestSupport

/// TF1 adapter: import/export round trips, gate placement, state layouts and
/// loading errors. No golden numbers: expected tensors come only from fixtures
/// (run with `rnnconf run fixtures/tf1`).
@Suite struct TF1AdapterTests {
  // MARK: helpers

  /// Deterministic pseudo-random tensor (a round trip needs distinct values, not golden ones).
  static func random<S: RNNScalar>(_ shape: [Int], seed: inout UInt64) -> Tensor<S> {
    var rng = Rand(state: seed)
    defer { seed = rng.state }
    return .random(shape, rng: &rng)
  }

  static func config(_ text: String) -> JSONValue { try! JSONValue(parsing: text) }

  /// Native weights with the shapes a config asks for, in TF's variable order.
  static func weights<S: RNNScalar>(_ spec: [(String, [Int])], seed: UInt64 = 1) -> NamedTensors<S> {
    var s = seed
    return NamedTensors(spec.map { ($0.0, random($0.1, seed: &s)) })
  }

  static let dtypeFloat = #""dtype":"float32""#

  /// Configs in the form `exportNetwork` writes, with their weights (I = 3).
  static func normalForms<S: RNNScalar>(_: S.Type) -> [(String, NamedTensors<S>)] {
    let dt = S.self == Double.self ? "float64" : "float32"
    let dyn = #""driver":"dynamic_rnn","driver_kwargs":{"dtype":"\#(dt)","time_major":false},"scope":null"#
    return [
      (#"{"cell":{"class":"BasicRNNCell","kwargs":{"num_units":4}},\#(dyn)}"#,
       weights([("rnn/basic_rnn_cell/kernel", [7, 4]), ("rnn/basic_rnn_cell/bias", [4])])),
      (#"{"cell":{"class":"BasicRNNCell","kwargs":{"num_units":2,"activation":"relu"}},\#(dyn)}"#,
       weights([("rnn/basic_rnn_cell/kernel", [5, 2]), ("rnn/basic_rnn_cell/bias", [2])])),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4}},\#(dyn)}"#,
       weights([("rnn/lstm_cell/kernel", [7, 16]), ("rnn/lstm_cell/bias", [16])])),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"forget_bias":0,"activation":"softsign"}},\#(dyn)}"#,
       weights([("rnn/lstm_cell/kernel", [7, 16]), ("rnn/lstm_cell/bias", [16])])),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true,"cell_clip":0.5,"num_proj":2,"proj_clip":0.25,"forget_bias":0.5}},\#(dyn)}"#,
       weights([("rnn/lstm_cell/kernel", [5, 16]), ("rnn/lstm_cell/bias", [16]), ("rnn/lstm_cell/w_f_diag", [4]),
                ("rnn/lstm_cell/w_i_diag", [4]), ("rnn/lstm_cell/w_o_diag", [4]), ("rnn/lstm_cell/projection/kernel", [4, 2])])),
      (#"{"cell":{"class":"GRUCell","kwargs":{"num_units":3}},\#(dyn)}"#,
       weights([("rnn/gru_cell/gates/kernel", [6, 6]), ("rnn/gru_cell/gates/bias", [6]),
                ("rnn/gru_cell/candidate/kernel", [6, 3]), ("rnn/gru_cell/candidate/bias", [3])])),
      (#"{"cell":{"class":"MultiRNNCell","state_is_tuple":true,"cells":[{"class":"LSTMCell","kwargs":{"num_units":4,"num_proj":2}},{"class":"GRUCell","kwargs":{"num_units":3,"activation":"relu"}},{"class":"BasicRNNCell","kwargs":{"num_units":2}}]},\#(dyn)}"#,
       weights([("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [5, 16]), ("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [16]),
                ("rnn/multi_rnn_cell/cell_0/lstm_cell/projection/kernel", [4, 2]),
                ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel", [5, 6]), ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias", [6]),
                ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel", [5, 3]), ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias", [3]),
                ("rnn/multi_rnn_cell/cell_2/basic_rnn_cell/kernel", [5, 2]), ("rnn/multi_rnn_cell/cell_2/basic_rnn_cell/bias", [2])])),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true}},"cell_bw":{"class":"GRUCell","kwargs":{"num_units":2}},"driver":"bidirectional_dynamic_rnn","driver_kwargs":{"dtype":"\#(dt)","time_major":false},"scope":null}"#,
       weights([("bidirectional_rnn/fw/lstm_cell/kernel", [7, 16]), ("bidirectional_rnn/fw/lstm_cell/bias", [16]),
                ("bidirectional_rnn/fw/lstm_cell/w_f_diag", [4]), ("bidirectional_rnn/fw/lstm_cell/w_i_diag", [4]),
                ("bidirectional_rnn/fw/lstm_cell/w_o_diag", [4]),
                ("bidirectional_rnn/bw/gru_cell/gates/kernel", [5, 4]), ("bidirectional_rnn/bw/gru_cell/gates/bias", [4]),
                ("bidirectional_rnn/bw/gru_cell/candidate/kernel", [5, 2]), ("bidirectional_rnn/bw/gru_cell/candidate/bias", [2])])),
      (#"{"cell":{"class":"BasicRNNCell","kwargs":{"num_units":3}},"cell_bw":{"class":"BasicRNNCell","kwargs":{"num_units":3}},"driver":"static_bidirectional_rnn","driver_kwargs":{"dtype":"\#(dt)"},"scope":null}"#,
       weights([("bidirectional_rnn/fw/basic_rnn_cell/kernel", [6, 3]), ("bidirectional_rnn/fw/basic_rnn_cell/bias", [3]),
                ("bidirectional_rnn/bw/basic_rnn_cell/kernel", [6, 3]), ("bidirectional_rnn/bw/basic_rnn_cell/bias", [3])])),
    ]
  }

  // MARK: round trips

  func importExportIsIdentity<S: RNNScalar>(_: S.Type) throws {
    for (text, w) in Self.normalForms(S.self) {
      let cfg = Self.config(text)
      let net: Network<S> = try TF1.importNetwork(config: cfg, weights: w)
      let (cfg2, w2) = try TF1.exportNetwork(net)
      #expect(cfg2 == cfg, "config round trip of \(text)")
      #expect(w2.names == w.names, "weight names/order of \(text)")
      #expect(w2 == w, "weights of \(text)")
      // and canonical -> native -> canonical
      #expect(try TF1.importNetwork(config: cfg2, weights: w2) == net)
    }
  }
  @Test func importExportIsIdentityFloat() throws { try importExportIsIdentity(Float.self) }
  @Test func importExportIsIdentityDouble() throws { try importExportIsIdentity(Double.self) }

  /// Options export normalises (BasicLSTMCell -> LSTMCell, scope and cell names,
  /// state_is_tuple) keep the canonical network unchanged.
  func normalisedFormsKeepTheNetwork<S: RNNScalar>(_: S.Type) throws {
    let cases: [(String, NamedTensors<S>)] = [
      (#"{"cell":{"class":"BasicLSTMCell","kwargs":{"num_units":3,"forget_bias":2.5,"state_is_tuple":false}},"driver":"static_rnn","driver_kwargs":{},"scope":"enc"}"#,
       Self.weights([("enc/basic_lstm_cell/kernel", [5, 12]), ("enc/basic_lstm_cell/bias", [12])])),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":3,"name":"my_lstm"}},"driver":"dynamic_rnn","driver_kwargs":{"time_major":true},"scope":"encoder"}"#,
       Self.weights([("encoder/my_lstm/kernel", [5, 12]), ("encoder/my_lstm/bias", [12])])),
      (#"{"cell":{"class":"MultiRNNCell","state_is_tuple":false,"cells":[{"class":"BasicLSTMCell","kwargs":{"num_units":2,"state_is_tuple":false}},{"class":"GRUCell","kwargs":{"num_units":2}}]}}"#,
       Self.weights([("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel", [4, 8]), ("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", [8]),
                     ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel", [4, 4]), ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias", [4]),
                     ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel", [4, 2]), ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias", [2])])),
    ]
    for (text, w) in cases {
      let net: Network<S> = try TF1.importNetwork(config: Self.config(text), weights: w)
      let (cfg2, w2) = try TF1.exportNetwork(net)
      #expect(try TF1.importNetwork(config: cfg2, weights: w2) == net, "\(text)")
    }
  }
  @Test func normalisedFormsKeepTheNetworkFloat() throws { try normalisedFormsKeepTheNetwork(Float.self) }
  @Test func normalisedFormsKeepTheNetworkDouble() throws { try normalisedFormsKeepTheNetwork(Double.self) }

  // MARK: conventions

  /// Native LSTM blocks i, j, f, o land in canonical i, f, g, o; the first I kernel
  /// rows are the input part; forget_bias is kept apart from the stored bias.
  @Test func lstmGatePlacement() throws {
    let I = 2, H = 3
    // kernel value = 10*block + (row < I ? 1 : 2); bias value = block
    var k = Tensor<Double>(uncheckedZeros: [I + H, 4 * H])
    for r in 0..<(I + H) { for c in 0..<(4 * H) { k[[r, c]] = Double(10 * (c / H) + (r < I ? 1 : 2)) } }
    let b = Tensor<Double>(uncheckedShape: [4 * H], scalars: (0..<(4 * H)).map { Double($0 / H) })
    let cfg = Self.config(#"{"cell":{"class":"BasicLSTMCell","kwargs":{"num_units":3,"forget_bias":0.75}},"driver":"dynamic_rnn"}"#)
    let net = try TF1.importNetwork(config: cfg, weights: NamedTensors([("rnn/basic_lstm_cell/kernel", k), ("rnn/basic_lstm_cell/bias", b)]))
    guard case .lstm(let c) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); return }
    let nativeOfCanonical = [0, 2, 1, 3]  // canonical i,f,g,o come from native i,f(2),j(1),o
    for (g, nb) in nativeOfCanonical.enumerated() {
      #expect(c.kernel.split(4, axis: 1)[g].scalars.allSatisfy { $0 == Double(10 * nb + 1) })
      #expect(c.recurrentKernel.split(4, axis: 1)[g].scalars.allSatisfy { $0 == Double(10 * nb + 2) })
      #expect(c.inputBias.split(4, axis: 0)[g].scalars.allSatisfy { $0 == Double(nb) })
    }
    #expect(c.recurrentBias.scalars.allSatisfy { $0 == 0 })
    #expect(c.forgetBias == 0.75)
    #expect(c.kernel.shape == [I, 4 * H] && c.recurrentKernel.shape == [H, 4 * H])
  }

  /// GRUCell gates [r, u] and candidate go to canonical z(=u), r, n; reset before the matmul.
  @Test func gruGatePlacement() throws {
    let I = 2, H = 2
    var gk = Tensor<Float>(uncheckedZeros: [I + H, 2 * H])
    for r in 0..<(I + H) { for c in 0..<(2 * H) { gk[[r, c]] = Float(c / H + 1) } }  // r block 1, u block 2
    let ck = Tensor<Float>(uncheckedShape: [I + H, H], scalars: Array(repeating: 3, count: (I + H) * H))
    let w = NamedTensors<Float>([
      ("rnn/gru_cell/gates/kernel", gk), ("rnn/gru_cell/gates/bias", Tensor(uncheckedShape: [4], scalars: [1, 1, 2, 2])),
      ("rnn/gru_cell/candidate/kernel", ck), ("rnn/gru_cell/candidate/bias", Tensor(uncheckedShape: [2], scalars: [3, 3])),
    ])
    let net = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"GRUCell","kwargs":{"num_units":2}}}"#), weights: w)
    guard case .gru(let c) = net.layers[0].cells[0] else { Issue.record("not a GRU"); return }
    #expect(!c.resetAfter)
    for (g, v) in [Float(2), 1, 3].enumerated() {  // z = u, r = r, n = candidate
      #expect(c.kernel.split(3, axis: 1)[g].scalars.allSatisfy { $0 == v })
      #expect(c.recurrentKernel.split(3, axis: 1)[g].scalars.allSatisfy { $0 == v })
      #expect(c.inputBias.split(3, axis: 0)[g].scalars.allSatisfy { $0 == v })
    }
  }

  /// A bidirectional driver over MultiRNNCell stacks is two independent stacks:
  /// not a canonical Network, said so by name.
  @Test func bidirectionalStacksAreNotANetwork() throws {
    let cfg = Self.config(#"{"cell":{"class":"MultiRNNCell","cells":[{"class":"GRUCell","kwargs":{"num_units":2}},{"class":"GRUCell","kwargs":{"num_units":2}}]},"cell_bw":{"class":"GRUCell","kwargs":{"num_units":2}},"driver":"bidirectional_dynamic_rnn"}"#)
    var spec: [(String, [Int])] = []
    for k in 0..<2 {
      let p = "bidirectional_rnn/fw/multi_rnn_cell/cell_\(k)/gru_cell/"
      spec += [(p + "gates/kernel", [4, 4]), (p + "gates/bias", [4]), (p + "candidate/kernel", [4, 2]), (p + "candidate/bias", [2])]
    }
    let p = "bidirectional_rnn/bw/gru_cell/"
    spec += [(p + "gates/kernel", [4, 4]), (p + "gates/bias", [4]), (p + "candidate/kernel", [4, 2]), (p + "candidate/bias", [2])]
    let w: NamedTensors<Float> = Self.weights(spec)
    #expect {
      _ = try TF1.importNetwork(config: cfg, weights: w)
    } throws: { error in
      guard case RNNRefError.unsupported(_, let feature) = error else { return false }
      return feature.contains("MultiRNNCell") && feature.contains("2 forward")
    }
  }

  // MARK: state layouts (properties, through the engine)

  /// `state_is_tuple=False` is concat([c, h]) of the tuple form, in and out; time_major
  /// only transposes inputs and outputs.
  func stateLayoutsAgree<S: RNNScalar>(_: S.Type) throws {
    let N = 2, T = 4, I = 3, H = 3, P = 2
    var seed: UInt64 = 7
    let w: NamedTensors<S> = Self.weights([("rnn/lstm_cell/kernel", [I + P, 4 * H]), ("rnn/lstm_cell/bias", [4 * H]),
                                          ("rnn/lstm_cell/projection/kernel", [H, P])], seed: 3)
    let x: Tensor<S> = Self.random([N, T, I], seed: &seed)
    let c0: Tensor<S> = Self.random([N, H], seed: &seed), h0: Tensor<S> = Self.random([N, P], seed: &seed)
    let lengths = Tensor<S>(uncheckedShape: [N], scalars: [4, 2])
    let tuple = try TF1.evaluate(
      config: Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":3,"num_proj":2}},"driver":"dynamic_rnn","driver_kwargs":{"sequence_length":"sequence_length","initial_state":"initial_state"}}"#),
      weights: w, inputs: NamedTensors([("inputs", x), ("sequence_length", lengths), ("initial_state/c", c0), ("initial_state/h", h0)]))
    #expect(tuple.names == ["outputs", "state/c", "state/h"])
    let flat = try TF1.evaluate(
      config: Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":3,"num_proj":2,"state_is_tuple":false}},"driver":"dynamic_rnn","driver_kwargs":{"time_major":true,"sequence_length":"sequence_length","initial_state":"initial_state"}}"#),
      weights: w, inputs: NamedTensors([("inputs", x.transposed([1, 0, 2])), ("sequence_length", lengths),
                                        ("initial_state", Tensor.concatenate([c0, h0], axis: 1))]))
    #expect(flat.names == ["outputs", "state"])
    #expect(flat["outputs"]! == tuple["outputs"]!.transposed([1, 0, 2]))
    #expect(flat["state"]! == Tensor.concatenate([tuple["state/c"]!, tuple["state/h"]!], axis: 1))
    #expect(tuple["outputs"]!.shape == [N, T, P])
    // past its length, sample 1 outputs zeros
    #expect(tuple["outputs"]!.slice(axis: 0, range: 1..<2).slice(axis: 1, range: 2..<4).scalars.allSatisfy { $0 == 0 })
  }
  @Test func stateLayoutsAgreeFloat() throws { try stateLayoutsAgree(Float.self) }
  @Test func stateLayoutsAgreeDouble() throws { try stateLayoutsAgree(Double.self) }

  /// Reverses axis 0 (time) of a `(T, ...)` tensor.
  static func flipTime<S: RNNScalar>(_ t: Tensor<S>) -> Tensor<S> {
    Tensor.concatenate((0..<t.shape[0]).reversed().map { t.slice(axis: 0, range: $0..<($0 + 1)) }, axis: 0)
  }

  /// The two bidirectional drivers agree (static = per-step concat of dynamic's pair),
  /// and the backward direction is flip, run forward, flip.
  func bidirectionalProperties<S: RNNScalar>(_: S.Type) throws {
    let N = 3, T = 5, I = 2
    var seed: UInt64 = 21
    let lstm = #"{"class":"LSTMCell","kwargs":{"num_units":3,"use_peepholes":true}}"#
    let gru = #"{"class":"GRUCell","kwargs":{"num_units":2}}"#
    let w: NamedTensors<S> = Self.weights([
      ("bidirectional_rnn/fw/lstm_cell/kernel", [I + 3, 12]), ("bidirectional_rnn/fw/lstm_cell/bias", [12]),
      ("bidirectional_rnn/fw/lstm_cell/w_f_diag", [3]), ("bidirectional_rnn/fw/lstm_cell/w_i_diag", [3]),
      ("bidirectional_rnn/fw/lstm_cell/w_o_diag", [3]),
      ("bidirectional_rnn/bw/gru_cell/gates/kernel", [I + 2, 4]), ("bidirectional_rnn/bw/gru_cell/gates/bias", [4]),
      ("bidirectional_rnn/bw/gru_cell/candidate/kernel", [I + 2, 2]), ("bidirectional_rnn/bw/gru_cell/candidate/bias", [2]),
    ], seed: 13)
    let x: Tensor<S> = Self.random([T, N, I], seed: &seed)
    let lengths = Tensor<S>(uncheckedShape: [N], scalars: [5, 2, 4])
    let dyn = try TF1.evaluate(
      config: Self.config(#"{"cell":\#(lstm),"cell_bw":\#(gru),"driver":"bidirectional_dynamic_rnn","driver_kwargs":{"time_major":true}}"#),
      weights: w, inputs: NamedTensors([("inputs", x), ("sequence_length", lengths)]))
    #expect(dyn.names == ["outputs_fw", "outputs_bw", "state_fw/c", "state_fw/h", "state_bw"])
    let stat = try TF1.evaluate(
      config: Self.config(#"{"cell":\#(lstm),"cell_bw":\#(gru),"driver":"static_bidirectional_rnn"}"#),
      weights: w, inputs: NamedTensors([("inputs", x), ("sequence_length", lengths)]))
    #expect(stat.names == ["outputs", "state_fw/c", "state_fw/h", "state_bw"])
    #expect(stat["outputs"]! == Tensor.concatenate([dyn["outputs_fw"]!, dyn["outputs_bw"]!], axis: 2))
    for n in ["state_fw/c", "state_fw/h", "state_bw"] { #expect(stat[n]! == dyn[n]!) }

    // full length: backward = flip, forward GRU, flip
    let full = try TF1.evaluate(
      config: Self.config(#"{"cell":\#(lstm),"cell_bw":\#(gru),"driver":"bidirectional_dynamic_rnn","driver_kwargs":{"time_major":true}}"#),
      weights: w, inputs: NamedTensors([("inputs", x)]))
    let gruWeights = NamedTensors<S>(w.entries.filter { $0.name.hasPrefix("bidirectional_rnn/bw/") }
      .map { ("rnn/" + $0.name.dropFirst("bidirectional_rnn/bw/".count), $0.tensor) })
    let fwd = try TF1.evaluate(config: Self.config(#"{"cell":\#(gru),"driver":"dynamic_rnn","driver_kwargs":{"time_major":true}}"#),
                               weights: gruWeights, inputs: NamedTensors([("inputs", Self.flipTime(x))]))
    #expect(full["outputs_bw"]! == Self.flipTime(fwd["outputs"]!))
    #expect(full["state_bw"]! == fwd["state"]!)
  }
  @Test func bidirectionalPropertiesFloat() throws { try bidirectionalProperties(Float.self) }
  @Test func bidirectionalPropertiesDouble() throws { try bidirectionalProperties(Double.self) }

  /// MultiRNNCell(state_is_tuple=False) state = concat of the tuple form's leaves, in and out.
  @Test func multiCellStateConcatenation() throws {
    let N = 2, T = 3, I = 2
    var seed: UInt64 = 31
    let w: NamedTensors<Double> = Self.weights([
      ("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [I + 3, 12]), ("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [12]),
      ("rnn/multi_rnn_cell/cell_1/basic_rnn_cell/kernel", [3 + 2, 2]), ("rnn/multi_rnn_cell/cell_1/basic_rnn_cell/bias", [2]),
    ], seed: 17)
    let x: Tensor<Double> = Self.random([N, T, I], seed: &seed)
    let c0: Tensor<Double> = Self.random([N, 3], seed: &seed), h0: Tensor<Double> = Self.random([N, 3], seed: &seed)
    let r0: Tensor<Double> = Self.random([N, 2], seed: &seed)
    let tuple = try TF1.evaluate(
      config: Self.config(#"{"cell":{"class":"MultiRNNCell","state_is_tuple":true,"cells":[{"class":"LSTMCell","kwargs":{"num_units":3}},{"class":"BasicRNNCell","kwargs":{"num_units":2}}]}}"#),
      weights: w, inputs: NamedTensors([("inputs", x), ("initial_state/0/c", c0), ("initial_state/0/h", h0), ("initial_state/1", r0)]))
    #expect(tuple.names == ["outputs", "state/0/c", "state/0/h", "state/1"])
    let flat = try TF1.evaluate(
      config: Self.config(#"{"cell":{"class":"MultiRNNCell","state_is_tuple":false,"cells":[{"class":"LSTMCell","kwargs":{"num_units":3,"state_is_tuple":false}},{"class":"BasicRNNCell","kwargs":{"num_units":2}}]}}"#),
      weights: w, inputs: NamedTensors([("inputs", x), ("initial_state", Tensor.concatenate([c0, h0, r0], axis: 1))]))
    #expect(flat.names == ["outputs", "state"])
    #expect(flat["outputs"]! == tuple["outputs"]!)
    #expect(flat["state"]! == Tensor.concatenate([tuple["state/0/c"]!, tuple["state/0/h"]!, tuple["state/1"]!], axis: 1))
  }

  /// A two-bias canonical network (as PyTorch or ONNX import) exported to TF1 runs
  /// the same: the biases are summed into TF1's one bias.
  @Test func exportedTwoBiasNetworkRunsTheSame() throws {
    let N = 2, T = 4, I = 3, H = 3
    var seed: UInt64 = 41
    func r(_ shape: [Int]) -> Tensor<Double> { Self.random(shape, seed: &seed) }
    let lstm = LSTMCell<Double>(inputSize: I, hiddenSize: H, kernel: r([I, 4 * H]), recurrentKernel: r([H, 4 * H]),
                                inputBias: r([4 * H]), recurrentBias: r([4 * H]))
    let gru = GRUCell<Double>(inputSize: H, hiddenSize: 2, kernel: r([H, 6]), recurrentKernel: r([2, 6]),
                              inputBias: r([6]), recurrentBias: r([6]), resetAfter: false)
    let net = Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(lstm)]),
                               RecurrentLayer(direction: .forward, cells: [.gru(gru)])])
    let x = r([T, N, I])
    let mask = StepMask(lengths: [4, 2], steps: T)
    let reference = try Engine.run(net, input: x, mask: mask)
    let (cfg, w) = try TF1.exportNetwork(net)
    let out = try TF1.evaluate(config: cfg, weights: w,
                               inputs: NamedTensors([("inputs", x.transposed([1, 0, 2])),
                                                     ("sequence_length", Tensor(uncheckedShape: [N], scalars: [4, 2]))]))
    func close(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Bool {
      a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-12 }
    }
    #expect(close(out["outputs"]!, reference.last.merged.transposed([1, 0, 2])))
    #expect(close(out["state/0/c"]!, reference.layers[0].finalStates[0].c!))
    #expect(close(out["state/0/h"]!, reference.layers[0].finalStates[0].h))
    #expect(close(out["state/1"]!, reference.layers[1].finalStates[0].h))
  }

  /// DropoutWrapper (keep 1.0) and DeviceWrapper are the identity and keep the names;
  /// dropout itself and a size-changing residual are named; a residual is a canonical `Residual`.
  @Test func cellWrappers() throws {
    let gru = #"{"class":"GRUCell","kwargs":{"num_units":3}}"#
    let w: NamedTensors<Float> = Self.weights([("rnn/gru_cell/gates/kernel", [6, 6]), ("rnn/gru_cell/gates/bias", [6]),
                                              ("rnn/gru_cell/candidate/kernel", [6, 3]), ("rnn/gru_cell/candidate/bias", [3])])
    let plain = try TF1.importNetwork(config: Self.config(#"{"cell":\#(gru)}"#), weights: w)
    let wrapped = try TF1.importNetwork(
      config: Self.config(#"{"cell":{"class":"DeviceWrapper","kwargs":{"device":"/cpu:0"},"cell":{"class":"DropoutWrapper","kwargs":{"input_keep_prob":1.0,"output_keep_prob":1,"state_keep_prob":1.0},"cell":\#(gru)}}}"#),
      weights: w)
    #expect(wrapped == plain)
    #expect {
      _ = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"DropoutWrapper","kwargs":{"output_keep_prob":0.5},"cell":\#(gru)}}"#), weights: w)
    } throws: { error in
      guard case RNNRefError.unsupported(_, let feature) = error else { return false }
      return feature.contains("cell.kwargs.output_keep_prob") && feature.contains("0.5")
    }
    let residual = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"ResidualWrapper","cell":\#(gru)}}"#), weights: w)
    #expect(residual.residuals == [Residual(from: 0, to: 0)])
    #expect(residual.layers == plain.layers)
    // input size 3 == num_units 3 runs; a residual over input size 2 cannot add
    var seed: UInt64 = 51
    let out = try TF1.evaluate(config: Self.config(#"{"cell":{"class":"ResidualWrapper","cell":\#(gru)}}"#), weights: w,
                               inputs: NamedTensors([("inputs", Self.random([2, 4, 3], seed: &seed))]))
    #expect(out.names == ["outputs", "state"])
    let w2: NamedTensors<Float> = Self.weights([("rnn/gru_cell/gates/kernel", [5, 6]), ("rnn/gru_cell/gates/bias", [6]),
                                               ("rnn/gru_cell/candidate/kernel", [5, 3]), ("rnn/gru_cell/candidate/bias", [3])])
    #expect {
      _ = try TF1.evaluate(config: Self.config(#"{"cell":{"class":"ResidualWrapper","cell":\#(gru)}}"#), weights: w2,
                           inputs: NamedTensors([("inputs", Self.random([2, 4, 2], seed: &seed))]))
    } throws: { error in
      guard case RNNRefError.invalidConfig(let key, let value, _) = error else { return false }
      return key.contains("rnn/gru_cell") && value.contains("input size 2") && value.contains("output size 3")
    }
  }

  /// TF1 networks carried to PyTorch and ONNX through the canonical form compute the
  /// same (their exporters fold TF1's run-time forget_bias into a bias; TF1's
  /// reset-before GRU is not a PyTorch GRU, so that pair must be refused, not mangled).
  @Test func tf1NetworksSurviveExportToOtherFrameworks() throws {
    let N = 2, T = 4, I = 3
    var seed: UInt64 = 61
    let lstmW: NamedTensors<Double> = Self.weights([("rnn/lstm_cell/kernel", [I + 3, 12]), ("rnn/lstm_cell/bias", [12])], seed: 19)
    let lstm = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":3,"forget_bias":1.0}}}"#),
                                     weights: lstmW)
    let x: Tensor<Double> = Self.random([T, N, I], seed: &seed)
    let mask = StepMask(lengths: [4, 3], steps: T)
    let reference = try Engine.run(lstm, input: x, mask: mask)
    let targets: [(String, any NetworkConvention.Type)] = [("pytorch", PyTorch.self), ("onnx", ONNX.self)]
    for (name, target) in targets {
      let (cfg, w) = try target.exportNetwork(lstm)
      let back: Network<Double> = try target.importNetwork(config: cfg, weights: w)
      let out = try Engine.run(back, input: x, mask: mask)
      let diff = zip(out.last.merged.scalars, reference.last.merged.scalars).map { abs($0 - $1) }.max() ?? 0
      #expect(diff <= 1e-12, "TF1 LSTMCell(forget_bias=1.0) via \(name): max difference \(diff)")
    }
    let gruW: NamedTensors<Double> = Self.weights([("rnn/gru_cell/gates/kernel", [I + 2, 4]), ("rnn/gru_cell/gates/bias", [4]),
                                                   ("rnn/gru_cell/candidate/kernel", [I + 2, 2]), ("rnn/gru_cell/candidate/bias", [2])])
    let gru = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"GRUCell","kwargs":{"num_units":2}}}"#), weights: gruW)
    #expect(throws: RNNRefError.self) { _ = try PyTorch.exportNetwork(gru) }
    let (cfg, w) = try ONNX.exportNetwork(gru)  // ONNX linear_before_reset=0 is TF1's GRU
    let back: Network<Double> = try ONNX.importNetwork(config: cfg, weights: w)
    let a = try Engine.run(back, input: x, mask: mask).last.merged, b = try Engine.run(gru, input: x, mask: mask).last.merged
    #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-12 })
  }

  // MARK: errors name the weight and shapes

  static let peepholeConfig = config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true}},"driver":"dynamic_rnn"}"#)
  static func peepholeWeights<S: RNNScalar>() -> NamedTensors<S> {
    weights([("rnn/lstm_cell/kernel", [7, 16]), ("rnn/lstm_cell/bias", [16]), ("rnn/lstm_cell/w_f_diag", [4]),
             ("rnn/lstm_cell/w_i_diag", [4]), ("rnn/lstm_cell/w_o_diag", [4])])
  }

  func errorsNameTheWeight<S: RNNScalar>(_: S.Type) throws {
    var missing: NamedTensors<S> = Self.peepholeWeights()
    missing["rnn/lstm_cell/w_o_diag"] = nil
    #expect {
      _ = try TF1.importNetwork(config: Self.peepholeConfig, weights: missing)
    } throws: { error in
      guard case RNNRefError.missingWeight(let name, let shape, let reason) = error else { return false }
      return name == "rnn/lstm_cell/w_o_diag" && shape == [4] && reason.contains("use_peepholes")
        && "\(error)".contains("`rnn/lstm_cell/w_o_diag`") && "\(error)".contains("[4]")
    }

    var wrong: NamedTensors<S> = Self.peepholeWeights()
    wrong["rnn/lstm_cell/bias"] = Tensor(uncheckedZeros: [12])
    #expect {
      _ = try TF1.importNetwork(config: Self.peepholeConfig, weights: wrong)
    } throws: { error in
      guard case RNNRefError.shapeMismatch(let name, let actual, let expected, let reason) = error else { return false }
      return name == "rnn/lstm_cell/bias" && actual == [12] && expected == [16] && reason.contains("num_units=4")
        && "\(error)".contains("[12]") && "\(error)".contains("[16]")
    }

    var extra: NamedTensors<S> = Self.peepholeWeights()
    extra.append("rnn/lstm_cell/projection/kernel", Tensor(uncheckedZeros: [4, 2]))
    #expect {
      _ = try TF1.importNetwork(config: Self.peepholeConfig, weights: extra)
    } throws: { error in
      guard case RNNRefError.unusedWeights(let names) = error else { return false }
      return names == ["rnn/lstm_cell/projection/kernel"] && "\(error)".contains("`rnn/lstm_cell/projection/kernel`")
    }

    // The input size fixes the kernel rows: I = 2 needs (2 + 4, 16).
    var seed: UInt64 = 5
    #expect {
      _ = try TF1.evaluate(config: Self.peepholeConfig, weights: Self.peepholeWeights() as NamedTensors<S>,
                           inputs: NamedTensors([("inputs", Self.random([1, 2, 2], seed: &seed))]))
    } throws: { error in
      guard case RNNRefError.shapeMismatch(let name, let actual, let expected, _) = error else { return false }
      return name == "rnn/lstm_cell/kernel" && actual == [7, 16] && expected == [6, 16]
    }

    // A wrong scope: the first weight looked for is named, with its shape.
    #expect {
      _ = try TF1.importNetwork(config: Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true}},"scope":"enc"}"#),
                                weights: Self.peepholeWeights() as NamedTensors<S>)
    } throws: { error in
      guard case RNNRefError.missingWeight(let name, _, _) = error else { return false }
      return name == "enc/lstm_cell/kernel"
    }
  }
  @Test func errorsNameTheWeightFloat() throws { try errorsNameTheWeight(Float.self) }
  @Test func errorsNameTheWeightDouble() throws { try errorsNameTheWeight(Double.self) }

  @Test func initialStateErrorsNameTheInput() throws {
    var seed: UInt64 = 9
    let w: NamedTensors<Float> = Self.peepholeWeights()
    let cfg = Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true}},"driver_kwargs":{"initial_state":"initial_state"}}"#)
    #expect {
      _ = try TF1.evaluate(config: cfg, weights: w, inputs: NamedTensors([("inputs", Self.random([2, 3, 3], seed: &seed)),
                                                                         ("initial_state/c", Tensor(uncheckedZeros: [2, 4]))]))
    } throws: { error in
      guard case RNNRefError.missingInput(let name, let reason) = error else { return false }
      return name == "initial_state/h" && reason.contains("[2, 4]")
    }
    #expect {
      _ = try TF1.evaluate(config: cfg, weights: w, inputs: NamedTensors([("inputs", Self.random([2, 3, 3], seed: &seed)),
                                                                         ("initial_state/c", Tensor(uncheckedZeros: [2, 4])),
                                                                         ("initial_state/h", Tensor(uncheckedZeros: [2, 5]))]))
    } throws: { error in
      guard case RNNRefError.shapeMismatch(let name, let actual, let expected, _) = error else { return false }
      return name == "initial_state/h" && actual == [2, 5] && expected == [2, 4]
    }
  }

  @Test func inputErrorsNameTheInput() throws {
    var seed: UInt64 = 71
    let w: NamedTensors<Float> = Self.peepholeWeights()
    let cfg = Self.config(#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"use_peepholes":true}},"driver_kwargs":{"sequence_length":"sequence_length"}}"#)
    let x: Tensor<Float> = Self.random([2, 5, 3], seed: &seed)
    func fails(_ inputs: NamedTensors<Float>, _ check: (RNNRefError) -> Bool) {
      #expect {
        _ = try TF1.evaluate(config: cfg, weights: w, inputs: inputs)
      } throws: { error in (error as? RNNRefError).map(check) ?? false }
    }
    fails(NamedTensors([("inputs", x)])) {  // the config says lengths were passed
      if case .missingInput(let name, let reason) = $0 { return name == "sequence_length" && reason.contains("[2]") }
      return false
    }
    fails(NamedTensors([("inputs", x), ("sequence_length", Tensor(uncheckedShape: [2], scalars: [5, 6]))])) {
      if case .invalidConfig(let key, let value, let reason) = $0 {
        return key == "inputs/sequence_length[1]" && value == "6.0" && reason.contains("0...5")
      }
      return false
    }
    fails(NamedTensors([("inputs", x), ("sequence_length", Tensor(uncheckedShape: [3], scalars: [5, 5, 5]))])) {
      if case .shapeMismatch(let name, let actual, let expected, _) = $0 { return name == "sequence_length" && actual == [3] && expected == [2] }
      return false
    }
    fails(NamedTensors([("inputs", x), ("sequence_length", Tensor(uncheckedShape: [2], scalars: [5, 5])), ("initial_state/m", Tensor(uncheckedZeros: [2, 4]))])) {
      if case .invalidConfig(let key, let value, let reason) = $0 {
        return key == "inputs" && value.contains("initial_state/m") && reason.contains("`initial_state/h`")
      }
      return false
    }
    fails(NamedTensors([("inputs", Tensor(uncheckedZeros: [2, 5]))])) {
      if case .shapeMismatch(let name, let actual, _, let reason) = $0 { return name == "inputs" && actual == [2, 5] && reason.contains("(N, T, I)") }
      return false
    }
  }

  @Test func configErrors() {
    let w = NamedTensors<Float>()
    let bad: [(String, String)] = [
      (#"{"cell":{"class":"LSTMCel","kwargs":{"num_units":4}}}"#, "cell.class"),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4}},"driver":"raw_rnn"}"#, "driver"),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":0}}}"#, "cell.kwargs.num_units"),
      (#"{"cell":{"class":"LSTMCell","kwargs":{"num_units":4,"peepholes":true}}}"#, "cell.kwargs.peepholes"),
      (#"{"cell":{"class":"MultiRNNCell","state_is_tuple":false,"cells":[{"class":"LSTMCell","kwargs":{"num_units":4}}]}}"#, "cell.state_is_tuple"),
      (#"{"cell":{"class":"GRUCell","kwargs":{"num_units":4}},"driver":"bidirectional_dynamic_rnn"}"#, "cell_bw"),
    ]
    for (text, key) in bad {
      #expect {
        _ = try TF1.importNetwork(config: Self.config(text), weights: w)
      } throws: { error in
        guard case RNNRefError.invalidConfig(let k, _, _) = error else { return false }
        return k == key
      }
    }
  }

  @Test func exportNamesWhatTF1CannotExpress() throws {
    var seed: UInt64 = 11
    let gru = GRUCell<Float>(inputSize: 2, hiddenSize: 2, kernel: Self.random([2, 6], seed: &seed),
                             recurrentKernel: Self.random([2, 6], seed: &seed), inputBias: Tensor(uncheckedZeros: [6]),
                             recurrentBias: Tensor(uncheckedZeros: [6]), resetAfter: true)
    #expect {
      _ = try TF1.exportNetwork(Network(layers: [RecurrentLayer(direction: .forward, cells: [.gru(gru)])]))
    } throws: { error in
      guard case RNNRefError.unsupported(let fw, let feature) = error else { return false }
      return fw == "tf1" && feature.contains("reset")
    }
    var lstm = LSTMCell<Float>(inputSize: 2, hiddenSize: 1, kernel: Tensor(uncheckedZeros: [2, 4]), recurrentKernel: Tensor(uncheckedZeros: [1, 4]),
                               inputBias: Tensor(uncheckedZeros: [4]), recurrentBias: Tensor(uncheckedZeros: [4]))
    lstm.coupledInputForget = true
    #expect(throws: RNNRefError.self) {
      _ = try TF1.exportNetwork(Network(layers: [RecurrentLayer(direction: .reverse, cells: [.lstm(lstm)])]))
    }
  }

  @Test func absurdNumUnitsAreRefusedByKeyPath() {
    let config = Self.config(#"{"cell":{"class":"MultiRNNCell","cells":[{"class":"LSTMCell","kwargs":{"num_units":4}},{"class":"GRUCell","kwargs":{"num_units":1e9}}]},"driver":"dynamic_rnn"}"#)
    let w: NamedTensors<Double> = Self.weights([("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [7, 16]),
                                                ("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [16])])
    #expect {
      _ = try TF1.importNetwork(config: config, weights: w)
    } throws: { error in
      guard case RNNRefError.invalidConfig(let key, let value, let reason) = error else { return false }
      return key == "cell.cells[1].kwargs.num_units" && value == "1000000000" && reason.contains("largest is 16")
    }
  }
}
