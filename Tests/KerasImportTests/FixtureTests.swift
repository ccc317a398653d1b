import Foundation
import Testing
import Conformance
import HDF5
@testable import KerasImport
import RNNRef

/// Every Keras fixture that carries real files Keras saved (fixtures/keras/*.h5,
/// `/artifacts/model.h5`, `model.keras`, `model.weights.h5`): loaded by KerasModel,
/// run on the case's inputs (call by call for stateful cases), compared with the
/// outputs Keras itself produced, at the case's tolerance (1e-5 / 1e-5).
@Suite struct FixtureTests {
  struct Outcome { var name: String; var failure: String? }

  static func cases() throws -> [String] {
    let dir = Paths.root + "/fixtures/keras"
    return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".h5") }.sorted()
      .map { dir + "/" + $0 }
  }

  /// Runs one artifact of one case.
  static func run(_ c: Case, artifact: String) throws -> String? {
    var temps: [URL] = []
    defer { for t in temps { try? FileManager.default.removeItem(at: t) } }
    let bytes = try Case.artifact(path: c.path, name: artifact)
    let file = tempURL(artifact)
    try Data(bytes).write(to: file)
    temps.append(file)
    let model: KerasModel
    if artifact == "model.weights.h5" {
      // The architecture from the case's config (model.to_json()), the weights from the file.
      guard let json = c.config["model"] else { return "the case config has no model JSON" }
      let cfg = tempURL("config.json")
      try Data(json.jsonText.utf8).write(to: cfg)
      temps.append(cfg)
      model = try KerasModel(contentsOf: cfg, weights: file)
    } else {
      model = try KerasModel(contentsOf: file)
    }
    let calls = c.config["calls"]?.int ?? 1
    var problems: [String] = []
    for call in 0..<calls {
      let suffix = calls > 1 ? "_call\(call)" : ""
      let inputs = c.inputs.entries.filter { calls == 1 || $0.name.hasSuffix(suffix) }
      let expected = c.outputs.entries.filter { calls == 1 || $0.name.hasSuffix(suffix) }
      // Inputs are stored in the model's input order; the sequence input first.
      let outs = try model.predict(inputs.map(\.tensor))
      guard outs.count == expected.count else {
        return "call \(call): \(outs.count) outputs, the case expects \(expected.count) (\(expected.map(\.name)))"
      }
      for (o, e) in zip(outs, expected) {
        if let m = mismatch(o, e.tensor, atol: c.atol, rtol: c.rtol) { problems.append("\(e.name): \(m)") }
      }
    }
    return problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  @Test func everyKerasFixtureArtifactGivesKerasOutputs() throws {
    var outcomes: [Outcome] = []
    let start = Date()
    for path in try Self.cases() {
      let c = try Case.load(path: path)
      #expect(c.atol <= 1e-5 && c.rtol <= 1e-5, "\(c.name): tolerance \(c.atol)/\(c.rtol) is wider than 1e-5")
      for a in c.artifactNames {
        let name = "\(c.name) [\(a)]"
        do { outcomes.append(Outcome(name: name, failure: try Self.run(c, artifact: a))) } catch {
          outcomes.append(Outcome(name: name, failure: "error: \(error)"))
        }
      }
    }
    let failed = outcomes.filter { $0.failure != nil }
    let seconds = Date().timeIntervalSince(start)
    print("KerasImport fixtures: \(outcomes.count - failed.count)/\(outcomes.count) artifacts pass in \(String(format: "%.1f", seconds)) s")
    for f in failed { print("FAIL \(f.name): \(f.failure!)") }
    #expect(outcomes.count >= 188, "expected every Keras case to carry at least one artifact, found \(outcomes.count)")
    #expect(failed.isEmpty, "\(failed.count) of \(outcomes.count) artifacts fail: \(failed.prefix(10).map { "\($0.name): \($0.failure!)" })")
  }
}
