/// Typed reading of one JSON object of a native configuration, shared by the
/// adapters. Every error is `RNNRefError.invalidConfig` naming the key path from
/// the config's root (`kwargs.hidden_size`, `cell.cells[1].kwargs.num_units`),
/// the value found (or `absent`) and what was expected.
///
/// A reader never remembers what it read: the adapter names the keys it knows
/// once, in `rejectUnknownKeys(known:reason:)`, so a typo is refused with its path.
public struct ConfigReader: Sendable {
  /// The path of this value from the config's root; empty at the root.
  public let path: String
  /// The JSON value read.
  public let value: JSONValue
  /// Whether a key holding `null` reads as absent (Python's `None` for an
  /// optional argument). When false, `null` is a value of the wrong type.
  public let nullIsAbsent: Bool

  public init(_ value: JSONValue, path: String = "", nullIsAbsent: Bool = true) {
    self.value = value; self.path = path; self.nullIsAbsent = nullIsAbsent
  }

  /// The key path of `key` in this object.
  public func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

  /// The error for `key`, with the value it holds (or `absent`).
  public func invalid(_ key: String, _ reason: String) -> RNNRefError {
    .invalidConfig(key: path(key), value: value[key]?.jsonText ?? "absent", reason: reason)
  }

  /// The error for this value itself.
  public func invalid(_ reason: String) -> RNNRefError {
    .invalidConfig(key: path.isEmpty ? "config" : path, value: value.jsonText, reason: reason)
  }

  /// Throws unless this value is a JSON object.
  @discardableResult
  public func requireObject(_ reason: String = "expected a JSON object") throws -> [String: JSONValue] {
    guard let o = value.object else { throw invalid(reason) }
    return o
  }

  /// The keys present, sorted.
  public var keys: [String] { value.object?.keys.sorted() ?? [] }

  /// The value at `key`; nil when absent (or null, with `nullIsAbsent`).
  public func raw(_ key: String) -> JSONValue? {
    guard let v = value[key] else { return nil }
    return nullIsAbsent && v.isNull ? nil : v
  }

  /// Refuses the first key (in sorted order) not in `known`, naming its path.
  /// `reason` defaults to "unknown key; known: ..." listing `known` sorted.
  public func rejectUnknownKeys(known: Set<String>, reason: String? = nil) throws {
    for key in keys where !known.contains(key) {
      throw invalid(key, reason ?? "unknown key; known: " + known.sorted().joined(separator: ", "))
    }
  }

  // MARK: - Scalars

  /// An integer, nil when absent. A non-integer or a value outside `range`
  /// throws with `expected`, or "expected an integer" plus the range.
  public func int(_ key: String, in range: ClosedRange<Int>? = nil, expected: String? = nil) throws -> Int? {
    guard let v = raw(key) else { return nil }
    guard let i = v.int, range?.contains(i) ?? true else {
      throw invalid(key, expected ?? "expected an integer" + Self.describe(range))
    }
    return i
  }

  /// An integer with a default for an absent key.
  public func int(_ key: String, default d: Int, in range: ClosedRange<Int>? = nil, expected: String? = nil) throws -> Int {
    try int(key, in: range, expected: expected) ?? d
  }

  /// A required integer: absent throws `missing`.
  public func int(_ key: String, required missing: String, in range: ClosedRange<Int>? = nil,
                  expected: String? = nil) throws -> Int {
    guard let i = try int(key, in: range, expected: expected) else { throw invalid(key, missing) }
    return i
  }

  /// `true` or `false`, nil when absent.
  public func bool(_ key: String) throws -> Bool? {
    guard let v = raw(key) else { return nil }
    guard let b = v.bool else { throw invalid(key, "expected true or false") }
    return b
  }

  /// `true` or `false` with a default for an absent key.
  public func bool(_ key: String, default d: Bool) throws -> Bool { try bool(key) ?? d }

  /// A number, nil when absent; outside `range` throws with `expected`.
  public func double(_ key: String, in range: ClosedRange<Double>? = nil, expected: String? = nil) throws -> Double? {
    guard let v = raw(key) else { return nil }
    guard let d = v.double, range?.contains(d) ?? true else {
      throw invalid(key, expected ?? "expected a number" + (range.map { " in [\($0.lowerBound), \($0.upperBound)]" } ?? ""))
    }
    return d
  }

  /// A string, nil when absent; an empty string is refused with `nonEmpty`.
  public func string(_ key: String, nonEmpty: Bool = false, expected: String? = nil) throws -> String? {
    guard let v = raw(key) else { return nil }
    guard let s = v.string, !(nonEmpty && s.isEmpty) else {
      throw invalid(key, expected ?? (nonEmpty ? "expected a non-empty string" : "expected a string"))
    }
    return s
  }

  /// A value of a string-backed enum by its raw value, nil when absent. Anything
  /// else throws with `expected`, or the list of raw values.
  public func enumValue<E: RawRepresentable & CaseIterable>(
    _ key: String, as type: E.Type = E.self, expected: String? = nil
  ) throws -> E? where E.RawValue == String {
    guard let v = raw(key) else { return nil }
    guard let s = v.string, let e = E(rawValue: s) else {
      throw invalid(key, expected ?? "expected one of " + E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
    }
    return e
  }

  // MARK: - Arrays and objects

  /// A list of strings, nil when absent.
  public func strings(_ key: String, expected: String? = nil) throws -> [String]? {
    guard let v = raw(key) else { return nil }
    guard let a = v.array, a.allSatisfy({ $0.string != nil }) else {
      throw invalid(key, expected ?? "expected a list of strings")
    }
    return a.compactMap(\.string)
  }

  /// A list of numbers, nil when absent.
  public func doubles(_ key: String, expected: String? = nil) throws -> [Double]? {
    guard let v = raw(key) else { return nil }
    guard let a = v.array, a.allSatisfy({ $0.double != nil }) else {
      throw invalid(key, expected ?? "expected a list of numbers")
    }
    return a.compactMap(\.double)
  }

  /// A list of integers, nil when absent.
  public func ints(_ key: String, in range: ClosedRange<Int>? = nil, expected: String? = nil) throws -> [Int]? {
    guard let v = raw(key) else { return nil }
    guard let a = v.array, a.allSatisfy({ $0.int.map { range?.contains($0) ?? true } ?? false }) else {
      throw invalid(key, expected ?? "expected a list of integers" + Self.describe(range))
    }
    return a.compactMap(\.int)
  }

  /// The object at `key` as a reader (path `<path>.<key>`), nil when absent.
  public func object(_ key: String, expected: String? = nil) throws -> ConfigReader? {
    guard let v = raw(key) else { return nil }
    guard v.object != nil else { throw invalid(key, expected ?? "expected a JSON object") }
    return ConfigReader(v, path: path(key), nullIsAbsent: nullIsAbsent)
  }

  /// The value at `key` as a reader whatever its type (for values read by a
  /// further parser), nil when absent.
  public func child(_ key: String) -> ConfigReader? {
    raw(key).map { ConfigReader($0, path: path(key), nullIsAbsent: nullIsAbsent) }
  }

  /// The elements of the list at `key` as readers (paths `<key>[0]`, `<key>[1]`, ...),
  /// nil when absent.
  public func elements(_ key: String, expected: String? = nil) throws -> [ConfigReader]? {
    guard let v = raw(key) else { return nil }
    guard let a = v.array else { throw invalid(key, expected ?? "expected a list") }
    let base = path(key)
    return a.enumerated().map { ConfigReader($1, path: "\(base)[\($0)]", nullIsAbsent: nullIsAbsent) }
  }

  static func describe(_ range: ClosedRange<Int>?) -> String {
    guard let r = range else { return "" }
    if r.upperBound == Int.max { return " >= \(r.lowerBound)" }
    return " in \(r.lowerBound)...\(r.upperBound)"
  }
}
