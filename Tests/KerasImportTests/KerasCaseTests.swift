import _TestSupport
import Testing
@testable import KerasImport
@testable import RNNRef

/// Keras conformance cases through `KerasCases` (KerasImport's graph parser and the Keras
/// layer API): import then export is the identity for every option Keras supports,
/// loading verifies weight names and shapes, export names what Keras cannot express,
/// the model graph is read in both node formats, and run-time relations Keras
/// guarantees hold. Golden values live only in fixtures/keras (`rnnconf run fixtures/keras`).
@Suite struct KerasCaseTests {


  /// Networks covering every option the adapter exports, with the flavor to export them in.
  static func networks<S: RNNScalar>(_ s: S.Type) -> [(String, Keras.Version, Network<S>)] {
    var rng = Rand(state: 7)
    var out: [(String, Keras.Version, Network<S>)] = []
    func one(_ name: String, _ flavor: Keras.Version, _ layers: [RecurrentLayer<S>]) {
      out.append((name, flavor, Network(layers: layers)))
    }
    for flavor in [Keras.Version.keras2, .keras3] {
      let hs: Activation = flavor.isKeras3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2
      one("simple tanh", flavor, [RecurrentLayer(direction: .forward, cells: [kerasCell(.simple, i: 3, h: 4, &rng)],
                                                 padding: .repeatPreviousOutput)])
      one("simple relu no bias", flavor, [RecurrentLayer(direction: .forward,
                                                         cells: [kerasCell(.simple, i: 3, h: 4, bias: false, act: .relu, &rng)],
                                                         padding: .repeatPreviousOutput)])
      one("lstm hard_sigmoid", flavor, [RecurrentLayer(direction: .forward,
                                                       cells: [kerasCell(.lstm, i: 2, h: 3, gate: hs, &rng)],
                                                       padding: .repeatPreviousOutput)])
      one("gru reset_after", flavor, [RecurrentLayer(direction: .forward,
                                                     cells: [kerasCell(.gru(resetAfter: true), i: 3, h: 2, &rng)],
                                                     padding: .zeroOutput)])
      one("gru reset_before go_backwards", flavor,
          [RecurrentLayer(direction: .reverse, cells: [kerasCell(.gru(resetAfter: false), i: 3, h: 2, gate: hs, &rng)],
                          padding: .repeatPreviousOutput, reverseOutputOrder: .timeReversed)])
      for merge in [MergeMode.concat, .sum, .mul, .ave, .none] {
        var r2 = rng
        let a: Cell<S> = kerasCell(.lstm, i: 3, h: 4, &r2), b: Cell<S> = kerasCell(.lstm, i: 3, h: 4, &r2)
        rng = r2
        one("bidirectional lstm \(merge)", flavor, [RecurrentLayer(direction: .bidirectional, cells: [a, b],
                                                                  merge: merge, padding: .zeroOutput)])
      }
      let fwd: Cell<S> = kerasCell(.gru(resetAfter: true), i: 8, h: 4, bias: false, &rng)
      let bwd: Cell<S> = kerasCell(.gru(resetAfter: true), i: 8, h: 4, bias: false, &rng)
      one("stack lstm -> bidirectional gru -> simple", flavor, [
        RecurrentLayer(direction: .forward, cells: [kerasCell(.lstm, i: 3, h: 8, &rng)], padding: .repeatPreviousOutput),
        RecurrentLayer(direction: .bidirectional, cells: [fwd, bwd], merge: .concat, padding: .zeroOutput),
        RecurrentLayer(direction: .forward, cells: [kerasCell(.simple, i: 8, h: 5, &rng)], padding: .repeatPreviousOutput),
      ])
    }
    return out
  }

  // MARK: - Round trips

  func roundTrip<S: RNNScalar>(_ s: S.Type) throws {
    for (name, flavor, network) in Self.networks(S.self) {
      let (config, weights) = try KerasCases.exportNetwork(network, version: flavor)
      let back: Network<S> = try KerasCases.importNetwork(config: config, weights: weights)
      #expect(back == network, "canonical -> Keras -> canonical for \(name) (\(flavor))")
      // And the native side: Keras -> canonical -> Keras gives the same config and weights.
      let (config2, weights2) = try KerasCases.exportNetwork(back, version: flavor)
      #expect(config2 == config, "config round trip for \(name) (\(flavor))")
      #expect(weights2 == weights, "weights round trip (names, order, values) for \(name) (\(flavor))")
      let suffixOK = weights.names.allSatisfy { !flavor.isKeras3 ? $0.hasSuffix(":0") : !$0.contains(":") }
      #expect(suffixOK, "\(flavor) weight names: \(weights.names)")
    }
  }
  @Test func importThenExportIsIdentityFloat() throws { try roundTrip(Float.self) }
  @Test func importThenExportIsIdentityDouble() throws { try roundTrip(Double.self) }

  @Test func exportNamesKerasWeightsInModelOrder() throws {
    var rng = Rand(state: 3)
    let net = Network<Float>(layers: [
      RecurrentLayer(direction: .bidirectional, cells: [kerasCell(.lstm, i: 3, h: 2, &rng), kerasCell(.lstm, i: 3, h: 2, &rng)],
                     padding: .zeroOutput),
    ])
    let (_, w2) = try KerasCases.exportNetwork(net, version: .keras2)
    #expect(w2.names == ["bidirectional/forward_lstm/lstm_cell/kernel:0", "bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0",
                         "bidirectional/forward_lstm/lstm_cell/bias:0", "bidirectional/backward_lstm/lstm_cell/kernel:0",
                         "bidirectional/backward_lstm/lstm_cell/recurrent_kernel:0", "bidirectional/backward_lstm/lstm_cell/bias:0"])
    #expect(w2["bidirectional/forward_lstm/lstm_cell/kernel:0"]?.shape == [3, 8])
    #expect(w2["bidirectional/forward_lstm/lstm_cell/recurrent_kernel:0"]?.shape == [2, 8])
  }

  // MARK: - Generic over scalar: both hard_sigmoid definitions follow keras_version

  func hardSigmoidFollowsVersion<S: RNNScalar>(_ s: S.Type) throws {
    for (version, library, expected) in [("2.21.0", "tf-keras", Activation.hardSigmoidKeras2),
                                         ("3.15.1", "keras", .hardSigmoidKeras3)] {
      let config = try JSONValue(parsing: """
        {"library": "\(library)", "keras_version": "\(version)", "calls": 1, "model": {"class_name": "Sequential",
         "config": {"name": "s", "layers": [{"class_name": "LSTM", "config": {"name": "lstm", "units": 2,
          "recurrent_activation": "hard_sigmoid", "return_sequences": true}}]}}}
        """)
      var rng = Rand(state: 11)
      let w = NamedTensors<S>([("lstm/lstm_cell/kernel", .random([3, 8], rng: &rng)),
                               ("lstm/lstm_cell/recurrent_kernel", .random([2, 8], rng: &rng)),
                               ("lstm/lstm_cell/bias", .random([8], rng: &rng))])
      let net = try KerasCases.importNetwork(config: config, weights: w)
      guard case .lstm(let c) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); continue }
      #expect(c.gateActivation == expected, "keras_version \(version)")
    }
  }
  @Test func hardSigmoidFollowsVersionFloat() throws { try hardSigmoidFollowsVersion(Float.self) }
  @Test func hardSigmoidFollowsVersionDouble() throws { try hardSigmoidFollowsVersion(Double.self) }

  @Test func oldKerasDefaultsGRUResetBeforeAndHardSigmoid() throws {
    let config = try JSONValue(parsing: """
      {"keras_version": "2.2.4", "model": {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "GRU", "config": {"name": "gru_1", "units": 2, "return_sequences": true}}]}}}
      """)
    var rng = Rand(state: 5)
    let w = NamedTensors<Double>([("gru_1/kernel:0", .random([3, 6], rng: &rng)),
                                  ("gru_1/recurrent_kernel:0", .random([2, 6], rng: &rng)),
                                  ("gru_1/bias:0", .random([6], rng: &rng))])
    let net = try KerasCases.importNetwork(config: config, weights: w)
    guard case .gru(let c) = net.layers[0].cells[0] else { Issue.record("not a GRU"); return }
    #expect(c.resetAfter == false)
    #expect(c.gateActivation == .hardSigmoidKeras2)
  }

  // MARK: - Loading verifies

  static let lstmConfig = try! JSONValue(parsing: """
    {"library": "keras", "keras_version": "3.15.1", "calls": 1, "model": {"class_name": "Functional", "config": {
      "name": "model", "layers": [
        {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 5, 3]}, "inbound_nodes": []},
        {"class_name": "LSTM", "name": "lstm", "config": {"name": "lstm", "units": 4, "use_bias": true,
          "return_sequences": true},
         "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}],
                            "kwargs": {}}]}],
      "input_layers": [["x", 0, 0]], "output_layers": [["lstm", 0, 0]]}}}
    """)

  static func lstmWeights<S: RNNScalar>(_ s: S.Type) -> NamedTensors<S> {
    var rng = Rand(state: 9)
    return NamedTensors([("lstm/lstm_cell/kernel", .random([3, 16], rng: &rng)),
                         ("lstm/lstm_cell/recurrent_kernel", .random([4, 16], rng: &rng)),
                         ("lstm/lstm_cell/bias", .random([16], rng: &rng))])
  }

  func loadingVerifies<S: RNNScalar>(_ s: S.Type) throws {
    let good = Self.lstmWeights(S.self)
    _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: good)

    var wrong = good
    wrong["lstm/lstm_cell/recurrent_kernel"] = Tensor(uncheckedZeros: [4, 12])
    do {
      _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: wrong)
      Issue.record("a wrong shape was accepted")
    } catch let e as RNNRefError {
      guard case let .shapeMismatch(name, actual, expected, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/recurrent_kernel" && actual == [4, 12] && expected == [4, 16])
      #expect(e.description.contains("units=4"), "\(e)")
    }

    var noBias = good
    noBias["lstm/lstm_cell/bias"] = nil
    do {
      _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: noBias)
      Issue.record("a missing bias was accepted")
    } catch let e as RNNRefError {
      guard case let .missingWeight(name, shape, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/bias" && shape == [16])
    }

    var extra = good
    extra.append("lstm/lstm_cell/peephole", Tensor(uncheckedZeros: [4]))
    extra.append("dense/kernel", Tensor(uncheckedZeros: [4, 1]))
    do {
      _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: extra)
      Issue.record("unused weights were accepted")
    } catch let e as RNNRefError {
      guard case let .unusedWeights(names) = e else { Issue.record("\(e)"); return }
      #expect(names == ["dense/kernel"] || names == ["lstm/lstm_cell/peephole"])
      #expect(e.description.contains("`"))
    }

    var wrongInput = good
    wrongInput["lstm/lstm_cell/kernel"] = Tensor(uncheckedZeros: [5, 16])
    do {
      _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: wrongInput)
      Issue.record("a kernel for 5 features was accepted for a (None, 5, 3) input")
    } catch let e as RNNRefError {
      guard case let .shapeMismatch(name, actual, expected, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/kernel" && actual == [5, 16] && expected == [3, 16])
    }
  }
  @Test func loadingVerifiesFloat() throws { try loadingVerifies(Float.self) }
  @Test func loadingVerifiesDouble() throws { try loadingVerifies(Double.self) }

  @Test func unusedWeightInsideALayerIsNamed() throws {
    var w = Self.lstmWeights(Double.self)
    w.append("lstm/lstm_cell/extra", Tensor(uncheckedZeros: [4]))
    #expect(throws: RNNRefError.unusedWeights(names: ["lstm/lstm_cell/extra"])) {
      _ = try KerasCases.importNetwork(config: Self.lstmConfig, weights: w)
    }
  }

  @Test func unknownLayerIsNamed() throws {
    let config = try JSONValue(parsing: """
      {"keras_version": "2.21.0", "model": {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 2, "return_sequences": true}},
        {"class_name": "Dense", "config": {"name": "dense_7", "units": 1}}]}}}
      """)
    do {
      _ = try KerasCases.importNetwork(config: config, weights: NamedTensors<Float>())
      Issue.record("a Dense layer was accepted")
    } catch let e as RNNRefError {
      #expect(e.description.contains("Dense") && e.description.contains("dense_7"), "\(e)")
    }
  }

  @Test func exportNamesWhatKerasCannotExpress() throws {
    var rng = Rand(state: 1)
    guard case .lstm(var c) = kerasCell(.lstm, i: 2, h: 2, &rng) as Cell<Float> else { return }
    c.peepholes = .init(i: Tensor(uncheckedZeros: [2]), f: Tensor(uncheckedZeros: [2]), o: Tensor(uncheckedZeros: [2]))
    #expect(throws: RNNRefError.self) {
      _ = try KerasCases.exportNetwork(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(c)])]))
    }
    do {
      _ = try KerasCases.exportNetwork(Network(layers: [RecurrentLayer(direction: .forward, cells: [.lstm(c)])]))
    } catch let e as RNNRefError { #expect(e.description.contains("peepholes"), "\(e)") }

    let k3: Cell<Float> = kerasCell(.gru(resetAfter: true), i: 2, h: 2, gate: .hardSigmoidKeras3, &rng)
    do {
      _ = try KerasCases.exportNetwork(Network(layers: [RecurrentLayer(direction: .forward, cells: [k3])]), version: .keras2)
      Issue.record("Keras 3 hard_sigmoid exported as Keras 2")
    } catch let e as RNNRefError { #expect(e.description.contains("relu6"), "\(e)") }

    let rev: Cell<Float> = kerasCell(.simple, i: 2, h: 2, &rng)
    do {
      _ = try KerasCases.exportNetwork(Network(layers: [RecurrentLayer(direction: .reverse, cells: [rev],
                                                                  reverseOutputOrder: .alignedToInput)]))
      Issue.record("a reverse layer aligned to input time was exported")
    } catch let e as RNNRefError { #expect(e.description.contains("go_backwards"), "\(e)") }
  }

  // MARK: - Graph reading (both node formats)

  /// A Keras 3 functional model: Masking records NotEqual/Any ops and passes the mask
  /// as a kwarg; initial states are kwargs too. Only data inputs count.
  @Test func readsKeras3FunctionalGraph() throws {
    let config = try JSONValue(parsing: """
      {"library": "keras", "keras_version": "3.15.1", "calls": 1, "model": {"class_name": "Functional", "config": {
        "name": "model", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, 6, 3]}, "inbound_nodes": []},
          {"class_name": "NotEqual", "name": "not_equal", "config": {"name": "not_equal"},
           "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}, 0.0], "kwargs": {}}]},
          {"class_name": "Masking", "name": "masking", "config": {"name": "masking", "mask_value": 0.5},
           "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
          {"class_name": "Any", "name": "any", "config": {"name": "any"},
           "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["not_equal", 0, 0]}}], "kwargs": {}}]},
          {"class_name": "InputLayer", "name": "h0", "config": {"name": "h0", "batch_shape": [null, 4]}, "inbound_nodes": []},
          {"class_name": "GRU", "name": "gru", "config": {"name": "gru", "units": 4, "return_sequences": true, "return_state": true},
           "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["masking", 0, 0]}}],
                              "kwargs": {"mask": {"class_name": "__keras_tensor__", "config": {"keras_history": ["any", 0, 0]}},
                                         "initial_state": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["h0", 0, 0]}}]}}]}],
        "input_layers": [["x", 0, 0], ["h0", 0, 0]], "output_layers": [["gru", 0, 0], ["gru", 0, 1]]}}}
      """)
    let m = try KerasCases.chain(config)
    #expect(m.version.isKeras3)
    #expect(m.inputName == "x" && m.inputFeatures == 3 && m.maskValue == 0.5)
    #expect(m.layers.map(\.name) == ["gru"])
    #expect(m.initialStates[0] == ["h0"])
    #expect(KerasCases.outputNames(m.layers[0]) == ["output", "state_h"])
  }

  /// tf-keras lists inbound tensors positionally: the sequence, then the initial states.
  @Test func readsTFKerasFunctionalGraph() throws {
    let config = try JSONValue(parsing: """
      {"library": "tf-keras", "keras_version": "2.21.0", "calls": 1, "model": {"class_name": "Functional", "config": {
        "name": "model", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 6, 3]}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "fw_h0", "config": {"name": "fw_h0"}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "bw_h0", "config": {"name": "bw_h0"}, "inbound_nodes": []},
          {"class_name": "Bidirectional", "name": "bidirectional", "config": {"name": "bidirectional", "merge_mode": null,
            "layer": {"class_name": "SimpleRNN", "config": {"name": "simple_rnn", "units": 2, "return_sequences": false,
                                                             "return_state": true}}},
           "inbound_nodes": [[["x", 0, 0, {}], ["fw_h0", 0, 0, {}], ["bw_h0", 0, 0, {}]]]}],
        "input_layers": [["x", 0, 0], ["fw_h0", 0, 0], ["bw_h0", 0, 0]],
        "output_layers": [["bidirectional", 0, 0], ["bidirectional", 0, 1], ["bidirectional", 0, 2], ["bidirectional", 0, 3]]}}}
      """)
    let m = try KerasCases.chain(config)
    #expect(!m.version.isKeras3 && m.maskValue == nil)
    #expect(m.layers[0].bidirectional == MergeMode.none)
    #expect(m.initialStates[0] == ["fw_h0", "bw_h0"])
    // Bidirectional zeroes masked steps only when it returns sequences.
    #expect(m.layers[0].zeroOutputForMask == false)
    #expect(KerasCases.outputNames(m.layers[0]) == ["output_fw", "output_bw", "fw_state_h", "bw_state_h"])
  }

  // MARK: - Run-time properties (no golden values: relations Keras guarantees)

  /// A stateful second call equals a fresh call started from the first call's final states.
  func statefulCarriesState<S: RNNScalar>(_ s: S.Type) throws {
    func config(stateful: Bool, calls: Int, initial: Bool) throws -> JSONValue {
      let nodes = initial ? #"[[["x", 0, 0, {}], ["h0", 0, 0, {}], ["c0", 0, 0, {}]]]"# : #"[[["x", 0, 0, {}]]]"#
      let extra = initial ? #"{"class_name": "InputLayer", "name": "h0", "config": {"name": "h0"}, "inbound_nodes": []}, {"class_name": "InputLayer", "name": "c0", "config": {"name": "c0"}, "inbound_nodes": []},"# : ""
      return try JSONValue(parsing: """
        {"library": "tf-keras", "keras_version": "2.21.0", "calls": \(calls), "model": {"class_name": "Functional",
         "config": {"name": "model", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [2, 4, 3]}, "inbound_nodes": []},
          \(extra)
          {"class_name": "LSTM", "name": "lstm", "config": {"name": "lstm", "units": 4, "stateful": \(stateful),
            "return_sequences": true, "return_state": true}, "inbound_nodes": \(nodes)}],
          "input_layers": [["x", 0, 0]\(initial ? #", ["h0", 0, 0], ["c0", 0, 0]"# : "")],
          "output_layers": [["lstm", 0, 0], ["lstm", 0, 1], ["lstm", 0, 2]]}}}
        """)
    }
    var w = Self.lstmWeights(S.self)
    w = NamedTensors(w.entries.map { ($0.name + ":0", $0.tensor) })
    var rng = Rand(state: 21)
    let x0: Tensor<S> = .random([2, 4, 3], rng: &rng), x1: Tensor<S> = .random([2, 4, 3], rng: &rng)
    let two = try KerasCases.evaluate(config: config(stateful: true, calls: 2, initial: false), weights: w,
                                 inputs: NamedTensors([("x_call0", x0), ("x_call1", x1)]))
    #expect(two.names == ["output_call0", "state_h_call0", "state_c_call0", "output_call1", "state_h_call1", "state_c_call1"])
    let fresh = try KerasCases.evaluate(config: config(stateful: false, calls: 1, initial: true), weights: w,
                                   inputs: NamedTensors([("x", x1), ("h0", two["state_h_call0"]!), ("c0", two["state_c_call0"]!)]))
    #expect(fresh["output"] == two["output_call1"])
    #expect(fresh["state_c"] == two["state_c_call1"])
    let notCarried = try KerasCases.evaluate(config: config(stateful: false, calls: 1, initial: false), weights: w,
                                        inputs: NamedTensors([("x", x1)]))
    #expect(notCarried["output"] != two["output_call1"], "the second call must depend on the first")
  }
  @Test func statefulCarriesStateFloat() throws { try statefulCarriesState(Float.self) }
  @Test func statefulCarriesStateDouble() throws { try statefulCarriesState(Double.self) }

  /// go_backwards returns the forward layer's outputs on the time-flipped input, in
  /// processing order (tensorflow#40345): no flip back.
  func goBackwardsIsProcessingOrder<S: RNNScalar>(_ s: S.Type) throws {
    func config(_ back: Bool) throws -> JSONValue {
      try JSONValue(parsing: """
        {"library": "keras", "keras_version": "3.15.1", "model": {"class_name": "Sequential", "config": {"layers": [
          {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 5, 3]}},
          {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "go_backwards": \(back), "return_sequences": true}}]}}}
        """)
    }
    let w = Self.lstmWeights(S.self)
    var rng = Rand(state: 33)
    let x: Tensor<S> = .random([2, 5, 3], rng: &rng)
    let flipped = Tensor.concatenate((0..<5).reversed().map { x.slice(axis: 1, range: $0..<($0 + 1)) }, axis: 1)
    let back = try KerasCases.evaluate(config: config(true), weights: w, inputs: NamedTensors([("x", x)]))
    let fwdOnFlipped = try KerasCases.evaluate(config: config(false), weights: w, inputs: NamedTensors([("x", flipped)]))
    #expect(back["output"] == fwdOnFlipped["output"])
  }
  @Test func goBackwardsIsProcessingOrderFloat() throws { try goBackwardsIsProcessingOrder(Float.self) }
  @Test func goBackwardsIsProcessingOrderDouble() throws { try goBackwardsIsProcessingOrder(Double.self) }

  /// Keras 3 variable paths in a Sequential model start with the model's name.
  @Test func keras3SequentialPathsFindTheirLayer() throws {
    let config = try JSONValue(parsing: """
      {"library": "keras", "keras_version": "3.15.1", "model": {"class_name": "Sequential", "config": {"name": "sequential",
        "layers": [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 5, 3]}},
                   {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "return_sequences": true}}]}}}
      """)
    let plain = Self.lstmWeights(Double.self)
    let prefixed = NamedTensors(plain.entries.map { ("sequential/" + $0.name, $0.tensor) })
    #expect(try KerasCases.importNetwork(config: config, weights: prefixed) == KerasCases.importNetwork(config: config, weights: plain))
  }

  @Test func missingAndExtraInputsAreNamed() throws {
    let w = Self.lstmWeights(Float.self)
    #expect(throws: RNNRefError.missingInput(name: "x", reason: "the sequence input (N, T, I) of the model")) {
      _ = try KerasCases.evaluate(config: Self.lstmConfig, weights: w, inputs: NamedTensors([("input", Tensor(uncheckedZeros: [1, 5, 3]))]))
    }
    do {
      _ = try KerasCases.evaluate(config: Self.lstmConfig, weights: w, inputs: NamedTensors([("x", Tensor(uncheckedZeros: [1, 5, 2]))]))
      Issue.record("2 features accepted for a kernel of 3")
    } catch let e as RNNRefError {
      guard case let .shapeMismatch(name, actual, expected, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "x" && actual == [1, 5, 2] && expected == [1, 5, 3])
    }
  }

  /// A `CuDNNLSTM` / `CuDNNGRU` case (weights in cuDNN's layout, made with the inverse of
  /// tf-keras' conversion) computes what the `LSTM` / `GRU` it converts to computes.
  @Test func cuDNNCasesRunAsTheLayerKerasConvertsThemTo() throws {
    var rng = Rand(state: 41)
    for (cudnn, plain, g) in [("CuDNNLSTM", "LSTM", 4), ("CuDNNGRU", "GRU", 3)] {
      let i = 3, h = 4
      func config(_ cls: String, _ extra: String) throws -> JSONValue {
        try JSONValue(parsing: """
          {"library": "tf-keras", "keras_version": "2.2.4", "model": {"class_name": "Functional", "config": {
            "name": "model", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 5, \(i)]}, "inbound_nodes": []},
              {"class_name": "\(cls)", "name": "rnn", "config": {"name": "rnn", "units": \(h), "return_sequences": true\(extra)},
               "inbound_nodes": [[["x", 0, 0, {}]]]}],
            "input_layers": [["x", 0, 0]], "output_layers": [["rnn", 0, 0]]}}}
          """)
      }
      let k: Tensor<Double> = .random([i, g * h], rng: &rng), r: Tensor<Double> = .random([h, g * h], rng: &rng)
      let b: Tensor<Double> = .random(g == 4 ? [g * h] : [2, g * h], rng: &rng)
      let ck = Tensor.concatenate(k.split(g, axis: 1).map { Tensor(uncheckedShape: [i, h], scalars: $0.transposed2D.scalars) }, axis: 1)
      let cr = Tensor.concatenate(r.split(g, axis: 1).map { $0.transposed2D }, axis: 1)
      let cb = g == 4 ? Tensor.concatenate([b, Tensor(uncheckedZeros: [g * h])], axis: 0) : b.reshaped([2 * g * h])
      let x: Tensor<Double> = .random([2, 5, i], rng: &rng)
      let viaCuDNN = try KerasCases.evaluate(
        config: config(cudnn, ""), weights: NamedTensors([("rnn/kernel:0", ck), ("rnn/recurrent_kernel:0", cr), ("rnn/bias:0", cb)]),
        inputs: NamedTensors([("x", x)]))
      let extra = #", "activation": "tanh", "recurrent_activation": "sigmoid""# + (g == 3 ? #", "reset_after": true"# : "")
      let direct = try KerasCases.evaluate(
        config: config(plain, extra), weights: NamedTensors([("rnn/kernel:0", k), ("rnn/recurrent_kernel:0", r), ("rnn/bias:0", b)]),
        inputs: NamedTensors([("x", x)]))
      #expect(viaCuDNN == direct, "\(cudnn)")
      #expect(throws: RNNRefError.self) {
        _ = try KerasCases.evaluate(config: config(cudnn, ""), weights: NamedTensors([("rnn/kernel:0", ck), ("rnn/recurrent_kernel:0", cr)]),
                                    inputs: NamedTensors([("x", x)]))
      }
    }
  }

  // MARK: - Conversion with the other frameworks

  /// Keras networks exported to TF1, PyTorch and ONNX (where they can hold them) and
  /// back compute the same function (the engine's outputs and final states agree);
  /// where a framework cannot, the error is `unsupported` naming what.
  @Test func convertsWithEveryOtherFramework() throws {
    typealias Adapter = any NetworkConvention.Type
    let others: [Adapter] = [TF1.self, PyTorch.self, ONNX.self]
    func exportOrRefuse(_ a: Adapter, _ n: Network<Double>) throws -> (JSONValue, NamedTensors<Double>)? {
      do { return try a.exportNetwork(n) } catch let RNNRefError.unsupported(_, feature) {
        #expect(!feature.isEmpty)
        return nil
      }
    }
    func sameFunction(_ a: Network<Double>, _ b: Network<Double>) throws -> Bool {
      guard let i = a.layers.first?.inputSize, i == b.layers.first?.inputSize else { return false }
      var rng = Rand(state: 77)
      return try engineAgrees(a, b, input: .random([5, 2, i], rng: &rng), tolerance: 1e-12)
    }
    var converted = 0, refused = 0
    for (label, version, network) in Self.networks(Double.self) {
      let (config, weights) = try KerasCases.exportNetwork(network, version: version)
      let fromKeras: Network<Double> = try KerasCases.importNetwork(config: config, weights: weights)
      for b in others {
        guard let (cb, wb) = try exportOrRefuse(b, fromKeras) else { refused += 1; continue }
        let viaB = try b.importNetwork(config: cb, weights: wb)
        #expect(try sameFunction(fromKeras, viaB), "\(label): keras -> \(b.framework) computes something else")
        guard let (cBack, wBack) = try exportOrRefuse(KerasCases.self, viaB) else { refused += 1; continue }
        let back: Network<Double> = try KerasCases.importNetwork(config: cBack, weights: wBack)
        #expect(try sameFunction(fromKeras, back), "\(label): keras -> \(b.framework) -> keras computes something else")
        converted += 1
      }
    }
    // Most merge modes and go_backwards have no TF1/PyTorch/ONNX form: 14 of 66 pairs convert.
    #expect(converted >= 12, "only \(converted) conversions ran")
    #expect(refused >= 1)
  }
}
