import CHDF5

/// Renders an HDF5 file as an indented tree for people: groups (`name/`),
/// datasets with stored type and shape, attributes (`@name`) with short values,
/// soft and external links with their targets; children in file order.
/// A problem with one object (an unreadable attribute, a broken link) is shown
/// in place and the rest is still printed.
public struct TreePrinter: Sendable {
  /// Longer strings are cut and their length shown.
  public var maxStringLength: Int = 80
  /// Longer arrays show their first elements and their count.
  public var maxArrayElements: Int = 8
  /// Deeper groups are not expanded.
  public var maxDepth: Int = 32

  public init(maxStringLength: Int = 80, maxArrayElements: Int = 8, maxDepth: Int = 32) {
    self.maxStringLength = maxStringLength; self.maxArrayElements = maxArrayElements; self.maxDepth = maxDepth
  }

  /// The tree of an open file.
  public func render(_ file: File) throws -> String {
    var lines: [String] = []
    var visited = Set<UInt64>()
    let root = try file.root
    lines.append("/")
    walk(root, depth: 1, &lines, &visited)
    return lines.joined(separator: "\n")
  }

  /// Opens `path` read-only and renders it; throws `HDF5Error` when the file cannot be opened.
  public func render(path: String) throws -> String { try render(try File(path: path)) }

  private func pad(_ depth: Int) -> String { String(repeating: "  ", count: depth) }

  private func walk(_ group: Group, depth: Int, _ lines: inout [String], _ visited: inout Set<UInt64>) {
    if let a = group.address { visited.insert(a) }
    attributes(of: group, depth: depth, &lines)
    let children: [Group.Child]
    do { children = try group.children() } catch {
      lines.append(pad(depth) + "<cannot list: \(shortError(error))>")
      return
    }
    for c in children {
      let p = pad(depth)
      switch c.kind {
      case .group:
        do {
          let g = try group.group(c.name)
          if let a = g.address, visited.contains(a) {
            lines.append(p + c.name + "/  (hard link to a group shown above)")
          } else if depth >= maxDepth {
            lines.append(p + c.name + "/  (not expanded: deeper than \(maxDepth) levels)")
          } else {
            lines.append(p + c.name + "/")
            walk(g, depth: depth + 1, &lines, &visited)
          }
        } catch { lines.append(p + c.name + "/  <cannot open: \(shortError(error))>") }
      case .dataset:
        do {
          let d = try group.dataset(c.name)
          lines.append(p + c.name + "  " + datasetSummary(d))
          attributes(of: d, depth: depth + 1, &lines)
        } catch { lines.append(p + c.name + "  <cannot open: \(shortError(error))>") }
      case .namedDatatype: lines.append(p + c.name + "  (named datatype)")
      case .softLink(let target): lines.append(p + c.name + " -> " + target + "  (soft link)")
      case .externalLink(let target): lines.append(p + c.name + " -> " + target + "  (external link)")
      case .other: lines.append(p + c.name + "  (link of unknown kind)")
      }
    }
  }

  private func datasetSummary(_ d: Dataset) -> String {
    do {
      let ext = try d.extent
      let type = try d.storedType
      var s = "\(type) "
      switch ext {
      case .scalar: s += "scalar"
      case .null: s += "empty (null dataspace)"
      case .simple(let dims): s += "[" + dims.map(String.init).joined(separator: ", ") + "]"
      }
      if d.storageSize == 0, (ext.count ?? 1) > 0 { s += "  (no data stored: fill value)" }
      if ext == .scalar, type.isString {
        do { s += " = " + quote(try d.readStrings().first ?? "") } catch { s += " = <\(shortError(error))>" }
      }
      return s
    } catch { return "<cannot read: \(shortError(error))>" }
  }

  private func attributes(of object: Object, depth: Int, _ lines: inout [String]) {
    let names: [String]
    do { names = try object.attributeNames() } catch {
      lines.append(pad(depth) + "@<cannot list attributes: \(shortError(error))>")
      return
    }
    for n in names {
      lines.append(pad(depth) + "@" + n + " = " + attributeText(object, n))
    }
  }

  private func attributeText(_ object: Object, _ name: String) -> String {
    do {
      let a = try object.attribute(name)
      switch try a.value() {
      case let .integers(v, shape): return numbers(v.map(String.init), shape)
      case let .floats(v, shape): return numbers(v.map { "\($0)" }, shape)
      case let .booleans(v, shape): return numbers(v.map { $0 ? "True" : "False" }, shape)
      case let .strings(v, shape):
        let quoted = v.map(quote)
        return shape.isEmpty ? quoted.first ?? "\"\"" : list(quoted, shape)
      case let .empty(t): return "empty \(t) (null dataspace)"
      case let .unsupported(t, shape): return "<\(t)\(shape.isEmpty ? "" : " " + dims(shape)), not shown>"
      }
    } catch let e as HDF5Error where e.kind == .invalidString {
      return "<not UTF-8: \(e.detail)>"
    } catch {
      return "<cannot read: \(shortError(error))>"
    }
  }

  private func dims(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

  private func numbers(_ v: [String], _ shape: [Int]) -> String {
    shape.isEmpty ? (v.first ?? "?") : list(v, shape)
  }

  private func list(_ v: [String], _ shape: [Int]) -> String {
    let shown = v.prefix(maxArrayElements).joined(separator: ", ")
    let more = v.count > maxArrayElements ? ", ... (\(v.count) values)" : ""
    let shapeNote = shape.count > 1 ? "  shape " + dims(shape) : ""
    return "[" + shown + more + "]" + shapeNote
  }

  private func quote(_ s: String) -> String {
    let flat = s.replacingOccurrences(of: "\n", with: "\\n")
    if flat.count <= maxStringLength { return "\"" + flat + "\"" }
    return "\"" + flat.prefix(maxStringLength) + "...\" (\(s.count) characters)"
  }

  private func shortError(_ error: Error) -> String {
    if let e = error as? HDF5Error {
      return e.detail + (e.libraryMessages.last.map { " (libhdf5: \($0))" } ?? "")
    }
    return "\(error)"
  }
}

extension Object {
  /// The object's address in its file (identity for hard links), nil if unknown.
  var address: UInt64? {
    Library.sync {
      var info = H5O_info_t()
      if H5Oget_info2(handle.id, &info, chdf5_O_INFO_BASIC()) < 0 { _ = H5Eclear2(chdf5_E_DEFAULT()); return nil }
      return UInt64(info.addr)
    }
  }
}
