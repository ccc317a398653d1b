import Foundation
import RNNRef

#if canImport(Glibc)
import Glibc
#endif

/// One case file run in a child process (`rnnconf run --isolate`): the parent re-executes the
/// binary with `run --isolated-case <this, as JSON>`; the child prints the `CaseReport` as JSON
/// (or `null` when the case is filtered out) and exits 0. A child killed by a signal becomes an
/// ERROR naming the case and the signal, and the run goes on.
public struct IsolatedCase: Codable, Sendable, Equatable {
  public var name: String
  public var path: String
  public var explicit: Bool
  public var problem: String?
  public var precision: Precision
  public var tolerance: Tolerance?
  public var framework: Framework?
  public var cell: CellFamily?
  public var expectedFailure: String?

  public init(file: CaseFile, options: RunOptions, expectedFailure: String?) {
    name = file.name; path = file.path; explicit = file.explicit; problem = file.problem
    precision = options.precision; tolerance = options.tolerance
    framework = options.framework; cell = options.cell; self.expectedFailure = expectedFailure
  }

  public var file: CaseFile { CaseFile(name: name, path: path, explicit: explicit, problem: problem) }

  public var options: RunOptions {
    var o = RunOptions()
    o.precision = precision; o.tolerance = tolerance; o.framework = framework; o.cell = cell
    return o
  }

  /// The name of the environment variable a debug build's child honours to crash on purpose
  /// (`segv` or `abort`), or to hang (`hang`), so tests can check that the parent survives and kills it. Ignored by release builds.
  public static let crashTriggerVariable = "RNNCONF_TEST_CRASH_ISOLATED_CHILD"
}

/// The address-space cap (`RLIMIT_AS`) of the child processes that read files for another
/// process: `run --isolate` (one per case) and `inspect`. rnnconf checks sizes before it
/// allocates, but libhdf5 sizes some allocations from what a file declares (an attribute's
/// dataspace when the object header is decoded, for one); under the cap such an allocation fails
/// inside the child instead of taking the machine's memory, and the parent reports an ERROR
/// naming the case file. Default 4096 MiB; `RNNCONF_CHILD_MEMORY_MB=<MiB>` changes it, 0 lifts it.
public enum ChildMemoryLimit {
  public static let variable = "RNNCONF_CHILD_MEMORY_MB"
  public static let defaultMiB = 4096

  /// The cap in MiB from the environment (nil: none).
  public static var mebibytes: Int? {
    guard let text = ProcessInfo.processInfo.environment[variable] else { return defaultMiB }
    guard let v = Int(text.trimmingCharacters(in: .whitespaces)), v >= 0 else { return defaultMiB }
    return v == 0 ? nil : v
  }

  /// Sets the calling process's `RLIMIT_AS` to the cap (never above its current hard limit).
  public static func apply() {
    #if canImport(Glibc)
    guard let mib = mebibytes else { return }
    var limit = rlimit()
    guard getrlimit(RLIMIT_AS_, &limit) == 0 else { return }
    let want = rlim_t(mib) << 20
    limit.rlim_cur = limit.rlim_max == rlim_t.max ? want : min(want, limit.rlim_max)
    _ = setrlimit(RLIMIT_AS_, &limit)
    #endif
  }

  /// What a report says about the cap, for a child that failed.
  static var note: String {
    mebibytes.map { "isolated processes may use at most \($0) MiB of address space (\(variable)=<MiB> raises it, 0 lifts it)" }
      ?? "no memory cap was set (\(variable)=0)"
  }
}

#if canImport(Glibc)
private let RLIMIT_AS_ = __rlimit_resource_t(RLIMIT_AS.rawValue)
#endif

extension Runner {
  /// The child's side: runs the one case and returns the JSON the parent decodes.
  public func runIsolatedChild(_ spec: IsolatedCase) throws -> Data {
    ChildMemoryLimit.apply()
    #if DEBUG
    switch ProcessInfo.processInfo.environment[IsolatedCase.crashTriggerVariable] {
    case "segv": raise(SIGSEGV)
    case "abort": abort()
    case "hang": while true { sleep(60) }  // what libhdf5 did on corrupt vlen strings before GlobalHeap
    default: break
    }
    #endif
    let expectations = Expectations(spec.expectedFailure.map { [Expectations.Entry(case: spec.name, reason: $0)] } ?? [])
    let report = runFile(spec.file, options: spec.options, expectations: expectations)
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return try report.map { try encoder.encode($0) } ?? Data("null".utf8)
  }

  /// The parent's side: runs `executable run --isolated-case <spec>` and reads its report.
  static func runInChild(executable: String, file: CaseFile, options: RunOptions, expectedFailure: String?,
                         timeout: Double? = nil) -> CaseReport? {
    let started = Date()
    let spec = IsolatedCase(file: file, options: options, expectedFailure: expectedFailure)
    func failure(_ message: String) -> CaseReport {
      CaseReport(name: file.name, path: file.path, status: .error, message: message,
                 expectedFailureReason: expectedFailure, durationSeconds: Date().timeIntervalSince(started))
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    do {
      let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
      p.arguments = ["run", "--isolated-case", json]
    } catch { return failure("could not describe the case to a child process: \(error)") }
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"  // the parent reports the signal; no backtrace dump per crash
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    let exited = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in exited.signal() }
    do { try p.run() } catch { return failure("could not start a child process (`\(executable)`): \(error)") }
    let timedOut = Slots<Bool>(count: 1)
    if let timeout {
      let pid = p.processIdentifier
      DispatchQueue.global().async {
        if exited.wait(timeout: .now() + timeout) == .timedOut {
          timedOut.set(0, true)
          kill(pid, SIGKILL)
        } else {
          exited.signal()  // give the token back for the wait below
        }
      }
    }
    // Drain stderr concurrently so neither pipe can fill and block the child.
    let errData = Slots<Data>(count: 1)
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData.set(0, err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    group.wait()
    let stderrText = String(decoding: errData.values[0] ?? Data(), as: UTF8.self)
    if timedOut.values[0] == true, let timeout {
      return failure("the case did not finish within \(timeout) s (--case-timeout) and its isolated process was killed; "
        + "a corrupt file can make libhdf5 loop forever")
    }
    if p.terminationReason == .uncaughtSignal {
      let sig = p.terminationStatus
      let name = Self.signalName(sig)
      return failure("`\(file.path)`: the case crashed its isolated process: signal \(sig) (\(name)); the file triggers a bug in rnnconf "
        + "or libhdf5, please report it with the file (if it ran out of memory: \(ChildMemoryLimit.note))"
        + (stderrText.isEmpty ? "" : ". Its last words: " + String(stderrText.suffix(300))))
    }
    guard p.terminationStatus == 0 else {
      return failure("`\(file.path)`: the isolated process for the case exited with status \(p.terminationStatus) "
        + "(if it ran out of memory: \(ChildMemoryLimit.note)): " + String(stderrText.suffix(500)))
    }
    if data == Data("null".utf8) { return nil }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    do { return try decoder.decode(CaseReport.self, from: data) } catch {
      return failure("the isolated process for the case answered something that is not a case report (\(data.count) bytes): \(error)")
    }
  }

  static func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGBUS: return "SIGBUS"
    case SIGILL: return "SIGILL"
    case SIGFPE: return "SIGFPE"
    case SIGKILL: return "SIGKILL"
    case SIGTRAP: return "SIGTRAP"
    default: return "signal \(sig)"
    }
  }
}
