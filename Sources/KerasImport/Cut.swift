import Foundation
import RNNRef

/// Where a model is cut: the layers whose outputs `predict` returns and the layers whose
/// outputs are given to it. Only the layers between are built and run, so layers before the
/// inputs or after the outputs (a `Lambda`, a custom class, a layer whose weights do not fit)
/// are never read beyond their name and connections.
///
/// ```swift
/// // The recurrent part of a CTC model, without the Lambda loss after it:
/// let cut = KerasCut(outputLayers: ["softmax"])
/// // From a layer on, skipping a front end (the shape of its output given, batch first):
/// let tail = KerasCut(inputLayers: ["magnitude_to_decibel"], inputShapes: ["magnitude_to_decibel": [nil, 98, 40, 1]])
/// let model = try KerasModel(contentsOf: url, cut: cut)
/// ```
public struct KerasCut: Sendable, Equatable {
  /// Layers whose outputs `predict` returns, in this order (every output of each, of its
  /// first call); empty: the model's outputs.
  public var outputLayers: [String]
  /// Layers whose outputs `predict` takes in place of computing them, after the model inputs
  /// still needed (see `KerasModel.inputNames`); the layers only they feed are never built.
  public var inputLayers: [String]
  /// The output shape (batch first, nil = any size) of each layer in `inputLayers` (other
  /// than an `InputLayer`): the layers after it check their weights against it.
  public var inputShapes: [String: [Int?]]

  public init(outputLayers: [String] = [], inputLayers: [String] = [], inputShapes: [String: [Int?]] = [:]) {
    self.outputLayers = outputLayers; self.inputLayers = inputLayers; self.inputShapes = inputShapes
  }

  /// No cut: the whole model.
  public var isEmpty: Bool { outputLayers.isEmpty && inputLayers.isEmpty }
}

extension GraphSpec {
  /// The layers reachable backwards from `refs` (stopping at layers without inbound calls).
  func reachable(from refs: [Ref]) -> Set<String> {
    var seen = Set<String>()
    var stack = refs.map(\.layer)
    while let n = stack.popLast() {
      guard !seen.contains(n), let e = layers.first(where: { $0.name == n }) else { continue }
      seen.insert(n)
      for node in e.inbound { stack += node.map(\.layer) }
    }
    return seen
  }

  /// This graph cut as `cut` says: each input layer becomes an `InputLayer` of the shape
  /// given, the outputs are the output layers' first outputs (`KerasModel` adds a layer's
  /// further outputs once their number is known), and the inputs are the model inputs the
  /// outputs still need followed by the given input layers.
  func cut(_ cut: KerasCut, source: String) throws -> GraphSpec {
    if cut.isEmpty { return self }
    let names = layers.map(\.name)
    func check(_ n: String, _ option: String) throws {
      guard names.contains(n) else {
        throw KerasImportError(.invalidInput, "\(source): \(option) `\(n)`: the model has no layer of that name; its layers are \(names.joined(separator: ", "))")
      }
    }
    for n in cut.outputLayers { try check(n, "output layer") }
    for n in cut.inputLayers { try check(n, "input layer") }
    var newLayers = layers
    for (i, e) in newLayers.enumerated() where cut.inputLayers.contains(e.name) && e.className != "InputLayer" {
      guard let s = cut.inputShapes[e.name] else {
        throw KerasImportError(.invalidInput, "\(source): input layer `\(e.name)`: give the shape of its output (KerasCut.inputShapes, batch first, nil for any size); the layers after it check their weights against it")
      }
      let c: [String: JSONValue] = ["name": .string(e.name),
                                    "batch_input_shape": .array(s.map { $0.map { .number(Double($0)) } ?? .null })]
      newLayers[i] = LayerEntry(name: e.name, className: "InputLayer", config: c, inbound: [],
                                location: e.location + " (given as an input: the model is cut here)")
    }
    let outs = cut.outputLayers.isEmpty ? outputs : cut.outputLayers.map { Ref(layer: $0, node: 0, index: 0) }
    let g = GraphSpec(name: name, className: className, layers: newLayers, inputs: [], outputs: outs, isSequential: isSequential)
    let needed = g.reachable(from: outs)
    for n in cut.inputLayers where !needed.contains(n) {
      throw KerasImportError(.invalidInput, "\(source): input layer `\(n)` is not on the path to the outputs (\(outs.map(\.layer).joined(separator: ", "))); give an input layer that the outputs depend on")
    }
    var ins = inputs.filter { needed.contains($0.layer) && !cut.inputLayers.contains($0.layer) }
    ins += cut.inputLayers.map { Ref(layer: $0, node: 0, index: 0) }
    // A layer beyond the inputs the user gave that still needs a model input the cut dropped
    // would be unreachable: every InputLayer the outputs reach must be an input.
    for e in newLayers where e.className == "InputLayer" && needed.contains(e.name) && !ins.contains(where: { $0.layer == e.name }) {
      ins.append(Ref(layer: e.name, node: 0, index: 0))
    }
    g.inputs = ins
    return g
  }
}

extension ModelGraph {
  /// Every output of the first call of every built layer, in config order (for `--all-layers`).
  var allLayerRefs: [Ref] {
    order.flatMap { n -> [Ref] in
      let count = nodeShapes[Self.key(n, 0)]?.count ?? 0
      return (0..<count).map { Ref(layer: n, node: 0, index: $0) }
    }
  }

  /// A layer's outputs as names: `layer`, or `layer[k]` when it has several.
  func names(of refs: [Ref]) -> [String] {
    refs.map { r in
      let multiple = (nodeShapes[Self.key(r.layer, r.node)]?.count ?? 1) > 1
      return multiple ? "\(r.layer)[\(r.index)]" : r.layer
    }
  }

  /// The cut's output layers with all their outputs (their number is known once built).
  func expandCutOutputs(_ cut: KerasCut) {
    guard !cut.outputLayers.isEmpty else { return }
    spec.outputs = cut.outputLayers.flatMap { n -> [Ref] in
      let count = max(1, nodeShapes[Self.key(n, 0)]?.count ?? 1)
      return (0..<count).map { Ref(layer: n, node: 0, index: $0) }
    }
  }
}

extension KerasModel {
  /// Runs the model and returns the output of every layer it builds (each output of a layer
  /// with several, `layer[k]`), in config order, model inputs included: for comparing a
  /// model layer by layer with Keras. Computed in `precision` like `predict`.
  public func predictAllLayers(_ inputs: [Tensor<Double>]) throws -> [(name: String, tensor: Tensor<Double>)] {
    try runAllLayers(inputs).layers.map { (name: $0.name, tensor: $0.tensor) }
  }

  /// One run giving the model's outputs and every built layer's outputs (first call), in config
  /// order, each with its reference and name (`layer`, or `layer[k]` when it has several);
  /// computed in `precision`. What `predictAllLayers` and `predictLayers` (for `compare`) read.
  func runAllLayers(_ inputs: [Tensor<Double>]) throws
    -> (outputs: [Tensor<Double>], layers: [(ref: Ref, name: String, tensor: Tensor<Double>)])
  {
    let refs = graph.allLayerRefs
    let names = graph.names(of: refs)
    let outs: [Tensor<Double>]
    switch precision {
    case .float64:
      outs = try ownStates.update(if: isStateful) { s in try adopt(&s); return try run(inputs, states: &s.carried, also: refs) }
    case .float32:
      outs = try ownStates.update(if: isStateful) { s in
        try adopt(&s); return try run(inputs.map { Tensor<Float>($0) }, states: &s.carried, also: refs)
      }.map { Tensor<Double>($0) }
    }
    let layers = zip(zip(refs, names), outs.suffix(refs.count)).map { (ref: $0.0, name: $0.1, tensor: $1) }
    return (Array(outs.dropLast(refs.count)), layers)
  }
}
