import Testing
@testable import RNNRef
import _TestSupport

/// The PyTorch adapter: import then export is the identity, loading verifies
/// names and shapes, export names what torch cannot express. Golden values live
/// only in fixtures/pytorch (run through `rnnconf run fixtures/pytorch`).
@Suite struct PyTorchAdapterTests {

  static func config(_ text: String) -> JSONValue { try! JSONValue(parsing: text) }

  /// Random native weights for every weight the configuration needs, named and shaped
  /// as the adapter's spec says (the spec itself is checked against torch by the fixtures).
  static func randomWeights<S: RNNScalar>(_ s: S.Type, _ config: JSONValue, seed: UInt64) throws -> NamedTensors<S> {
    var rng = Rand(state: seed)
    let m = try PyTorch.ModuleConfig(config: config)
    var w = NamedTensors<S>()
    for spec in PyTorch.weightSpecs(m) {
      let n = spec.shape.reduce(1, *)
      w.append(spec.name, Tensor(uncheckedShape: spec.shape, scalars: (0..<n).map { _ in S(rng.next()) }))
    }
    return w
  }

  /// Every kwarg written out, as `exportNetwork` writes them.
  static let moduleConfigs: [String] = [
    #"{"module":"RNN","kwargs":{"input_size":3,"hidden_size":4,"num_layers":1,"bias":true,"batch_first":false,"dropout":0,"bidirectional":false,"nonlinearity":"tanh"}}"#,
    #"{"module":"RNN","kwargs":{"input_size":3,"hidden_size":4,"num_layers":3,"bias":true,"batch_first":false,"dropout":0,"bidirectional":true,"nonlinearity":"relu"}}"#,
    #"{"module":"RNN","kwargs":{"input_size":2,"hidden_size":5,"num_layers":2,"bias":false,"batch_first":false,"dropout":0,"bidirectional":false,"nonlinearity":"tanh"}}"#,
    #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"num_layers":1,"bias":true,"batch_first":false,"dropout":0,"bidirectional":false,"proj_size":0}}"#,
    #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"num_layers":2,"bias":true,"batch_first":false,"dropout":0,"bidirectional":true,"proj_size":0}}"#,
    #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":5,"num_layers":3,"bias":true,"batch_first":false,"dropout":0,"bidirectional":true,"proj_size":2}}"#,
    #"{"module":"LSTM","kwargs":{"input_size":1,"hidden_size":3,"num_layers":2,"bias":false,"batch_first":false,"dropout":0,"bidirectional":false,"proj_size":1}}"#,
    #"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"num_layers":1,"bias":true,"batch_first":false,"dropout":0,"bidirectional":false}}"#,
    #"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":2,"num_layers":3,"bias":true,"batch_first":false,"dropout":0,"bidirectional":true}}"#,
    #"{"module":"GRU","kwargs":{"input_size":4,"hidden_size":1,"num_layers":2,"bias":false,"batch_first":false,"dropout":0,"bidirectional":true}}"#,
  ]

  static let cellConfigs: [String] = [
    #"{"module":"RNNCell","kwargs":{"input_size":3,"hidden_size":4,"bias":true,"nonlinearity":"tanh"}}"#,
    #"{"module":"RNNCell","kwargs":{"input_size":3,"hidden_size":4,"bias":false,"nonlinearity":"relu"}}"#,
    #"{"module":"LSTMCell","kwargs":{"input_size":2,"hidden_size":3,"bias":true}}"#,
    #"{"module":"LSTMCell","kwargs":{"input_size":2,"hidden_size":3,"bias":false}}"#,
    #"{"module":"GRUCell","kwargs":{"input_size":5,"hidden_size":2,"bias":true}}"#,
    #"{"module":"GRUCell","kwargs":{"input_size":5,"hidden_size":2,"bias":false}}"#,
  ]

  // MARK: - Round trips

  func roundTrip<S: RNNScalar>(_ s: S.Type) throws {
    for (k, text) in Self.moduleConfigs.enumerated() {
      let config = Self.config(text)
      let weights = try Self.randomWeights(S.self, config, seed: UInt64(k + 1))
      let network: Network<S> = try PyTorch.importNetwork(config: config, weights: weights)
      let (config2, weights2) = try PyTorch.exportNetwork(network)
      #expect(config2 == config, "config round trip for \(text)")
      #expect(weights2 == weights, "weights round trip (names, order, values) for \(text)")
    }
  }
  @Test func importThenExportIsIdentityFloat() throws { try roundTrip(Float.self) }
  @Test func importThenExportIsIdentityDouble() throws { try roundTrip(Double.self) }

  func cellRoundTrip<S: RNNScalar>(_ s: S.Type) throws {
    for (k, text) in Self.cellConfigs.enumerated() {
      let config = Self.config(text)
      let weights = try Self.randomWeights(S.self, config, seed: UInt64(100 + k))
      let network: Network<S> = try PyTorch.importNetwork(config: config, weights: weights)
      #expect(network.layers.count == 1 && network.layers[0].direction == .forward)
      let (config2, weights2) = try PyTorch.exportCell(network.layers[0].cells[0])
      #expect(config2 == config, "config round trip for \(text)")
      #expect(weights2 == weights, "weights round trip for \(text)")
    }
  }
  @Test func cellImportThenExportIsIdentityFloat() throws { try cellRoundTrip(Float.self) }
  @Test func cellImportThenExportIsIdentityDouble() throws { try cellRoundTrip(Double.self) }

  /// Defaults: a config with only input_size/hidden_size imports as torch's defaults.
  @Test func defaultsFollowTorch() throws {
    let m = try PyTorch.ModuleConfig(config: Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4}}"#))
    #expect(m.numLayers == 1 && m.bias && !m.batchFirst && !m.bidirectional && m.projSize == 0 && m.dropout == 0)
  }

  // MARK: - Gate order

  /// torch GRU blocks r, z, n land in canonical z, r, n; LSTM i, f, g, o stay.
  func gateOrder<S: RNNScalar>(_ s: S.Type) throws {
    let h = 2, i = 3
    for (module, gates, expected) in [("GRU", 3, [2, 1, 3]), ("LSTM", 4, [1, 2, 3, 4])] {
      let config = Self.config(#"{"module":"\#(module)","kwargs":{"input_size":\#(i),"hidden_size":\#(h)}}"#)
      var w = try Self.randomWeights(S.self, config, seed: 7)
      // Native block b (1-based) filled with the value b.
      let blocked = { (cols: Int) in
        Tensor<S>(uncheckedShape: [gates * h, cols], scalars: (0..<(gates * h * cols)).map { S($0 / (h * cols) + 1) })
      }
      w["weight_ih_l0"] = blocked(i)
      w["bias_hh_l0"] = Tensor(uncheckedShape: [gates * h], scalars: (0..<(gates * h)).map { S($0 / h + 1) })
      let net: Network<S> = try PyTorch.importNetwork(config: config, weights: w)
      let (kernel, recurrentBias): (Tensor<S>, Tensor<S>)
      switch net.layers[0].cells[0] {
      case .gru(let c): (kernel, recurrentBias) = (c.kernel, c.recurrentBias); #expect(c.resetAfter)
      case .lstm(let c): (kernel, recurrentBias) = (c.kernel, c.recurrentBias)
      case .simple: Issue.record("wrong cell kind"); return
      }
      #expect(kernel.shape == [i, gates * h])
      for (block, value) in expected.enumerated() {
        for col in (block * h)..<((block + 1) * h) {
          #expect(kernel[[0, col]] == S(value), "\(module) canonical block \(block)")
          #expect(recurrentBias[[col]] == S(value), "\(module) canonical bias block \(block)")
        }
      }
    }
  }
  @Test func gateOrderFloat() throws { try gateOrder(Float.self) }
  @Test func gateOrderDouble() throws { try gateOrder(Double.self) }

  // MARK: - Loading verifies

  func loadErrors<S: RNNScalar>(_ s: S.Type) throws {
    let config = Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"num_layers":2,"bidirectional":true}}"#)
    let good = try Self.randomWeights(S.self, config, seed: 3)

    var missing = good
    missing["weight_hh_l1_reverse"] = nil
    do {
      let _: Network<S> = try PyTorch.importNetwork(config: config, weights: missing)
      Issue.record("missing weight accepted")
    } catch let e as RNNRefError {
      guard case .missingWeight(let name, let shape, _) = e else { Issue.record("wrong error \(e)"); return }
      #expect(name == "weight_hh_l1_reverse" && shape == [16, 4])
      #expect(e.description.contains("weight_hh_l1_reverse") && e.description.contains("[16, 4]"))
    }

    var wrong = good
    wrong["weight_ih_l1"] = Tensor(uncheckedZeros: [16, 4])  // layer 1 of a bidirectional LSTM reads 2*H = 8
    do {
      let _: Network<S> = try PyTorch.importNetwork(config: config, weights: wrong)
      Issue.record("wrong shape accepted")
    } catch let e as RNNRefError {
      guard case .shapeMismatch(let name, let actual, let expected, let reason) = e else { Issue.record("wrong error \(e)"); return }
      #expect(name == "weight_ih_l1" && actual == [16, 4] && expected == [16, 8])
      #expect(reason.contains("hidden_size=4") && reason.contains("layer 1"))
      #expect(e.description.contains("[16, 4]") && e.description.contains("[16, 8]"))
    }

    var extra = good
    extra["weight_ih_l2"] = Tensor(uncheckedZeros: [16, 8])
    do {
      let _: Network<S> = try PyTorch.importNetwork(config: config, weights: extra)
      Issue.record("unused weight accepted")
    } catch let e as RNNRefError {
      #expect(e == .unusedWeights(names: ["weight_ih_l2"]))
      #expect(e.description.contains("weight_ih_l2"))
    }

    // Projection weights without proj_size are unused, too.
    let plain = Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4}}"#)
    var proj = try Self.randomWeights(S.self, plain, seed: 4)
    proj["weight_hr_l0"] = Tensor(uncheckedZeros: [2, 4])
    #expect(throws: RNNRefError.unusedWeights(names: ["weight_hr_l0"])) {
      let _: Network<S> = try PyTorch.importNetwork(config: plain, weights: proj)
    }
  }
  @Test func loadErrorsNameWeightAndShapesFloat() throws { try loadErrors(Float.self) }
  @Test func loadErrorsNameWeightAndShapesDouble() throws { try loadErrors(Double.self) }

  @Test func configErrors() throws {
    let bad = [
      #"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"proj_size":2}}"#,
      #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"proj_size":4}}"#,
      #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"peephole":true}}"#,
      #"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"nonlinearity":"relu"}}"#,
      #"{"module":"RNN","kwargs":{"input_size":3,"hidden_size":4,"nonlinearity":"sigmoid"}}"#,
      #"{"module":"Transformer","kwargs":{"input_size":3,"hidden_size":4}}"#,
      #"{"module":"LSTMCell","kwargs":{"input_size":3,"hidden_size":4,"num_layers":2}}"#,
      #"{"module":"RNN","kwargs":{"hidden_size":4}}"#,
    ]
    for text in bad {
      #expect(throws: RNNRefError.self, "\(text)") { _ = try PyTorch.ModuleConfig(config: Self.config(text)) }
    }
  }

  // MARK: - Native call verification (errors raised before the engine runs)

  func callErrors<S: RNNScalar>(_ s: S.Type) throws {
    let cfg = { (call: String) in
      Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"num_layers":2},"call":\#(call)}"#)
    }
    let w = try Self.randomWeights(S.self, cfg("{}"), seed: 5)
    let x = Tensor<S>(uncheckedZeros: [5, 2, 3])
    func expectError(_ config: JSONValue, _ inputs: [(String, Tensor<S>)], mentions: [String]) {
      do {
        _ = try PyTorch.evaluate(config: config, weights: w, inputs: NamedTensors(inputs))
        Issue.record("accepted: \(inputs.map(\.0))")
      } catch {
        let text = "\(error)"
        for m in mentions { #expect(text.contains(m), "\(text) should mention \(m)") }
      }
    }
    // h0 is (L*D, N, H) = [2, 2, 4], never batch-first.
    expectError(cfg("{}"), [("input", x), ("h0", Tensor(uncheckedZeros: [2, 4, 2])), ("c0", Tensor(uncheckedZeros: [2, 2, 4]))],
                mentions: ["h0", "[2, 4, 2]", "[2, 2, 4]"])
    // (h0, c0) is a tuple.
    expectError(cfg("{}"), [("input", x), ("h0", Tensor(uncheckedZeros: [2, 2, 4]))], mentions: ["c0"])
    // Unsorted lengths with enforce_sorted=True.
    let lengths = Tensor<S>(uncheckedShape: [2], scalars: [3, 5])
    expectError(cfg(#"{"packed":true,"enforce_sorted":true}"#), [("input", x), ("lengths", lengths)],
                mentions: ["enforce_sorted", "[3, 5]"])
    // A zero length, a length past T.
    expectError(cfg(#"{"packed":true,"enforce_sorted":false}"#),
                [("input", x), ("lengths", Tensor(uncheckedShape: [2], scalars: [0, 5]))], mentions: ["lengths"])
    expectError(cfg(#"{"packed":true,"enforce_sorted":false}"#),
                [("input", x), ("lengths", Tensor(uncheckedShape: [2], scalars: [6, 5]))], mentions: ["lengths"])
    // Packed without lengths; lengths without packed.
    expectError(cfg(#"{"packed":true}"#), [("input", x)], mentions: ["lengths"])
    expectError(cfg(#"{"packed":false}"#), [("input", x), ("lengths", lengths)], mentions: ["lengths"])
    // Wrong feature size.
    expectError(cfg("{}"), [("input", Tensor(uncheckedZeros: [5, 2, 4]))], mentions: ["input", "[5, 2, 4]", "input_size=3"])
    // total_length shorter than the longest sequence.
    expectError(cfg(#"{"packed":true,"enforce_sorted":false,"total_length":4}"#),
                [("input", x), ("lengths", lengths)], mentions: ["total_length"])
  }
  @Test func callErrorsFloat() throws { try callErrors(Float.self) }
  @Test func callErrorsDouble() throws { try callErrors(Double.self) }

  // MARK: - Export names what torch cannot express

  func exportUnsupported<S: RNNScalar>(_ s: S.Type) throws {
    let lstmConfig = Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4}}"#)
    let net: Network<S> = try PyTorch.importNetwork(config: lstmConfig, weights: try Self.randomWeights(S.self, lstmConfig, seed: 9))
    guard case .lstm(let lstm) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); return }
    func expectUnsupported(_ network: Network<S>, mentions: String) {
      do {
        _ = try PyTorch.exportNetwork(network)
        Issue.record("export accepted a network with \(mentions)")
      } catch let e as RNNRefError {
        guard case .unsupported(let fw, let feature) = e else { Issue.record("wrong error \(e)"); return }
        #expect(fw == "pytorch" && feature.contains(mentions), "\(feature)")
      } catch { Issue.record("unexpected \(error)") }
    }
    var peep = lstm
    peep.peepholes = .init(i: Tensor(uncheckedZeros: [4]), f: Tensor(uncheckedZeros: [4]), o: Tensor(uncheckedZeros: [4]))
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(peep)])]), mentions: "peepholes")
    var clip = lstm
    clip.cellClip = 3
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(clip)])]), mentions: "cell clip")
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .reverse, cells: [.lstm(lstm)])]), mentions: "reverse-only")
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(lstm)], reverseOutputOrder: .timeReversed)]),
                      mentions: "go_backwards")
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .bidirectional, cells: [.lstm(lstm), .lstm(lstm)], merge: .sum)]),
                      mentions: "merge mode sum")
    var hard = lstm
    hard.gateActivation = .hardSigmoidKeras2
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(hard)])]), mentions: "activations")

    let gruConfig = Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4}}"#)
    let gnet: Network<S> = try PyTorch.importNetwork(config: gruConfig, weights: try Self.randomWeights(S.self, gruConfig, seed: 10))
    guard case .gru(var gru) = gnet.layers[0].cells[0] else { Issue.record("not a GRU"); return }
    gru.resetAfter = false
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.gru(gru)])]), mentions: "reset gate applied before")
    // Mixed cell kinds across layers.
    var second = lstm
    second.inputSize = 4
    second.kernel = Tensor(uncheckedZeros: [4, 16])
    gru.resetAfter = true
    expectUnsupported(Network(layers: [RecurrentLayer(direction: .forward, cells: [.gru(gru)]),
                                       RecurrentLayer(direction: .forward, cells: [.lstm(second)])]),
                      mentions: "LSTM cell in an nn.GRU")
  }
  @Test func exportUnsupportedFloat() throws { try exportUnsupported(Float.self) }
  @Test func exportUnsupportedDouble() throws { try exportUnsupported(Double.self) }

  /// A run-time forget bias (TF1) is folded into bias_ih's f block: the same function in torch's terms.
  func forgetBiasFolds<S: RNNScalar>(_ s: S.Type) throws {
    let config = Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":2}}"#)
    let w = try Self.randomWeights(S.self, config, seed: 11)
    var net: Network<S> = try PyTorch.importNetwork(config: config, weights: w)
    guard case .lstm(var c) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); return }
    c.forgetBias = 1
    net.layers[0].cells[0] = .lstm(c)
    let (_, exported) = try PyTorch.exportNetwork(net)
    let before = w["bias_ih_l0"]!.scalars, after = exported["bias_ih_l0"]!.scalars
    for j in 0..<8 { #expect(after[j] == before[j] + ((2..<4).contains(j) ? 1 : 0), "bias_ih_l0[\(j)]") }
    #expect(exported["bias_hh_l0"] == w["bias_hh_l0"])
  }
  @Test func forgetBiasFoldsFloat() throws { try forgetBiasFolds(Float.self) }
  @Test func forgetBiasFoldsDouble() throws { try forgetBiasFolds(Double.self) }

  @Test func axisNamesFollowLayout() {
    let bf = Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"batch_first":true}}"#)
    #expect(PyTorch.axisNames(output: "output", config: bf) == ["batch", "step", "unit"])
    #expect(PyTorch.axisNames(output: "h_n", config: bf) == ["layer*dir", "batch", "unit"])
    let tm = Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4},"call":{"batched":false}}"#)
    #expect(PyTorch.axisNames(output: "output", config: tm) == ["step", "unit"])
  }

  // MARK: - Absurd sizes are refused against the weights given, before anything is planned

  @Test func absurdSizesAreRefusedByKeyPath() throws {
    let good = Self.config(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4}}"#)
    let w = try Self.randomWeights(Double.self, good, seed: 11)
    func refused(_ text: String) -> (key: String, value: String, reason: String)? {
      do {
        let _: Network<Double> = try PyTorch.importNetwork(config: Self.config(text), weights: w)
      } catch let RNNRefError.invalidConfig(key, value, reason) {
        return (key, value, reason)
      } catch { Issue.record("wrong error \(error)") }
      return nil
    }
    let layers = refused(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":4,"num_layers":1e9}}"#)
    #expect(layers?.key == "kwargs.num_layers" && layers?.value == "1000000000", "\(String(describing: layers))")
    #expect(layers?.reason.contains("4 are given") == true && layers?.reason.contains("num_layers") == true,
            "\(layers?.reason ?? "")")
    let hidden = refused(#"{"module":"LSTM","kwargs":{"input_size":3,"hidden_size":1e9}}"#)
    #expect(hidden?.key == "kwargs.hidden_size" && hidden?.reason.contains("largest is 16") == true, "\(String(describing: hidden))")
    let input = refused(#"{"module":"LSTM","kwargs":{"input_size":1e12,"hidden_size":4}}"#)
    #expect(input?.key == "kwargs.input_size", "\(String(describing: input))")
    // The same through evaluate (the runner's path).
    #expect(throws: RNNRefError.self) {
      _ = try PyTorch.evaluate(config: Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"num_layers":1e9}}"#),
                               weights: w, inputs: NamedTensors([("input", Tensor<Double>(uncheckedZeros: [2, 1, 3]))]))
    }
  }

  @Test func parsedConfigIsSharedByEvaluateAndAxisNames() throws {
    let json = Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"batch_first":true}}"#)
    let parsed = try PyTorch.parsed(config: json)
    #expect(parsed.framework == .pytorch)
    #expect(parsed.axisNames(output: "output") == ["batch", "step", "unit"])
    let w = try Self.randomWeights(Double.self, json, seed: 3)
    let x = NamedTensors([("input", Tensor<Double>(uncheckedShape: [2, 5, 3], scalars: (0..<30).map { Double($0) / 30 }))])
    #expect(try parsed.evaluate(weights: w, inputs: x) == PyTorch.evaluate(config: json, weights: w, inputs: x))
    // A malformed config fails at parse time, naming the key path.
    #expect(throws: RNNRefError.invalidConfig(key: "kwargs.hidden_sise", value: "4",
                                              reason: "nn.GRU has no such argument; known: batch_first, bias, bidirectional, device, "
                                                + "dropout, dtype, hidden_size, input_size, nonlinearity, num_layers, proj_size")) {
      _ = try PyTorch.parseConfig(Self.config(#"{"module":"GRU","kwargs":{"input_size":3,"hidden_size":4,"hidden_sise":4}}"#))
    }
  }
}
