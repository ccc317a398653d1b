import CHDF5
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a file opened read-only, for the structures rnnconf checks itself before
/// libhdf5 trusts them (`GlobalHeap`, `ObjectHeaderCheck`): read with `pread` on the file's own
/// descriptor (sec2 driver) or from the in-memory image (core driver, e.g. a `.keras` archive's
/// weights), with the superblock's sizes of addresses and lengths and the user block's size.
struct FileBytes {
  /// Bytes of an address and of a length, as the superblock declares them (2, 4 or 8).
  let sizeofAddr: Int
  let sizeofLength: Int
  /// Where address 0 is in the file (the user block's size).
  let base: UInt64
  /// File size in bytes.
  let eof: UInt64
  /// Half the most entries of a version 1 B-tree node, as the superblock declares them: group
  /// nodes (`TREE` type 0) and chunk index nodes (type 1); and half the most entries of a symbol
  /// node (`SNOD`). libhdf5 sizes each node's buffer from these, not from the node.
  var groupBTreeK = 16
  var chunkBTreeK = 32
  var symbolNodeK = 4
  /// `count` bytes at absolute offset `offset`, or nil when they cannot be read.
  let read: (_ offset: UInt64, _ count: Int) -> [UInt8]?

  /// The undefined address (all bits set), as the file stores it.
  var undefinedAddress: UInt64 { sizeofAddr == 8 ? .max : (UInt64(1) << UInt64(8 * sizeofAddr)) - 1 }

  /// The reader for an open file, or nil when its bytes are not reachable here (a file this
  /// process opened for writing: its metadata may still be in libhdf5's cache; another file
  /// driver). Inside `Library.sync`.
  static func of(_ file: File, _ loc: Location, _ op: String) throws -> FileBytes? {
    if file.isWritable { return nil }
    let fid = file.handle.id
    let fapl = try Handle(H5Fget_access_plist(fid), loc, op, close: H5Pclose)
    let fcpl = try Handle(H5Fget_create_plist(fid), loc, op, close: H5Pclose)
    var sa = 0, sl = 0
    var ub: hsize_t = 0
    try loc.check(H5Pget_sizes(fcpl.id, &sa, &sl), op)
    try loc.check(H5Pget_userblock(fcpl.id, &ub), op)
    var ik: UInt32 = 0, lk: UInt32 = 0, isk: UInt32 = 0
    try loc.check(H5Pget_sym_k(fcpl.id, &ik, &lk), op)
    try loc.check(H5Pget_istore_k(fcpl.id, &isk), op)
    guard [2, 4, 8].contains(sa), [2, 4, 8].contains(sl) else {
      throw loc.error(.libraryCall, op, "the superblock declares \(sa)-byte addresses and \(sl)-byte lengths",
                      hint: "The file is corrupt; re-copy or regenerate it")
    }
    let driver = H5Pget_driver(fapl.id)
    var handle: UnsafeMutableRawPointer?
    if driver == chdf5_FD_SEC2() {
      try loc.check(H5Fget_vfd_handle(fid, chdf5_P_DEFAULT(), &handle), op)
      guard let fd = handle?.assumingMemoryBound(to: Int32.self).pointee else { return nil }
      var st = stat()
      guard fstat(fd, &st) == 0 else { return nil }
      return FileBytes(sizeofAddr: sa, sizeofLength: sl, base: UInt64(ub), eof: UInt64(st.st_size),
                       groupBTreeK: Int(ik), chunkBTreeK: Int(isk), symbolNodeK: Int(lk)) { offset, count in
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
          let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
          if r < 0, errno == EINTR { continue }
          if r <= 0 { return nil }
          done += r
        }
        return out
      }
    }
    if driver == chdf5_FD_CORE() {
      try loc.check(H5Fget_vfd_handle(fid, chdf5_P_DEFAULT(), &handle), op)
      var size: hsize_t = 0
      try loc.check(H5Fget_filesize(fid, &size), op)
      guard let mem = handle?.assumingMemoryBound(to: UnsafeRawPointer?.self).pointee else { return nil }
      let eof = UInt64(size)
      return FileBytes(sizeofAddr: sa, sizeofLength: sl, base: UInt64(ub), eof: eof,
                       groupBTreeK: Int(ik), chunkBTreeK: Int(isk), symbolNodeK: Int(lk)) { offset, count in
        guard offset <= eof, UInt64(count) <= eof - offset else { return nil }
        return Array(UnsafeRawBufferPointer(start: mem + Int(offset), count: count))
      }
    }
    return nil
  }

  /// A little-endian unsigned integer.
  static func little(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }
}

/// What a read-only `File` keeps about its own bytes, made once (inside `Library.sync`).
struct RawFileState {
  /// nil until asked; then the reader, or nil inside when the bytes are not reachable.
  var bytes: FileBytes??
  /// Object headers already checked, by address: nil for a good one, else the error it gives.
  var checkedHeaders: [UInt64: HDF5Error?] = [:]
  /// The shared-message table, once checked: nil inside when good, else its error.
  var sharedMessageTable: HDF5Error??
  /// Read variable-length strings through libhdf5's own conversion, as after a failed
  /// `VlenSelfCheck` (an internal switch, for tests of that path).
  var libraryStringConversion = false
}

extension File {
  /// The file's bytes (see `FileBytes.of`), looked up once per open file. Inside `Library.sync`.
  func rawBytes(_ loc: Location, _ op: String) throws -> FileBytes? {
    if let known = raw.bytes { return known }
    let b = try FileBytes.of(self, loc, op)
    raw.bytes = .some(b)
    return b
  }
}

/// The superblock's driver information block, checked from the file's bytes before `H5Fopen`.
/// libhdf5 1.10 reads a version 0/1 superblock's driver information block at whatever address the
/// superblock gives and allocates (and zero-fills, past the end of the file) the size the block
/// declares: a 12 KB fuzzed case file whose driver-block address pointed into the superblock
/// itself declared 4,278,190,080 bytes, and opening it took 4.2 GB resident (a FuzzCaseLoader
/// finding, `Data/fuzz-oom-driver-block.h5`). A defined address must lie inside the file with the
/// block's whole declared size. Other superblock versions keep driver information elsewhere and
/// are left to libhdf5. `read(offset, count)` reads the file's bytes; `length` is its size.
func checkDriverInfoBlock(length: UInt64, read: (UInt64, Int) -> [UInt8]?, _ loc: Location, _ op: String) throws {
  // the superblock is at 0, 512, 1024, 2048, ... (after a user block)
  var at: UInt64 = 0
  while at + 8 <= length {
    if let sig = read(at, 8), sig == [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] { break }
    at = at == 0 ? 512 : at * 2
  }
  guard at + 16 <= length, let head = read(at, 16) else { return }  // libhdf5 reports these itself
  let version = head[8], sa = Int(head[13])
  guard version <= 1, [2, 4, 8].contains(sa) else { return }
  let fields = at + (version == 0 ? 24 : 28)  // base, free space, end of file, driver block
  guard let raw = read(fields, 4 * sa) else { return }
  let base = FileBytes.little(raw[0..<sa]), driver = FileBytes.little(raw[(3 * sa)..<(4 * sa)])
  let undefined: UInt64 = sa == 8 ? .max : (UInt64(1) << UInt64(8 * sa)) - 1
  if driver == undefined { return }
  func corrupt(_ detail: String) -> HDF5Error {
    loc.error(.libraryCall, op, "the superblock's driver information block " + detail,
              hint: "The file is corrupt (its superblock is damaged; libhdf5 would allocate what it declares); re-copy or regenerate it")
  }
  let (start, o1) = base.addingReportingOverflow(driver)
  guard !o1, start <= length, length - start >= 16, let block = read(start, 16) else {
    throw corrupt("at 0x\(String(driver, radix: 16)) is past the end of the file (\(length) bytes)")
  }
  let size = FileBytes.little(block[4..<8])
  guard size <= length - start - 16 else {
    throw corrupt("at 0x\(String(driver, radix: 16)) declares \(size) bytes, past the end of the file (\(length) bytes)")
  }
}
