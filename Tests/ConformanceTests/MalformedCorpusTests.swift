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
    /// Peak resident memory of the child (kB, `ru_maxrss`).
    var maxResidentKB: Int
  }

  /// Resident memory cap per run (issue 11: "resident memory under 2 GB on every input").
  static let maxResidentKB = 2 * 1024 * 1024

  /// Runs the binary as a child process with a timeout (SIGKILL past it), reaped with `wait4`
  /// so its peak resident memory (`ru_maxrss`) is known.
  static func run(_ arguments: [String], timeout: Double, environment extra: [String: String] = [:]) throws -> Outcome {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-out-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: out) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
    var env = ProcessInfo.processInfo.environment
    env["RNNCONF_GEMM_KERNEL"] = "flat"
    env["NO_COLOR"] = "1"
    for (k, v) in extra { env[k] = v }
    let argv: [UnsafeMutablePointer<CChar>?] = ([CLITests.binary] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv + envp { free(p) } }
    var pid = pid_t()
    let rc = posix_spawn(&pid, CLITests.binary, &actions, &attr, argv, envp)
    guard rc == 0 else { throw CLITests.CLIError("posix_spawn failed: \(String(cString: strerror(rc)))") }
    var status: Int32 = 0, usage = rusage(), timedOut = false
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      let r = wait4(pid, &status, WNOHANG, &usage)
      if r == pid { break }
      if r < 0 && errno != EINTR { throw CLITests.CLIError("wait4 failed: \(String(cString: strerror(errno)))") }
      if Date() > deadline {
        timedOut = true
        kill(pid, SIGKILL)
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        break
      }
      usleep(5_000)
    }
    let text = String(decoding: (try? Data(contentsOf: out)) ?? Data(), as: UTF8.self)
    let signal = status & 0x7f
    return Outcome(status: signal != 0 ? signal : (status >> 8) & 0xff, signalled: signal != 0 && !timedOut,
                   timedOut: timedOut, output: text, maxResidentKB: Int(usage.ru_maxrss))
  }

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
    var passedGarbage = 0, mayPassZero = 0, libhdf5Crashes = 0
    var peak = (kb: 0, what: "")
    for (k, job) in jobs.enumerated() {
      let what = "\(job.entry.label): rnnconf \(job.args.joined(separator: " "))"
      guard let o = outcomes.get(k) else { Issue.record("\(what): could not be started"); continue }
      #expect(!o.timedOut, "\(what): no answer in 30 s")
      #expect(o.maxResidentKB < Self.maxResidentKB, "\(what): \(o.maxResidentKB / 1024) MB resident, the cap is 2 GB")
      if o.maxResidentKB > peak.kb { peak = (o.maxResidentKB, what) }
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
        #expect(named, "\(what): the message does not name `\(job.entry.mentions)`\n\(o.output.suffix(1000))")
        #expect(!o.output.contains("Fatal error") && !o.output.contains("HDF5-DIAG"), "\(what): \(o.output.suffix(1000))")
      }
    }
    print("malformed corpus: \(entries.count) inputs, \(jobs.count) runs, \(mayPassZero) bit-flipped inputs still valid (exit 0), \(passedGarbage) garbage passed, \(libhdf5Crashes) crashes inside libhdf5 (known); peak resident memory \(peak.kb / 1024) MB (\(peak.what))")
  }

  /// Found by scripts/fuzz (FuzzCaseLoader, 2026-11-30, a timeout): another corrupt variable-length
  /// string attribute on which libhdf5 1.10 looped forever (H5Aread -> H5T__conv_vlen -> H5HG_read:
  /// a global heap object of 0 bytes; seen with gdb). It needed `run --case-timeout`; now the
  /// string is read by `HDF5.GlobalHeap`, which refuses the object, and `run` reports an ERROR
  /// naming the file in process, at once.
  @Test func aFuzzedHangInLibHDF5IsANamedErrorInProcess() throws {
    let hang = RepoPaths.root + "/Tests/ConformanceTests/Data/fuzz-hang-vlen-attribute-2.h5"
    let started = Date()
    let r = try Self.run(["run", hang], timeout: 60)
    #expect(Date().timeIntervalSince(started) < 30)
    #expect(r.status == 1 && !r.signalled && !r.timedOut, "\(r.output)")
    #expect(r.output.contains("fuzz-hang-vlen-attribute-2") && r.output.contains("never step past"), "\(r.output)")
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
