import CHDF5
import Foundation

/// The process-wide gate to libhdf5. Every C call in this module runs inside
/// `Library.sync`, which holds one recursive lock (correct whether or not the
/// library was built thread-safe) and initializes the library once (`H5open`).
///
/// Automatic error printing is switched off on every call: Debian's libhdf5
/// 1.10.8 *is* built with `H5_HAVE_THREADSAFE`, and in such a build the
/// error-stack settings are per thread, so switching it off once would leave
/// other threads printing `HDF5-DIAG` to stderr.
enum Library {
  private static let lock = NSRecursiveLock()

  /// Whether `chdf5_conv_raw_vlen` is registered (set once, by `initialized`).
  nonisolated(unsafe) static var rawVlenRegistered = false

  private static let initialized: Bool = {
    _ = H5open()
    _ = H5Eset_auto2(chdf5_E_DEFAULT(), nil, nil)
    // Variable-length strings are read through their raw descriptors (GlobalHeap.swift).
    rawVlenRegistered = chdf5_register_raw_vlen() >= 0
    _ = H5Eclear2(chdf5_E_DEFAULT())
    return true
  }()

  /// Runs `body` holding the libhdf5 lock.
  static func sync<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    _ = initialized
    _ = H5Eset_auto2(chdf5_E_DEFAULT(), nil, nil)
    return try body()
  }

  /// Walks libhdf5's error stack of the calling thread (API call first, innermost
  /// cause last), then clears it. Call right after a failing C call, inside `sync`.
  static func takeErrorStack() -> [String] {
    final class Box { var lines: [String] = [] }
    let box = Box()
    let unmanaged = Unmanaged.passRetained(box)
    defer { unmanaged.release() }
    _ = H5Ewalk2(chdf5_E_DEFAULT(), H5E_WALK_DOWNWARD, { _, err, client in
      guard let err, let client else { return 0 }
      let box = Unmanaged<Box>.fromOpaque(client).takeUnretainedValue()
      let e = err.pointee
      let fn = e.func_name.map(decodeCString) ?? "?"
      var desc = e.desc.map(decodeCString) ?? ""
      if desc.isEmpty {
        var buf = [CChar](repeating: 0, count: 256)
        var type = H5E_MINOR
        if H5Eget_msg(e.min_num, &type, &buf, 256) > 0 { desc = decodeCChars(buf) }
      }
      let line = "\(fn): \(desc)"
      if box.lines.last != line { box.lines.append(line) }
      return 0
    }, unmanaged.toOpaque())
    _ = H5Eclear2(chdf5_E_DEFAULT())
    return box.lines
  }

  /// The libhdf5 version, e.g. "1.10.8".
  static var version: String {
    sync {
      var maj: UInt32 = 0, min: UInt32 = 0, rel: UInt32 = 0
      _ = H5get_libversion(&maj, &min, &rel)
      return "\(maj).\(min).\(rel)"
    }
  }
}

/// Where an operation happens, for error messages.
struct Location: Sendable {
  var file: String
  var path: String?

  func error(_ kind: HDF5Error.Kind, _ operation: String, _ detail: String, hint: String? = nil,
             library: [String] = []) -> HDF5Error {
    HDF5Error(kind, file: file, objectPath: path, operation: operation, detail: detail, hint: hint,
              libraryMessages: library)
  }

  /// Must be called inside `Library.sync`, right after the failing call.
  func libraryError(_ operation: String, hint: String? = nil) -> HDF5Error {
    let stack = Library.takeErrorStack()
    return error(.libraryCall, operation, stack.isEmpty ? "libhdf5 reported a failure" : "libhdf5 call failed",
                 hint: hint ?? "Check that the file is a complete, readable HDF5 file (re-copy or regenerate it)",
                 library: stack)
  }

  /// Checks an id returned by libhdf5. Inside `sync`.
  func checkID(_ id: hid_t, _ operation: String, hint: String? = nil) throws -> hid_t {
    if id < 0 || H5Iis_valid(id) <= 0 { throw libraryError(operation, hint: hint) }
    return id
  }

  /// Checks an herr_t/htri_t/ssize_t-like status (negative is failure). Inside `sync`.
  @discardableResult
  func check<I: BinaryInteger>(_ status: I, _ operation: String, hint: String? = nil) throws -> I {
    if status < 0 { throw libraryError(operation, hint: hint) }
    return status
  }

  func child(_ name: String) -> Location {
    Location(file: file, path: joinPath(path ?? "/", name))
  }
}

func joinPath(_ parent: String, _ name: String) -> String {
  if name.hasPrefix("/") { return name }
  return parent.hasSuffix("/") ? parent + name : parent + "/" + name
}

/// One libhdf5 identifier this process owns; closed once, under the lock, when released.
final class Handle {
  let id: hid_t
  private let close: (hid_t) -> herr_t

  /// Takes ownership of `id` after checking it is valid. Inside `sync`.
  init(_ id: hid_t, _ location: Location, _ operation: String, hint: String? = nil,
       close: @escaping (hid_t) -> herr_t) throws {
    self.id = try location.checkID(id, operation, hint: hint)
    self.close = close
  }

  deinit {
    let id = self.id, close = self.close
    Library.sync {
      if H5Iis_valid(id) > 0 { _ = close(id) }
      // A failed close must not leave a stale stack for the next call.
      _ = H5Eclear2(chdf5_E_DEFAULT())
    }
  }
}

/// A NUL-terminated C string, decoded leniently (for names and libhdf5 messages).
func decodeCString(_ p: UnsafePointer<CChar>) -> String {
  let n = strlen(p)
  return p.withMemoryRebound(to: UInt8.self, capacity: n) {
    String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
  }
}

/// A buffer holding a NUL-terminated C string.
func decodeCChars(_ buf: [CChar]) -> String {
  let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
  return String(decoding: bytes, as: UTF8.self)
}

/// A name no link or attribute is expected to have. Listing names by index (`H5Lget_name_by_idx`,
/// `H5Aget_name_by_idx`) makes libhdf5 1.10 build a table of every link or attribute message
/// of an object stored in its header; when one of them cannot be decoded (a corrupt file),
/// releasing the half-built table double-frees or dereferences garbage (`H5G__link_release_table`,
/// `H5A__attr_release_table`: SIGABRT and SIGSEGV in `inspect`'s walk, found by the fuzzer).
/// Looking this name up first (`H5Lexists`, `H5Aexists`) decodes the same messages one by one
/// without a table, so a message that cannot be decoded is an error before any table is built.
let listingProbeName = "\u{1}rnnconf: no such name\u{1}"

/// Throws when the probe lookup (`H5Lexists`/`H5Aexists` of `listingProbeName`) failed: a `what`
/// ("link", "attribute") message in the object's header cannot be decoded. Inside `sync`.
func checkListingProbe(_ status: htri_t, _ loc: Location, _ op: String, what: String) throws {
  guard status < 0 else { return }
  var e = loc.libraryError(op, hint: "The file is corrupt; re-copy or regenerate it")
  e.detail = "a\(what.first == "a" ? "n" : "") \(what) message in its object header cannot be decoded"
  throw e
}

/// The most names `namesByIndex` lists from one object (a count from the file beyond this is
/// refused before anything is sized from it).
let maxListedNames: UInt64 = 1 << 24

/// The `count` names of an index (links or attributes), in creation order when
/// `tracked` and that index answers, else in name order. `getName(index, i, buf, size)`
/// is `H5Lget_name_by_idx` or `H5Aget_name_by_idx` on the object; a nil buffer asks
/// for the length. `count` is what libhdf5 read from the file (a corrupt v2 B-tree header's
/// record count gave 2^64 - 1): beyond `maxListedNames` it is an error. Inside `sync`.
func namesByIndex(
  count: hsize_t, tracked: Bool, location loc: Location, what: String,
  getName: (H5_index_t, hsize_t, UnsafeMutablePointer<CChar>?, Int) -> Int
) throws -> [String] {
  guard count <= maxListedNames else {
    throw loc.error(.libraryCall, "list \(what)s",
                    "the file declares \(count) \(what)s here, more than the \(maxListedNames) this reader lists",
                    hint: "The file is corrupt (a count in its metadata is damaged); re-copy or regenerate it")
  }
  func names(_ index: H5_index_t) throws -> [String] {
    var out: [String] = []
    for i in 0..<count {
      let len = try loc.check(getName(index, i, nil, 0), "get \(what) name")
      var buf = [CChar](repeating: 0, count: len + 1)
      try loc.check(getName(index, i, &buf, buf.count), "get \(what) name")
      out.append(decodeCChars(buf))
    }
    return out
  }
  if tracked, let byOrder = try? names(H5_INDEX_CRT_ORDER) { return byOrder }
  _ = H5Eclear2(chdf5_E_DEFAULT())
  return try names(H5_INDEX_NAME)
}
