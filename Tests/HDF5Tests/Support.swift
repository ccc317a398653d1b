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

/// Captures what is written to the process's stderr (fd 2) while `body` runs.
func capturingStderr(_ body: () throws -> Void) rethrows -> String {
  let pipe = Pipe()
  let saved = dup(2)
  fflush(nil)
  dup2(pipe.fileHandleForWriting.fileDescriptor, 2)
  defer {
    fflush(nil)
    dup2(saved, 2)
    close(saved)
  }
  try body()
  fflush(nil)
  dup2(saved, 2)
  try? pipe.fileHandleForWriting.close()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  return String(decoding: data, as: UTF8.self)
}
