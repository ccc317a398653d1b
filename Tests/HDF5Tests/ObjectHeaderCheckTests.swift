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

/// Attribute messages (and the datatypes and dataspaces inside them) are read from the file's
/// bytes before libhdf5 decodes them: libhdf5 1.10 `memcpy`s an enum's values and an
/// attribute's data from wherever the (corrupt) message says they are, and `strdup`s names up
/// to their NUL wherever that is (issue 11, the FuzzCaseLoader run on the object-header guard).
/// The fixture's root attributes are h5py's version 1 attribute messages (name, datatype and
/// dataspace each padded to 8 bytes).
@Suite struct AttributeMessageCheckTests {
  /// Where the data of the root's attribute message `name` starts in the file, cross-checked by
  /// hand: version 1, the name length, and the name itself at byte 8.
  static func attribute(_ bytes: [UInt8], _ name: String) throws -> Int {
    let file = try File(image: bytes, name: "fixture.h5")
    let address = try #require(try file.root.address)
    let messages = try Library.sync { () throws -> [ObjectHeaderCheck.Message] in
      let loc = Location(file: file.path, path: "/")
      let b = try #require(try file.rawBytes(loc, "test"))
      return try ObjectHeaderCheck(bytes: b, loc: loc, op: "test", noun: "group").messages(at: address).messages
    }
    let m = try #require(messages.first { $0.type == 0x000C && $0.data.dropFirst(8).starts(with: Array(name.utf8) + [0]) })
    let o = Int(m.address)
    #expect(bytes[o] == 1 && Int(bytes[o + 2]) == name.utf8.count + 1, "version 1 and the name length")
    return o
  }

  static func le16(_ v: Int, _ b: inout [UInt8], at o: Int) {
    b[o] = UInt8(v & 0xff)
    b[o + 1] = UInt8(v >> 8)
  }

  // `framework`: 72 bytes: header 8, name 10 (+6), datatype 20 (+4, a variable-length string),
  // dataspace 8 (scalar), data 16. `output_names`: 80 bytes: header 8, name 13 (+3), datatype 8
  // (a fixed-length string of 7 bytes), dataspace 24 (rank 1, dims [3], max dims), data 24.
  @Test(arguments: [
    ("a name without its NUL", "corrupt attribute message in group /: its name (10 bytes) has no NUL terminator"),
    ("a datatype size past the message", "corrupt attribute message `framework` in group /: its datatype (256 bytes at offset 24) runs past the end of its 72 bytes"),
    ("one more element than the data holds", "corrupt attribute message `output_names` in group /: its data needs 28 bytes (4 x 7), the message holds 24"),
    ("a dimension whose data size overflows", "corrupt attribute message `output_names` in group /: its data needs more than 2^64 bytes (4611686018427387904 x 7), the message holds 24"),
    ("a string of 14483463 bytes", "corrupt attribute message `output_names` in group /: its data needs 43450389 bytes (3 x 14483463), the message holds 24"),
    ("a dataspace of rank 33", "corrupt attribute message `output_names` in group /: its dataspace: a dataspace of rank 33, more than 32"),
    ("datatype version 4", "corrupt attribute message `framework` in group /: its datatype: datatype version 4 (class 9), not 1, 2 or 3"),
    ("attribute version 4", "corrupt attribute message in group /: version 4, not 1, 2 or 3"),
  ])
  func aBrokenAttributeMessageIsANamedErrorBeforeLibHDF5DecodesIt(what: String, expected: String) throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ObjectHeaderCheckTests.fixture)))
    let framework = try Self.attribute(b, "framework")
    let outputs = try Self.attribute(b, "output_names")
    #expect(b[outputs + 24] & 0x0f == 3 && b[outputs + 32] == 1 && b[outputs + 33] == 1 && b[outputs + 40] == 3,
            "output_names: a string type, a version 1 dataspace of rank 1, dimension 3")
    switch what {
    case "a name without its NUL": b[framework + 8 + 9] = UInt8(ascii: "x")
    case "a datatype size past the message": Self.le16(256, &b, at: framework + 4)
    case "one more element than the data holds": b[outputs + 40] = 4
    case "a dimension whose data size overflows": ObjectHeaderCheckTests.put(1 << 62, &b, at: outputs + 40)
    case "a string of 14483463 bytes":  // the size field, 4 bytes
      Self.le16(14_483_463 & 0xffff, &b, at: outputs + 24 + 4)
      Self.le16(14_483_463 >> 16, &b, at: outputs + 24 + 6)
    case "a dataspace of rank 33": b[outputs + 33] = 33
    case "datatype version 4": b[framework + 24] = 0x49
    case "attribute version 4": b[framework] = 4
    default: Issue.record("unknown corruption \(what)")
    }
    let (dir, path) = try ObjectHeaderCheckTests.write(b)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = try File(path: path)
    let e = expectHDF5Error(.libraryCall, file: path) { _ = try file.root }
    #expect(e?.objectPath == "/", "\(what): \(String(describing: e))")
    #expect(e?.detail == expected, "\(what): \(String(describing: e))")
    #expect(e?.libraryMessages.isEmpty == true, "thrown before libhdf5 was asked: \(String(describing: e))")
  }

  /// An attribute message marked shared (header message flag bit 1) is a shared-message
  /// reference: its version is checked. A dataset's data layout message: a compact layout's
  /// data (which libhdf5 copies out of the message) must be inside it.
  @Test func aSharedMarkAndACompactLayoutAreCheckedToo() throws {
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ObjectHeaderCheckTests.fixture)))
    var shared = original
    let framework = try Self.attribute(shared, "framework")
    shared[framework - 4] |= 0x02  // version 1 header: type (2), size (2), flags (1), reserved (3)
    shared[framework] = 7
    var compact = original
    let kernel = "weights/rnn/basic_lstm_cell/kernel"
    let layout = try { () throws -> Int in
      let file = try File(image: original, name: "fixture.h5")
      let address = try #require(try file.dataset(kernel).address)
      let messages = try Library.sync { () throws -> [ObjectHeaderCheck.Message] in
        let loc = Location(file: file.path, path: "/" + kernel)
        let b = try #require(try file.rawBytes(loc, "test"))
        return try ObjectHeaderCheck(bytes: b, loc: loc, op: "test", noun: "dataset").messages(at: address).messages
      }
      let m = try #require(messages.first { $0.type == 0x0008 })
      #expect(m.data.count == 24 && m.data.first == 3 && m.data.dropFirst().first == 1, "version 3, contiguous")
      return Int(m.address)
    }()
    compact[layout + 1] = 0  // contiguous -> compact: the address's low 2 bytes become the data size
    let size = Int(original[layout + 2]) | Int(original[layout + 3]) << 8
    for (b, expected, body) in [
      (shared, "corrupt shared attribute message in group /: shared attribute reference version 7, not 1, 2 or 3",
       { (f: File) in _ = try f.root }),
      (compact, "corrupt data layout message in dataset /\(kernel): the compact data (\(size) bytes at offset 4) runs past the end of its 24 bytes",
       { (f: File) in _ = try f.dataset(kernel) }),
    ] as [([UInt8], String, (File) throws -> Void)] {
      let (dir, path) = try ObjectHeaderCheckTests.write(b)
      defer { try? FileManager.default.removeItem(at: dir) }
      let file = try File(path: path)
      let e = expectHDF5Error(.libraryCall, file: path) { try body(file) }
      #expect(e?.detail == expected, "\(String(describing: e))")
      #expect(e?.libraryMessages.isEmpty == true, "\(String(describing: e))")
    }
  }

  /// A datatype's bytes, checked alone: (class | version << 4), 3 bytes of class bits, size.
  static func type(_ cls: UInt8, version: UInt8 = 1, bits: Int = 0, size: Int, _ properties: [UInt8] = []) -> [UInt8] {
    [cls | version << 4, UInt8(bits & 0xff), UInt8((bits >> 8) & 0xff), UInt8(bits >> 16),
     UInt8(size & 0xff), UInt8((size >> 8) & 0xff), UInt8((size >> 16) & 0xff), UInt8(size >> 24)] + properties
  }

  static func check(_ bytes: [UInt8]) -> Result<UInt64, ObjectHeaderCheck.Problem> {
    var c = ObjectHeaderCheck.Cursor(bytes[...])
    do { return .success(try ObjectHeaderCheck.datatype(&c, depth: 0, sizeofAddr: 8)) } catch let p as ObjectHeaderCheck.Problem {
      return .failure(p)
    } catch { return .failure(.init("\(error)")) }
  }

  static let byte = type(0, size: 1, [0, 0, 8, 0])  // an unsigned 8-bit integer
  /// h5py's bool: an enum of two members over a signed 8-bit integer, names padded to 8 (version 1).
  static func bool(members: Int) -> [UInt8] {
    type(8, bits: members, size: 1) + type(0, bits: 0x08, size: 1, [0, 0, 8, 0])
      + Array("FALSE".utf8) + [0, 0, 0] + Array("TRUE".utf8) + [0, 0, 0, 0] + [0, 1]
  }

  @Test func anEnumWithMoreMembersThanItsBytesHoldIsRefused() {
    #expect(Self.check(Self.bool(members: 2)) == .success(1))
    // A third name would start at the values: an empty name padded to 8 runs past the 38 bytes.
    #expect(Self.check(Self.bool(members: 3)) == .failure(.init("enum member 2's name `` with its padding (8 bytes at offset 36) runs past the end of its 38 bytes")))
    // 0x0101 members (the class flip of fuzz-segv-attribute-enum.h5 reads a string's bits so).
    #expect(Self.check(Self.bool(members: 0x0101)) == .failure(.init("enum member 2's name `` with its padding (8 bytes at offset 36) runs past the end of its 38 bytes")))
    var noNul = Self.bool(members: 2)
    noNul.removeLast(2)
    for k in 28..<noNul.count { noNul[k] = UInt8(ascii: "T") }
    #expect(Self.check(noNul) == .failure(.init("enum member 1's name has no NUL terminator before the end of its 36 bytes")))
  }

  @Test func nestedTypesAreCheckedInsideTheirParentAndDepthCapped() {
    // Arrays (version 2) of one element around a byte: 1 + 3 reserved + 4 dim + 4 permutation.
    func arrays(_ n: Int) -> [UInt8] {
      (0..<n).reduce(Self.byte) { inner, _ in Self.type(10, version: 2, size: 1, [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]) + inner }
    }
    #expect(Self.check(arrays(32)) == .success(1))
    let deep = Self.check(arrays(33))
    let base = String(repeating: "the array's base type: ", count: 33)
    #expect(deep == .failure(.init(base + "datatypes nested more than 32 deep")))
    // A compound (version 1) whose one member's type is cut short by its parent's end.
    let member = Array("m".utf8) + [0, 0, 0, 0, 0, 0, 0] + [0, 0, 0, 0] + [0] + Array(repeating: 0, count: 27)
    let compound = Self.type(6, bits: 1, size: 1, member + Self.byte)
    #expect(Self.check(compound) == .success(1))
    #expect(Self.check(Array(compound.dropLast(2))) == .failure(.init("compound member 0 `m`'s datatype: the fixed-point type's bit offset and precision (4 bytes at offset 56) runs past the end of its 58 bytes")))
    // A variable-length string's size on disk is at least its length, heap address and index.
    #expect(Self.check(Self.type(9, bits: 0x0101, size: 1, Self.byte)) == .success(16))
    #expect(Self.check(Self.type(11, size: 1)) == .failure(.init("unknown datatype class 11")))
  }
}
