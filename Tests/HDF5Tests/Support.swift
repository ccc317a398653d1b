import Foundation
import Testing
@testable import HDF5

/// Test data written by h5py (`Data/make_files.py`), located from this file.
enum TestData {
  static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Data")
  static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
  /// The repository root (`../shared/realworld` is relative to it).
  static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// A fresh temporary directory, removed by the caller.
  static func tempDir() throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("hdf5tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
  }
}

/// Runs `body` and returns the HDF5Error it throws; records an issue if it does not throw one.
@discardableResult
func expectHDF5Error(_ kind: HDF5Error.Kind? = nil, file: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> HDF5Error? {
  do {
    try body()
    Issue.record("expected an HDF5Error for \(file), nothing was thrown", sourceLocation: sourceLocation)
    return nil
  } catch let e as HDF5Error {
    if let kind { #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation) }
    #expect(e.file == file, "error must name the file: \(e)", sourceLocation: sourceLocation)
    #expect(e.description.contains(file), sourceLocation: sourceLocation)
    return e
  } catch {
    Issue.record("expected an HDF5Error, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    return nil
  }
}

/// What libhdf5 wrote to the process's stderr (fd 2) while `body` ran.
/// Captures are serialized (fd 2 is process-wide; two at once would swap each
/// other's descriptors), and the pipe is drained on another thread so a chatty
/// writer can never block on a full pipe.
func capturingStderr(_ body: () throws -> Void) rethrows -> String {
  StderrCapture.lock.lock()
  defer { StderrCapture.lock.unlock() }
  let pipe = Pipe()
  let collected = StderrCapture.Box()
  let reader = Thread {
    collected.data = pipe.fileHandleForReading.readDataToEndOfFile()
    collected.done.signal()
  }
  reader.start()
  fflush(nil)
  let saved = dup(2)
  dup2(pipe.fileHandleForWriting.fileDescriptor, 2)
  func restore() {
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    try? pipe.fileHandleForWriting.close()
    collected.done.wait()
  }
  do { try body() } catch { restore(); throw error }
  restore()
  // Swift Testing itself reports progress on stderr, concurrently: keep only
  // what libhdf5's error printer writes ("HDF5-DIAG: ...", "  #000: ...",
  // "    major: ...", "    minor: ...").
  let text = String(decoding: collected.data, as: UTF8.self)
  return text.split(separator: "\n").filter { line in
    let t = line.trimmingCharacters(in: .whitespaces)
    return t.hasPrefix("HDF5-DIAG") || t.hasPrefix("major:") || t.hasPrefix("minor:")
      || (t.hasPrefix("#") && t.contains(" in H5"))
  }.joined(separator: "\n")
}

enum StderrCapture {
  static let lock = NSLock()
  final class Box: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
  }
}
