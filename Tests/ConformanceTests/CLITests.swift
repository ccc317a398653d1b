import Foundation
import Testing
@testable import Conformance

/// The built `rnnconf` binary: help text snapshots and exit codes.
/// Set RNNCONF_RECORD_SNAPSHOTS=1 to rewrite the snapshots (the test then fails once, saying so).
@Suite(.serialized) struct CLITests {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// `rnnconf` sits next to the test bundle in the build products folder.
  static var binary: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    if dir.lastPathComponent == "MacOS" { for _ in 0..<3 { dir.deleteLastPathComponent() } }
    return dir.appendingPathComponent("rnnconf").path
  }

  static func run(_ arguments: [String], in directory: String = RepoPaths.root,
                  environment extra: [String: String] = [:]) throws -> Result {
    let binary = Self.binary
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw CLIError("rnnconf is not built at \(binary); build it with `swift build` before `swift test --skip-build`")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: directory)
    var env = ProcessInfo.processInfo.environment
    env["COLUMNS"] = "80"
    env["NO_COLOR"] = "1"
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read before waiting so a large report cannot fill the pipe and block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                  stderr: String(decoding: e, as: UTF8.self))
  }

  struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
  }

  static let snapshots = RepoPaths.root + "/Tests/ConformanceTests/Snapshots"

  @Test(arguments: [
    (["--help"], "rnnconf-help.txt"),
    (["run", "--help"], "run-help.txt"),
    (["list", "--help"], "list-help.txt"),
  ])
  func helpMatchesSnapshot(arguments: [String], snapshot: String) throws {
    let r = try Self.run(arguments)
    #expect(r.status == 0)
    let path = Self.snapshots + "/" + snapshot
    if ProcessInfo.processInfo.environment["RNNCONF_RECORD_SNAPSHOTS"] == "1" {
      try FileManager.default.createDirectory(atPath: Self.snapshots, withIntermediateDirectories: true)
      try Data(r.stdout.utf8).write(to: URL(fileURLWithPath: path))
      Issue.record("recorded \(path); run again without RNNCONF_RECORD_SNAPSHOTS")
      return
    }
    let expected = try String(contentsOfFile: path, encoding: .utf8)
    #expect(r.stdout == expected, "`rnnconf \(arguments.joined(separator: " "))` differs from \(snapshot)")
  }

  @Test(arguments: [
    (["run", "--atol", "1e-4"], "--atol and --rtol together"),
    (["run", "--rtol", "1e-4"], "--atol and --rtol together"),
    (["run", "--shard", "0/2"], "--shard"),
    (["run", "--shard", "3/2"], "--shard"),
    (["run", "--shard", "x"], "--shard"),
    (["run", "--framework", "caffe"], "caffe"),
    (["run", "--precision", "float16"], "float16"),
    (["run", "--cell", "transformer"], "transformer"),
    (["run", "does/not/exist.h5"], "`does/not/exist.h5` does not exist"),
    (["run", "Sources"], "holds no case files"),
    (["run", "--quiet", "--verbose"], "at most one"),
    (["run", "--atol=-1", "--rtol", "0"], "non-negative"),
    (["run", "--expectations", "nope.json"], "nope.json"),
    (["run", "--filter", "nothing/*"], "no case matches --filter 'nothing/*'"),
    (["run", "--filter", "pytorch/lstm_bidirectional", "--cell", "gru"], "no case matches --filter 'pytorch/lstm_bidirectional' --cell gru"),
    (["list", "does/not/exist"], "does not exist"),
    (["--no-such-option"], "no-such-option"),
  ])
  func usageErrorsExit64(arguments: [String], words: String) throws {
    let r = try Self.run(arguments)
    #expect(r.status == 64, "`rnnconf \(arguments.joined(separator: " "))` exited \(r.status): \(r.stderr)")
    #expect(r.stderr.contains(words), "stderr: \(r.stderr)")
  }

  @Test func aFileThatIsNotACaseIsAnErrorAndExits1() throws {
    let s = try ScratchFolder()
    try s.file("fixtures/pytorch/garbage.h5", "this is not HDF5")
    let json = s.path + "/report.json", junit = s.path + "/report.xml"
    let r = try Self.run(["run", "--json", json, "--junit", junit], in: s.path)
    #expect(r.status == 1)
    #expect(r.stdout.contains("ERROR pytorch/garbage"))
    // Reports name the case file relative to the run's folder, never by the machine's absolute path.
    #expect(r.stdout.contains(" fixtures/pytorch/garbage.h5"), "\(r.stdout)")
    #expect(!r.stdout.contains(s.path))
    #expect(r.stdout.hasSuffix("0 passed, 0 failed, 1 errors\n"), "\(r.stdout)")
    let report = try RunReport.decode(try Data(contentsOf: URL(fileURLWithPath: json)))
    #expect(report.summary.errors == 1)
    #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("<error message="))
    #expect(try !String(contentsOfFile: junit, encoding: .utf8).contains(s.path))
    #expect(try !String(contentsOfFile: json, encoding: .utf8).contains(s.path))
  }
}
