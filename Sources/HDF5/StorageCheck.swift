/// A dataset's storage messages beyond its type and shape: fill values (0x0004, 0x0005) and the
/// version 1 B-tree that indexes a chunked dataset's chunks (layout versions 1-3). libhdf5 1.10
/// allocates a fill value of the size its message declares and copies that many bytes out of the
/// message (a declared 0xffffffff: 4 GiB asked for, then a read far past the message), and reads
/// each chunk at the address and with the size its B-tree key gives (`H5D__chunk_lock`
/// allocates the key's size first). `scripts/h5mutate.py` found both (docs/HOSTILE-INPUTS.md).
/// Layouts from the HDF5 file format specification (version 2), sections IV.A.2.e/f (fill
/// value) and III.A.1 (version 1 B-trees, type 1).
extension ObjectHeaderCheck {
  /// A fill-value message: its value inside the message.
  func checkFillValue(_ m: Message) throws {
    var c = Cursor(m.data)
    do {
      if m.type == 0x0004 {
        let size = try c.uint(4, "the fill value size")
        try c.skip(Int(size), "the fill value")
        return
      }
      let version = try c.uint(1, "the version")
      switch version {
      case 1, 2:
        try c.skip(2, "the allocation and write times")
        let defined = try c.uint(1, "the fill-value-defined flag")
        if version == 1 || defined != 0 {
          let size = try c.uint(4, "the fill value size")
          try c.skip(Int(size), "the fill value")
        }
      case 3:
        let flags = try c.uint(1, "the flags")
        if flags & 0x20 != 0 {
          let size = try c.uint(4, "the fill value size")
          try c.skip(Int(size), "the fill value")
        }
      default: break  // libhdf5 refuses other versions itself
      }
    } catch let p as Problem {
      throw corrupt("corrupt fill value message in \(noun) \(objectPath): \(p.text)")
    }
  }

  /// The chunk index of a layout message of version 1-3 with the chunked class: the B-tree at
  /// `address` whose keys hold each chunk's stored size, filter mask and `dimensions` offsets.
  func checkChunkBTree(_ address: UInt64, dimensions: Int) throws {
    if address == bytes.undefinedAddress { return }  // no chunk written yet
    let place = "corrupt chunk index of \(noun) \(objectPath)"
    let a = bytes.sizeofAddr
    let keySize = 8 + 8 * dimensions
    let k = bytes.chunkBTreeK
    var visited: Set<UInt64> = []
    func node(_ at: UInt64, level expected: Int?, what: String) throws {
      guard visited.insert(at).inserted else { throw corrupt("\(place): the B-tree node at \(hex(at)) is reached twice") }
      guard visited.count <= Self.maxBTreeNodes else { throw corrupt("\(place): its B-tree has more than \(Self.maxBTreeNodes) nodes") }
      let (level, entries, body) = try v1BTreeNode(at, type: 1, k: k, keySize: keySize, place: place, what: what)
      if let expected, level != expected {
        throw corrupt("\(place): the B-tree node at \(hex(at)) has level \(level), its parent's is \(expected + 1)")
      }
      var p = body.startIndex
      for i in 0..<entries {
        let size = FileBytes.little(body[p..<(p + 4)])
        p += keySize
        let child = FileBytes.little(body[p..<(p + a)])
        p += a
        if level > 0 {
          try node(child, level: level - 1, what: "child \(i) of the B-tree node at \(hex(at))")
        } else {
          guard size > 0, child != bytes.undefinedAddress, inside(child, size) else {
            throw corrupt("\(place): chunk \(i) of the B-tree node at \(hex(at)) is \(size) bytes at \(hex(child)), \(size == 0 ? "an empty chunk" : "past the end of the file (\(bytes.eof) bytes)")")
          }
        }
      }
    }
    try node(address, level: nil, what: "the B-tree")
  }
}
