import CHDF5
import Foundation
import Testing
@testable import HDF5

/// The structures `scripts/h5mutate.py` found libhdf5 1.10 reading unchecked (issue 11), each
/// broken one field at a time in an h5py-written file and checked to be a named `HDF5Error`
/// thrown before libhdf5 reads it: old-style groups (symbol table, local heap, v1 B-tree, symbol
/// nodes; `SymbolTableCheck.swift`), fill values and v1 chunk B-trees (`StorageCheck.swift`), and
/// the headers of dense storage (fractal heap, v2 B-tree; `DenseStorageCheck.swift`). Field
/// offsets come from the HDF5 file format specification, read here from the file's own bytes.
@Suite struct StorageCheckTests {
  static func u(_ b: [UInt8], _ o: Int, _ n: Int = 8) -> UInt64 { FileBytes.little(b[o..<(o + n)]) }
  static func put(_ value: UInt64, _ b: inout [UInt8], at o: Int, width: Int = 8) {
    for k in 0..<width { b[o + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
  }
  static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

  /// Bob Jenkins' lookup3 `hashlittle` with seed 0, libhdf5's metadata checksum
  /// (`H5_checksum_lookup3`), so that a broken field is read by libhdf5 as a hostile file would
  /// have it, not refused for its checksum.
  static func lookup3(_ d: ArraySlice<UInt8>) -> UInt32 {
    func rot(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }
    var a = 0xdead_beef &+ UInt32(d.count), b = a, c = a
    var i = d.startIndex, n = d.count
    func word(_ at: Int) -> UInt32 {
      (0..<4).reduce(UInt32(0)) { $0 | (at + $1 < d.endIndex ? UInt32(d[at + $1]) << (8 * UInt32($1)) : 0) }
    }
    while n > 12 {
      a &+= word(i); b &+= word(i + 4); c &+= word(i + 8)
      a &-= c; a ^= rot(c, 4); c &+= b
      b &-= a; b ^= rot(a, 6); a &+= c
      c &-= b; c ^= rot(b, 8); b &+= a
      a &-= c; a ^= rot(c, 16); c &+= b
      b &-= a; b ^= rot(a, 19); a &+= c
      c &-= b; c ^= rot(b, 4); b &+= a
      n -= 12; i += 12
    }
    if n == 0 { return c }
    a &+= word(i); b &+= word(i + 4); c &+= word(i + 8)  // the tail, zero-padded
    c ^= b; c &-= rot(b, 14)
    a ^= c; a &-= rot(c, 11)
    b ^= a; b &-= rot(a, 25)
    c ^= b; c &-= rot(b, 16)
    a ^= c; a &-= rot(c, 4)
    b ^= a; b &-= rot(a, 14)
    c ^= b; c &-= rot(b, 24)
    return c
  }

  /// Recomputes the checksum of the version 2 object header at `header` (its first chunk).
  static func resumHeader(_ b: inout [UInt8], at header: Int) {
    let flags = b[header + 5]
    let prefix = 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
    let width = 1 << Int(flags & 0x03)
    let end = header + prefix + width + Int(u(b, header + prefix, width))
    put(UInt64(lookup3(b[header..<end])), &b, at: end, width: 4)
  }

  /// The messages of the object at `path` (read with the header reader, whose own tests check it).
  static func messages(_ bytes: [UInt8], _ path: String, dataset: Bool = false) throws -> [ObjectHeaderCheck.Message] {
    // A name of its own: libhdf5 takes two in-memory files of one name for the same file, and
    // other suites open theirs as "fixture.h5" at the same time.
    let file = try File(image: bytes, name: "storage-check-\(UUID().uuidString).h5")
    let object: Object = dataset ? try file.dataset(path) : path == "/" ? try file.root : try file.group(path)
    let address = try #require(object.address)
    return try Library.sync { () throws -> [ObjectHeaderCheck.Message] in
      let loc = Location(file: file.path, path: path)
      let b = try #require(try file.rawBytes(loc, "test"))
      return try ObjectHeaderCheck(bytes: b, loc: loc, op: "test", noun: "group").messages(at: address).messages
    }
  }

  /// Writes `bytes`, opens the file and returns the error `body` throws (none of libhdf5's).
  static func error(_ bytes: [UInt8], _ what: String, _ body: (File) throws -> Void) throws -> HDF5Error? {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("corrupt.h5").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let file = try File(path: path)
    let e = expectHDF5Error(.libraryCall, file: path) { try body(file) }
    #expect(e?.libraryMessages.isEmpty == true, "\(what): thrown before libhdf5 read it: \(String(describing: e))")
    #expect(e?.hint?.contains("re-copy or regenerate") == true, "\(what): \(String(describing: e))")
    return e
  }

  // MARK: Old-style groups

  /// `keras_style.h5`: h5py's default (old-style) groups; the root's symbol table.
  static let oldStyle = TestData.path("keras_style.h5")

  struct OldStyleRoot {
    var bytes: [UInt8]
    var message: Int, tree: Int, heap: Int, heapData: Int, heapSize: Int, leaf: Int
  }

  static func oldStyleRoot() throws -> OldStyleRoot {
    let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: oldStyle)))
    let m = try #require(try messages(b, "/").first { $0.type == 0x0011 }, "the root has a symbol-table message")
    let o = Int(m.address)
    let tree = Int(u(b, o)), heap = Int(u(b, o + 8))
    #expect(b[tree..<(tree + 4)].elementsEqual("TREE".utf8) && b[tree + 5] == 0, "a leaf-level group B-tree")
    #expect(b[heap..<(heap + 4)].elementsEqual("HEAP".utf8))
    let leaf = Int(u(b, tree + 24 + 8))  // signature, type, level, entries, 2 siblings; key 0; child 0
    #expect(b[leaf..<(leaf + 4)].elementsEqual("SNOD".utf8))
    return OldStyleRoot(bytes: b, message: o, tree: tree, heap: heap, heapData: Int(u(b, heap + 24)),
                        heapSize: Int(u(b, heap + 8)), leaf: leaf)
  }

  @Test func theOldStyleFixtureReadsAsBefore() throws {
    let file = try File(path: Self.oldStyle)
    #expect(try !file.root.childNames().isEmpty)
    #expect(try !file.root.datasetPaths().isEmpty)
  }

  @Test(arguments: [
    "B-tree address", "local heap address", "local heap signature", "local heap data size", "local heap data address",
    "B-tree entries", "B-tree level", "symbol node signature",
  ])
  func aBrokenSymbolTableIsANamedErrorBeforeLibHDF5ReadsIt(field: String) throws {
    let r = try Self.oldStyleRoot()
    var b = r.bytes
    let size = b.count
    let expected: String
    switch field {
    case "B-tree address":
      Self.put(0xffff_ffff_ffff_0000, &b, at: r.message)
      expected = "the B-tree address 0xffffffffffff0000 (a 544-byte node) is past the end of the file (\(size) bytes)"
    case "local heap address":
      Self.put(0xffff_ffff_ffff_ffee, &b, at: r.message + 8)
      expected = "local heap address 0xffffffffffffffee is past the end of the file (\(size) bytes)"
    case "local heap signature":
      b[r.heap] = UInt8(ascii: "X")
      expected = "local heap address \(Self.hex(UInt64(r.heap))) does not hold a local heap (no `HEAP` signature)"
    case "local heap data size":
      Self.put(1 << 40, &b, at: r.heap + 8)
      expected = "the local heap's data segment at \(Self.hex(UInt64(r.heapData))) (1099511627776 bytes) is past the end of the file (\(size) bytes)"
    case "local heap data address":
      Self.put(0xffff_ffff_ffff_ffff, &b, at: r.heap + 24)
      expected = "the local heap's data segment at 0xffffffffffffffff (\(r.heapSize) bytes) is past the end of the file (\(size) bytes)"
    case "B-tree entries":
      Self.put(33, &b, at: r.tree + 6, width: 2)
      expected = "the B-tree at \(Self.hex(UInt64(r.tree))) declares 33 entries, more than the 32 its node holds (2K, K = 16 from the superblock)"
    case "B-tree level":
      b[r.tree + 5] = 1
      expected = "child 0 of the B-tree node at \(Self.hex(UInt64(r.tree))) at \(Self.hex(UInt64(r.leaf))) is not a version 1 B-tree node (no `TREE` signature)"
    case "symbol node signature":
      b[r.leaf + 3] = 0
      expected = "symbol node address \(Self.hex(UInt64(r.leaf))) does not hold a symbol node (no `SNOD` signature)"
    default:
      Issue.record("unknown field \(field)")
      return
    }
    let e = try Self.error(b, field) { _ = try $0.root }
    #expect(e?.objectPath == "/", "\(field): \(String(describing: e))")
    #expect(e?.detail == "corrupt symbol table of group /: " + expected, "\(field): \(String(describing: e))")
  }

  /// A nested old-style group is checked when it is opened or looked into; its parent reads.
  @Test func aBrokenNestedSymbolTableIsNamedWhenTheGroupIsOpened() throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.oldStyle)))
    let file = try File(path: Self.oldStyle)
    let child = try #require(try file.root.children().first { $0.kind == .group }).name
    let m = try #require(try Self.messages(b, "/" + child).first { $0.type == 0x0011 })
    Self.put(0xffff_ffff_ffff_ff00, &b, at: Int(m.address))
    let e = try Self.error(b, "nested") { _ = try $0.root.datasetPaths() }
    #expect(e?.objectPath == "/" + child, "\(String(describing: e))")
    #expect(e?.detail.hasPrefix("corrupt symbol table of group /\(child): the B-tree address 0xffffffffffffff00") == true,
            "\(String(describing: e))")
  }

  /// Soft links in old-style groups have no object header (the undefined address in their
  /// symbol-table entry, cache type 2): they read as before (an earlier version of the check
  /// refused them).
  @Test func oldStyleSoftLinksRead() throws {
    let path = TestData.path("links_old_style.h5")
    let file = try File(path: path)
    #expect(try file.root.children().contains(Group.Child(name: "dangling", kind: .softLink("/nowhere"))))
    #expect(try file.group("g").children().contains(Group.Child(name: "soft", kind: .softLink("/g/x"))))
    #expect(try file.root.datasetPaths() == ["g/x"])

  }

  // MARK: Fill values and chunk indexes

  /// `dtypes.h5`: h5py's default layouts; `cube` is chunked (a version 3 layout, a v1 B-tree).
  static let dtypes = TestData.path("dtypes.h5")

  @Test(arguments: ["fill size", "chunk size", "chunk address", "chunk B-tree address", "chunk B-tree type"])
  func aBrokenFillValueOrChunkIndexIsANamedError(field: String) throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.dtypes)))
    let size = b.count
    let ms = try Self.messages(b, "/cube", dataset: true)
    let fill = try #require(ms.first { $0.type == 0x0005 }, "a fill-value message")
    let layout = try #require(ms.first { $0.type == 0x0008 }, "a layout message")
    let l = Int(layout.address)
    #expect(b[l] == 3 && b[l + 1] == 2 && b[l + 2] == 4, "version 3, chunked, 4 dimensions (3 + the element)")
    let tree = Int(Self.u(b, l + 3))
    #expect(b[tree..<(tree + 4)].elementsEqual("TREE".utf8) && b[tree + 4] == 1 && b[tree + 5] == 0)
    let key0 = tree + 24  // after signature, type, level, entries, two siblings
    let child0 = key0 + 8 + 8 * 4
    let expected: String
    switch field {
    case "fill size":
      let f = Int(fill.address)
      #expect(b[f] == 2 && b[f + 3] == 1, "version 2, fill value defined")
      Self.put(0xffff_ffff, &b, at: f + 4, width: 4)
      expected = "corrupt fill value message in dataset /cube: the fill value (4294967295 bytes at offset 8) runs past the end of its \(fill.data.count) bytes"
    case "chunk size":
      Self.put(0xffff_fff0, &b, at: key0, width: 4)
      expected = "corrupt chunk index of dataset /cube: chunk 0 of the B-tree node at \(Self.hex(UInt64(tree))) is 4294967280 bytes at \(Self.hex(Self.u(b, child0))), past the end of the file (\(size) bytes)"
    case "chunk address":
      Self.put(0xffff_ffff_ffff_ff00, &b, at: child0)
      expected = "corrupt chunk index of dataset /cube: chunk 0 of the B-tree node at \(Self.hex(UInt64(tree))) is \(Self.u(b, key0, 4)) bytes at 0xffffffffffffff00, past the end of the file (\(size) bytes)"
    case "chunk B-tree address":
      Self.put(0xffff_ffff_ffff_fe00, &b, at: l + 3)
      expected = "corrupt chunk index of dataset /cube: the B-tree address 0xfffffffffffffe00 (a 3136-byte node) is past the end of the file (\(size) bytes)"
    case "chunk B-tree type":
      b[tree + 4] = 0
      expected = "corrupt chunk index of dataset /cube: the B-tree at \(Self.hex(UInt64(tree))) is a B-tree node of type 0, not 1"
    default:
      Issue.record("unknown field \(field)")
      return
    }
    let e = try Self.error(b, field) { _ = try $0.dataset("cube") }
    #expect(e?.objectPath == "/cube", "\(field): \(String(describing: e))")
    #expect(e?.detail == expected, "\(field): \(String(describing: e))")
  }

  @Test func theChunkedFixtureReadsAsBefore() throws {
    let cube: [Float] = try File(path: Self.dtypes).dataset("cube").read()
    #expect(cube.count == 60 && cube[59] == 234)
  }

  // MARK: Dense attribute storage

  /// A group with 20 attributes in dense storage (a fractal heap and a name-index v2 B-tree),
  /// written by this layer; returns the bytes, the heap's and the B-tree's addresses.
  static func dense() throws -> (bytes: [UInt8], heap: Int, tree: Int, info: Int) {
    let dir = try TestData.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("dense.h5").path
    do {
      let out = try File.create(path: path)
      let g = try out.root.createGroup("g")
      for k in 0..<20 { try g.setAttribute(String(format: "a%02d", k), Double(k)) }
    }
    let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let m = try #require(try messages(b, "/g").first { $0.type == 0x0015 }, "an attribute-info message")
    let o = Int(m.address)
    #expect(b[o] == 0 && b[o + 1] == 3, "version 0, creation order tracked and indexed")
    let heap = Int(u(b, o + 4)), tree = Int(u(b, o + 12))
    #expect(b[heap..<(heap + 4)].elementsEqual("FRHP".utf8) && b[tree..<(tree + 4)].elementsEqual("BTHD".utf8))
    return (b, heap, tree, o)
  }

  @Test(arguments: [
    "table width", "starting block size", "root block address", "huge-object B-tree",
    "node size", "record size", "root record count", "root node address", "undefined root block",
    "undefined root node", "total records",
  ])
  func aBrokenDenseStorageHeaderIsANamedError(field: String) throws {
    let d = try Self.dense()
    var b = d.bytes
    let (heap, tree) = (d.heap, d.tree)
    let size = b.count
    // Fractal heap: 14 bytes, then 2 addresses and 10 lengths before the table width.
    let t = heap + 14 + 10 * 8 + 2 * 8
    let h = "corrupt attribute-info message in group /g: the fractal heap at \(Self.hex(UInt64(heap)))"
    let n = "corrupt attribute-info message in group /g: the name-index B-tree at \(Self.hex(UInt64(tree)))"
    let expected: String
    switch field {
    case "table width":
      Self.put(0, &b, at: t, width: 2)
      expected = h + " has a table width of 0, not a power of two"
    case "starting block size":
      Self.put(3, &b, at: t + 2)
      expected = h + " has a starting block size of 3, not a power of two"
    case "root block address":
      // A direct block of the starting size when the root has no rows, else an indirect block's header.
      let rows = Self.u(b, t + 30, 2)
      let need = rows == 0 ? Self.u(b, t + 2) : 4
      Self.put(0xffff_ffff_ffff_f000, &b, at: t + 22)
      expected = h + " has its root block at 0xfffffffffffff000 (\(need) bytes), past the end of the file (\(size) bytes)"
    case "huge-object B-tree":
      Self.put(0, &b, at: heap + 22)
      expected = h + " has its huge-object B-tree at 0x0, which holds no v2 B-tree of huge objects (`BTHD`, version 0, type 1-4)"
    case "node size":
      Self.put(0, &b, at: tree + 6, width: 4)
      expected = n + " has a node size of 0 bytes, not between \(10 + Self.u(b, tree + 10, 2)) (one \(Self.u(b, tree + 10, 2))-byte record) and 1048576"
    case "record size":
      Self.put(0, &b, at: tree + 10, width: 2)
      expected = n + " has a record size of 0"
    case "root record count":
      Self.put(0xffff, &b, at: tree + 24, width: 2)
      expected = n + " declares 65535 records in its root node, more than the \((Self.u(b, tree + 6, 4) - 10) / Self.u(b, tree + 10, 2)) a node of \(Self.u(b, tree + 6, 4)) bytes holds at depth 0"
    case "root node address":
      Self.put(0xffff_ffff_ffff_fff7, &b, at: tree + 16)
      expected = n + " has its root node at 0xfffffffffffffff7 (\(Self.u(b, tree + 6, 4)) bytes), past the end of the file (\(size) bytes)"
    case "undefined root block":
      Self.put(0xffff_ffff_ffff_ffff, &b, at: t + 22)
      expected = h + " holds 20 objects but its root block address is undefined"
    case "undefined root node":
      #expect(Self.u(b, tree + 12, 2) == 0 && Self.u(b, tree + 24, 2) == 20, "a leaf root holding the 20 names")
      Self.put(0xffff_ffff_ffff_ffff, &b, at: tree + 16)
      expected = n + " has 20 records but its root node address is undefined"
    case "total records":
      Self.put(21, &b, at: tree + 26)
      expected = n + " has 21 records in all, which its root node of 20 records at depth 0 cannot hold"
    default:
      Issue.record("unknown field \(field)")
      return
    }
    let e = try Self.error(b, field) { _ = try $0.group("g").attributeNames() }
    #expect(e?.detail == expected, "\(field): \(String(describing: e))")
  }

  /// With a fractal heap, libhdf5 opens the name index even at the undefined address (a
  /// segfault). `attrs.h5` (h5py, `track_order`): a version 2 header, its checksum recomputed.
  @Test func aHeapWithoutANameIndexIsANamedError() throws {
    var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestData.path("attrs.h5"))))
    let m = try #require(try Self.messages(b, "/").first { $0.type == 0x0015 }, "an attribute-info message")
    let o = Int(m.address)
    let p = o + 2 + (b[o + 1] & 1 != 0 ? 2 : 0)
    #expect(Self.u(b, p) != 0xffff_ffff_ffff_ffff, "dense storage: a heap")
    let header = Int(try #require(try File(path: TestData.path("attrs.h5")).root.address))
    #expect(b[header..<(header + 4)].elementsEqual("OHDR".utf8))
    var same = b
    Self.resumHeader(&same, at: header)
    #expect(same == b, "lookup3 gives the checksum libhdf5 wrote")
    Self.put(0xffff_ffff_ffff_ffff, &b, at: p + 8)
    Self.resumHeader(&b, at: header)
    let e = try Self.error(b, "name index") { _ = try $0.root.attributeNames() }
    #expect(e?.detail == "corrupt attribute-info message in group /: it has a fractal heap but its name-index B-tree address is undefined",
            "\(String(describing: e))")
  }

  @Test func theDenseFixtureReadsAsBefore() throws {
    let (b, _, _, _) = try Self.dense()
    let file = try File(image: b, name: "dense-\(UUID().uuidString).h5")
    #expect(try file.group("g").attributeNames().count == 20)
  }

  // MARK: Counts from the file

  /// A listing count libhdf5 took from a corrupt file (2^64 - 1 attributes) is refused before
  /// anything is sized from it (it was a Swift trap converting it to `Int`).
  @Test func aListingCountBeyondTheCapIsANamedError() throws {
    let loc = Location(file: "x.h5", path: "/g")
    #expect(throws: HDF5Error.self) {
      _ = try namesByIndex(count: .max, tracked: false, location: loc, what: "attribute") { _, _, _, _ in 0 }
    }
    #expect(throws: HDF5Error.self) {
      _ = try namesByIndex(count: maxListedNames + 1, tracked: false, location: loc, what: "link") { _, _, _, _ in 0 }
    }
  }
}
