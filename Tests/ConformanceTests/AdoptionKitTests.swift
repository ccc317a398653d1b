import Foundation
import HDF5
import Testing
import Yams
@testable import Conformance

/// What a new user meets first (issue 14): case names from the `name` attribute, the CI kit in
/// `ci/`, and the README's commands and documented output, each checked against the real tool.
@Suite(.serialized) struct AdoptionKitTests {
  static let sample = RepoPaths.root + "/fixtures/pytorch/lstm_bidirectional.h5"

  final class Folder {
    let path: String
    init() throws {
      path = FileManager.default.temporaryDirectory.appendingPathComponent("adoption-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    @discardableResult
    func copy(_ source: String, to rel: String) throws -> String {
      let p = path + "/" + rel
      try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: source, toPath: p)
      return p
    }
  }

  // MARK: - Case names

  @Test func theNameAttributeNamesACaseOutsideAFrameworkFolder() throws {
    let f = try Folder()
    let p = try f.copy(Self.sample, to: "captured/my_lstm.h5")
    let d = try Discovery.find(paths: [f.path], executablePath: nil)
    #expect(d.files.map(\.name) == ["pytorch/lstm_bidirectional"])
    let warning = try #require(d.files.first?.nameWarning)
    #expect(warning.contains(p) && warning.contains("`captured/my_lstm`") && warning.contains("`pytorch/lstm_bidirectional`"))

    // --filter 'pytorch/*' now finds it, and the run warns once for it.
    var o = RunOptions()
    o.paths = [f.path]; o.filter = "pytorch/*"; o.executablePath = nil; o.parallel = false
    let report = try Runner().run(o)
    #expect(report.cases.map(\.name) == ["pytorch/lstm_bidirectional"])
    #expect(report.cases.map(\.status) == [.pass])
    #expect(report.warnings == [warning])
  }

  @Test func anAgreeingNameGivesNoWarning() throws {
    let f = try Folder()
    try f.copy(Self.sample, to: "suite/pytorch/lstm_bidirectional.h5")
    let d = try Discovery.find(paths: [f.path], executablePath: nil)
    #expect(d.files.map(\.name) == ["pytorch/lstm_bidirectional"])
    #expect(d.files.allSatisfy { $0.nameWarning == nil })
  }

  @Test func aPathWithoutTheFrameworkFolderIsNoMismatch() throws {
    // The README's capture: `my_gru.h5` named `pytorch/my_gru`, searched or named on the command line.
    let f = try Folder()
    let p = try f.copy(Self.sample, to: "lstm_bidirectional.h5")
    for paths in [[f.path], [p]] {
      let d = try Discovery.find(paths: paths, executablePath: nil)
      #expect(d.files.map(\.name) == ["pytorch/lstm_bidirectional"])
      #expect(d.files.allSatisfy { $0.nameWarning == nil })
    }
  }

  @Test func withoutReadingNamesThePathNamesTheCase() throws {
    // `run --isolate` opens no file in the parent, so its names come from the paths.
    let f = try Folder()
    try f.copy(Self.sample, to: "captured/my_lstm.h5")
    let d = try Discovery.find(paths: [f.path], executablePath: nil, readStoredNames: false)
    #expect(d.files.map(\.name) == ["captured/my_lstm"])
    #expect(d.files.allSatisfy { $0.nameWarning == nil })
  }

  @Test func aFileThatIsNotACaseKeepsItsPathName() throws {
    let f = try Folder()
    #expect(FileManager.default.createFile(atPath: f.path + "/notes.h5", contents: Data("not HDF5".utf8)))
    do {
      let h5 = try File.create(path: f.path + "/plain.h5")
      try h5.root.setAttribute("name", "keras/not_a_case")  // a `name` but no rnnconf_case_schema
      try h5.flush()
    }
    let names = try Discovery.find(paths: [f.path], executablePath: nil).files.map(\.name)
    #expect(names.contains("notes") && names.contains("plain"))
  }

  @Test func theBundledSuiteKeepsItsPathNames() throws {
    // Every bundled case's `name` attribute agrees with its path: no name changes, no warnings.
    let d = try Discovery.find(paths: [RepoPaths.root + "/fixtures"], executablePath: nil)
    #expect(d.files.count >= 498)
    let renamed = d.files.filter { $0.nameWarning != nil || $0.name != Discovery.caseName(path: $0.path, root: RepoPaths.root + "/fixtures") }
    #expect(renamed.isEmpty, "renamed: \(renamed.prefix(5).map(\.path))")
  }

  @Test func theCLIPrintsTheMismatchOnceAsAWarning() throws {
    let f = try Folder()
    try f.copy(Self.sample, to: "captured/my_lstm.h5")
    let r = try CLITests.run(["run", f.path, "--filter", "pytorch/*"])
    #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
    #expect(r.stdout.contains("PASS pytorch/lstm_bidirectional") || r.stdout.contains("1 passed, 0 failed"))
    #expect(r.stderr.components(separatedBy: "the case's `name` attribute is `pytorch/lstm_bidirectional`").count == 2,
            "expected exactly one warning on stderr: \(r.stderr)")
  }

  // MARK: - The CI kit (ci/)

  /// Commands a CI example may name besides the repository's own scripts.
  static let standardCommands: Set<String> = ["apt-get", "mkdir", "python3"]

  static func ciFile(_ name: String) throws -> [String: Any] {
    let text = try String(contentsOfFile: RepoPaths.root + "/ci/" + name, encoding: .utf8)
    return try #require(try Yams.load(yaml: text) as? [String: Any], "ci/\(name) is not a YAML mapping")
  }

  /// Every shell line the examples run, as (where, line).
  static func shellLines(_ name: String) throws -> [(String, String)] {
    let doc = try ciFile(name)
    var out: [(String, String)] = []
    func add(_ where_: String, _ value: Any?) {
      if let s = value as? String {
        for line in s.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
          out.append((where_, line.trimmingCharacters(in: .whitespaces)))
        }
      } else if let list = value as? [Any] {
        for v in list { add(where_, v) }
      }
    }
    if name.hasPrefix("github") {
      let jobs = try #require(doc["jobs"] as? [String: Any], "ci/\(name): no `jobs`")
      for (job, value) in jobs {
        let steps = try #require((value as? [String: Any])?["steps"] as? [[String: Any]], "ci/\(name): job \(job) has no steps")
        for step in steps {
          #expect(step["run"] != nil || step["uses"] != nil, "ci/\(name): a step of \(job) neither runs nor uses anything")
          add("\(job)", step["run"])
        }
      }
    } else {
      for (key, value) in doc {
        guard let job = value as? [String: Any] else { continue }
        for part in ["before_script", "script", "after_script"] { add("\(key).\(part)", job[part]) }
      }
    }
    return out
  }

  @Test(arguments: ["github-actions.yml", "gitlab-ci.yml"])
  func ciExamplesNameOnlyCommandsThatExist(_ name: String) throws {
    let lines = try Self.shellLines(name)
    #expect(!lines.isEmpty)
    for (where_, line) in lines {
      let words = line.split(separator: " ").map(String.init)
      let command = try #require(words.first)
      switch command {
      case "bash":
        let script = try #require(words.dropFirst().first, "ci/\(name) \(where_): `bash` without a script")
        #expect(FileManager.default.fileExists(atPath: RepoPaths.root + "/" + script), "ci/\(name) \(where_): `\(script)` is not in the repository")
      case "python3":
        if let script = words.dropFirst().first, !script.hasPrefix("-") {
          #expect(FileManager.default.fileExists(atPath: RepoPaths.root + "/" + script), "ci/\(name) \(where_): `\(script)` is not in the repository")
        }
      default:
        #expect(Self.standardCommands.contains(command), "ci/\(name) \(where_): `\(command)` is neither a repository script nor a standard command")
      }
    }
    let all = lines.map(\.1)
    // The README's two commands, the gate writing the three reports, the JUnit check.
    #expect(all.contains("bash scripts/test"))
    let gate = try #require(all.first { $0.hasPrefix("bash scripts/conformance") }, "ci/\(name) does not run the conformance gate")
    for option in ["--junit reports/conformance.xml", "--json reports/conformance.json", "--html reports/conformance.html"] {
      #expect(gate.contains(option), "ci/\(name): the gate does not write `\(option)`")
    }
    #expect(all.contains("python3 Tests/ConformanceTests/JUnitSchema/validate_junit.py reports/conformance.xml"))
    // lxml for validate_junit.py, numpy and h5py for the writer tests, libhdf5-dev for the build.
    let install = all.filter { $0.hasPrefix("apt-get install") }.joined(separator: " ")
    for package in ["libhdf5-dev", "python3-lxml", "python3-numpy", "python3-h5py"] {
      #expect(install.contains(package), "ci/\(name) does not install \(package)")
    }
  }

  @Test func githubUploadsTheJUnitToTheTestViewAndKeepsTheReports() throws {
    let jobs = try #require(try Self.ciFile("github-actions.yml")["jobs"] as? [String: Any])
    let steps = try #require((jobs["conformance"] as? [String: Any])?["steps"] as? [[String: Any]])
    let uses = steps.compactMap { step -> (String, [String: Any])? in
      guard let u = step["uses"] as? String else { return nil }
      return (u, step["with"] as? [String: Any] ?? [:])
    }
    let junit = try #require(uses.first { $0.0.hasPrefix("mikepenz/action-junit-report@") }, "no JUnit test-view step")
    #expect(junit.1["report_paths"] as? String == "reports/conformance.xml")
    let upload = try #require(uses.first { $0.0.hasPrefix("actions/upload-artifact@") }, "no artifact upload")
    #expect(upload.1["path"] as? String == "reports/")
  }

  @Test func gitlabReportsTheJUnitAndKeepsTheReports() throws {
    let job = try #require(try Self.ciFile("gitlab-ci.yml")["conformance"] as? [String: Any])
    let artifacts = try #require(job["artifacts"] as? [String: Any])
    #expect(artifacts["when"] as? String == "always")
    #expect(artifacts["paths"] as? [String] == ["reports/"])
    #expect((artifacts["reports"] as? [String: Any])?["junit"] as? String == "reports/conformance.xml")
  }

  // MARK: - The README

  static func readme() throws -> String { try String(contentsOfFile: RepoPaths.root + "/README.md", encoding: .utf8) }

  /// The fenced blocks of the README with their info string.
  static func fencedBlocks(_ text: String) -> [(info: String, body: String)] {
    var out: [(String, String)] = []
    var info: String?
    var body: [Substring] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("```") {
        if let i = info { out.append((i, body.joined(separator: "\n"))); info = nil; body = [] } else { info = String(line.dropFirst(3)) }
      } else if info != nil {
        body.append(line)
      }
    }
    return out
  }

  /// The documented FAIL example, made as the README says: a copy of the case whose expected
  /// `output[3, 1, 6]` is raised by 1e-3, run with `rnnconf run pytorch/lstm_bidirectional.h5`.
  @Test func theDocumentedFailExampleIsWhatTheToolPrints() throws {
    let f = try Folder()
    let p = try f.copy(Self.sample, to: "pytorch/lstm_bidirectional.h5")
    do {
      let file = try File(path: p, writable: true)
      let d = try file.dataset("outputs/output")
      let shape = try d.shape
      var values: [Float] = try d.read()
      let index = (3 * shape[1] + 1) * shape[2] + 6
      values[index] += 1e-3
      try file.root.deleteLink("outputs/output")
      _ = try file.root.createDataset("outputs/output", shape: shape, values: values)
      try file.flush()
    }
    let r = try CLITests.run(["run", "pytorch/lstm_bidirectional.h5"], in: f.path)
    #expect(r.status == 1)
    #expect(r.stderr.isEmpty, "\(r.stderr)")
    let documented = try #require(Self.fencedBlocks(try Self.readme()).first { $0.body.hasPrefix("FAIL ") }?.body,
                                  "README.md has no FAIL example")
    func normalized(_ s: String) -> String {
      s.replacingOccurrences(of: #"in [0-9.]+ s"#, with: "in <time> s", options: .regularExpression)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    }
    #expect(normalized(r.stdout) == normalized(documented),
            "README's FAIL example differs from the tool's output; paste this in:\n\(r.stdout)")
  }

  /// README shell examples that are not run here, with why. Every other line of a ```sh block runs
  /// against the built binary (`.build/release/rnnconf` and a leading `rnnconf` mean the binary under test).
  static let notRun: [String: String] = [
    "bash scripts/conformance": "builds the release binary (minutes); CI and `.ci/run` run it",
    "bash scripts/test": "runs this test suite itself",
    "pip install ./python": "installs a package into the current Python environment (network)",
    "rnnconf run my_gru.h5": "runs the file the README's Python capture example writes (needs torch)",
    "rnnconf inspect my_gru.h5": "reads the file the README's Python capture example writes (needs torch)",
    "rnnconf compare model.keras --input x.npy --expected ref.h5 --html cmp.html --json cmp.json":
      "needs your own model and its Keras capture; LayerReportTests runs `compare` on a model Keras captured",
    "swift run rnnconf-example Tests/KerasImportTests/Data/models/k2_seq_stacked.h5":
      "builds with SwiftPM, whose build folder `swift test` holds locked (it would wait forever); "
      + "SwiftAPITests runs the built example on the same model",
  ]

  static func readmeCommands() throws -> [String] {
    try fencedBlocks(readme()).filter { $0.info == "sh" }.flatMap { block in
      block.body.split(separator: "\n").map { line -> String in
        var l = String(line)
        if let hash = l.range(of: "  #") ?? l.range(of: " # ") { l = String(l[..<hash.lowerBound]) }
        return l.trimmingCharacters(in: .whitespaces)
      }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
  }

  @Test func everyNotRunEntryIsAReadmeCommand() throws {
    let commands = Set(try Self.readmeCommands())
    for key in Self.notRun.keys { #expect(commands.contains(key), "notRun lists `\(key)`, which the README no longer shows") }
  }

  @Test func theReadmeShellExamplesRun() throws {
    let binary = CLITests.binary
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      Issue.record("rnnconf is not built at \(binary); build it with `swift build` before `swift test --skip-build`")
      return
    }
    var ran = 0
    for command in try Self.readmeCommands() where Self.notRun[command] == nil {
      var line = command.replacingOccurrences(of: ".build/release/rnnconf", with: binary)
      if line.hasPrefix("rnnconf ") { line = binary + line.dropFirst("rnnconf".count) }
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/bin/sh")
      p.arguments = ["-c", line]
      p.currentDirectoryURL = URL(fileURLWithPath: RepoPaths.root)
      var env = ProcessInfo.processInfo.environment
      env["NO_COLOR"] = "1"
      p.environment = env
      let out = Pipe()
      p.standardOutput = out
      p.standardError = out
      try p.run()
      // A README command that waits on something (a lock, a prompt) fails here instead of hanging the suite.
      let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
      DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
      let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      watchdog.cancel()
      #expect(p.terminationReason == .exit && p.terminationStatus == 0,
              "README command `\(command)` exited \(p.terminationStatus) (\(p.terminationReason == .exit ? "exit" : "signal; killed after 120 s?")):\n\(text.suffix(2000))")
      ran += 1
    }
    #expect(ran >= 4, "only \(ran) README commands ran")
  }
}

extension AdoptionKitTests {
  /// Committed documentation names no machine-specific path (a home folder, this repository's
  /// checkout location): what it says must hold on the reader's machine.
  @Test(arguments: ["README.md", "bench/README.md", "fixtures/README.md", "docs/DESIGN.md", "docs/HOSTILE-INPUTS.md"])
  func docsNameNoMachineSpecificPath(_ name: String) throws {
    let path = RepoPaths.root + "/" + name
    try #require(FileManager.default.fileExists(atPath: path), "\(name) is gone: update this list")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    for prefix in ["/work/", "/root/", "/home/", "/Users/", "/private/var/", "C:\\\\Users"] {
      #expect(!text.contains(prefix), "\(name) names a machine-specific path starting `\(prefix)`")
    }
  }
}
