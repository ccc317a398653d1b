import Dispatch
import Foundation
import RNNRef

/// The precision the reference runs in.
public enum Precision: String, CaseIterable, Codable, Sendable {
  /// The case's own dtype: float32 cases run in `Float`, float64 cases in `Double`.
  case `case`
  /// `Double` on the same inputs and weights: how far the framework's own result is from exact.
  case float64
}

/// Everything that selects and parameterises a run.
public struct RunOptions: Sendable {
  /// Case files or folders; empty = the bundled `fixtures/`.
  public var paths: [String] = []
  /// Glob on case names (`pytorch/*`, `*lstm*`).
  public var filter: String?
  public var framework: Framework?
  public var cell: CellFamily?
  public var shard: Shard?
  /// Replaces every case's tolerance.
  public var tolerance: Tolerance?
  public var precision: Precision = .case
  /// nil = `expected-failures.json` in a searched folder or a named file's folder, or up to two folders above, when present.
  public var expectationsPath: String?
  /// Run cases on all cores (results keep the discovery order either way).
  public var parallel = true
  public var currentDirectory = FileManager.default.currentDirectoryPath
  public var executablePath: String? = Discovery.executablePath()
  /// Run each case file in a child process (`executablePath run --isolated-case ...`), so a crash
  /// is an ERROR for that case, not the end of the run.
  public var isolate = false
  /// With `isolate`: a child still running after this many seconds is killed and the case is an
  /// ERROR saying so (libhdf5 can loop forever on some corrupt files). nil = no limit.
  public var caseTimeout: Double?
  /// Diagnose every failing case with the whole catalogue of convention mistakes (`--explain`).
  public var explain = false
  /// Without `explain`: seconds of the run, from its start, within which failing cases are
  /// diagnosed automatically (a case still being diagnosed at the end stops there); 0 = none.
  public var diagnosisBudget: Double = 30
  /// The limit a run started at `start` gives its failing cases; nil = no diagnosis.
  public func diagnosisLimit(startingAt start: Date) -> DiagnosisLimit? {
    if explain { return .unlimited }
    return diagnosisBudget > 0 ? DiagnosisLimit(deadline: start.addingTimeInterval(diagnosisBudget)) : nil
  }
  var resolvedDiagnosis: DiagnosisLimit??

  public init() {}

  /// Whether the selection narrows the suite (then stale expectations are not reported).
  var selects: Bool { filter != nil || framework != nil || cell != nil || shard != nil }
}

/// Loads a case file; throws for a file that cannot be read as a case.
public typealias CaseLoader = @Sendable (String) throws -> Case

/// Runs conformance cases and builds the report. The command line is a thin layer over this.
public struct Runner: Sendable {
  public var loader: CaseLoader
  /// Whether a loading error means "this HDF5 file is not a case file" (skipped when found by
  /// searching a folder; an error when named explicitly).
  public var isNotACase: @Sendable (Error) -> Bool
  /// Called after each case with (done, total, name); from any thread.
  public var progress: (@Sendable (Int, Int, String) -> Void)?

  public init(loader: @escaping CaseLoader = Runner.defaultLoader,
              isNotACase: @escaping @Sendable (Error) -> Bool = Runner.defaultIsNotACase,
              progress: (@Sendable (Int, Int, String) -> Void)? = nil) {
    self.loader = loader; self.isNotACase = isNotACase; self.progress = progress
  }

  /// The files a run would consider after --filter and --shard (before loading).
  public func select(_ options: RunOptions) throws -> (discovery: Discovery, files: [CaseFile]) {
    let discovery = try Discovery.find(paths: options.paths, currentDirectory: options.currentDirectory,
                                       executablePath: options.executablePath, readStoredNames: !options.isolate)
    var files = discovery.files
    if let pattern = options.filter { files = files.filter { globMatch(pattern, $0.name) } }
    // Framework folders narrow before loading, so unrelated broken files stay out of the run.
    if let fw = options.framework {
      files = files.filter { f in
        let first = f.name.split(separator: "/").first.map(String.init) ?? ""
        return Framework(rawValue: first).map { $0 == fw } ?? true
      }
    }
    if let shard = options.shard {
      files = files.enumerated().filter { shard.contains(position: $0.offset) }.map(\.element)
    }
    return (discovery, files)
  }

  /// The expectations that apply to a run (see `RunOptions.expectationsPath`).
  public func expectations(_ options: RunOptions, discovery: Discovery) throws -> (Expectations, String?) {
    if let path = options.expectationsPath {
      let abs = Discovery.absolute(path, in: options.currentDirectory)
      return (try Expectations.load(path: abs), abs)
    }
    // The searched folder or a named file's folder, then up to two folders above
    // (`rnnconf run fixtures/onnx` uses fixtures/expected-failures.json).
    var candidates: [String] = []
    let starts = discovery.folders + discovery.files.filter(\.explicit).map { ($0.path as NSString).deletingLastPathComponent }
    for start in starts {
      var dir = start
      for _ in 0..<3 where dir != "/" {
        candidates.append(dir + "/" + Expectations.fileName)
        dir = (dir as NSString).deletingLastPathComponent
      }
    }
    for c in candidates where FileManager.default.fileExists(atPath: c) {
      return (try Expectations.load(path: c), c)
    }
    return (Expectations(), nil)
  }

  /// Runs a selection. Throws `ConformanceError.usage` for run-level problems (missing path,
  /// empty folder, unreadable expectations file); every case-level problem is in the report.
  public func run(_ options: RunOptions) throws -> RunReport {
    let started = Date()
    let options = { var o = options; o.resolvedDiagnosis = .some(o.diagnosisLimit(startingAt: started)); return o }()
    let (discovery, files) = try select(options)
    let (expectations, expectationsFile) = try expectations(options, discovery: discovery)
    // A selection that matches nothing is a mistake, never a green run (an empty shard is fine).
    if files.isEmpty && options.shard == nil {
      throw ConformanceError.usage("no case matches \(Self.describeSelection(options)) among the \(discovery.files.count) "
        + "case files found; `rnnconf list` shows the case names")
    }

    let results = Results(count: files.count)
    let total = files.count
    let work: @Sendable (Int) -> Void = { k in
      let file = files[k]
      let report: CaseReport?
      if options.isolate {
        if let exe = options.executablePath {
          report = Self.runInChild(executable: exe, file: file, options: options,
                                   expectedFailure: expectations.reason(for: file.name), timeout: options.caseTimeout)
        } else {
          report = CaseReport(name: file.name, path: file.path, status: .error,
                              message: "--isolate: the path of the rnnconf executable is unknown, so no child process can run the case",
                              expectedFailureReason: expectations.reason(for: file.name), durationSeconds: 0)
        }
      } else {
        report = self.runFile(file, options: options, expectations: expectations)
      }
      let done = results.set(k, report)
      self.progress?(done, total, file.name)
    }
    if options.parallel && files.count > 1 {
      DispatchQueue.concurrentPerform(iterations: files.count, execute: work)
    } else {
      for k in files.indices { work(k) }
    }
    let cases = results.values.compactMap { $0 }
    if cases.isEmpty && !files.isEmpty && options.shard == nil {
      if options.framework != nil || options.cell != nil {
        throw ConformanceError.usage("no case matches \(Self.describeSelection(options)); `rnnconf list` shows each case's framework and cell")
      }
      throw ConformanceError.usage("none of the \(files.count) HDF5 files found is a case file (no `rnnconf_case_schema` "
        + "attribute): " + files.prefix(3).map { "`\($0.path)`" }.joined(separator: ", ") + (files.count > 3 ? ", ..." : ""))
    }
    var report = RunReport(
      startedAt: ISO8601DateFormatter().string(from: started),
      durationSeconds: Date().timeIntervalSince(started), precision: options.precision,
      toleranceOverride: options.tolerance, filter: options.filter, framework: options.framework,
      cell: options.cell, shard: options.shard?.description, expectationsFile: expectationsFile, cases: cases)
    if !options.selects {
      // Only entries of the folders searched: `rnnconf run fixtures/tf1` says nothing of onnx's entries,
      // `rnnconf run fixtures/onnx/backend` nothing of onnx/*'s (an entry's folder is its name's parent).
      let names = Set(files.map(\.name))
      func folder(_ name: String) -> Substring {
        guard let slash = name.lastIndex(of: "/") else { return "" }
        return name[..<slash]
      }
      let folders = Set(files.map { folder($0.name) })
      report.warnings = expectations.expectedFailures.filter {
        folders.contains(folder($0.case)) && !names.contains($0.case)
      }.map {
        "the expectations file lists `\($0.case)`, which is not among the cases found; remove or rename the entry"
      }
    }
    // A case whose `name` attribute and path disagree: one warning per case run (Discovery).
    let nameWarnings = files.compactMap(\.nameWarning)
    if !nameWarnings.isEmpty { report.warnings = nameWarnings + (report.warnings ?? []) }
    return report.relativePaths(to: options.currentDirectory)
  }

  static func describeSelection(_ o: RunOptions) -> String {
    var parts: [String] = []
    if let f = o.filter { parts.append("--filter '\(f)'") }
    if let f = o.framework { parts.append("--framework \(f)") }
    if let c = o.cell { parts.append("--cell \(c)") }
    return parts.isEmpty ? "the selection" : parts.joined(separator: " ")
  }

  /// Loads and runs one file; nil when the case is filtered out after loading (--framework,
  /// --cell) or is a non-case HDF5 file found by searching a folder.
  public func runFile(_ file: CaseFile, options: RunOptions, expectations: Expectations) -> CaseReport? {
    let started = Date()
    if let problem = file.problem {  // never opened: a FIFO, a device, a name that is not UTF-8
      return CaseReport(name: file.name, path: file.path, status: .error, message: "cannot open the case file: \(problem)",
                        expectedFailureReason: expectations.reason(for: file.name), durationSeconds: 0)
    }
    let c: Case
    do {
      c = try loader(file.path)
    } catch {
      if !file.explicit && isNotACase(error) { return nil }
      return CaseReport(name: file.name, path: file.path, status: .error,
                        message: "could not load the case file: \(error)", underlying: error,
                        expectedFailureReason: expectations.reason(for: file.name),
                        durationSeconds: Date().timeIntervalSince(started))
    }
    if let fw = options.framework, c.framework != fw { return nil }
    if let cell = options.cell, c.cell != cell { return nil }
    var report = evaluate(c, name: file.name, precision: options.precision, tolerance: options.tolerance,
                          expectedFailure: expectations.reason(for: file.name),
                          diagnosis: options.resolvedDiagnosis ?? options.diagnosisLimit(startingAt: started))
    report.durationSeconds = Date().timeIntervalSince(started)
    return report
  }

  /// Runs one loaded case through its framework's adapter and compares every output.
  /// `diagnosis`: for a failing case, how long to try the catalogue of convention mistakes
  /// (`Diagnoser`); nil = not at all.
  public func evaluate(_ c: Case, name: String? = nil, precision: Precision = .case,
                       tolerance override: Tolerance? = nil, expectedFailure: String? = nil,
                       diagnosis: DiagnosisLimit? = nil) -> CaseReport {
    let started = Date()
    let tolerance = override ?? Tolerance(atol: c.atol, rtol: c.rtol)
    var report = CaseReport(
      name: name ?? c.name, path: c.path, framework: c.framework, cell: c.cell, dtype: c.dtype,
      library: c.library, libraryVersion: c.libraryVersion, tolerance: tolerance,
      toleranceSource: override == nil ? "case" : "command line", nanEqual: c.nanEqual, status: .error,
      expectedFailureReason: expectedFailure)
    defer { report.durationSeconds = Date().timeIntervalSince(started) }

    let convention = Conventions.convention(for: c.framework, config: c.config)
    let single = precision == .case && c.dtype == .float32
    let actualDType: DType = single ? .float32 : .float64
    report.precision = actualDType

    let actual: NamedTensors<Double>
    var actualLayers: NamedTensors<Double>?  // each layer's output, when the case has intermediates to compare
    let parsed: any ParsedConfig  // parsed once for the run and the axis names
    do {
      parsed = try convention.parsed(config: c.config)
      // Expected outputs that cannot match what the adapter will produce: before the reference runs
      // (a listed expected failure runs, so its layout mistake is still diagnosed).
      if expectedFailure == nil, let problem = Self.outputShapeProblem(c, parsed) { report.message = problem; return report }
      let layerwise = !c.intermediates.entries.isEmpty
      if single {
        let weights: NamedTensors<Float> = Self.convert(c.weights)
        let inputs: NamedTensors<Float> = Self.convert(c.inputs)
        if layerwise {
          let out = try parsed.evaluateLayers(weights: weights, inputs: inputs)
          actual = Self.convert(out.outputs); actualLayers = out.layers.map { Self.convert($0) }
        } else {
          actual = Self.convert(try parsed.evaluate(weights: weights, inputs: inputs))
        }
      } else if layerwise {
        (actual, actualLayers) = try parsed.evaluateLayers(weights: c.weights, inputs: c.inputs)
      } else {
        actual = try parsed.evaluate(weights: c.weights, inputs: c.inputs)
      }
    } catch {
      report.message = "the \(c.framework) adapter could not run the case: \(error)"
      report.underlying = error
      return report
    }

    var outputs: [OutputComparison] = []
    // `compared_output_names`: what is left out is named in the report, never dropped silently.
    let compared = c.comparedOutputs.map(Set.init)
    var notCompared: [String] = []
    for (outName, expected) in c.outputs.entries {
      if let compared, !compared.contains(outName) {
        notCompared.append(outName)
        continue
      }
      let expectedDType = c.outputDTypes[outName] ?? c.dtype.rawValue
      guard let got = actual[outName] else {
        outputs.append(Comparison.missing(name: outName, expected: expected, expectedDType: expectedDType,
                                          tolerance: tolerance, produced: actual.names))
        continue
      }
      let axes = Comparison.axisNames(parsed.axisNames(output: outName), rank: expected.rank)
      outputs.append(Comparison.compare(
        name: outName, expected: expected, expectedDType: expectedDType, actual: got,
        actualDType: actualDType, dtype: c.dtype, tolerance: tolerance, nanEqual: c.nanEqual, axes: axes))
    }
    let stored = c.outputs.names
    for (outName, got) in actual.entries where !stored.contains(outName) {
      if compared != nil {
        notCompared.append(outName)
        continue
      }
      outputs.append(Comparison.unexpected(name: outName, actual: got, actualDType: actualDType,
                                           tolerance: tolerance, stored: stored))
    }
    report.outputs = outputs
    if c.comparedOutputs != nil { report.notCompared = notCompared }
    if !c.intermediates.entries.isEmpty {
      let layers = Intermediates.compare(c, actual: actualLayers, actualDType: actualDType, tolerance: tolerance,
                                         axes: { parsed.layerAxisNames(rank: $0) })
      report.intermediates = layers
      report.firstDivergentLayer = layers.first { $0.status == .fail }?.name
    }
    report.errorMaps = ErrorMap.maps(case: c, outputs: outputs, actual: actual,
                                     layers: report.intermediates ?? [], actualLayers: actualLayers)
    let failing = outputs.filter { $0.status == .fail } + (report.intermediates ?? []).filter { $0.status == .fail }
    if failing.isEmpty {
      report.status = expectedFailure == nil ? .pass : .unexpectedPass
    } else {
      report.status = expectedFailure == nil ? .fail : .expectedFailure
      let failingOutputs = outputs.filter { $0.status == .fail }
      var parts: [String] = []
      if !failingOutputs.isEmpty {
        parts.append("\(failingOutputs.count) of \(outputs.count) outputs differ: "
          + failingOutputs.map { "`\($0.name)`" }.joined(separator: ", "))
      }
      if let layer = report.firstDivergentLayer { parts.append("first divergent layer `\(layer)`") }
      report.message = parts.joined(separator: "; ")
      if let diagnosis {
        let (found, complete) = Diagnoser.diagnose(c, precision: precision, tolerance: override, limit: diagnosis)
        report.diagnosis = found
        if !complete { report.diagnosisIncomplete = true }
      }
    }
    return report
  }

  static func convert<A: RNNScalar, B: RNNScalar>(_ t: NamedTensors<A>) -> NamedTensors<B> {
    NamedTensors(t.entries.map { (name: $0.name, tensor: Tensor<B>($0.tensor)) })
  }
}

/// Results filled from concurrent workers, read in order afterwards.
final class Results: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [CaseReport?]
  private var done = 0

  init(count: Int) { storage = Array(repeating: nil, count: count) }

  /// Stores one result; returns how many are done.
  func set(_ k: Int, _ value: CaseReport?) -> Int {
    lock.lock(); defer { lock.unlock() }
    storage[k] = value
    done += 1
    return done
  }

  var values: [CaseReport?] { lock.lock(); defer { lock.unlock() }; return storage }
}
