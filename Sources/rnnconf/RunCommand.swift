import ArgumentParser
import Conformance
import Foundation
import RNNRef

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run conformance cases through the reference and compare every output (the default command).",
    discussion: """
      Each case runs through its framework's adapter; every output is compared by name, shape, dtype and \
      value with |actual - expected| <= atol + rtol * |expected|.

      Statuses: PASS, FAIL (outputs differ), ERROR (the case could not be loaded or run), XFAIL (fails and \
      is listed in the expectations file), XPASS (listed there but passes).

      Exit status: 0 when every case passes or fails as expected; 1 when any case fails, errors or passes \
      unexpectedly, or when --json/--junit/--html cannot be written (checked before the first case runs; \
      reports are written atomically, so a failed write keeps the previous file); 64 for usage errors \
      (missing path, folder without cases, bad option value, a selection that matches no case). \
      With --isolate a case whose process is killed by a signal is an ERROR naming the signal.
      """)

  @OptionGroup var selection: SelectionOptions

  @Option(help: ArgumentHelp("Absolute tolerance for every case (needs --rtol).", valueName: "x"))
  var atol: Double?

  @Option(help: ArgumentHelp("Relative tolerance for every case (needs --atol).", valueName: "x"))
  var rtol: Double?

  @Option(help: ArgumentHelp(
    "`case` runs each case in its own dtype; `float64` runs the reference in Double on the same float32 "
      + "inputs and weights, to tell framework rounding from real disagreement."))
  var precision: Precision = .case

  @Option(help: ArgumentHelp("Write the JSON report here.", valueName: "file"))
  var json: String?

  @Option(help: ArgumentHelp("Write a JUnit XML report here.", valueName: "file"))
  var junit: String?

  @Option(help: ArgumentHelp(
    "`dashboard`: expected failures as <skipped>, a `file` attribute per test case (pytest's form); "
      + "`strict`: the Ant JUnit schema, which has neither."))
  var junitFormat: JUnitFlavor = .dashboard

  @Option(help: ArgumentHelp(
    "Write a self-contained HTML report here (summary, error plots and heatmaps of failing outputs).",
    valueName: "file"))
  var html: String?

  @Option(help: ArgumentHelp(
    "Expected failures (default: expected-failures.json in the searched folder, when present).", valueName: "file"))
  var expectations: String?

  @Flag(help: ArgumentHelp(
    "Run each case file in its own child process: a crash (a signal) is an ERROR naming the case and the signal, "
      + "and the run goes on. Costs a process start per case."))
  var isolate = false

  @Option(help: ArgumentHelp(
    "With --isolate (implied): kill a case still running after this many seconds and report it as an ERROR.",
    valueName: "seconds"))
  var caseTimeout: Double?

  @Flag(help: ArgumentHelp(
    "Diagnose every failing case with the whole catalogue of convention mistakes (gate order, transposed "
      + "kernels, biases, forget bias, GRU reset, hard_sigmoid, layouts, state order, masks; docs/DIAGNOSIS.md), "
      + "however long it takes."))
  var explain = false

  @Option(help: ArgumentHelp(
    "Without --explain: diagnose failing cases automatically during the first this-many seconds of the run "
      + "(0 turns it off).", valueName: "seconds"))
  var diagnosisBudget: Double = 30

  /// The child's side of --isolate: one case, described as JSON; prints its report as JSON.
  @Option(help: .hidden) var isolatedCase: String?

  @Flag(name: .shortAndLong, help: "Print only cases that do not pass, and the summary.")
  var quiet = false

  @Flag(name: .shortAndLong, help: "Print every output's metrics, for passing cases too.")
  var verbose = false

  func validate() throws {
    if (atol == nil) != (rtol == nil) {
      throw ValidationError("Please pass --atol and --rtol together (the tolerance is atol + rtol * |expected|).")
    }
    for (name, value) in [("--atol", atol), ("--rtol", rtol)] {
      if let v = value, !(v >= 0 && v.isFinite) {
        throw ValidationError("Please pass a finite, non-negative number to \(name) (got \(v)).")
      }
    }
    if quiet && verbose { throw ValidationError("Please pass at most one of --quiet and --verbose.") }
    if !(diagnosisBudget >= 0 && diagnosisBudget.isFinite) {
      throw ValidationError("Please pass --diagnosis-budget a finite, non-negative number of seconds (got \(diagnosisBudget)).")
    }
    if let t = caseTimeout, !(t > 0 && t.isFinite) {
      throw ValidationError("Please pass --case-timeout a positive number of seconds (got \(t)).")
    }
    for (name, file) in [("--json", json), ("--junit", junit), ("--html", html)] {
      guard let file else { continue }
      let dir = (file as NSString).deletingLastPathComponent
      var isDir: ObjCBool = false
      if !dir.isEmpty && !(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue) {
        throw ValidationError("Please pass \(name) a file in an existing folder (`\(dir)` does not exist).")
      }
    }
  }

  func run() throws {
    if let isolatedCase {
      let spec = try JSONDecoder().decode(IsolatedCase.self, from: Data(isolatedCase.utf8))
      FileHandle.standardOutput.write(try Runner().runIsolatedChild(spec))
      return
    }
    var options = RunOptions()
    try selection.apply(to: &options)
    options.isolate = isolate || caseTimeout != nil
    options.caseTimeout = caseTimeout
    if let atol, let rtol { options.tolerance = Tolerance(atol: atol, rtol: rtol) }
    options.precision = precision
    options.expectationsPath = expectations
    options.explain = explain
    options.diagnosisBudget = diagnosisBudget
    try Output.check("--json", json)  // before any case runs
    try Output.check("--junit", junit)
    try Output.check("--html", html)

    let progress = isTerminal(STDERR_FILENO) ? ProgressLine() : nil
    var runner = Runner()
    if let progress {
      runner.progress = { @Sendable done, total, name in progress.update(done, total, name) }
    }
    let report: RunReport
    do {
      report = try runner.run(options)
    } catch let error as ConformanceError {
      throw usageFailure(error.description)
    }
    progress?.clear()

    let text = TextReporter(color: wantsColor(), verbose: verbose, quiet: quiet)
    for warning in report.warnings ?? [] {
      FileHandle.standardError.write(Data(("warning: " + warning + "\n").utf8))
    }
    FileHandle.standardOutput.write(Data(text.render(report).utf8))

    if let json { try Output.write(try report.jsonData(), to: json, what: "the JSON report") }
    if let junit {
      try Output.write(Data(JUnitReporter.xml(report, flavor: junitFormat).utf8), to: junit, what: "the JUnit report")
    }
    if let html { try Output.write(Data(HTMLReport.render(report).utf8), to: html, what: "the HTML report") }
    if report.summary.exitCode != 0 { throw ExitCode(report.summary.exitCode) }
  }
}

/// "[12/164] pytorch/lstm_basic" on stderr, redrawn in place; shown once a run takes over half a second.
final class ProgressLine: @unchecked Sendable {
  private let lock = NSLock()
  private let start = Date()
  private var lastDraw = Date.distantPast
  private var drawn = false

  func update(_ done: Int, _ total: Int, _ name: String) {
    lock.lock(); defer { lock.unlock() }
    let now = Date()
    guard now.timeIntervalSince(start) > 0.5, now.timeIntervalSince(lastDraw) > 0.1 else { return }
    lastDraw = now
    drawn = true
    FileHandle.standardError.write(Data("\r\u{1B}[K[\(done)/\(total)] \(name)".utf8))
  }

  func clear() {
    lock.lock(); defer { lock.unlock() }
    if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
  }
}


// `--framework`, `--cell` and `--precision` take the vocabulary's raw values.
extension Framework: ExpressibleByArgument {}
extension CellFamily: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension JUnitFlavor: ExpressibleByArgument {}

/// The selection shared by `run` and `list`.
struct SelectionOptions: ParsableArguments {
  @Argument(help: ArgumentHelp(
    "Case files (*.h5) or folders searched recursively (skipping generate/ and artifacts/).",
    discussion: "Default: fixtures/ in the current directory, else the bundled fixtures/ of the package rnnconf was built from.",
    valueName: "path"))
  var paths: [String] = []

  @Option(help: ArgumentHelp("Only cases whose name matches this glob (`pytorch/*`, `*lstm*`).", valueName: "glob"))
  var filter: String?

  @Option(help: "Only cases of this framework.")
  var framework: Framework?

  @Option(help: "Only cases of this cell.")
  var cell: CellFamily?

  @Option(help: ArgumentHelp(
    "Run the K-th of N stable shards (1...N); every case is in exactly one shard.", valueName: "K/N"))
  var shard: String?

  func validate() throws {
    if let shard {
      do { _ = try Shard(parsing: shard) } catch { throw ValidationError("Please pass --shard as K/N with 1 <= K <= N, e.g. --shard 2/4 (got `\(shard)`).") }
    }
    if let filter, filter.isEmpty { throw ValidationError("Please pass a non-empty glob to --filter.") }
  }

  func apply(to options: inout RunOptions) throws {
    options.paths = paths
    options.filter = filter
    options.framework = framework
    options.cell = cell
    options.shard = try shard.map { try Shard(parsing: $0) }
  }
}

/// Writes a run-level problem and exits 64.
func usageFailure(_ message: String) -> ExitCode {
  FileHandle.standardError.write(Data(("Error: " + message + "\n").utf8))
  return ExitCode.validationFailure
}

func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
func wantsColor() -> Bool {
  if let v = ProcessInfo.processInfo.environment["NO_COLOR"], !v.isEmpty { return false }
  if ProcessInfo.processInfo.environment["TERM"] == "dumb" { return false }
  return isTerminal(STDOUT_FILENO)
}
