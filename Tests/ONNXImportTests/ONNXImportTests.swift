import Conformance
import Conversion
import KerasImport
import Foundation
import HDF5
import ONNXProto
import RNNRef
import Testing

@testable import ONNXImport

/// Paths of the repository this test file is in.
enum Repo {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()
  static let backend = root + "/fixtures/onnx/backend"
  static let torch = root + "/fixtures/onnx/torch"
}

/// A temporary folder, removed when the value is released.
final class TempFolder {
  let path: String
  init() throws {
    path = NSTemporaryDirectory() + "/onnximport-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
  @discardableResult func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let p = path + "/" + name
    try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: p))
    return p
  }
}

// MARK: - Building small models

func attr(_ name: String, ints: [Int64]) -> Onnx_AttributeProto {
  var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = ints; return a
}
func attr(_ name: String, int: Int64) -> Onnx_AttributeProto {
  var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = int; return a
}
func attr(_ name: String, string: String) -> Onnx_AttributeProto {
  var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(string.utf8); return a
}
func node(_ op: String, _ ins: [String], _ outs: [String], name: String = "", _ attrs: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
  var n = Onnx_NodeProto(); n.opType = op; n.input = ins; n.output = outs; n.name = name; n.attribute = attrs; return n
}
func int64Tensor(_ name: String, _ values: [Int64], dims: [Int64]? = nil) -> Onnx_TensorProto {
  var t = Onnx_TensorProto(); t.name = name; t.dataType = 7; t.dims = dims ?? [Int64(values.count)]; t.int64Data = values; return t
}
func floatTensor(_ name: String, _ values: [Float], dims: [Int64]) -> Onnx_TensorProto {
  var t = Onnx_TensorProto(); t.name = name; t.dataType = 1; t.dims = dims; t.floatData = values; return t
}
func valueInfo(_ name: String, type: Int32 = 1, dims: [Int64]? = nil) -> Onnx_ValueInfoProto {
  var v = Onnx_ValueInfoProto(); v.name = name
  var tt = Onnx_TypeProto.Tensor(); tt.elemType = type
  if let dims {
    var s = Onnx_TensorShapeProto()
    s.dim = dims.map { var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = $0; return d }
    tt.shape = s
  }
  var tp = Onnx_TypeProto(); tp.tensorType = tt
  v.type = tp
  return v
}
func model(opset: Int64, _ nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [String],
           initializers: [Onnx_TensorProto] = []) -> Onnx_ModelProto {
  var g = Onnx_GraphProto(); g.name = "g"; g.node = nodes; g.input = inputs; g.output = outputs.map { valueInfo($0) }
  g.initializer = initializers
  var m = Onnx_ModelProto(); m.irVersion = 7; m.graph = g
  var o = Onnx_OperatorSetIdProto(); o.domain = ""; o.version = opset
  m.opsetImport = [o]
  return m
}

/// Runs a one-input model on x (shape, values) in Double.
func run(_ m: Onnx_ModelProto, _ x: [Double], shape: [Int], name: String = "x") throws -> Tensor<Double> {
  let model = try ONNXModel(proto: m, path: "test.onnx")
  let out = try model.run(NamedTensors([(name, try Tensor(shape: shape, scalars: x))]))
  return out.entries[0].tensor
}

func expectError(_ kind: ONNXImportError.Kind, containing words: [String], _ body: () throws -> Void,
                 sourceLocation: SourceLocation = #_sourceLocation) {
  do {
    try body()
    Issue.record("no error; expected \(kind) naming \(words)", sourceLocation: sourceLocation)
  } catch let e as ONNXImportError {
    #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
    for w in words { #expect(e.description.contains(w), "`\(w)` not in: \(e)", sourceLocation: sourceLocation) }
  } catch {
    Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
  }
}

// MARK: - The fixtures

@Suite struct FixtureTests {
  static let folders: [String] = {
    var out: [String] = []
    for root in [Repo.backend, Repo.torch] {
      for name in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() { out.append(root + "/" + name) }
    }
    return out
  }()

  @Test func theFixturesAreThere() {
    // ONNX's node tests for LSTM (6), GRU (6), RNN (6) and six torch exports.
    let backend = Self.folders.filter { $0.hasPrefix(Repo.backend) }.map { ($0 as NSString).lastPathComponent }
    #expect(backend.filter { $0.hasPrefix("test_lstm") }.count == 6, "\(backend)")
    #expect(backend.filter { $0.hasPrefix("test_gru") }.count == 6, "\(backend)")
    #expect(backend.filter { $0.hasPrefix("test_simple_rnn") || $0.hasPrefix("test_rnn") }.count == 6, "\(backend)")
    #expect(Self.folders.filter { $0.hasPrefix(Repo.torch) }.count == 6)
  }

  /// Each model reads, and every data set of it passes at the float32 default (1e-5) through the runner.
  @Test(arguments: folders)
  func everyDataSetPasses(_ folder: String) throws {
    let report = try Runner().run({ var o = RunOptions(); o.paths = [folder]; o.parallel = false; o.currentDirectory = Repo.root; return o }())
    #expect(!report.cases.isEmpty)
    for c in report.cases {
      #expect(c.status == .pass, "\(c.name): \(c.status) \(c.message ?? "") \(c.outputs.map { "\($0.name) \($0.status) \($0.problem ?? "")" })")
      #expect(c.tolerance == Tolerance(atol: 1e-5, rtol: 1e-5))
      #expect(!c.outputs.isEmpty && c.outputs.allSatisfy { $0.status == .pass })
    }
    let model = try ONNXModel(path: folder + "/model.onnx")
    #expect(!model.recurrentNodes.isEmpty)
    // fixtures/expected-failures.json's onnx/* entries are not this folder's: no stale-entry warning.
    #expect((report.warnings ?? []).isEmpty, "\(report.warnings ?? [])")
  }

  /// Outputs a recurrent node gives directly are reported with the adapter's axis names.
  @Test func nodeOutputsHaveAxisNames() throws {
    let m = try ONNXModel(path: Repo.backend + "/test_lstm_defaults/model.onnx")
    #expect(m.axisNames(output: "Y_h") == ["direction", "batch", "unit"])
    let t = try ONNXModel(path: Repo.torch + "/lstm_2layer_bidirectional_batch_first_states/model.onnx")
    #expect(t.axisNames(output: "y") == nil)  // after Transpose and Reshape: positional
  }

  /// The torch exports hold the layout operations the exporter emits, in both opset forms.
  @Test func theTorchExportsUseTheLayoutOperations() throws {
    var ops = Set<String>(), opsets = Set<Int>()
    for f in Self.folders where f.hasPrefix(Repo.torch) {
      let m = try ONNXModel(path: f + "/model.onnx")
      ops.formUnion(m.opTypes); opsets.insert(m.opset)
    }
    for op in ["Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Reshape", "Shape", "Gather", "Constant", "Expand", "LSTM", "GRU", "RNN"] {
      #expect(ops.contains(op), "\(op) not in \(ops.sorted())")
    }
    #expect(opsets == [9, 17])
  }

  /// A perturbed expected value fails (the comparison really looks at the fixtures' outputs).
  @Test func aWrongExpectedValueFails() throws {
    let dir = try TempFolder()
    let src = Repo.backend + "/test_lstm_defaults"
    try FileManager.default.copyItem(atPath: src, toPath: dir.path + "/test_lstm_defaults")
    let out = dir.path + "/test_lstm_defaults/test_data_set_0/output_0.pb"
    var t = try Onnx_TensorProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: out)))
    var raw = [UInt8](t.rawData)
    let v = Float(bitPattern: UInt32(raw[0]) | UInt32(raw[1]) << 8 | UInt32(raw[2]) << 16 | UInt32(raw[3]) << 24) + 1e-3
    let b = v.bitPattern
    raw[0] = UInt8(b & 0xff); raw[1] = UInt8((b >> 8) & 0xff); raw[2] = UInt8((b >> 16) & 0xff); raw[3] = UInt8(b >> 24)
    t.rawData = Data(raw)
    try t.serializedData().write(to: URL(fileURLWithPath: out))
    let report = try Runner().run({ var o = RunOptions(); o.paths = [dir.path]; o.diagnosisBudget = 0; return o }())
    #expect(report.cases.count == 1)
    #expect(report.cases.first?.status == .fail)
    #expect(report.cases.first?.outputs.first?.status == .fail)
  }
}

// MARK: - Discovery

@Suite struct DiscoveryTests {
  func backendFolder(in dir: TempFolder, _ name: String = "test_lstm_defaults", sets: Int = 2) throws {
    let src = Repo.backend + "/test_lstm_defaults"
    try FileManager.default.createDirectory(atPath: dir.path + "/" + name, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: src + "/model.onnx", toPath: dir.path + "/\(name)/model.onnx")
    for k in 0..<sets {
      try FileManager.default.copyItem(atPath: src + "/test_data_set_0", toPath: dir.path + "/\(name)/test_data_set_\(k)")
    }
  }

  @Test func aFolderOfBackendTestsIsFound() throws {
    let dir = try TempFolder()
    try backendFolder(in: dir, sets: 2)
    try backendFolder(in: dir, "nested/test_other", sets: 1)
    try dir.write("test_lstm_defaults/test_data_set_x/readme.txt", [1])  // not a data set name
    let d = try Discovery.find(paths: [dir.path], executablePath: nil)
    #expect(d.files.map(\.name) == ["nested/test_other/test_data_set_0", "test_lstm_defaults/test_data_set_0", "test_lstm_defaults/test_data_set_1"])
    #expect(d.files.allSatisfy { !$0.explicit && $0.problem == nil })
  }

  @Test func theModelFolderOrOneDataSetNamedOnTheCommandLine() throws {
    let dir = try TempFolder()
    try backendFolder(in: dir, sets: 2)
    let model = try Discovery.find(paths: [dir.path + "/test_lstm_defaults"], executablePath: nil)
    #expect(model.files.map(\.name) == ["test_lstm_defaults/test_data_set_0", "test_lstm_defaults/test_data_set_1"])
    let one = try Discovery.find(paths: [dir.path + "/test_lstm_defaults/test_data_set_1"], executablePath: nil)
    #expect(one.files.map(\.name) == ["test_lstm_defaults/test_data_set_1"])
    #expect(one.files.first?.explicit == true)
  }

  @Test func theBundledFixturesNameBackendCasesUnderOnnx() throws {
    let d = try Discovery.find(paths: [Repo.root + "/fixtures/onnx"], executablePath: nil)
    let names = d.files.map(\.name)
    #expect(names.contains("onnx/backend/test_gru_seq_length/test_data_set_0"))
    #expect(names.contains("onnx/torch/lstm_2layer_bidirectional_batch_first_states/test_data_set_1"))
  }

  @Test func aFolderWithoutModelIsNotABackendTest() throws {
    let dir = try TempFolder()
    try dir.write("t/test_data_set_0/input_0.pb", [0])
    #expect(throws: ConformanceError.self) { try Discovery.find(paths: [dir.path], executablePath: nil) }
  }

  @Test func missingTensorFilesAreThatCasesError() throws {
    let dir = try TempFolder()
    try backendFolder(in: dir, sets: 1)
    try FileManager.default.removeItem(atPath: dir.path + "/test_lstm_defaults/test_data_set_0/output_0.pb")
    let report = try Runner().run({ var o = RunOptions(); o.paths = [dir.path]; return o }())
    #expect(report.cases.first?.status == .error)
    #expect(report.cases.first?.message?.contains("output") == true, "\(report.cases.first?.message ?? "")")
  }
}

// MARK: - Refusals

@Suite struct RefusalTests {
  @Test func anUnsupportedOperatorIsNamedWithItsNodeAndFile() throws {
    let m = model(opset: 17, [node("Add", ["x", "x"], ["y"], name: "my_add")], inputs: [valueInfo("x")], outputs: ["y"])
    let dir = try TempFolder()
    let path = try dir.write("add.onnx", [UInt8](try m.serializedData()))
    expectError(.unsupportedOp, containing: ["`Add`", "\"my_add\"", path, "LSTM"]) { _ = try ONNXModel(path: path) }
  }

  @Test func anotherDomainIsRefused() {
    var n = node("LSTM", ["x"], ["y"], name: "custom")
    n.domain = "com.microsoft"
    let m = model(opset: 17, [n], inputs: [valueInfo("x")], outputs: ["y"])
    expectError(.unsupportedOp, containing: ["com.microsoft", "custom"]) { _ = try ONNXModel(proto: m, path: "m.onnx") }
  }

  @Test func malformedProtobufIsNamedWithTheFile() throws {
    let dir = try TempFolder()
    let garbage = try dir.write("garbage.onnx", [0xff, 0xff, 0xff, 0xff, 0x0f, 0x12])
    expectError(.malformed, containing: [garbage, "protobuf"]) { _ = try ONNXModel(path: garbage) }
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Repo.torch + "/lstm_default/model.onnx")))
    let truncated = try dir.write("truncated.onnx", Array(bytes.prefix(bytes.count / 2)))
    expectError(.malformed, containing: [truncated]) { _ = try ONNXModel(path: truncated) }
    let tensor = try dir.write("input_0.pb", [0x0a, 0xff, 0xff])
    expectError(.malformed, containing: [tensor, "TensorProto"]) { _ = try ONNXTensorFile.read(path: tensor) }
    let empty = try dir.write("empty.onnx", [])
    expectError(.invalidGraph, containing: [empty, "no graph"]) { _ = try ONNXModel(path: empty) }
  }

  @Test func aFIFOIsNotOpened() throws {
    let dir = try TempFolder()
    let fifo = dir.path + "/m.onnx"
    #expect(mkfifo(fifo, 0o600) == 0)
    expectError(.malformed, containing: [fifo]) { _ = try ONNXModel(path: fifo) }
  }

  @Test func tensorSizesAreCheckedBeforeAllocation() {
    var huge = floatTensor("w", [], dims: [1 << 20, 1 << 20])
    huge.floatData = []
    expectError(.invalidTensor, containing: ["`w`", "cap"]) { _ = try Value<Double>.decode(huge, path: "m.onnx", what: "initializer `w`") }
    var short = floatTensor("w", [], dims: [2, 3])
    short.rawData = Data([0, 0, 0, 0])
    expectError(.invalidTensor, containing: ["[2, 3]", "raw_data"]) { _ = try Value<Double>.decode(short, path: "m.onnx", what: "initializer `w`") }
    let typed = floatTensor("w", [1, 2], dims: [3])
    expectError(.invalidTensor, containing: ["float_data", "holds 2"]) { _ = try Value<Double>.decode(typed, path: "m.onnx", what: "initializer `w`") }
    var negative = floatTensor("w", [], dims: [-1])
    negative.floatData = []
    expectError(.invalidTensor, containing: ["dims"]) { _ = try Value<Double>.decode(negative, path: "m.onnx", what: "initializer `w`") }
    let deep = floatTensor("d", [1], dims: Array(repeating: 1, count: 100_000))
    expectError(.invalidTensor, containing: ["`d`", "100000 dimensions"]) { _ = try Value<Double>.decode(deep, path: "m.onnx", what: "initializer `d`") }
    var half = floatTensor("h", [], dims: [1]); half.dataType = 10
    expectError(.unsupported, containing: ["float16"]) { _ = try Value<Double>.decode(half, path: "m.onnx", what: "initializer `h`") }
  }

  @Test func externalDataIsRefused() {
    var t = floatTensor("W", [], dims: [1, 4, 3])
    t.floatData = []
    t.dataLocation = .external
    var e = Onnx_StringStringEntryProto(); e.key = "location"; e.value = "weights.bin"
    t.externalData = [e]
    let m = model(opset: 17, [node("Identity", ["W"], ["y"])], inputs: [], outputs: ["y"], initializers: [t])
    expectError(.unsupported, containing: ["external", "`W`", "save_as_external_data=False"]) { _ = try ONNXModel(proto: m, path: "m.onnx") }
  }

  @Test func wrongInputShapesAndNamesAreRefused() throws {
    let m = try ONNXModel(path: Repo.torch + "/lstm_2layer_bidirectional_batch_first_states/model.onnx")
    let x = try Tensor<Double>(zeros: [2, 5, 7])  // input size 7, the model takes 3
    let h = try Tensor<Double>(zeros: [4, 2, 4])
    expectError(.invalidInput, containing: ["`x`", "[2, 5, 7]"]) { _ = try m.run(NamedTensors([("x", x), ("h0", h), ("c0", h)])) }
    expectError(.invalidInput, containing: ["`c0`", "not given"]) { _ = try m.run(NamedTensors([("x", try Tensor<Double>(zeros: [2, 5, 3])), ("h0", h)])) }
    expectError(.invalidInput, containing: ["`z`", "not a graph input"]) { _ = try m.run(NamedTensors([("z", h)])) }
  }

  @Test func aRecurrentNodeWithWrongWeightShapesNamesTheNode() throws {
    // An LSTM whose W does not fit hidden_size: the adapter's error, with the node and file.
    let W = floatTensor("W", Array(repeating: 0, count: 12), dims: [1, 4, 3])
    let R = floatTensor("R", Array(repeating: 0, count: 64), dims: [1, 16, 4])
    let m = model(opset: 17, [node("LSTM", ["x", "W", "R"], ["y"], name: "bad_lstm", [attr("hidden_size", int: 4)])],
                  inputs: [valueInfo("x")], outputs: ["y"], initializers: [W, R])
    let model = try ONNXModel(proto: m, path: "m.onnx")
    expectError(.invalidNode, containing: ["\"bad_lstm\"", "m.onnx", "W"]) {
      _ = try model.run(NamedTensors([("x", try Tensor<Double>(zeros: [5, 2, 3]))]))
    }
    let unknown = model_(attrs: [attr("hidden_size", int: 4), attr("no_such_attribute", int: 1)])
    expectError(.invalidNode, containing: ["\"lstm\"", "no_such_attribute"]) { _ = try ONNXModel(proto: unknown, path: "m.onnx") }
  }

  func model_(attrs: [Onnx_AttributeProto]) -> Onnx_ModelProto {
    model(opset: 17, [node("LSTM", ["x", "W", "R"], ["y"], name: "lstm", attrs)], inputs: [valueInfo("x"), valueInfo("W"), valueInfo("R")], outputs: ["y"])
  }

  @Test func graphsThatDoNotHoldTogether() {
    let undefined = model(opset: 17, [node("Identity", ["nope"], ["y"], name: "id")], inputs: [valueInfo("x")], outputs: ["y"])
    expectError(.invalidGraph, containing: ["`nope`", "\"id\""]) { _ = try ONNXModel(proto: undefined, path: "m.onnx") }
    let twice = model(opset: 17, [node("Identity", ["x"], ["y"]), node("Identity", ["x"], ["y"])], inputs: [valueInfo("x")], outputs: ["y"])
    expectError(.invalidGraph, containing: ["`y`", "already defined"]) { _ = try ONNXModel(proto: twice, path: "m.onnx") }
    let noOutput = model(opset: 17, [node("Identity", ["x"], ["y"])], inputs: [valueInfo("x")], outputs: ["z"])
    expectError(.invalidGraph, containing: ["`z`", "never computed"]) { _ = try ONNXModel(proto: noOutput, path: "m.onnx") }
  }

  @Test func hostileShapesInTheGraphAreRefusedBeforeAllocation() {
    let m = model(opset: 17, [node("Expand", ["x", "s"], ["y"], name: "boom")], inputs: [valueInfo("x")], outputs: ["y"],
                  initializers: [int64Tensor("s", [1 << 30, 1 << 30])])
    expectError(.invalidTensor, containing: ["\"boom\"", "cap"]) { _ = try run(m, [1], shape: [1]) }
  }
}

// MARK: - Operators (expected values written from the ONNX operator spec)

@Suite struct OperatorTests {
  let x23: [Double] = [0, 1, 2, 3, 4, 5]  // shape [2, 3]

  @Test func sliceAsAttributesBeforeOpset10AndInputsFrom10() throws {
    let old = model(opset: 9, [node("Slice", ["x"], ["y"], [attr("starts", ints: [1]), attr("ends", ints: [Int64.max]), attr("axes", ints: [1])])],
                    inputs: [valueInfo("x")], outputs: ["y"])
    let y9 = try run(old, x23, shape: [2, 3])
    #expect(y9.shape == [2, 2] && y9.scalars == [1, 2, 4, 5])
    let new = model(opset: 13, [node("Slice", ["x", "s", "e", "a", "st"], ["y"])], inputs: [valueInfo("x")], outputs: ["y"],
                    initializers: [int64Tensor("s", [-1]), int64Tensor("e", [Int64.min]), int64Tensor("a", [1]), int64Tensor("st", [-1])])
    let y13 = try run(new, x23, shape: [2, 3])
    #expect(y13.shape == [2, 3] && y13.scalars == [2, 1, 0, 5, 4, 3])
    // opset 9 has no inputs for starts: a model mixing the forms is refused with the node named.
    let mixed = model(opset: 9, [node("Slice", ["x", "s", "e"], ["y"], name: "s9")], inputs: [valueInfo("x")], outputs: ["y"],
                      initializers: [int64Tensor("s", [0]), int64Tensor("e", [1])])
    expectError(.invalidNode, containing: ["\"s9\"", "before opset 10"]) { _ = try run(mixed, x23, shape: [2, 3]) }
  }

  @Test func squeezeAndUnsqueezeAxesAsAttributesBefore13AndInputsFrom13() throws {
    let u11 = model(opset: 11, [node("Unsqueeze", ["x"], ["y"], [attr("axes", ints: [0, -1])])], inputs: [valueInfo("x")], outputs: ["y"])
    #expect(try run(u11, x23, shape: [2, 3]).shape == [1, 2, 3, 1])
    let u13 = model(opset: 13, [node("Unsqueeze", ["x", "a"], ["y"])], inputs: [valueInfo("x")], outputs: ["y"], initializers: [int64Tensor("a", [1])])
    #expect(try run(u13, x23, shape: [2, 3]).shape == [2, 1, 3])
    let u13attr = model(opset: 13, [node("Unsqueeze", ["x"], ["y"], name: "u", [attr("axes", ints: [0])])], inputs: [valueInfo("x")], outputs: ["y"])
    expectError(.invalidNode, containing: ["\"u\"", "input 1"]) { _ = try run(u13attr, x23, shape: [2, 3]) }
    let s11 = model(opset: 11, [node("Squeeze", ["x"], ["y"], [attr("axes", ints: [0])])], inputs: [valueInfo("x")], outputs: ["y"])
    let y = try run(s11, x23, shape: [1, 2, 3])
    #expect(y.shape == [2, 3] && y.scalars == x23)
    let s13all = model(opset: 13, [node("Squeeze", ["x"], ["y"])], inputs: [valueInfo("x")], outputs: ["y"])
    #expect(try run(s13all, x23, shape: [1, 2, 1, 3]).shape == [2, 3])
    let s13bad = model(opset: 13, [node("Squeeze", ["x", "a"], ["y"], name: "sq")], inputs: [valueInfo("x")], outputs: ["y"], initializers: [int64Tensor("a", [1])])
    expectError(.invalidNode, containing: ["\"sq\"", "size is 2"]) { _ = try run(s13bad, x23, shape: [1, 2, 3]) }
  }

  @Test func transposeConcatGatherReshapeShapeExpand() throws {
    let t = model(opset: 17, [node("Transpose", ["x"], ["y"], [attr("perm", ints: [1, 0])])], inputs: [valueInfo("x")], outputs: ["y"])
    let yt = try run(t, x23, shape: [2, 3])
    #expect(yt.shape == [3, 2] && yt.scalars == [0, 3, 1, 4, 2, 5])
    let c = model(opset: 17, [node("Concat", ["x", "x"], ["y"], [attr("axis", int: -1)])], inputs: [valueInfo("x")], outputs: ["y"])
    let yc = try run(c, x23, shape: [2, 3])
    #expect(yc.shape == [2, 6] && yc.scalars == [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5])
    let g = model(opset: 17, [node("Gather", ["x", "i"], ["y"], [attr("axis", int: 1)])], inputs: [valueInfo("x")], outputs: ["y"],
                  initializers: [int64Tensor("i", [-1, 0])])
    let yg = try run(g, x23, shape: [2, 3])
    #expect(yg.shape == [2, 2] && yg.scalars == [2, 0, 5, 3])
    let r = model(opset: 17, [node("Reshape", ["x", "s"], ["y"])], inputs: [valueInfo("x")], outputs: ["y"], initializers: [int64Tensor("s", [0, -1, 1])])
    #expect(try run(r, x23, shape: [2, 3]).shape == [2, 3, 1])
    // Shape -> Gather -> Unsqueeze -> Concat -> Expand: the chain torch emits for zero initial states.
    let chain = model(opset: 17, [
      node("Shape", ["x"], ["s"]), node("Gather", ["s", "k"], ["n"]), node("Unsqueeze", ["n", "a"], ["n1"]),
      node("Concat", ["one", "n1"], ["shape"], [attr("axis", int: 0)]), node("Expand", ["z", "shape"], ["y"]),
    ], inputs: [valueInfo("x")], outputs: ["y"],
      initializers: [int64Tensor("k", [1], dims: []), int64Tensor("a", [0]), int64Tensor("one", [1]), floatTensor("z", [7], dims: [1])])
    let ye = try run(chain, x23, shape: [2, 3])
    #expect(ye.shape == [1, 3] && ye.scalars == [7, 7, 7])
    let s15 = model(opset: 15, [node("Shape", ["x"], ["y"], [attr("start", int: -1)])], inputs: [valueInfo("x")], outputs: ["y"])
    #expect(try run(s15, x23, shape: [2, 3]).scalars == [3])
    let bad = model(opset: 17, [node("Gather", ["x", "i"], ["y"], name: "g")], inputs: [valueInfo("x")], outputs: ["y"], initializers: [int64Tensor("i", [2])])
    expectError(.invalidNode, containing: ["\"g\"", "index 2"]) { _ = try run(bad, x23, shape: [2, 3]) }
  }

  @Test func castConstantIdentityConstantOfShape() throws {
    let m = model(opset: 17, [
      node("Constant", [], ["c"], [attr("value_ints", ints: [2, 2])]),
      node("ConstantOfShape", ["c"], ["z"]),
      node("Cast", ["x"], ["xi"], [attr("to", int: 7)]), node("Cast", ["xi"], ["xf"], [attr("to", int: 1)]),
      node("Identity", ["xf"], ["y"]),
    ], inputs: [valueInfo("x")], outputs: ["y", "z"])
    let out = try ONNXModel(proto: m, path: "m.onnx").run(NamedTensors([("x", try Tensor<Double>(shape: [3], scalars: [1.7, -1.7, 0]))]))
    #expect(out["y"]?.scalars == [1, -1, 0])  // toward zero
    #expect(out["z"]?.shape == [2, 2] && out["z"]?.scalars == [0, 0, 0, 0])
  }
}

// MARK: - convert: an ONNX model as a source

@Suite struct ConvertSourceTests {
  @Test func oneRecurrentNodeIsTheSource() throws {
    let s = try ConversionSource.load(path: Repo.torch + "/lstm_default/model.onnx")
    #expect(s.framework == .onnx && s.network.layers.count == 1)
    #expect(s.network.layers[0].cells.first?.hiddenSize == 4)
  }

  @Test func severalNodesNeedALayerChoice() throws {
    let path = Repo.torch + "/gru_2layer_bidirectional_states/model.onnx"
    #expect(throws: ConversionError.self) { try ConversionSource.load(path: path) }
    do { _ = try ConversionSource.load(path: path) } catch { #expect("\(error)".contains("/GRU_1"), "\(error)") }
    let s = try ConversionSource.load(path: path, layer: "/GRU_1")
    #expect(s.network.layers[0].cells.count == 2 && s.network.layers[0].cells[0].inputSize == 8)
  }

  @Test func weightsFedAsInputsCannotBeConverted() {
    do {
      _ = try ConversionSource.load(path: Repo.backend + "/test_lstm_defaults/model.onnx")
      Issue.record("no error")
    } catch { #expect("\(error)".contains("computed from the graph's inputs"), "\(error)") }
  }
}

// MARK: - The command line

@Suite(.serialized) struct CommandLineTests {
  /// `rnnconf` beside the test bundle in the build products folder.
  static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let binary = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rnnconf").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      Issue.record("rnnconf is not built at \(binary); build it with `swift build` before `swift test --skip-build`")
      return (-1, "", "")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }

  @Test func runTakesABackendFolder() throws {
    let r = try Self.run(["run", "fixtures/onnx/torch/lstm_default"])
    #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
    #expect(r.stdout.contains("PASS onnx/torch/lstm_default/test_data_set_0"))
    #expect(r.stdout.contains("2 passed, 0 failed"))
  }

  @Test func inspectReadsAModel() throws {
    let r = try Self.run(["inspect", "fixtures/onnx/torch/lstm_2layer_bidirectional_batch_first_states/model.onnx"])
    #expect(r.status == 0, "\(r.stderr)")
    for w in ["opset 17", "LSTM node \"/LSTM_1\"", "x float32 [2, 5, 3]", "Transpose"] { #expect(r.stdout.contains(w), "\(w): \(r.stdout)") }
    let dir = try TempFolder()
    let bad = try dir.write("bad.onnx", [0xff, 0xff, 0xff])
    let b = try Self.run(["inspect", bad])
    #expect(b.status == 1 && b.stderr.contains(bad), "\(b.stderr)")
  }

  /// predict on .npy inputs reproduces torch's own outputs (test_data_set_0 of the export).
  @Test func predictReproducesTorch() throws {
    let folder = Repo.torch + "/lstm_2layer_bidirectional_batch_first_states"
    let dir = try TempFolder()
    var args = ["predict", folder + "/model.onnx"]
    for k in 0..<3 {
      let t = try ONNXTensorFile.read(path: folder + "/test_data_set_0/input_\(k).pb")
      let path = dir.path + "/in\(k).npy"
      try NPY.write(t.tensor, to: URL(fileURLWithPath: path))
      args += ["--input", path]
    }
    let r = try Self.run(args + ["--output", dir.path + "/out.h5"])
    #expect(r.status == 0, "\(r.stderr)")
    let file = try HDF5.File(path: dir.path + "/out.h5")
    for k in 0..<3 {
      let expected = try ONNXTensorFile.read(path: folder + "/test_data_set_0/output_\(k).pb").tensor
      let ds = try file.dataset("output_\(k)")
      #expect(try ds.shape == expected.shape)
      for (a, e) in zip(try ds.read(as: Double.self), expected.scalars) { #expect(abs(a - e) <= 1e-5 + 1e-5 * abs(e), "output \(k): \(a) vs \(e)") }
    }
    let y = try Self.run(args + ["--output", dir.path + "/y.npy"])
    #expect(y.status == 1 && y.stderr.contains("3 outputs"), "\(y.stderr)")  // three outputs do not fit one .npy
    let one = try Self.run(["predict", folder + "/model.onnx", "--input", dir.path + "/in0.npy"])
    #expect(one.status == 1 && one.stderr.contains("x, h0, c0"), "\(one.stderr)")
    // The printed first values of y agree with torch's within the float32 tolerance.
    let shown = try Self.run(args)
    let expected = try ONNXTensorFile.read(path: folder + "/test_data_set_0/output_0.pb").tensor
    guard let line = shown.stdout.split(separator: "\n").first(where: { $0.hasPrefix("output_0 y") }),
          let open = line.firstIndex(of: "["), let values = line.split(separator: "[").last else {
      Issue.record("no output_0 line: \(shown.stdout)"); return
    }
    _ = open
    let printed = values.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    #expect(printed.count == 8)
    for (a, e) in zip(printed, expected.scalars) { #expect(abs(a - e) <= 1e-5 + 1e-5 * abs(e), "\(a) vs \(e)") }
  }
}
