import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// `rnnconf predict --output-layer / --input-layer / --all-layers` end to end, on real-world
/// files of ../shared/realworld (skipped, with the reason printed, when the corpus is absent,
/// as in RealWorldTests) against the tf-keras outputs of Data/realworld_cut_refs.h5.
@Suite struct CutCommandTests {
  static func ref(_ name: String) throws -> RealWorldCutTests.Ref? {
    guard let r = try RealWorldCutTests.refs().first(where: { $0.name == name }) else { return nil }
    guard FileManager.default.fileExists(atPath: Paths.realworld + "/" + r.file) else {
      print("SKIP \(name): \(r.file) not in ../shared/realworld")
      return nil
    }
    return r
  }

  static func read(_ path: String, _ dataset: String) throws -> Tensor<Double> {
    let ds = try HDF5.File(path: path).dataset(dataset)
    return try Tensor(shape: try ds.shape, scalars: try ds.read(as: Double.self))
  }

  @Test func outputLayerAndAllLayers() throws {
    try #require(FileManager.default.isExecutableFile(atPath: PredictTests.binary), "build rnnconf first (swift build)")
    guard let r = try Self.ref("ctc_fmind_model_end") else { return }
    let x = tempURL("x.npy"), out = tempURL("out.h5"), all = tempURL("all.h5")
    defer { for u in [x, out, all] { try? FileManager.default.removeItem(at: u) } }
    try NPY.write(r.inputs[0], to: x, float64: false)
    let model = Paths.realworld + "/" + r.file
    let whole = try PredictTests.rnnconf(["predict", model, "--input", x.path])
    #expect(whole.status != 0 && whole.err.contains("Lambda"))
    let cut = try PredictTests.rnnconf(["predict", model, "--input", x.path, "--output-layer", "softmax", "--output", out.path])
    #expect(cut.status == 0, "\(cut.err)")
    #expect(mismatch(try Self.read(out.path, "output_0"), r.outputs[0], atol: 1e-5, rtol: 1e-5) == nil)
    let layers = try PredictTests.rnnconf(["predict", model, "--input", x.path, "--output-layer", "softmax", "--all-layers",
                                           "--output", all.path])
    #expect(layers.status == 0, "\(layers.err)")
    let names = try HDF5.File(path: all.path).root.childNames().sorted()
    #expect(names == ["bidir_rnn0", "bidir_rnn1", "softmax", "the_input", "time_distributed_7"])
    #expect(mismatch(try Self.read(all.path, "softmax"), r.outputs[0], atol: 1e-5, rtol: 1e-5) == nil)
  }

  @Test func inputLayerSkipsTheFrontEnd() throws {
    try #require(FileManager.default.isExecutableFile(atPath: PredictTests.binary), "build rnnconf first (swift build)")
    guard let r = try Self.ref("kapre_tomhwi01") else { return }
    let x = tempURL("x.npy"), out = tempURL("out.npy")
    defer { for u in [x, out] { try? FileManager.default.removeItem(at: u) } }
    try NPY.write(r.inputs[0], to: x, float64: false)
    let model = Paths.realworld + "/" + r.file
    let res = try PredictTests.rnnconf(["predict", model, "--input", x.path, "--input-layer", "magnitude_to_decibel",
                                        "--output", out.path])
    #expect(res.status == 0, "\(res.err)")
    #expect(mismatch(try NPY.read(out), r.outputs[0], atol: 1e-5, rtol: 1e-5) == nil)
    let unknown = try PredictTests.rnnconf(["predict", model, "--input", x.path, "--input-layer", "nope"])
    #expect(unknown.status != 0 && unknown.err.contains("nope") && unknown.err.contains("batch_norm"))
  }
}
