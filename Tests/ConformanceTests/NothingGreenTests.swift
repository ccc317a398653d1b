import Foundation
import HDF5
import RNNRef
import Testing
@testable import Conformance

/// Issue 11, "nothing green by accident": a case that would pass for the wrong reason is an error
/// naming the file and the attribute/object (fixtures/README.md states each rule).
@Suite struct NothingGreenTests {
  let files = CaseFileTests()

  func expectError(_ kind: CaseFileError.Kind, _ name: String, mentioning text: String,
                   sourceLocation: SourceLocation = #_sourceLocation, _ edit: (File) throws -> Void) throws {
    try files.expectCaseError(kind, name, mentioning: text, sourceLocation: sourceLocation, edit)
  }

  /// Bytes of a real artifact carried by a bundled Keras 2 case.
  static func realArtifact(_ file: String, _ name: String) throws -> [UInt8] {
    try Case.artifact(path: RepoPaths.root + "/fixtures/keras/" + file, name: name)
  }

  @Test func aLooserToleranceNeedsAReason() throws {
    // The sample is looser on purpose (atol 1e-4) and says why: without the reason it is an error naming `atol`.
    try expectError(.unjustifiedTolerance("atol"), "noreason.h5", mentioning: "`atol` is 0.0001") {
      try $0.root.deleteAttribute("tolerance_reason")
    }
    try expectError(.unjustifiedTolerance("atol"), "blankreason.h5", mentioning: "tolerance_reason") {
      try $0.root.setAttribute("tolerance_reason", "  ")
    }
    try expectError(.unjustifiedTolerance("rtol"), "huge.h5", mentioning: "`rtol` is 1e+300") {
      try $0.root.deleteAttribute("tolerance_reason")
      try $0.root.setAttribute("atol", 1e-5)
      try $0.root.setAttribute("rtol", 1e300)
    }
    // The float32 defaults (or tighter) need no reason.
    let (path, dir) = try files.broken("default.h5") {
      try $0.root.deleteAttribute("tolerance_reason")
      try $0.root.setAttribute("atol", 1e-5)
      try $0.root.setAttribute("rtol", 1e-6)
    }
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try Case.load(path: path).toleranceReason == nil)
    // float64's default is 1e-10: 1e-5 in a float64 case is looser.
    try expectError(.unjustifiedTolerance("atol"), "f64.h5", mentioning: "float64 default 1e-10") {
      try $0.root.deleteAttribute("tolerance_reason")
      try $0.root.setAttribute("dtype", "float64")
      try $0.root.setAttribute("atol", 1e-5)
    }
  }

  @Test func anEmptyNameIsAnError() throws {
    try expectError(.invalidAttribute("name"), "noname.h5", mentioning: "`name` is empty") {
      try $0.root.setAttribute("name", "")
    }
    let (path, dir) = try files.broken("noname.h5") { try $0.root.setAttribute("name", "") }
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: CaseFileError.self) { _ = try Case.peek(path: path) }
  }

  @Test func aFloatInputInAnotherDTypeIsAnError() throws {
    let shape = try Case.load(path: CaseFileTests.sample).inputs["input"]!.shape
    try expectError(.inputDType("/inputs/input"), "f64input.h5", mentioning: "stored as float64 but the case's `dtype` is float32") {
      try $0.root.deleteLink("inputs/input")
      try $0.root.createDataset("inputs/input", shape: shape, values: [Double](repeating: 0.5, count: shape.reduce(1, *)))
    }
  }

  @Test func brokenArtifactsAreErrors() throws {
    let model = try Self.realArtifact("k2_lstm_seq.h5", "model.h5")
    try expectError(.brokenArtifact("gone.h5"), "missing.h5", mentioning: "no dataset `/artifacts/gone.h5`") {
      try $0.root.setAttribute("artifact_names", fixedLengthStrings: ["note.txt", "gone.h5"])
    }
    try expectError(.brokenArtifact("model.h5"), "cut.h5", mentioning: "not a readable HDF5 file") {
      try $0.root.createDataset("artifacts/model.h5", bytes: Array(model.prefix(model.count / 2)))
      try $0.root.setAttribute("artifact_names", fixedLengthStrings: ["note.txt", "model.h5"])
    }
    try expectError(.brokenArtifact("model.keras"), "garbage.h5", mentioning: "not a zip archive") {
      try $0.root.createDataset("artifacts/model.keras", bytes: (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
      try $0.root.setAttribute("artifact_names", fixedLengthStrings: ["note.txt", "model.keras"])
    }
    try expectError(.brokenArtifact("empty.json"), "empty.h5", mentioning: "empty") {
      try $0.root.createDataset("artifacts/empty.json", bytes: [])
      try $0.root.setAttribute("artifact_names", fixedLengthStrings: ["note.txt", "empty.json"])
    }
    try expectError(.unlistedTensor("/artifacts/extra.bin"), "unlisted.h5", mentioning: "not listed in `artifact_names`") {
      try $0.root.createDataset("artifacts/extra.bin", bytes: [1, 2, 3])
    }
    // The intact real file loads.
    let (path, dir) = try files.broken("intact.h5") {
      try $0.root.createDataset("artifacts/model.h5", bytes: model)
      try $0.root.setAttribute("artifact_names", fixedLengthStrings: ["note.txt", "model.h5"])
    }
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try Case.load(path: path).artifactNames == ["note.txt", "model.h5"])
  }

  @Test func aDamagedKerasArchiveIsAnError() throws {
    let keras = try Self.realArtifact(Self.kerasThreeCase(), "model.keras")
    #expect(ArtifactCheck.problem(in: keras, name: "model.keras", label: "x") == nil)
    // Cut short: the end record is gone.
    #expect(ArtifactCheck.problem(in: Array(keras.prefix(keras.count - 30)), name: "model.keras", label: "x") != nil)
    // One flipped bit in every 64-byte block of the stored data (not the directory): CRC or inflate must catch it.
    var flips = 0
    for offset in stride(from: 100, to: keras.count / 2, by: 997) {
      var bad = keras
      bad[offset] ^= 0x10
      if ArtifactCheck.problem(in: bad, name: "model.keras", label: "x") != nil { flips += 1 }
    }
    let tried = stride(from: 100, to: keras.count / 2, by: 997).underestimatedCount
    #expect(flips * 10 >= tried * 9, "\(flips) of \(tried) bit flips caught")
  }

  /// A bundled Keras 3 case (its artifacts include `model.keras`).
  static func kerasThreeCase() throws -> String {
    let names = try FileManager.default.contentsOfDirectory(atPath: RepoPaths.root + "/fixtures/keras").sorted()
    return try #require(names.first { $0.hasPrefix("k3_") && $0.hasSuffix(".h5") })
  }
}
