import Foundation
import Testing
@testable import Conformance
import RNNRef

/// A scratch folder removed at the end of the test.
final class ScratchFolder {
  let path: String
  init() throws {
    path = NSTemporaryDirectory() + "rnnconf-runner-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }

  @discardableResult
  func file(_ relative: String, _ contents: String = "not an HDF5 file") throws -> String {
    let p = path + "/" + relative
    try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent,
                                            withIntermediateDirectories: true)
    try Data(contents.utf8).write(to: URL(fileURLWithPath: p))
    return p
  }
}

/// Discovery, selection, sharding, expectations and the run loop, on scratch folders.
@Suite struct RunnerTests {
  func options(_ paths: [String], in dir: String) -> RunOptions {
    var o = RunOptions()
    o.paths = paths
    o.currentDirectory = dir
    o.executablePath = nil
    return o
  }

  @Test func discoveryIsRecursiveStableAndSkipsGeneratorsAndArtifacts() throws {
    let s = try ScratchFolder()
    try s.file("suite/pytorch/lstm_b.h5")
    try s.file("suite/pytorch/lstm_a.h5")
    try s.file("suite/onnx/sub/gru.h5")
    try s.file("suite/generate/helper.h5")
    try s.file("suite/keras/artifacts/model.h5")
    try s.file("suite/README.md")
    try s.file("suite/loose.h5")
    let d = try Discovery.find(paths: ["suite"], currentDirectory: s.path, executablePath: nil)
    #expect(d.files.map(\.name) == ["loose", "onnx/sub/gru", "pytorch/lstm_a", "pytorch/lstm_b"])
    #expect(d.files.allSatisfy { !$0.explicit })
    #expect(d.folders == [s.path + "/suite"])
    // An explicitly named file keeps the framework-relative name.
    let one = try Discovery.find(paths: ["suite/pytorch/lstm_a.h5"], currentDirectory: s.path, executablePath: nil)
    #expect(one.files == [CaseFile(name: "pytorch/lstm_a", path: s.path + "/suite/pytorch/lstm_a.h5", explicit: true)])
  }

  @Test func runLevelProblemsAreUsageErrorsNamingThePath() throws {
    let s = try ScratchFolder()
    try FileManager.default.createDirectory(atPath: s.path + "/empty", withIntermediateDirectories: true)
    try s.file("docs/notes.txt")
    for (path, words) in [("missing", "does not exist"), ("empty", "holds no case files"), ("docs", "holds no case files")] {
      #expect {
        _ = try Discovery.find(paths: [path], currentDirectory: s.path, executablePath: nil)
      } throws: { error in
        guard case ConformanceError.usage(let m) = error else { return false }
        return m.contains("`\(path)`") && m.contains(words)
      }
    }
    // No paths and no fixtures/ anywhere.
    #expect(throws: ConformanceError.self) {
      _ = try Discovery.find(paths: [], currentDirectory: s.path, executablePath: nil)
    }
  }

  @Test func bundledSuiteIsFoundFromTheExecutablesPackage() throws {
    let s = try ScratchFolder()
    try s.file("pkg/Package.swift", "// swift-tools-version: 6.0")
    try s.file("pkg/fixtures/pytorch/a.h5")
    try s.file("pkg/.build-x/release/rnnconf", "binary")
    let elsewhere = s.path + "/elsewhere"
    try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
    #expect(Discovery.bundledSuite(currentDirectory: elsewhere, executablePath: s.path + "/pkg/.build-x/release/rnnconf")
              == s.path + "/pkg/fixtures")
    #expect(Discovery.bundledSuite(currentDirectory: s.path + "/pkg", executablePath: nil) == s.path + "/pkg/fixtures")
  }

  @Test func shardsCoverEveryCaseExactlyOnce() throws {
    let s = try ScratchFolder()
    let frameworks = ["keras", "tf1", "pytorch", "onnx"]
    for k in 0..<23 { try s.file("fixtures/\(frameworks[k % 4])/case_\(k).h5") }
    let runner = Runner()
    let all = try runner.select(options([], in: s.path)).files.map(\.name)
    #expect(all.count == 23)
    for n in 1...5 {
      var seen: [String] = []
      for k in 1...n {
        var o = options([], in: s.path)
        o.shard = try Shard(index: k, count: n)
        let part = try runner.select(o).files.map(\.name)
        #expect(part.count >= 23 / n && part.count <= 23 / n + 1, "shard \(k)/\(n) has \(part.count)")
        seen += part
      }
      #expect(seen.sorted() == all.sorted(), "shards of \(n)")
      #expect(Set(seen).count == seen.count, "a case ran in two shards of \(n)")
    }
    // Filters narrow before sharding, and sharding stays a partition.
    var o = options([], in: s.path)
    o.filter = "pytorch/*"
    #expect(try runner.select(o).files.allSatisfy { $0.name.hasPrefix("pytorch/") })
    #expect(throws: ConformanceError.self) { _ = try Shard(parsing: "0/3") }
    #expect(throws: ConformanceError.self) { _ = try Shard(parsing: "4/3") }
    #expect(throws: ConformanceError.self) { _ = try Shard(parsing: "2") }
    #expect(throws: ConformanceError.self) { _ = try Shard(parsing: "a/b") }
  }

  @Test func unloadableFilesAreErrorsAndTheRunGoesOn() throws {
    let s = try ScratchFolder()
    let bad = try s.file("fixtures/pytorch/broken.h5")
    try s.file("fixtures/pytorch/other.h5")
    let runner = Runner(loader: { path in
      throw CaseLoadingUnavailable(path: path)
    })
    var o = options([], in: s.path)
    o.parallel = false
    let report = try runner.run(o)
    #expect(report.cases.map(\.name) == ["pytorch/broken", "pytorch/other"])
    #expect(report.cases.allSatisfy { $0.status == .error })
    // Named relative to the run's folder: no absolute path in the report.
    #expect(bad.hasSuffix("/fixtures/pytorch/broken.h5"))
    #expect(report.cases[0].message?.contains("fixtures/pytorch/broken.h5") == true)
    #expect(report.cases[0].message?.contains(s.path) == false)
    #expect(report.summary.line == "0 passed, 0 failed, 2 errors")
    #expect(report.summary.exitCode == 1)
  }

  @Test func nonCaseFilesAreSkippedWhenFoundButErrorsWhenNamed() throws {
    struct NotACase: Error {}
    let s = try ScratchFolder()
    try s.file("fixtures/pytorch/model_weights.h5")
    let runner = Runner(loader: { _ in throw NotACase() }, isNotACase: { $0 is NotACase })
    var o = options([], in: s.path)
    // Skipped when found; a run with nothing but non-case files is a usage error, not a green run.
    #expect {
      _ = try runner.run(o)
    } throws: { error in
      guard case ConformanceError.usage(let m) = error else { return false }
      return m.contains("model_weights.h5") && m.contains("none of the 1 HDF5 files")
    }
    try s.file("fixtures/pytorch/real.h5")
    let mixed = Runner(loader: { path in
      if path.hasSuffix("real.h5") { throw CaseLoadingUnavailable(path: path) }
      throw NotACase()
    }, isNotACase: { $0 is NotACase })
    #expect(try mixed.run(o).cases.map(\.name) == ["pytorch/real"])
    o.paths = ["fixtures/pytorch/model_weights.h5"]
    let named = try runner.run(o)
    #expect(named.cases.map(\.status) == [.error])
  }

  @Test func expectationsFileIsReadAndChecked() throws {
    let s = try ScratchFolder()
    try s.file("fixtures/onnx/a.h5")
    try s.file("fixtures/expected-failures.json",
               #"{"schema": 1, "expected_failures": [{"case": "onnx/a", "reason": "ort#1"}, {"case": "onnx/gone", "reason": "old"}]}"#)
    let runner = Runner()
    let o = options([], in: s.path)
    let (discovery, _) = try runner.select(o)
    let (e, file) = try runner.expectations(o, discovery: discovery)
    #expect(file == s.path + "/fixtures/expected-failures.json")
    #expect(e.reason(for: "onnx/a") == "ort#1")
    #expect(e.reason(for: "onnx/b") == nil)
    // Running one framework's folder still finds the suite's expectations above it.
    let sub = options(["fixtures/onnx"], in: s.path)
    let subFile = try runner.expectations(sub, discovery: try runner.select(sub).discovery).1
    #expect(subFile == s.path + "/fixtures/expected-failures.json")
    // A stale entry is a warning of a full run.
    let report = try runner.run(o)
    #expect(report.warnings?.count == 1 && report.warnings?.first?.contains("onnx/gone") == true)
    // An error stays an error even when the case is listed, and keeps the reason.
    #expect(report.cases.first?.status == .error && report.cases.first?.expectedFailureReason == "ort#1")

    try s.file("bad.json", #"{"schema": 1, "expected_failures": [{"case": "x"}]}"#)
    try s.file("dup.json", #"{"schema": 1, "expected_failures": [{"case": "x", "reason": "r"}, {"case": "x", "reason": "r"}]}"#)
    try s.file("v2.json", #"{"schema": 2, "expected_failures": []}"#)
    for (name, words) in [("bad.json", "reason"), ("dup.json", "twice"), ("v2.json", "schema 2"), ("none.json", "cannot read")] {
      var bad = o
      bad.expectationsPath = name
      #expect {
        _ = try runner.run(bad)
      } throws: { error in
        guard let m = (error as? ConformanceError)?.message else { return false }
        return m.contains(name) && m.contains(words)
      }
    }
    // A file that does not decode keeps the decoder's error behind the message.
    var bad = o
    bad.expectationsPath = "bad.json"
    #expect {
      _ = try runner.run(bad)
    } throws: { error in
      guard case ConformanceError.invalidFile(let m, let cause) = error else { return false }
      return cause is DecodingError && m.contains("missing key `reason`")
    }
  }

  @Test func theCommittedExpectationsFileIsValid() throws {
    let path = RepoPaths.root + "/fixtures/expected-failures.json"
    let e = try Expectations.load(path: path)
    for entry in e.expectedFailures {
      #expect(FileManager.default.fileExists(atPath: RepoPaths.root + "/fixtures/" + entry.case + ".h5"),
              "expected-failures.json lists `\(entry.case)`, which has no case file")
    }
  }
}

/// Paths of the repository this test file is in.
enum RepoPaths {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()
}
