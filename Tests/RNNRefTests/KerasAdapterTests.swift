import Testing
@testable import RNNRef
import _TestSupport

/// The Keras adapter's layer API: a layer config follows the Keras version that wrote
/// it, `importLayer` verifies weight names and shapes, `exportCell` then `importLayer` is
/// the identity, and the cuDNN and Keras 1 layouts convert to the fused one. Whole
/// models (graph, case names, round trips, stateful calls) are tested with KerasImport
/// (Tests/KerasImportTests/KerasCaseTests.swift); golden values live only in
/// fixtures/keras (`rnnconf run fixtures/keras`).
@Suite struct KerasAdapterTests {


  static func layer(_ json: String, version: Keras.Version) throws -> Keras.LayerConfig {
    guard let o = try JSONValue(parsing: json).object else { throw RNNRefError.invalidConfig(key: "test", value: json, reason: "not an object") }
    return try Keras.LayerConfig(layer: o, version: version)
  }

  // MARK: - Layer configs follow the version

  @Test func hardSigmoidFollowsVersion() throws {
    for (version, expected) in [(Keras.Version("2.21.0", library: "tf-keras"), Activation.hardSigmoidKeras2),
                                (Keras.Version("3.15.1", library: "keras"), .hardSigmoidKeras3),
                                (Keras.Version("3.0.0"), .hardSigmoidKeras3), (Keras.Version("2.1.6-tf"), .hardSigmoidKeras2)] {
      let l = try Self.layer(#"{"class_name": "LSTM", "config": {"name": "lstm", "units": 2, "recurrent_activation": "hard_sigmoid"}}"#,
                             version: version)
      #expect(l.cells[0].recurrentActivation == expected, "keras_version \(version)")
    }
  }

  /// Each Keras accepts its own names (tf_keras/src/activations.py, keras/src/activations/__init__.py);
  /// a Keras 3-only name in a Keras 2 model, a non-elementwise one, or a layer object is refused with
  /// its reason, and every accepted activation exports back to a name that version reads as the same.
  @Test func activationNamesFollowVersion() throws {
    let k2 = Keras.Version.keras2, k3 = Keras.Version.keras3
    for (name, expected) in [("swish", Activation.silu), ("silu", .silu), ("gelu", .gelu), ("relu6", .relu6),
                             ("leaky_relu", .leakyRelu(alpha: 0.2)), ("mish", .mish)] {
      #expect(try Keras.activation(.string(name), key: "a", version: k2) == expected, "\(name)")
      #expect(try Keras.activation(.string(name), key: "a", version: k3) == expected, "\(name)")
    }
    #expect(try Keras.activation(.string("hard_swish"), key: "a", version: k3) == .hardSilu)
    #expect(try Keras.activation(.string("celu"), key: "a", version: k3) == .elu(alpha: 1))
    func refusal(_ name: String, _ v: Keras.Version) -> String? {
      do { _ = try Keras.activation(.string(name), key: "lstm.activation", version: v); return nil }
      catch { return "\(error)" }
    }
    #expect(refusal("hard_silu", k2)?.contains("Keras 3 activation") == true)
    #expect(refusal("softmax", k3)?.contains("elementwise") == true)
    #expect(refusal("log_softmax", k2)?.contains("elementwise") == true)
    #expect(refusal("LeakyReLU", k2)?.contains("layer") == true)
    #expect(refusal("nope", k3)?.contains("squareplus") == true)
    for v in [k2, k3] {
      for e in Keras.activationNames where v.isKeras3 ? e.keras3 : e.keras2 {
        let back = try Keras.activationName(e.activation, version: v, role: "activation")
        #expect(try Keras.activation(.string(back), key: "a", version: v) == e.activation, "\(e.name) in \(v)")
      }
    }
  }

  @Test func oldKerasDefaultsGRUResetBeforeAndHardSigmoid() throws {
    let json = #"{"class_name": "GRU", "config": {"name": "gru_1", "units": 2, "return_sequences": true}}"#
    let old = try Self.layer(json, version: Keras.Version("2.2.4"))
    #expect(old.cells[0].resetAfter == false && old.cells[0].recurrentActivation == .hardSigmoidKeras2)
    let new = try Self.layer(json, version: Keras.Version("2.3.0"))
    #expect(new.cells[0].resetAfter == true && new.cells[0].recurrentActivation == .sigmoid)
  }

  @Test func keras1KeysAndCuDNNLayersReadAsKerasConvertsThem() throws {
    let k1 = try Self.layer(#"{"class_name": "LSTM", "config": {"name": "lstm_1", "output_dim": 3, "inner_activation": "hard_sigmoid"}}"#,
                            version: Keras.Version("1.2.2"))
    #expect(k1.cells[0].units == 3 && k1.cells[0].recurrentActivation == .hardSigmoidKeras2)
    #expect(k1.storage == .keras1PerGate && k1.storedWeightCount == 12)
    let cudnn = try Self.layer(#"{"class_name": "CuDNNGRU", "config": {"name": "g", "units": 4}}"#,
                               version: Keras.Version("2.2.4"))
    #expect(cudnn.className == "GRU" && cudnn.storage == .cudnn && cudnn.storedWeightCount == 3)
    #expect(cudnn.cells[0].resetAfter && cudnn.cells[0].recurrentActivation == .sigmoid && cudnn.cells[0].useBias)
    let bi = try Self.layer(#"{"class_name": "Bidirectional", "config": {"name": "b", "layer": {"class_name": "CuDNNLSTM", "config": {"name": "l", "units": 2}}}}"#,
                            version: .keras2)
    #expect(bi.storage == .cudnn && bi.storedWeightCount == 6 && bi.bidirectional == .concat)
  }

  /// A user's `backward_layer` keeps its own name in Keras 3 and gets `backward_` in tf-keras
  /// (keras/src/layers/rnn/bidirectional.py, tf_keras/src/layers/rnn/bidirectional.py); a
  /// missing weight is named that way, never with a placeholder.
  @Test func backwardLayerNamesFollowVersion() throws {
    let json = #"{"class_name": "Bidirectional", "config": {"name": "bidirectional", "layer": {"class_name": "LSTM", "config": {"name": "lstm", "units": 2}}, "backward_layer": {"class_name": "LSTM", "config": {"name": "rev", "units": 2, "go_backwards": true}}}}"#
    let k3 = try Self.layer(json, version: .keras3), k2 = try Self.layer(json, version: .keras2)
    #expect(k3.directionNames == ["forward_lstm", "rev"])
    #expect(k2.directionNames == ["forward_lstm", "backward_rev"])
    var rng = Rand(state: 3)
    let fw: [Keras.NamedWeight<Double>] = [("k", .random([3, 8], rng: &rng)), ("r", .random([2, 8], rng: &rng)), ("b", .random([8], rng: &rng))]
    do {
      _ = try Keras.importLayer(k3, inputFeatures: 3, weights: fw)
      Issue.record("a Bidirectional without backward weights was accepted")
    } catch {
      #expect("\(error)".contains("bidirectional/rev/lstm_cell/kernel") && !"\(error)".contains("<layer>"), "\(error)")
    }
    let plain = try Self.layer(#"{"class_name": "Bidirectional", "config": {"name": "b", "layer": {"class_name": "GRU", "config": {"name": "forward_gru", "units": 2}}}}"#,
                               version: .keras3)
    #expect(plain.directionNames == ["forward_gru", "backward_forward_gru"])
  }

  @Test func unknownLayerIsNamed() throws {
    do {
      _ = try Self.layer(#"{"class_name": "Dense", "config": {"name": "dense_7", "units": 1}}"#, version: .keras2)
      Issue.record("a Dense layer was accepted")
    } catch let e as RNNRefError {
      #expect(e.description.contains("Dense") && e.description.contains("dense_7"), "\(e)")
    }
  }

  // MARK: - importLayer verifies

  static let lstm = try! layer(#"{"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "return_sequences": true}}"#,
                               version: .keras3)

  static func lstmWeights<S: RNNScalar>(_ s: S.Type) -> [Keras.NamedWeight<S>] {
    var rng = Rand(state: 9)
    return [("lstm/lstm_cell/kernel", .random([3, 16], rng: &rng)),
            ("lstm/lstm_cell/recurrent_kernel", .random([4, 16], rng: &rng)),
            ("lstm/lstm_cell/bias", .random([16], rng: &rng))]
  }

  func importVerifies<S: RNNScalar>(_ s: S.Type) throws {
    let good = Self.lstmWeights(S.self)
    _ = try Keras.importLayer(Self.lstm, inputFeatures: 3, weights: good)

    var wrong = good
    wrong[1].tensor = Tensor(uncheckedZeros: [4, 12])
    do {
      _ = try Keras.importLayer(Self.lstm, inputFeatures: 3, weights: wrong)
      Issue.record("a wrong shape was accepted")
    } catch let e as RNNRefError {
      guard case let .shapeMismatch(name, actual, expected, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/recurrent_kernel" && actual == [4, 12] && expected == [4, 16])
      #expect(e.description.contains("units=4"), "\(e)")
    }

    do {
      _ = try Keras.importLayer(Self.lstm, inputFeatures: 3, weights: Array(good.prefix(2)))
      Issue.record("a missing bias was accepted")
    } catch let e as RNNRefError {
      guard case let .missingWeight(name, shape, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/bias" && shape == [16])
    }

    #expect(throws: RNNRefError.unusedWeights(names: ["lstm/lstm_cell/extra"])) {
      _ = try Keras.importLayer(Self.lstm, inputFeatures: 3, weights: good + [("lstm/lstm_cell/extra", Tensor(uncheckedZeros: [4]))])
    }

    do {
      _ = try Keras.importLayer(Self.lstm, inputFeatures: 5, weights: good)
      Issue.record("a kernel for 3 features was accepted for a 5-feature input")
    } catch let e as RNNRefError {
      guard case let .shapeMismatch(name, actual, expected, _) = e else { Issue.record("\(e)"); return }
      #expect(name == "lstm/lstm_cell/kernel" && actual == [3, 16] && expected == [5, 16])
    }
  }
  @Test func importVerifiesFloat() throws { try importVerifies(Float.self) }
  @Test func importVerifiesDouble() throws { try importVerifies(Double.self) }

  // MARK: - exportCell then importLayer is the identity

  @Test func exportCellThenImportLayerIsIdentity() throws {
    var rng = Rand(state: 7)
    for version in [Keras.Version.keras2, .keras3] {
      let hs: Activation = version.isKeras3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2
      let cells: [(String, Cell<Double>)] = [
        ("simple relu no bias", kerasCell(.simple, i: 3, h: 4, bias: false, act: .relu, &rng)),
        ("lstm hard_sigmoid", kerasCell(.lstm, i: 2, h: 3, gate: hs, &rng)),
        ("gru reset_after", kerasCell(.gru(resetAfter: true), i: 3, h: 2, &rng)),
        ("gru reset_before", kerasCell(.gru(resetAfter: false), i: 3, h: 2, gate: hs, &rng)),
      ]
      for (label, cell) in cells {
        let kind = Keras.kind(of: cell)
        var (cfg, w) = try Keras.exportCell(cell, version: version, layer: 0)
        cfg["name"] = .string("l")
        let lc = try Keras.LayerConfig(layer: ["class_name": .string(kind.rawValue), "config": .object(cfg)], version: version)
        let back: [RecurrentLayer<Double>] = try Keras.importLayer(lc, inputFeatures: nil, weights: w.map { (name: $0.0, tensor: $0.1) })
        #expect(back == [RecurrentLayer(direction: .forward, cells: [cell], padding: .repeatPreviousOutput)], "\(label) (\(version))")
      }
    }
  }

  @Test func exportNamesWhatKerasCannotExpress() throws {
    var rng = Rand(state: 1)
    guard case .lstm(var c) = kerasCell(.lstm, i: 2, h: 2, &rng) as Cell<Float> else { return }
    c.peepholes = .init(i: Tensor(uncheckedZeros: [2]), f: Tensor(uncheckedZeros: [2]), o: Tensor(uncheckedZeros: [2]))
    do {
      _ = try Keras.exportCell(Cell.lstm(c), version: .keras3, layer: 0)
      Issue.record("peepholes exported")
    } catch let e as RNNRefError { #expect(e.description.contains("peepholes"), "\(e)") }

    let k3: Cell<Float> = kerasCell(.gru(resetAfter: true), i: 2, h: 2, gate: .hardSigmoidKeras3, &rng)
    do {
      _ = try Keras.exportCell(k3, version: .keras2, layer: 0)
      Issue.record("Keras 3 hard_sigmoid exported as Keras 2")
    } catch let e as RNNRefError { #expect(e.description.contains("relu6"), "\(e)") }
  }

  // MARK: - Stored layouts

  /// cuDNN weights made from fused ones with the inverse transform tf-keras applies when
  /// saving for cuDNN (`kernel.T.reshape(kernel.shape, order="C")` per gate, recurrent
  /// kernels transposed per gate, biases split input/recurrent) convert back exactly.
  @Test func cuDNNWeightsConvertToFused() throws {
    var rng = Rand(state: 17)
    for kind in [Keras.CellKind.lstm, .gru] {
      let g = kind.gates, i = 3, h = 2
      let k: Tensor<Double> = .random([i, g * h], rng: &rng), r: Tensor<Double> = .random([h, g * h], rng: &rng)
      let fusedBias: Tensor<Double> = .random(kind == .lstm ? [g * h] : [2, g * h], rng: &rng)
      // To cuDNN: per gate, the C-order reshape of the transposed block.
      let ck = Tensor.concatenate(k.split(g, axis: 1).map { blk in
        Tensor(uncheckedShape: [i, h], scalars: blk.transposed2D.scalars) }, axis: 1)
      let cr = Tensor.concatenate(r.split(g, axis: 1).map { $0.transposed2D }, axis: 1)
      // LSTM: the two biases Keras sums (any split works); GRU: the two rows, flattened.
      let cb: Tensor<Double> = kind == .lstm
        ? Tensor.concatenate([fusedBias, Tensor(uncheckedZeros: [g * h])], axis: 0) : fusedBias.reshaped([2 * g * h])
      let fused = try Keras.fusedFromCuDNN([("k", ck), ("r", cr), ("b", cb)], kind: kind)
      #expect(fused.map(\.name) == ["k", "r", "b"])
      #expect(fused[0].tensor == k && fused[1].tensor == r && fused[2].tensor == fusedBias, "\(kind)")
    }
  }

  /// Keras 1 per-gate arrays cut from fused weights (LSTM stored i, c, f, o; GRU z, r, h;
  /// W, U, b per gate) fuse back to them.
  @Test func keras1PerGateWeightsFuse() throws {
    var rng = Rand(state: 19)
    for (kind, stored) in [(Keras.CellKind.lstm, [0, 2, 1, 3]), (.gru, [0, 1, 2])] {
      let g = kind.gates, i = 3, h = 2
      let k: Tensor<Double> = .random([i, g * h], rng: &rng), r: Tensor<Double> = .random([h, g * h], rng: &rng)
      let b: Tensor<Double> = .random([g * h], rng: &rng)
      let (ks, rs, bs) = (k.split(g, axis: 1), r.split(g, axis: 1), b.split(g, axis: 0))
      var raw: [Keras.NamedWeight<Double>] = []
      for gate in stored { raw += [("W\(gate)", ks[gate]), ("U\(gate)", rs[gate]), ("b\(gate)", bs[gate])] }
      let fused = try Keras.fusedFromKeras1(raw, kind: kind)
      #expect(fused.map(\.tensor) == [k, r, b], "\(kind)")
      // Each fused weight names the stored arrays it joins, in the fused gate order.
      #expect(fused[0].name == (0..<g).map { "W\($0)" }.joined(separator: "+"), "\(fused[0].name)")
    }
  }

  /// Malformed stored layouts are errors naming the array, never traps.
  @Test func malformedStoredLayoutsAreNamed() throws {
    let w = Tensor<Double>(uncheckedZeros: [3, 2]), u = Tensor<Double>(uncheckedZeros: [2, 2]), b = Tensor<Double>(uncheckedZeros: [2])
    var raw: [Keras.NamedWeight<Double>] = (0..<4).flatMap { g in [("W\(g)", w), ("U\(g)", u), ("b\(g)", b)] }
    #expect(throws: RNNRefError.self) { _ = try Keras.fusedFromKeras1(Array(raw.prefix(11)), kind: .lstm) }
    raw[7].tensor = Tensor(uncheckedZeros: [2, 3])
    do {
      _ = try Keras.fusedFromKeras1(raw, kind: .lstm)
      Issue.record("a misshaped U was fused")
    } catch let RNNRefError.shapeMismatch(name, actual, expected, _) {
      #expect(name == "U2" && actual == [2, 3] && expected == [2, 2])
    }
    do {
      _ = try Keras.fusedFromCuDNN([("k", Tensor<Double>(uncheckedZeros: [3, 8])), ("r", Tensor(uncheckedZeros: [2, 8])), ("b", Tensor(uncheckedZeros: [8]))],
                                   kind: .lstm)
      Issue.record("a cuDNN bias of one side was converted")
    } catch let RNNRefError.shapeMismatch(name, actual, expected, _) {
      #expect(name == "b" && actual == [8] && expected == [16])
    }
  }
}
