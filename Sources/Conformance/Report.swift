import Foundation
import RNNRef

/// What happened to one case.
public enum CaseStatus: String, Codable, Sendable, CaseIterable {
  /// Every output within tolerance.
  case pass
  /// The reference disagrees with the framework (output names, shape, dtype or values).
  case fail
  /// The case could not be loaded or run; `message` says why.
  case error
  /// Failed, and the expectations file lists it with a reason.
  case expectedFailure = "expected-fail"
  /// Passed although the expectations file lists it as failing: remove the entry.
  case unexpectedPass = "unexpected-pass"

  /// The label the text report prints.
  public var label: String {
    switch self {
    case .pass: "PASS"
    case .fail: "FAIL"
    case .error: "ERROR"
    case .expectedFailure: "XFAIL"
    case .unexpectedPass: "XPASS"
    }
  }

  /// Whether this status makes the run fail (exit 1).
  public var failsRun: Bool { self == .fail || self == .error || self == .unexpectedPass }
}

/// The result of one case. Part of the JSON report (schema in README, "Reports for CI").
public struct CaseReport: Codable, Equatable, Sendable {
  /// `<framework>/<case>`: the file's path relative to the suite root, without `.h5`.
  public var name: String
  /// The case file. In a finished run's report (`Runner.run`), relative to the run's current
  /// directory (`fixtures/keras/k2_lstm_seq.h5`, `../cases/x.h5` outside it): reports carry no
  /// absolute path of the machine.
  public var path: String
  /// From the case file; nil when it could not be read.
  public var framework: Framework?
  public var cell: CellFamily?
  public var dtype: DType?
  public var library: String?
  public var libraryVersion: String?
  /// The precision the reference ran in.
  public var precision: DType?
  public var tolerance: Tolerance?
  /// "case" (the fixture's) or "command line" (--atol/--rtol).
  public var toleranceSource: String?
  public var nanEqual: Bool?
  public var status: CaseStatus
  /// For errors: why the case could not be loaded or run. For failures: a one-line summary.
  public var message: String?
  /// For errors: the typed error `message` was written from (the loader's `CaseFileError` or
  /// `HDF5Error`, the adapter's `RNNRefError`, ...). Not part of the JSON report or of equality.
  public var underlying: (any Error)?
  /// The expectations file's reason, when the case is listed there.
  public var expectedFailureReason: String?
  /// One per output, in the case's output order (then any extra output the reference produced).
  public var outputs: [OutputComparison]
  /// For a case with `compared_output_names`: the stored or produced outputs it does not compare
  /// (empty when none); nil for a case that compares every output.
  public var notCompared: [String]?
  /// One per expected intermediate layer output the case carries (`/intermediate/<layer>`), in
  /// graph order; nil when it carries none.
  public var intermediates: [OutputComparison]?
  /// The first layer, in graph order, whose output leaves the tolerance (nil when none does or
  /// the case carries no intermediate outputs).
  public var firstDivergentLayer: String?
  /// Per failing output or layer: error per step and per unit, for the HTML report. Not part of
  /// the JSON report or of equality (so absent from reports read back, e.g. from `--isolate` children).
  public var errorMaps: [ErrorMap] = []
  public var durationSeconds: Double
  /// For failing cases the run diagnosed: the convention mistakes that explain the expected
  /// outputs, most specific first (empty: none in the catalogue does). nil = not diagnosed.
  public var diagnosis: [Diagnosis]?
  /// True when the diagnosis stopped at the run's time budget before trying every hypothesis.
  public var diagnosisIncomplete: Bool?

  public init(name: String, path: String, framework: Framework? = nil, cell: CellFamily? = nil,
              dtype: DType? = nil, library: String? = nil, libraryVersion: String? = nil, precision: DType? = nil,
              tolerance: Tolerance? = nil, toleranceSource: String? = nil, nanEqual: Bool? = nil,
              status: CaseStatus, message: String? = nil, underlying: (any Error)? = nil,
              expectedFailureReason: String? = nil, outputs: [OutputComparison] = [], durationSeconds: Double = 0) {
    self.name = name; self.path = path; self.framework = framework; self.cell = cell; self.dtype = dtype
    self.library = library; self.libraryVersion = libraryVersion; self.precision = precision
    self.tolerance = tolerance; self.toleranceSource = toleranceSource; self.nanEqual = nanEqual
    self.status = status; self.message = message; self.underlying = underlying
    self.expectedFailureReason = expectedFailureReason; self.outputs = outputs; self.durationSeconds = durationSeconds
  }

  /// Every field but `underlying`, in the JSON report's order.
  enum CodingKeys: String, CodingKey {
    case name, path, framework, cell, dtype, library, libraryVersion, precision, tolerance, toleranceSource
    case nanEqual, status, message, expectedFailureReason, outputs, notCompared, intermediates, firstDivergentLayer
    case durationSeconds
    case diagnosis, diagnosisIncomplete
  }

  /// Equal when the JSON reports are (`underlying` is not compared).
  public static func == (a: CaseReport, b: CaseReport) -> Bool {
    a.name == b.name && a.path == b.path && a.framework == b.framework && a.cell == b.cell && a.dtype == b.dtype
      && a.library == b.library && a.libraryVersion == b.libraryVersion && a.precision == b.precision
      && a.tolerance == b.tolerance && a.toleranceSource == b.toleranceSource && a.nanEqual == b.nanEqual
      && a.status == b.status && a.message == b.message && a.expectedFailureReason == b.expectedFailureReason
      && a.outputs == b.outputs && a.notCompared == b.notCompared && a.intermediates == b.intermediates
      && a.firstDivergentLayer == b.firstDivergentLayer && a.durationSeconds == b.durationSeconds
      && a.diagnosis == b.diagnosis && a.diagnosisIncomplete == b.diagnosisIncomplete
  }

  /// The framework for grouping (JUnit test suites): the case's, else the name's first component.
  public var group: String {
    if let framework { return framework.rawValue }
    if let slash = name.firstIndex(of: "/") { return String(name[..<slash]) }
    return "unknown"
  }
}

/// Counts per status.
public struct Summary: Codable, Equatable, Sendable {
  public var total = 0
  public var passed = 0
  public var failed = 0
  public var errors = 0
  public var expectedFailures = 0
  public var unexpectedPasses = 0

  public init() {}

  public init(_ cases: [CaseReport]) {
    for c in cases { add(c.status) }
  }

  public mutating func add(_ status: CaseStatus) {
    total += 1
    switch status {
    case .pass: passed += 1
    case .fail: failed += 1
    case .error: errors += 1
    case .expectedFailure: expectedFailures += 1
    case .unexpectedPass: unexpectedPasses += 1
    }
  }

  /// `N passed, N failed`, then `, N errors`, `, N expected failures`, `, N unexpected passes` where nonzero.
  public var line: String {
    var s = "\(passed) passed, \(failed) failed"
    if errors > 0 { s += ", \(errors) errors" }
    if expectedFailures > 0 { s += ", \(expectedFailures) expected failures" }
    if unexpectedPasses > 0 { s += ", \(unexpectedPasses) unexpected passes" }
    return s
  }

  /// 0 when every case passed or failed as expected, 1 otherwise.
  public var exitCode: Int32 { failed + errors + unexpectedPasses > 0 ? 1 : 0 }
}

/// A whole run: what the JSON report holds.
public struct RunReport: Codable, Equatable, Sendable {
  /// The JSON report's schema version (documented in README, "Reports for CI").
  public static let currentSchema = 1

  public var schema: Int
  public var tool: String
  /// ISO 8601, UTC.
  public var startedAt: String
  public var durationSeconds: Double
  /// "case" (each case's own dtype) or "float64".
  public var precision: Precision
  /// Set when --atol/--rtol replaced the cases' tolerances.
  public var toleranceOverride: Tolerance?
  /// The selection the run used.
  public var filter: String?
  public var framework: Framework?
  public var cell: CellFamily?
  /// "K/N" when sharded.
  public var shard: String?
  public var expectationsFile: String?
  public var summary: Summary
  public var cases: [CaseReport]
  /// Problems with the run that are not a case's (e.g. a stale expectations entry).
  public var warnings: [String]?

  public init(startedAt: String, durationSeconds: Double, precision: Precision, toleranceOverride: Tolerance?,
              filter: String?, framework: Framework?, cell: CellFamily?, shard: String?, expectationsFile: String?,
              cases: [CaseReport]) {
    self.schema = Self.currentSchema; self.tool = "rnnconf"; self.startedAt = startedAt
    self.durationSeconds = durationSeconds; self.precision = precision
    self.toleranceOverride = toleranceOverride; self.filter = filter; self.framework = framework
    self.cell = cell; self.shard = shard; self.expectationsFile = expectationsFile
    self.summary = Summary(cases); self.cases = cases
  }

  /// JSON text; infinities and NaN are written as the strings "Infinity", "-Infinity", "NaN".
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return try encoder.encode(self)
  }

  /// Reads a JSON report; refuses a schema version this build does not know.
  public static func decode(_ data: Data) throws -> RunReport {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    let report = try decoder.decode(RunReport.self, from: data)
    guard report.schema == currentSchema else {
      throw ConformanceError.usage("the JSON report has schema \(report.schema); this rnnconf reads schema \(currentSchema)")
    }
    return report
  }
}

// MARK: - Text

/// The human report, torch.testing style.
public struct TextReporter: Sendable {
  public var color: Bool
  public var verbose: Bool
  public var quiet: Bool

  public init(color: Bool = false, verbose: Bool = false, quiet: Bool = false) {
    self.color = color; self.verbose = verbose; self.quiet = quiet
  }

  func paint(_ s: String, _ status: CaseStatus) -> String {
    guard color else { return s }
    let code: String
    switch status {
    case .pass: code = "32"
    case .fail, .error: code = "31;1"
    case .expectedFailure: code = "33"
    case .unexpectedPass: code = "35;1"
    }
    return "\u{1B}[\(code)m\(s)\u{1B}[0m"
  }

  /// The lines for one case (none for a passing case in quiet mode).
  public func lines(for c: CaseReport) -> [String] {
    if quiet && !c.status.failsRun && c.status != .expectedFailure { return [] }
    if quiet && c.status == .expectedFailure {  // one line each: a known failure needs no detail here
      return [paint(c.status.label, c.status) + " " + c.name + "  (expected: \(c.expectedFailureReason ?? "no reason given"))"]
    }
    var out = [paint(c.status.label, c.status) + " " + c.name + headerSuffix(c)]
    if let line = notComparedLine(c) { out.append("  " + line) }
    switch c.status {
    case .error:
      let message = c.message ?? "error"
      out.append("  " + message + (message.contains(c.path) ? "" : " (" + c.path + ")"))
    case .pass, .unexpectedPass:
      if c.status == .unexpectedPass {
        out.append("  listed in the expectations file as failing (\(c.expectedFailureReason ?? "no reason given")) "
                   + "but every output is within tolerance: remove its entry")
      }
      if verbose { out += c.outputs.map { "  " + describe($0) } }
    case .fail, .expectedFailure:
      if c.status == .expectedFailure { out.append("  expected: \(c.expectedFailureReason ?? "")") }
      if let message = c.message, c.outputs.isEmpty { out.append("  " + message) }
      for o in c.outputs where verbose || o.status == .fail { out.append("  " + describe(o)) }
      if let layer = c.firstDivergentLayer, let o = c.intermediates?.first(where: { $0.name == layer }) {
        out.append("  first divergent layer `\(layer)`: " + describe(o).dropFirst("output `\(layer)`: ".count))
      }
      out += diagnosisLines(c)
    }
    return out
  }

  /// "not compared: `a`, `b` (...)" for a case whose `compared_output_names` leaves outputs out.
  public func notComparedLine(_ c: CaseReport) -> String? {
    guard let names = c.notCompared, !names.isEmpty else { return nil }
    return "not compared: " + names.map { "`\($0)`" }.joined(separator: ", ")
      + " (the case's compared_output_names leaves \(names.count == 1 ? "it" : "them") out)"
  }

  /// "  diagnosis: gate-order: ... (max abs error 2.4e-07 under this mistake)", one per diagnosis.
  func diagnosisLines(_ c: CaseReport) -> [String] {
    var out = (c.diagnosis ?? []).map {
      "  diagnosis: \($0.kind.rawValue): \($0.description) (max abs error \(num($0.maxAbsError)) under this mistake)"
    }
    if c.diagnosisIncomplete == true {
      out.append("  diagnosis stopped at the run's time budget; `rnnconf run --explain` tries every hypothesis")
    }
    return out
  }

  func headerSuffix(_ c: CaseReport) -> String {
    guard c.status != .error, let precision = c.precision, let t = c.tolerance else { return "" }
    var parts = [precision.rawValue]
    if let dtype = c.dtype, dtype != precision { parts = ["\(precision) reference vs \(dtype) framework"] }
    parts.append("atol \(num(t.atol)), rtol \(num(t.rtol))" + (c.toleranceSource == "command line" ? " (command line)" : ""))
    return "  [" + parts.joined(separator: "; ") + "]"
  }

  /// One output, e.g. "output `h_n`: Mismatched elements: 3 / 96 (3.1%); greatest absolute difference ...".
  public func describe(_ o: OutputComparison) -> String {
    var s = "output `\(o.name)`: "
    if let problem = o.problem { return s + problem }
    if o.mismatched == 0 {
      s += "ok, \(o.total) elements"
      if let a = o.maxAbsError { s += "; greatest absolute difference \(num(a))" }
      if let r = o.maxRelError { s += "; greatest relative difference \(num(r))" }
      if let u = o.maxULP { s += "; max \(u) ULP" }
      return s
    }
    let pct = o.total > 0 ? 100 * Double(o.mismatched) / Double(o.total) : 0
    s += "Mismatched elements: \(o.mismatched) / \(o.total) (\(String(format: "%.1f", pct))%)"
    if o.nonFiniteMismatched > 0 { s += ", \(o.nonFiniteMismatched) of them NaN or infinite" }
    if let a = o.maxAbsError, let i = o.maxAbsIndex {
      s += "; greatest absolute difference \(num(a)) at \(at(i, o.axes))"
      // Where the difference is infinite (a NaN or infinity on one side) no tolerance applies.
      if let allowed = o.maxAbsAllowed, allowed.isFinite, a.isFinite { s += ", up to \(num(allowed)) allowed" }
    }
    if let r = o.maxRelError, let i = o.maxRelIndex {
      s += "; greatest relative difference \(num(r)) at \(at(i, o.axes)), up to \(num(o.tolerance.rtol)) allowed"
    }
    if let u = o.maxULP { s += "; max \(u) ULP" + (o.nonFiniteMismatched > 0 ? " among the finite pairs" : "") }
    if let step = o.firstFailingStep { s += "; first failing step \(step)" }
    else if let i = o.firstFailingIndex { s += "; first failing element at \(at(i, o.axes))" }
    if o.expectedNaNs > 0 && o.nonFiniteMismatched > 0 {
      s += "; the expected output holds \(o.expectedNaNs) NaN"
    }
    return s
  }

  /// "(batch 0, step 7, unit 2)".
  func at(_ index: [Int], _ axes: [String]) -> String {
    guard axes.count == index.count else { return "(" + index.map(String.init).joined(separator: ", ") + ")" }
    return "(" + zip(axes, index).map { "\($0) \($1)" }.joined(separator: ", ") + ")"
  }

  /// The whole report: case lines, a timing line, and the summary line last.
  public func render(_ report: RunReport) -> String {
    var out: [String] = []
    for c in report.cases { out += lines(for: c) }
    out.append("ran \(report.summary.total) case\(report.summary.total == 1 ? "" : "s") in \(String(format: "%.2f", report.durationSeconds)) s")
    out.append(report.summary.line)
    return out.joined(separator: "\n") + "\n"
  }
}

/// Short number formatting for reports: 2.1e-04 style for small values.
func num(_ x: Double) -> String {
  if x.isNaN { return "nan" }
  if x.isInfinite { return x > 0 ? "inf" : "-inf" }
  if x == 0 { return "0" }
  return String(format: "%.3g", x)
}
