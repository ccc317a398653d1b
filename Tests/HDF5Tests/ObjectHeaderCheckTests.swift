import CHDF5
import Foundation
import Testing
@testable import HDF5

/// `ObjectHeaderCheck`: a group's link-info message is read from the file's bytes and checked
/// before libhdf5 looks anything up in the group (libhdf5 1.10 opens the B-tree at whatever
/// address the message holds and can segfault there; issue 11). The fixture is a case file
/// written by h5py (version 1 object headers, no checksums, groups tracking creation order, so
/// each has a link-info message), changed one field at a time.
@Suite struct ObjectHeaderCheckTests {
  static let fixture = TestData.repoRoot.appendingPathComponent("fixtures/tf1/basic_lstm_fb1.h5").path

  /// Where the data of `group`'s link-info message starts in the file, found by the header
  /// reader and cross-checked by hand: version 0, flags 3 (creation order tracked and indexed),
  /// and an undefined fractal heap address (compact storage) where the spec puts it.
  static func linkInfo(_ bytes: [UInt8], group: String) throws -> Int {
    let file = try File(image: bytes, name: "fixture.h5")
    let g = group == "/" ? try file.root : try file.group(group)
    let address = try #require(g.address)
    let messages = try Library.sync { () throws -> [ObjectHeaderCheck.Message] in
      let loc = Location(file: file.path, path: group)
      let b = try #require(try file.rawBytes(loc, "test"))
      return try ObjectHeaderCheck(bytes: b, loc: loc, op: "test", noun: "group").messages(at: address).messages
    }
    let m = try #require(messages.first { $0.type == 0x0002 })
    let o = Int(m.address)
    #expect(bytes[o] == 0 && bytes[o + 1] == 3, "version and flags: \(bytes[o]) \(bytes[o + 1])")
    #expect(bytes[(o + 10)..<(o + 18)].allSatisfy { $0 == 0xff }, "compact storage: the heap address is undefined")
    return o
  }

  static func write(_ bytes: [UInt8]) throws -> (dir: URL, path: String) {
    let dir = try TestData.tempDir()
    let path = dir.appendingPathComponent("corrupt.h5").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return (dir, path)
  }

  static func put(_ value: UInt64, _ b: inout [UInt8], at o: Int) {
    for k in 0..<8 { b[o + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
  }

  @Test func theFixtureAsWrittenPasses() throws {
    let file = try File(path: Self.fixture)
    #expect(try file.root.datasetPaths().contains("weights/rnn/basic_lstm_cell/kernel"))
    #expect(try file.exists("outputs/state/c"))
  }

  // Layout with flags 3: version, flags, largest creation index (8), heap, name index, creation-order index.
  @Test(arguments: [
    ("a heap address past the end of the file", "fractal heap address 0xffffffffff060000 is past the end of the file (10784 bytes)"),
    ("a heap address inside the file where no heap is", "fractal heap address 0x0 does not hold a fractal heap (no `FRHP` signature)"),
    ("a name index past the end of the file", "name-index B-tree address 0x7fff0000 is past the end of the file (10784 bytes)"),
    ("a creation-order index where no B-tree is", "creation-order B-tree address 0x60 does not hold a v2 B-tree (no `BTHD` signature)"),
    ("version 1", "version 1, not 0"),
    ("an unknown flag", "unknown flags 0x13"),
  ])
  func aBrokenRootLinkInfoIsANamedErrorBeforeLibHDF5ReadsIt(what: String, expected: String) throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
    #expect(b.count == 10784)
    let o = try Self.linkInfo(b, group: "/")
    switch what {
    case "a heap address past the end of the file": Self.put(0xffff_ffff_ff06_0000, &b, at: o + 10)
    case "a heap address inside the file where no heap is": Self.put(0, &b, at: o + 10)
    case "a name index past the end of the file": Self.put(0x7fff_0000, &b, at: o + 18)
    case "a creation-order index where no B-tree is": Self.put(0x60, &b, at: o + 26)
    case "version 1": b[o] = 1
    case "an unknown flag": b[o + 1] = 0x13
    default: Issue.record("unknown corruption \(what)")
    }
    let (dir, path) = try Self.write(b)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try File(path: path)
    let e = expectHDF5Error(.libraryCall, file: path) { _ = try file.root }
    #expect(e?.objectPath == "/", "\(what): \(String(describing: e))")
    #expect(e?.detail == "corrupt link-info message in group /: " + expected, "\(what): \(String(describing: e))")
    #expect(e?.libraryMessages.isEmpty == true, "thrown before libhdf5 was asked: \(String(describing: e))")
    // Checked once per open file: the second attempt gives the same error from the cache.
    let again = expectHDF5Error(file: path) { _ = try file.root }
    #expect(again == e)
  }

  /// A nested group is checked before anything is looked up in it, whichever call gets there:
  /// a path through it, a walk, opening it. Its parent and siblings still read.
  @Test func aBrokenNestedGroupIsNamedOnEveryWayIn() throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture)))
    let o = try Self.linkInfo(b, group: "/weights")
    Self.put(0xffff_ffff_ffff_ff01, &b, at: o + 18)
    let (dir, path) = try Self.write(b)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try File(path: path)
    let expected = "corrupt link-info message in group /weights: name-index B-tree address 0xffffffffffffff01 is past the end of the file (10784 bytes)"
    for (how, body) in [
      ("a path through it", { _ = try file.dataset("weights/rnn/basic_lstm_cell/kernel") }),
      ("exists", { _ = try file.exists("weights/rnn") }),
      ("opening it", { _ = try file.group("weights") }),
      ("a walk", { _ = try file.root.datasetPaths() }),
    ] as [(String, () throws -> Void)] {
      let e = expectHDF5Error(file: path, body)
      #expect(e?.detail == expected, "\(how): \(String(describing: e))")
    }
    #expect(try file.root.attributeNames().contains("framework"))
    #expect(try !file.dataset("inputs/inputs").shape.isEmpty)
  }

  /// Version 2 object headers (what this layer writes: creation order tracked) with dense link
  /// and attribute storage: the checker finds the link-info and attribute-info messages, follows
  /// their real fractal heaps and B-trees, and lets the file read as before.
  @Test func denseStorageInVersion2HeadersPasses() throws {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("dense.h5").path
    let names = (0..<20).map { String(format: "item%02d", 19 - $0) }
    do {
      let out = try File.create(path: path)
      let g = try out.root.createGroup("g")
      for (k, n) in names.enumerated() {
        try g.createDataset(n, shape: [1], values: [Double(k)])
        try g.setAttribute(n, Double(k))
      }
    }
    let file = try File(path: path)
    let g = try file.group("g")
    #expect(try g.childNames() == names)
    #expect(try g.attributeNames() == names)
    #expect(try g.dataset("item07").read() as [Double] == [12])
    let address = try #require(g.address)
    let (version, messages) = try Library.sync {
      let loc = Location(file: path, path: "/g")
      let b = try #require(try file.rawBytes(loc, "test"))
      return try ObjectHeaderCheck(bytes: b, loc: loc, op: "test", noun: "group").messages(at: address)
    }
    #expect(version == 2)
    for type in [0x0002, 0x0015] {
      let m = try #require(messages.first { $0.type == type }, "message 0x\(String(type, radix: 16))")
      let heap = m.data.dropFirst(type == 0x0002 ? 10 : 4).prefix(8)
      #expect(!heap.allSatisfy { $0 == 0xff }, "dense storage: a fractal heap address")
    }
  }
}
