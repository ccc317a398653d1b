import Foundation

/// Reports name no absolute path of the machine that ran them: case files and the
/// expectations file are written relative to the run's current directory (`../` where a file
/// lies outside it), in the JSON report, the text report, JUnit and HTML alike.
extension RunReport {
  /// This report with every case `path`, the `expectationsFile`, and those paths (and the
  /// directory itself) inside messages, made relative to `directory`.
  public func relativePaths(to directory: String) -> RunReport {
    var r = self
    let dir = RelativePath.standardized(directory)
    func clean(_ text: String, _ absolute: String, _ relative: String) -> String {
      var t = absolute.isEmpty ? text : text.replacingOccurrences(of: absolute, with: relative)
      if dir != "/" { t = t.replacingOccurrences(of: dir + "/", with: "") }
      return t
    }
    r.cases = cases.map { c in
      var c = c
      let absolute = c.path
      c.path = RelativePath.of(absolute, from: dir)
      c.message = c.message.map { clean($0, absolute, c.path) }
      return c
    }
    r.expectationsFile = expectationsFile.map { RelativePath.of($0, from: dir) }
    r.warnings = warnings?.map { clean($0, "", "") }
    return r
  }
}

/// Relative file paths without touching the file system.
public enum RelativePath {
  /// `path` relative to the folder `directory` (both absolute): `fixtures/onnx/x.h5`, or
  /// `../other/x.h5` outside it. A relative `path` is returned as it is.
  public static func of(_ path: String, from directory: String) -> String {
    guard path.hasPrefix("/"), directory.hasPrefix("/") else { return path }
    let p = components(standardized(path)), d = components(standardized(directory))
    var common = 0
    while common < p.count && common < d.count && p[common] == d[common] { common += 1 }
    let parts = Array(repeating: "..", count: d.count - common) + p[common...]
    return parts.isEmpty ? "." : parts.joined(separator: "/")
  }

  static func components(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

  /// `/a/./b/../c/` -> `/a/c` (lexically, no symbolic links resolved).
  static func standardized(_ path: String) -> String {
    var out: [String] = []
    for part in components(path) {
      if part == "." { continue }
      if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
      out.append(part)
    }
    return "/" + out.joined(separator: "/")
  }
}
