import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HDF5
import Testing
@testable import Conformance
import RNNRef

/// The first divergent layer (cases with `/intermediate/<layer>`, `rnnconf compare`), the HTML
/// report, dashboard JUnit, and reports without absolute paths (issue 13).
@Suite struct LayerReportTests {
  static let fixtures = RepoPaths.root + "/fixtures/keras/"
  /// Keras cases whose files carry every layer's output, captured by gen_keras2.py / gen_keras3.py.
  static let layered = ["k2_stack_intermediates", "k3_stack_intermediates", "k2_stack_intermediates_mask",
                        "k3_stack_intermediates_mask"]

  static func load(_ name: String) throws -> Case { try Case.load(path: fixtures + name + ".h5") }

  /// Adds `delta` to the input kernel of layer `layer` (every weight of that layer whose last
  /// name component starts with `kernel`, so both directions of a Bidirectional).
  static func perturb(_ c: inout Case, layer: String, by delta: Double = 0.05) throws {
    var touched = 0
    for name in c.weights.names where name.hasPrefix(layer + "/") && name.split(separator: "/").last!.hasPrefix("kernel") {
      var w = try #require(c.weights[name])
      w = try Tensor(shape: w.shape, scalars: w.scalars.map { $0 + delta })
      c.weights[name] = w
      touched += 1
    }
    #expect(touched > 0, "no kernel of layer \(layer) among \(c.weights.names)")
  }

  @Test(arguments: layered)
  func theLayeredFixturesPassLayerByLayer(_ name: String) throws {
    let c = try Self.load(name)
    #expect(c.intermediates.entries.count == 3)
    let r = Runner().evaluate(c, name: "keras/" + name)
    #expect(r.status == .pass, "\(TextReporter(verbose: true).lines(for: r).joined(separator: "\n"))")
    #expect(r.intermediates?.map(\.name) == c.intermediates.names)
    #expect(r.intermediates?.allSatisfy { $0.status == .pass } == true)
    #expect(r.firstDivergentLayer == nil)
    #expect(r.intermediates?.first?.axes == ["batch", "step", "unit"])
  }

  /// A multi-layer case with one layer's weights perturbed names that layer, for each layer but
  /// the first (whose perturbation is the trivial case) and the first too.
  @Test(arguments: layered)
  func aPerturbedLayerIsTheFirstToDiverge(_ name: String) throws {
    let layers = try Self.load(name).intermediates.names
    for (k, layer) in layers.enumerated() {
      var c = try Self.load(name)
      try Self.perturb(&c, layer: layer)
      let r = Runner().evaluate(c, name: "keras/" + name)
      #expect(r.status == .fail)
      #expect(r.firstDivergentLayer == layer, "perturbed \(layer); report: \(r.message ?? "")")
      let statuses = try #require(r.intermediates).map(\.status)
      #expect(statuses.prefix(k).allSatisfy { $0 == .pass }, "layers before \(layer) must pass: \(statuses)")
      #expect(statuses[k] == .fail)
      #expect(r.message?.contains("first divergent layer `\(layer)`") == true)
      let text = TextReporter().lines(for: r).joined(separator: "\n")
      #expect(text.contains("first divergent layer `\(layer)`: Mismatched elements"))
      // Error maps for the HTML report: one per failing output and layer, shaped (N, T, F).
      let map = try #require(r.errorMaps.first { $0.isLayer && $0.name == layer })
      let expected = try #require(c.intermediates[layer])
      #expect(map.rows == expected.shape[0] && map.steps == expected.shape[1] && map.units == expected.shape[2])
      #expect(map.rowStep.max()! > map.allowedPerStep.max()!)
    }
  }

  /// PyTorch stacks (gen_pytorch.py captures layer k as a one-layer module with the `_l{k}`
  /// weights): perturbing `weight_ih_l{k}` (both directions) names `l{k}`.
  @Test(arguments: ["lstm_3layer", "gru_3layer_bidirectional", "rnn_tanh_h0", "lstm_proj_3layer_bidirectional_h0_c0",
                    "lstm_2layer_bidirectional_batch_first"])
  func aPerturbedPyTorchLayerIsTheFirstToDiverge(_ name: String) throws {
    let path = RepoPaths.root + "/fixtures/pytorch/" + name + ".h5"
    let layers = try Case.load(path: path).intermediates.names
    #expect(layers.count >= 2 && layers == layers.indices.map { "l\($0)" })
    #expect(Runner().evaluate(try Case.load(path: path)).firstDivergentLayer == nil)
    for (k, layer) in layers.enumerated() {
      var c = try Case.load(path: path)
      for w in c.weights.names where w == "weight_ih_l\(k)" || w == "weight_ih_l\(k)_reverse" {
        let t = c.weights[w]!
        c.weights[w] = try Tensor(shape: t.shape, scalars: t.scalars.map { $0 + 0.05 })
      }
      let r = Runner().evaluate(c)
      #expect(r.firstDivergentLayer == layer, "perturbed layer \(k) of \(name): \(r.message ?? "")")
      #expect(r.intermediates?.prefix(k).allSatisfy { $0.status == .pass } == true)
    }
  }

  @Test func aCaseFileWithAnUnlistedIntermediateGroupIsRefused() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnnconf-layer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("case.h5").path
    try FileManager.default.copyItem(atPath: Self.fixtures + "k2_stack_intermediates.h5", toPath: path)
    do {
      let f = try File(path: path, writable: true)
      try f.root.deleteAttribute("intermediate_names")
    }
    #expect {
      try Case.load(path: path)
    } throws: { "\($0)".contains("intermediate_names") }
  }

  // MARK: - rnnconf compare

  /// The tf-keras model the k2 case saved, against the outputs Keras computed (stored in the case):
  /// every layer passes; with the capture of the second layer onwards shifted, that layer is named.
  @Test func compareNamesTheFirstLayerThatLeavesTheTolerance() throws {
    let c = try Self.load("k2_stack_intermediates")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rnnconf-compare-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("model.h5").path
    try Data(try Case.artifact(path: c.path, name: "model.h5")).write(to: URL(fileURLWithPath: model))
    func capture(_ name: String, shiftFrom: Int?) throws -> String {
      let path = dir.appendingPathComponent(name).path
      try File.createAtomically(path: path) { f in
        let out = c.outputs["output"]!
        let shiftOut = shiftFrom != nil
        _ = try f.root.createDataset("output_0", shape: out.shape, values: out.scalars.map { Float($0 + (shiftOut ? 1e-3 : 0)) })
        _ = try f.root.createGroup("intermediate")
        for (k, e) in c.intermediates.entries.enumerated() {
          let shift = shiftFrom.map { k >= $0 } ?? false
          _ = try f.root.createDataset("intermediate/" + e.name, shape: e.tensor.shape,
                                       values: e.tensor.scalars.map { Float($0 + (shift ? 1e-3 : 0)) })
        }
      }
      return path
    }
    let x = try #require(c.inputs["x"])
    let same = try ModelComparison.compare(model: model, inputs: [x], reference: try capture("same.h5", shiftFrom: nil))
    #expect(same.status == .pass, "\(TextReporter(verbose: true).lines(for: same).joined(separator: "\n"))")
    #expect(same.intermediates?.map(\.name) == c.intermediates.names)
    #expect(same.firstDivergentLayer == nil)
    #expect(!same.path.hasPrefix("/"))

    let shifted = try ModelComparison.compare(model: model, inputs: [x], reference: try capture("shifted.h5", shiftFrom: 1))
    #expect(shifted.status == .fail)
    #expect(shifted.firstDivergentLayer == c.intermediates.names[1])
    #expect(shifted.intermediates?.map(\.status) == [.pass, .fail, .fail])
  }

  // MARK: - HTML

  @Test func theHTMLReportDrawsAFailingCaseAndNeedsNothingOutside() throws {
    var c = try Self.load("k3_stack_intermediates_mask")
    try Self.perturb(&c, layer: c.intermediates.names[1])
    var failing = Runner().evaluate(c, name: "keras/k3_stack_intermediates_mask")
    failing.path = "fixtures/keras/k3_stack_intermediates_mask.h5"
    let passing = Runner().evaluate(try Self.load("k2_stack_intermediates"), name: "keras/k2_stack_intermediates")
    let report = RunReport(startedAt: "2026-11-30T12:00:00Z", durationSeconds: 0.1, precision: .case,
                           toleranceOverride: nil, filter: nil, framework: nil, cell: nil, shard: nil,
                           expectationsFile: nil, cases: [passing, failing])
    let html = HTMLReport.render(report)
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<table id=\"summary\">"))
    #expect(html.contains("First divergent layer: <code>bidirectional</code>"))
    // A heatmap per failing output and layer (`output`, `state_h`, 2 layers); an error-over-time
    // plot for each of them that has a step axis (not `state_h`, shaped (N, H)).
    let failingParts = failing.outputs.filter { $0.status == .fail }.count
      + (failing.intermediates ?? []).filter { $0.status == .fail }.count
    #expect(failingParts == 4)
    #expect(failing.errorMaps.filter(\.hasSteps).count == 3)
    #expect(html.components(separatedBy: "<svg class=\"plot\"").count - 1 == 3)
    #expect(html.components(separatedBy: "<svg class=\"heatmap\"").count - 1 == failingParts)
    #expect(html.contains("This output has no step axis"))
    #expect(html.contains("stroke-dasharray"))  // the tolerance line
    // Self-contained: no external resource of any kind.
    for pattern in ["src=", "href=\"http", "href=\"//", "url(", "@import", "<link"] {
      #expect(!html.contains(pattern), "\(pattern)")
    }
    // Escaped text.
    #expect(!HTMLReport.esc("<script>&\"").contains("<"))
    // Without error maps (a report read back from JSON) the page says so instead of drawing.
    let back = try RunReport.decode(try report.jsonData())
    #expect(HTMLReport.render(back).contains("Per-step error data is not available"))
  }

  @Test func theDiagnosisBlockRendersWhatItIsGiven() {
    #expect(HTMLReport.diagnosisSection(nil) == "")
    #expect(HTMLReport.diagnosisSection([]).contains("No convention mistake"))
    let one = HTMLReport.diagnosisSection([(kind: "gate-order", description: "z, r read as r, z <b>")])
    #expect(one.contains("<span class=\"kind\">gate-order</span>"))
    #expect(one.contains("&lt;b&gt;"))
  }

  // MARK: - JUnit for dashboards, paths, --quiet

  @Test func dashboardJUnitSkipsExpectedFailuresAndNamesFiles() throws {
    let report = ReportTests.sampleReport().relativePaths(to: "/suite")
    let xml = JUnitReporter.xml(report)
    let doc = try XMLDocument(xmlString: xml, options: [])
    let suites = try #require(doc.rootElement()).elements(forName: "testsuite")
    var skipped = 0
    for suite in suites {
      #expect(suite.attribute(forName: "hostname")?.stringValue == "localhost")
      var inSuite = 0
      for tc in suite.elements(forName: "testcase") {
        let file = try #require(tc.attribute(forName: "file")?.stringValue)
        #expect(file.hasSuffix(".h5") && !file.hasPrefix("/"), "\(file)")
        if let s = tc.elements(forName: "skipped").first {
          #expect(s.attribute(forName: "message")?.stringValue == "expected failure: ORT & spec <differ>")
          inSuite += 1
        }
      }
      #expect(Int(suite.attribute(forName: "skipped")?.stringValue ?? "") == inSuite)
      skipped += inSuite
    }
    #expect(skipped == 1)
    #expect(xml.contains("file=\"onnx/clip.h5\""))
    #expect(!xml.contains("/suite"))
    #expect(!xml.contains(ProcessInfo.processInfo.hostName) || ProcessInfo.processInfo.hostName == "localhost")
  }

  @Test func relativePaths() {
    #expect(RelativePath.of("/a/b/c.h5", from: "/a") == "b/c.h5")
    #expect(RelativePath.of("/a/b/c.h5", from: "/a/x/") == "../b/c.h5")
    #expect(RelativePath.of("/a/./b/../c.h5", from: "/a") == "c.h5")
    #expect(RelativePath.of("/a", from: "/a") == ".")
    #expect(RelativePath.of("rel/c.h5", from: "/a") == "rel/c.h5")
    var report = ReportTests.sampleReport()
    report.cases[2].message = "cannot read /suite/pytorch/broken.h5: bad"
    let r = report.relativePaths(to: "/suite/")
    #expect(r.cases.map(\.path) == report.cases.map { String($0.path.dropFirst("/suite/".count)) })
    #expect(r.cases[2].message == "cannot read pytorch/broken.h5: bad")
    #expect(r.expectationsFile == "expected-failures.json")
  }

  @Test func aRunOfTheFixturesNamesNoAbsolutePath() throws {
    var options = RunOptions()
    options.paths = ["fixtures/keras"]
    options.filter = "keras/k*_stack_intermediates*"
    options.currentDirectory = RepoPaths.root
    let report = try Runner().run(options)
    #expect(report.cases.count == 4)
    #expect(report.cases.allSatisfy { $0.path.hasPrefix("fixtures/keras/") })
    #expect(report.expectationsFile == "fixtures/expected-failures.json")
    let json = String(decoding: try report.jsonData(), as: UTF8.self)
    #expect(!json.contains(RepoPaths.root))
    #expect(!JUnitReporter.xml(report).contains(RepoPaths.root))
    #expect(!HTMLReport.render(report).contains(RepoPaths.root))
  }

  @Test func quietPrintsAnExpectedFailureAsOneLine() {
    let report = ReportTests.sampleReport()
    let xfail = report.cases.first { $0.status == .expectedFailure }!
    #expect(TextReporter(quiet: true).lines(for: xfail) == ["XFAIL onnx/clip  (expected: ORT & spec <differ>)"])
    #expect(TextReporter().lines(for: xfail).count > 1)
  }
}
