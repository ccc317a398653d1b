import CHDF5
import Foundation

/// Object headers read from the file's bytes before libhdf5 looks anything up in them.
///
/// libhdf5 1.10 trusts the addresses in a link-info message (type 0x0002: the fractal heap and
/// the v2 B-trees of a group's dense link storage) and in an attribute-info message (0x0015, the
/// same for dense attribute storage): `H5Lexists`, `H5Gget_info`, `H5Aexists`, ... open the
/// name-index B-tree at whatever address the message holds (`H5G__obj_get_linfo` /
/// `H5A__get_ainfo` -> `H5B2_open`), and a garbage address near the top of the address space
/// makes `H5F__accum_read` `memcpy` from a wild pointer: a segfault in process. Version 1 object
/// headers (what h5py writes by default) carry no checksum, so one flipped bit is enough.
///
/// So before libhdf5 is asked about a group, dataset or their attributes, rnnconf reads the
/// object's header itself (version 1 or 2 prefix, every chunk reached through continuation
/// messages, each inside the file, at most `maxChunks` chunks, `maxMessages` messages and
/// `maxHeaderBytes` bytes) and checks every link-info message, and every attribute-info message
/// of a version 2 header (libhdf5 ignores them in version 1 headers): version 0, known flags,
/// long enough for its fields, and each address either undefined (all bits set) or inside the
/// file, holding the structure it names: a fractal heap (`FRHP`, version 0) or a v2 B-tree
/// (`BTHD`, version 0, of the right type), whole. Anything else is an `HDF5Error` naming the
/// file, the object and the field, thrown before libhdf5 is called. The same pass reads every
/// attribute, datatype, dataspace and data layout message inside its bytes the way libhdf5's
/// decoders will (MessageCheck.swift). Each header is checked once per open file
/// (`File.raw.checkedHeaders`, by address).
struct ObjectHeaderCheck {
  let bytes: FileBytes
  /// The file and the object's path, for errors.
  let loc: Location
  let op: String
  /// "group", "dataset" or "object", for errors.
  let noun: String

  static let maxChunks = 1_024
  static let maxMessages = 65_536
  static let maxHeaderBytes = 64 << 20

  /// One message of the header: its type, where its data starts in the file (relative address)
  /// and its data.
  struct Message {
    var type: Int
    /// The message flags (bit 1: the data is a shared-message reference).
    var flags: UInt8 = 0
    var address: UInt64
    var data: ArraySlice<UInt8>
  }

  /// What an address of a link-info or attribute-info message must point at.
  enum Target {
    case fractalHeap
    case btree(type: UInt8, what: String)

    var signature: String {
      switch self {
      case .fractalHeap: return "FRHP"
      case .btree: return "BTHD"
      }
    }

    /// The fewest bytes of its header (with the file's sizes), checksum included.
    func headerSize(_ b: FileBytes) -> Int {
      switch self {
      case .fractalHeap: return 26 + 12 * b.sizeofLength + 3 * b.sizeofAddr
      case .btree: return 22 + b.sizeofAddr + b.sizeofLength
      }
    }
  }

  func hex(_ a: UInt64) -> String { "0x" + String(a, radix: 16) }

  func corrupt(_ detail: String) -> HDF5Error {
    loc.error(.libraryCall, op, detail,
              hint: "The file is corrupt (its object header at this path is damaged; libhdf5 would read garbage there); re-copy or regenerate it")
  }

  var objectPath: String { loc.path ?? "/" }

  /// `count` bytes at relative address `address`, all inside the file.
  private func read(_ address: UInt64, _ count: Int, _ what: String) throws -> [UInt8] {
    let (start, overflow) = bytes.base.addingReportingOverflow(address)
    guard !overflow, start <= bytes.eof, UInt64(count) <= bytes.eof - start, let out = bytes.read(start, count) else {
      throw corrupt("the object header of \(noun) \(objectPath): \(what) at \(hex(address)) (\(count) bytes) is past the end of the file (\(bytes.eof) bytes)")
    }
    return out
  }

  /// Every message of the header at `address` (relative to the base), chunk by chunk.
  func messages(at address: UInt64) throws -> (version: Int, messages: [Message]) {
    let (headStart, headOverflow) = bytes.base.addingReportingOverflow(address)
    guard !headOverflow, headStart < bytes.eof else {
      throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) is past the end of the file (\(bytes.eof) bytes)")
    }
    let first = try read(address, Int(min(6, bytes.eof - headStart)), "the header")
    var version = 0
    var messageHeader = 8
    var chunks: [(address: UInt64, size: Int)] = []
    if first.count >= 6, first.prefix(4).elementsEqual("OHDR".utf8) {
      version = Int(first[4])
      guard version == 2 else {
        throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) has version \(version), not 2")
      }
      let flags = first[5]
      var prefix = 6
      if flags & 0x20 != 0 { prefix += 16 }  // access, modification, change, birth times
      if flags & 0x10 != 0 { prefix += 4 }   // attribute storage phase change values
      let sizeBytes = 1 << Int(flags & 0x03)
      let head = try read(address, prefix + sizeBytes, "the header prefix")
      let size = FileBytes.little(head[prefix..<(prefix + sizeBytes)])
      guard size <= UInt64(Self.maxHeaderBytes) else {
        throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) declares a first chunk of \(size) bytes, more than the \(Self.maxHeaderBytes) this reader allows")
      }
      messageHeader = 4 + (flags & 0x04 != 0 ? 2 : 0)
      let (start, o) = address.addingReportingOverflow(UInt64(prefix + sizeBytes))
      guard !o else { throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) runs past the address space") }
      _ = try read(start, Int(size) + 4, "the first chunk")  // messages and checksum inside the file
      chunks.append((start, Int(size)))
    } else if first.count >= 1, first[0] == 1 {
      version = 1
      let head = try read(address, 16, "the header prefix")
      let size = FileBytes.little(head[8..<12])
      chunks.append((address + 16, Int(size)))
    } else {
      throw corrupt("there is no object header for \(noun) \(objectPath) at \(hex(address)) (no `OHDR` signature, first byte \(first.first ?? 0) is not version 1)")
    }

    var messages: [Message] = []
    var visited: Set<UInt64> = [address]
    var total = 0
    var next = 0
    while next < chunks.count {
      let chunk = chunks[next]
      next += 1
      total += chunk.size
      guard total <= Self.maxHeaderBytes else {
        throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) spans more than \(Self.maxHeaderBytes) bytes")
      }
      var region = try read(chunk.address, chunk.size, "chunk \(next - 1)")[...]
      var regionAddress = chunk.address
      if next > 1, version == 2 {  // "OCHK", messages, checksum
        guard region.count >= 8, region.prefix(4).elementsEqual("OCHK".utf8) else {
          throw corrupt("the object header of \(noun) \(objectPath): its continuation chunk at \(hex(chunk.address)) has no `OCHK` signature")
        }
        region = region.dropFirst(4).dropLast(4)
        regionAddress += 4
      }
      var p = region.startIndex
      while region.endIndex - p >= messageHeader {
        let type = version == 1 ? Int(FileBytes.little(region[p..<(p + 2)])) : Int(region[p])
        let sizeAt = version == 1 ? p + 2 : p + 1
        let size = Int(FileBytes.little(region[sizeAt..<(sizeAt + 2)]))
        let dataStart = p + messageHeader
        guard size <= region.endIndex - dataStart else {
          throw corrupt("the object header of \(noun) \(objectPath): message \(messages.count) (type 0x\(String(type, radix: 16))) declares \(size) bytes, past the end of its chunk at \(hex(chunk.address))")
        }
        let data = region[dataStart..<(dataStart + size)]
        let flags = region[version == 1 ? p + 4 : p + 3]
        messages.append(Message(type: type, flags: flags, address: regionAddress + UInt64(dataStart - region.startIndex), data: data))
        guard messages.count <= Self.maxMessages else {
          throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) holds more than \(Self.maxMessages) messages")
        }
        if type == 0x0010 {  // continuation: address, length
          let need = bytes.sizeofAddr + bytes.sizeofLength
          guard size >= need else {
            throw corrupt("the object header of \(noun) \(objectPath): a continuation message of \(size) bytes is too short for an address and a length (\(need))")
          }
          let to = FileBytes.little(data.prefix(bytes.sizeofAddr))
          let length = FileBytes.little(data.dropFirst(bytes.sizeofAddr).prefix(bytes.sizeofLength))
          guard length <= UInt64(Self.maxHeaderBytes) else {
            throw corrupt("the object header of \(noun) \(objectPath): a continuation chunk at \(hex(to)) declares \(length) bytes, more than the \(Self.maxHeaderBytes) this reader allows")
          }
          if visited.insert(to).inserted {
            guard chunks.count < Self.maxChunks else {
              throw corrupt("the object header of \(noun) \(objectPath) at \(hex(address)) has more than \(Self.maxChunks) chunks")
            }
            chunks.append((to, Int(length)))
          }
        }
        p = dataStart + size
      }
    }
    return (version, messages)
  }

  /// Checks the header at `address`: every link-info message, every attribute-info message of
  /// a version 2 header, every attribute message, and every datatype and dataspace message (see
  /// MessageCheck.swift; one marked shared, message flag bit 1, is a shared-message reference:
  /// only its version and bounds), and a compact data layout's data inside its message.
  func check(at address: UInt64) throws {
    let (version, messages) = try messages(at: address)
    for m in messages {
      switch m.type {
      case 0x0002: try checkInfo(m, links: true)
      case 0x0015 where version > 1: try checkInfo(m, links: false)
      case 0x0008 where m.flags & 0x02 == 0: try checkLayout(m)
      case 0x0011 where m.flags & 0x02 == 0: try checkSymbolTable(m)
      case 0x0004 where m.flags & 0x02 == 0, 0x0005 where m.flags & 0x02 == 0: try checkFillValue(m)
      case 0x0001, 0x0003, 0x000C:
        if m.flags & 0x02 != 0 {
          try checkSharedMessage(m)
        } else if m.type == 0x000C {
          try checkAttribute(m)
        } else {
          try checkTypeOrSpace(m)
        }
      default: break
      }
    }
  }

  /// A link-info or attribute-info message: version 0, flags (bit 0 creation order tracked,
  /// bit 1 indexed), the largest creation index when tracked (8 bytes for links, 2 for
  /// attributes), the fractal heap's address, the name index's address, and the creation-order
  /// index's address when indexed.
  private func checkInfo(_ m: Message, links: Bool) throws {
    let what = links ? "link-info" : "attribute-info"
    let place = "corrupt \(what) message in \(noun) \(objectPath)"
    let d = m.data
    guard d.count >= 2 else { throw corrupt("\(place): it is \(d.count) bytes long, too short for a version and flags") }
    let version = d[d.startIndex], flags = d[d.startIndex + 1]
    guard version == 0 else { throw corrupt("\(place): version \(version), not 0") }
    guard flags & ~0x03 == 0 else { throw corrupt("\(place): unknown flags 0x\(String(flags, radix: 16))") }
    var p = d.startIndex + 2 + (flags & 0x01 != 0 ? (links ? 8 : 2) : 0)
    let a = bytes.sizeofAddr
    var fields: [(String, Target)] = [
      ("fractal heap", .fractalHeap),
      ("name-index B-tree", .btree(type: links ? 5 : 8, what: links ? "link names" : "attribute names")),
    ]
    if flags & 0x02 != 0 {
      fields.append(("creation-order B-tree", .btree(type: links ? 6 : 9, what: links ? "link creation order" : "attribute creation order")))
    }
    guard d.endIndex - p >= fields.count * a else {
      throw corrupt("\(place): it is \(d.count) bytes long, too short for its \(fields.count) addresses")
    }
    var heapDefined = false
    for (k, (name, target)) in fields.enumerated() {
      let address = FileBytes.little(d[p..<(p + a)])
      p += a
      if k == 0 { heapDefined = address != bytes.undefinedAddress }
      if address == bytes.undefinedAddress {
        // With a heap, libhdf5 opens the name index wherever it is said to be, even at the
        // undefined address (a wrapped read: a segfault in `H5B2_open`; scripts/h5mutate.py).
        if k == 1, heapDefined {
          throw corrupt("\(place): it has a fractal heap but its name-index B-tree address is undefined")
        }
        continue
      }
      try checkTarget(address, name: name, target, place: place)
    }
  }

  func checkTarget(_ address: UInt64, name: String, _ target: Target, place: String) throws {
    let size = target.headerSize(bytes)
    let (start, overflow) = bytes.base.addingReportingOverflow(address)
    guard !overflow, start <= bytes.eof, UInt64(size) <= bytes.eof - start, let head = bytes.read(start, size) else {
      throw corrupt("\(place): \(name) address \(hex(address)) is past the end of the file (\(bytes.eof) bytes)")
    }
    guard head.prefix(4).elementsEqual(target.signature.utf8) else {
      throw corrupt("\(place): \(name) address \(hex(address)) does not hold a \(name.hasSuffix("B-tree") ? "v2 B-tree" : "fractal heap") (no `\(target.signature)` signature)")
    }
    guard head[4] == 0 else {
      throw corrupt("\(place): the \(name) at \(hex(address)) has version \(head[4]), not 0")
    }
    if case let .btree(type, what) = target, head[5] != type {
      throw corrupt("\(place): the \(name) at \(hex(address)) is a v2 B-tree of type \(head[5]), not \(type) (\(what))")
    }
    switch target {
    case .fractalHeap: try checkFractalHeap(head, at: address, name: name, place: place)
    case .btree: try checkV2BTree(head, at: address, name: name, place: place)
    }
  }
}

extension File {
  /// Checks the object header at `address` (see `ObjectHeaderCheck`) once per open file; a
  /// file this process opened for writing, or whose bytes are not reachable, is not checked.
  /// Inside `Library.sync`.
  func checkObjectHeader(address: UInt64, path: String, noun: String, _ op: String) throws {
    if isWritable { return }
    try checkSharedMessageTable(op)
    if let known = raw.checkedHeaders[address] {
      if let e = known { throw e }
      return
    }
    let loc = Location(file: self.path, path: path)
    guard let b = try rawBytes(loc, op) else { return }
    do {
      try ObjectHeaderCheck(bytes: b, loc: loc, op: op, noun: noun).check(at: address)
      raw.checkedHeaders[address] = .some(nil)
    } catch let e as HDF5Error {
      raw.checkedHeaders[address] = .some(e)
      throw e
    }
  }

  /// Checks the file's shared-message table (see `checkSharedMessageTable()`) once per open
  /// file, before its first object header. Inside `Library.sync`.
  func checkSharedMessageTable(_ op: String) throws {
    if let known = raw.sharedMessageTable {
      if let e = known { throw e }
      return
    }
    let loc = Location(file: path, path: nil)
    guard let b = try rawBytes(loc, op) else { return }
    do {
      try ObjectHeaderCheck(bytes: b, loc: loc, op: op, noun: "superblock extension").checkSharedMessageTable()
      raw.sharedMessageTable = .some(nil)
    } catch let e as HDF5Error {
      raw.sharedMessageTable = .some(e)
      throw e
    }
  }

  /// Checks the header of the object open as `id` (its address from `H5Oget_info2`, which only
  /// reads the header). Inside `Library.sync`.
  func checkObjectHeader(id: hid_t, path: String, _ op: String) throws {
    if isWritable { return }
    let loc = Location(file: self.path, path: path)
    var info = H5O_info_t()
    try loc.check(H5Oget_info2(id, &info, chdf5_O_INFO_BASIC()), op)
    try checkObjectHeader(address: UInt64(info.addr), path: path, noun: Self.noun(info.type), op)
  }

  /// Checks the header of the object at `name` relative to the open object `id`, whose groups
  /// on the way are already checked (`H5Oget_info_by_name2` looks the name up, then reads only
  /// the target's header). Returns its info. Inside `Library.sync`.
  @discardableResult
  func checkObjectHeader(at id: hid_t, _ name: String, path: String, _ op: String) throws -> H5O_info_t {
    let loc = Location(file: self.path, path: path)
    var info = H5O_info_t()
    try loc.check(H5Oget_info_by_name2(id, name, &info, chdf5_O_INFO_BASIC(), chdf5_P_DEFAULT()), op)
    try checkObjectHeader(address: UInt64(info.addr), path: path, noun: Self.noun(info.type), op)
    return info
  }

  static func noun(_ type: H5O_type_t) -> String {
    switch type {
    case H5O_TYPE_GROUP: return "group"
    case H5O_TYPE_DATASET: return "dataset"
    default: return "object"
    }
  }
}
