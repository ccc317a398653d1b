import Foundation
import HDF5
import RNNRef

/// A case file found on disk, before it is loaded.
public struct CaseFile: Equatable, Hashable, Sendable {
  /// The case's root attribute `name` when the file has one (not blank); otherwise the name its
  /// path gives: `<framework>/<case>` from the nearest folder named after a framework, without
  /// `.h5`, else the path relative to the folder searched (or the file stem). fixtures/README.md, "Case names".
  public var name: String
  public var path: String
  /// Named on the command line (a file that is not a case is then an error, not skipped).
  public var explicit: Bool
  /// Why the file cannot be opened at all (a FIFO, socket or device; a name that is not UTF-8;
  /// an unreadable folder): the case is then an ERROR with this message, and the file is never opened.
  public var problem: String?
  /// Set when the stored `name` attribute and the path disagree: the warning a run prints once.
  public var nameWarning: String?

  public init(name: String, path: String, explicit: Bool, problem: String? = nil, nameWarning: String? = nil) {
    self.name = name; self.path = path; self.explicit = explicit; self.problem = problem; self.nameWarning = nameWarning
  }
}

/// What was found under the paths of a run.
public struct Discovery: Equatable, Sendable {
  /// In a stable order: by name, then path.
  public var files: [CaseFile]
  /// Folders searched (for the default expectations file).
  public var folders: [String]

  /// Folders skipped while searching: generator sources and Keras artifacts extracted next to cases.
  public static let skippedFolders: Set<String> = ["generate", "artifacts"]

  /// Finds case files. `paths` empty means the bundled suite: `fixtures/` in `currentDirectory`,
  /// else `fixtures/` in the package the executable was built from.
  /// Throws `ConformanceError.usage` for a missing path or a folder without case files.
  /// `readStoredNames`: name each case by its root attribute `name` when present (reads that one
  /// attribute of every HDF5 file found); false names every case by its path and opens no file
  /// (`run --isolate`, where only child processes may open a file).
  public static func find(paths: [String], currentDirectory: String = FileManager.default.currentDirectoryPath,
                          executablePath: String? = Discovery.executablePath(),
                          readStoredNames: Bool = true) throws -> Discovery {
    var paths = paths
    if paths.isEmpty {
      guard let suite = bundledSuite(currentDirectory: currentDirectory, executablePath: executablePath) else {
        throw ConformanceError.usage(
          "no `fixtures/` folder in the current directory (\(currentDirectory)) or in the package of this "
            + "executable; run from the repository root or pass case files or folders")
      }
      paths = [suite]
    }
    let fm = FileManager.default
    var files: [CaseFile] = []
    var folders: [String] = []
    for raw in paths {
      let path = absolute(raw, in: currentDirectory)
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ConformanceError.usage("path `\(raw)` does not exist; pass case files (*.h5) or folders that hold them")
      }
      if isDir.boolValue, ONNXBackend.isDataSet(path: path) {
        // One data set of an ONNX backend test named on the command line.
        files.append(CaseFile(name: backendName(caseName(path: path, root: nil), path: path), path: path, explicit: true))
      } else if isDir.boolValue {
        let found = search(folder: path, root: path)
        guard !found.isEmpty else {
          throw ConformanceError.usage(
            "folder `\(raw)` holds no case files (*.h5, or ONNX backend test folders: model.onnx with test_data_set_N/; searched recursively, skipping generate/ and artifacts/)")
        }
        folders.append(path)
        files += found
      } else {
        files.append(CaseFile(name: caseName(path: path, root: nil), path: path, explicit: true,
                              problem: RegularFile.specialKind(path: path).map(RegularFile.refusal)))
      }
    }
    // One entry per file (an explicit mention wins), in a stable order.
    var byPath: [String: CaseFile] = [:]
    for f in files {
      if let old = byPath[f.path] { byPath[f.path] = old.explicit ? old : f } else { byPath[f.path] = f }
    }
    if readStoredNames {
      for (path, f) in byPath where f.problem == nil {
        guard let stored = storedName(path: path), stored != f.name else { continue }
        byPath[path]?.name = stored
        // Only the framework folder missing from the path (`my_gru.h5` named `pytorch/my_gru`): no warning.
        guard !stored.hasSuffix("/" + f.name) else { continue }
        byPath[path]?.nameWarning = "`\(path)`: the case's `name` attribute is `\(stored)` but its path names it `\(f.name)`; "
          + "rnnconf uses `\(stored)` (the attribute). Rename the file (or its folder), or rewrite the attribute, so the two agree"
      }
    }
    let sorted = byPath.values.sorted { ($0.name, $0.path) < ($1.name, $1.path) }
    return Discovery(files: sorted, folders: folders)
  }

  /// Case files (`*.h5`) under `folder`, searched recursively: see `DirectoryWalk` for how symlink
  /// loops, special files and names that are not UTF-8 are handled.
  static func search(folder: String, root: String) -> [CaseFile] {
    DirectoryWalk(suffix: ".h5", skipping: skippedFolders, onnxBackendFolders: true).search(root: folder).map {
      CaseFile(name: backendName(caseName(path: $0.path, root: root), path: $0.path), path: $0.path, explicit: false, problem: $0.problem)
    }
  }

  /// The root attribute `name` of a case file, when `Case.load` would read it (every attribute it
  /// reads first is present and valid) and it is not blank; nil for anything else (not HDF5, not a
  /// case, unreadable: loading reports those).
  static func storedName(path: String) -> String? {
    guard FileKind.sniff(path: path) == .hdf5 else { return nil }
    return Case.checkedStoredName(path: path)
  }

  /// An ONNX backend data set keeps its model folder in its name (`test_lstm/test_data_set_0`,
  /// not a bare `test_data_set_0`, when the model folder itself was searched).
  static func backendName(_ name: String, path: String) -> String {
    guard !name.contains("/"), name.hasPrefix(ONNXBackend.dataSetPrefix) else { return name }
    let model = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
    return model.isEmpty ? name : model + "/" + name
  }

  /// `<framework>/<case>` from the last path component named after a framework, else relative to `root`.
  static func caseName(path: String, root: String?) -> String {
    var components = path.split(separator: "/").map(String.init)
    if let last = components.last, last.hasSuffix(".h5") { components[components.count - 1] = String(last.dropLast(3)) }
    if let k = components.dropLast().lastIndex(where: { Framework(rawValue: $0) != nil }) {
      return components[k...].joined(separator: "/")
    }
    if let root, path.hasPrefix(root + "/") {
      let rel = String(path.dropFirst(root.count + 1))
      return rel.hasSuffix(".h5") ? String(rel.dropLast(3)) : rel
    }
    return components.last ?? path
  }

  static func absolute(_ path: String, in directory: String) -> String {
    let p = path.hasPrefix("/") ? path : directory + "/" + path
    var out: [Substring] = []
    for c in p.split(separator: "/") {
      if c == "." || c.isEmpty { continue }
      if c == "..", !out.isEmpty { out.removeLast(); continue }
      out.append(c)
    }
    return "/" + out.joined(separator: "/")
  }

  /// `fixtures/` in the current directory, else in the package root above the executable
  /// (`<root>/.build*/release/rnnconf`).
  public static func bundledSuite(currentDirectory: String, executablePath: String?) -> String? {
    let fm = FileManager.default
    var isDir: ObjCBool = false
    let here = absolute("fixtures", in: currentDirectory)
    if fm.fileExists(atPath: here, isDirectory: &isDir), isDir.boolValue { return here }
    guard let exe = executablePath else { return nil }
    var dir = absolute(exe, in: currentDirectory)
    while dir != "/" && !dir.isEmpty {
      dir = (dir as NSString).deletingLastPathComponent
      let candidate = dir + "/fixtures"
      if fm.fileExists(atPath: dir + "/Package.swift"),
         fm.fileExists(atPath: candidate, isDirectory: &isDir), isDir.boolValue {
        return candidate
      }
    }
    return nil
  }

  /// The running executable's path (`/proc/self/exe` on Linux).
  public static func executablePath() -> String? {
    if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
    return Bundle.main.executablePath ?? CommandLine.arguments.first
  }
}

/// A stable split of the cases into N shards: case number i (0-based, in the discovery
/// order after --filter) belongs to shard `i % N + 1`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
  /// 1-based.
  public var index: Int
  public var count: Int

  public init(index: Int, count: Int) throws {
    guard count >= 1, (1...count).contains(index) else {
      throw ConformanceError.usage("--shard \(index)/\(count): K must be in 1...N and N at least 1, e.g. --shard 2/4")
    }
    self.index = index; self.count = count
  }

  /// Parses "K/N".
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
      throw ConformanceError.usage("--shard `\(text)` is not K/N; write e.g. --shard 2/4 for the second of four shards")
    }
    try self.init(index: k, count: n)
  }

  public func contains(position: Int) -> Bool { position % count == index - 1 }
  public var description: String { "\(index)/\(count)" }
}

/// Shell-style glob match (`*`, `?`, `[...]`); `*` also matches `/`.
public func globMatch(_ pattern: String, _ name: String) -> Bool {
  let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
  func match(_ i: Int, _ j: Int) -> Bool {
    var i = i, j = j
    while i < p.count {
      switch p[i] {
      case "*":
        while i < p.count && p[i] == "*" { i += 1 }
        if i == p.count { return true }
        for k in j...s.count where match(i, k) { return true }
        return false
      case "?":
        guard j < s.count else { return false }
        i += 1; j += 1
      case "[":
        guard j < s.count, let close = p[(i + 1)...].firstIndex(of: "]"), close > i + 1 else {
          guard j < s.count, p[i] == s[j] else { return false }
          i += 1; j += 1; continue
        }
        var set = Array(p[(i + 1)..<close])
        let negate = set.first == "!" || set.first == "^"
        if negate { set.removeFirst() }
        var hit = false
        var k = 0
        while k < set.count {
          if k + 2 < set.count, set[k + 1] == "-" {
            if set[k].value <= s[j].value && s[j].value <= set[k + 2].value { hit = true }
            k += 3
          } else {
            if set[k] == s[j] { hit = true }
            k += 1
          }
        }
        guard hit != negate else { return false }
        i = close + 1; j += 1
      default:
        guard j < s.count, p[i] == s[j] else { return false }
        i += 1; j += 1
      }
    }
    return j == s.count
  }
  return match(0, 0)
}
