import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HDF5
import Testing
@testable import Conformance

/// Report and prediction files under faults: a destination that cannot be written is found
/// before any case runs (exit 1, an I/O message), and a process killed while writing
/// (SIGXFSZ from `ulimit -f`, delivered in the middle of the write) or whose write fails
/// part-way (EFBIG) leaves the previous file at that path byte for byte.
@Suite(.serialized) struct OutputHostileTests {
  struct Outcome {
    var status: Int32
    var signalled: Bool
    var stdout: String
    var stderr: String
  }

  /// Runs `rnnconf` with `arguments`, optionally under `ulimit -f 1` (512 or 1024 bytes) with SIGXFSZ
  /// at its default action (the process is killed by the signal in the middle of the write) or
  /// ignored (the write fails with EFBIG and the process carries on).
  enum Limit { case none, killWhenExceeded, failWhenExceeded }

  static func rnnconf(_ arguments: [String], limit: Limit = .none) throws -> Outcome {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let prefix: String
    switch limit {
    case .none: prefix = ""
    case .killWhenExceeded: prefix = "ulimit -f 1; "
    case .failWhenExceeded: prefix = "trap '' XFSZ; ulimit -f 1; "
    }
    let script = prefix + "exec \"$0\" \"$@\" >'\(dir.path)/stdout' 2>'\(dir.path)/stderr'"
    let argv = ["/bin/sh", "-c", script, CLITests.binary] + arguments
    // posix_spawn with SIGXFSZ reset to its default and no signal blocked: an ignored or
    // blocked signal stays so across exec.
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGXFSZ)
    posix_spawnattr_setsigdefault(&attr, &signals)
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)  // a test thread may block signals; the mask is inherited too
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    let cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cargs { free(p) } }
    var pid = pid_t()
    let rc = posix_spawn(&pid, "/bin/sh", nil, &attr, cargs, environ)
    guard rc == 0 else { throw CLITests.CLIError("posix_spawn failed: \(rc)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    let read = { (name: String) in (try? String(contentsOfFile: dir.path + "/" + name, encoding: .utf8)) ?? "" }
    return Outcome(status: signal != 0 ? signal : (status >> 8) & 0xff, signalled: signal != 0,
                   stdout: read("stdout"), stderr: read("stderr"))
  }

  static func tempDir() throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("outputs-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
  }

  static let oneCase = RepoPaths.root + "/fixtures/pytorch/lstmcell_no_bias.h5"

  /// Names in `dir` (hidden temporary files included).
  static func names(_ dir: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
  }

  @Test(arguments: ["--json", "--junit"])
  func anUnwritableReportIsAnIOErrorBeforeAnyCaseRuns(option: String) throws {
    let r = try Self.rnnconf(["run", Self.oneCase, option, "/proc/rnnconf-report.out"])
    #expect(r.status == 1, "\(r.stderr)")
    #expect(r.stderr.contains("cannot write \(option) `/proc/rnnconf-report.out`: cannot create a file in the folder `/proc`"), "\(r.stderr)")
    #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    #expect(r.stdout.isEmpty, "no case ran: \(r.stdout)")
    let dir = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let d = try Self.rnnconf(["run", Self.oneCase, option, dir.path])
    #expect(d.status == 1 && d.stderr.contains("is a directory") && d.stdout.isEmpty, "\(d.stderr)")
  }

  @Test func aKillDuringTheReportWriteKeepsThePreviousReport() throws {
    let dir = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("report.json")
    let previous = Data(("previous good report " + String(repeating: "x", count: 3000)).utf8)
    try previous.write(to: out)
    let r = try Self.rnnconf(["run", Self.oneCase, "--json", out.path], limit: .killWhenExceeded)
    #expect(r.signalled && r.status == SIGXFSZ, "status \(r.status): \(r.stderr)")
    #expect(try Data(contentsOf: out) == previous)
  }

  @Test func aFailingReportWriteKeepsThePreviousReportsAndSaysWhy() throws {
    let dir = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let json = dir.appendingPathComponent("report.json"), junit = dir.appendingPathComponent("report.xml")
    let previous = Data(("previous good report " + String(repeating: "x", count: 3000)).utf8)
    try previous.write(to: json)
    try previous.write(to: junit)
    let r = try Self.rnnconf(["run", Self.oneCase, "--json", json.path, "--junit", junit.path], limit: .failWhenExceeded)
    #expect(!r.signalled && r.status == 1, "status \(r.status): \(r.stderr)")
    #expect(r.stderr.contains("cannot write the JSON report to `\(json.path)`: cannot write (File too large)"), "\(r.stderr)")
    #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    #expect(try Data(contentsOf: json) == previous)
    #expect(try Data(contentsOf: junit) == previous)
    #expect(try Self.names(dir) == ["report.json", "report.xml"], "the temporary file is removed")
  }

  /// A float32 `.npy` of this shape (values 0, 0.001, 0.002, ...).
  static func npy(_ shape: [Int], to url: URL) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape.map(String.init).joined(separator: ", ") + "), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
    b += Array(header.utf8)
    for k in 0..<shape.reduce(1, *) {
      let bits = Float(k % 1000) / 1000
      withUnsafeBytes(of: bits.bitPattern.littleEndian) { b += $0 }
    }
    try Data(b).write(to: url)
  }

  @Test(arguments: ["out.npy", "out.h5"])
  func aKillOrAFailingWriteDuringPredictKeepsThePreviousFile(name: String) throws {
    let dir = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("model.h5")
    try Data(try Case.artifact(path: RepoPaths.root + "/fixtures/keras/k2_lstm_seq.h5", name: "model.h5")).write(to: model)
    let input = dir.appendingPathComponent("x.npy")
    try Self.npy([300, 6, 3], to: input)  // output [300, 6, 4] float32: 28.8 kB
    let out = dir.appendingPathComponent(name)
    let previous = Data(("previous good output " + String(repeating: "y", count: 5000)).utf8)
    try previous.write(to: out)
    let args = ["predict", model.path, "--input", input.path, "--output", out.path]

    let killed = try Self.rnnconf(args, limit: .killWhenExceeded)
    #expect(killed.signalled && killed.status == SIGXFSZ, "status \(killed.status): \(killed.stderr)")
    #expect(try Data(contentsOf: out) == previous)

    let failed = try Self.rnnconf(args, limit: .failWhenExceeded)
    #expect(!failed.signalled && failed.status == 1, "status \(failed.status): \(failed.stderr)")
    #expect(failed.stderr.contains("\(out.path): cannot write (File too large)"), "\(failed.stderr)")
    #expect(try Data(contentsOf: out) == previous)

    let ok = try Self.rnnconf(args)
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(try Data(contentsOf: out).count > 28_800)
    // The killed run's temporary file may remain (hidden); the failed run removed its own.
    #expect(try Self.names(dir).filter { !$0.hasPrefix(".") } == ["model.h5", name, "x.npy"].sorted())
    #expect(try Self.names(dir).filter { $0.hasPrefix(".") }.count <= 1)
  }

  @Test func anUnwritablePredictOutputIsFoundBeforeTheModelRuns() throws {
    let r = try Self.rnnconf(["predict", RepoPaths.root + "/no-such-model.h5", "--input", "x.npy", "--output", "/proc/out.npy"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("cannot write --output `/proc/out.npy`"), "\(r.stderr)")
  }

  /// SIGKILL in the middle of a large streamed `predict --output x.npy` (issue 11: a kill used
  /// to leave a 76.8 MB `.npy` at 12.6 MB and lose the previous file): the kill lands while the
  /// hidden temporary file is growing (slices written, more to come), and the previous file at
  /// the path survives byte for byte; a complete run afterwards replaces it.
  @Test func aSIGKILLDuringALargePredictKeepsThePreviousFileByteForByte() throws {
    let dir = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("model.h5")
    try Data(try Case.artifact(path: RepoPaths.root + "/fixtures/keras/k2_lstm_seq.h5", name: "model.h5")).write(to: model)
    let input = dir.appendingPathComponent("x.npy")
    try Self.npy([40_000, 6, 3], to: input)  // output [40000, 6, 4] float32: 3.84 MB, in 625 slices of 64 rows
    let out = dir.appendingPathComponent("out.npy")
    var previous = Data("previous good output ".utf8)
    for k in 0..<200_000 { previous.append(UInt8(truncatingIfNeeded: k &* 2_654_435_761 >> 13)) }
    try previous.write(to: out)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CLITests.binary)
    p.arguments = ["predict", model.path, "--input", input.path, "--output", out.path, "--batch-size", "64"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    // Wait until the temporary file holds more than the header and one slice, then kill.
    var grown = 0
    let deadline = Date().addingTimeInterval(120)
    while p.isRunning && Date() < deadline {
      if let tmp = try Self.names(dir).first(where: { $0.hasPrefix(".out.npy.tmp-") }),
         let size = try? FileManager.default.attributesOfItem(atPath: dir.path + "/" + tmp)[.size] as? Int,
         size > 64 * 6 * 4 * 4 * 3 {
        grown = size
        break
      }
      usleep(2_000)
    }
    let killedMidWrite = p.isRunning && grown > 0
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    #expect(killedMidWrite, "the run ended (status \(p.terminationStatus)) before its output grew; make the input larger")
    #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
    #expect(try Data(contentsOf: out) == previous, "killed with \(grown) bytes written to the temporary file")
    #expect(try Self.names(dir).filter { !$0.hasPrefix(".") } == ["model.h5", "out.npy", "x.npy"])
    // A complete run replaces the file with the whole prediction.
    let ok = try Self.rnnconf(["predict", model.path, "--input", input.path, "--output", out.path])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(try Data(contentsOf: out).count == 128 + 40_000 * 6 * 4 * 4)
  }
}
