import Foundation
import HDF5
import ONNXProto
import RNNRef

/// `--to onnx`: a `.onnx` model (opset `ONNXExport.opset`, IR version `ONNXExport.irVersion`)
/// holding one ONNX `LSTM`/`GRU`/`RNN` node per layer, written by the ONNX adapter's
/// `exportNetwork` (gate orders, W/R/B/P layouts, attributes), chained and wrapped in the layout
/// operations (Transpose, Squeeze, Unsqueeze, Gather, Concat, Slice, Reshape, Reduce*) that make
/// the graph take and return tensors as the source framework does (`Signature`).
public enum ONNXExport {
  /// The opset written: the ONNX adapter's (LSTM/GRU/RNN version 22), run by onnxruntime 1.31.
  public static let opset = Int64(ONNX.exportOpset)
  /// The IR version that goes with opset 22.
  public static let irVersion: Int64 = 10

  /// How the graph takes and returns tensors: the source framework's convention (its case
  /// schema's names, fixtures/README.md), so the model replaces the source layer as it is called.
  public struct Signature: Equatable, Sendable {
    public enum Style: String, Sendable {
      /// `input` (`batch_first` or time-major), `h0`/`c0` and `h_n`/`c_n` stacked
      /// `(layers*directions, N, H)`, `output` with the directions concatenated.
      case pytorch
      /// `x` `(N, T, I)`; initial states `h0`, `c0` (`fw_h0`, `fw_c0`, `bw_h0`, `bw_c0`; `l<k>_` before
      /// them with several layers) `(N, H)` each; `output` (`output_fw`, `output_bw` with
      /// merge_mode=None); the last layer's `state_h`, `state_c` (`fw_state_h`, ... bidirectional).
      case keras
      /// `inputs` (`time_major` or not); `initial_state/c`, `initial_state/h` (`initial_state` for GRU
      /// and RNN cells; `_fw`/`_bw` bidirectional; `/<k>` per layer with several); `outputs`
      /// (`outputs_fw`, `outputs_bw` when the directions are returned apart); `state/...` likewise.
      case tf1
      /// One node's own inputs and outputs: `X` `(T, N, I)`, `initial_h`, `initial_c` `(D, N, H)`,
      /// `Y` `(T, D, N, H)`, `Y_h`, `Y_c` `(D, N, H)`. Single layer only (else `pytorch`).
      case onnx
    }
    public var style: Style
    /// Sequences `(N, T, I)` in and out; else `(T, N, I)`.
    public var batchMajor: Bool
    /// Whether the graph takes initial states (zeros are used otherwise).
    public var initialStates: Bool
    /// Whether the graph takes per-sample lengths (`[N]`): ONNX `sequence_lens` (int32), TF1
    /// `sequence_length` (int32), PyTorch `lengths` (int64, the lengths of a packed sequence; the
    /// output is cut to the longest, as `pad_packed_sequence` does). Steps past a length output
    /// zeros and the final states are those at the length. Not for Keras (masks).
    public var lengths: Bool
    public init(style: Style, batchMajor: Bool, initialStates: Bool, lengths: Bool = false) {
      self.style = style; self.batchMajor = batchMajor; self.initialStates = initialStates; self.lengths = lengths
    }

    /// The source's own convention.
    public static func of(_ source: SourceNetwork, initialStates: Bool? = nil) -> Signature {
      let states = initialStates ?? source.initialStates, lengths = source.lengths
      switch source.framework {
      case .pytorch: return Signature(style: .pytorch, batchMajor: source.batchMajor, initialStates: states, lengths: lengths)
      case .keras: return Signature(style: .keras, batchMajor: true, initialStates: states, lengths: lengths)
      case .tf1:
        return Signature(style: .tf1, batchMajor: source.sequenceBatchMajor ?? source.batchMajor, initialStates: states, lengths: lengths)
      case .onnx:
        if source.network.layers.count == 1 { return Signature(style: .onnx, batchMajor: false, initialStates: states, lengths: lengths) }
        return Signature(style: .pytorch, batchMajor: source.batchMajor, initialStates: states, lengths: lengths)
      }
    }
  }

  /// The model, or `refused` with what ONNX cannot express; `rewrites` names the exact rewrites
  /// applied in the graph.
  public static func model(_ network: Network<Double>, signature: Signature, dtype: DType) throws
    -> (model: Onnx_ModelProto, inputs: [String], outputs: [String], rewrites: [Rewrite])
  {
    var g = GraphBuilder(elemType: dtype == .float64 ? 11 : 1)
    var rewrites: [Rewrite] = []
    let L = network.layers.count
    guard L > 0 else { throw RNNRefError.unsupported(framework: .onnx, feature: "an empty network") }
    let style = signature.style
    let names = Names(style: style, layers: L)
    let steps = "steps", batch = "batch"
    func seqDims(_ f: Int) -> [Dim] { signature.batchMajor ? [.p(batch), .p(steps), .v(f)] : [.p(steps), .p(batch), .v(f)] }

    // The sequence input, time-major inside.
    let inputSize = network.layers[0].inputSize
    g.input(names.sequenceInput, dims: seqDims(inputSize))
    var x = names.sequenceInput
    if signature.batchMajor { x = g.node("Transpose", [x], attrs: [.ints("perm", [1, 0, 2])]) }
    // Stacked initial states (pytorch style): one graph input for all layers.
    let anyLSTM = network.layers.contains { $0.cells[0].hasCellState }
    let stackedD = network.layers.map(\.cells.count)
    if signature.initialStates && style == .pytorch {
      guard Set(network.layers.map { $0.cells[0].outputSize }).count == 1, Set(stackedD).count == 1 else {
        throw RNNRefError.unsupported(framework: .onnx, feature: "stacked initial states (h0 of shape (layers*directions, N, H)) for layers of different sizes")
      }
      let rows = stackedD.reduce(0, +)
      g.input("h0", dims: [.v(rows), .p(batch), .v(network.layers[0].cells[0].outputSize)])
      if anyLSTM { g.input("c0", dims: [.v(rows), .p(batch), .v(network.layers[0].cells[0].hiddenSize)]) }
    }

    // Per-sample lengths, int32 for the nodes; torch's packed lengths are int64.
    var lengths: String? = nil, maxLength: String? = nil
    if signature.lengths {
      guard let name = names.lengthsInput else {
        throw RNNRefError.unsupported(framework: .onnx, feature: "per-sample lengths in the \(style.rawValue) convention")
      }
      if style == .pytorch {
        g.input(name, dims: [.p(batch)], elemType: 7)
        lengths = g.node("Cast", [name], attrs: [.int("to", 6)])
        maxLength = g.node("ReduceMax", [name], attrs: [.int("keepdims", 1)])
      } else {
        g.input(name, dims: [.p(batch)], elemType: 6)
        lengths = name
      }
    }

    var finalH: [String] = [], finalC: [String] = []  // per layer, (D, N, H)
    var lastY = ""
    for (k, original) in network.layers.enumerated() {
      let here = "layer \(k)"
      var layer = original
      let D = layer.cells.count
      let H = layer.cells[0].outputSize
      let last = k == L - 1
      // What the graph does around the node; the adapter writes the node of the plain layer.
      let merge = layer.merge
      if layer.direction == .bidirectional { layer.merge = .none }
      let timeReversed = layer.direction == .reverse && layer.reverseOutputOrder == .timeReversed
      if timeReversed { layer.reverseOutputOrder = .alignedToInput }
      for cell in layer.cells {
        if case .lstm(let c) = cell, c.gateActivation == .hardSigmoidKeras3 || c.cellActivation == .hardSigmoidKeras3 || c.outputActivation == .hardSigmoidKeras3 {
          rewrites.append(Rewrite("\(here): Keras 3 hard_sigmoid relu6(x+3)/6 is ONNX HardSigmoid(alpha=1/6 as float32, beta=0.5), the same function up to the float32 rounding of 1/6"))
          break
        }
        if case .gru(let c) = cell, c.gateActivation == .hardSigmoidKeras3 || c.candidateActivation == .hardSigmoidKeras3 {
          rewrites.append(Rewrite("\(here): Keras 3 hard_sigmoid relu6(x+3)/6 is ONNX HardSigmoid(alpha=1/6 as float32, beta=0.5), the same function up to the float32 rounding of 1/6"))
          break
        }
      }
      if D == 2 && merge == .none && !last {
        throw RNNRefError.unsupported(framework: .onnx, feature: "merge mode None in \(here), which is not the last layer: its two outputs cannot feed the next layer")
      }
      let (config, weights): (JSONValue, NamedTensors<Double>)
      do { (config, weights) = try ONNX.exportNetwork(Network(layers: [layer])) } catch let RNNRefError.unsupported(f, feature) {
        throw RNNRefError.unsupported(framework: f, feature: "\(feature) (\(here))")
      }
      guard let op = config["op_type"]?.string, let present = config["inputs_present"]?.array?.compactMap(\.string) else {
        throw RNNRefError.unsupported(framework: .onnx, feature: "the ONNX adapter gave no node configuration")
      }
      // Initializers W_k, R_k, B_k, P_k.
      var slot: [String: String] = ["X": x]
      if let lengths { slot["sequence_lens"] = lengths }
      for (name, t) in weights.entries {
        let n = "\(name)_\(k)"
        g.initializer(n, t)
        slot[name] = n
      }
      // Initial states (D, N, H) for this layer.
      if signature.initialStates {
        let lstm = layer.cells[0].hasCellState
        let whats = ["h"] + (lstm ? ["c"] : [])
        func size(_ what: String) -> Int { what == "h" ? H : layer.cells[0].hiddenSize }
        switch style {
        case .pytorch:
          for what in whats {
            slot["initial_" + what] = L == 1 ? what + "0"
              : g.node("Slice", [what + "0", g.const([Int64(k * D)]), g.const([Int64(k * D + D)]), g.const([0])])
          }
        case .onnx:
          for what in whats {
            g.input("initial_" + what, dims: [.v(D), .p(batch), .v(size(what))])
            slot["initial_" + what] = "initial_" + what
          }
        case .keras, .tf1:
          // Per direction, in the source's order: Keras [h, c], TF1's LSTMStateTuple (c, h).
          var parts: [String: [String]] = [:]
          for d in 0..<D {
            for what in (style == .tf1 ? whats.reversed() : whats) {
              let n = names.initialState(layer: k, direction: d, directions: D, what: what, lstm: lstm)
              g.input(n, dims: [.p(batch), .v(size(what))])
              parts[what, default: []].append(g.node("Unsqueeze", [n, g.const([0])]))
            }
          }
          for what in whats {
            let p = parts[what] ?? []
            slot["initial_" + what] = p.count == 1 ? p[0] : g.node("Concat", p, attrs: [.int("axis", 0)])
          }
        }
      }
      let order = op == "LSTM" ? ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
                               : ["X", "W", "R", "B", "sequence_lens", "initial_h"]
      var inputs = order.map { name in (present.contains(name) || name.hasPrefix("initial_") || name == "sequence_lens") ? slot[name] ?? "" : "" }
      while inputs.last == "" { inputs.removeLast() }
      let outs = g.node(op, inputs, outputs: op == "LSTM" ? 3 : 2, attrs: try attributes(config, here: here), name: "\(op.lowercased())_\(k)")
      let Y = outs[0]
      finalH.append(outs[1])
      if op == "LSTM" { finalC.append(outs[2]) }
      lastY = Y

      if last && (style == .onnx || (D == 2 && merge == .none && style != .pytorch)) && !timeReversed { break }
      // The layer's sequence output (T, N, F).
      var seq: String
      if D == 1 {
        seq = g.node("Squeeze", [Y, g.const([1])])
      } else {
        switch merge {
        case .concat, .none:
          if merge == .none {
            rewrites.append(Rewrite("\(here): the two directions, returned separately by the source, are concatenated (forward first) in `\(names.sequenceOutput)`"))
          }
          let t = g.node("Transpose", [Y], attrs: [.ints("perm", [0, 2, 1, 3])])
          seq = g.node("Reshape", [t, g.const([0, 0, -1])])
        case .sum, .mul, .ave:
          let reduce = ["sum": "ReduceSum", "mul": "ReduceProd", "ave": "ReduceMean"][merge.rawValue]!
          seq = g.node(reduce, [Y, g.const([1])], attrs: [.int("keepdims", 0)])
          rewrites.append(Rewrite("\(here): merge mode \(merge.rawValue) of the two directions is \(reduce) over Y's direction axis"))
        }
      }
      if timeReversed {
        seq = g.node("Slice", [seq, g.const([-1]), g.const([Int64.min]), g.const([0]), g.const([-1])])
        rewrites.append(Rewrite("\(here): go_backwards (outputs in processing order, last input step first) is ONNX's reverse direction followed by a Slice with step -1 over time"))
      }
      x = seq
    }

    // Outputs.
    let lastLayer = network.layers[L - 1]
    let D = lastLayer.cells.count, H = lastLayer.cells[0].outputSize, Hc = lastLayer.cells[0].hiddenSize
    func toSource(_ t: String, _ name: String, _ f: Int) {
      if signature.batchMajor { g.node("Transpose", [t], outputs: [name], attrs: [.ints("perm", [1, 0, 2])]) }
      else { g.node("Identity", [t], outputs: [name]) }
      g.output(name, dims: seqDims(f))
    }
    if style == .onnx {
      let lstm = lastLayer.cells[0].hasCellState
      if lastLayer.direction == .reverse && lastLayer.reverseOutputOrder == .timeReversed {
        g.node("Unsqueeze", [x, g.const([1])], outputs: ["Y"])
      } else {
        g.node("Identity", [lastY], outputs: ["Y"])
      }
      g.output("Y", dims: [.p(steps), .v(D), .p(batch), .v(H)])
      g.node("Identity", [finalH[0]], outputs: ["Y_h"]); g.output("Y_h", dims: [.v(D), .p(batch), .v(H)])
      if lstm { g.node("Identity", [finalC[0]], outputs: ["Y_c"]); g.output("Y_c", dims: [.v(D), .p(batch), .v(Hc)]) }
    } else {
      if D == 2 && lastLayer.merge == .none && style != .pytorch {
        for d in 0..<D {
          let part = g.node("Gather", [lastY, g.scalar(Int64(d))], attrs: [.int("axis", 1)])
          toSource(part, names.sequenceOutputs[d], H)
        }
      } else {
        let f = (D == 2 && (lastLayer.merge == .concat || lastLayer.merge == .none)) ? 2 * H : H
        if let maxLength {
          // pad_packed_sequence: as many steps as the longest sample
          x = g.node("Slice", [x, g.const([0]), maxLength, g.const([0])])
        }
        toSource(x, names.sequenceOutput, f)
      }
      switch style {
      case .pytorch:
        let rows = network.layers.map(\.cells.count).reduce(0, +)
        for (what, list, size) in [("h", finalH, H), ("c", finalC, Hc)] where !list.isEmpty {
          guard list.count == L else {
            throw RNNRefError.unsupported(framework: .onnx, feature: "stacked final states for a mix of LSTM and other layers")
          }
          g.node(L == 1 ? "Identity" : "Concat", list, outputs: [what + "_n"], attrs: L == 1 ? [] : [.int("axis", 0)])
          g.output(what + "_n", dims: [.v(rows), .p(batch), .v(size)])
        }
      case .keras, .tf1:
        let layers = style == .keras ? [L - 1] : Array(0..<L)
        for k in layers {
          let layer = network.layers[k]
          let lstm = layer.cells[0].hasCellState
          let whats = lstm ? (style == .tf1 ? ["c", "h"] : ["h", "c"]) : ["h"]
          for d in 0..<layer.cells.count {
            for what in whats {
              let src = what == "h" ? finalH[k] : finalC[k]
              let name = names.finalState(layer: k, direction: d, directions: layer.cells.count, what: what, lstm: lstm)
              if layer.cells.count == 1 { g.node("Squeeze", [src, g.const([0])], outputs: [name]) }
              else { g.node("Gather", [src, g.scalar(Int64(d))], outputs: [name], attrs: [.int("axis", 0)]) }
              g.output(name, dims: [.p(batch), .v(what == "h" ? layer.cells[0].outputSize : layer.cells[0].hiddenSize)])
            }
          }
        }
      case .onnx: break
      }
    }
    var model = Onnx_ModelProto()
    model.irVersion = irVersion
    var opsetID = Onnx_OperatorSetIdProto()
    opsetID.domain = ""
    opsetID.version = opset
    model.opsetImport = [opsetID]
    model.producerName = "rnnconf"
    model.producerVersion = "convert"
    var graph = g.graph
    graph.name = "rnnconf_convert"
    model.graph = graph
    return (model, g.graph.input.map(\.name), g.graph.output.map(\.name), rewrites)
  }

  /// Writes the model (atomically) and returns the files and the rewrites applied in the graph.
  public static func write(_ network: Network<Double>, signature: Signature, dtype: DType, output: String) throws
    -> (files: [String], rewrites: [Rewrite], inputs: [String], outputs: [String])
  {
    guard output.hasSuffix(".onnx") else {
      throw ConversionError.invalidOutput(path: output, reason: "end it in .onnx")
    }
    try AtomicFile.checkWritable(output)
    let (model, inputs, outputs, rewrites) = try self.model(network, signature: signature, dtype: dtype)
    let bytes: [UInt8]
    do { bytes = try model.serializedBytes() } catch {
      throw ConversionError.invalidOutput(path: output, reason: "the ONNX model could not be serialized (\(error))")
    }
    try AtomicFile.write(bytes, to: output)
    return ([output], rewrites, inputs, outputs)
  }

  /// The node attributes of the adapter's configuration, typed as the ONNX operator declares them.
  static func attributes(_ config: JSONValue, here: String) throws -> [Attr] {
    guard let attrs = config["attributes"]?.object else { return [] }
    var out: [Attr] = []
    for key in attrs.keys.sorted() {
      let v = attrs[key]!
      switch key {
      case "hidden_size", "input_forget", "linear_before_reset", "layout":
        guard let i = v.int else { throw RNNRefError.unsupported(framework: .onnx, feature: "attribute \(key) = \(v) in \(here)") }
        out.append(.int(key, Int64(i)))
      case "direction": out.append(.string(key, v.string ?? "forward"))
      case "clip": out.append(.float(key, Float(v.double ?? 0)))
      case "activations": out.append(.strings(key, (v.array ?? []).compactMap(\.string)))
      case "activation_alpha", "activation_beta": out.append(.floats(key, (v.array ?? []).compactMap(\.double).map(Float.init)))
      default: throw RNNRefError.unsupported(framework: .onnx, feature: "the adapter's attribute \(key) in \(here)")
      }
    }
    return out
  }

  /// Graph input and output names of each style.
  struct Names {
    var style: Signature.Style
    var layers: Int
    var sequenceInput: String {
      switch style { case .pytorch: "input"; case .keras: "x"; case .tf1: "inputs"; case .onnx: "X" }
    }
    var lengthsInput: String? {
      switch style { case .pytorch: "lengths"; case .keras: nil; case .tf1: "sequence_length"; case .onnx: "sequence_lens" }
    }
    var sequenceOutput: String {
      switch style { case .pytorch, .keras: "output"; case .tf1: "outputs"; case .onnx: "Y" }
    }
    var sequenceOutputs: [String] {
      switch style { case .tf1: ["outputs_fw", "outputs_bw"]; default: ["output_fw", "output_bw"] }
    }
    func initialState(layer k: Int, direction d: Int, directions D: Int, what: String, lstm: Bool) -> String {
      switch style {
      case .keras:
        return (layers > 1 ? "l\(k)_" : "") + (D == 2 ? (d == 0 ? "fw_" : "bw_") : "") + what + "0"
      case .tf1:
        return "initial_state" + tf1Suffix(layer: k, direction: d, directions: D, what: what, lstm: lstm)
      case .pytorch, .onnx: return what + "0"
      }
    }
    func finalState(layer k: Int, direction d: Int, directions D: Int, what: String, lstm: Bool) -> String {
      switch style {
      case .keras: return (D == 2 ? (d == 0 ? "fw_" : "bw_") : "") + "state_" + what
      case .tf1: return "state" + tf1Suffix(layer: k, direction: d, directions: D, what: what, lstm: lstm)
      case .pytorch, .onnx: return what + "_n"
      }
    }
    /// TF1's state structure: `_fw`/`_bw`, then `/<layer>` for MultiRNNCell, then `/c`, `/h` of an LSTMStateTuple.
    func tf1Suffix(layer k: Int, direction d: Int, directions D: Int, what: String, lstm: Bool) -> String {
      (D == 2 ? (d == 0 ? "_fw" : "_bw") : "") + (layers > 1 ? "/\(k)" : "") + (lstm ? "/\(what)" : "")
    }
  }

  /// A node attribute.
  enum Attr {
    case int(String, Int64), ints(String, [Int64]), float(String, Float), floats(String, [Float])
    case string(String, String), strings(String, [String])
    var proto: Onnx_AttributeProto {
      var a = Onnx_AttributeProto()
      switch self {
      case let .int(n, v): a.name = n; a.type = .int; a.i = v
      case let .ints(n, v): a.name = n; a.type = .ints; a.ints = v
      case let .float(n, v): a.name = n; a.type = .float; a.f = v
      case let .floats(n, v): a.name = n; a.type = .floats; a.floats = v
      case let .string(n, v): a.name = n; a.type = .string; a.s = Data(v.utf8)
      case let .strings(n, v): a.name = n; a.type = .strings; a.strings = v.map { Data($0.utf8) }
      }
      return a
    }
  }

  /// A dimension of a graph input or output: a size, or a named symbol.
  enum Dim { case v(Int), p(String) }

  struct GraphBuilder {
    var graph = Onnx_GraphProto()
    let elemType: Int32
    var count = 0
    var constants: [String: String] = [:]
    init(elemType: Int32) { self.elemType = elemType }

    mutating func fresh(_ hint: String) -> String { count += 1; return "\(hint)_\(count)" }

    func valueInfo(_ name: String, dims: [Dim], elemType: Int32? = nil) -> Onnx_ValueInfoProto {
      var shape = Onnx_TensorShapeProto()
      shape.dim = dims.map { d in
        var x = Onnx_TensorShapeProto.Dimension()
        switch d { case .v(let n): x.dimValue = Int64(n); case .p(let s): x.dimParam = s }
        return x
      }
      var tensor = Onnx_TypeProto.Tensor()
      tensor.elemType = elemType ?? self.elemType
      tensor.shape = shape
      var type = Onnx_TypeProto()
      type.tensorType = tensor
      var v = Onnx_ValueInfoProto()
      v.name = name
      v.type = type
      return v
    }
    mutating func input(_ name: String, dims: [Dim], elemType: Int32? = nil) {
      graph.input.append(valueInfo(name, dims: dims, elemType: elemType))
    }
    mutating func output(_ name: String, dims: [Dim]) { graph.output.append(valueInfo(name, dims: dims)) }

    mutating func initializer(_ name: String, _ t: Tensor<Double>) {
      var p = Onnx_TensorProto()
      p.name = name
      p.dims = t.shape.map(Int64.init)
      p.dataType = elemType
      var bytes: [UInt8] = []
      if elemType == 11 {
        bytes.reserveCapacity(8 * t.scalars.count)
        for s in t.scalars { withUnsafeBytes(of: s.bitPattern.littleEndian) { bytes += $0 } }
      } else {
        bytes.reserveCapacity(4 * t.scalars.count)
        for s in t.scalars { withUnsafeBytes(of: Float(s).bitPattern.littleEndian) { bytes += $0 } }
      }
      p.rawData = Data(bytes)
      graph.initializer.append(p)
    }

    /// An int64 vector initializer (shared by value).
    mutating func const(_ values: [Int64]) -> String { intTensor(values, dims: [Int64(values.count)]) }
    /// An int64 scalar initializer.
    mutating func scalar(_ value: Int64) -> String { intTensor([value], dims: []) }
    mutating func intTensor(_ values: [Int64], dims: [Int64]) -> String {
      let key = "\(dims)\(values)"
      if let n = constants[key] { return n }
      let name = fresh("const")
      var p = Onnx_TensorProto()
      p.name = name
      p.dims = dims
      p.dataType = 7  // INT64
      var bytes: [UInt8] = []
      for v in values { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
      p.rawData = Data(bytes)
      graph.initializer.append(p)
      constants[key] = name
      return name
    }

    /// Adds a node with one fresh output; returns its name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], attrs: [Attr] = []) -> String {
      node(op, inputs, outputs: 1, attrs: attrs)[0]
    }
    /// Adds a node with `outputs` fresh outputs.
    mutating func node(_ op: String, _ inputs: [String], outputs: Int, attrs: [Attr] = [], name: String? = nil) -> [String] {
      let base = name ?? fresh(op.lowercased())
      let outs = outputs == 1 ? [base + "_out"] : (0..<outputs).map { "\(base)_out\($0)" }
      node(op, inputs, outputs: outs, attrs: attrs, name: base)
      return outs
    }
    /// Adds a node with the given output names.
    mutating func node(_ op: String, _ inputs: [String], outputs: [String], attrs: [Attr] = [], name: String? = nil) {
      var n = Onnx_NodeProto()
      n.opType = op
      n.name = name ?? fresh(op.lowercased())
      n.input = inputs
      n.output = outputs
      n.attribute = attrs.map(\.proto)
      graph.node.append(n)
    }
  }
}
