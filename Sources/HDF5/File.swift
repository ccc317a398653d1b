import CHDF5
import Foundation

/// An open HDF5 file. Groups, datasets and attributes opened from it keep it
/// alive; it closes when the last of them is released.
///
///     let file = try File(path: "case.h5")          // read-only
///     let x: [Double] = try file.dataset("inputs/input").read()
public final class File {
  let handle: Handle
  /// The path it was opened with.
  public let path: String
  public let isWritable: Bool
  /// This file's bytes and the object headers checked in them (`ObjectHeaderCheck`); inside `Library.sync`.
  var raw = RawFileState()

  /// Opens an existing file read-only (or read-write). A path that is missing, a
  /// directory, empty or not HDF5 throws an `HDF5Error` saying what it is.
  public init(path: String, writable: Bool = false) throws {
    let loc = Location(file: path, path: nil)
    let op = writable ? "open file for writing" : "open file"
    switch FileKind.sniff(path: path) {
    case .hdf5: break
    case .missing:
      throw loc.error(.fileNotFound, op, "no such file", hint: "Check the path")
    case .directory:
      throw loc.error(.isDirectory, op, "it is a directory, not a file", hint: "Pass an HDF5 file inside it")
    case let other:
      throw loc.error(.notHDF5, op, "not an HDF5 file: it is \(other.description)",
                      hint: "Pass an HDF5 file (.h5/.hdf5, starting with the bytes \\x89HDF\\r\\n\\x1a\\n)")
    }
    self.path = path
    self.isWritable = writable
    if !writable, let (fd, size) = try? RegularFile.openForReading(path) {
      defer { close(fd) }
      try checkDriverInfoBlock(length: UInt64(size), read: { offset, count in
        var out = [UInt8](repeating: 0, count: count)
        let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(offset)) }
        return r == count ? out : nil
      }, loc, op)
    }
    do {
      self.handle = try Library.sync {
        let flags = writable ? chdf5_F_ACC_RDWR() : chdf5_F_ACC_RDONLY()
        let fapl = try File.accessWithoutLocks(loc)
        return try Handle(H5Fopen(path, flags, fapl.id), loc, op,
                          hint: "The file starts like HDF5 but libhdf5 cannot open it: it may be truncated or corrupt; re-copy or regenerate it",
                          close: H5Fclose)
      }
    } catch var e as HDF5Error {
      if let m = e.libraryMessages.first(where: { $0.contains("truncated file") }) {
        let numbers = m.range(of: "truncated file:").map { m[$0.upperBound...].trimmingCharacters(in: .whitespaces) } ?? m
        e.detail = "the file is truncated (\(numbers); eof is the size on disk, stored_eof the size written)"
        e.hint = "It is shorter than its superblock says: the copy or download was cut off; re-copy or regenerate it"
      }
      throw e
    }
  }

  /// Opens an HDF5 file held in memory (e.g. `model.weights.h5` read out of a
  /// `.keras` zip, or an artifact carried in a case file) read-only, without
  /// writing it to disk. `name` labels it in errors (`model.keras!model.weights.h5`).
  public init(image: [UInt8], name: String) throws {
    let loc = Location(file: name, path: nil)
    let kind = FileKind.sniff(bytes: image)
    guard kind == .hdf5 else {
      throw loc.error(.notHDF5, "open in-memory file", "not an HDF5 image: it is \(kind.description)",
                      hint: "Pass the bytes of an HDF5 file")
    }
    self.path = name
    self.isWritable = false
    try checkDriverInfoBlock(length: UInt64(image.count), read: { offset, count in
      offset <= UInt64(image.count) && UInt64(count) <= UInt64(image.count) - offset
        ? Array(image[Int(offset)..<(Int(offset) + count)]) : nil
    }, loc, "open in-memory file")
    self.handle = try Library.sync {
      let fapl = try Handle(H5Pcreate(chdf5_P_FILE_ACCESS()), loc, "open in-memory file", close: H5Pclose)
      try loc.check(H5Pset_fapl_core(fapl.id, 1 << 16, false), "open in-memory file")
      try image.withUnsafeBytes { buf in
        // libhdf5 copies the image into its own buffer.
        _ = try loc.check(H5Pset_file_image(fapl.id, UnsafeMutableRawPointer(mutating: buf.baseAddress), buf.count),
                          "open in-memory file")
      }
      return try Handle(H5Fopen(name, chdf5_F_ACC_RDONLY(), fapl.id), loc, "open in-memory file",
                        hint: "The bytes start like HDF5 but libhdf5 cannot open them: truncated or corrupt", close: H5Fclose)
    }
  }

  private init(handle: Handle, path: String) {
    self.handle = handle; self.path = path; self.isWritable = true
  }

  /// Creates (truncating) a file for writing. Groups created in it track the
  /// creation order of links and attributes, as h5py's `track_order=True`.
  public static func create(path: String) throws -> File {
    try create(path: path, inMemory: false)
  }

  /// Creates a file on disk, or only in memory (core driver without a backing store: nothing
  /// touches `path`, which only labels errors; `image()` then gives the bytes).
  /// A file access property list without libhdf5's file locks (see `chdf5_disable_file_locking`:
  /// a child process would inherit a lock and hold it). Inside `sync`.
  static func accessWithoutLocks(_ loc: Location) throws -> Handle {
    let fapl = try Handle(H5Pcreate(chdf5_P_FILE_ACCESS()), loc, "create file access property list", close: H5Pclose)
    try loc.check(chdf5_disable_file_locking(fapl.id), "disable file locking")
    return fapl
  }

  static func create(path: String, inMemory: Bool) throws -> File {
    let loc = Location(file: path, path: nil)
    let handle = try Library.sync { () throws -> Handle in
      let fcpl = try Handle(H5Pcreate(chdf5_P_FILE_CREATE()), loc, "create file property list", close: H5Pclose)
      let order = chdf5_P_CRT_ORDER_TRACKED() | chdf5_P_CRT_ORDER_INDEXED()
      try loc.check(H5Pset_link_creation_order(fcpl.id, order), "set link creation order")
      try loc.check(H5Pset_attr_creation_order(fcpl.id, order), "set attribute creation order")
      let fapl = try File.accessWithoutLocks(loc)
      if inMemory {
        try loc.check(H5Pset_fapl_core(fapl.id, 1 << 20, false), "create in-memory file")
      }
      return try Handle(H5Fcreate(path, chdf5_F_ACC_TRUNC(), fcpl.id, fapl.id), loc, "create file",
                        hint: "Check that the directory exists and is writable", close: H5Fclose)
    }
    return File(handle: handle, path: path)
  }

  /// The bytes of the whole file as it stands (for a file created in memory: what writing it
  /// to disk would produce).
  public func image() throws -> [UInt8] {
    try Library.sync {
      let loc = location
      let n = try loc.check(H5Fget_file_image(handle.id, nil, 0), "get file image")
      var bytes = [UInt8](repeating: 0, count: Int(n))
      let m = try bytes.withUnsafeMutableBytes { buf in
        try loc.check(H5Fget_file_image(handle.id, buf.baseAddress, Int(n)), "get file image")
      }
      guard m == n else { throw loc.error(.libraryCall, "get file image", "libhdf5 gave \(m) of \(n) bytes") }
      return bytes
    }
  }

  var location: Location { Location(file: path, path: nil) }

  /// The root group `/`.
  public var root: Group {
    get throws { try Group(file: self, path: "/", parentID: handle.id, name: "/") }
  }

  /// Opens a group by path from the root (`"model_weights/lstm"`).
  public func group(_ path: String) throws -> Group { try root.group(path) }
  /// Opens a dataset by path from the root (`"weights/rnn/lstm_cell/kernel"`).
  public func dataset(_ path: String) throws -> Dataset { try root.dataset(path) }
  /// Whether a link exists at `path` (every intermediate group included).
  public func exists(_ path: String) throws -> Bool { try root.exists(path) }

  /// Flushes written data to disk.
  public func flush() throws {
    try Library.sync { _ = try location.check(H5Fflush(handle.id, H5F_SCOPE_GLOBAL), "flush file") }
  }

  /// The libhdf5 version in use, e.g. "1.10.8".
  public static var libraryVersion: String { Library.version }
}

/// What a path holds, judged from its first bytes (never from its extension).
public enum FileKind: Equatable, Sendable, CustomStringConvertible {
  case missing
  case directory
  case empty
  case hdf5
  /// `PK\x03\x04`: a zip archive, e.g. a Keras 3 `.keras` file.
  case zip
  /// Starts with `{` or `[`: JSON text (e.g. a Keras `to_json()` architecture).
  case json
  /// Other text.
  case text
  /// Other binary data (first bytes in hex).
  case unknown(magic: String)
  /// Exists but cannot be read.
  case unreadable(String)

  public var description: String {
    switch self {
    case .missing: return "missing (no such file)"
    case .directory: return "a directory"
    case .empty: return "an empty file (0 bytes)"
    case .hdf5: return "an HDF5 file"
    case .zip: return "a zip archive (a Keras 3 .keras file?)"
    case .json: return "JSON text (a Keras to_json() architecture?)"
    case .text: return "a text file"
    case let .unknown(magic): return "binary data of unknown format (first bytes \(magic))"
    case let .unreadable(why): return "unreadable (\(why))"
    }
  }

  /// Sniffs a path. HDF5 is recognized at offset 0 or at the userblock
  /// offsets 512, 1024, 2048, ... as the HDF5 specification allows.
  public static func sniff(path: String) -> FileKind {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return .missing }
    if isDir.boolValue { return .directory }
    // Only regular files are opened (non-blocking): a FIFO named `x.h5` would block forever.
    let fd: Int32
    do { fd = try RegularFile.openForReading(path).fd } catch let e as FileIOError { return .unreadable(e.detail) }
      catch { return .unreadable("\(error)") }
    let fh = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
    defer { try? fh.close() }
    let head: Data
    do { head = try fh.read(upToCount: 512) ?? Data() } catch { return .unreadable("\(error)") }
    if head.isEmpty { return .empty }
    if head.starts(with: signature) { return .hdf5 }
    // A zip (a `.keras` archive) stores `model.weights.h5` uncompressed, so an
    // HDF5 signature shows up at a userblock offset inside it: zip wins.
    if isZip([UInt8](head)) { return .zip }
    let size = (try? fh.seekToEnd()) ?? 0
    var offset: UInt64 = 512
    while offset + 8 <= size {
      if (try? fh.seek(toOffset: offset)) != nil, let d = try? fh.read(upToCount: 8), d.elementsEqual(signature) {
        return .hdf5
      }
      offset *= 2
    }
    return classify(head: [UInt8](head))
  }

  static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

  /// Sniffs bytes held in memory, the same way.
  public static func sniff(bytes: [UInt8]) -> FileKind {
    if bytes.isEmpty { return .empty }
    if !bytes.starts(with: signature) && isZip(bytes) { return .zip }
    var offset = 0
    while offset + 8 <= bytes.count {
      if bytes[offset..<(offset + 8)].elementsEqual(signature) { return .hdf5 }
      offset = offset == 0 ? 512 : offset * 2
    }
    return classify(head: Array(bytes.prefix(512)))
  }

  private static func isZip(_ head: [UInt8]) -> Bool {
    head.starts(with: [0x50, 0x4b, 0x03, 0x04]) || head.starts(with: [0x50, 0x4b, 0x05, 0x06])
  }

  private static func classify(head: [UInt8]) -> FileKind {
    if isZip(head) { return .zip }
    let bytes = head
    let firstNonSpace = bytes.first { ![0x20, 0x09, 0x0a, 0x0d, 0xef, 0xbb, 0xbf].contains($0) }
    let textual = bytes.allSatisfy { $0 >= 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
      && String(validating: bytes.prefix(400), as: UTF8.self) != nil
    if let c = firstNonSpace, c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { return .json }
    if textual { return .text }
    return .unknown(magic: bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " "))
  }
}
