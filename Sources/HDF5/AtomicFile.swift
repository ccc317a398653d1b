import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that a reader sees either the previous file or the complete new one:
/// the bytes go to a hidden temporary file in the same folder (`.<name>.tmp-<random>`),
/// which is flushed to disk (fsync) and renamed over the destination only when complete.
/// A kill, a full disk or a failing write leaves the previous file at the path untouched
/// (a kill may leave the hidden temporary file behind; a failure removes it).
///
///     try AtomicFile.write(Data(json.utf8), to: "report.json")
///     try AtomicFile.write(to: "out.h5") { tmp in ... write the whole file at `tmp` ... }
public enum AtomicFile {
  /// Writes `data` (`Data`, `[UInt8]`, ...) to `path` atomically.
  public static func write<Bytes: ContiguousBytes>(_ data: Bytes, to path: String) throws {
    try write(to: path, streaming: { append in try data.withUnsafeBytes { try append($0) } })
  }

  /// Writes `path` atomically in pieces: `body` calls `append` with each piece in order (a
  /// prediction written slice by slice never holds the whole file). A failing write throws a
  /// `FileIOError` naming `path`; the temporary file is then removed and the previous file kept.
  public static func write(to path: String,
                           streaming body: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    try write(to: path) { tmp in
      let fd = open(tmp, O_WRONLY | O_TRUNC | O_CLOEXEC)
      guard fd >= 0 else { throw failure(path, "cannot open the temporary file `\(tmp)`", errno) }
      defer { close(fd) }
      try body { buf in
        var done = 0
        while done < buf.count {
          let n = systemWrite(fd, buf.baseAddress! + done, buf.count - done)
          if n < 0 {
            if errno == EINTR { continue }
            throw failure(path, "cannot write", errno)
          }
          done += n
        }
      }
    }
  }

  /// Reserves a temporary file next to `path`, lets `body` write the whole file at the
  /// temporary path (it may truncate and reopen it, as libhdf5 does), then flushes it and
  /// renames it onto `path`. When `body` or the flush throws, the temporary file is removed
  /// and the previous file at `path` is unchanged.
  public static func write(to path: String, _ body: (String) throws -> Void) throws {
    let tmp = try reserveTemporary(next: path)
    do {
      try body(tmp)
      let fd = open(tmp, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else { throw failure(path, "cannot reopen the temporary file `\(tmp)`", errno) }
      let synced = fsync(fd)
      let syncErrno = errno
      close(fd)
      guard synced == 0 else { throw failure(path, "cannot flush the file to disk", syncErrno) }
      guard rename(tmp, path) == 0 else { throw failure(path, "cannot move the finished file into place", errno) }
    } catch {
      unlink(tmp)
      throw error
    }
    // Make the rename itself durable; a failure here loses nothing already visible.
    let dfd = open(folder(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 { _ = fsync(dfd); close(dfd) }
  }

  /// Checks before any work that `path` can be written: it is not a directory, and its
  /// folder exists and accepts a new file (tried by creating and removing a probe file,
  /// which also catches read-only file systems and root-owned folders).
  public static func checkWritable(_ path: String) throws {
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
      throw FileIOError(path: path, detail: "is a directory; give a file path inside it")
    }
    let tmp = try reserveTemporary(next: path)
    unlink(tmp)
  }

  /// The folder a path is in ("." for a bare name).
  static func folder(of path: String) -> String {
    let dir = (path as NSString).deletingLastPathComponent
    return dir.isEmpty ? "." : dir
  }

  /// Creates an empty, hidden, uniquely named file in `path`'s folder (mode 0666 less the umask).
  static func reserveTemporary(next path: String) throws -> String {
    let dir = folder(of: path)
    let base = (path as NSString).lastPathComponent
    for _ in 0..<16 {
      let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
      let tmp = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/") + ".\(base).tmp-\(suffix)"
      let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if fd >= 0 { close(fd); return tmp }
      if errno == EEXIST { continue }
      throw failure(path, "cannot create a file in the folder `\(dir)`", errno)
    }
    throw FileIOError(path: path, detail: "cannot create a temporary file in the folder `\(dir)` (16 names taken)")
  }

  static func failure(_ path: String, _ what: String, _ code: Int32) -> FileIOError {
    let why = String(cString: strerror(code))
    var hint = ""
    switch code {
    case EACCES, EPERM: hint = "; check the folder's permissions or choose another path"
    case EROFS: hint = "; the file system is read-only, choose another path"
    case ENOSPC, EDQUOT: hint = "; free some space or choose another disk"
    case EFBIG: hint = "; the file size limit (ulimit -f) was reached"
    case ENOENT, ENOTDIR:
      if access(folder(of: path), F_OK) != 0 { hint = "; the folder does not exist, create it or choose another path" }
    default: break
    }
    return FileIOError(path: path, detail: "\(what) (\(why))\(hint); any previous file at this path is unchanged")
  }
}

/// `write(2)`, named apart from `AtomicFile.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
  write(fd, buffer, count)
}

extension File {
  /// Creates an HDF5 file at `path` atomically: `body` fills a new file (as `create(path:)`
  /// makes it) built in memory, whose bytes are then written with `AtomicFile.write`. libhdf5
  /// never writes to disk here, so a full disk or a size limit is one clean `FileIOError`, and
  /// a kill leaves the previous file at `path` intact. HDF5 errors name `path`.
  public static func createAtomically(path: String, _ body: (File) throws -> Void) throws {
    try AtomicFile.write(try image(of: path, body), to: path)
  }

  /// The file is closed when this returns and drops the last reference.
  private static func image(of path: String, _ body: (File) throws -> Void) throws -> [UInt8] {
    let f = try File.create(path: path, inMemory: true)
    try body(f)
    try f.flush()
    return try f.image()
  }
}
