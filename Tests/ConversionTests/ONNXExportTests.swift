import Foundation
import ONNXProto
import Testing
@testable import Conversion
import RNNRef
import _TestSupport

/// `--to onnx` through the written file: the `.onnx` is parsed with the generated messages, its
/// LSTM/GRU/RNN nodes are read back by the ONNX adapter (`ONNX.importNetwork` on the node's
/// attributes and initializers) and compute the source network's function; the graph's inputs and
/// outputs follow the source framework's convention; what ONNX cannot express is refused.
/// (onnx.checker and onnxruntime run the same files in fixtures/generate/gen_conversions.py.)
@Suite struct ONNXExportTests {
  static func cell(_ k: CellKind, _ i: Int, _ h: Int, _ o: CellOptions = CellOptions(), seed: UInt64) -> Cell<Double> {
    var rng = SeededRNG(seed: seed)
    return randomCell(k, Double.self, input: i, hidden: h, options: o, rng: &rng)
  }
  static func layer(_ k: CellKind, _ i: Int, _ h: Int, _ dir: Direction = .forward, merge: MergeMode = .concat,
                    _ o: CellOptions = CellOptions(), seed: UInt64 = 1) -> RecurrentLayer<Double> {
    let cells = (0..<(dir == .bidirectional ? 2 : 1)).map { cell(k, i, h, o, seed: seed + UInt64($0)) }
    return RecurrentLayer(direction: dir, cells: cells, merge: merge)
  }
  static func source(_ layers: [RecurrentLayer<Double>], _ fw: Framework, batchMajor: Bool = false,
                     states: Bool = false) -> SourceNetwork {
    var s = SourceNetwork(network: Network(layers: layers), framework: fw, batchMajor: batchMajor, label: "test", dtype: .float32)
    s.initialStates = states
    return s
  }

  /// The written model's recurrent nodes read back by the ONNX adapter, one layer per node, with the
  /// merge the graph applies around them.
  static func readBack(_ path: String, merges: [MergeMode]) throws -> (Onnx_ModelProto, Network<Double>) {
    let model = try Onnx_ModelProto(serializedBytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    let inits = Dictionary(uniqueKeysWithValues: model.graph.initializer.map { ($0.name, $0) })
    var layers: [RecurrentLayer<Double>] = []
    for node in model.graph.node where ["LSTM", "GRU", "RNN"].contains(node.opType) {
      var attrs: [String: JSONValue] = [:]
      for a in node.attribute {
        switch a.type {
        case .int: attrs[a.name] = .number(Double(a.i))
        case .float: attrs[a.name] = .number(Double(a.f))
        case .string: attrs[a.name] = .string(String(decoding: a.s, as: UTF8.self))
        case .floats: attrs[a.name] = .array(a.floats.map { .number(Double($0)) })
        case .strings: attrs[a.name] = .array(a.strings.map { .string(String(decoding: $0, as: UTF8.self)) })
        default: Issue.record("attribute \(a.name) of type \(a.type)")
        }
      }
      let order = node.opType == "LSTM" ? ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
                                        : ["X", "W", "R", "B", "sequence_lens", "initial_h"]
      var weights = NamedTensors<Double>()
      var present: [String] = []
      for (k, input) in node.input.enumerated() {
        present.append(input.isEmpty ? "" : order[k])
        guard ["W", "R", "B", "P"].contains(order[k]), let t = inits[input] else { continue }
        #expect(t.dataType == 1, "\(input) is float32")
        let raw = Array(t.rawData)
        let scalars = stride(from: 0, to: raw.count, by: 4).map { i in
          Double(Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24))
        }
        weights.append(order[k], try Tensor(shape: t.dims.map(Int.init), scalars: scalars))
      }
      let config: JSONValue = .object([
        "op_type": .string(node.opType), "opset": .number(22), "attributes": .object(attrs),
        "inputs_present": .array(present.filter { !$0.hasPrefix("initial_") }.map(JSONValue.string)),
      ])
      var l = try ONNX.importNetwork(config: try ONNX.parseConfig(config), weights: weights).layers[0]
      if l.direction == .bidirectional { l.merge = merges[layers.count] }
      layers.append(l)
    }
    return (model, Network(layers: layers))
  }

  @Test func nodesReadBackComputeTheSourceFunction() throws {
    let dir = try TempDir()
    let nets: [(String, [RecurrentLayer<Double>])] = [
      ("lstm", [Self.layer(.lstm, 3, 4)]),
      ("gru reset after", [Self.layer(.gru, 3, 4)]),
      ("gru reset before", [Self.layer(.gru, 3, 4, .forward, CellOptions(resetAfter: false))]),
      ("simple rnn", [Self.layer(.simple, 3, 5)]),
      ("peephole lstm", [Self.layer(.lstm, 3, 4, .forward, CellOptions(peepholes: true))]),
      ("bidirectional gru, 2 layers", [Self.layer(.gru, 3, 2, .bidirectional), Self.layer(.gru, 4, 3, .bidirectional, seed: 5)]),
      ("lstm, 3 layers of different sizes", [Self.layer(.lstm, 3, 4), Self.layer(.lstm, 4, 2, seed: 3), Self.layer(.lstm, 2, 5, seed: 4)]),
    ]
    for (label, layers) in nets {
      for fw in [Framework.pytorch, .keras, .tf1] {
        let out = dir.path + "/m.onnx"
        let r = try Converter.convert(Self.source(layers, fw), to: .onnx, output: out)
        #expect(r.files == [out])
        let (model, back) = try Self.readBack(out, merges: layers.map(\.merge))
        #expect(model.opsetImport.first?.version == 22 && model.irVersion == 10)
        #expect(back.layers.count == layers.count, "\(label)")
        #expect(try sameFunction(float32Network(Network(layers: layers)), back), "\(label) from \(fw)")
      }
    }
  }

  /// Graph inputs and outputs: the source framework's names, in its layout.
  @Test func signaturesFollowTheSource() throws {
    let dir = try TempDir()
    let out = dir.path + "/m.onnx"
    func io(_ s: SourceNetwork) throws -> ([String], [String], [String: [String]]) {
      let r = try Converter.convert(s, to: .onnx, output: out)
      let model = try Onnx_ModelProto(serializedBytes: Array(try Data(contentsOf: URL(fileURLWithPath: out))))
      var dims: [String: [String]] = [:]
      for v in model.graph.input + model.graph.output {
        dims[v.name] = v.type.tensorType.shape.dim.map { d in d.dimParam.isEmpty ? "\(d.dimValue)" : d.dimParam }
      }
      #expect(r.inputs == model.graph.input.map(\.name) && r.outputs == model.graph.output.map(\.name))
      return (r.inputs, r.outputs, dims)
    }
    // torch, batch_first, 2 bidirectional layers with h0/c0: stacked states.
    let torch = try io(Self.source([Self.layer(.lstm, 3, 4, .bidirectional), Self.layer(.lstm, 8, 4, .bidirectional, seed: 3)],
                                   .pytorch, batchMajor: true, states: true))
    #expect(torch.0 == ["input", "h0", "c0"] && torch.1 == ["output", "h_n", "c_n"])
    #expect(torch.2["input"] == ["batch", "steps", "3"] && torch.2["h0"] == ["4", "batch", "4"])
    #expect(torch.2["output"] == ["batch", "steps", "8"] && torch.2["c_n"] == ["4", "batch", "4"])
    // Keras Bidirectional(merge_mode=None) with initial states: two outputs, [h, c] per direction.
    let keras = try io(Self.source([Self.layer(.lstm, 3, 4, .bidirectional, merge: .none)], .keras, batchMajor: true, states: true))
    #expect(keras.0 == ["x", "fw_h0", "fw_c0", "bw_h0", "bw_c0"])
    #expect(keras.1 == ["output_fw", "output_bw", "fw_state_h", "fw_state_c", "bw_state_h", "bw_state_c"])
    #expect(keras.2["output_fw"] == ["batch", "steps", "4"] && keras.2["fw_h0"] == ["batch", "4"])
    // TF1: LSTMStateTuple (c, h), MultiRNNCell layers.
    var tf1 = Self.source([Self.layer(.lstm, 3, 4), Self.layer(.lstm, 4, 3, seed: 2)], .tf1)
    tf1.sequenceBatchMajor = true
    let t = try io(tf1)
    #expect(t.0 == ["inputs"] && t.1 == ["outputs", "state/0/c", "state/0/h", "state/1/c", "state/1/h"])
    #expect(t.2["inputs"] == ["batch", "steps", "3"])
    let gru = try io(Self.source([Self.layer(.gru, 3, 4)], .tf1, states: true))
    #expect(gru.0 == ["inputs", "initial_state"] && gru.1 == ["outputs", "state"] && gru.2["inputs"] == ["steps", "batch", "3"])
    // Per-sample lengths: torch's packed lengths (int64, cast for the nodes), ONNX's sequence_lens (int32).
    var packed = Self.source([Self.layer(.gru, 3, 4, .bidirectional)], .pytorch, states: true)
    packed.lengths = true
    let p = try io(packed)
    #expect(p.0 == ["input", "h0", "lengths"] && p.2["lengths"] == ["batch"])
    var seqlens = Self.source([Self.layer(.lstm, 3, 4)], .onnx)
    seqlens.lengths = true
    #expect(try io(seqlens).0 == ["X", "sequence_lens"])
    let model = try Onnx_ModelProto(serializedBytes: Array(try Data(contentsOf: URL(fileURLWithPath: out))))
    #expect(model.graph.input.last?.type.tensorType.elemType == 6)
    #expect(model.graph.node.first { $0.opType == "LSTM" }?.input.dropFirst(4).first == "sequence_lens")
    var masked = Self.source([Self.layer(.lstm, 3, 4)], .keras)
    masked.lengths = true
    #expect(throws: ConversionError.self) { try Converter.convert(masked, to: .onnx, output: out) }
    // ONNX: the node's own X, Y (direction axis kept), Y_h, Y_c.
    let onnx = try io(Self.source([Self.layer(.lstm, 3, 4, .bidirectional, merge: .none)], .onnx, states: true))
    #expect(onnx.0 == ["X", "initial_h", "initial_c"] && onnx.1 == ["Y", "Y_h", "Y_c"])
    #expect(onnx.2["Y"] == ["steps", "2", "batch", "4"])
  }

  /// Exact rewrites in the graph are named; merge_mode=None is kept (no concat rewrite).
  @Test func namesTheGraphRewrites() throws {
    let dir = try TempDir()
    let out = dir.path + "/m.onnx"
    let sum = try Converter.convert(Self.source([Self.layer(.gru, 3, 4, .bidirectional, merge: .sum)], .keras), to: .onnx, output: out)
    #expect(sum.rewrites.contains { $0.description.contains("ReduceSum") })
    var back = RecurrentLayer(direction: .reverse, cells: [Self.cell(.lstm, 3, 4, seed: 1)], reverseOutputOrder: .timeReversed)
    let gb = try Converter.convert(Self.source([back], .keras), to: .onnx, output: out)
    #expect(gb.rewrites.contains { $0.description.contains("go_backwards") && $0.description.contains("Slice") })
    back.padding = .repeatPreviousOutput
    let masked = try Converter.convert(Self.source([back], .keras), to: .onnx, output: out)
    #expect(masked.rewrites.contains { $0.description.contains("takes no mask") })
    let none = try Converter.convert(Self.source([Self.layer(.lstm, 3, 4, .bidirectional, merge: .none)], .keras), to: .onnx, output: out)
    #expect(!none.rewrites.contains { $0.description.contains("concatenated") })
    #expect(none.outputs.prefix(2) == ["output_fw", "output_bw"])
    // Below another layer, merge_mode=None feeds it the concatenation (canonical semantics), named.
    let stacked = try Converter.convert(Self.source([Self.layer(.gru, 3, 4, .bidirectional, merge: .none), Self.layer(.gru, 8, 4, seed: 7)], .tf1),
                                        to: .onnx, output: out)
    #expect(stacked.rewrites.contains { $0.description.contains("into the next layer's input") })
    // The exporter alone refuses it (its two outputs cannot feed the next node).
    #expect(throws: RNNRefError.self) {
      try ONNXExport.model(Network(layers: [Self.layer(.gru, 3, 4, .bidirectional, merge: .none), Self.layer(.gru, 8, 4, seed: 7)]),
                           signature: .init(style: .tf1, batchMajor: true, initialStates: false), dtype: .float32)
    }
    // PyTorch has only concat: merge_mode=None is concatenated there, and says how to split.
    let torch = try Converter.convert(Self.source([Self.layer(.lstm, 3, 4, .bidirectional, merge: .none)], .keras), to: .pytorch, output: dir.path + "/t")
    #expect(torch.rewrites.contains { $0.description.contains("output[..., :4] is the forward direction's") })
  }

  /// (what, layers, words the reason holds)
  static let refusals: [(String, [RecurrentLayer<Double>], [String])] = [
    ("projection", [layer(.lstm, 3, 4, .forward, CellOptions(projection: 2))], ["projection"]),
    ("cell clip", [layer(.lstm, 3, 4, .forward, CellOptions(cellClip: 0.5))], ["cell-state clip"]),
    ("projection clip", [layer(.lstm, 3, 4, .forward, CellOptions(projection: 2, projectionClip: 0.3))], ["projection"]),
    ("activation ONNX lacks", [layer(.simple, 3, 4, .forward, CellOptions(activation: .gelu))], ["not in ONNX's RNN activation list"]),
    ("directions of different sizes", [RecurrentLayer(direction: .bidirectional, cells: [cell(.lstm, 3, 4, seed: 1), cell(.lstm, 3, 5, seed: 2)])], ["different sizes"]),
    ("different reset placement per direction", [RecurrentLayer(direction: .bidirectional, cells: [
      cell(.gru, 3, 4, seed: 1), cell(.gru, 3, 4, CellOptions(resetAfter: false), seed: 2)])], ["linear_before_reset"]),
  ]

  @Test(arguments: 0..<refusals.count)
  func refuses(_ index: Int) throws {
    let (what, layers, words) = Self.refusals[index]
    let dir = try TempDir()
    do {
      _ = try Converter.convert(Self.source(layers, .keras), to: .onnx, output: dir.path + "/m.onnx")
      Issue.record("\(what): converted")
    } catch let e as ConversionError {
      guard case .refused = e else { Issue.record("\(what): \(e)"); return }
      #expect(e.description.hasPrefix("cannot convert to onnx: "), "\(what): \(e)")
      for w in words { #expect(e.description.contains(w), "\(what): \(e)") }
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "\(what)")
  }

  @Test func refusesAnOutputNotEndingInOnnx() throws {
    let dir = try TempDir()
    #expect(throws: ConversionError.self) {
      try Converter.convert(Self.source([Self.layer(.lstm, 3, 4)], .pytorch), to: .onnx, output: dir.path + "/m.pb")
    }
  }
}
