import Foundation
import Testing
import Conformance
import HDF5
@testable import KerasImport
import RNNRef

/// Every Keras fixture that carries real files Keras saved (fixtures/keras/*.h5,
/// `/artifacts/model.h5`, `model.keras`, `model.weights.h5`): loaded by KerasModel,
/// run on the case's inputs (call by call for stateful cases), compared with the
/// outputs Keras itself produced, at the case's tolerance (1e-5 / 1e-5 for float32 cases,
/// 1e-10 for float64 ones): at the default precision (as Keras computes the model), forced
/// to float32 and forced to float64.
@Suite struct FixtureTests {
  struct Outcome {
    var name: String
    var failure: String?
    /// The case's dtype (what Keras computed it in) and what the model read from the file.
    var dtype: DType
    var kerasPrecision: KerasPrecision?
  }

  static func cases() throws -> [String] {
    let dir = Paths.root + "/fixtures/keras"
    return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".h5") }.sorted()
      .map { dir + "/" + $0 }
  }

  /// Runs one artifact of one case.
  static func run(_ c: Case, artifact: String, precision: KerasPrecision?) throws
    -> (failure: String?, kerasPrecision: KerasPrecision) {
    var temps: [URL] = []
    defer { for t in temps { try? FileManager.default.removeItem(at: t) } }
    let bytes = try Case.artifact(path: c.path, name: artifact)
    let file = tempURL(artifact)
    try Data(bytes).write(to: file)
    temps.append(file)
    let model: KerasModel
    if artifact == "model.weights.h5" {
      // The architecture from the case's config (model.to_json()), the weights from the file.
      guard let json = c.config["model"] else { throw KerasImportError(.invalidConfig, "the case config has no model JSON") }
      let cfg = tempURL("config.json")
      try Data(json.jsonText.utf8).write(to: cfg)
      temps.append(cfg)
      model = try KerasModel(contentsOf: cfg, weights: file, precision: precision)
    } else {
      model = try KerasModel(contentsOf: file, precision: precision)
    }
    let calls = c.config["calls"]?.int ?? 1
    var problems: [String] = []
    for call in 0..<calls {
      let suffix = calls > 1 ? "_call\(call)" : ""
      let inputs = c.inputs.entries.filter { calls == 1 || $0.name.hasSuffix(suffix) }
      let expected = c.outputs.entries.filter { calls == 1 || $0.name.hasSuffix(suffix) }
      // Inputs are stored in the model's input order; the sequence input first.
      let outs = try model.predict(inputs.map(\.tensor))
      // A case with `compared_output_names` may store no output of this call (it compares another).
      if c.comparedOutputs != nil && expected.isEmpty { continue }
      guard outs.count == expected.count else {
        return ("call \(call): \(outs.count) outputs, the case expects \(expected.count) (\(expected.map(\.name)))",
                model.kerasPrecision)
      }
      for (o, e) in zip(outs, expected) {
        if let m = mismatch(o, e.tensor, atol: c.atol, rtol: c.rtol) { problems.append("\(e.name): \(m)") }
      }
    }
    return (problems.isEmpty ? nil : problems.joined(separator: "; "), model.kerasPrecision)
  }

  /// `precision` nil: as Keras computes the model (the default).
  @Test(arguments: [nil] + KerasPrecision.allCases)
  func everyKerasFixtureArtifactGivesKerasOutputs(precision: KerasPrecision?) throws {
    var outcomes: [Outcome] = []
    let start = Date()
    for path in try Self.cases() {
      let c = try Case.load(path: path)
      #expect(c.atol <= 1e-5 && c.rtol <= 1e-5, "\(c.name): tolerance \(c.atol)/\(c.rtol) is wider than 1e-5")
      for a in c.artifactNames {
        let name = "\(c.name) [\(a)]"
        do {
          let r = try Self.run(c, artifact: a, precision: precision)
          outcomes.append(Outcome(name: name, failure: r.failure, dtype: c.dtype, kerasPrecision: r.kerasPrecision))
        } catch {
          outcomes.append(Outcome(name: name, failure: "error: \(error)", dtype: c.dtype, kerasPrecision: nil))
        }
      }
    }
    // The model reads from the file what Keras computed the case in.
    let misread = outcomes.filter { $0.kerasPrecision != nil && $0.kerasPrecision!.rawValue != $0.dtype.rawValue }
    #expect(misread.isEmpty, "kerasPrecision differs from the case dtype: \(misread.map { "\($0.name): \($0.kerasPrecision!) for \($0.dtype)" })")
    // A float64 model forced to float32 cannot meet its float64 tolerance (1e-10): its figures are
    // printed, it is not counted as a pass, and it must miss (else float32 did not compute in Float).
    let narrowed = precision == .float32 ? outcomes.filter { $0.dtype == .float64 } : []
    let compared = outcomes.filter { o in !narrowed.contains { $0.name == o.name } }
    let failed = compared.filter { $0.failure != nil }
    let seconds = Date().timeIntervalSince(start)
    print("KerasImport fixtures (\(precision.map(\.rawValue) ?? "as Keras")): \(compared.count - failed.count)/\(compared.count) artifacts pass in \(String(format: "%.1f", seconds)) s" + (narrowed.isEmpty ? "" : "; \(narrowed.count) float64 artifacts computed in float32, not compared"))
    for n in narrowed { print("FLOAT64 MODEL IN FLOAT32 \(n.name): \(n.failure ?? "within the float64 tolerance")") }
    for f in failed { print("FAIL \(f.name): \(f.failure!)") }
    #expect(narrowed.allSatisfy { $0.failure != nil && !$0.failure!.hasPrefix("error:") },
            "a float64 model run in float32 met its float64 tolerance or failed to run: \(narrowed.filter { $0.failure == nil || $0.failure!.hasPrefix("error:") }.map(\.name))")
    #expect(outcomes.count >= 188, "expected every Keras case to carry at least one artifact, found \(outcomes.count)")
    #expect(failed.isEmpty, "\(failed.count) of \(outcomes.count) artifacts fail: \(failed.prefix(10).map { "\($0.name): \($0.failure!)" })")
  }
}
