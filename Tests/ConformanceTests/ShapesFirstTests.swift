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
}
