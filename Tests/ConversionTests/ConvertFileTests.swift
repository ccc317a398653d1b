import Foundation
import HDF5
import KerasImport
import Testing
@testable import Conversion
import RNNRef
import _TestSupport

enum RepoPaths {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()
}

/// A temporary folder removed when the test ends.
final class TempDir {
  let path: String
  init() throws {
    path = FileManager.default.temporaryDirectory.appendingPathComponent("rnnconf-convert-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The same function: outputs and final states of the engine agree (with initial states).
func sameFunction(_ a: Network<Double>, _ b: Network<Double>, tolerance: Double = 1e-6) throws -> Bool {
  guard let i = a.layers.first?.inputSize, i == b.layers.first?.inputSize, a.layers.count == b.layers.count else { return false }
  var rng = SeededRNG(seed: 11)
  let x = Tensor<Double>.random([4, 2, i], scale: 1, rng: &rng)
  let states: [[LayerState<Double>]] = a.layers.map { l in
    l.cells.map { c in
      LayerState(h: Tensor.random([2, c.outputSize], scale: 1, rng: &rng),
                 c: c.hasCellState ? Tensor.random([2, c.hiddenSize], scale: 1, rng: &rng) : nil)
    }
  }
  let oa = try Engine.run(a, input: x, initialStates: states), ob = try Engine.run(b, input: x, initialStates: states)
  func close(_ p: Tensor<Double>, _ q: Tensor<Double>) -> Bool {
    p.shape == q.shape && zip(p.scalars, q.scalars).allSatisfy { abs($0 - $1) <= tolerance }
  }
  guard close(oa.last.merged, ob.last.merged) else { return false }
  for (la, lb) in zip(oa.layers, ob.layers) {
    for (sa, sb) in zip(la.finalStates, lb.finalStates) {
      guard close(sa.h, sb.h) else { return false }
      if let ca = sa.c, let cb = sb.c, !close(ca, cb) { return false }
    }
  }
  return true
}

/// Networks rounded to float32 (what the written files hold).
func float32Network(_ n: Network<Double>) -> Network<Double> {
  func r(_ t: Tensor<Double>) -> Tensor<Double> { Tensor(uncheckedShape: t.shape, scalars: t.scalars.map { Double(Float($0)) }) }
  var n = n
  for k in n.layers.indices {
    for d in n.layers[k].cells.indices {
      switch n.layers[k].cells[d] {
      case .simple(var c): c.kernel = r(c.kernel); c.recurrentKernel = r(c.recurrentKernel); c.inputBias = r(c.inputBias); c.recurrentBias = r(c.recurrentBias); n.layers[k].cells[d] = .simple(c)
      case .lstm(var c): c.kernel = r(c.kernel); c.recurrentKernel = r(c.recurrentKernel); c.inputBias = r(c.inputBias); c.recurrentBias = r(c.recurrentBias); c.projection = c.projection.map(r); n.layers[k].cells[d] = .lstm(c)
      case .gru(var c): c.kernel = r(c.kernel); c.recurrentKernel = r(c.recurrentKernel); c.inputBias = r(c.inputBias); c.recurrentBias = r(c.recurrentBias); n.layers[k].cells[d] = .gru(c)
      }
    }
  }
  return n
}

/// Conversion round trips through the written files: PyTorch exports read back by the
/// safetensors reader and the PyTorch adapter, Keras files read back by KerasImport.
@Suite struct ConvertFileTests {
  static func networks() -> [(String, Network<Double>)] {
    var rng = SeededRNG(seed: 0xc0417)
    func cell(_ k: CellKind, _ i: Int, _ h: Int, _ o: CellOptions = CellOptions()) -> Cell<Double> {
      randomCell(k, Double.self, input: i, hidden: h, options: o, rng: &rng)
    }
    return [
      ("lstm", Network(layers: [RecurrentLayer(direction: .forward, cells: [cell(.lstm, 3, 4)])])),
      ("gru reset after, 2 layers", Network(layers: [
        RecurrentLayer(direction: .forward, cells: [cell(.gru, 3, 4)]),
        RecurrentLayer(direction: .forward, cells: [cell(.gru, 4, 4)]),
      ])),
      ("bidirectional simple rnn", Network(layers: [
        RecurrentLayer(direction: .bidirectional, cells: [cell(.simple, 2, 3), cell(.simple, 2, 3)])])),
      ("bidirectional lstm, 2 layers", Network(layers: [
        RecurrentLayer(direction: .bidirectional, cells: [cell(.lstm, 3, 2), cell(.lstm, 3, 2)]),
        RecurrentLayer(direction: .bidirectional, cells: [cell(.lstm, 4, 2), cell(.lstm, 4, 2)]),
      ])),
    ]
  }

  func source(_ n: Network<Double>, _ fw: Framework = .pytorch, batchMajor: Bool = false) -> SourceNetwork {
    SourceNetwork(network: n, framework: fw, batchMajor: batchMajor, label: "test", dtype: .float32)
  }

  @Test func pytorchFilesRoundTrip() throws {
    let dir = try TempDir()
    for (label, net) in Self.networks() {
      for batchFirst in [false, true] {
        let out = dir.path + "/m"
        let result = try Converter.convert(source(net, batchMajor: batchFirst), to: .pytorch, output: out + ".safetensors")
        #expect(result.files == [out + ".safetensors", out + ".json"])
        let back = try ConversionSource.load(path: out + ".safetensors")
        #expect(back.framework == .pytorch)
        #expect(back.batchMajor == batchFirst)
        // Two biases per gate on both sides: the weights come back exactly (as float32).
        #expect(back.network == float32Network(net), "\(label)")
        // The .json is the torch constructor's kwargs.
        let json = try JSONValue(parsing: String(contentsOfFile: out + ".json", encoding: .utf8))
        #expect(json["kwargs"]?["batch_first"] == .bool(batchFirst))
        #expect(json["kwargs"]?["num_layers"]?.int == net.layers.count)
        // Also as a SOURCE given as the .json with --weights.
        let viaJSON = try ConversionSource.load(path: out + ".json", weights: out + ".safetensors")
        #expect(viaJSON.network == back.network)
      }
    }
  }

  @Test func pytorchStateDictNamesAndShapes() throws {
    let dir = try TempDir()
    let (_, net) = Self.networks()[3]
    _ = try Converter.convert(source(net), to: .pytorch, output: dir.path + "/m")
    let (entries, meta) = try Safetensors.read(path: dir.path + "/m.safetensors")
    #expect(meta["format"] == "pt")
    // torch.nn.LSTM(3, 2, num_layers=2, bidirectional=True).state_dict(), in torch's order.
    let expected: [(String, [Int])] = [
      ("weight_ih_l0", [8, 3]), ("weight_hh_l0", [8, 2]), ("bias_ih_l0", [8]), ("bias_hh_l0", [8]),
      ("weight_ih_l0_reverse", [8, 3]), ("weight_hh_l0_reverse", [8, 2]), ("bias_ih_l0_reverse", [8]), ("bias_hh_l0_reverse", [8]),
      ("weight_ih_l1", [8, 4]), ("weight_hh_l1", [8, 2]), ("bias_ih_l1", [8]), ("bias_hh_l1", [8]),
      ("weight_ih_l1_reverse", [8, 4]), ("weight_hh_l1_reverse", [8, 2]), ("bias_ih_l1_reverse", [8]), ("bias_hh_l1_reverse", [8]),
    ]
    #expect(entries.map(\.name) == expected.map(\.0))
    #expect(entries.map(\.tensor.shape) == expected.map(\.1))
    #expect(entries.allSatisfy { $0.dtype == "F32" })
  }

  @Test func kerasFilesRoundTripThroughKerasImport() throws {
    let dir = try TempDir()
    for (label, net) in Self.networks() {
      for ext in [".keras", ".h5"] {
        let out = dir.path + "/model" + ext
        _ = try Converter.convert(source(net), to: .keras, output: out)
        let model = try KerasModel(contentsOf: URL(fileURLWithPath: out))
        #expect(model.kerasVersion == (ext == ".keras" ? "3.15.1" : "2.21.0"))
        let layers = model.recurrentLayers
        #expect(layers.count == net.layers.count, "\(label) \(ext)")
        guard layers.count == net.layers.count else { continue }
        let read = Network(layers: layers.flatMap(\.network.layers))
        // Keras has one bias per gate (GRU reset_after two rows): compare the function.
        #expect(try sameFunction(read, float32Network(net)), "\(label) \(ext)")
        // The model's own predict (the whole saved model) gives the last layer's sequence.
        var rng = SeededRNG(seed: 3)
        let x = Tensor<Double>.random([2, 5, net.layers[0].inputSize], scale: 1, rng: &rng)
        let y = try model.predict([x])
        let ref = try Engine.run(float32Network(net), input: x.transposed([1, 0, 2])).last.merged.transposed([1, 0, 2])
        #expect(y.count == 1 && y[0].shape == ref.shape)
        if y.count == 1 && y[0].shape == ref.shape {
          #expect(zip(y[0].scalars, ref.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(label) \(ext)")
        }
        // A Keras file is a SOURCE too (one layer: the only one, or --layer).
        if net.layers.count == 1 {
          let s = try ConversionSource.load(path: out)
          #expect(s.framework == .keras && s.batchMajor)
        } else {
          #expect(throws: ConversionError.self) { try ConversionSource.load(path: out) }
          let s = try ConversionSource.load(path: out, layer: layers[1].name)
          #expect(s.network.layers.count == 1)
        }
      }
    }
  }

  /// A float64 source stays float64: F64 tensors, Keras layers with dtype float64.
  @Test func float64SourcesStayFloat64() throws {
    let dir = try TempDir()
    let (_, net) = Self.networks()[0]
    let src = SourceNetwork(network: net, framework: .pytorch, batchMajor: true, label: "test", dtype: .float64)
    _ = try Converter.convert(src, to: .pytorch, output: dir.path + "/m")
    let (entries, _) = try Safetensors.read(path: dir.path + "/m.safetensors")
    #expect(entries.allSatisfy { $0.dtype == "F64" })
    let back = try ConversionSource.load(path: dir.path + "/m.safetensors")
    #expect(back.dtype == .float64 && back.network == net)
    for ext in [".keras", ".h5"] {
      _ = try Converter.convert(src, to: .keras, output: dir.path + "/m" + ext)
      let model = try KerasModel(contentsOf: URL(fileURLWithPath: dir.path + "/m" + ext))
      #expect(model.kerasPrecision == .float64, "\(ext)")
      #expect(try sameFunction(model.recurrentLayers[0].network, net, tolerance: 1e-12), "\(ext)")
    }
  }

  @Test func refusesAnOutputPathKerasCannotTell() throws {
    let dir = try TempDir()
    #expect(throws: ConversionError.self) {
      try Converter.convert(source(Self.networks()[0].1), to: .keras, output: dir.path + "/model.weights")
    }
  }

  @Test func layerChoiceListsTheLayers() throws {
    let dir = try TempDir()
    let out = dir.path + "/two.keras"
    _ = try Converter.convert(source(Self.networks()[1].1), to: .keras, output: out)
    do {
      _ = try ConversionSource.load(path: out)
      Issue.record("a two-layer model converted without --layer")
    } catch let ConversionError.layerChoice(_, _, layers) {
      #expect(layers.count == 2)
    }
    #expect(throws: ConversionError.self) { try ConversionSource.load(path: out, layer: "nope") }
  }
}
