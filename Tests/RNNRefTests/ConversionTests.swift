import Testing
@testable import RNNRef
import _TestSupport

/// Conversion between frameworks: a network imported from A, exported to B,
/// imported back and exported to A again. Where B can hold the network, the
/// result must compute the same function; where B has two biases per gate
/// (PyTorch, ONNX) the native weights of A must come back bit for bit. Where B
/// cannot, the error must be `unsupported` and name what it cannot express.
@Suite struct ConversionTests {
  typealias Adapter = any NetworkConvention.Type
  /// Keras converts through KerasImport's `KerasCases` (Tests/KerasImportTests/KerasCaseTests.swift).
  static let adapters: [Adapter] = [TF1.self, PyTorch.self, ONNX.self]
  /// Targets that store an input-side and a recurrent-side bias, so a round trip through them is lossless.
  static let twoBiasTargets: Set<Framework> = [.pytorch, .onnx]

  /// Networks each framework family can produce; random weights (a round trip, not a golden value).
  static func sources<S: RNNScalar>(_: S.Type) -> [(String, Network<S>)] {
    var rng = SeededRNG(seed: 0x5eed)
    func lstm(_ i: Int, _ h: Int, recurrentBias: Bool = true) -> Cell<S> {
      guard case .lstm(var c) = randomCell(.lstm, S.self, input: i, hidden: h, rng: &rng) else { fatalError() }
      if !recurrentBias { c.recurrentBias = Tensor(uncheckedZeros: [4 * h]) }
      return .lstm(c)
    }
    func gru(_ i: Int, _ h: Int, resetAfter: Bool) -> Cell<S> {
      var o = CellOptions()
      o.resetAfter = resetAfter
      return randomCell(.gru, S.self, input: i, hidden: h, options: o, rng: &rng)
    }
    func rnn(_ i: Int, _ h: Int) -> Cell<S> { randomCell(.simple, S.self, input: i, hidden: h, rng: &rng) }
    return [
      ("lstm, one bias", Network(layers: [RecurrentLayer(direction: .forward, cells: [lstm(3, 4, recurrentBias: false)])])),
      ("lstm, two biases, two layers", Network(layers: [
        RecurrentLayer(direction: .forward, cells: [lstm(3, 4)]),
        RecurrentLayer(direction: .forward, cells: [lstm(4, 4)]),
      ])),
      ("bidirectional lstm", Network(layers: [RecurrentLayer(direction: .bidirectional, cells: [lstm(3, 2), lstm(3, 2)])])),
      ("gru reset after", Network(layers: [RecurrentLayer(direction: .forward, cells: [gru(3, 4, resetAfter: true)])])),
      ("gru reset before", Network(layers: [RecurrentLayer(direction: .forward, cells: [gru(3, 4, resetAfter: false)])])),
      ("simple rnn", Network(layers: [RecurrentLayer(direction: .forward, cells: [rnn(2, 5)])])),
    ]
  }

  /// The same function: the engine's outputs and final states agree.
  static func sameFunction<S: RNNScalar>(_ a: Network<S>, _ b: Network<S>, tolerance: Double) throws -> Bool {
    guard let i = a.layers.first?.inputSize, i == b.layers.first?.inputSize else { return false }
    var rng = SeededRNG(seed: 7)
    return try engineAgrees(a, b, input: .random([5, 2, i], scale: 1, rng: &rng), tolerance: tolerance)
  }

  func check<S: RNNScalar>(_: S.Type, tolerance: Double) throws {
    var converted = 0, refused = 0
    for (label, network) in Self.sources(S.self) {
      for a in Self.adapters {
        guard let (configA, weightsA) = try exportOrRefuse(a, network) else { continue }
        let fromA = try a.importNetwork(config: configA, weights: weightsA)
        for b in Self.adapters where b.framework != a.framework {
          guard let (configB, weightsB) = try exportOrRefuse(b, fromA) else { refused += 1; continue }
          let viaB = try b.importNetwork(config: configB, weights: weightsB)
          #expect(try Self.sameFunction(fromA, viaB, tolerance: tolerance),
                  "\(label): \(a.framework) -> \(b.framework) computes something else")
          // B may hold the network in a form A cannot take back (ONNX and TF1's
          // bidirectional_dynamic_rnn return both directions unmerged; PyTorch only concatenates).
          guard let (_, back) = try exportOrRefuse(a, viaB) else { refused += 1; continue }
          if Self.twoBiasTargets.contains(b.framework) {
            #expect(back == weightsA, "\(label): \(a.framework) -> \(b.framework) -> \(a.framework) changed the weights")
          } else {
            let again = try a.importNetwork(config: configA, weights: back)
            #expect(try Self.sameFunction(fromA, again, tolerance: tolerance),
                    "\(label): \(a.framework) -> \(b.framework) -> \(a.framework) computes something else")
          }
          converted += 1
        }
      }
    }
    // The matrix must exercise real conversions, and some refusals (TF1 has no reset-after GRU).
    #expect(converted >= 20, "only \(converted) conversions ran")
    #expect(refused >= 1)
  }

  /// Exports, or returns nil when the framework says it cannot express the network.
  func exportOrRefuse<S: RNNScalar>(_ adapter: Adapter, _ network: Network<S>) throws
    -> (JSONValue, NamedTensors<S>)? {
    do {
      let (c, w) = try adapter.exportNetwork(network)
      return (c, w)
    } catch let error as RNNRefError {
      guard case .unsupported(_, let feature) = error else { throw error }
      #expect(!feature.isEmpty)
      return nil
    }
  }

  @Test func convertsBetweenEveryPairFloat() throws { try check(Float.self, tolerance: 1e-5) }
  @Test func convertsBetweenEveryPairDouble() throws { try check(Double.self, tolerance: 1e-12) }

  @Test func tf1RefusesResetAfterGRU() throws {
    let (_, net) = Self.sources(Double.self).first { $0.0 == "gru reset after" }!
    #expect(throws: RNNRefError.self) { try TF1.exportNetwork(net) }
  }

  @Test func pytorchRefusesPeepholes() throws {
    var (_, net) = Self.sources(Double.self).first { $0.0 == "lstm, one bias" }!
    guard case .lstm(var cell) = net.layers[0].cells[0] else { Issue.record("not an LSTM"); return }
    cell.peepholes = .init(i: Tensor(uncheckedZeros: [4]), f: Tensor(uncheckedZeros: [4]), o: Tensor(uncheckedZeros: [4]))
    net.layers[0].cells[0] = .lstm(cell)
    do {
      _ = try PyTorch.exportNetwork(net)
      Issue.record("PyTorch exported an LSTM with peepholes")
    } catch let RNNRefError.unsupported(framework, feature) {
      #expect(framework.lowercased().contains("pytorch") || framework.lowercased().contains("torch"))
      #expect(feature.lowercased().contains("peephole"))
    }
  }
}

