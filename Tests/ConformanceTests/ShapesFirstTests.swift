import Foundation
import HDF5
import RNNRef
import Testing
@testable import Conformance

/// Issue 11, "shapes before the reference runs": what is knowable from shapes is refused before
/// anything is read or run.
@Suite(.serialized) struct ShapesFirstTests {
  /// The case-size cap is checked from the shapes, before any tensor is read: with the cap at 10
  /// elements a bundled case is refused by `run`, naming the file and the dataset, exit 1.
  @Test func aCaseLargerThanTheCapIsRefusedFromItsShapes() throws {
    let path = RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5"
    let r = try CLITests.run(["run", path], environment: ["RNNCONF_MAX_CASE_ELEMENTS": "10", "RNNCONF_GEMM_KERNEL": "flat"])
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    let text = r.stdout + r.stderr
    // The file is named relative to the run's folder (reports carry no absolute path).
    #expect(text.contains("fixtures/pytorch/lstm_bidirectional.h5") && text.contains("more than 10 elements")
              && text.contains("nothing was read"), "\(text)")
    #expect(text.contains("RNNCONF_MAX_CASE_ELEMENTS"))
    // The default cap loads it.
    #expect(try CLITests.run(["run", path], environment: ["RNNCONF_GEMM_KERNEL": "flat"]).status == 0)
  }

  /// A Keras case's inputs are all checked before any layer runs: with an initial state of the
  /// wrong shape (which only the layer call would notice) and an input the model does not take,
  /// the unknown input is reported, not the state (before the change the layer ran first).
  @Test func kerasInputsAreCheckedBeforeAnyLayerRuns() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: RepoPaths.root + "/fixtures/keras").sorted()
    let file = try #require(names.first { $0.hasPrefix("k2_") && $0.contains("initial_state") })
    var c = try Case.load(path: RepoPaths.root + "/fixtures/keras/" + file)
    let stateName = try #require(c.inputs.names.first { $0 != c.inputs.names[0] })
    var inputs = NamedTensors<Double>()
    for (name, t) in c.inputs.entries {
      inputs.append(name, name == stateName ? Tensor(uncheckedShape: [1, 1], scalars: [0]) : t)
    }
    inputs.append("bogus", Tensor(uncheckedShape: [1], scalars: [0]))
    c.inputs = inputs
    let report = Runner().evaluate(c)
    #expect(report.status == .error)
    #expect(report.message?.contains("bogus") == true && report.message?.contains("does not take") == true, "\(report.message ?? "")")
  }

  /// Issue 11: a case with a 1e9-element input ran the whole reference (9 s, 1.2 GB) before its
  /// shape mismatch was reported. Such a case (a small file: the input is declared, never written)
  /// is refused from its shapes before anything is read or run: exit 1 naming the file and the
  /// dataset, in little time and memory; with the case cap raised past it, the HDF5 read cap
  /// (1 GiB declared) still refuses it before the reference runs.
  @Test func aBillionElementInputIsRefusedBeforeTheReferenceRuns() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("huge.h5").path
    try FileManager.default.copyItem(atPath: RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5", toPath: path)
    let input: String
    do {
      let f = try File(path: path, writable: true)
      input = try f.root.stringsAttribute("input_names")[0]
      let old = try f.dataset("inputs/" + input).shape
      try f.root.deleteLink("inputs/" + input)
      // 1e9 elements: [1_000_000 steps] + the stored input's other axes, scaled to 1e9 in all.
      let rest = old.dropFirst().reduce(1, *)
      let shape = [1_000_000_000 / rest] + old.dropFirst()
      try f.root.createUnwrittenDataset("inputs/" + input, shape: shape, chunk: [1024] + old.dropFirst(), of: Float.self)
      try f.flush()
    }
    let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    #expect(size < 1_000_000, "the file stays small: \(size) bytes")
    let started = Date()
    let r = try MalformedCorpusTests.run(["run", path], timeout: 60)
    let seconds = Date().timeIntervalSince(started)
    #expect(r.status == 1 && !r.signalled && !r.timedOut, "\(r.output)")
    #expect(r.output.contains("huge") && r.output.contains("/inputs/\(input)") && r.output.contains("nothing was read"), "\(r.output)")
    #expect(r.maxResidentKB < 300 * 1024, "\(r.maxResidentKB / 1024) MB resident")
    #expect(seconds < 20, "\(seconds) s")
    // The case cap raised past it: the dataset read cap refuses it, still before the reference runs.
    let raised = try MalformedCorpusTests.run(["run", path], timeout: 60, environment: ["RNNCONF_MAX_CASE_ELEMENTS": "2000000000"])
    #expect(raised.status == 1 && !raised.signalled && !raised.timedOut, "\(raised.output)")
    #expect(raised.output.contains("huge") && raised.output.contains(input), "\(raised.output)")
    #expect(!raised.output.contains("could not run the case"), "the reference did not run: \(raised.output)")
    #expect(raised.maxResidentKB < 300 * 1024, "\(raised.maxResidentKB / 1024) MB resident")
  }

  /// Issue 11 ("shapes are checked before the reference runs"): expected outputs whose shapes
  /// cannot match what the adapter produces (`FrameworkConvention.outputShapes`) are an ERROR
  /// naming the file, the output and both shapes, before any reference computation: a PyTorch
  /// case with a 2^23-element input (its first axis scaled up)
  /// and the original, short `output` errors in well under that.
  @Test func aWrongExpectedShapeWithALargeInputErrorsBeforeTheReference() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("long.h5").path
    try FileManager.default.copyItem(atPath: RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5", toPath: path)
    let old: [Int]
    do {
      let f = try File(path: path, writable: true)
      old = try f.dataset("inputs/input").shape
      try f.root.deleteLink("inputs/input")
      // The first axis scaled so the input holds about 2^23 elements (read as zeros: never written).
      let perStep = old.dropFirst().reduce(1, *)
      let shape = [(1 << 23) / perStep] + old.dropFirst()
      try f.root.createUnwrittenDataset("inputs/input", shape: shape, chunk: [64] + old.dropFirst(), of: Float.self)
      try f.flush()
    }
    let c = try Case.load(path: path)
    let expected = try #require(c.outputs["output"]).shape
    let started = Date()
    let report = Runner().evaluate(c)
    let seconds = Date().timeIntervalSince(started)
    let message = report.message ?? ""
    #expect(report.status == .error, "\(report.status): \(message)")
    #expect(message.contains(path) && message.contains("`output`") && message.contains("\(expected)")
              && message.contains("No reference was computed"), "\(message)")
    let first = try #require(c.inputs["input"]).shape[0]
    #expect(message.contains("[\(first), "), "the produced shape follows the input's first axis (\(first)): \(message)")
    #expect(seconds < 2, "\(seconds) s")
    // The bundled case itself passes the check (its shapes agree).
    let original = try Case.load(path: RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5")
    #expect(Runner().evaluate(original).status == .pass)
  }

}
