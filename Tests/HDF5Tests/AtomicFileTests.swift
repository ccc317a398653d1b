import Foundation
import Testing
@testable import HDF5

/// `AtomicFile`: the previous file survives any failure, no temporary file is left behind by a
/// failure, and errors name the destination.
@Suite struct AtomicFileTests {
  static func listing(_ dir: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
  }

  @Test func writesAndReplacesLeavingNoTemporaryFile() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = dir.appendingPathComponent("out.json").path
    try AtomicFile.write(Data("first".utf8), to: p)
    try AtomicFile.write(Data("second, longer".utf8), to: p)
    #expect(FileManager.default.contents(atPath: p) == Data("second, longer".utf8))
    #expect(try Self.listing(dir) == ["out.json"])
    var st = stat()
    #expect(stat(p, &st) == 0 && st.st_mode & 0o044 == 0o044, "readable by others as a plain write would be (umask 022)")
  }

  @Test func aFailingWriteKeepsThePreviousFile() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = dir.appendingPathComponent("out.npy").path
    try AtomicFile.write(Data("previous good file".utf8), to: p)
    struct DiskFull: Error {}
    #expect(throws: DiskFull.self) {
      try AtomicFile.write(to: p) { tmp in
        #expect(tmp != p && (tmp as NSString).deletingLastPathComponent == dir.path)
        try Data("half of the new fi".utf8).write(to: URL(fileURLWithPath: tmp))
        throw DiskFull()
      }
    }
    #expect(FileManager.default.contents(atPath: p) == Data("previous good file".utf8))
    #expect(try Self.listing(dir) == ["out.npy"])
  }

  @Test func hdf5OutputIsAtomicAndErrorsNameTheDestination() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = dir.appendingPathComponent("out.h5").path
    try File.createAtomically(path: p) { f in _ = try f.root.createDataset("x", shape: [2], values: [1.0, 2.0]) }
    let before = try Data(contentsOf: URL(fileURLWithPath: p))
    let e = expectHDF5Error(.notFound, file: p) {
      try File.createAtomically(path: p) { f in
        _ = try f.root.createDataset("y", shape: [3], values: [1.0, 2.0, 3.0])
        _ = try f.root.group("missing")
      }
    }
    #expect(e?.file == p, "\(String(describing: e))")
    #expect(try Data(contentsOf: URL(fileURLWithPath: p)) == before)
    #expect(try Self.listing(dir) == ["out.h5"])
    let x: [Double] = try File(path: p).dataset("x").read()
    #expect(x == [1, 2])
  }

  @Test func unwritableDestinationsAreFoundUpFront() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: Never.self) { try AtomicFile.checkWritable(dir.appendingPathComponent("r.json").path) }
    #expect(try Self.listing(dir) == [], "the probe file is removed")
    for (path, words) in [
      (dir.path, "is a directory"),
      (dir.path + "/missing/r.json", "the folder does not exist"),
      ("/proc/rnnconf-report.json", "cannot create a file in the folder `/proc`"),
    ] {
      do {
        try AtomicFile.checkWritable(path)
        Issue.record("\(path) passed the check")
      } catch let e as FileIOError {
        #expect(e.path == path && e.description.contains(words), "\(e)")
      }
    }
  }
}
