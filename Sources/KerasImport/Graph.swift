import RNNRef

/// A reference to one output tensor of one call (node) of a layer.
struct Ref: Hashable, CustomStringConvertible {
  var layer: String
  var node: Int
  var index: Int
  var description: String { "\(layer)[\(node)][\(index)]" }
}

/// One layer of a model config, with where it is called from.
struct LayerEntry {
  var name: String
  var className: String
  var config: [String: JSONValue]
  /// Per call: the data inputs first, then initial states.
  var inbound: [[Ref]]
  /// Where the layer sits, for messages: `model > sequential_1 > lstm (layer 3 of 5)`.
  var location: String
  /// Calls that receive no mask: Keras 3 passes the mask of the first argument only when
  /// the call has one tensor argument, so `rnn(x, initial_state=[...])` runs unmasked.
  var unmaskedNodes: Set<Int> = []
  /// Per call (node index): the tensor passed as `mask=` (tf-keras: the kwargs dict after the
  /// first `[layer, node, tensor, kwargs]`; Keras 3: `kwargs.mask`), when one was.
  var explicitMasks: [Int: Ref] = [:]
  /// The input a Sequential model without an InputLayer gets (`<model>_input`).
  var isImplicitInput = false
}

/// A model's graph: layers in config (topological) order, inputs and outputs.
final class GraphSpec {
  var name: String
  var className: String
  var layers: [LayerEntry]
  var inputs: [Ref]
  var outputs: [Ref]
  var isSequential: Bool

  init(name: String, className: String, layers: [LayerEntry], inputs: [Ref], outputs: [Ref], isSequential: Bool) {
    self.name = name; self.className = className; self.layers = layers
    self.inputs = inputs; self.outputs = outputs; self.isSequential = isSequential
  }

  func index(of name: String) -> Int? { layers.firstIndex { $0.name == name } }
}

enum GraphParser {
  static let modelClasses: Set<String> = ["Sequential", "Model", "Functional"]

  static func invalid(_ what: String, _ why: String) -> KerasImportError {
    KerasImportError(.invalidConfig, "model config: \(what): \(why)")
  }

  /// Every `[layer, node, tensor]` reference in a tf-keras inbound node or a Keras 3
  /// `{"args", "kwargs"}` node: positional tensors first, then `initial_state`.
  static func refs(_ v: JSONValue) -> [Ref] {
    switch v {
    case .array(let a):
      if a.count >= 3, let s = a[0].string, let n = a[1].int, let t = a[2].int { return [Ref(layer: s, node: n, index: t)] }
      return a.flatMap(refs)
    case .object(let o):
      if let h = o["config"]?["keras_history"] ?? o["keras_history"], let s = h[0]?.string {
        return [Ref(layer: s, node: h[1]?.int ?? 0, index: h[2]?.int ?? 0)]
      }
      if o["args"] != nil || o["kwargs"] != nil {
        var out = o["args"].map(refs) ?? []
        if let s = o["kwargs"]?["initial_state"] { out += refs(s) }
        return out
      }
      return []
    default:
      return []
    }
  }

  /// The `mask=` tensor of one inbound node, in either Keras generation's form.
  static func maskRef(_ node: JSONValue) -> Ref? {
    if let o = node.object, let m = o["kwargs"]?["mask"] { return refs(m).first }
    if let entries = node.array {
      for e in entries { if let a = e.array, a.count >= 4, let m = a[3]["mask"] { return refs(m).first } }
    }
    return nil
  }

  static func layerName(_ l: [String: JSONValue]) -> String {
    l["config"]?["name"]?.string ?? l["name"]?.string ?? "?"
  }

  /// The batch input shape a layer config declares (`batch_input_shape`, Keras 3
  /// `batch_shape`, or Keras 1 `input_dim`/`input_length`).
  static func declaredInputShape(_ c: [String: JSONValue]) -> [Int?]? {
    if let s = (c["batch_shape"] ?? c["batch_input_shape"])?.array { return s.map { $0.int } }
    if let s = c["input_shape"]?.array { return [nil] + s.map { $0.int } }
    if let d = c["input_dim"]?.int {
      if c["input_length"] != nil || ["LSTM", "GRU", "SimpleRNN"].contains(c["__class"]?.string ?? "") {
        return [nil, c["input_length"]?.int, d]
      }
      return [nil, d]
    }
    return nil
  }

  /// Reads a model config (`model.to_json()`, `model_config`, a nested model's entry).
  /// The one Keras graph parser: saved models (`Builder`) and conformance cases (`KerasCases`).
  static func parse(_ model: JSONValue, location: String, version: Keras.Version = .keras2) throws -> GraphSpec {
    guard let cls = model["class_name"]?.string else {
      throw invalid(location, "expected {\"class_name\": ..., \"config\": ...} (model.to_json() or model_config)")
    }
    guard modelClasses.contains(cls) else {
      throw invalid(location, "the top-level class is `\(cls)`, expected Sequential, Model or Functional")
    }
    let config = model["config"]
    let name = config?["name"]?.string ?? (cls == "Sequential" ? "sequential" : "model")
    let here = location.isEmpty ? name : location + " > " + name
    if cls == "Sequential" {
      let list: [JSONValue]
      if let l = config?.array { list = l } else if let l = config?["layers"]?.array { list = l } else {
        throw invalid(here, "a Sequential model needs a list of layers")
      }
      var layers: [LayerEntry] = []
      var items = list.compactMap { $0.object }
      var inputName: String
      if let first = items.first, first["class_name"]?.string == "InputLayer" {
        inputName = layerName(first)
        layers.append(LayerEntry(name: inputName, className: "InputLayer", config: first["config"]?.object ?? [:],
                                 inbound: [], location: "\(here) > \(inputName) (layer 1 of \(items.count))"))
        items.removeFirst()
      } else {
        inputName = name + "_input"
        var c = items.first?["config"]?.object ?? [:]
        c["__class"] = .string(items.first?["class_name"]?.string ?? "")
        var ic: [String: JSONValue] = ["name": .string(inputName)]
        if let s = declaredInputShape(c) { ic["batch_input_shape"] = .array(s.map { $0.map { .number(Double($0)) } ?? .null }) }
        layers.append(LayerEntry(name: inputName, className: "InputLayer", config: ic, inbound: [],
                                 location: "\(here) > \(inputName) (implicit input)", isImplicitInput: true))
      }
      var prev = inputName
      for (k, item) in items.enumerated() {
        let ln = layerName(item)
        let lcls = item["class_name"]?.string ?? "?"
        var c = item["config"]?.object ?? [:]
        if c["name"] == nil { c["name"] = .string(ln) }
        let loc = "\(here) > \(ln) (\(lcls), layer \(k + 1) of \(items.count))"
        if modelClasses.contains(lcls) { c["__model"] = .object(item) }
        layers.append(LayerEntry(name: ln, className: lcls, config: c,
                                 inbound: [[Ref(layer: prev, node: 0, index: 0)]], location: loc))
        prev = ln
      }
      return GraphSpec(name: name, className: cls, layers: layers, inputs: [Ref(layer: inputName, node: 0, index: 0)],
                       outputs: [Ref(layer: prev, node: 0, index: 0)], isSequential: true)
    }
    guard let list = config?["layers"]?.array else { throw invalid(here, "a functional model needs `layers`") }
    var layers: [LayerEntry] = []
    for (k, v) in list.enumerated() {
      guard let item = v.object else { continue }
      let ln = layerName(item)
      let lcls = item["class_name"]?.string ?? "?"
      var c = item["config"]?.object ?? [:]
      if c["name"] == nil { c["name"] = .string(ln) }
      if modelClasses.contains(lcls) { c["__model"] = .object(item) }
      let nodes = item["inbound_nodes"]?.array ?? []
      var entry = LayerEntry(name: ln, className: lcls, config: c, inbound: nodes.map(refs),
                             location: "\(here) > \(ln) (\(lcls), layer \(k + 1) of \(list.count))")
      for (n, node) in nodes.enumerated() {
        if let o = node.object, let st = o["kwargs"]?["initial_state"], !refs(st).isEmpty { entry.unmaskedNodes.insert(n) }
        if let m = maskRef(node) { entry.explicitMasks[n] = m }
      }
      layers.append(entry)
    }
    var ins: [Ref] = [], outs: [Ref] = []
    func endpoints(_ key: String) throws -> [Ref] {
      guard let v = config?[key] else { throw invalid(here, "a functional model needs `\(key)`") }
      let r = refs(v)
      guard !r.isEmpty else { throw invalid("\(here).\(key)", "no [layer, node, tensor] references in \(v.jsonText.prefix(200))") }
      return r
    }
    // tf-keras leaves out the first node of a nested model built on an Input (its own
    // input-to-output node, `_should_skip_first_node` in tf_keras/src/engine/functional.py)
    // but keeps the original node indices in references: shift them back.
    let legacyNodes = list.contains { $0["inbound_nodes"]?.array?.contains { $0.array != nil } ?? false }
    if legacyNodes && version.skipsFirstNestedNode {
      var skip = Set<String>()
      for (v, l) in zip(list, layers) where modelClasses.contains(l.className) {
        let sub = v["config"]?["layers"]?.array ?? v["config"]?.array ?? []
        if l.className != "Sequential" || sub.first?["class_name"]?.string == "InputLayer" { skip.insert(l.name) }
      }
      func shift(_ r: Ref) -> Ref { skip.contains(r.layer) && r.node > 0 ? Ref(layer: r.layer, node: r.node - 1, index: r.index) : r }
      for i in layers.indices { layers[i].inbound = layers[i].inbound.map { $0.map(shift) } }
      outs = try endpoints("output_layers").map(shift)
      ins = try endpoints("input_layers")
    } else {
      outs = try endpoints("output_layers")
      ins = try endpoints("input_layers")
    }
    let g = GraphSpec(name: name, className: cls, layers: layers, inputs: ins, outputs: outs, isSequential: false)
    for l in layers { for node in l.inbound { for r in node where g.index(of: r.layer) == nil {
      throw invalid(l.location, "calls on `\(r.layer)`, which is not a layer of the model")
    } } }
    return g
  }
}
