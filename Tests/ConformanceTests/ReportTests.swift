import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Conformance
import RNNRef

/// JSON and JUnit reports built from one report holding every status.
@Suite struct ReportTests {
  static func sampleReport() -> RunReport {
    let tol = Tolerance(atol: 1e-5, rtol: 1e-5)
    let e = Tensor<Double>(uncheckedShape: [2, 3, 2], scalars: (0..<12).map { Double($0) / 10 })
    var a = e
    a[[1, 2, 0]] += 3e-3
    a[[0, 1, 1]] = .nan
    let failing = Comparison.compare(name: "h_n", expected: e, expectedDType: "float32", actual: a,
                                     actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false,
                                     axes: ["layer*dir", "batch", "unit"])
    let passing = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: e,
                                     actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false,
                                     axes: ["batch", "step", "unit"])
    func c(_ name: String, _ status: CaseStatus, _ outputs: [OutputComparison], message: String? = nil,
           reason: String? = nil) -> CaseReport {
      CaseReport(name: name, path: "/suite/\(name).h5", framework: Framework(rawValue: String(name.split(separator: "/")[0])),
                 cell: .lstm, dtype: .float32, library: "torch", libraryVersion: "2.15.0", precision: .float32,
                 tolerance: tol, toleranceSource: "case", nanEqual: false, status: status, message: message,
                 expectedFailureReason: reason, outputs: outputs, durationSeconds: 0.0125)
    }
    let cases = [
      c("pytorch/lstm_ok", .pass, [passing]),
      c("pytorch/lstm_bidir", .fail, [passing, failing], message: "1 of 2 outputs differ: `h_n`"),
      CaseReport(name: "pytorch/broken", path: "/suite/pytorch/broken.h5", status: .error,
                 message: "could not load the case file: `/suite/pytorch/broken.h5` is not HDF5 <&> \"quoted\" \u{1B}[31m"),
      c("onnx/clip", .expectedFailure, [failing], message: "1 of 1 outputs differ: `h_n`", reason: "ORT & spec <differ>"),
      c("onnx/fixed", .unexpectedPass, [passing], reason: "was ort#1"),
    ]
    return RunReport(startedAt: "2026-11-23T18:40:00Z", durationSeconds: 0.5, precision: .case,
                     toleranceOverride: nil, filter: nil, framework: nil, cell: nil, shard: "1/1",
                     expectationsFile: "/suite/expected-failures.json", cases: cases)
  }

  @Test func jsonRoundTripsThroughTheSchemaTypes() throws {
    let report = Self.sampleReport()
    let data = try report.jsonData()
    let back = try RunReport.decode(data)
    // NaN != NaN, so compare the re-encoded documents rather than the values.
    #expect(try back.jsonData() == data)
    #expect(back.summary == report.summary)
    #expect(back.cases.map(\.status) == [.pass, .fail, .error, .expectedFailure, .unexpectedPass])
    #expect(back.cases[1].outputs[1].maxAbsError == .infinity)
    #expect(back.cases[1].outputs[1].maxAbsIndex == [0, 1, 1])
    // The documented top-level keys and status strings.
    let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    for key in ["schema", "tool", "startedAt", "durationSeconds", "precision", "summary", "cases"] {
      #expect(object[key] != nil, "missing top-level key \(key)")
    }
    #expect(object["schema"] as? Int == 1)
    let statuses = (object["cases"] as! [[String: Any]]).map { $0["status"] as! String }
    #expect(statuses == ["pass", "fail", "error", "expected-fail", "unexpected-pass"])
    let summary = object["summary"] as! [String: Int]
    #expect(summary == ["total": 5, "passed": 1, "failed": 1, "errors": 1, "expectedFailures": 1, "unexpectedPasses": 1])
    // A report from a future schema is refused.
    var future = object
    future["schema"] = 2
    #expect(throws: ConformanceError.self) {
      _ = try RunReport.decode(try JSONSerialization.data(withJSONObject: future))
    }
  }

  @Test func textReportReadsLikeTorchTesting() {
    let text = TextReporter().render(Self.sampleReport())
    let lines = text.split(separator: "\n").map(String.init)
    #expect(lines.last == "1 passed, 1 failed, 1 errors, 1 expected failures, 1 unexpected passes")
    #expect(text.contains("FAIL pytorch/lstm_bidir"))
    #expect(text.contains("output `h_n`: Mismatched elements: 2 / 12 (16.7%), 1 of them NaN or infinite; greatest absolute difference inf at (layer*dir 0, batch 1, unit 1)"), "\(text)")
    #expect(text.contains("ERROR pytorch/broken"))
    #expect(text.contains("XFAIL onnx/clip"))
    #expect(text.contains("XPASS onnx/fixed"))
    #expect(!text.contains("PASS pytorch/lstm_ok\n  output"), "passing outputs are only listed with --verbose")
    let verbose = TextReporter(verbose: true).render(Self.sampleReport())
    #expect(verbose.contains("PASS pytorch/lstm_ok  [float32; atol 1e-05, rtol 1e-05]\n  output `output`: ok, 12 elements"), "\(verbose)")
    let quiet = TextReporter(quiet: true).render(Self.sampleReport())
    #expect(!quiet.contains("lstm_ok"))
    #expect(!TextReporter(color: false).render(Self.sampleReport()).contains("\u{1B}[32m"))
    #expect(TextReporter(color: true).render(Self.sampleReport()).contains("\u{1B}[32mPASS"))
  }

  /// The rules of the strict JUnit schema (Ant / windyroad JUnit.xsd), which Jenkins' junit-10.xsd also accepts.
  @Test func junitFollowsTheSchemaRules() throws {
    let report = Self.sampleReport()
    let xml = JUnitReporter.xml(report, flavor: .strict)
    let doc = try XMLDocument(xmlString: xml, options: [])
    let root = try #require(doc.rootElement())
    #expect(root.name == "testsuites")
    #expect((root.attributes ?? []).isEmpty, "the strict schema allows no attributes on <testsuites>")
    let suites = root.elements(forName: "testsuite")
    #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == ["pytorch", "onnx"])
    var seenCases = 0
    for (k, suite) in suites.enumerated() {
      for required in ["name", "package", "id", "timestamp", "hostname", "tests", "failures", "errors", "time"] {
        #expect(suite.attribute(forName: required) != nil, "testsuite lacks \(required)")
      }
      #expect(suite.attribute(forName: "id")?.stringValue == String(k))
      let ts = suite.attribute(forName: "timestamp")!.stringValue!
      #expect(ts.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"#, options: .regularExpression) != nil, "timestamp \(ts)")
      #expect(Double(suite.attribute(forName: "time")!.stringValue!) != nil)
      // Children in schema order: properties, testcase*, system-out, system-err.
      let names = (suite.children ?? []).compactMap { ($0 as? XMLElement)?.name }
      #expect(names.first == "properties" && names.suffix(2) == ["system-out", "system-err"])
      #expect(names.dropFirst().dropLast(2).allSatisfy { $0 == "testcase" })
      let cases = suite.elements(forName: "testcase")
      seenCases += cases.count
      #expect(Int(suite.attribute(forName: "tests")!.stringValue!) == cases.count)
      var failures = 0, errors = 0
      for tc in cases {
        for required in ["name", "classname", "time"] { #expect(tc.attribute(forName: required) != nil) }
        #expect(tc.attribute(forName: "classname")?.stringValue == suite.attribute(forName: "name")?.stringValue)
        let children = (tc.children ?? []).compactMap { $0 as? XMLElement }
        #expect(children.count <= 1)
        for child in children {
          #expect(["failure", "error"].contains(child.name ?? ""))
          #expect(child.attribute(forName: "message") != nil && child.attribute(forName: "type") != nil)
          if child.name == "failure" { failures += 1 } else { errors += 1 }
        }
      }
      #expect(Int(suite.attribute(forName: "failures")!.stringValue!) == failures)
      #expect(Int(suite.attribute(forName: "errors")!.stringValue!) == errors)
    }
    #expect(seenCases == report.cases.count)
    // The failure carries the text a person reads; the expected failure is a note, not a failure.
    let bidir = suites[0].elements(forName: "testcase").first { $0.attribute(forName: "name")?.stringValue == "lstm_bidir" }!
    let failure = bidir.elements(forName: "failure").first!
    #expect(failure.stringValue?.contains("Mismatched elements: 2 / 12") == true)
    let clip = suites[1].elements(forName: "testcase").first { $0.attribute(forName: "name")?.stringValue == "clip" }!
    #expect((clip.children ?? []).isEmpty)
    #expect(suites[1].elements(forName: "system-out").first?.stringValue?.contains("ORT & spec <differ>") == true)
    // Escaping: markup characters survive, control characters (ANSI colour) are dropped.
    let broken = suites[0].elements(forName: "testcase").first { $0.attribute(forName: "name")?.stringValue == "broken" }!
    let message = broken.elements(forName: "error").first!.attribute(forName: "message")!.stringValue!
    #expect(message.contains("<&> \"quoted\""))
    #expect(!xml.contains("\u{1B}"))
  }

  @Test func xmlEscaping() {
    #expect(JUnitReporter.escape("a<b>&c") == "a&lt;b&gt;&amp;c")
    #expect(JUnitReporter.escape("\"q\" 'a'\nb", attribute: true) == "&quot;q&quot; &apos;a&apos;&#10;b")
    #expect(JUnitReporter.escape("x\u{0}\u{1B}y\u{FFFE}") == "xy")
  }
}
