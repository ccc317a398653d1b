import Foundation
import HDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A recursive folder search that survives what other people's folders hold:
/// - every real directory is searched at most once (by device and inode), so symlink loops
///   (`self -> .`, `parent -> ..`) neither hang nor duplicate cases. Real subfolders are
///   searched before folders reached through a directory symlink, so a case keeps the name of
///   its real path; a symlink to a folder outside the tree is followed once, and a symlink to an
///   ancestor of the searched folder is not followed (it would search the tree again and beyond);
/// - only regular files are taken as they are: a FIFO, socket or device with a matching name is
///   returned with a `problem` (never opened, so never waited on);
/// - a name that is not valid UTF-8 cannot be opened by path and is returned with a `problem`
///   (with its bytes escaped), never dropped silently; so is a subfolder that cannot be read.
/// Hidden entries (`.name`) and folders named in `skipping` are not searched.
struct DirectoryWalk {
  struct Found: Equatable {
    var path: String
    /// Why the entry cannot be used as a file, when it cannot.
    var problem: String?
  }

  struct Identity: Hashable {
    var device: UInt64
    var inode: UInt64
  }

  var suffix: String
  var skipping: Set<String>
  /// Also find ONNX backend test data sets: each `test_data_set_N` folder beside a `model.onnx`
  /// (ONNXBackend.swift) is returned as a found path.
  var onnxBackendFolders = false

  static func identity(_ path: String) -> Identity? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
    return Identity(device: UInt64(truncatingIfNeeded: st.st_dev), inode: UInt64(truncatingIfNeeded: st.st_ino))
  }

  /// `path` with bytes that are not UTF-8 shown as `\xNN`.
  static func escaped(_ bytes: [UInt8]) -> String {
    var out = ""
    var i = 0
    while i < bytes.count {
      // Longest valid UTF-8 sequence starting here (1-4 bytes), else one escaped byte.
      var taken = false
      for n in stride(from: min(4, bytes.count - i), through: 1, by: -1) {
        if let s = String(validating: bytes[i..<(i + n)], as: UTF8.self), s.unicodeScalars.count == 1 {
          out += s; i += n; taken = true; break
        }
      }
      if !taken { out += String(format: "\\x%02x", bytes[i]); i += 1 }
    }
    return out
  }

  /// All matching files under `root` (sorted by name within each folder).
  func search(root: String) -> [Found] {
    var visited: Set<Identity> = []
    var ancestors: Set<Identity> = []
    // The physical ancestors (`root/..`, `root/../..`, ...: the kernel resolves `..` after symlinks).
    var up = root
    for _ in 0..<1024 {
      up += "/.."
      guard let id = Self.identity(up), !ancestors.contains(id) else { break }
      ancestors.insert(id)
    }
    guard let rootID = Self.identity(root) else { return [] }
    visited.insert(rootID)
    var out: [Found] = []
    var deferred: [String] = []
    walk(root, isRoot: true, visited: &visited, deferred: &deferred, out: &out)
    var k = 0
    while k < deferred.count {
      let link = deferred[k]; k += 1
      guard let id = Self.identity(link), !visited.contains(id), !ancestors.contains(id) else { continue }
      visited.insert(id)
      walk(link, isRoot: false, visited: &visited, deferred: &deferred, out: &out)
    }
    return out
  }

  private func walk(_ folder: String, isRoot: Bool, visited: inout Set<Identity>, deferred: inout [String],
                    out: inout [Found]) {
    guard let dir = opendir(folder) else {
      if !isRoot {
        out.append(Found(path: folder, problem: "cannot read the folder (\(String(cString: strerror(errno)))); "
          + "its cases were not searched; fix its permissions"))
      }
      return
    }
    var names: [[UInt8]] = []
    while let ent = readdir(dir) {
      let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
      if name.first == UInt8(ascii: ".") { continue }  // hidden, `.` and `..`
      names.append(name)
    }
    closedir(dir)
    names.sort { $0.lexicographicallyPrecedes($1) }
    if onnxBackendFolders, names.contains(Array(ONNXBackend.modelFileName.utf8)) {
      let texts = names.compactMap { String(validating: $0, as: UTF8.self) }
      for set in ONNXBackend.dataSets(among: texts) where DirectoryWalk.identity(folder + "/" + set) != nil {
        out.append(Found(path: folder + "/" + set, problem: nil))
      }
    }
    let suffixBytes = Array(suffix.utf8)
    for raw in names {
      guard let name = String(validating: raw, as: UTF8.self) else {
        let path = folder + "/" + Self.escaped(raw)
        let isDir = isDirectory(folder: folder, name: raw)
        if isDir || raw.count >= suffixBytes.count && Array(raw.suffix(suffixBytes.count)) == suffixBytes {
          out.append(Found(path: path, problem: "the \(isDir ? "folder" : "file") name is not valid UTF-8, so it "
            + "cannot be opened by name\(isDir ? " or searched" : ""); rename it (e.g. `convmv -f latin1 -t utf8`)"))
        }
        continue
      }
      let path = folder + "/" + name
      var lst = stat(), st = stat()
      guard lstat(path, &lst) == 0 else { continue }
      let isLink = (lst.st_mode & S_IFMT) == S_IFLNK
      guard stat(path, &st) == 0 else { continue }  // dangling symlink
      if (st.st_mode & S_IFMT) == S_IFDIR {
        if skipping.contains(name) { continue }
        if isLink { deferred.append(path); continue }
        guard let id = Self.identity(path), !visited.contains(id) else { continue }
        visited.insert(id)
        walk(path, isRoot: false, visited: &visited, deferred: &deferred, out: &out)
      } else if name.hasSuffix(suffix) {
        if let kind = RegularFile.special(mode: st.st_mode) {
          out.append(Found(path: path, problem: RegularFile.refusal(kind)))
        } else {
          out.append(Found(path: path, problem: nil))
        }
      }
    }
  }

  /// Whether `folder/<raw name bytes>` is a directory (for names that are not UTF-8).
  private func isDirectory(folder: String, name: [UInt8]) -> Bool {
    let bytes = Array(folder.utf8) + [UInt8(ascii: "/")] + name + [0]
    var st = stat()
    let ok = bytes.withUnsafeBufferPointer { buf in
      buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { stat($0, &st) }
    }
    return ok == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }
}
