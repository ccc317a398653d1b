import Foundation
import Testing
@testable import Conformance

/// A FuzzCaseLoader finding (2026-11-30, after the Keras 3 cases joined its seeds): a case whose
/// `.keras` artifact's end-of-central-directory record was changed so that the central directory
/// lies past the end of the artifact's bytes. ZIPFoundation's in-memory archive (`Archive(data:)`)
/// then copied a negative count in `MemoryFile.readData` and trapped: the whole process died inside
/// `Case.load`. The artifact is now read through ZIPFoundation's file-backed archive (an unlinked
/// temporary file), which reads short and throws, and the case is an ERROR naming the file and the
/// artifact.
@Suite struct FuzzArtifactZipTests {
  static let file = RepoPaths.root + "/Tests/ConformanceTests/Data/fuzz-zip-offset-past-end.h5"

  @Test func aZipArtifactWhoseOffsetsPointPastItsEndIsANamedError() {
    FuzzLinkInfoTests.expectLoadError(Self.file, contains: "artifact `/artifacts/model.keras` is broken: corrupt zip central directory")
  }

  @Test func theArtifactCheckReadsAnIntactArchiveAndLeavesNoTemporaryFile() throws {
    // The fixture this finding came from, unchanged: its `.keras` artifact still passes the check,
    // and the temporary file it was read through is gone when `rnnconf run` ends. The run gets a
    // temporary folder of its own (TMPDIR), as other tests' temporary files come and go meanwhile.
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("artifact-tmp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(at: tmp) }
    let fixture = RepoPaths.root + "/fixtures/keras/k3_rnn_nobias.h5"
    let o = try MalformedCorpusTests.run(["run", fixture], timeout: 120, environment: ["TMPDIR": tmp.path])
    #expect(o.status == 0 && !o.signalled, "exit \(o.status): \(o.output)")
    #expect(o.output.contains("1 passed"), "\(o.output)")
    let left = try FileManager.default.contentsOfDirectory(atPath: tmp.path)
    #expect(left.isEmpty, "temporary files left behind: \(left)")
  }
}
