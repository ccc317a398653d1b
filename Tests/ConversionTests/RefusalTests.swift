import Foundation
import HDF5
import Testing
@testable import Conversion
import RNNRef
import _TestSupport

/// Every refusal says what the target cannot express; every exact rewrite is named and keeps the function.
@Suite struct RefusalTests {
  static func net(_ cells: [Cell<Double>], direction: Direction = .forward, merge: MergeMode = .concat,
                  order: ReverseOutputOrder = .alignedToInput) -> Network<Double> {
    Network(layers: [RecurrentLayer(direction: direction, cells: cells, merge: merge, reverseOutputOrder: order)])
  }
  static func cell(_ k: CellKind, _ o: CellOptions = CellOptions(), seed: UInt64 = 1, hidden: Int = 4) -> Cell<Double> {
    var rng = SeededRNG(seed: seed)
    return randomCell(k, Double.self, input: 3, hidden: hidden, options: o, rng: &rng)
  }
  static func source(_ n: Network<Double>, _ fw: Framework = .tf1) -> SourceNetwork {
    SourceNetwork(network: n, framework: fw, batchMajor: false, label: "test", dtype: .float32)
  }

  /// (what, network, target, words the reason must hold)
  static let cases: [(String, Network<Double>, ConversionTarget, [String])] = {
    var rng = SeededRNG(seed: 9)
    var hardSigmoid2 = cell(.lstm)
    if case .lstm(var c) = hardSigmoid2 { c.gateActivation = .hardSigmoidKeras2; hardSigmoid2 = .lstm(c) }
    return [
      ("peepholes into PyTorch", net([cell(.lstm, CellOptions(peepholes: true))]), .pytorch, ["peephole"]),
      ("peepholes into Keras", net([cell(.lstm, CellOptions(peepholes: true))]), .keras, ["peephole"]),
      ("projection into Keras", net([cell(.lstm, CellOptions(projection: 2))]), .keras, ["projection"]),
      ("cell clip into PyTorch", net([cell(.lstm, CellOptions(cellClip: 0.5))]), .pytorch, ["cell clip"]),
      ("projection clip into PyTorch", net([cell(.lstm, CellOptions(projection: 2, projectionClip: 0.3))]), .pytorch, ["projection clip"]),
      ("coupled input-forget gate into PyTorch", net([cell(.lstm, CellOptions(coupled: true))]), .pytorch, ["coupled input-forget"]),
      ("coupled input-forget gate into Keras", net([cell(.lstm, CellOptions(coupled: true))]), .keras, ["coupled input-forget"]),
      ("activation clip into PyTorch", net([cell(.gru, CellOptions(activationClip: 0.9))]), .pytorch, ["activation clip"]),
      ("reset-before GRU into PyTorch", net([cell(.gru, CellOptions(resetAfter: false))]), .pytorch, ["reset gate applied before"]),
      ("sigmoid simple RNN into PyTorch", net([cell(.simple, CellOptions(activation: .sigmoid))]), .pytorch, ["tanh and relu"]),
      ("Keras 2 hard_sigmoid into PyTorch", net([hardSigmoid2]), .pytorch, ["torch fixes sigmoid"]),
      ("reverse-only layer into PyTorch", net([cell(.lstm)], direction: .reverse), .pytorch, ["reverse-only"]),
      ("reverse aligned to input into Keras", net([cell(.lstm)], direction: .reverse), .keras, ["go_backwards"]),
      ("go_backwards into PyTorch", net([cell(.lstm)], direction: .reverse, order: .timeReversed), .pytorch, ["reverse-only"]),
      ("merge sum into PyTorch", net([cell(.gru), cell(.gru, seed: 2)], direction: .bidirectional, merge: .sum), .pytorch, ["merge mode sum"]),
      ("mixed cells into PyTorch", Network(layers: [
        RecurrentLayer(direction: .forward, cells: [cell(.lstm)]),
        RecurrentLayer(direction: .forward, cells: [randomCell(.gru, Double.self, input: 4, hidden: 4, rng: &rng)]),
      ]), .pytorch, ["GRU cell in an nn.LSTM"]),
      ("hidden sizes differing across layers into PyTorch", Network(layers: [
        RecurrentLayer(direction: .forward, cells: [cell(.lstm)]),
        RecurrentLayer(direction: .forward, cells: [randomCell(.lstm, Double.self, input: 4, hidden: 3, rng: &rng)]),
      ]), .pytorch, ["hidden sizes that differ"]),
    ]
  }()

  @Test(arguments: 0..<cases.count)
  func refuses(_ index: Int) throws {
    let (what, network, target, words) = Self.cases[index]
    let dir = try TempDir()
    let out = dir.path + (target == .keras ? "/m.keras" : "/m")
    do {
      _ = try Converter.convert(Self.source(network), to: target, output: out)
      Issue.record("\(what): converted")
    } catch let e as ConversionError {
      guard case .refused = e else { Issue.record("\(what): \(e)"); return }
      for w in words { #expect(e.description.contains(w), "\(what): \(e)") }
      #expect(e.description.hasPrefix("cannot convert to "), "\(what): \(e)")
    }
    // Nothing is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "\(what)")
  }

  @Test func foldsTheTF1ForgetBias() throws {
    let tf1 = Self.net([Self.cell(.lstm, CellOptions(forgetBias: 1))])
    let dir = try TempDir()
    for target in [ConversionTarget.pytorch, .keras] {
      let out = dir.path + (target == .keras ? "/m.keras" : "/m")
      let r = try Converter.convert(Self.source(tf1), to: target, output: out)
      #expect(r.rewrites.contains { $0.description.contains("forget_bias=1.0") })
      let back = try ConversionSource.load(path: target == .keras ? out : out + ".safetensors")
      #expect(try sameFunction(float32Network(tf1), back.network, tolerance: 1e-6))
      if case .lstm(let c) = back.network.layers[0].cells[0] { #expect(c.forgetBias == 0) }
    }
  }

  @Test func namesTheBiasRewrites() throws {
    let dir = try TempDir()
    // One bias (Keras, TF1) into PyTorch's two.
    var one = Self.cell(.lstm)
    if case .lstm(var c) = one { c.recurrentBias = try Tensor(zeros: [16]); one = .lstm(c) }
    let r1 = try Converter.convert(Self.source(Self.net([one]), .keras), to: .pytorch, output: dir.path + "/a")
    #expect(r1.rewrites.contains { $0.description.contains("bias_hh") })
    // Two biases (PyTorch, ONNX) into Keras' one.
    let r2 = try Converter.convert(Self.source(Self.net([Self.cell(.lstm)]), .pytorch), to: .keras, output: dir.path + "/b.h5")
    #expect(r2.rewrites.contains { $0.description.contains("summed") })
    let back = try ConversionSource.load(path: dir.path + "/b.h5")
    #expect(try sameFunction(float32Network(Self.net([Self.cell(.lstm)])), back.network, tolerance: 1e-6))
    // A reset-after GRU keeps both biases in Keras (bias of shape (2, 3H)): no rewrite.
    let r3 = try Converter.convert(Self.source(Self.net([Self.cell(.gru)]), .pytorch), to: .keras, output: dir.path + "/c.keras")
    #expect(r3.rewrites.isEmpty)
  }
}
