import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// cuDNN weights (CuDNNLSTM / CuDNNGRU `.h5` files) loaded into an LSTM / GRU(reset_after=True)
/// architecture JSON, converted as tf-keras converts them; outputs from tf-keras' own load
/// (Data/make_cudnn_as_rnn.py). A GRU(reset_after=False) architecture is refused, as tf-keras
/// refuses it.
@Suite struct CuDNNAsRNNTests {
  static func group(_ name: String) throws -> Group {
    try HDF5.File(path: Paths.data + "/models/cudnn_as_rnn_refs.h5").group(name)
  }
  static func read(_ g: Group, _ n: String) throws -> Tensor<Double> {
    let ds = try g.dataset(n)
    return try Tensor(shape: try ds.shape, scalars: try ds.read(as: Double.self))
  }

  @Test(arguments: ["k2_cudnnlstm", "k2_cudnngru"], KerasPrecision.allCases)
  func cuDNNWeightsInAnRNNArchitectureMatchTFKeras(name: String, precision: KerasPrecision) throws {
    let g = try Self.group(name)
    let json = tempURL("\(name).json")
    try Data(try g.stringAttribute("architecture").utf8).write(to: json)
    defer { try? FileManager.default.removeItem(at: json) }
    let model = try KerasModel(contentsOf: json, weights: URL(fileURLWithPath: Paths.data + "/models/" + name + ".h5"),
                               precision: precision)
    #expect(model.layers.map(\.className).contains(name == "k2_cudnnlstm" ? "LSTM" : "GRU"))
    let y = try model.predict([try Self.read(g, "input_0")])
    let e = try Self.read(g, "output_0")
    #expect(mismatch(y[0], e, atol: 1e-5, rtol: 1e-5) == nil, "\(mismatch(y[0], e, atol: 1e-5, rtol: 1e-5) ?? "")")
  }

  @Test func cuDNNGRUWeightsInAResetBeforeGRUAreRefused() throws {
    let g = try Self.group("k2_cudnngru")
    let text = try g.stringAttribute("architecture").replacingOccurrences(of: "\"reset_after\": true", with: "\"reset_after\": false")
    let json = tempURL("gru_reset_before.json")
    try Data(text.utf8).write(to: json)
    defer { try? FileManager.default.removeItem(at: json) }
    do {
      _ = try KerasModel(contentsOf: json, weights: URL(fileURLWithPath: Paths.data + "/models/k2_cudnngru.h5"))
      Issue.record("loaded cuDNN GRU weights into GRU(reset_after=False)")
    } catch let e as KerasImportError {
      #expect(e.kind == .shapeMismatch && e.message.contains("reset_after"), "\(e)")
    }
  }
}
