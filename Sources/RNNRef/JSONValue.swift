import Foundation

/// A JSON document: the native configuration of a case (PyTorch module kwargs,
/// Keras `get_config()`, TF1 cell and driver, ONNX node attributes).
public enum JSONValue: Hashable, Sendable, Codable, CustomStringConvertible {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let b = try? c.decode(Bool.self) { self = .bool(b) }
    else if let d = try? c.decode(Double.self) { self = .number(d) }
    else if let s = try? c.decode(String.self) { self = .string(s) }
    else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
    else { self = .object(try c.decode([String: JSONValue].self)) }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .number(let d): try c.encode(d)
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// Parses JSON text. Python's `json.dumps` may write `NaN`/`Infinity`; they are accepted.
  public init(parsing text: String) throws {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    self = try decoder.decode(JSONValue.self, from: Data(text.utf8))
  }

  /// Compact JSON text with sorted keys.
  public var jsonText: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "null"
  }

  public var description: String { jsonText }

  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] } else { return nil }
  }
  public subscript(index: Int) -> JSONValue? {
    if case .array(let a) = self, a.indices.contains(index) { return a[index] } else { return nil }
  }

  public var isNull: Bool { if case .null = self { true } else { false } }
  public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
  public var double: Double? { if case .number(let d) = self { d } else { nil } }
  public var int: Int? {
    if case .number(let d) = self, d.rounded() == d, abs(d) < 1e15 { Int(d) } else { nil }
  }
  public var string: String? { if case .string(let s) = self { s } else { nil } }
  public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
  public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
}
