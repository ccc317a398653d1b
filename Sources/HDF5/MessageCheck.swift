/// Attribute (0x000C), datatype (0x0003) and dataspace (0x0001) messages, read from an object
/// header's bytes the way libhdf5 1.10's decoders will read them, so that every byte they read
/// lies inside the message (issue 11: libhdf5 `memcpy`s an attribute's data, nelmts x the
/// datatype's size, from the message without checking that it is there, and follows a
/// datatype's member and enum names to their NUL wherever that is).
///
/// Layouts from the HDF5 file format specification (version 2), sections IV.A.2.b (dataspace),
/// IV.A.2.d (datatype) and IV.A.2.m (attribute).
extension ObjectHeaderCheck {
  /// Nested datatypes (compound members, enum/vlen/array base types) deeper than this are refused.
  static let maxTypeDepth = 32
  /// libhdf5's `H5S_MAX_RANK`.
  static let maxRank = 32

  /// What is wrong inside one message, before the message and object are named.
  struct Problem: Error, Equatable {
    let text: String
    init(_ text: String) { self.text = text }
  }

  /// Reads fields front to back from one message's (or one type's) bytes, never past them.
  struct Cursor {
    let bytes: ArraySlice<UInt8>
    var at: Int
    init(_ bytes: ArraySlice<UInt8>) {
      self.bytes = bytes
      at = bytes.startIndex
    }

    var offset: Int { at - bytes.startIndex }
    var remaining: Int { bytes.endIndex - at }

    mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
      guard count >= 0, count <= remaining else {
        throw Problem("\(what) (\(count) bytes at offset \(offset)) runs past the end of its \(bytes.count) bytes")
      }
      defer { at += count }
      return bytes[at..<(at + count)]
    }

    mutating func skip(_ count: Int, _ what: String) throws { _ = try take(count, what) }

    mutating func uint(_ count: Int, _ what: String) throws -> UInt64 { FileBytes.little(try take(count, what)) }

    /// A NUL-terminated name (libhdf5 `strdup`s it), then padding to a multiple of `pad` bytes
    /// counting the NUL.
    mutating func name(_ what: String, pad: Int) throws -> String {
      guard let nul = bytes[at...].firstIndex(of: 0) else {
        throw Problem("\(what) has no NUL terminator before the end of its \(bytes.count) bytes")
      }
      let name = String(decoding: bytes[at..<nul], as: UTF8.self)
      try skip(Self.padded(nul - at + 1, pad), "\(what) `\(name)` with its padding")
      return name
    }

    static func padded(_ n: Int, _ pad: Int) -> Int { pad > 1 ? (n + pad - 1) / pad * pad : n }
  }

  static let classNames = ["fixed-point", "floating-point", "time", "string", "bitfield", "opaque",
                           "compound", "reference", "enum", "variable-length", "array"]

  /// Checks one datatype at the cursor (and every type nested in it, inside the same bytes)
  /// and returns the size of one element as libhdf5 will take it: the size field, or, for a
  /// variable-length type or an array, what libhdf5 computes when larger.
  static func datatype(_ c: inout Cursor, depth: Int, sizeofAddr: Int) throws -> UInt64 {
    guard depth <= maxTypeDepth else { throw Problem("datatypes nested more than \(maxTypeDepth) deep") }
    let head = try c.take(8, "the datatype's class, version, bit field and size")
    let s = head.startIndex
    let cls = Int(head[s] & 0x0f), version = Int(head[s] >> 4)
    let bits = FileBytes.little(head[(s + 1)..<(s + 4)])
    let size = FileBytes.little(head[(s + 4)..<(s + 8)])
    guard (1...3).contains(version) else { throw Problem("datatype version \(version) (class \(cls)), not 1, 2 or 3") }
    guard cls < classNames.count else { throw Problem("unknown datatype class \(cls)") }
    let kind = classNames[cls]
    func nested(_ what: String, _ c: inout Cursor) throws -> UInt64 {
      do { return try datatype(&c, depth: depth + 1, sizeofAddr: sizeofAddr) } catch let p as Problem {
        throw Problem("\(what): \(p.text)")
      }
    }
    switch cls {
    case 0, 4: try c.skip(4, "the \(kind) type's bit offset and precision")
    case 1: try c.skip(12, "the floating-point type's properties")
    case 2: try c.skip(2, "the time type's precision")
    case 5: try c.skip(Int(bits & 0xff), "the opaque type's tag")
    case 6:
      let count = Int(bits & 0xffff)
      for i in 0..<count {
        let name = try c.name("compound member \(i)'s name", pad: version < 3 ? 8 : 1)
        let member = "compound member \(i) `\(name)`"
        // Version 3 encodes the byte offset in as few bytes as the compound's size needs.
        let offsetBytes = version >= 3 ? (size == 0 ? 1 : (63 - size.leadingZeroBitCount) / 8 + 1) : 4
        try c.skip(offsetBytes, "\(member)'s byte offset")
        if version == 1 {
          let rank = try c.uint(1, "\(member)'s dimensionality")
          guard rank <= 4 else { throw Problem("\(member) has \(rank) dimensions, more than 4") }
          try c.skip(3 + 4 + 4 + 16, "\(member)'s permutation and dimensions")
        }
        _ = try nested("\(member)'s datatype", &c)
      }
    case 8:
      let count = Int(bits & 0xffff)
      let base = try nested("the enum's base type", &c)
      for i in 0..<count { _ = try c.name("enum member \(i)'s name", pad: version < 3 ? 8 : 1) }
      let (total, o) = UInt64(count).multipliedReportingOverflow(by: base)
      guard !o, total <= UInt64(c.remaining) else {
        throw Problem("the enum's \(count) values need \(o ? "more than 2^64" : "\(total)") bytes (\(count) x \(base)), \(c.remaining) are left")
      }
      try c.skip(Int(total), "the enum's values")
    case 9:
      _ = try nested("the variable-length type's base type", &c)
      return max(size, UInt64(8 + sizeofAddr))  // length, global heap address and index on disk
    case 10:
      let rank = try c.uint(1, "the array's rank")
      guard rank <= UInt64(maxRank) else { throw Problem("an array type of rank \(rank), more than \(maxRank)") }
      if version < 3 { try c.skip(3, "the array's reserved bytes") }
      var n: UInt64 = 1
      for k in 0..<Int(rank) {
        let (m, o) = n.multipliedReportingOverflow(by: try c.uint(4, "array dimension \(k)"))
        guard !o else { throw Problem("the array's element count overflows") }
        n = m
      }
      if version < 3 { try c.skip(4 * Int(rank), "the array's permutation") }
      let base = try nested("the array's base type", &c)
      let (total, o) = n.multipliedReportingOverflow(by: base)
      guard !o else { throw Problem("the array's size overflows (\(n) x \(base))") }
      return max(size, total)
    default: break  // string, reference: no properties
    }
    return size
  }

  /// Checks a dataspace's bytes; returns its number of elements (null 0, scalar 1).
  static func dataspace(_ bytes: ArraySlice<UInt8>, sizeofLength: Int) throws -> UInt64 {
    var c = Cursor(bytes)
    let version = try c.uint(1, "the dataspace version")
    guard version == 1 || version == 2 else { throw Problem("dataspace version \(version), not 1 or 2") }
    let rank = Int(try c.uint(1, "the dataspace rank"))
    guard rank <= maxRank else { throw Problem("a dataspace of rank \(rank), more than \(maxRank)") }
    let flags = try c.uint(1, "the dataspace flags")
    var isNull = false
    if version == 1 {
      try c.skip(5, "the dataspace's reserved bytes")
    } else {
      let type = try c.uint(1, "the dataspace type")
      guard type <= 2 else { throw Problem("dataspace type \(type), not 0 (scalar), 1 (simple) or 2 (null)") }
      isNull = type == 2
    }
    var n: UInt64 = 1
    for k in 0..<rank {
      let (m, o) = n.multipliedReportingOverflow(by: try c.uint(sizeofLength, "dataspace dimension \(k)"))
      guard !o else { throw Problem("the dataspace's element count overflows") }
      n = m
    }
    if flags & 0x01 != 0 { try c.skip(rank * sizeofLength, "the dataspace's maximum dimensions") }
    return isNull ? 0 : n
  }

  /// A shared-message reference in place of a datatype or dataspace (attribute message flags):
  /// only its bounds, the object it names is not followed.
  func sharedReference(_ data: ArraySlice<UInt8>, _ what: String) throws {
    var c = Cursor(data)
    let version = try c.uint(1, "the shared \(what)'s version")
    let type = try c.uint(1, "the shared \(what)'s type")
    switch version {
    case 1: try c.skip(6 + bytes.sizeofAddr, "the shared \(what)'s address")
    case 2: try c.skip(bytes.sizeofAddr, "the shared \(what)'s address")
    case 3: try c.skip(type == 1 ? 8 : bytes.sizeofAddr, "the shared \(what)'s location")
    default: throw Problem("shared \(what) reference version \(version), not 1, 2 or 3")
    }
  }

  /// An attribute message: version 1-3, the name, the datatype, the dataspace, then the data,
  /// all inside the message.
  func checkAttribute(_ m: Message) throws {
    var name: String?
    var c = Cursor(m.data)
    do {
      let version = try c.uint(1, "the version")
      guard (1...3).contains(version) else { throw Problem("version \(version), not 1, 2 or 3") }
      let flags = try c.uint(1, "the flags")
      if version >= 2, flags & ~0x03 != 0 { throw Problem("unknown flags 0x\(String(flags, radix: 16))") }
      let shared = version >= 2 ? flags : 0
      let nameLength = Int(try c.uint(2, "the name length"))
      let typeSize = Int(try c.uint(2, "the datatype size"))
      let spaceSize = Int(try c.uint(2, "the dataspace size"))
      if version >= 3 { try c.skip(1, "the name encoding") }
      let pad = version == 1 ? 8 : 1
      let nameBytes = try c.take(nameLength, "the name")
      guard let nul = nameBytes.firstIndex(of: 0) else {
        throw Problem("its name (\(nameLength) bytes) has no NUL terminator")
      }
      name = String(decoding: nameBytes[..<nul], as: UTF8.self)
      try c.skip(Cursor.padded(nameLength, pad) - nameLength, "the name's padding")
      let typeBytes = try c.take(typeSize, "its datatype")
      try c.skip(Cursor.padded(typeSize, pad) - typeSize, "the datatype's padding")
      let spaceBytes = try c.take(spaceSize, "its dataspace")
      try c.skip(Cursor.padded(spaceSize, pad) - spaceSize, "the dataspace's padding")
      var elementSize: UInt64?
      if shared & 0x01 != 0 {
        try sharedReference(typeBytes, "datatype")
      } else {
        var t = Cursor(typeBytes)
        do { elementSize = try Self.datatype(&t, depth: 0, sizeofAddr: bytes.sizeofAddr) } catch let p as Problem {
          throw Problem("its datatype: \(p.text)")
        }
      }
      var count: UInt64?
      if shared & 0x02 != 0 {
        try sharedReference(spaceBytes, "dataspace")
      } else {
        do { count = try Self.dataspace(spaceBytes, sizeofLength: bytes.sizeofLength) } catch let p as Problem {
          throw Problem("its dataspace: \(p.text)")
        }
      }
      if let size = elementSize, let count {
        let (total, o) = count.multipliedReportingOverflow(by: size)
        guard !o, total <= UInt64(c.remaining) else {
          throw Problem("its data needs \(o ? "more than 2^64" : "\(total)") bytes (\(count) x \(size)), the message holds \(c.remaining)")
        }
      }
    } catch let p as Problem {
      throw corrupt("corrupt attribute message\(name.map { " `\($0)`" } ?? "") in \(noun) \(objectPath): \(p.text)")
    }
  }

  /// A data layout message (0x0008), versions 1-3: libhdf5 1.10 `memcpy`s a compact dataset's
  /// data (its size from the message) out of the message (1.10.8 checks that size against the
  /// message itself; this names it first), and reads a chunked dataset's chunks through the
  /// version 1 B-tree the message names (walked by `checkChunkBTree`). Version 4 and the
  /// contiguous class's address and size are not checked (libhdf5 refused every broken one
  /// `scripts/h5mutate.py` made, cleanly).
  func checkLayout(_ m: Message) throws {
    var c = Cursor(m.data)
    var chunkIndex: (address: UInt64, dimensions: Int)?
    do {
      let version = try c.uint(1, "the version")
      switch version {
      case 1, 2:
        let rank = Int(try c.uint(1, "the dimensionality"))
        let cls = try c.uint(1, "the layout class")
        try c.skip(5, "the reserved bytes")
        var address: UInt64 = 0
        if cls != 0 { address = try c.uint(bytes.sizeofAddr, "the data address") }
        try c.skip(4 * rank, "the dimensions")
        if cls == 0 {
          let size = Int(try c.uint(4, "the compact data size"))
          try c.skip(size, "the compact data")
        } else if cls == 2 {
          chunkIndex = (address, rank)
        }
      case 3:
        let cls = try c.uint(1, "the layout class")
        if cls == 0 {
          let size = Int(try c.uint(2, "the compact data size"))
          try c.skip(size, "the compact data")
        } else if cls == 2 {
          let rank = Int(try c.uint(1, "the dimensionality"))
          chunkIndex = (try c.uint(bytes.sizeofAddr, "the chunk index address"), rank)
        }
      default: break
      }
    } catch let p as Problem {
      throw corrupt("corrupt data layout message in \(noun) \(objectPath): \(p.text)")
    }
    if let chunkIndex { try checkChunkBTree(chunkIndex.address, dimensions: chunkIndex.dimensions) }
  }

  /// A datatype, dataspace or attribute message marked shared in its header (message flag bit 1):
  /// a shared-message reference, checked for its version and bounds only.
  func checkSharedMessage(_ m: Message) throws {
    let what = m.type == 0x0003 ? "datatype" : m.type == 0x0001 ? "dataspace" : "attribute"
    do { try sharedReference(m.data, what) } catch let p as Problem {
      throw corrupt("corrupt shared \(what) message in \(noun) \(objectPath): \(p.text)")
    }
  }

  /// A dataset's own datatype or dataspace message (not a shared reference).
  func checkTypeOrSpace(_ m: Message) throws {
    do {
      if m.type == 0x0003 {
        var c = Cursor(m.data)
        _ = try Self.datatype(&c, depth: 0, sizeofAddr: bytes.sizeofAddr)
      } else {
        _ = try Self.dataspace(m.data, sizeofLength: bytes.sizeofLength)
      }
    } catch let p as Problem {
      throw corrupt("corrupt \(m.type == 0x0003 ? "datatype" : "dataspace") message in \(noun) \(objectPath): \(p.text)")
    }
  }
}
