/// Old-style groups (what h5py writes by default, and every Keras 2 / TF1-era model file): a
/// symbol-table message (0x0011) names a version 1 B-tree (`TREE`, type 0) whose leaves are
/// symbol nodes (`SNOD`), each entry a name (an offset into the group's local heap, `HEAP`) and
/// the child's object header address. libhdf5 1.10 trusts all of it: a B-tree, heap or child
/// address near the top of the address space wraps its end-of-file check and `H5F__accum_read`
/// `memcpy`s from a wild pointer; a symbol node declaring more entries than its node holds is
/// decoded past the buffer libhdf5 sized from the superblock; a name offset past the heap is read
/// wherever it points (all segfaults found by `scripts/h5mutate.py`, docs/HOSTILE-INPUTS.md).
///
/// So when a group's header is checked, its whole symbol table is read from the file's bytes
/// first: the local heap (signature, version, data segment inside the file, at most
/// `maxLocalHeapBytes`), every B-tree node (signature, type, level one less than its parent's,
/// entries at most 2K, the node inside the file as libhdf5 reads it, each key a name inside the
/// heap, no node twice, at most `maxBTreeNodes`), every symbol node (signature, version, entries
/// at most 2K, the node inside the file, each name inside the heap, each child's header address
/// inside the file, or for a soft link its value inside the heap). Layouts from the HDF5 file format specification (version 2), sections
/// III.A.1 (v1 B-trees), III.C (symbol table entries and nodes) and III.D (local heaps).
extension ObjectHeaderCheck {
  /// A local heap's data segment larger than this is refused (a group's link names).
  static let maxLocalHeapBytes = 64 << 20
  /// Nodes of one version 1 B-tree (a group's or a dataset's chunk index) read at most.
  static let maxBTreeNodes = 1 << 20

  func hexAddress(_ a: UInt64) -> String { "0x" + String(a, radix: 16) }

  /// `count` bytes at relative address `address`, when all of them are inside the file.
  func bytesAt(_ address: UInt64, _ count: Int) -> [UInt8]? {
    let (start, overflow) = bytes.base.addingReportingOverflow(address)
    guard !overflow, count >= 0, start <= bytes.eof, UInt64(count) <= bytes.eof - start else { return nil }
    return bytes.read(start, count)
  }

  /// Whether `count` bytes at relative address `address` are inside the file (overflow-checked).
  func inside(_ address: UInt64, _ count: UInt64) -> Bool {
    let (start, overflow) = bytes.base.addingReportingOverflow(address)
    return !overflow && start <= bytes.eof && count <= bytes.eof - start
  }

  /// A version 1 B-tree node as libhdf5 reads it: the whole node sized from K, the signature,
  /// the node type and the entry count checked; returns the level, the entry count and the
  /// node's bytes after its header (keys and children interleaved).
  func v1BTreeNode(_ address: UInt64, type: UInt8, k: Int, keySize: Int, place: String, what: String)
    throws -> (level: Int, entries: Int, body: ArraySlice<UInt8>)
  {
    let a = bytes.sizeofAddr
    let size = 8 + 2 * a + (2 * k + 1) * keySize + 2 * k * a
    guard address != bytes.undefinedAddress, let node = bytesAt(address, size) else {
      throw corrupt("\(place): \(what) address \(hexAddress(address)) (a \(size)-byte node) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard node.prefix(4).elementsEqual("TREE".utf8) else {
      throw corrupt("\(place): \(what) at \(hexAddress(address)) is not a version 1 B-tree node (no `TREE` signature)")
    }
    guard node[4] == type else {
      throw corrupt("\(place): \(what) at \(hexAddress(address)) is a B-tree node of type \(node[4]), not \(type)")
    }
    let entries = Int(FileBytes.little(node[6..<8]))
    guard entries <= 2 * k else {
      throw corrupt("\(place): \(what) at \(hexAddress(address)) declares \(entries) entries, more than the \(2 * k) its node holds (2K, K = \(k) from the superblock)")
    }
    return (Int(node[5]), entries, node[(8 + 2 * a)...])
  }

  /// A group's symbol-table message: the B-tree and local heap it names, walked whole.
  func checkSymbolTable(_ m: Message) throws {
    let place = "corrupt symbol table of \(noun) \(objectPath)"
    let a = bytes.sizeofAddr, l = bytes.sizeofLength
    let d = m.data
    guard d.count >= 2 * a else {
      throw corrupt("\(place): its symbol-table message is \(d.count) bytes long, too short for two addresses")
    }
    let treeAddress = FileBytes.little(d.prefix(a))
    let heapAddress = FileBytes.little(d.dropFirst(a).prefix(a))

    // The local heap: "HEAP", version 0, 3 reserved, data segment size, free list, data address.
    guard heapAddress != bytes.undefinedAddress, let head = bytesAt(heapAddress, 8 + 2 * l + a) else {
      throw corrupt("\(place): local heap address \(hexAddress(heapAddress)) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard head.prefix(4).elementsEqual("HEAP".utf8) else {
      throw corrupt("\(place): local heap address \(hexAddress(heapAddress)) does not hold a local heap (no `HEAP` signature)")
    }
    guard head[4] == 0 else { throw corrupt("\(place): the local heap at \(hexAddress(heapAddress)) has version \(head[4]), not 0") }
    let heapSize = FileBytes.little(head[8..<(8 + l)])
    let dataAddress = FileBytes.little(head[(8 + 2 * l)..<(8 + 2 * l + a)])
    guard heapSize <= UInt64(Self.maxLocalHeapBytes) else {
      throw corrupt("\(place): the local heap at \(hexAddress(heapAddress)) declares a data segment of \(heapSize) bytes, more than the \(Self.maxLocalHeapBytes) this reader allows")
    }
    guard dataAddress != bytes.undefinedAddress, let heap = bytesAt(dataAddress, Int(heapSize)) else {
      throw corrupt("\(place): the local heap's data segment at \(hexAddress(dataAddress)) (\(heapSize) bytes) is past the end of the file (\(bytes.eof) bytes)")
    }
    /// A link name: an offset into the heap, NUL-terminated inside it.
    func name(_ offset: UInt64, _ what: String) throws {
      guard offset < heapSize else {
        throw corrupt("\(place): \(what) is at offset \(offset) of a local heap of \(heapSize) bytes")
      }
      guard heap[Int(offset)...].contains(0) else {
        throw corrupt("\(place): \(what) at heap offset \(offset) has no NUL terminator before the end of the heap")
      }
    }

    // The B-tree, depth first; each child's level one less than its parent's.
    let k = bytes.groupBTreeK, leafK = bytes.symbolNodeK
    let entrySize = l + a + 24
    let nodeSize = 8 + 2 * leafK * entrySize
    var visited: Set<UInt64> = []
    func symbolNode(_ address: UInt64) throws {
      guard visited.insert(address).inserted else {
        throw corrupt("\(place): the symbol node at \(hexAddress(address)) is reached twice")
      }
      guard address != bytes.undefinedAddress, let node = bytesAt(address, nodeSize) else {
        throw corrupt("\(place): symbol node address \(hexAddress(address)) (a \(nodeSize)-byte node) is past the end of the file (\(bytes.eof) bytes)")
      }
      guard node.prefix(4).elementsEqual("SNOD".utf8) else {
        throw corrupt("\(place): symbol node address \(hexAddress(address)) does not hold a symbol node (no `SNOD` signature)")
      }
      guard node[4] == 1 else { throw corrupt("\(place): the symbol node at \(hexAddress(address)) has version \(node[4]), not 1") }
      let count = Int(FileBytes.little(node[6..<8]))
      guard count <= 2 * leafK else {
        throw corrupt("\(place): the symbol node at \(hexAddress(address)) declares \(count) entries, more than the \(2 * leafK) it holds (2K, K = \(leafK) from the superblock)")
      }
      for i in 0..<count {
        let e = 8 + i * entrySize
        try name(FileBytes.little(node[e..<(e + l)]), "the name of entry \(i) of the symbol node at \(hexAddress(address))")
        let header = FileBytes.little(node[(e + l)..<(e + l + a)])
        let cache = FileBytes.little(node[(e + l + a)..<(e + l + a + 4)])
        if cache == 2 {
          // A soft link: no object header (the undefined address); its value is a name in the
          // heap at the offset the scratch pad holds.
          try name(FileBytes.little(node[(e + l + a + 8)..<(e + l + a + 12)]), "the soft link value of entry \(i) of the symbol node at \(hexAddress(address))")
          continue
        }
        guard header != bytes.undefinedAddress, inside(header, 16) else {
          throw corrupt("\(place): entry \(i) of the symbol node at \(hexAddress(address)) points to an object header at \(hexAddress(header)), past the end of the file (\(bytes.eof) bytes)")
        }
      }
    }
    func treeNode(_ address: UInt64, level expected: Int?, what: String) throws {
      guard visited.insert(address).inserted else {
        throw corrupt("\(place): the B-tree node at \(hexAddress(address)) is reached twice")
      }
      guard visited.count <= Self.maxBTreeNodes else {
        throw corrupt("\(place): its B-tree has more than \(Self.maxBTreeNodes) nodes")
      }
      let (level, entries, body) = try v1BTreeNode(address, type: 0, k: k, keySize: l, place: place, what: what)
      if let expected, level != expected {
        throw corrupt("\(place): the B-tree node at \(hexAddress(address)) has level \(level), its parent's is \(expected + 1)")
      }
      var p = body.startIndex
      for i in 0...entries {
        try name(FileBytes.little(body[p..<(p + l)]), "key \(i) of the B-tree node at \(hexAddress(address))")
        p += l
        if i == entries { break }
        let child = FileBytes.little(body[p..<(p + a)])
        p += a
        if level > 0 {
          try treeNode(child, level: level - 1, what: "child \(i) of the B-tree node at \(hexAddress(address))")
        } else {
          try symbolNode(child)
        }
      }
    }
    try treeNode(treeAddress, level: nil, what: "the B-tree")
  }
}
