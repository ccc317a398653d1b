import Foundation
import HDF5
import ONNXProto
import RNNRef

/// An ONNX model (`.onnx`) made of `LSTM`, `GRU` and `RNN` nodes and the layout operations
/// exporters put around them, read and checked once, then run on tensors.
///
/// - Recurrent nodes run through RNNRef's `ONNX` adapter, the one place ONNX's W/R/B/P,
///   gate orders, `sequence_lens`, `initial_h`/`initial_c` and layouts are written: the node's
///   attributes become the adapter's config, its inputs the adapter's weights and inputs.
/// - Layout operations (`LayoutOps.supported`: Transpose, Squeeze, Unsqueeze, Concat, Slice,
///   Reshape, Shape, Gather, Constant, Identity, Cast, Expand, ConstantOfShape) are evaluated with
///   the ONNX spec's semantics for the model's opset. Any other operator, or a node of another
///   domain, is an error naming its op type, node and file, raised when the model is read.
/// - The file is read as hostile: its size is capped before reading (`ONNXLimits`), protobuf
///   errors name the file, every stored tensor's size is checked against its data and the cap
///   before it is decoded, and computed shapes are checked before they are allocated.
///   Initializers with external data are refused.
public struct ONNXModel: Sendable {
  /// A graph input or output as declared.
  public struct Port: Sendable, Equatable {
    public var name: String
    /// nil when the model does not declare it (or declares a type this reader does not take).
    public var elementType: ONNXElementType?
    /// Declared dimensions; nil for a symbolic or unknown one; nil overall when no shape is declared.
    public var shape: [Int?]?
  }

  /// One node, as read.
  struct Node: Sendable {
    var index: Int
    var opType: String
    var name: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: Onnx_AttributeProto]
    /// LSTM/GRU/RNN: the `ONNX` adapter's config (checked by the adapter when the model is read).
    var recurrentConfig: JSONValue?
    var label: String { describe(opType: opType, name: name, index: index) }
  }

  public let path: String
  /// The default domain's opset version (`opset_import` of "" / "ai.onnx").
  public let opset: Int
  public let irVersion: Int
  public let producerName: String
  public let producerVersion: String
  /// Graph inputs the caller gives (initializers excluded), in graph order.
  public let inputs: [Port]
  public let outputs: [Port]
  let nodes: [Node]
  /// Initializers, decoded once (as Double: exact for float32, float64 and the integer types).
  let initializers: [String: Value<Double>]

  /// The operators this reader evaluates.
  public static var supportedOps: [String] { (LayoutOps.supported.union(["LSTM", "GRU", "RNN"])).sorted() }

  /// The recurrent nodes in graph order: op type, node name and the adapter config built from
  /// its attributes.
  public var recurrentNodes: [(opType: String, name: String, config: JSONValue)] {
    nodes.compactMap { n in n.recurrentConfig.map { (n.opType, n.name, $0) } }
  }

  /// Every op type in the graph, in first-use order.
  public var opTypes: [String] {
    var seen: [String] = []
    for n in nodes where !seen.contains(n.opType) { seen.append(n.opType) }
    return seen
  }

  /// Initializer names and shapes, in file order of their first use (for `inspect`).
  public var initializerShapes: [(name: String, type: ONNXElementType, shape: [Int])] {
    initializers.keys.sorted().map { ($0, initializers[$0]!.elementType, initializers[$0]!.shape) }
  }

  /// Reads and checks a model file.
  public init(path: String) throws {
    let bytes = try Self.readFile(path, limit: ONNXLimits.maxModelBytes)
    let proto: Onnx_ModelProto
    do { proto = try Onnx_ModelProto(serializedBytes: bytes) } catch {
      throw ONNXImportError(.malformed, path: path,
        "not a valid ONNX model (protobuf parse of ModelProto failed: \(error)); the file is truncated or not .onnx", underlying: error)
    }
    try self.init(proto: proto, path: path)
  }

  /// Checks a parsed model; `path` names it in errors.
  public init(proto: Onnx_ModelProto, path: String) throws {
    self.path = path
    guard proto.hasGraph, !proto.graph.node.isEmpty else {
      throw ONNXImportError(.invalidGraph, path: path, "the model has no graph or an empty one (is this an ONNX model?)")
    }
    guard let op = proto.opsetImport.first(where: { $0.domain.isEmpty || $0.domain == "ai.onnx" }) else {
      throw ONNXImportError(.invalidGraph, path: path,
        "the model imports no opset of the default ONNX domain (opset_import: \(proto.opsetImport.map { "\($0.domain):\($0.version)" }))")
    }
    guard op.version >= 1, op.version <= 1000 else {
      throw ONNXImportError(.invalidGraph, path: path, "opset version \(op.version) is not a valid ONNX opset")
    }
    opset = Int(op.version)
    irVersion = Int(clamping: proto.irVersion)
    producerName = proto.producerName
    producerVersion = proto.producerVersion
    let g = proto.graph
    if !g.sparseInitializer.isEmpty {
      throw ONNXImportError(.unsupported, path: path, "the graph has sparse initializers, which rnnconf does not read")
    }
    var inits: [String: Value<Double>] = [:]
    for t in g.initializer {
      guard inits[t.name] == nil else { throw ONNXImportError(.invalidGraph, path: path, "initializer `\(t.name)` is defined twice") }
      inits[t.name] = try Value<Double>.decode(t, path: path, what: "initializer `\(t.name)`")
    }
    initializers = inits
    func port(_ v: Onnx_ValueInfoProto) -> Port {
      var p = Port(name: v.name, elementType: nil, shape: nil)
      if case .tensorType(let tt)? = v.type.value {
        p.elementType = ONNXElementType(rawValue: tt.elemType)
        if tt.hasShape {
          p.shape = tt.shape.dim.map { d in if case .dimValue(let x)? = d.value, x >= 0 { Int(clamping: x) } else { nil } }
        }
      }
      return p
    }
    inputs = g.input.filter { inits[$0.name] == nil }.map(port)
    outputs = g.output.map(port)
    guard !outputs.isEmpty else { throw ONNXImportError(.invalidGraph, path: path, "the graph declares no output") }

    // Nodes: supported ops only, defined-before-use, each value defined once.
    var defined = Set(inits.keys).union(inputs.map(\.name))
    var nodes: [Node] = []
    for (k, n) in g.node.enumerated() {
      var attrs: [String: Onnx_AttributeProto] = [:]
      for a in n.attribute { attrs[a.name] = a }
      var node = Node(index: k, opType: n.opType, name: n.name, inputs: n.input, outputs: n.output, attributes: attrs)
      guard n.domain.isEmpty || n.domain == "ai.onnx" else {
        throw ONNXImportError(.unsupportedOp, path: path,
          "\(node.label) is of domain `\(n.domain)`; rnnconf runs only default-domain operators (\(Self.supportedOps.joined(separator: ", ")))")
      }
      if ONNX.nodeSignature(opType: n.opType) != nil {
        node.recurrentConfig = try Self.recurrentConfig(node, opset: opset, path: path)
      } else if !LayoutOps.supported.contains(n.opType) {
        throw ONNXImportError(.unsupportedOp, path: path,
          "\(node.label) has op type `\(n.opType)`, which rnnconf does not run; supported: \(Self.supportedOps.joined(separator: ", "))")
      }
      for name in n.input where !name.isEmpty && !defined.contains(name) {
        throw ONNXImportError(.invalidGraph, path: path,
          "\(node.label) reads `\(name)`, which no graph input, initializer or earlier node defines (nodes must be in topological order)")
      }
      for name in n.output where !name.isEmpty {
        guard !defined.contains(name) else {
          throw ONNXImportError(.invalidGraph, path: path, "\(node.label) defines `\(name)`, which is already defined")
        }
        defined.insert(name)
      }
      nodes.append(node)
    }
    for o in outputs where !defined.contains(o.name) {
      throw ONNXImportError(.invalidGraph, path: path, "graph output `\(o.name)` is never computed")
    }
    self.nodes = nodes
  }

  /// The `ONNX` adapter's config for a recurrent node: `{"op_type", "opset", "attributes",
  /// "inputs_present", "outputs_requested"}`, parsed once by the adapter so that an attribute it
  /// does not know is an error now.
  static func recurrentConfig(_ node: Node, opset: Int, path: String) throws -> JSONValue {
    let sig = ONNX.nodeSignature(opType: node.opType)!
    guard node.inputs.count <= sig.inputs.count, node.outputs.count <= sig.outputs.count else {
      throw ONNXImportError(.invalidNode, path: path,
        "\(node.label) has \(node.inputs.count) inputs and \(node.outputs.count) outputs; \(node.opType) takes at most \(sig.inputs.count) (\(sig.inputs.joined(separator: ", "))) and gives at most \(sig.outputs.count)")
    }
    var attrs: [String: JSONValue] = [:]
    for (name, a) in node.attributes.sorted(by: { $0.key < $1.key }) {
      let text = { (d: Data) -> JSONValue in .string(String(decoding: d, as: UTF8.self)) }
      switch a.type {
      case .int: attrs[name] = .number(Double(a.i))
      case .float: attrs[name] = .number(Double(a.f))
      case .string: attrs[name] = text(a.s)
      case .ints: attrs[name] = .array(a.ints.map { .number(Double($0)) })
      case .floats: attrs[name] = .array(a.floats.map { .number(Double($0)) })
      case .strings: attrs[name] = .array(a.strings.map(text))
      default:
        throw ONNXImportError(.unsupported, path: path, "\(node.label): attribute `\(name)` has kind \(a.type), which \(node.opType) does not take")
      }
    }
    let present = node.inputs.enumerated().map { k, n in n.isEmpty ? "" : sig.inputs[k] }
    let requested = node.outputs.enumerated().map { k, n in n.isEmpty ? "" : sig.outputs[k] }
    let config: JSONValue = .object([
      "op_type": .string(node.opType), "opset": .number(Double(opset)), "attributes": .object(attrs),
      "inputs_present": .array(present.map(JSONValue.string)), "outputs_requested": .array(requested.map(JSONValue.string)),
    ])
    do { _ = try ONNX.parseConfig(config) } catch {
      throw ONNXImportError(.invalidNode, path: path, "\(node.label): \(error)", underlying: error)
    }
    return config
  }

  /// Reads a regular file of at most `limit` bytes (FIFOs, devices and larger files refused).
  static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
    do { return try RegularFile.read(path, limit: limit, what: "rnnconf's cap for ONNX files") } catch let e as FileIOError {
      throw ONNXImportError(.malformed, path: path, e.detail, underlying: e)
    }
  }

  // MARK: - Running

  /// Runs the model on `inputs` (by graph input name; integer inputs such as `sequence_lens`
  /// given as whole numbers). Returns every graph output by name, in graph order, in `Scalar`.
  public func run<Scalar: RNNScalar>(_ inputs: NamedTensors<Scalar>) throws -> NamedTensors<Scalar> {
    var env: [String: Value<Scalar>] = [:]
    for (name, v) in initializers {
      switch v {
      case .real(let d, let t): env[name] = .real(Dense(shape: d.shape, data: d.data.map { Scalar($0) }), t)
      case .integer(let d, let t): env[name] = .integer(d, t)
      }
    }
    let expected = self.inputs.map(\.name)
    if let extra = inputs.names.first(where: { !expected.contains($0) }) {
      throw ONNXImportError(.invalidInput, path: path, "input `\(extra)` is not a graph input; the model takes \(expected.map { "`\($0)`" }.joined(separator: ", "))")
    }
    for p in self.inputs {
      guard let t = inputs[p.name] else {
        throw ONNXImportError(.invalidInput, path: path, "graph input `\(p.name)` is not given; the model takes \(expected.map { "`\($0)`" }.joined(separator: ", "))")
      }
      if let declared = p.shape {
        let fits = declared.count == t.rank && zip(declared, t.shape).allSatisfy { d, x in d.map { $0 == x } ?? true }
        guard fits else {
          throw ONNXImportError(.invalidInput, path: path,
            "input `\(p.name)` has shape \(t.shape); the model declares [\(declared.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))] (? = any size)")
        }
      }
      let type = p.elementType ?? .float
      if type.isFloatingPoint {
        env[p.name] = .real(Dense(shape: t.shape, data: t.scalars), type)
      } else {
        let ints = try t.scalars.map { x -> Int64 in
          guard x.isFinite, x.rounded() == x, abs(x) < 9e15 else {
            throw ONNXImportError(.invalidInput, path: path, "input `\(p.name)` is declared \(type.name) but holds \(x)")
          }
          return Int64(x)
        }
        env[p.name] = .integer(Dense(shape: t.shape, data: ints), type)
      }
    }
    for node in nodes {
      let args = try node.inputs.map { name -> Value<Scalar>? in
        if name.isEmpty { return nil }
        guard let v = env[name] else {
          throw ONNXImportError(.invalidGraph, path: path, "\(node.label) reads `\(name)`, which has no value")
        }
        return v
      }
      let results: [Value<Scalar>?]
      if let config = node.recurrentConfig {
        results = try runRecurrent(node, config: config, args: args)
      } else {
        let ctx = NodeContext(opType: node.opType, label: node.label, path: path, opset: opset, inputs: args,
                              attributes: node.attributes)
        results = try LayoutOps.evaluate(ctx)
      }
      for (k, name) in node.outputs.enumerated() where !name.isEmpty {
        guard k < results.count, let v = results[k] else {
          throw ONNXImportError(.invalidNode, path: path, "\(node.label) gives no output \(k) (`\(name)`)")
        }
        env[name] = v
      }
    }
    var out = NamedTensors<Scalar>()
    for o in outputs {
      guard let v = env[o.name] else { throw ONNXImportError(.invalidGraph, path: path, "graph output `\(o.name)` is never computed") }
      out.append(o.name, v.realTensor)
    }
    return out
  }

  /// One LSTM/GRU/RNN node through the `ONNX` adapter: W, R, B, P as its weights, X,
  /// sequence_lens, initial_h, initial_c as its inputs, Y, Y_h, Y_c back by position.
  func runRecurrent<Scalar: RNNScalar>(_ node: Node, config: JSONValue, args: [Value<Scalar>?]) throws -> [Value<Scalar>?] {
    let sig = ONNX.nodeSignature(opType: node.opType)!
    var weights = NamedTensors<Scalar>(), ins = NamedTensors<Scalar>()
    var xType = ONNXElementType.float
    for (k, v) in args.enumerated() {
      guard let v else { continue }
      let role = sig.inputs[k]
      if role == "sequence_lens" {
        guard case .integer = v else {
          throw ONNXImportError(.invalidNode, path: path, "\(node.label): sequence_lens must be int32, got \(v.elementType.name)")
        }
      } else if case .integer = v {
        throw ONNXImportError(.invalidNode, path: path, "\(node.label): \(role) must be floating point, got \(v.elementType.name)")
      }
      if role == "X" { xType = v.elementType }
      if sig.weights.contains(role) { weights.append(role, v.realTensor) } else { ins.append(role, v.realTensor) }
    }
    let out: NamedTensors<Scalar>
    do { out = try ONNX.evaluate(config: config, weights: weights, inputs: ins) } catch {
      throw ONNXImportError(.invalidNode, path: path, "\(node.label): \(error)", underlying: error)
    }
    return node.outputs.indices.map { k in
      out[sig.outputs[k]].map { .real(Dense(shape: $0.shape, data: $0.scalars), xType) }
    }
  }
}

// MARK: - Networks (rnnconf convert)

extension ONNXModel {
  /// Each recurrent node as a one-layer canonical network, in graph order, through the `ONNX`
  /// adapter's `importNetwork`. Its W, R, B, P are computed from the initializers and constants
  /// (the layout nodes that depend on no graph input are evaluated); a node whose weights depend
  /// on a graph input (ONNX's backend node tests feed W, R, B as inputs) is an error naming it.
  public func recurrentNetworks() throws -> [(name: String, opType: String, network: Network<Double>)] {
    var env: [String: Value<Double>] = initializers
    var found: [(name: String, opType: String, network: Network<Double>)] = []
    for node in nodes {
      let args = node.inputs.map { $0.isEmpty ? nil : env[$0] }
      if let config = node.recurrentConfig {
        let sig = ONNX.nodeSignature(opType: node.opType)!
        var weights = NamedTensors<Double>()
        for (k, name) in node.inputs.enumerated() where !name.isEmpty && sig.weights.contains(sig.inputs[k]) {
          guard let v = args[k] else {
            throw ONNXImportError(.unsupported, path: path,
              "\(node.label): its \(sig.inputs[k]) (`\(name)`) is computed from the graph's inputs, not stored in the model, so the node has no weights to convert; store the weights as initializers")
          }
          weights.append(sig.inputs[k], v.realTensor)
        }
        do {
          let network = try ONNX.importNetwork(config: config, weights: weights)
          found.append((node.name, node.opType, network))
        } catch {
          throw ONNXImportError(.invalidNode, path: path, "\(node.label): \(error)", underlying: error)
        }
        continue
      }
      guard node.inputs.indices.allSatisfy({ node.inputs[$0].isEmpty || args[$0] != nil }) else { continue }
      let ctx = NodeContext(opType: node.opType, label: node.label, path: path, opset: opset, inputs: args, attributes: node.attributes)
      let results = try LayoutOps.evaluate(ctx)
      for (k, name) in node.outputs.enumerated() where !name.isEmpty && k < results.count { env[name] = results[k] }
    }
    return found
  }
}

extension ONNXModel {
  /// Axis names of a graph output that a recurrent node gives directly (`Y`, `Y_h`, `Y_c` in
  /// the node's layout, named by the `ONNX` adapter); nil for any other output.
  public func axisNames(output: String) -> [String]? {
    for node in nodes {
      guard let config = node.recurrentConfig, let k = node.outputs.firstIndex(of: output),
            let sig = ONNX.nodeSignature(opType: node.opType), k < sig.outputs.count else { continue }
      return ONNX.axisNames(output: sig.outputs[k], config: config)
    }
    return nil
  }
}
