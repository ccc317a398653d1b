import Foundation
import Conformance
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// `.npy` reading (files NumPy wrote, Data/make_npy_samples.py) and writing, stateful
/// calls and `resetStates()`, and the `rnnconf predict` command end to end.
@Suite struct PredictTests {
  static let npy = Paths.data + "/npy"

  static func base() throws -> [Double] {
    try String(contentsOfFile: npy + "/base.txt", encoding: .utf8).split(separator: "\n").map { Double($0)! }
  }

  @Test func readsWhatNumPyWrote() throws {
    let b = try Self.base()
    let f32 = try NPY.read(URL(fileURLWithPath: Self.npy + "/f32.npy"))
    #expect(f32.shape == [2, 3, 4])
    #expect(f32.scalars == b.map { Double(Float($0)) })
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/f64_big_endian.npy")).scalars == b)
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/f16.npy")).scalars == b)  // eighths are exact in float16
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/i64.npy")).scalars == b.map { ($0 * 8).rounded(.towardZero) })
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/i8.npy")).scalars == b.map { ($0 * 8).rounded(.towardZero) })
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/u16.npy")).scalars == b.map { ($0 * 8 + 8).rounded(.towardZero) })
    #expect(try NPY.read(URL(fileURLWithPath: Self.npy + "/bool.npy")).scalars == b.map { $0 > 0 ? 1 : 0 })
    let fortran = try NPY.read(URL(fileURLWithPath: Self.npy + "/f32_fortran.npy"))
    #expect(fortran == f32, "a Fortran-ordered array reads in C order")
    let scalar = try NPY.read(URL(fileURLWithPath: Self.npy + "/scalar.npy"))
    #expect(scalar.shape == [] && scalar.scalars == [2.5])
  }

  @Test func writesWhatItReads() throws {
    let t = Tensor<Double>(uncheckedShape: [2, 3], scalars: [1, -2.5, 3.25, 0, 1e-3, 7])
    for wide in [false, true] {
      let u = tempURL("out.npy")
      defer { try? FileManager.default.removeItem(at: u) }
      try NPY.write(t, to: u, float64: wide)
      let back = try NPY.read(u)
      #expect(back.shape == t.shape)
      #expect(back.scalars == (wide ? t.scalars : t.scalars.map { Double(Float($0)) }))
      let bytes = try Data(contentsOf: u)
      #expect((10 + Int(bytes[8])) % 64 == 0, "the header is padded to 64 bytes as NumPy does")
    }
    let junk = tempURL("junk.npy")
    defer { try? FileManager.default.removeItem(at: junk) }
    try Data("not numpy".utf8).write(to: junk)
    #expect(throws: NPY.Error.self) { try NPY.read(junk) }
  }

  /// A stateful LSTM saved by tf-keras: the state of call 0 carries into call 1, and
  /// resetStates() starts over (call 0 again gives call 0's outputs), in both precisions.
  @Test(arguments: KerasPrecision.allCases)
  func statefulCallsCarryStateAndResetStartsOver(precision: KerasPrecision) throws {
    let path = Paths.root + "/fixtures/keras/k2_lstm_stateful.h5"
    let c = try Case.load(path: path)
    let file = tempURL("model.h5")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(try Case.artifact(path: path, name: "model.h5")).write(to: file)
    let m = try KerasModel(contentsOf: file, precision: precision)
    let x0 = try #require(c.inputs["x_call0"]), x1 = try #require(c.inputs["x_call1"])
    let e0 = try #require(c.outputs["output_call0"]), e1 = try #require(c.outputs["output_call1"])
    #expect(mismatch(try m.predict([x0])[0], e0, atol: 1e-5, rtol: 1e-5) == nil)
    #expect(mismatch(try m.predict([x1])[0], e1, atol: 1e-5, rtol: 1e-5) == nil)
    m.resetStates()
    let again = try m.predict([x1])[0]
    #expect(mismatch(again, e1, atol: 1e-5, rtol: 1e-5) != nil, "without the carried state call 1 must differ")
    m.resetStates()
    #expect(mismatch(try m.predict([x0])[0], e0, atol: 1e-5, rtol: 1e-5) == nil)
  }

  /// The precision decides the scalar type the model computes in: float32 (the default) is
  /// not float64 rounded at the end (Float arithmetic rounds on the way), both match Keras,
  /// Float and Double inputs take the same path in the model's precision.
  @Test func precisionChoosesTheScalarTypeOfTheComputation() throws {
    let path = Paths.root + "/fixtures/keras/k2_gru_bidi_concat.h5"
    let c = try Case.load(path: path)
    let file = tempURL("model.h5")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(try Case.artifact(path: path, name: "model.h5")).write(to: file)
    let m = try KerasModel(contentsOf: file)
    #expect(m.precision == .float32, "Float is the default, as in Keras")
    let x = try #require(c.inputs.entries.first?.tensor)
    let expected = try #require(c.outputs.entries.first?.tensor)
    let single = try m.predict([x])[0]
    let fromFloat = try m.predict([Tensor<Float>(x)])[0]
    #expect(single == Tensor<Double>(fromFloat), "Double and Float inputs take the same float32 path")
    let double = try KerasModel(contentsOf: file, precision: .float64).predict([x])[0]
    #expect(mismatch(single, expected, atol: c.atol, rtol: c.rtol) == nil)
    #expect(mismatch(double, expected, atol: c.atol, rtol: c.rtol) == nil)
    let rounded = double.scalars.map { Double(Float($0)) }
    #expect(single.scalars != rounded, "float32 must compute in Float, not round a float64 result")
    #expect(try KerasModel(contentsOf: file, precision: .float64).predict([Tensor<Float>(x)])[0] == Tensor<Float>(double),
            "Float inputs to a float64 model are widened and computed in Double")
  }

  // MARK: - CLI

  static var binary: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rnnconf").path
  }

  static func rnnconf(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o; p.standardError = e
    try p.run()
    let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
  }

  @Test func predictCommandWritesEveryOutput() throws {
    try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build rnnconf first (swift build)")
    let dir = Paths.data + "/models"
    let refs = try HDF5.File(path: dir + "/k2_two_inputs.refs.h5")
    var temps: [URL] = []
    defer { for t in temps { try? FileManager.default.removeItem(at: t) } }
    var inputArgs: [String] = []
    for k in 0..<2 {
      let ds = try refs.dataset("input_\(k)")
      let u = tempURL("in\(k).npy")
      temps.append(u)
      try NPY.write(Tensor<Double>(uncheckedShape: try ds.shape, scalars: try ds.read(as: Double.self)), to: u)
      inputArgs += ["--input", u.path]
    }
    let out = tempURL("out.h5")
    temps.append(out)
    let r = try Self.rnnconf(["predict", dir + "/k2_two_inputs.h5"] + inputArgs + ["--output", out.path])
    #expect(r.status == 0, "\(r.err)")
    let f = try HDF5.File(path: out.path)
    for k in 0..<2 {
      let got = try f.dataset("output_\(k)"), want = try refs.dataset("output_\(k)")
      let a = Tensor<Double>(uncheckedShape: try got.shape, scalars: try got.read(as: Double.self))
      let b = Tensor<Double>(uncheckedShape: try want.shape, scalars: try want.read(as: Double.self))
      #expect(mismatch(a, b, atol: 1e-5, rtol: 1e-5) == nil)
    }
    // Without --output: shapes and first values on stdout.
    let shown = try Self.rnnconf(["predict", dir + "/k2_two_inputs.h5"] + inputArgs)
    #expect(shown.status == 0)
    #expect(shown.out.contains("output_0 td: shape [2, 5, 3]"), "\(shown.out)")
    #expect(shown.out.contains("output_1 rnn_last: shape [2, 3]"), "\(shown.out)")
    // One input for a two-input model: exit 1 naming the inputs.
    let wrong = try Self.rnnconf(["predict", dir + "/k2_two_inputs.h5", "--input", temps[0].path])
    #expect(wrong.status == 1)
    #expect(wrong.err.contains("takes 2 input(s) (a, b)"), "\(wrong.err)")
    // An HDF5 input with --dataset, written to .npy (single output).
    let single = tempURL("x.h5")
    temps.append(single)
    do {  // closed before rnnconf opens it (libhdf5 locks open files)
      let sf = try HDF5.File.create(path: single.path)
      _ = try sf.root.createDataset("seq", shape: [2, 6, 3], values: (0..<36).map { Float($0) / 36 })
      try sf.flush()
    }
    let npyOut = tempURL("y.npy")
    temps.append(npyOut)
    let lstmModel = tempURL("lstm.h5")
    temps.append(lstmModel)
    try Data(try Case.artifact(path: Paths.root + "/fixtures/keras/k2_lstm_seq.h5", name: "model.h5")).write(to: lstmModel)
    let r2 = try Self.rnnconf(["predict", lstmModel.path, "--input", single.path, "--dataset", "seq", "--output", npyOut.path])
    #expect(r2.status == 0, "\(r2.err)\n\(r2.out)")
    #expect(try NPY.read(npyOut).shape == [2, 6, 4])
    // --float64 computes in Double and writes float64; the default float32 result agrees at 1e-5.
    let wide = tempURL("y64.npy")
    temps.append(wide)
    let r3 = try Self.rnnconf(["predict", lstmModel.path, "--input", single.path, "--dataset", "seq",
                               "--output", wide.path, "--float64"])
    #expect(r3.status == 0, "\(r3.err)\n\(r3.out)")
    #expect(String(decoding: try Data(contentsOf: wide).prefix(64), as: UTF8.self).contains("'<f8'"))
    #expect(String(decoding: try Data(contentsOf: npyOut).prefix(64), as: UTF8.self).contains("'<f4'"))
    #expect(mismatch(try NPY.read(wide), try NPY.read(npyOut), atol: 1e-5, rtol: 1e-5) == nil)
  }
}
