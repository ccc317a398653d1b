import Dispatch
import Foundation
import Testing
@testable import Conformance

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: every command of the built `rnnconf` on the seeded malformed corpus
/// (`MalformedCorpus`): no signal, no hang, exit 1 for garbage (0 only where the input may have
/// stayed valid), never 64 (no usage error here), and every error names the file.
/// The GEMM kernel is pinned in the children (`RNNCONF_GEMM_KERNEL=flat`) so debug runs skip the autotune.
@Suite(.serialized) struct MalformedCorpusTests {
  struct Outcome: Sendable {
    var status: Int32
    var signalled: Bool
    var timedOut: Bool
    var output: String
  }

  /// Runs the binary with a timeout (SIGKILL past it).
  static func run(_ arguments: [String], timeout: Double) throws -> Outcome {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CLITests.binary)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["RNNCONF_GEMM_KERNEL"] = "flat"
    env["NO_COLOR"] = "1"
    p.environment = env
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-out-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: out) }
    let handle = try FileHandle(forWritingTo: out)
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    let done = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in done.signal() }
    try p.run()
    let timedOut = done.wait(timeout: .now() + timeout) == .timedOut
    if timedOut {
      kill(p.processIdentifier, SIGKILL)
      done.wait()
    }
    try handle.close()
    let text = String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self)
    return Outcome(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal && !timedOut,
                   timedOut: timedOut, output: text)
  }

  /// Messages known not to name the input file yet: `predict`'s model-side input shape check
  /// (Sources/rnnconf/PredictCommand.swift and KerasModel, changed on another branch). Counted and printed.
  static let knownUnnamed = ["rnnconf predict: input 0 (`x`) has shape"]

  @Test func everyCommandOnTheMalformedCorpus() throws {
    guard FileManager.default.isExecutableFile(atPath: CLITests.binary) else {
      Issue.record("rnnconf is not built at \(CLITests.binary); build it with `swift build` before `swift test --skip-build`")
      return
    }
    // RNNCONF_CORPUS_DIR=<empty folder> keeps the corpus there, to rerun an input by hand.
    let keep = ProcessInfo.processInfo.environment["RNNCONF_CORPUS_DIR"]
    let dir = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if keep == nil { _ = try? Process.run(URL(fileURLWithPath: "/bin/rm"), arguments: ["-rf", dir]).waitUntilExit() } }
    var corpus = MalformedCorpus(dir: dir, seed: 0x11_2026)
    try corpus.generate()
    let entries = corpus.entries
    #expect(entries.count >= 300, "the corpus has \(entries.count) inputs")

    let jobs = entries.flatMap { e in e.commands.map { (entry: e, args: $0) } }
    let outcomes = OutcomeStore()
    DispatchQueue.concurrentPerform(iterations: jobs.count) { k in
      outcomes.set(k, try? Self.run(jobs[k].args, timeout: 30))
    }
    var passedGarbage = 0, mayPassZero = 0, unnamedKnown = 0, libhdf5Crashes = 0
    for (k, job) in jobs.enumerated() {
      let what = "\(job.entry.label): rnnconf \(job.args.joined(separator: " "))"
      guard let o = outcomes.get(k) else { Issue.record("\(what): could not be started"); continue }
      #expect(!o.timedOut, "\(what): no answer in 30 s")
      if o.signalled && o.output.contains("in libhdf5") {
        // libhdf5 1.10 itself dereferences null on some corrupt attribute tables (H5Aget_name_by_idx ->
        // H5A__attr_release_table -> H5A__close): not fixable in this process; `run --isolate` contains it.
        withKnownIssue("a crash inside libhdf5 on a corrupt file") {
          Issue.record("\(what): killed by signal \(o.status) inside libhdf5")
        }
        libhdf5Crashes += 1
        continue
      }
      #expect(!o.signalled, "\(what): killed by signal \(o.status)\n\(o.output.suffix(2000))")
      if o.timedOut || o.signalled { continue }
      #expect(o.status == 0 || o.status == 1, "\(what): exit \(o.status) (1 for errors, 64 for usage only)\n\(o.output.suffix(1000))")
      if o.status == 0 {
        if job.entry.mustFail { passedGarbage += 1 } else { mayPassZero += 1 }
        #expect(!job.entry.mustFail, "\(what): exit 0 on garbage\n\(o.output.suffix(1000))")
      } else {
        // The path, or the case name a report gives a file (its name without `.h5`).
        let stem = ((job.entry.mentions as NSString).lastPathComponent as NSString).deletingPathExtension
        let named = o.output.contains(job.entry.mentions) || (!stem.isEmpty && o.output.contains(stem))
        if !named && Self.knownUnnamed.contains(where: { o.output.contains($0) }) {
          unnamedKnown += 1
        } else {
          #expect(named, "\(what): the message does not name `\(job.entry.mentions)`\n\(o.output.suffix(1000))")
        }
        #expect(!o.output.contains("Fatal error") && !o.output.contains("HDF5-DIAG"), "\(what): \(o.output.suffix(1000))")
      }
    }
    print("malformed corpus: \(entries.count) inputs, \(jobs.count) runs, \(mayPassZero) bit-flipped inputs still valid (exit 0), \(passedGarbage) garbage passed, \(unnamedKnown) errors not naming the file (known, outside this branch), \(libhdf5Crashes) crashes inside libhdf5 (known)")
  }
}

/// Outcomes filled from concurrent workers.
final class OutcomeStore: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [Int: MalformedCorpusTests.Outcome] = [:]
  func set(_ k: Int, _ o: MalformedCorpusTests.Outcome?) {
    lock.lock(); defer { lock.unlock() }
    values[k] = o
  }
  func get(_ k: Int) -> MalformedCorpusTests.Outcome? { lock.lock(); defer { lock.unlock() }; return values[k] }
}
