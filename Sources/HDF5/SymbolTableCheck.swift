/// Old-style groups (what h5py writes by default, and every Keras 2 / TF1-era model file): a
/// symbol-table message (0x0011) names a version 1 B-tree (`TREE`, type 0) whose leaves are
/// symbol nodes (`SNOD`), each entry a name (an offset into the group's local heap, `HEAP`) and
/// the child's object header address. libhdf5 1.10 trusts all of it: a B-tree, heap or child
/// address near the top of the address space wraps its end-of-file check and `H5F__accum_read`
/// `memcpy`s from a wild pointer; a data segment size of 2^64 - 1 aborts it
/// (segfaults and aborts found by `scripts/h5mutate.py`, docs/HOSTILE-INPUTS.md).
///
/// So when a group's header is checked, its symbol table is walked from the file's bytes first:
/// the local heap (signature, version, its data segment inside the file), every B-tree node (signature, type, the whole node as libhdf5 reads it,
/// sized from the superblock's K, inside the file, at most 2K entries, each child's level one
/// less than its parent's, no node twice, at most `maxBTreeNodes`) and every symbol node it
/// points to (signature, version, the whole node inside the file). Only what `scripts/h5mutate.py`
/// saw fault is checked: the names and entries inside symbol nodes and the B-tree keys never
/// faulted libhdf5 1.10.8 in its mutants (it refuses or tolerates those itself). Layouts from the
/// HDF5 file format specification (version 2), sections III.A.1 (v1 B-trees), III.C (symbol
/// table entries and nodes) and III.D (local heaps).
extension ObjectHeaderCheck {
  /// Nodes of one version 1 B-tree (a group's or a dataset's chunk index) read at most.
  static let maxBTreeNodes = 1 << 20

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
      throw corrupt("\(place): \(what) address \(hex(address)) (a \(size)-byte node) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard node.prefix(4).elementsEqual("TREE".utf8) else {
      throw corrupt("\(place): \(what) at \(hex(address)) is not a version 1 B-tree node (no `TREE` signature)")
    }
    guard node[4] == type else {
      throw corrupt("\(place): \(what) at \(hex(address)) is a B-tree node of type \(node[4]), not \(type)")
    }
    let entries = Int(FileBytes.little(node[6..<8]))
    guard entries <= 2 * k else {
      throw corrupt("\(place): \(what) at \(hex(address)) declares \(entries) entries, more than the \(2 * k) its node holds (2K, K = \(k) from the superblock)")
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
      throw corrupt("\(place): local heap address \(hex(heapAddress)) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard head.prefix(4).elementsEqual("HEAP".utf8) else {
      throw corrupt("\(place): local heap address \(hex(heapAddress)) does not hold a local heap (no `HEAP` signature)")
    }
    guard head[4] == 0 else { throw corrupt("\(place): the local heap at \(hex(heapAddress)) has version \(head[4]), not 0") }
    let heapSize = FileBytes.little(head[8..<(8 + l)])
    let dataAddress = FileBytes.little(head[(8 + 2 * l)..<(8 + 2 * l + a)])
    guard dataAddress != bytes.undefinedAddress, inside(dataAddress, heapSize) else {
      throw corrupt("\(place): the local heap's data segment at \(hex(dataAddress)) (\(heapSize) bytes) is past the end of the file (\(bytes.eof) bytes)")
    }

    // The B-tree, depth first; each child's level one less than its parent's.
    let k = bytes.groupBTreeK
    let nodeSize = 8 + 2 * bytes.symbolNodeK * (l + a + 24)  // entries: name, header, cache type, scratch
    var visited: Set<UInt64> = []
    func symbolNode(_ address: UInt64) throws {
      guard visited.insert(address).inserted else {
        throw corrupt("\(place): the symbol node at \(hex(address)) is reached twice")
      }
      guard address != bytes.undefinedAddress, let node = bytesAt(address, nodeSize) else {
        throw corrupt("\(place): symbol node address \(hex(address)) (a \(nodeSize)-byte node) is past the end of the file (\(bytes.eof) bytes)")
      }
      guard node.prefix(4).elementsEqual("SNOD".utf8) else {
        throw corrupt("\(place): symbol node address \(hex(address)) does not hold a symbol node (no `SNOD` signature)")
      }
      guard node[4] == 1 else { throw corrupt("\(place): the symbol node at \(hex(address)) has version \(node[4]), not 1") }
    }
    func treeNode(_ address: UInt64, level expected: Int?, what: String) throws {
      guard visited.insert(address).inserted else {
        throw corrupt("\(place): the B-tree node at \(hex(address)) is reached twice")
      }
      guard visited.count <= Self.maxBTreeNodes else {
        throw corrupt("\(place): its B-tree has more than \(Self.maxBTreeNodes) nodes")
      }
      let (level, entries, body) = try v1BTreeNode(address, type: 0, k: k, keySize: l, place: place, what: what)
      if let expected, level != expected {
        throw corrupt("\(place): the B-tree node at \(hex(address)) has level \(level), its parent's is \(expected + 1)")
      }
      var p = body.startIndex
      for i in 0..<entries {
        p += l  // the key before the child
        let child = FileBytes.little(body[p..<(p + a)])
        p += a
        if level > 0 {
          try treeNode(child, level: level - 1, what: "child \(i) of the B-tree node at \(hex(address))")
        } else {
          try symbolNode(child)
        }
      }
    }
    try treeNode(treeAddress, level: nil, what: "the B-tree")
  }
}
