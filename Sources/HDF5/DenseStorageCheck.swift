/// The headers of dense link and attribute storage (a fractal heap, `FRHP`, and v2 B-trees,
/// `BTHD`) that a link-info or attribute-info message names, read field by field the way
/// libhdf5 1.10 sets itself up from them (`H5HF__hdr_finish_init`, `H5B2__hdr_init`), which it
/// does without checking them: a table width of 0, a starting block size that is not a power of
/// two, a root block or huge-object B-tree address near the top of the address space, a B-tree
/// node size that leaves no room for records or a root record count larger than a node holds
/// each segfaulted, aborted, looped or allocated gigabytes in `scripts/h5mutate.py`'s mutants
/// (docs/HOSTILE-INPUTS.md). Both headers carry a checksum, which a hostile file simply
/// recomputes. Layouts from the HDF5 file format specification (version 2), sections III.G
/// (fractal heap) and III.A.2 (version 2 B-trees).
extension ObjectHeaderCheck {
  /// A v2 B-tree node larger than this is refused (libhdf5 writes 512-byte nodes for dense
  /// storage; it allocates one buffer of this size per node read).
  static let maxV2NodeSize: UInt64 = 1 << 20

  /// Checks a fractal heap header's fields (its first `headerSize` bytes are `head`).
  func checkFractalHeap(_ head: [UInt8], at address: UInt64, name: String, place: String) throws {
    let a = bytes.sizeofAddr, l = bytes.sizeofLength
    func field(_ at: Int, _ n: Int) -> UInt64 { FileBytes.little(head[at..<(at + n)]) }
    func bad(_ what: String) -> HDF5Error { corrupt("\(place): the \(name) at \(hex(address)) \(what)") }
    let hugeTree = field(14 + l, a)
    let t = 14 + 10 * l + 2 * a
    let width = field(t, 2)
    let start = field(t + 2, l)
    let root = field(t + 6 + 2 * l, a)
    let rows = field(t + 6 + 2 * l + a, 2)
    func isPowerOfTwo(_ v: UInt64) -> Bool { v != 0 && v & (v - 1) == 0 }
    guard isPowerOfTwo(width) else { throw bad("has a table width of \(width), not a power of two") }
    guard isPowerOfTwo(start) else { throw bad("has a starting block size of \(start), not a power of two") }
    let managedObjects = field(14 + 2 * l + 2 * a + 3 * l, l)
    if root == bytes.undefinedAddress, managedObjects > 0 {
      // libhdf5 reads the root block of a heap holding objects even at the undefined address.
      throw bad("holds \(managedObjects) objects but its root block address is undefined")
    }
    if root != bytes.undefinedAddress {
      // A direct root block of the starting size, or an indirect block (at least its signature).
      let need = rows == 0 ? start : 4
      guard inside(root, need) else {
        throw bad("has its root block at \(hex(root)) (\(need) bytes), past the end of the file (\(bytes.eof) bytes)")
      }
    }
    // Read when the heap is opened; one that does not hold its structure leaves libhdf5's
    // cache in a state that segfaults when the file is closed (at exit).
    if hugeTree != bytes.undefinedAddress {
      let n = Target.btree(type: 1, what: "").headerSize(bytes)
      guard let h = bytesAt(hugeTree, n) else {
        throw bad("has its huge-object B-tree at \(hex(hugeTree)), past the end of the file (\(bytes.eof) bytes)")
      }
      guard h.prefix(4).elementsEqual("BTHD".utf8), h[4] == 0, (1...4).contains(h[5]) else {
        throw bad("has its huge-object B-tree at \(hex(hugeTree)), which holds no v2 B-tree of huge objects (`BTHD`, version 0, type 1-4)")
      }
    }
  }

  /// Checks a v2 B-tree header's fields the way `H5B2__hdr_init` derives each level's capacity.
  func checkV2BTree(_ head: [UInt8], at address: UInt64, name: String, place: String) throws {
    let a = bytes.sizeofAddr
    func field(_ at: Int, _ n: Int) -> UInt64 { FileBytes.little(head[at..<(at + n)]) }
    func bad(_ what: String) -> HDF5Error { corrupt("\(place): the \(name) at \(hex(address)) \(what)") }
    let nodeSize = field(6, 4), recordSize = field(10, 2), depth = field(12, 2)
    let root = field(16, a), rootRecords = field(16 + a, 2)
    let prefix: UInt64 = 10  // signature, version, type, checksum
    guard recordSize > 0 else { throw bad("has a record size of 0") }
    guard nodeSize <= Self.maxV2NodeSize, nodeSize >= prefix + recordSize else {
      throw bad("has a node size of \(nodeSize) bytes, not between \(prefix + recordSize) (one \(recordSize)-byte record) and \(Self.maxV2NodeSize)")
    }
    // libhdf5: records per leaf, then per internal level with its child pointers (address,
    // record count of the child, and below level 1 the child's total record count), each count
    // encoded in as few bytes as its largest value needs.
    func encodedSize(_ n: UInt64) -> UInt64 { UInt64(n == 0 ? 0 : 63 - n.leadingZeroBitCount) / 8 + 1 }
    var maxRecords = (nodeSize - prefix) / recordSize
    var cumulative = maxRecords
    let leafCountSize = encodedSize(maxRecords)
    var cumulativeSize: UInt64 = 0
    if depth > 0 {
      for level in 1...depth {
        let pointer = UInt64(a) + leafCountSize + cumulativeSize
        guard nodeSize > prefix + pointer else {
          throw bad("has a node size of \(nodeSize) bytes, too small for a level-\(level) node's child pointer (depth \(depth))")
        }
        maxRecords = (nodeSize - prefix - pointer) / (recordSize + pointer)
        guard maxRecords > 0 else { throw bad("has a node size of \(nodeSize) bytes, which holds no record at level \(level) (depth \(depth))") }
        let (m, o1) = (maxRecords + 1).multipliedReportingOverflow(by: cumulative)
        let (c, o2) = m.addingReportingOverflow(maxRecords)
        guard !o1, !o2 else { throw bad("has a depth of \(depth), whose record count overflows") }
        cumulative = c
        cumulativeSize = encodedSize(cumulative)
      }
    }
    guard rootRecords <= maxRecords else {
      throw bad("declares \(rootRecords) records in its root node, more than the \(maxRecords) a node of \(nodeSize) bytes holds at depth \(depth)")
    }
    let totalRecords = field(18 + a, bytes.sizeofLength)
    // libhdf5 finds records through the root node and counts them (for listing by index) by the
    // total: a root at the undefined address with records, or a total a leaf root does not
    // hold, sends it past the node (segfaults in scripts/h5mutate.py's mutants).
    if root == bytes.undefinedAddress, rootRecords > 0 || totalRecords > 0 {
      throw bad("has \(totalRecords) records but its root node address is undefined")
    }
    guard depth > 0 ? totalRecords >= rootRecords && totalRecords <= cumulative : totalRecords == rootRecords else {
      throw bad("has \(totalRecords) records in all, which its root node of \(rootRecords) records at depth \(depth) cannot hold")
    }
    if root != bytes.undefinedAddress, !inside(root, nodeSize) {
      throw bad("has its root node at \(hex(root)) (\(nodeSize) bytes), past the end of the file (\(bytes.eof) bytes)")
    }
  }
}

/// Shared object header messages (SOHM): a file whose superblock extension (superblock version
/// 2 or 3) holds a shared-message table message (0x000F) keeps messages that several objects
/// share (datatypes, dataspaces, fill values, filter pipelines, attributes) once, in a fractal
/// heap per index of the table (`SMTB`). libhdf5 1.10 opens that heap at whatever address the
/// table gives when it decodes such a message (`H5O_shared_decode` -> `H5HF_open`): an address
/// near the top of the address space segfaulted in `H5F__accum_read` (`scripts/h5mutate.py`).
/// So the table's heaps are checked like a link-info message's heap, once per file, before the
/// first object header is checked. Section III.E (table) and IV.A.2.p (message) of the
/// HDF5 file format specification.
extension ObjectHeaderCheck {
  func checkSharedMessageTable() throws {
    guard let sb = bytes.read(bytes.base, 12), sb[8] >= 2 else { return }  // no extension before version 2
    let a = bytes.sizeofAddr
    guard let fields = bytes.read(bytes.base + 12, 2 * a) else { return }
    let ext = FileBytes.little(fields[a..<(2 * a)])
    if ext == bytes.undefinedAddress { return }
    let place = "corrupt shared-message table of the file"
    guard let m = try messages(at: ext).messages.first(where: { $0.type == 0x000F }) else { return }
    let d = m.data
    guard d.count >= 2 + a else { throw corrupt("\(place): its message is \(d.count) bytes long, too short for an address and a count") }
    let table = FileBytes.little(d[(d.startIndex + 1)..<(d.startIndex + 1 + a)])
    let count = Int(d[d.startIndex + 1 + a])
    let entry = 14 + 2 * a
    guard table != bytes.undefinedAddress, let t = bytesAt(table, 4 + count * entry) else {
      throw corrupt("\(place): the table at \(hex(table)) (\(count) indexes) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard t.prefix(4).elementsEqual("SMTB".utf8) else {
      throw corrupt("\(place): the table address \(hex(table)) does not hold a shared-message table (no `SMTB` signature)")
    }
    for i in 0..<count {
      let e = 4 + i * entry
      let stored = FileBytes.little(t[(e + 12)..<(e + 14)])
      let heap = FileBytes.little(t[(e + 14 + a)..<(e + 14 + 2 * a)])
      if heap == bytes.undefinedAddress {
        // libhdf5 opens the heap of an index holding messages even at the undefined address.
        guard stored == 0 else {
          throw corrupt("\(place): index \(i) holds \(stored) messages but its fractal heap address is undefined")
        }
        continue
      }
      try checkTarget(heap, name: "fractal heap of index \(i)", .fractalHeap, place: place)
    }
  }
}
