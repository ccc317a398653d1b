import Foundation
import HDF5

/// Run-level problems: the command line exits 64 (usage) on them.
public enum ConformanceError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// A missing path, a folder without cases, a bad option value, a selection that matches nothing, ...
  case usage(String)
  /// A file the run is told to read cannot be used (an expectations file that is not valid):
  /// the message names the file and the fix, `underlying` is the decoder's own error.
  case invalidFile(String, underlying: any Error)

  /// The text the command line prints.
  public var message: String {
    switch self {
    case .usage(let m), .invalidFile(let m, _): m
    }
  }

  /// The error the message was written from, when there is one.
  public var underlying: (any Error)? {
    switch self {
    case .usage: nil
    case .invalidFile(_, let e): e
    }
  }

  public var description: String { message }
  /// The same text as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }

  /// Equal when of the same kind with the same message (`underlying` is not compared).
  public static func == (a: ConformanceError, b: ConformanceError) -> Bool {
    switch (a, b) {
    case (.usage(let x), .usage(let y)), (.invalidFile(let x, _), .invalidFile(let y, _)): x == y
    default: false
    }
  }
}

/// The expected-failures file (`fixtures/expected-failures.json`): cases that fail
/// because of a documented framework bug. Format, schema 1:
/// ```json
/// {"schema": 1, "expected_failures": [{"case": "keras/gru_reset_before", "reason": "keras#20750 ..."}]}
/// ```
/// Only non-passing cases belong here; a listed case that passes is an unexpected pass.
public struct Expectations: Codable, Equatable, Sendable {
  public struct Entry: Codable, Equatable, Sendable {
    /// Case name, `<framework>/<case>`.
    public var `case`: String
    /// Why it fails: the framework bug, with a link.
    public var reason: String
    public init(case name: String, reason: String) { self.case = name; self.reason = reason }
  }

  public static let currentSchema = 1
  public static let fileName = "expected-failures.json"

  public var schema: Int
  public var expectedFailures: [Entry]

  enum CodingKeys: String, CodingKey {
    case schema
    case expectedFailures = "expected_failures"
  }

  public init(_ entries: [Entry] = []) { schema = Self.currentSchema; expectedFailures = entries }

  /// The reason a case is expected to fail, nil when it is not listed.
  public func reason(for name: String) -> String? {
    expectedFailures.first { $0.case == name }?.reason
  }

  /// Reads and checks an expectations file; every problem names the file and is a usage error.
  public static func load(path: String) throws -> Expectations {
    let data: Data
    do { data = Data(try RegularFile.read(path, limit: 64 << 20)) } catch {  // never blocks on a FIFO
      let why = (error as? FileIOError)?.detail ?? "\(error)"
      throw ConformanceError.usage("cannot read the expectations file `\(path)` (\(why)); check the path given to --expectations")
    }
    let e: Expectations
    do {
      e = try JSONDecoder().decode(Expectations.self, from: data)
    } catch {
      throw ConformanceError.invalidFile(
        "expectations file `\(path)` is not valid: \(describe(error)); expected "
          + #"{"schema": 1, "expected_failures": [{"case": "<framework>/<case>", "reason": "..."}]}"#,
        underlying: error)
    }
    guard e.schema == currentSchema else {
      throw ConformanceError.usage("expectations file `\(path)` has schema \(e.schema); this rnnconf reads schema \(currentSchema)")
    }
    var seen = Set<String>()
    for entry in e.expectedFailures {
      guard seen.insert(entry.case).inserted else {
        throw ConformanceError.usage("expectations file `\(path)` lists `\(entry.case)` twice; keep one entry")
      }
      guard !entry.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
        throw ConformanceError.usage("expectations file `\(path)`: `\(entry.case)` has no reason; say which framework bug it is")
      }
    }
    return e
  }

  static func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
      return "missing key `\(key.stringValue)`" + path(ctx.codingPath)
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
      return ctx.debugDescription + path(ctx.codingPath)
    case DecodingError.dataCorrupted(let ctx):
      return "not JSON (" + ctx.debugDescription + ")"
    default:
      return "\(error)"
    }
  }

  static func path(_ keys: [CodingKey]) -> String {
    keys.isEmpty ? "" : " at " + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
  }
}
