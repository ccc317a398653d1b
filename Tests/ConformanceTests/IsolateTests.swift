import Foundation
import Testing
@testable import Conformance

/// `rnnconf run --isolate`: each case in a child process; a child killed by a signal is an ERROR
/// naming the case and the signal, and the run goes on. The crash is forced with the debug-only
/// trigger `IsolatedCase.crashTriggerVariable` (no case file can crash the child without a bug).
@Suite(.serialized) struct IsolateTests {
  static let cases = ["fixtures/pytorch/lstm_bidirectional.h5", "fixtures/tf1/basic_lstm_fb1.h5",
                      "fixtures/keras/k3_lstm_seq.h5", "fixtures/onnx/gru_activations.h5"]
  static let env = ["RNNCONF_GEMM_KERNEL": "flat"]

  @Test(arguments: [("segv", "signal 11 (SIGSEGV)"), ("abort", "signal 6 (SIGABRT)")])
  func aCrashingChildIsAnErrorAndTheRunGoesOn(trigger: String, expected: String) throws {
    var env = Self.env
    env[IsolatedCase.crashTriggerVariable] = trigger
    let r = try CLITests.run(["run", "--isolate"] + Self.cases, environment: env)
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    for c in Self.cases {
      let name = String(c.dropFirst("fixtures/".count).dropLast(3))
      #expect(r.stdout.contains("ERROR \(name)"), "\(r.stdout)")
    }
    #expect(r.stdout.components(separatedBy: expected).count - 1 == Self.cases.count, "\(r.stdout)")
    #expect(r.stdout.contains("0 passed, 0 failed, \(Self.cases.count) errors"), "\(r.stdout)")
    // Without --isolate the trigger is never consulted.
    #expect(try CLITests.run(["run"] + Self.cases, environment: env).status == 0)
  }

  @Test func isolatedReportsEqualInProcessReports() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("isolate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    // A tolerance tight enough that some case fails, so FAIL metrics cross the process boundary too.
    func report(_ extra: [String]) throws -> [CaseReport] {
      let out = dir.appendingPathComponent("r-\(extra.count).json").path
      _ = try CLITests.run(["run", "--json", out, "--atol", "1e-7", "--rtol", "0"] + extra + Self.cases, environment: Self.env)
      return try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: out))).cases.map { var c = $0; c.durationSeconds = 0; return c }
    }
    let plain = try report([]), isolated = try report(["--isolate"])
    #expect(plain.count == Self.cases.count)
    #expect(plain.contains { $0.status == .fail }, "the tight tolerance makes some case fail: \(plain.map(\.status))")
    #expect(plain == isolated)
  }

  /// `--case-timeout`: a child still running after the timeout is killed, the case is an ERROR
  /// saying so, and the next case still runs. No bundled or fuzzed file hangs any more (the vlen
  /// string attributes on which libhdf5 looped are read by `HDF5.GlobalHeap`), so the hang is the
  /// debug-only trigger.
  @Test func aCaseThatHangsIsKilledAfterTheTimeout() throws {
    var env = Self.env
    env[IsolatedCase.crashTriggerVariable] = "hang"
    let started = Date()
    let r = try CLITests.run(["run", "--case-timeout", "3", Self.cases[0]], environment: env)
    #expect(Date().timeIntervalSince(started) < 30)
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("did not finish within 3.0 s"), "\(r.stdout)")
    #expect(r.stdout.contains("0 passed, 0 failed, 1 errors"), "\(r.stdout)")
  }

  /// Found by Fuzz/FuzzCaseLoader: corrupt variable-length string attributes on which libhdf5 1.10
  /// looped forever (`H5HG_read`: a heap object of 0 bytes), faulted (`memcpy` in `H5HG_read`: an
  /// object larger than its collection) or allocated gigabytes (`H5T__conv_vlen`: a huge declared
  /// length). `HDF5.GlobalHeap` reads these strings without libhdf5's heap code, so each is an
  /// ERROR naming the file and the broken heap reference, in process, at once.
  @Test func formerLibHDF5VlenFaultsAreNamedErrorsInProcess() throws {
    let data = RepoPaths.root + "/Tests/ConformanceTests/Data/"
    let files = ["fuzz-hang-vlen-attribute.h5", "fuzz-hang-vlen-attribute-2.h5", "fuzz-segv-vlen-heap.h5", "fuzz-segv-libhdf5.h5"]
    for f in files {
      let started = Date()
      let o = try MalformedCorpusTests.run(["run", data + f], timeout: 60)
      #expect(Date().timeIntervalSince(started) < 20)
      #expect(o.status == 1 && !o.signalled && !o.timedOut, "\(f): \(o.output)")
      #expect(o.output.contains(f) && o.output.contains("global heap collection"), "\(f): \(o.output)")
    }
  }

  /// Found by Fuzz/FuzzCaseLoader: a corrupt link-info message on which libhdf5 1.10 itself
  /// segfaulted (`memcpy` in `H5F__accum_read`, under `H5Lexists` -> `H5B2_open`: a dense link
  /// index whose address is garbage), which only --isolate survived. `HDF5.ObjectHeaderCheck` now
  /// refuses the message before libhdf5 reads it (`FuzzLinkInfoTests`), so with --isolate it is
  /// an ERROR naming the file and the broken group, with no signal, and the run goes on.
  @Test func libhdf5CrashesFoundByTheFuzzerAreErrorsWithIsolate() throws {
    let file = RepoPaths.root + "/Tests/ConformanceTests/Data/fuzz-segv-accum-read.h5"
    let r = try CLITests.run(["run", "--isolate", file, Self.cases[0]], environment: Self.env)
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    #expect(!r.stdout.contains("SIGSEGV"), "\(r.stdout)")
    #expect(r.stdout.contains("fuzz-segv-accum-read.h5") && r.stdout.contains("corrupt link-info message in group /outputs/state"),
            "\(r.stdout)")
    #expect(r.stdout.contains("1 passed, 0 failed, 1 errors"), "\(r.stdout)")
  }

  /// The children of `run --isolate` run under an address-space cap (`ChildMemoryLimit`,
  /// `RNNCONF_CHILD_MEMORY_MB`): under a cap too small for any work the child fails, and the
  /// case is an ERROR naming the file and the cap, not a machine out of memory; the default cap
  /// runs the cases as before.
  @Test func theChildMemoryCapIsNamedWhenAChildFails() throws {
    var env = Self.env
    env[ChildMemoryLimit.variable] = "16"
    let r = try CLITests.run(["run", "--isolate", Self.cases[0]], environment: env)
    #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
    #expect(r.stdout.contains("lstm_bidirectional.h5") && r.stdout.contains("at most 16 MiB")
              && r.stdout.contains(ChildMemoryLimit.variable), "\(r.stdout)")
    #expect(try CLITests.run(["run", "--isolate", Self.cases[0]], environment: Self.env).status == 0)
  }
}
