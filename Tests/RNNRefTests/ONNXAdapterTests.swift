import Testing
@testable import RNNRef
import _TestSupport

/// The ONNX adapter: import then export is the identity, loading verifies names and
/// shapes, the native layouts and requested outputs are honoured, export names what
/// ONNX cannot express. Golden values live only in fixtures/onnx (captured from
/// ONNX Runtime 1.31.1 and onnx's reference; run through `rnnconf run fixtures/onnx`).
@Suite struct ONNXAdapterTests {

  static func config(_ text: String) -> JSONValue { try! JSONValue(parsing: text) }

  static func tensor<S: RNNScalar>(_ shape: [Int], _ rng: inout Rand) -> Tensor<S> { .random(shape, rng: &rng) }

  /// Native weights for a config: W, R and, when listed in inputs_present, B and P.
  static func weights<S: RNNScalar>(_ s: S.Type, _ cfg: JSONValue, input: Int, seed: UInt64) -> NamedTensors<S> {
    var rng = Rand(state: seed)
    let op = cfg["op_type"]!.string!
    let g = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1
    let h = cfg["attributes"]!["hidden_size"]!.int!
    let d = cfg["attributes"]!["direction"]?.string == "bidirectional" ? 2 : 1
    let present = cfg["inputs_present"]!.array!.compactMap(\.string)
    var w = NamedTensors<S>()
    w.append("W", tensor([d, g * h, input], &rng))
    w.append("R", tensor([d, g * h, h], &rng))
    if present.contains("B") { w.append("B", tensor([d, 2 * g * h], &rng)) }
    if present.contains("P") { w.append("P", tensor([d, 3 * h], &rng)) }
    return w
  }

  /// Configurations as exportNetwork writes them (default activations omitted).
  static let configs: [String] = [
    #"{"op_type":"LSTM","opset":22,"attributes":{"hidden_size":3},"inputs_present":["X","W","R"],"outputs_requested":["Y","Y_h","Y_c"]}"#,
    #"{"op_type":"LSTM","opset":22,"attributes":{"hidden_size":3,"direction":"bidirectional"},"inputs_present":["X","W","R","B"],"outputs_requested":["Y","Y_h","Y_c"]}"#,
    #"{"op_type":"LSTM","opset":22,"attributes":{"hidden_size":2,"direction":"reverse","clip":0.5,"input_forget":1},"inputs_present":["X","W","R","B","","","","P"],"outputs_requested":["Y","Y_h","Y_c"]}"#,
    #"{"op_type":"LSTM","opset":22,"attributes":{"hidden_size":4,"direction":"bidirectional","activations":["HardSigmoid","LeakyRelu","ScaledTanh","Sigmoid","Softsign","Elu"],"activation_alpha":[0.25,0.125,1.5,0.75],"activation_beta":[0.5,0.5]},"inputs_present":["X","W","R","","","","","P"],"outputs_requested":["Y","Y_h","Y_c"]}"#,
    #"{"op_type":"GRU","opset":22,"attributes":{"hidden_size":3},"inputs_present":["X","W","R","B"],"outputs_requested":["Y","Y_h"]}"#,
    #"{"op_type":"GRU","opset":22,"attributes":{"hidden_size":1,"direction":"bidirectional","linear_before_reset":1,"clip":2},"inputs_present":["X","W","R","B"],"outputs_requested":["Y","Y_h"]}"#,
    #"{"op_type":"GRU","opset":22,"attributes":{"hidden_size":2,"direction":"reverse","activations":["Affine","ThresholdedRelu"],"activation_alpha":[0.5,0.25],"activation_beta":[0.125]},"inputs_present":["X","W","R"],"outputs_requested":["Y","Y_h"]}"#,
    #"{"op_type":"RNN","opset":22,"attributes":{"hidden_size":3,"activations":["Relu"]},"inputs_present":["X","W","R","B"],"outputs_requested":["Y","Y_h"]}"#,
    #"{"op_type":"RNN","opset":22,"attributes":{"hidden_size":2,"direction":"bidirectional","activations":["Softplus","Softsign"],"clip":1.5},"inputs_present":["X","W","R","B"],"outputs_requested":["Y","Y_h"]}"#,
  ]

  func roundTrip<S: RNNScalar>(_ s: S.Type) throws {
    for (k, text) in Self.configs.enumerated() {
      let cfg = Self.config(text)
      let w = Self.weights(S.self, cfg, input: 3, seed: UInt64(k + 1))
      let net: Network<S> = try ONNX.importNetwork(config: cfg, weights: w)
      let (cfg2, w2) = try ONNX.exportNetwork(net)
      #expect(w2 == w, "weights differ after import/export for \(text)")
      #expect(cfg2 == cfg, "config \(cfg2) differs from \(text)")
      let net2: Network<S> = try ONNX.importNetwork(config: cfg2, weights: w2)
      #expect(net2 == net)
    }
  }

  @Test func importThenExportIsIdentityFloat() throws { try roundTrip(Float.self) }
  @Test func importThenExportIsIdentityDouble() throws { try roundTrip(Double.self) }

  /// Native gate blocks land in the canonical blocks: LSTM i,o,f,c -> i,f,g,o; P i,o,f.
  func gateOrder<S: RNNScalar>(_ s: S.Type) throws {
    let h = 2, i = 1
    let cfg = Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":2},"inputs_present":["X","W","R","B","","","","P"]}"#)
    // block b of W holds the value b+1 (native order i=1, o=2, f=3, c=4)
    let blockValues: [S] = (0..<4).flatMap { b in Array(repeating: S(b + 1), count: h * i) }
    var w = NamedTensors<S>()
    w.append("W", Tensor(uncheckedShape: [1, 4 * h, i], scalars: blockValues))
    w.append("R", Tensor(uncheckedShape: [1, 4 * h, h], scalars: (0..<4).flatMap { b in Array(repeating: S(b + 1), count: h * h) }))
    w.append("B", Tensor(uncheckedShape: [1, 8 * h], scalars: (0..<8).flatMap { b in Array(repeating: S(b + 1), count: h) }))
    w.append("P", Tensor(uncheckedShape: [1, 3 * h], scalars: (0..<3).flatMap { b in Array(repeating: S(b + 1), count: h) }))
    let net: Network<S> = try ONNX.importNetwork(config: cfg, weights: w)
    guard case .lstm(let c) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); return }
    // canonical i, f, g, o = native blocks 1, 3, 4, 2
    #expect(c.kernel.scalars == [1, 1, 3, 3, 4, 4, 2, 2])
    #expect(c.inputBias.scalars == [1, 1, 3, 3, 4, 4, 2, 2])
    #expect(c.recurrentBias.scalars == [5, 5, 7, 7, 8, 8, 6, 6])
    #expect(c.peepholes?.i.scalars == [1, 1])
    #expect(c.peepholes?.o.scalars == [2, 2])
    #expect(c.peepholes?.f.scalars == [3, 3])
  }

  @Test func lstmGateOrderFloat() throws { try gateOrder(Float.self) }
  @Test func lstmGateOrderDouble() throws { try gateOrder(Double.self) }

  @Test func activationAlphaBetaConsumedInOrder() throws {
    let cfg = Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":1,"direction":"bidirectional","activations":["HardSigmoid","LeakyRelu","ScaledTanh","Sigmoid","Softsign","Elu"],"activation_alpha":[0.25,0.125,1.5,0.75],"activation_beta":[0.5,0.375]}}"#)
    let net: Network<Double> = try ONNX.importNetwork(config: cfg, weights: Self.weights(Double.self, Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":1,"direction":"bidirectional"},"inputs_present":["X","W","R"]}"#), input: 2, seed: 9))
    guard case .lstm(let fw) = net.layers[0].cells[0], case .lstm(let bw) = net.layers[0].cells[1] else {
      Issue.record("not LSTM"); return
    }
    #expect(fw.gateActivation == .hardSigmoid(alpha: 0.25, beta: 0.5))
    #expect(fw.cellActivation == .leakyRelu(alpha: 0.125))
    #expect(fw.outputActivation == .scaledTanh(alpha: 1.5, beta: 0.375))
    #expect(bw.gateActivation == .sigmoid)
    #expect(bw.cellActivation == .softsign)
    #expect(bw.outputActivation == .elu(alpha: 0.75))
  }

  @Test func activationDefaultsFollowTheOperators() throws {
    let cfg = Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":1,"activations":["HardSigmoid","LeakyRelu","ThresholdedRelu"]}}"#)
    let w = Self.weights(Float.self, Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":1},"inputs_present":["X","W","R"]}"#), input: 1, seed: 3)
    let net: Network<Float> = try ONNX.importNetwork(config: cfg, weights: w)
    guard case .lstm(let c) = net.layers[0].cells[0] else { Issue.record("not LSTM"); return }
    #expect(c.gateActivation == .hardSigmoid(alpha: Double(Float(0.2)), beta: 0.5))
    #expect(c.cellActivation == .leakyRelu(alpha: Double(Float(0.01))))
    #expect(c.outputActivation == .thresholdedRelu(alpha: 1.0))
  }

  // MARK: - Loading errors

  func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
  }

  func loadingErrors<S: RNNScalar>(_ s: S.Type) throws {
    let cfg = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":3,"direction":"bidirectional"},"inputs_present":["X","W","R","B"]}"#)
    let good = Self.weights(S.self, cfg, input: 2, seed: 5)
    _ = try ONNX.importNetwork(config: cfg, weights: good) as Network<S>

    var wrongW = good
    wrongW["W"] = Tensor(uncheckedZeros: [1, 9, 2])
    let e1 = errorText { _ = try ONNX.importNetwork(config: cfg, weights: wrongW) as Network<S> }
    #expect(e1?.contains("`W` has shape [1, 9, 2], expected [2, 9, 2]") == true, "\(e1 ?? "no error")")
    #expect(e1?.contains("bidirectional") == true)

    var wrongB = good
    wrongB["B"] = Tensor(uncheckedZeros: [2, 9])
    let e2 = errorText { _ = try ONNX.importNetwork(config: cfg, weights: wrongB) as Network<S> }
    #expect(e2?.contains("`B` has shape [2, 9], expected [2, 18]") == true, "\(e2 ?? "no error")")

    var noR = good
    noR["R"] = nil
    let e3 = errorText { _ = try ONNX.importNetwork(config: cfg, weights: noR) as Network<S> }
    #expect(e3?.contains("weight `R` is missing: expected shape [2, 9, 3]") == true, "\(e3 ?? "no error")")

    var noB = good
    noB["B"] = nil
    let e4 = errorText { _ = try ONNX.importNetwork(config: cfg, weights: noB) as Network<S> }
    #expect(e4?.contains("weight `B` is missing: expected shape [2, 18]") == true, "\(e4 ?? "no error")")

    var extraP = good
    extraP.append("P", Tensor(uncheckedZeros: [2, 9]))
    let e5 = errorText { _ = try ONNX.importNetwork(config: cfg, weights: extraP) as Network<S> }
    #expect(e5?.contains("weights not used by the configuration: `P`") == true, "\(e5 ?? "no error")")

    // B given but the node has no B input
    let cfgNoB = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":3,"direction":"bidirectional"},"inputs_present":["X","W","R"]}"#)
    let e6 = errorText { _ = try ONNX.importNetwork(config: cfgNoB, weights: good) as Network<S> }
    #expect(e6?.contains("`B`") == true && e6?.contains("inputs_present") == true, "\(e6 ?? "no error")")

    let badActs = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":3,"direction":"bidirectional","activations":["Sigmoid","Tanh"]}}"#)
    let e7 = errorText { _ = try ONNX.importNetwork(config: badActs, weights: good) as Network<S> }
    #expect(e7?.contains("needs 4 activations") == true, "\(e7 ?? "no error")")

    let unknown = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":3,"direction":"bidirectional","input_forget":1}}"#)
    let e8 = errorText { _ = try ONNX.importNetwork(config: unknown, weights: good) as Network<S> }
    #expect(e8?.contains("attributes.input_forget") == true, "\(e8 ?? "no error")")
  }

  @Test func loadingErrorsNameWeightAndShapesFloat() throws { try loadingErrors(Float.self) }
  @Test func loadingErrorsNameWeightAndShapesDouble() throws { try loadingErrors(Double.self) }

  @Test func runtimeInputErrors() throws {
    let cfg = Self.config(#"{"op_type":"LSTM","attributes":{"hidden_size":2},"inputs_present":["X","W","R","","sequence_lens","initial_h"],"outputs_requested":["Y","Y_h","Y_c"]}"#)
    let w = Self.weights(Float.self, cfg, input: 3, seed: 2)
    var rng = Rand(state: 4)
    var inputs = NamedTensors<Float>()
    inputs.append("X", Self.tensor([4, 2, 3], &rng))
    inputs.append("sequence_lens", Tensor(uncheckedShape: [2], scalars: [4, 5]))
    inputs.append("initial_h", Self.tensor([1, 2, 2], &rng))
    let e1 = errorText { _ = try ONNX.evaluate(config: cfg, weights: w, inputs: inputs) }
    #expect(e1?.contains("sequence_lens[1]") == true && e1?.contains("0...4") == true, "\(e1 ?? "no error")")
    inputs["sequence_lens"] = Tensor(uncheckedShape: [2], scalars: [4, 2])
    inputs["initial_h"] = Self.tensor([2, 1, 2], &rng)
    let e2 = errorText { _ = try ONNX.evaluate(config: cfg, weights: w, inputs: inputs) }
    #expect(e2?.contains("`initial_h` has shape [2, 1, 2], expected [1, 2, 2]") == true, "\(e2 ?? "no error")")
    inputs["initial_h"] = nil
    let e3 = errorText { _ = try ONNX.evaluate(config: cfg, weights: w, inputs: inputs) }
    #expect(e3?.contains("input `initial_h` is missing") == true, "\(e3 ?? "no error")")
    inputs["initial_h"] = Self.tensor([1, 2, 2], &rng)
    inputs["X"] = Self.tensor([4, 2, 5], &rng)
    let e4 = errorText { _ = try ONNX.evaluate(config: cfg, weights: w, inputs: inputs) }
    #expect(e4?.contains("`X` has shape [4, 2, 5], expected [4, 2, 3]") == true, "\(e4 ?? "no error")")
  }

  // MARK: - Layouts and outputs (properties of the native layout, no golden values)

  func layoutProperty<S: RNNScalar>(_ s: S.Type) throws {
    let t = 4, n = 3, i = 2, h = 3
    let base = #"{"op_type":"LSTM","attributes":{"hidden_size":3,"direction":"bidirectional"LAYOUT},"inputs_present":["X","W","R","B","","initial_h","initial_c","P"],"outputs_requested":["Y","Y_h","Y_c"]}"#
    let cfg0 = Self.config(base.replacingOccurrences(of: "LAYOUT", with: ""))
    let cfg1 = Self.config(base.replacingOccurrences(of: "LAYOUT", with: #","layout":1"#))
    let w = Self.weights(S.self, cfg0, input: i, seed: 11)
    var rng = Rand(state: 12)
    let x: Tensor<S> = Self.tensor([t, n, i], &rng)
    let h0: Tensor<S> = Self.tensor([2, n, h], &rng), c0: Tensor<S> = Self.tensor([2, n, h], &rng)
    let out0 = try ONNX.evaluate(config: cfg0, weights: w, inputs: NamedTensors([("X", x), ("initial_h", h0), ("initial_c", c0)]))
    let out1 = try ONNX.evaluate(config: cfg1, weights: w, inputs: NamedTensors([
      ("X", x.transposed([1, 0, 2])), ("initial_h", h0.transposed([1, 0, 2])), ("initial_c", c0.transposed([1, 0, 2]))]))
    #expect(out0.names == ["Y", "Y_h", "Y_c"])
    #expect(out0["Y"]!.shape == [t, 2, n, h])
    #expect(out1["Y"]!.shape == [n, t, 2, h])
    #expect(out1["Y"]! == out0["Y"]!.transposed([2, 0, 1, 3]))
    #expect(out1["Y_h"]! == out0["Y_h"]!.transposed([1, 0, 2]))
    #expect(out1["Y_c"]! == out0["Y_c"]!.transposed([1, 0, 2]))
    // Y_h of the forward direction is Y at the last step; of the reverse direction, Y at step 0.
    let y = out0["Y"]!, yh = out0["Y_h"]!
    #expect(y.slice(axis: 0, range: (t - 1)..<t).slice(axis: 1, range: 0..<1).scalars == yh.slice(axis: 0, range: 0..<1).scalars)
    #expect(y.slice(axis: 0, range: 0..<1).slice(axis: 1, range: 1..<2).scalars == yh.slice(axis: 0, range: 1..<2).scalars)
  }

  @Test func layout1IsTransposedLayout0Float() throws { try layoutProperty(Float.self) }
  @Test func layout1IsTransposedLayout0Double() throws { try layoutProperty(Double.self) }

  @Test func requestedOutputsAndZeroLength() throws {
    let cfg = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":2},"inputs_present":["X","W","R","B","sequence_lens","initial_h"],"outputs_requested":["","Y_h"]}"#)
    let w = Self.weights(Double.self, cfg, input: 2, seed: 21)
    var rng = Rand(state: 22)
    let inputs = NamedTensors<Double>([("X", Self.tensor([3, 2, 2], &rng)), ("sequence_lens", Tensor(uncheckedShape: [2], scalars: [0, 2])),
                                       ("initial_h", Tensor(uncheckedShape: [1, 2, 2], scalars: [1, 1, 1, 1]))])
    let out = try ONNX.evaluate(config: cfg, weights: w, inputs: inputs)
    #expect(out.names == ["Y_h"])
    // ONNX Runtime: a length-0 sample has Y_h = 0, not its initial state (fixtures/onnx/*zero_length*).
    #expect(out["Y_h"]!.scalars[0] == 0 && out["Y_h"]!.scalars[1] == 0)
    #expect(out["Y_h"]!.scalars[2] != 1)
  }

  // MARK: - Export limits

  @Test func exportNamesWhatONNXCannotExpress() throws {
    let cfg = Self.config(Self.configs[1])
    var net: Network<Float> = try ONNX.importNetwork(config: cfg, weights: Self.weights(Float.self, cfg, input: 2, seed: 31))
    var summed = net
    summed.layers[0].merge = .sum
    #expect(errorText { _ = try ONNX.exportNetwork(summed) }?.contains("merge mode `sum`") == true)
    var stacked = net
    stacked.layers.append(net.layers[0])
    #expect(errorText { _ = try ONNX.exportNetwork(stacked) }?.contains("stacked layers") == true)
    var repeated = net
    repeated.layers[0].padding = .repeatPreviousOutput
    #expect(errorText { _ = try ONNX.exportNetwork(repeated) }?.contains("onnxruntime#12492") == true)
    if case .lstm(var c) = net.layers[0].cells[0] {
      c.projection = Tensor(uncheckedZeros: [3, 2])
      net.layers[0].cells[0] = .lstm(c)
    }
    #expect(errorText { _ = try ONNX.exportNetwork(net) }?.contains("projection") == true)
    var selu = net
    if case .lstm(var c) = selu.layers[0].cells[1] {
      c.projection = nil
      c.cellActivation = .selu
      selu.layers[0].cells[1] = .lstm(c)
    }
    selu.layers[0].cells[0] = selu.layers[0].cells[1]
    #expect(errorText { _ = try ONNX.exportNetwork(selu) }?.contains("selu") == true)
  }

  /// Keras activations with an exact ONNX form export to it.
  @Test func kerasActivationsExportToTheirONNXForms() throws {
    let cfg = Self.config(Self.configs[7])  // RNN Relu
    var net: Network<Double> = try ONNX.importNetwork(config: cfg, weights: Self.weights(Double.self, cfg, input: 2, seed: 51))
    for (act, name, alpha, beta) in [(Activation.hardSigmoidKeras2, "HardSigmoid", 0.2, 0.5),
                                     (.hardSigmoidKeras3, "HardSigmoid", 1.0 / 6.0, 0.5), (.linear, "Affine", 1.0, 0.0)] {
      if case .simple(var c) = net.layers[0].cells[0] { c.activation = act; net.layers[0].cells[0] = .simple(c) }
      let (out, _) = try ONNX.exportNetwork(net)
      #expect(out["attributes"]?["activations"] == .array([.string(name)]))
      #expect(out["attributes"]?["activation_alpha"] == .array([.number(alpha)]))
      #expect(out["attributes"]?["activation_beta"] == .array([.number(beta)]))
    }
  }

  /// A TF1-style run-time forget bias is folded into B's forget block on export.
  @Test func forgetBiasFoldsIntoB() throws {
    let cfg = Self.config(Self.configs[1])
    let w = Self.weights(Double.self, cfg, input: 2, seed: 41)
    var net: Network<Double> = try ONNX.importNetwork(config: cfg, weights: w)
    for k in 0..<2 {
      if case .lstm(var c) = net.layers[0].cells[k] { c.forgetBias = 1.0; net.layers[0].cells[k] = .lstm(c) }
    }
    let (_, w2) = try ONNX.exportNetwork(net)
    let h = 3
    let b = w["B"]!, b2 = w2["B"]!
    for d in 0..<2 {
      for j in 0..<(8 * h) {
        let isForgetWb = j >= 2 * h && j < 3 * h  // Wb block f is native block 2 (i, o, f, c)
        #expect(b2[[d, j]] == b[[d, j]] + (isForgetWb ? 1 : 0))
      }
    }
  }

  @Test func absurdHiddenSizeIsRefusedByKeyPath() {
    let good = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":3},"inputs_present":["X","W","R"]}"#)
    let w = Self.weights(Double.self, good, input: 2, seed: 7)
    let absurd = Self.config(#"{"op_type":"GRU","attributes":{"hidden_size":1e9},"inputs_present":["X","W","R"]}"#)
    let e = errorText { _ = try ONNX.importNetwork(config: absurd, weights: w) as Network<Double> }
    #expect(e?.contains("config `attributes.hidden_size` = 1000000000") == true, "\(e ?? "no error")")
    #expect(e?.contains("largest is 9") == true, "\(e ?? "no error")")
  }
}
