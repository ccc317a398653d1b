import Testing
@testable import RNNRef
import _TestSupport

/// The canonical residual connection (`Network.residuals`, TF1 `ResidualWrapper`): the expected
/// values are built from the engine's plain per-layer runs and a sum written here, never from
/// the residual code; the TF1 fixtures (`fixtures/tf1/residual_wrap_multi_*`) check it against
/// TensorFlow itself.
@Suite struct ResidualTests {
  static func stack(_ sizes: [Int], input: Int, seed: UInt64 = 3) -> [RecurrentLayer<Double>] {
    var rng = SeededRNG(seed: seed)
    var i = input
    let kinds: [CellKind] = [.lstm, .gru, .simple]
    return sizes.enumerated().map { k, h in
      defer { i = h }
      return RecurrentLayer(direction: .forward, cells: [randomCell(kinds[k % 3], Double.self, input: i, hidden: h, rng: &rng)])
    }
  }

  static func add(_ a: Tensor<Double>, _ b: Tensor<Double>, mask: StepMask?) -> Tensor<Double> {
    var out = a
    let (T, N, F) = (a.shape[0], a.shape[1], a.shape[2])
    for t in 0..<T { for n in 0..<N where mask.map({ $0[batch: n, step: t] }) ?? true { for f in 0..<F {
      out[[t, n, f]] = a[[t, n, f]] + b[[t, n, f]]
    } } }
    return out
  }

  /// Residual(0, last) around a stack whose middle size differs, plus Residual(0, 0) inside:
  /// the sum reaches the next layer and the output; masked steps stay zero; states are untouched.
  @Test func residualAroundAStackAndInsideIt() throws {
    var rng = SeededRNG(seed: 7)
    let (T, N, I) = (5, 3, 3)
    let x = Tensor<Double>.random([T, N, I], rng: &rng)
    let mask = StepMask(lengths: [5, 2, 0], steps: T)
    let layers = Self.stack([3, 5, 3], input: I)
    let net = Network(layers: layers, residuals: [Residual(from: 0, to: 0), Residual(from: 0, to: 2)])
    let out = try Engine.run(net, input: x, mask: mask)

    // By hand: layer 0, then + x; layers 1 and 2 on that; then + x at the top.
    let l0 = try Engine.run(layers[0], input: x, mask: mask)
    let y0 = Self.add(l0.merged, x, mask: mask)
    let l1 = try Engine.run(layers[1], input: y0, mask: mask)
    let l2 = try Engine.run(layers[2], input: l1.merged, mask: mask)
    let top = Self.add(l2.merged, x, mask: mask)
    #expect(out.layers[0].merged.maxAbsDifference(y0) == 0)
    #expect(out.last.merged.maxAbsDifference(top) == 0)
    #expect(out.last.finalStates == l2.finalStates)
    #expect(out.last.directionOutputs[0] == l2.merged, "the direction outputs stay the cell's own")
    // Sample 2 has length 0: every output is zero, not the input.
    for t in 0..<T { for f in 0..<3 { #expect(out.last.merged[[t, 2, f]] == 0) } }
    // And a residual changes the numbers (a test that a no-op would fail).
    let plain = try Engine.run(Network(layers: layers), input: x, mask: mask)
    #expect(plain.last.merged.maxAbsDifference(out.last.merged) > 0.01)
  }

  @Test func malformedResidualsAreNamedErrors() throws {
    var rng = SeededRNG(seed: 8)
    let x = Tensor<Double>.random([4, 2, 3], rng: &rng)
    let layers = Self.stack([3, 4], input: 3)
    func reason(_ r: [Residual], _ ls: [RecurrentLayer<Double>]? = nil) -> String? {
      do { _ = try Engine.run(Network(layers: ls ?? layers, residuals: r), input: x); return nil } catch {
        guard case RNNRefError.invalidConfig(let key, _, let why) = error else { return "\(error)" }
        return key + ": " + why
      }
    }
    #expect(reason([Residual(from: 0, to: 0)]) == nil)
    #expect(reason([Residual(from: 0, to: 1)])?.contains("the input of layer 0 has 3 features but the output of layer 1 has 4") == true)
    #expect(reason([Residual(from: 1, to: 0)])?.contains("residuals[0]") == true)
    #expect(reason([Residual(from: 0, to: 2)])?.contains("0 ..< 2") == true)
    #expect(reason([Residual(from: -1, to: 0)]) != nil)
    var repeating = layers
    repeating[0].padding = .repeatPreviousOutput
    #expect(reason([Residual(from: 0, to: 0)], repeating)?.contains("repeats the previous output") == true)
  }

  /// TF1: ResidualWrapper(MultiRNNCell) imports as Residual(0, last) (nested wrappers in their
  /// order), exports back to the same config, and a bidirectional residual is refused by name.
  @Test func tf1ResidualWrapperAroundAMultiRNNCell() throws {
    let cfg = #"{"cell":{"class":"ResidualWrapper","kwargs":{},"cell":{"class":"MultiRNNCell","state_is_tuple":true,"cells":[{"class":"ResidualWrapper","kwargs":{},"cell":{"class":"LSTMCell","kwargs":{"num_units":3}}},{"class":"GRUCell","kwargs":{"num_units":3}}]}},"driver":"dynamic_rnn","driver_kwargs":{"dtype":"float64","time_major":false},"scope":null}"#
    var seed: UInt64 = 5
    let w: NamedTensors<Double> = NamedTensors([
      ("rnn/multi_rnn_cell/cell_0/lstm_cell/kernel", [6, 12]), ("rnn/multi_rnn_cell/cell_0/lstm_cell/bias", [12]),
      ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel", [6, 6]), ("rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias", [6]),
      ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel", [6, 3]), ("rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias", [3]),
    ].map { ($0.0, TF1AdapterTests.random($0.1, seed: &seed)) })
    let json = TF1AdapterTests.config(cfg)
    let net: Network<Double> = try TF1.importNetwork(config: json, weights: w)
    #expect(net.residuals == [Residual(from: 0, to: 0), Residual(from: 0, to: 1)])
    let (back, bw) = try TF1.exportNetwork(net)
    #expect(back == json)
    #expect(bw == w)
    // A residual the wrappers cannot say is refused.
    var odd = net
    odd.residuals = [Residual(from: 1, to: 1), Residual(from: 1, to: 1)]
    #expect(throws: RNNRefError.self) { _ = try TF1.exportNetwork(odd) }
    // The wrapper's input size must match the top output.
    let bad = cfg.replacingOccurrences(of: #""GRUCell","kwargs":{"num_units":3}"#, with: #""GRUCell","kwargs":{"num_units":2}"#)
    let w2: NamedTensors<Double> = NamedTensors(w.entries.map { e in
      let shape: [Int] = e.name.hasSuffix("gates/kernel") ? [5, 4] : e.name.hasSuffix("gates/bias") ? [4]
        : e.name.hasSuffix("candidate/kernel") ? [5, 2] : e.name.hasSuffix("candidate/bias") ? [2] : e.tensor.shape
      return (e.name, TF1AdapterTests.random(shape, seed: &seed))
    })
    #expect {
      _ = try TF1.importNetwork(config: TF1AdapterTests.config(bad), weights: w2) as Network<Double>
    } throws: { error in
      guard case RNNRefError.invalidConfig(let key, let value, _) = error else { return false }
      return key.contains("ResidualWrapper(MultiRNNCell)") && value.contains("input size 3, top output size 2")
    }
    // Bidirectional with a residual: two independent stacks, not one canonical network.
    let bidir = #"{"cell":{"class":"ResidualWrapper","kwargs":{},"cell":{"class":"GRUCell","kwargs":{"num_units":3}}},"cell_bw":{"class":"GRUCell","kwargs":{"num_units":3}},"driver":"bidirectional_dynamic_rnn","driver_kwargs":{"dtype":"float64","time_major":false},"scope":null}"#
    let wb: NamedTensors<Double> = NamedTensors(["fw", "bw"].flatMap { d in
      [("bidirectional_rnn/\(d)/gru_cell/gates/kernel", [6, 6]), ("bidirectional_rnn/\(d)/gru_cell/gates/bias", [6]),
       ("bidirectional_rnn/\(d)/gru_cell/candidate/kernel", [6, 3]), ("bidirectional_rnn/\(d)/gru_cell/candidate/bias", [3])]
    }.map { ($0.0, TF1AdapterTests.random($0.1, seed: &seed)) })
    #expect {
      _ = try TF1.importNetwork(config: TF1AdapterTests.config(bidir), weights: wb) as Network<Double>
    } throws: { error in
      guard case RNNRefError.unsupported(_, let feature) = error else { return false }
      return feature.contains("ResidualWrapper") && feature.contains("bidirectional_dynamic_rnn")
    }
  }
}
