import Foundation
import Conformance
import HDF5
import Testing
@testable import KerasImport
import RNNRef
import _TestSupport

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

/// Issue 11: `rnnconf predict` runs the batch in slices of rows, which is exact only if every
/// row's outputs are independent of the other rows and of where the row sits in the batch (GEMM
/// tiles, masks, stateful layers started afresh). Checked bit for bit on saved models of every
/// kind at hand (masks, Embedding, nested, BatchNormalization, two inputs, CuDNN, Keras 1/2/3,
/// stateful, initial states, float64), in both precisions, with slices of 1, 5, 8 and 16 rows
/// of a 37-row batch, as `PredictStreaming` runs them (`resetStates()` before each slice).
@Suite struct SlicedPredictTests {
  static let models = ["k1_gru_simple.h5", "k2_cudnngru.h5", "k2_cudnnlstm.h5", "k2_embedding_mask.h5", "k2_nested.h5",
                       "k2_nested_bn.h5", "k2_seq_stacked.h5", "k2_two_inputs.h5", "k3_embedding_mask.keras",
                       "k3_nested_bn.keras", "k3_seq_stacked.keras", "k3_two_inputs.keras"]
  static let cases = ["k2_lstm_stateful", "k2_gru_stateful", "k2_gru_bidi_mask_holes_seq", "k2_gru_float64_bidi_mask",
                      "k2_gru_bidi_initial_state", "k2_lstm_seq"]

  static func load(_ name: String, precision: KerasPrecision? = nil) throws -> (KerasModel, URL?) {
    if name.contains(".") {
      return (try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/" + name), precision: precision), nil)
    }
    let file = tempURL("\(name).h5")
    try Data(try Case.artifact(path: Paths.root + "/fixtures/keras/\(name).h5", name: "model.h5")).write(to: file)
    return (try KerasModel(contentsOf: file, precision: precision), file)
  }

  /// A 37-row batch for each input: random values (ids 0...2 for a model with an Embedding),
  /// every third row with its last two steps zeroed (masked where the model masks zeros).
  static func batch(_ m: KerasModel, rows: Int, seed: UInt64) throws -> [Tensor<Double>] {
    var rng = SeededRNG(seed: seed)
    let ids = m.layers.contains { $0.className == "Embedding" }
    return try m.inputShapes.map { s in
      let shape = [rows] + s.dropFirst().map { $0 ?? 5 }
      let perRow = shape.dropFirst().reduce(1, *)
      var t = try Tensor<Double>(zeros: shape)
      for i in 0..<t.count {
        t.scalars[i] = ids ? Double(rng.below(3)) : Double.random(in: -1..<1, using: &rng)
      }
      if shape.count == 3 && shape[1] > 2 {
        for r in stride(from: 0, to: rows, by: 3) { for k in (perRow - 2 * shape[2])..<perRow { t.scalars[r * perRow + k] = 0 } }
      }
      return t
    }
  }

  @Test(arguments: models + cases)
  func slicesOfTheBatchGiveTheWholeBatchsOutputsBitForBit(name: String) throws {
    let n = 37
    for precision in KerasPrecision.allCases {
      let (m, temp) = try Self.load(name, precision: precision)
      defer { if let temp { try? FileManager.default.removeItem(at: temp) } }
      let xs = try Self.batch(m, rows: n, seed: 0x5EED)
      m.resetStates()
      let whole = try m.predict(xs)
      for rows in [1, 5, 8, 16] {
        var parts: [[Tensor<Double>]] = []
        for r0 in stride(from: 0, to: n, by: rows) {
          m.resetStates()
          parts.append(try m.predict(xs.map { $0.slice(axis: 0, range: r0..<min(n, r0 + rows)) }))
        }
        for k in whole.indices {
          let joined = Tensor.concatenate(parts.map { $0[k] }, axis: 0)
          #expect(joined.shape == whole[k].shape)
          #expect(joined.scalars.map(\.bitPattern) == whole[k].scalars.map(\.bitPattern),
                  "\(name) \(precision): output \(k) in slices of \(rows) rows differs from the whole batch")
        }
      }
    }
  }
}

/// `rnnconf predict` in slices: every --batch-size gives the same bytes, and input errors name
/// the file (issue 11: "input 0 (`x`) has shape [54]" did not say which file).
@Suite struct PredictCommandSliceTests {
  static func lstm() throws -> URL {
    let u = tempURL("lstm.h5")
    try Data(try Case.artifact(path: Paths.root + "/fixtures/keras/k2_lstm_seq.h5", name: "model.h5")).write(to: u)
    return u
  }

  @Test func everyBatchSizeWritesTheSameBytes() throws {
    try #require(FileManager.default.isExecutableFile(atPath: PredictTests.binary), "build rnnconf first (swift build)")
    let model = try Self.lstm()
    var temps = [model]
    defer { for t in temps { try? FileManager.default.removeItem(at: t) } }
    var rng = SeededRNG(seed: 11)
    let x = try Tensor<Double>(shape: [37, 6, 3], scalars: (0..<(37 * 18)).map { _ in Double.random(in: -2..<2, using: &rng) })
    let input = tempURL("x.npy")
    temps.append(input)
    try NPY.write(x, to: input)
    var outputs: [String: Data] = [:]
    for ext in ["npy", "h5"] {
      for b in ["1", "5", "16", "37", "1000", nil] as [String?] {
        let out = tempURL("y.\(ext)")
        temps.append(out)
        let r = try PredictTests.rnnconf(["predict", model.path, "--input", input.path, "--output", out.path]
                                          + (b.map { ["--batch-size", $0] } ?? []))
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.isEmpty, "no progress line when stderr is not a terminal: \(r.err)")
        let got: Data
        if ext == "npy" { got = try Data(contentsOf: out) } else {
          let ds = try HDF5.File(path: out.path).dataset("output_0")
          #expect(try ds.shape == [37, 6, 4])
          got = try ds.read(as: Float.self).withUnsafeBytes { Data($0) }
        }
        if let first = outputs[ext] { #expect(got == first, "--batch-size \(b ?? "default") .\(ext) differs") }
        else { outputs[ext] = got }
      }
    }
    // The whole batch through the library gives the same values.
    let whole = try KerasModel(contentsOf: model).predict([Tensor<Float>(x)])[0]
    #expect(outputs["npy"]!.suffix(37 * 24 * 4) == whole.scalars.withUnsafeBytes { Data($0) })
    // Without --output, the first values are those of the whole batch.
    let shown = try PredictTests.rnnconf(["predict", model.path, "--input", input.path, "--batch-size", "1"])
    let firstValues: [String] = whole.scalars.prefix(8).map { String(format: "%.6g", Double($0)) }
    let expected = "shape [37, 6, 4], first values [" + firstValues.joined(separator: ", ") + ", ...]"
    #expect(shown.out.contains(expected), "\(shown.out)")
  }

  @Test func inputErrorsNameTheFile() throws {
    try #require(FileManager.default.isExecutableFile(atPath: PredictTests.binary), "build rnnconf first (swift build)")
    let model = try Self.lstm()
    var temps = [model]
    defer { for t in temps { try? FileManager.default.removeItem(at: t) } }
    func npy(_ name: String, _ t: Tensor<Double>) throws -> String {
      let u = tempURL(name)
      temps.append(u)
      try NPY.write(t, to: u)
      return u.path
    }
    let flat = try npy("flat.npy", Tensor(zeros: [54]))
    let r = try PredictTests.rnnconf(["predict", model.path, "--input", flat])
    #expect(r.status == 1)
    #expect(r.err.contains("input 0 (`x`) `\(flat)` has shape [54], the model expects (None, 6, 3)"), "\(r.err)")
    var bad = try Tensor<Double>(zeros: [40, 6, 3])
    bad.scalars[39 * 18 + 5] = .infinity
    let inf = try npy("inf.npy", bad)
    let r2 = try PredictTests.rnnconf(["predict", model.path, "--input", inf, "--batch-size", "8"])
    #expect(r2.status == 1)
    #expect(r2.err.contains("input `\(inf)` holds a non-finite value (inf) at index [39, 1, 2]"), "\(r2.err)")
    // Two inputs with different batch sizes: both files named.
    let two = Paths.data + "/models/k2_two_inputs.h5"
    let m = try KerasModel(contentsOf: URL(fileURLWithPath: two))
    let rowA: [Int] = m.inputShapes[0].dropFirst().map { $0 ?? 5 }, rowB: [Int] = m.inputShapes[1].dropFirst().map { $0 ?? 5 }
    let a = try npy("a.npy", Tensor<Double>(zeros: [3] + rowA))
    let b = try npy("b.npy", Tensor<Double>(zeros: [4] + rowB))
    let r3 = try PredictTests.rnnconf(["predict", two, "--input", a, "--input", b])
    #expect(r3.status == 1)
    #expect(r3.err.contains("`\(a)` has 3 rows, `\(b)` has 4"), "\(r3.err)")
  }
}
