import Foundation
import Testing
@testable import HDF5

/// Bad inputs end in an HDF5Error naming the file, never a crash, and libhdf5 prints nothing.
@Suite struct BadInputTests {
  @Test func missingPath() throws {
    let path = "/nonexistent-\(UUID().uuidString).h5"
    let e = expectHDF5Error(.fileNotFound, file: path) { _ = try File(path: path) }
    #expect(e?.description.contains("no such file") == true)
    #expect(FileKind.sniff(path: path) == .missing)
  }

  @Test func directory() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    expectHDF5Error(.isDirectory, file: dir.path) { _ = try File(path: dir.path) }
  }

  @Test(arguments: [
    ("empty.h5", Data(), FileKind.empty),
    ("notes.h5", Data("just some text\nsecond line\n".utf8), FileKind.text),
    ("arch.json", Data("  {\"class_name\": \"Sequential\"}".utf8), FileKind.json),
    ("model.keras", Data([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]), FileKind.zip),
    // An uncompressed .keras zip holds model.weights.h5 as is: an HDF5 signature at a userblock offset.
    ("stored.keras", Data([0x50, 0x4b, 0x03, 0x04] + [UInt8](repeating: 0, count: 508)
                          + [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] + [UInt8](repeating: 0, count: 64)), FileKind.zip),
    ("blob.bin", Data([0x00, 0x01, 0x02, 0xff, 0xfe, 0x00, 0x10, 0x20]), FileKind.unknown(magic: "00 01 02 ff fe 00 10 20")),
  ])
  func notHDF5(_ name: String, _ content: Data, _ kind: FileKind) throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent(name).path
    try content.write(to: URL(fileURLWithPath: path))
    #expect(FileKind.sniff(path: path) == kind)
    let stderr = capturingStderr {
      let e = expectHDF5Error(.notHDF5, file: path) { _ = try File(path: path) }
      #expect(e?.description.contains(kind.description) == true)
    }
    #expect(stderr.isEmpty, "libhdf5 printed: \(stderr)")
  }

  @Test(arguments: [10, 50, 90])
  func truncatedCopies(_ percent: Int) throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let whole = try Data(contentsOf: URL(fileURLWithPath: TestData.path("case_sample.h5")))
    let path = dir.appendingPathComponent("cut\(percent).h5").path
    try whole.prefix(whole.count * percent / 100).write(to: URL(fileURLWithPath: path))
    #expect(FileKind.sniff(path: path) == .hdf5)  // the signature survives the cut
    let stderr = capturingStderr {
      let e = expectHDF5Error(.libraryCall, file: path) {
        // Opening fails; were it to succeed, reading everything must fail instead.
        let f = try File(path: path)
        _ = try TreePrinter().render(f)
        for n in ["inputs/input", "outputs/output", "weights/rnn/lstm_cell/kernel"] { _ = try f.dataset(n).read(as: Double.self) }
      }
      #expect(e?.detail.contains("truncated") == true, "\(String(describing: e))")
      #expect(e?.libraryMessages.isEmpty == false)
    }
    #expect(stderr.isEmpty, "libhdf5 printed: \(stderr)")
  }

  @Test func garbageAfterSignatureIsALibraryError() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("garbage.h5").path
    var bytes: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]
    bytes += (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let stderr = capturingStderr {
      expectHDF5Error(.libraryCall, file: path) { _ = try File(path: path) }
    }
    #expect(stderr.isEmpty, "libhdf5 printed: \(stderr)")
  }

  @Test func failingCallsLeaveNothingOnStderrAndNoStaleStack() throws {
    let path = TestData.path("order.h5")
    let stderr = capturingStderr {
      let f = try? File(path: path)
      _ = try? f?.dataset("nope")
      _ = try? f?.root.attribute("nope")
      _ = try? File.create(path: "/nonexistent-\(UUID().uuidString)/x.h5")
    }
    #expect(stderr.isEmpty, "libhdf5 printed: \(stderr)")
    // The next error carries only its own messages.
    let e = expectHDF5Error(.libraryCall, file: "/nonexistent-dir/y.h5") { _ = try File.create(path: "/nonexistent-dir/y.h5") }
    #expect(e?.libraryMessages.allSatisfy { !$0.contains("nope") } == true)
  }

  /// Debian's libhdf5 is built thread-safe, so its error-printing switch is per
  /// thread: failing calls on fresh threads must stay silent too.
  @Test func failingCallsOnManyThreadsPrintNothing() throws {
    let whole = try Data(contentsOf: URL(fileURLWithPath: TestData.path("case_sample.h5")))
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let cut = dir.appendingPathComponent("cut.h5").path
    try whole.prefix(whole.count / 3).write(to: URL(fileURLWithPath: cut))
    let errors = Counter()
    let stderr = capturingStderr {
      for _ in 0..<4 {
        let threads = (0..<8).map { _ in
          Thread {
            if (try? File(path: cut)) == nil { errors.add() }
            if (try? File.create(path: dir.path + "/no/such/dir.h5")) == nil { errors.add() }
          }
        }
        threads.forEach { $0.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(1000) }
      }
    }
    #expect(errors.value == 64)
    #expect(stderr.isEmpty, "libhdf5 printed: \(stderr.prefix(400))")
  }
}
