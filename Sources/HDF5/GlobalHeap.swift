import CHDF5
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Variable-length strings read without libhdf5's global-heap code.
///
/// A variable-length string is stored as a descriptor (4-byte length, heap address, 4-byte object
/// index) pointing into a global heap collection ("GCOL"). libhdf5 1.10 trusts all three: a
/// corrupt length makes `H5T__conv_vlen` allocate and zero up to 4 GiB per string (the fuzzer's
/// out-of-memory inputs reached 8-16 GB resident), and a corrupt collection makes `H5HG_read`
/// loop forever (an object size of 0) or fault (an index or object size past the collection:
/// it only asserts them). So for files opened read-only, string reads get the descriptors raw
/// (`chdf5_conv_raw_vlen`, which never touches the heap), and this type checks them against the
/// file's bytes and reads the strings: every collection must lie inside the file, every object
/// inside its collection, and every string inside its object. Anything else is an error naming
/// the object, before anything is sized from the stored length.
struct GlobalHeap {
  let loc: Location
  let op: String
  /// The file's bytes and the superblock's sizes (see `FileBytes`).
  let file: FileBytes
  var sizeofAddr: Int { file.sizeofAddr }
  var sizeofLength: Int { file.sizeofLength }
  /// Where address 0 is in the file (the user block's size).
  var base: UInt64 { file.base }
  /// File size in bytes.
  var eof: UInt64 { file.eof }
  func readBytes(_ offset: UInt64, _ count: Int) -> [UInt8]? { file.read(offset, count) }
  /// Parsed collections by address: object index -> (offset of its data in `bytes`, size).
  private var collections: [UInt64: (bytes: [UInt8], objects: [Int: (start: Int, size: Int)])] = [:]

  init(loc: Location, op: String, file: FileBytes) {
    self.loc = loc; self.op = op; self.file = file
  }

  /// Bytes of one descriptor as stored in the file.
  var descriptorSize: Int { 8 + sizeofAddr }

  /// The reader for `file`, or nil when its bytes are not reachable here (a file this process
  /// opened for writing: its heap may still be in libhdf5's cache; another file driver) or when
  /// this process's libhdf5 failed the raw path's self-check (`VlenSelfCheck`): then strings go
  /// through libhdf5's own conversion. Inside `Library.sync`.
  static func forFile(_ file: File, _ loc: Location, _ op: String) throws -> GlobalHeap? {
    if file.raw.libraryStringConversion || !Library.rawVlenRegistered || !VlenSelfCheck.rawPathInUse { return nil }
    guard let bytes = try file.rawBytes(loc, op) else { return nil }
    return GlobalHeap(loc: loc, op: op, file: bytes)
  }

  private func corrupt(_ detail: String) -> HDF5Error {
    loc.error(.libraryCall, op, detail,
              hint: "The file is corrupt (a variable-length string's global heap reference is broken); re-copy or regenerate it")
  }

  private static func little(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// The strings (as bytes; nil for a null string) of `count` raw descriptors, their lengths
  /// together at most `limit` bytes.
  mutating func strings(_ raw: [UInt8], count: Int, limit: Int) throws -> [[UInt8]?] {
    let d = descriptorSize
    guard raw.count == count * d else { throw corrupt("\(raw.count) descriptor bytes for \(count) strings") }
    var total = 0
    var out: [[UInt8]?] = []
    out.reserveCapacity(count)
    for i in 0..<count {
      let p = raw[(i * d)..<((i + 1) * d)]
      let length = Int(Self.little(p.prefix(4)))
      let addr = Self.little(p.dropFirst(4).prefix(sizeofAddr))
      let index = Int(Self.little(p.suffix(4)))
      if addr == 0 { out.append(nil); continue }  // libhdf5's null string
      let c = try collection(at: addr, string: i)
      guard let obj = c.objects[index], index > 0 else {
        throw corrupt("string \(i) refers to object \(index) of the global heap collection at \(addr), which does not hold it")
      }
      guard length <= obj.size else {
        throw corrupt("string \(i) declares \(length) bytes but its global heap object holds \(obj.size)")
      }
      total += length
      guard total <= limit else {
        throw loc.error(.tooLarge, op, "the strings together exceed the read limit of \(formatBytes(Double(limit)))",
                        hint: "The file is corrupt or not a model/case file")
      }
      out.append(Array(c.bytes[obj.start..<(obj.start + length)]))
    }
    return out
  }

  /// The collection at `addr` (relative to the base), read and checked once.
  private mutating func collection(at addr: UInt64, string i: Int)
    throws -> (bytes: [UInt8], objects: [Int: (start: Int, size: Int)])
  {
    if let c = collections[addr] { return c }
    let header = 8 + sizeofLength  // "GCOL", version, 3 reserved, collection size
    let (start, o1) = base.addingReportingOverflow(addr)
    guard !o1, start < eof, eof - start >= UInt64(header), let head = readBytes(start, header) else {
      throw corrupt("string \(i) refers to a global heap collection at \(addr), outside the file (\(eof) bytes)")
    }
    guard head.prefix(4).elementsEqual("GCOL".utf8), head[4] == 1 else {
      throw corrupt("string \(i) refers to address \(addr), which holds no global heap collection (no `GCOL` version 1 signature)")
    }
    let size = Self.little(head[8..<header])
    guard size >= UInt64(header), size <= eof - start, let bytes = readBytes(start, Int(size)) else {
      throw corrupt("the global heap collection at \(addr) declares \(size) bytes, more than the file holds after it")
    }
    let objectHeader = 8 + sizeofLength  // index (2), reference count (2), reserved (4), size
    var objects: [Int: (start: Int, size: Int)] = [:]
    var p = header
    let n = Int(size)
    while p < n {
      if p + objectHeader > n { break }  // too small for an object: free space, as libhdf5 reads it
      let index = Int(Self.little(bytes[p..<(p + 2)]))
      let objectSize = Self.little(bytes[(p + 8)..<(p + objectHeader)])
      guard objectSize <= UInt64(n) else {
        throw corrupt("object \(index) of the global heap collection at \(addr) declares \(objectSize) bytes, more than the collection's \(n)")
      }
      let need = index > 0 ? objectHeader + (Int(objectSize) + 7) / 8 * 8 : Int(objectSize)
      guard need > 0 else {
        throw corrupt("object \(index) of the global heap collection at \(addr) (offset \(p)) declares 0 bytes, which libhdf5 1.10 would never step past (it loops forever)")
      }
      guard p + need <= n else {
        throw corrupt("object \(index) of the global heap collection at \(addr) (\(objectSize) bytes at offset \(p)) does not fit in the collection's \(n) bytes")
      }
      if index > 0 {
        guard objects[index] == nil else {
          throw corrupt("the global heap collection at \(addr) holds object \(index) twice")
        }
        objects[index] = (p + objectHeader, Int(objectSize))
      }
      p += need
    }
    collections[addr] = (bytes, objects)
    return (bytes, objects)
  }
}

extension Reader {
  /// The raw descriptors of `count` variable-length strings (see `GlobalHeap`). Inside `sync`.
  func rawVlenDescriptors(count: Int, size: Int) throws -> [UInt8] {
    let mem = try Handle(H5Tcreate(H5T_OPAQUE, size), loc, op, close: H5Tclose)
    try loc.check(H5Tset_tag(mem.id, chdf5_raw_vlen_tag()), op)
    var buf = [UInt8](repeating: 0, count: count * size)
    let status = buf.withUnsafeMutableBytes { read(mem.id, chdf5_S_ALL(), chdf5_S_ALL(), $0.baseAddress) }
    if status < 0 { throw loc.libraryError(op) }
    return buf
  }
}
