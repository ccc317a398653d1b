import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem reading or writing a file outside libhdf5 (a special file, a size beyond a
/// stated cap, an I/O failure). Names the path and what to do; never a bare Cocoa code.
public struct FileIOError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
  public var path: String
  public var detail: String
  public init(path: String, detail: String) { self.path = path; self.detail = detail }
  public var description: String { "\(path): \(detail)" }
  public var errorDescription: String? { description }
}

/// Checks and reads for files that other people made: only regular files are opened
/// (a FIFO, socket or device named `x.h5` is refused by its type, never opened blocking),
/// and whole-file reads are bounded by a stated cap.
public enum RegularFile {
  /// What kind of non-regular file `mode` describes, or nil for a regular file or a directory.
  public static func special(mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG, S_IFDIR: return nil
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFLNK: return "a symbolic link"
    default: return "a special file (mode \(String(mode & S_IFMT, radix: 8)))"
    }
  }

  /// Why `path` (symlinks followed) cannot be read as a regular file: it is a FIFO, socket or
  /// device. nil for a regular file, a directory or a path that does not exist (callers say those).
  public static func specialKind(path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return special(mode: st.st_mode)
  }

  /// The sentence used for a special file: "a FIFO (named pipe), not a regular file; ...".
  public static func refusal(_ kind: String) -> String {
    "it is \(kind), not a regular file; only regular files are read (nothing was opened)"
  }

  /// Opens `path` read-only without blocking and checks that it is a regular file.
  /// Returns the descriptor and the file's size; the caller closes the descriptor.
  public static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
    if let kind = specialKind(path: path) { throw FileIOError(path: path, detail: refusal(kind)) }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else {
      throw FileIOError(path: path, detail: "cannot open the file (\(String(cString: strerror(errno))))")
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      let why = String(cString: strerror(errno)); close(fd)
      throw FileIOError(path: path, detail: "cannot stat the file (\(why))")
    }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      close(fd)
      throw FileIOError(path: path, detail: "it is a directory, not a file")
    }
    if let kind = special(mode: st.st_mode) {
      close(fd)
      throw FileIOError(path: path, detail: refusal(kind))
    }
    return (fd, Int(st.st_size))
  }

  /// Reads a whole regular file, refusing it before allocating when it is larger than `limit`
  /// bytes (`what` names the cap in the error, e.g. "the JSON size cap").
  public static func read(_ path: String, limit: Int, what: String = "the read cap") throws -> [UInt8] {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    guard size <= limit else {
      throw FileIOError(path: path, detail: "the file is \(size) bytes, more than \(what) of \(limit) bytes; nothing was read")
    }
    var out = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
      let n = out.withUnsafeMutableBytes { buf in systemRead(fd, buf.baseAddress! + done, size - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw FileIOError(path: path, detail: "cannot read the file (\(String(cString: strerror(errno))))")
      }
      if n == 0 { break }  // shrank while reading: keep what is there
      done += n
    }
    if done < size { out.removeSubrange(done...) }
    return out
  }
}

/// `read(2)`, named apart from `RegularFile.read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
  read(fd, buffer, count)
}
