import Foundation
import HDF5
import Testing
@testable import Conformance
import RNNRef

/// Case schema v1 additions (issue 12): `compared_output_names`, the explicit Keras `mask=` input,
/// and TF1 `ResidualWrapper` around a `MultiRNNCell`. Expected values come from the bundled
/// fixtures (captured from the real frameworks); each test also breaks something and checks
/// that the run notices.
@Suite struct SchemaAdditionsTests {
  static let lstm = RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5"

  /// A copy of a fixture with `compared_output_names` set.
  static func copy(_ source: String, compared: [String]?, in s: ScratchFolder) throws -> String {
    let p = s.path + "/pytorch/" + (source as NSString).lastPathComponent
    try FileManager.default.createDirectory(atPath: s.path + "/pytorch", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: source, toPath: p)
    if let compared {
      try File(path: p, writable: true).root.setAttribute("compared_output_names", fixedLengthStrings: compared)
    }
    return p
  }

  static func report(_ c: CaseReport) -> RunReport {
    RunReport(startedAt: "2026-01-01T00:00:00Z", durationSeconds: 0, precision: .case, toleranceOverride: nil,
              filter: nil, framework: nil, cell: nil, shard: nil, expectationsFile: nil, cases: [c])
  }

  /// A wrong output the list leaves out does not fail the case, and every report names it.
  @Test func aComparedListSkipsAWrongOutputAndEveryReportSaysSo() throws {
    let s = try ScratchFolder()
    let p = try Self.copy(Self.lstm, compared: ["output", "h_n"], in: s)
    var c = try Case.load(path: p)
    #expect(c.comparedOutputs == ["output", "h_n"])
    var cn = try #require(c.outputs["c_n"])
    cn[[0, 0, 0]] += 1
    c.outputs["c_n"] = cn
    let r = Runner().evaluate(c, name: "pytorch/lstm_bidirectional")
    #expect(r.status == .pass)
    #expect(r.outputs.map(\.name) == ["output", "h_n"])
    #expect(r.notCompared == ["c_n"])
    let text = TextReporter().lines(for: r).joined(separator: "\n")
    #expect(text.contains("not compared: `c_n`"), "\(text)")
    let json = String(decoding: try Self.report(r).jsonData(), as: UTF8.self)
    #expect(json.contains("\"notCompared\""), "\(json)")
    #expect(try RunReport.decode(Data(json.utf8)).cases[0].notCompared == ["c_n"])
    #expect(JUnitReporter.xml(Self.report(r)).contains("not compared: `c_n`"))
    #expect(HTMLReport.render(Self.report(r)).contains("not compared: `c_n`"))
    // Without the list the same wrong output fails the case, and nothing is "not compared".
    c.comparedOutputs = nil
    let full = Runner().evaluate(c, name: "pytorch/lstm_bidirectional")
    #expect(full.status == .fail)
    #expect(full.notCompared == nil)
    #expect(!TextReporter().lines(for: full).joined().contains("not compared"))
    // A listed output that is wrong still fails.
    c.comparedOutputs = ["c_n"]
    let listed = Runner().evaluate(c, name: "pytorch/lstm_bidirectional")
    #expect(listed.status == .fail)
    #expect(listed.notCompared == ["output", "h_n"])
  }

  /// A name the file does not store, an empty list or a name twice: an ERROR naming the file and the name.
  @Test func badComparedListsAreErrorsNamingTheFileAndTheName() throws {
    let s = try ScratchFolder()
    for (list, words) in [(["output", "h_x"], ["`h_x`", "not one of the stored outputs"]),
                          ([], ["empty"]), (["h_n", "h_n"], ["`h_n` twice"])] {
      let p = try Self.copy(Self.lstm, compared: list, in: s)
      #expect {
        _ = try Case.load(path: p)
      } throws: { error in
        let d = "\(error)"
        return d.contains(p) && d.contains("compared_output_names") && words.allSatisfy(d.contains)
      }
      var o = RunOptions()
      o.paths = [p]
      o.currentDirectory = s.path
      o.executablePath = nil
      let run = try Runner().run(o)
      #expect(run.cases.map(\.status) == [.error])
      #expect(words.allSatisfy { run.cases[0].message?.contains($0) == true }, "\(run.cases[0].message ?? "")")
      try FileManager.default.removeItem(atPath: p)
    }
  }

  /// The stateful fixtures store and compare only the second call; the first call's outputs,
  /// which the adapter produces too, are reported as not compared.
  @Test(arguments: ["k2", "k3"])
  func statefulSecondCallFixture(_ prefix: String) throws {
    let c = try Case.load(path: RepoPaths.root + "/fixtures/keras/\(prefix)_mask_input_stateful_second_call.h5")
    #expect(c.comparedOutputs == ["output_call1", "state_h_call1"])
    for precision in Precision.allCases {
      let r = Runner().evaluate(c, precision: precision)
      #expect(r.status == .pass, "\(TextReporter(verbose: true).lines(for: r).joined(separator: "\n"))")
      #expect(r.notCompared == ["output_call0", "state_h_call0"])
    }
  }

  /// The diagnosis judges a failing case by its compared outputs, as the run does (the adapter
  /// also produces the first call's outputs, which the file does not store).
  @Test func diagnosisOfACaseWithAComparedList() throws {
    var c = try Case.load(path: RepoPaths.root + "/fixtures/keras/k2_mask_input_stateful_second_call.h5")
    for e in c.weights.entries {  // GRU z and r swapped in every tensor: the classic converter bug
      c.weights[e.name] = e.tensor.reorderingBlocks([1, 0, 2], axis: e.tensor.rank - 1)
    }
    let r = Runner().evaluate(c, diagnosis: .unlimited)
    #expect(r.status == .fail)
    #expect(r.diagnosis?.contains { $0.kind == .gateOrder } == true, "\(r.diagnosis ?? [])")
  }

  /// Keras cases called with `mask=`: the fixture passes, a wrong mask fails, a malformed or
  /// missing mask is a named error.
  @Test(arguments: ["k2", "k3"])
  func explicitMaskInput(_ prefix: String) throws {
    let c = try Case.load(path: RepoPaths.root + "/fixtures/keras/\(prefix)_mask_input_lstm_seq.h5")
    #expect(c.inputs.names == ["x", "mask"])
    let good = Runner().evaluate(c)
    #expect(good.status == .pass, "\(TextReporter(verbose: true).lines(for: good).joined(separator: "\n"))")
    var mask = try #require(c.inputs["mask"])
    #expect(mask.shape == [4, 6])
    #expect(mask[[2, 0]] == 0 && mask[[0, 2]] == 0, "the fixture masks a fully masked sample and a gap")
    var wrong = c
    mask[[0, 2]] = 1  // unmask one step of the gap
    wrong.inputs["mask"] = mask
    let r = Runner().evaluate(wrong)
    #expect(r.status == .fail)
    mask[[0, 2]] = 2
    wrong.inputs["mask"] = mask
    let bad = Runner().evaluate(wrong)
    #expect(bad.status == .error)
    #expect(bad.message?.contains("mask") == true && bad.message?.contains("0 and 1") == true, "\(bad.message ?? "")")
    var missing = c
    missing.inputs = NamedTensors(c.inputs.entries.filter { $0.name != "mask" })
    let m = Runner().evaluate(missing)
    #expect(m.status == .error)
    #expect(m.message?.contains("`mask`") == true || m.message?.contains("mask") == true, "\(m.message ?? "")")
  }

  /// TF1 ResidualWrapper around a MultiRNNCell: the fixture passes in both precisions, and the
  /// same case without the wrapper (the stack's input not added) fails.
  @Test func tf1ResidualAroundAStack() throws {
    let c = try Case.load(path: RepoPaths.root + "/fixtures/tf1/residual_wrap_multi_lstm.h5")
    for precision in Precision.allCases {
      let r = Runner().evaluate(c, precision: precision)
      #expect(r.status == .pass, "\(TextReporter(verbose: true).lines(for: r).joined(separator: "\n"))")
    }
    var stripped = c
    guard case .object(var root) = c.config, let wrapper = root["cell"], wrapper["class"]?.string == "ResidualWrapper" else {
      Issue.record("the fixture's cell is not a ResidualWrapper: \(c.config)")
      return
    }
    root["cell"] = wrapper["cell"]
    stripped.config = .object(root)
    let r = Runner().evaluate(stripped)
    #expect(r.status == .fail)
    #expect(r.outputs.first { $0.name == "outputs" }?.status == .fail)
    #expect(r.outputs.filter { $0.name.hasPrefix("state") }.allSatisfy { $0.status == .pass },
            "the wrapper leaves the states alone")
  }
}
