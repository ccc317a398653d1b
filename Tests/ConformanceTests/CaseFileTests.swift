import Foundation
import HDF5
import RNNRef
import Testing
@testable import Conformance

/// `Case.load` / `Case.peek` on the sample case written by fixtures/generate/casefile.py
/// (Tests/HDF5Tests/Data/make_files.py states every value checked here), and on
/// copies of it broken one way each: every problem is a typed error naming the file.
@Suite struct CaseFileTests {
  static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("HDF5Tests/Data/case_sample.h5").path

  @Test func loadsTheSampleInNativeOrder() throws {
    let c = try Case.load(path: Self.sample)
    #expect(c.name == "tf1/sample")
    #expect(c.schemaVersion == 1)
    #expect(c.framework == .tf1 && c.library == "tensorflow" && c.libraryVersion == "2.21.0")
    #expect(c.cell == .lstm && c.dtype == .float32)
    #expect(c.config["cell"]?.string == "BasicLSTMCell")
    #expect(c.config["num_units"]?.int == 2)
    #expect(c.config["forget_bias"]?.double == 1.0)
    #expect(c.atol == 1e-4 && c.rtol == 1e-5)
    #expect(c.toleranceReason == "sample: looser on purpose")
    #expect(c.nanEqual == false)
    #expect(c.weights.names == ["rnn/lstm_cell/kernel", "rnn/lstm_cell/bias"])
    #expect(c.weights.entries.map(\.tensor.shape) == [[5, 8], [8]])
    #expect(c.inputs.names == ["input", "sequence_length"])
    #expect(c.inputs["sequence_length"] == Tensor(uncheckedShape: [2], scalars: [3, 2]))
    #expect(c.outputs.names == ["output", "h"])
    #expect(c.outputs.entries.map(\.tensor.shape) == [[2, 3, 2], [2, 2]])
    #expect(c.outputDTypes == ["output": "float32", "h": "float64"])
    #expect(c.artifactNames == ["note.txt"])
    #expect(try Case.artifact(path: Self.sample, name: "note.txt") == Array("hello".utf8))
    #expect(try Case.load(path: Self.sample, root: "/somewhere").name == "case_sample")
    #expect(c.summaryText.contains("rnn/lstm_cell/kernel  [5, 8]"))
  }

  @Test func peekReadsOnlyTheRootAttributes() throws {
    let s = try Case.peek(path: Self.sample)
    #expect(s.name == "tf1/sample" && s.framework == .tf1 && s.cell == .lstm && s.dtype == .float32)
    #expect(Case.isCaseFile(path: Self.sample))
    #expect(!Case.isCaseFile(path: "/nonexistent.h5"))
  }

  /// A copy of the sample, changed by `edit`, in a temporary directory.
  func broken(_ name: String, _ edit: (File) throws -> Void) throws -> (path: String, dir: URL) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("casefile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    try FileManager.default.copyItem(atPath: Self.sample, toPath: path)
    try edit(try File(path: path, writable: true))
    return (path, dir)
  }

  func expectCaseError(_ kind: CaseFileError.Kind, _ name: String, mentioning text: String,
                       sourceLocation: SourceLocation = #_sourceLocation, _ edit: (File) throws -> Void) throws {
    let (path, dir) = try broken(name, edit)
    defer { try? FileManager.default.removeItem(at: dir) }
    do {
      _ = try Case.load(path: path)
      Issue.record("\(name): loaded without error", sourceLocation: sourceLocation)
    } catch let e as CaseFileError {
      #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
      #expect(e.path == path && e.description.contains(path), sourceLocation: sourceLocation)
      #expect(e.description.contains(text), "\(e)", sourceLocation: sourceLocation)
    }
  }

  @Test func schemaProblemsAreTypedErrors() throws {
    try expectCaseError(.notACaseFile, "plain.h5", mentioning: "no `rnnconf_case_schema` attribute") {
      try $0.root.deleteAttribute("rnnconf_case_schema")
    }
    try expectCaseError(.unsupportedSchema(2), "v2.h5", mentioning: "version 2 is not supported") {
      try $0.root.setAttribute("rnnconf_case_schema", 2)
    }
    try expectCaseError(.missingAttribute("cell"), "nocell.h5", mentioning: "`cell`") {
      try $0.root.deleteAttribute("cell")
    }
    try expectCaseError(.missingAttribute("output_names"), "nonames.h5", mentioning: "`output_names`") {
      try $0.root.deleteAttribute("output_names")
    }
    // An unknown framework names the value and the known ones.
    try expectCaseError(.invalidAttribute("framework"), "badfw.h5", mentioning: "`caffe`") {
      try $0.root.setAttribute("framework", "caffe")
    }
    try expectCaseError(.invalidAttribute("framework"), "badfw2.h5", mentioning: "keras, tf1, pytorch, onnx") {
      try $0.root.setAttribute("framework", "PyTorch")
    }
    try expectCaseError(.invalidAttribute("cell"), "badcell.h5", mentioning: "`transformer`") {
      try $0.root.setAttribute("cell", "transformer")
    }
    try expectCaseError(.invalidAttribute("dtype"), "baddtype.h5", mentioning: "float16") {
      try $0.root.setAttribute("dtype", "float16")
    }
    try expectCaseError(.invalidAttribute("config"), "badjson.h5", mentioning: "not valid JSON") {
      try $0.root.setAttribute("config", "{\"a\": ")
    }
    try expectCaseError(.invalidAttribute("nan_equal"), "badnan.h5", mentioning: "nan_equal") {
      try $0.root.setAttribute("nan_equal", 3)
    }
    try expectCaseError(.missingTensor("inputs/input"), "missing.h5", mentioning: "/inputs/input") {
      try $0.root.deleteLink("inputs/input")
    }
    try expectCaseError(.unlistedTensor("/weights/extra/w"), "extra.h5", mentioning: "not listed in `weight_names`") {
      try $0.root.createDataset("weights/extra/w", shape: [2], values: [1.0, 2.0])
    }
    try expectCaseError(.invalidAttribute("input_names"), "dup.h5", mentioning: "twice") {
      try $0.root.setAttribute("input_names", fixedLengthStrings: ["input", "input"])
    }
  }

  @Test func aConfigThatIsNotJSONKeepsTheParserError() throws {
    let (path, dir) = try broken("badjson.h5") { try $0.root.setAttribute("config", "{\"a\": ") }
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect {
      _ = try Case.load(path: path)
    } throws: { error in
      guard let e = error as? CaseFileError, e.kind == .invalidAttribute("config") else { return false }
      return e.underlying != nil && !(e.underlying is CaseFileError)
    }
  }

  @Test func hdf5ProblemsPassThroughNamingTheFileAndObject() throws {
    // A listed tensor stored as strings: the HDF5 layer's typed error, naming file and dataset.
    let (path, dir) = try broken("strtensor.h5") {
      try $0.root.deleteLink("inputs/input")
      try $0.root.createDataset("inputs/input", fixedLengthStrings: ["a", "b"])
    }
    defer { try? FileManager.default.removeItem(at: dir) }
    do {
      _ = try Case.load(path: path)
      Issue.record("loaded a case whose input is a string dataset")
    } catch let e as HDF5Error {
      #expect(e.kind == .typeMismatch)
      #expect(e.file == path && e.objectPath == "/inputs/input", "\(e)")
    }
    do {
      _ = try Case.load(path: "/nonexistent-case.h5")
      Issue.record("loaded a missing file")
    } catch let e as HDF5Error {
      #expect(e.kind == .fileNotFound && e.file == "/nonexistent-case.h5")
    }
    #expect(CaseFileError.isNotACase(CaseFileError(.notACaseFile, path: "x", detail: "", hint: "")))
    #expect(!CaseFileError.isNotACase(HDF5Error(.notHDF5, file: "x", operation: "open", detail: "")))
  }

  @Test func inspectionShowsTheCaseInWordsThenTheTree() throws {
    let text = try Inspection.text(path: Self.sample)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines.first == "rnnconf case `tf1/sample` (schema 1)")
    #expect(lines.contains("  framework:   tf1 (expected outputs from tensorflow 2.21.0)"))
    #expect(lines.contains("  tolerance reason: sample: looser on purpose"))
    #expect(lines.contains("    num_units: 2"))
    let tree = try #require(lines.firstIndex(of: "HDF5 tree:"))
    #expect(lines[(tree + 2)...].contains("  @rnnconf_case_schema = 1"))
    #expect(lines.contains("        kernel  float32 [5, 8]"))
    #expect(lines.contains("    sequence_length  int64 [2]"))
  }

  @Test func inspectionNamesWhatANonHDF5PathIs() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inspect-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
      let p = dir.appendingPathComponent(name).path
      try Data(bytes).write(to: URL(fileURLWithPath: p))
      return p
    }
    let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.sample)))
    let cases: [(String, String)] = [
      (try write("model.keras", [0x50, 0x4b, 0x03, 0x04] + [UInt8](repeating: 0, count: 30)), "a zip archive (a Keras 3 .keras file?)"),
      (try write("arch.json", Array("{\"class_name\": \"Model\"}".utf8)), "JSON text"),
      (try write("empty.h5", []), "an empty file"),
      (try write("notes.txt", Array("hello\n".utf8)), "a text file"),
      (try write("cut.h5", Array(whole.prefix(whole.count / 2))), "truncated"),
      (dir.path, "is a directory"),
      (dir.appendingPathComponent("missing.h5").path, "does not exist"),
    ]
    for (path, expected) in cases {
      do {
        _ = try Inspection.text(path: path)
        Issue.record("\(path) was inspected without error")
      } catch {
        let message = Inspection.failureMessage(path: path, error: error)
        #expect(message.contains(path), "\(message)")
        #expect(message.contains(expected), "\(message)")
        #expect(!message.contains("\n"), "one paragraph: \(message)")
      }
    }
  }
}
