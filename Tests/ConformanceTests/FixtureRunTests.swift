import Foundation
import HDF5
import Testing
@testable import Conformance
import RNNRef

/// The runner on real bundled fixtures (expected tensors captured from torch by
/// fixtures/generate/gen_pytorch.py): the comparison must catch a perturbed expected value
/// and a gate swap, and every kind of bad case must end as that case's error or failure.
@Suite struct FixtureRunTests {
  static let lstmPath = RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5"

  func load() throws -> Case { try Case.load(path: Self.lstmPath) }

  @Test func theUntouchedFixturePasses() throws {
    let r = Runner().evaluate(try load(), name: "pytorch/lstm_bidirectional")
    #expect(r.status == .pass, "\(TextReporter(verbose: true).lines(for: r).joined(separator: "\n"))")
    #expect(r.outputs.map(\.name) == ["output", "h_n", "c_n"])
    #expect(r.precision == .float32)
  }

  @Test func aPerturbedExpectedValueFailsAtItsIndexAndStep() throws {
    var c = try load()
    var output = try #require(c.outputs["output"])
    #expect(output.shape == [5, 3, 8])  // (T, N, 2H): time-major, as the case's config says
    output[[3, 1, 6]] += 1e-3
    output[[4, 0, 0]] += 1e-7  // inside the tolerance
    c.outputs["output"] = output
    let r = Runner().evaluate(c, name: "pytorch/lstm_bidirectional")
    #expect(r.status == .fail)
    let o = try #require(r.outputs.first { $0.name == "output" })
    #expect(o.status == .fail)
    #expect(o.mismatched == 1)
    #expect(o.axes == ["step", "batch", "unit"])
    #expect(o.maxAbsIndex == [3, 1, 6])
    #expect(o.firstFailingStep == 3)
    #expect(abs(o.maxAbsError! - 1e-3) < 1e-6)
    #expect(r.outputs.filter { $0.status == .fail }.map(\.name) == ["output"])
    let text = TextReporter().lines(for: r).joined(separator: "\n")
    #expect(text.contains("FAIL pytorch/lstm_bidirectional"))
    #expect(text.contains("output `output`: Mismatched elements: 1 / 120 (0.8%); greatest absolute difference 0.001 at (step 3, batch 1, unit 6)"), "\(text)")
    #expect(text.contains("first failing step 3"))
  }

  /// torch's LSTM packs gates i, f, g, o along dim 0 of weight_ih/weight_hh and the biases:
  /// swapping the f and g blocks is the classic converter bug and must not pass.
  @Test func swappedGateWeightsFail() throws {
    var c = try load()
    let hidden = 4
    for name in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"] {
      let w = try #require(c.weights[name])
      #expect(w.shape[0] == 4 * hidden)
      c.weights[name] = w.reorderingBlocks([0, 2, 1, 3], axis: 0)
    }
    let r = Runner().evaluate(c, name: "pytorch/lstm_bidirectional")
    #expect(r.status == .fail)
    let o = try #require(r.outputs.first { $0.name == "output" })
    #expect(o.mismatched > 0)
    #expect(o.firstFailingStep == 0, "the forward direction is wrong from its first step")
    // The reverse direction kept its weights: its half of h_n (index 1) still matches.
    let hn = try #require(r.outputs.first { $0.name == "h_n" })
    #expect(hn.status == .fail)
    #expect(hn.maxAbsIndex?.first == 0)
  }

  @Test func badCasesAreNamedErrorsOrFailures() throws {
    let runner = Runner()
    // Unknown framework in the file: that case's error, naming the file, the value and the known
    // ones, and keeping the loader's typed error.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unknown-fw-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("caffe_lstm.h5").path
    try FileManager.default.copyItem(atPath: Self.lstmPath, toPath: path)
    try File(path: path, writable: true).root.setAttribute("framework", "caffe")
    let u = try #require(runner.runFile(CaseFile(name: "caffe_lstm", path: path, explicit: true),
                                        options: RunOptions(), expectations: Expectations()))
    #expect(u.status == .error)
    #expect(u.message?.contains("`caffe`") == true && u.message?.contains("keras, tf1, pytorch, onnx") == true
              && u.message?.contains(path) == true, "\(u.message ?? "")")
    #expect((u.underlying as? CaseFileError)?.kind == .invalidAttribute("framework"))
    #expect(u.framework == nil && u.group == "unknown")

    // An output the case does not hold / the reference does not produce.
    var missing = try load()
    missing.outputs["c_n"] = nil
    let m = runner.evaluate(missing)
    #expect(m.status == .fail)
    #expect(m.outputs.last?.name == "c_n" && m.outputs.last?.problem?.contains("does not hold") == true)

    var extra = try load()
    extra.outputs.append("h_final", try #require(extra.outputs["h_n"]))
    let e = runner.evaluate(extra)
    #expect(e.status == .fail)
    #expect(e.outputs.last?.problem?.contains("produced no output `h_final`") == true)

    // A shape mismatch: an ERROR before the reference runs (the adapter's output shapes).
    var shape = try load()
    let hn = try #require(shape.outputs["h_n"])
    shape.outputs["h_n"] = hn.reshaped([1, 6, 4])
    let s = runner.evaluate(shape)
    #expect(s.status == .error)
    #expect(s.message?.contains("`h_n`") == true && s.message?.contains("[1, 6, 4]") == true
              && s.message?.contains("No reference was computed") == true, "\(s.message ?? "")")
    // Listed as an expected failure it runs, and fails on the shape as before.
    let listed = runner.evaluate(shape, expectedFailure: "a test")
    #expect(listed.status == .expectedFailure)
    #expect(listed.outputs.first { $0.name == "h_n" }?.problem?.contains("shape mismatch") == true)

    // NaN in the expected output without nan_equal.
    var nan = try load()
    var out = try #require(nan.outputs["output"])
    out[[0, 0, 0]] = .nan
    nan.outputs["output"] = out
    let n = runner.evaluate(nan)
    #expect(n.status == .fail)
    #expect(TextReporter().lines(for: n).joined().contains("the expected output holds 1 NaN"))

    // A weight the adapter does not know: the adapter's error, as a case error.
    var unused = try load()
    unused.weights.append("weight_ih_l7", Tensor(uncheckedZeros: [16, 3]))
    let w = runner.evaluate(unused)
    #expect(w.status == .error)
    #expect(w.message?.contains("weight_ih_l7") == true, "\(w.message ?? "")")
    // The adapter's typed error is kept behind the message.
    let cause = try #require(w.underlying as? RNNRefError)
    #expect(w.message == "the pytorch adapter could not run the case: \(cause)")
  }

  @Test func float64OracleAndToleranceOverride() throws {
    let runner = Runner()
    let exact = runner.evaluate(try load(), precision: .float64)
    #expect(exact.precision == .float64)
    #expect(exact.outputs.allSatisfy { $0.actualDType == .float64 })
    // torch's float32 result is within float32 tolerance of the exact result.
    #expect(exact.status == .pass)
    // Zero tolerance: float32 rounding in the framework makes it fail, and the report says the tolerance came from the command line.
    let strict = runner.evaluate(try load(), tolerance: Tolerance(atol: 0, rtol: 0))
    #expect(strict.toleranceSource == "command line")
    #expect(strict.status == .fail)
  }

  @Test func aRunOverRealAndBrokenFilesGoesOn() throws {
    let s = try ScratchFolder()
    let fm = FileManager.default
    try fm.createDirectory(atPath: s.path + "/fixtures/pytorch", withIntermediateDirectories: true)
    try fm.copyItem(atPath: Self.lstmPath, toPath: s.path + "/fixtures/pytorch/a_good.h5")
    try File(path: s.path + "/fixtures/pytorch/a_good.h5", writable: true).root.setAttribute("name", "pytorch/a_good")  // name = path
    // Truncated copy of a real case.
    let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.lstmPath))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: s.path + "/fixtures/pytorch/b_truncated.h5"))
    try s.file("fixtures/pytorch/c_garbage.h5", "not HDF5 at all")
    // An HDF5 file that is not a case (written by h5py for the HDF5 tests): skipped when found.
    try fm.copyItem(atPath: RepoPaths.root + "/Tests/HDF5Tests/Data/attrs.h5", toPath: s.path + "/fixtures/pytorch/d_other.h5")
    var o = RunOptions()
    o.currentDirectory = s.path
    o.executablePath = nil
    let report = try Runner().run(o)
    #expect(report.cases.map(\.name) == ["pytorch/a_good", "pytorch/b_truncated", "pytorch/c_garbage"])
    #expect(report.cases.map(\.status) == [.pass, .error, .error])
    #expect(report.cases[1].message?.contains("b_truncated.h5") == true, "\(report.cases[1].message ?? "")")
    #expect(report.cases[2].message?.contains("c_garbage.h5") == true, "\(report.cases[2].message ?? "")")
    #expect(report.summary.line == "1 passed, 0 failed, 2 errors")
    // Named explicitly, the non-case HDF5 file is an error.
    o.paths = ["fixtures/pytorch/d_other.h5"]
    let named = try Runner().run(o)
    #expect(named.cases.map(\.status) == [.error])
    #expect(named.cases.first?.message?.contains("d_other.h5") == true)
  }

  @Test func parallelRunsReportTheSameAsSerialRunsInTheSameOrder() throws {
    var o = RunOptions()
    o.paths = [RepoPaths.root + "/fixtures/pytorch"]
    o.filter = "pytorch/lstm*"
    o.parallel = true
    let parallel = try Runner().run(o)
    o.parallel = false
    let serial = try Runner().run(o)
    #expect(parallel.cases.count > 10)
    #expect(parallel.cases.map(\.name) == serial.cases.map(\.name))
    #expect(parallel.cases.map(\.name) == parallel.cases.map(\.name).sorted())
    #expect(parallel.cases.map(\.status) == serial.cases.map(\.status))
    #expect(parallel.cases.map { $0.outputs.map(\.maxAbsError) } == serial.cases.map { $0.outputs.map(\.maxAbsError) })
  }

  @Test func cliExitsZeroWhenEverySelectedCasePasses() throws {
    let r = try CLITests.run(["run", "--filter", "pytorch/lstm_bidirectional"])
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.hasSuffix("1 passed, 0 failed\n"), "\(r.stdout)")
    let listed = try CLITests.run(["list", "--filter", "pytorch/lstm_bidirectional"])
    #expect(listed.status == 0)
    #expect(listed.stdout.contains("pytorch/lstm_bidirectional  pytorch  lstm  float32  input [5, 3, 3] -> output [5, 3, 8], h_n [2, 3, 4], c_n [2, 3, 4]"), "\(listed.stdout)")
  }

  @Test func cliExitsOneOnAFailingCaseAndReportsIt() throws {
    // A real case with an expectations file claiming it fails: an unexpected pass, exit 1.
    let s = try ScratchFolder()
    try FileManager.default.createDirectory(atPath: s.path + "/suite/pytorch", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Self.lstmPath, toPath: s.path + "/suite/pytorch/lstm.h5")
    try File(path: s.path + "/suite/pytorch/lstm.h5", writable: true).root.setAttribute("name", "pytorch/lstm")  // name = path
    try s.file("suite/expected-failures.json", #"{"schema": 1, "expected_failures": [{"case": "pytorch/lstm", "reason": "test"}]}"#)
    let r = try CLITests.run(["run", "suite"], in: s.path)
    #expect(r.status == 1)
    #expect(r.stdout.contains("XPASS pytorch/lstm"))
    #expect(r.stdout.hasSuffix("0 passed, 0 failed, 1 unexpected passes\n"), "\(r.stdout)")
  }
}
