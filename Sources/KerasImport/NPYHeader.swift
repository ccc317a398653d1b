/// One value of an `.npy` header dict, as numpy writes it (a Python literal).
enum NPYHeaderValue: Equatable {
  case string(String)
  case bool(Bool)
  /// A tuple of non-negative integers (the shape).
  case tuple([Int])
  /// A list (a structured dtype's descr), kept as text to name it in errors.
  case list(String)

  var text: String {
    switch self {
    case let .string(s): return "'\(s)'"
    case let .bool(b): return b ? "True" : "False"
    case let .tuple(t): return "(" + t.map(String.init).joined(separator: ", ") + (t.count == 1 ? ",)" : ")")
    case let .list(s): return s
    }
  }
}

/// A strict reader of the header dict `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`:
/// quoted keys, string / True / False / integer-tuple values, at most 64 dimensions, each a
/// non-negative integer that fits in `Int`. Anything else is an error saying where, never a trap.
enum NPYHeaderDict {
  static let maxDimensions = 64

  static func parse(_ b: [UInt8], fail: (String) -> NPY.Error) throws -> [String: NPYHeaderValue] {
    var i = 0
    func malformed(_ what: String) -> NPY.Error {
      fail("malformed header \(quote(b)): \(what) at byte \(i) of the header text; "
        + "a .npy header is {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")
    }
    func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x09 || b[i] == 0x0d { i += 1 } }
    func peek() -> UInt8? { i < b.count ? b[i] : nil }
    func expect(_ c: Character) throws {
      skipSpace()
      guard peek() == c.asciiValue else { throw malformed("expected `\(c)`") }
      i += 1
    }
    func string() throws -> String {
      guard let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw malformed("expected a quoted string") }
      i += 1
      let s = i
      while i < b.count, b[i] != q {
        guard b[i] >= 0x20, b[i] < 0x7f, b[i] != UInt8(ascii: "\\") else { throw malformed("unexpected byte 0x\(String(b[i], radix: 16)) in a string") }
        i += 1
      }
      guard i < b.count else { throw malformed("unterminated string") }
      defer { i += 1 }
      return String(decoding: b[s..<i], as: UTF8.self)
    }
    func word(_ w: String) -> Bool {
      let u = Array(w.utf8)
      guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { return false }
      i += u.count
      return true
    }
    func integer() throws -> Int {
      skipSpace()
      if peek() == UInt8(ascii: "-") { throw malformed("negative dimension") }
      let s = i
      while let c = peek(), c >= 0x30, c <= 0x39 { i += 1 }
      guard i > s else { throw malformed("expected a dimension (a non-negative integer)") }
      guard i - s <= 19, let v = Int(String(decoding: b[s..<i], as: UTF8.self)) else {
        throw malformed("dimension \(String(decoding: b[s..<min(i, s + 40)], as: UTF8.self)) does not fit in Int")
      }
      if peek() == UInt8(ascii: "L") { i += 1 }  // Python 2 long, as old numpy wrote
      return v
    }
    func tuple() throws -> [Int] {
      i += 1  // (
      var dims: [Int] = []
      skipSpace()
      if peek() == UInt8(ascii: ")") { i += 1; return dims }
      while true {
        dims.append(try integer())
        guard dims.count <= maxDimensions else { throw malformed("more than \(maxDimensions) dimensions") }
        skipSpace()
        if peek() == UInt8(ascii: ")") { i += 1; return dims }
        try expect(",")
        skipSpace()
        if peek() == UInt8(ascii: ")") { i += 1; return dims }
      }
    }
    func list() throws -> String {
      let s = i
      var depth = 0
      while i < b.count {
        if b[i] == UInt8(ascii: "[") { depth += 1 }
        if b[i] == UInt8(ascii: "]") { depth -= 1; if depth == 0 { i += 1; return String(decoding: b[s..<i].prefix(120), as: UTF8.self) } }
        i += 1
      }
      throw malformed("unterminated list")
    }
    func value() throws -> NPYHeaderValue {
      skipSpace()
      switch peek() {
      case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "("): return .tuple(try tuple())
      case UInt8(ascii: "["): return .list(try list())
      default:
        if word("True") { return .bool(true) }
        if word("False") { return .bool(false) }
        throw malformed("expected a value (a string, True/False or a tuple)")
      }
    }

    var out: [String: NPYHeaderValue] = [:]
    try expect("{")
    while true {
      skipSpace()
      if peek() == UInt8(ascii: "}") { i += 1; break }
      let key = try string()
      try expect(":")
      let v = try value()
      guard out[key] == nil else { throw malformed("key '\(key)' given twice") }
      out[key] = v
      skipSpace()
      if peek() == UInt8(ascii: "}") { i += 1; break }
      try expect(",")
    }
    skipSpace()
    guard i == b.count || b[i...].allSatisfy({ $0 == 0 }) else { throw malformed("text after the closing `}`") }
    return out
  }

  /// The header text for an error message: printable ASCII, other bytes as \xNN, cut at 160 characters.
  static func quote(_ b: [UInt8]) -> String {
    var s = ""
    for c in b.prefix(160) {
      if c >= 0x20 && c < 0x7f { s.append(Character(UnicodeScalar(c))) } else if c == 0x0a { s += "\\n" }
      else { s += "\\x" + (c < 16 ? "0" : "") + String(c, radix: 16) }
    }
    return "`" + s.trimmingTrailingSpaces + (b.count > 160 ? "...`" : "`")
  }
}

private extension String {
  var trimmingTrailingSpaces: String {
    var s = self
    while s.hasSuffix(" ") || s.hasSuffix("\\n") { s.removeLast(s.hasSuffix(" ") ? 1 : 2) }
    return s
  }
}
