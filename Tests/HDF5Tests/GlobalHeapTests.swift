import Foundation
import Testing
@testable import HDF5

/// Variable-length strings are read through their raw descriptors and the file's bytes
/// (`GlobalHeap`), never through libhdf5's global-heap code, which trusts them (issue 11: the
/// fuzzer's out-of-memory inputs, and faults and endless loops in `H5HG_read`). Each corruption
/// below is an error naming the file, the attribute and what is broken; nothing is sized from
/// the stored length.
@Suite struct GlobalHeapTests {
  /// A file written by h5py (`Data/huge.h5`: object headers without checksums, as h5py writes
  /// them by default, so a changed byte is seen by the heap reader, not by a checksum) with the
  /// variable-length string attribute `note`; its bytes, the offset of its global heap
  /// collection and of the attribute's descriptor.
  static let text = "declared 8 TiB, nothing allocated"
  static func sample(_ dir: URL) throws -> (path: String, bytes: [UInt8], heap: Int, descriptor: Int) {
    let path = dir.appendingPathComponent("vlen.h5").path
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestData.path("huge.h5"))))
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let gcol = Array("GCOL".utf8)
    let heap = try #require((0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == gcol })
    // The descriptor: the string's length, the collection's address (8 bytes), object index 1.
    var pattern: [UInt8] = [UInt8(text.utf8.count), 0, 0, 0]
    pattern += (0..<8).map { UInt8(truncatingIfNeeded: heap >> (8 * $0)) }
    pattern += [1, 0, 0, 0]
    let descriptor = try #require((0...(bytes.count - 16)).first { Array(bytes[$0..<($0 + 16)]) == pattern })
    return (path, bytes, heap, descriptor)
  }

  static func corrupted(_ s: (path: String, bytes: [UInt8], heap: Int, descriptor: Int), _ change: (inout [UInt8]) -> Void) throws {
    var b = s.bytes
    change(&b)
    try Data(b).write(to: URL(fileURLWithPath: s.path))
  }

  @Test func readsTheStringAsLibHDF5Does() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try Self.sample(dir)
    #expect(try File(path: s.path).root.stringAttribute("note") == Self.text)
    // From memory (the core driver) too.
    #expect(try File(image: s.bytes, name: "mem.h5").root.stringAttribute("note") == Self.text)
  }

  @Test(arguments: [
    ("a length of 4 GiB", "declares 4294967280 bytes but its global heap object holds 33"),
    ("an object index the collection does not hold", "refers to object 7"),
    ("a collection address past the end of the file", "outside the file"),
    ("a collection without its signature", "no `GCOL` version 1 signature"),
    ("an object larger than its collection", "more than the collection's"),
    ("an object of 0 bytes", "never step past"),
    ("a collection larger than the file", "more than the file holds"),
  ])
  func aBrokenHeapReferenceIsANamedError(what: String, expected: String) throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let s = try Self.sample(dir)
    let object = s.heap + 16  // after "GCOL", version, reserved, collection size
    try Self.corrupted(s) { b in
      switch what {
      case "a length of 4 GiB": b.replaceSubrange(s.descriptor..<(s.descriptor + 4), with: [0xF0, 0xFF, 0xFF, 0xFF])
      case "an object index the collection does not hold": b[s.descriptor + 12] = 7
      case "a collection address past the end of the file": b[s.descriptor + 4 + 3] = 0x7F
      case "a collection without its signature": b[s.heap] = UInt8(ascii: "X")
      case "an object larger than its collection": b[object + 8 + 5] = 0x10
      case "an object of 0 bytes": for k in 0..<16 { b[object + k] = 0 }  // index 0 (free space), size 0
      case "a collection larger than the file": b[s.heap + 8 + 4] = 0x10
      default: Issue.record("unknown corruption \(what)")
      }
    }
    let e = expectHDF5Error(file: s.path) { _ = try File(path: s.path).root.stringAttribute("note") }
    #expect(e?.objectPath == "/@note", "\(what): \(String(describing: e))")
    #expect(e?.description.contains(expected) == true, "\(what): \(String(describing: e))")
  }
}
