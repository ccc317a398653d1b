import Foundation
import Testing
@testable import Conformance
import RNNRef

/// The diagnosis against the mistakes corpus (`mistakes/`, made by fixtures/generate/gen_mistakes.py:
/// real frameworks computed each case's expected outputs from deliberately mis-converted weights or
/// calls). Each case must be diagnosed as the mistake that made it; passing cases and failures that
/// are not convention mistakes must get none.
@Suite struct DiagnosisTests {
  static let mistakes = RepoPaths.root + "/mistakes"

  struct Entry: Decodable {
    struct Expected: Decodable { var kind: String; var detail: String }
    var `case`: String
    var diagnosis: Expected
  }
  struct File: Decodable {
    var expected_failures: [Entry]
  }

  static func entries() throws -> [Entry] {
    let data = try Data(contentsOf: URL(fileURLWithPath: mistakes + "/expected-failures.json"))
    return try JSONDecoder().decode(File.self, from: data).expected_failures
  }

  static func run(_ paths: [String], explain: Bool = true, budget: Double = 30, filter: String? = nil) throws -> RunReport {
    var o = RunOptions()
    o.paths = paths
    o.explain = explain
    o.diagnosisBudget = budget
    o.filter = filter
    return try Runner().run(o)
  }

  @Test func everyMistakeIsDiagnosedAsItsOwnMistake() throws {
    let entries = try Self.entries()
    let report = try Self.run([Self.mistakes])
    #expect(report.cases.count == entries.count, "every case in mistakes/ is listed in its expectations file")
    #expect(Set(report.cases.map(\.name)) == Set(entries.map(\.case)))
    var table: [String: (cases: Int, right: Int)] = [:]
    for e in entries {
      let c = try #require(report.cases.first { $0.name == e.case }, "\(e.case) was not run")
      #expect(c.status == .expectedFailure, "\(e.case) must fail (as listed): \(c.status)")
      let first = c.diagnosis?.first
      let right = first?.kind.rawValue == e.diagnosis.kind && (first?.description.contains(e.diagnosis.detail) ?? false)
      let got = (c.diagnosis ?? []).map { "\($0.kind.rawValue): \($0.description)" }
      #expect(right, "\(e.case): expected \(e.diagnosis.kind) containing '\(e.diagnosis.detail)', got \(got)")
      if let first { #expect(first.maxAbsError.isFinite && first.maxAbsError < 1e-4) }
      #expect(c.diagnosisIncomplete == nil)
      table[e.diagnosis.kind, default: (0, 0)].cases += 1
      if right { table[e.diagnosis.kind, default: (0, 0)].right += 1 }
    }
    // The corpus covers the whole catalogue the issue names.
    let required: [DiagnosisKind] = [.gateOrder, .transposedKernel, .biasSplit, .forgetBias, .resetAfter,
                                     .hardSigmoidVariant, .timeMajor, .reverseAlignment, .stateOrder,
                                     .maskSemantics, .goBackwardsOrientation]
    for k in required { #expect((table[k.rawValue]?.cases ?? 0) > 0, "no mistakes case for \(k.rawValue)") }
    print(table.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.cases) cases, \($0.value.right) diagnosed correctly" }
            .joined(separator: "\n"))
  }

  /// The whole bundled suite with --explain: no passing case is diagnosed, and the five expected
  /// failures (framework bugs, not convention mistakes) get an empty diagnosis.
  @Test func passingCasesAndTheBundledExpectedFailuresGetNoDiagnosis() throws {
    let report = try Self.run([RepoPaths.root + "/fixtures"])
    #expect(report.cases.count >= 498)
    let failing = report.cases.filter { $0.status != .pass }
    #expect(!failing.isEmpty, "the bundled suite has expected failures (framework bugs) to check against")
    for c in failing {
      #expect(c.status == .expectedFailure, "\(c.name): \(c.status)")
      #expect(c.diagnosis == [], "\(c.name): \(c.diagnosis ?? [])")
    }
    for c in report.cases where c.status == .pass { #expect(c.diagnosis == nil, "\(c.name) passed but got a diagnosis") }
  }

  /// A failure that is no convention mistake: one expected value off by 1e-3.
  @Test(arguments: ["pytorch/lstm_bidirectional", "pytorch/gru_packed_unsorted_bidirectional", "onnx/gru_lbr1_bidirectional_seqlens",
                    "tf1/bidir_lstm_seqlen", "tf1/gru", "keras/k3_gru_bidi_concat", "keras/k2_lstm_seq"])
  func aPerturbedValueGetsNoDiagnosis(_ name: String) throws {
    let path = RepoPaths.root + "/fixtures/" + name + ".h5"
    guard FileManager.default.fileExists(atPath: path) else {
      Issue.record("fixture \(name) is missing"); return
    }
    var c = try Case.load(path: path)
    let (outName, t) = try #require(c.outputs.entries.first)
    var perturbed = t
    perturbed.scalars[perturbed.count / 2] += 1e-3
    c.outputs[outName] = perturbed
    let r = Runner().evaluate(c, name: name, diagnosis: .unlimited)
    #expect(r.status == .fail)
    #expect(r.diagnosis == [], "\(name): \(r.diagnosis ?? [])")
  }

  @Test func reportsCarryTheDiagnosis() throws {
    let report = try Self.run([Self.mistakes + "/pytorch/gru_weights_into_keras_unreordered.h5"])
    let c = try #require(report.cases.first)
    let d = try #require(c.diagnosis?.first)
    #expect(d.kind == .gateOrder)
    let text = TextReporter().lines(for: c).joined(separator: "\n")
    #expect(text.contains("  diagnosis: gate-order: the gate blocks of every weight (`weight_ih_l0`"))
    let json = try report.jsonData()
    let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
    let cases = try #require(object["cases"] as? [[String: Any]])
    let diagnosis = try #require(cases.first?["diagnosis"] as? [[String: Any]])
    #expect(diagnosis.first?["kind"] as? String == "gate-order")
    #expect(diagnosis.first?["maxAbsError"] is Double)
    #expect((diagnosis.first?["description"] as? String)?.contains("read as z, r, n instead of pytorch's r, z, n") == true)
    #expect(try RunReport.decode(json) == report)
  }

  @Test func theBudgetBoundsAutomaticDiagnosis() throws {
    let one = Self.mistakes + "/tf1/gru_cell_into_keras_reset_after.h5"
    #expect(try Self.run([one], explain: false, budget: 0).cases.first?.diagnosis == nil)
    let auto = try Self.run([one], explain: false, budget: 60).cases.first
    #expect(auto?.diagnosis?.first?.kind == .resetAfter)
    // A deadline already past: no hypothesis is tried, and the report says the diagnosis stopped.
    let c = try Case.load(path: one)
    let r = Runner().evaluate(c, diagnosis: DiagnosisLimit(deadline: Date.distantPast))
    #expect(r.diagnosis == [])
    #expect(r.diagnosisIncomplete == true)
    #expect(TextReporter().lines(for: r).joined().contains("--explain"))
  }

  @Test func gatePermutationsAreAllOfThem() {
    #expect(Catalogue.permutations(3).count == 5)
    #expect(Catalogue.permutations(4).count == 23)
    #expect(Set(Catalogue.permutations(4)).count == 23)
    #expect(Catalogue.permutations(1).isEmpty)
  }
}
