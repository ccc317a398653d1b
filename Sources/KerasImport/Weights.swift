import Foundation
import HDF5
import RNNRef

/// The weights of one layer in Keras' `layer.weights` order, taken one at a time.
class WeightQueue {
  let layer: String
  let location: String
  let source: String
  var items: [StoredWeight]
  var taken: [StoredWeight] = []

  init(layer: String, location: String, source: String, items: [StoredWeight]) {
    self.layer = layer; self.location = location; self.source = source; self.items = items
  }

  var count: Int { items.count }
  var names: [String] { items.map(\.name) }

  /// The next weight, checked against `expected` (nil dims are not checked).
  func take(_ what: String, expected: [Int?]) throws -> Tensor<Double> {
    guard !items.isEmpty else {
      throw KerasImportError(.missingWeight, "\(source): layer `\(layer)` (\(location)): weight `\(what)` with shape \(KerasImportError.dims(expected)) is missing; the file holds \(taken.count) weight(s) for this layer: \(taken.map(\.name)). Check that the architecture matches the weights file")
    }
    let w = items.removeFirst()
    taken.append(w)
    let ok = w.tensor.shape.count == expected.count && zip(w.tensor.shape, expected).allSatisfy { $1 == nil || $0 == $1! }
    guard ok else {
      throw KerasImportError(.shapeMismatch, "\(source): layer `\(layer)` (\(location)): weight `\(w.name)` (\(what)) has shape \(KerasImportError.dims(w.tensor.shape)), expected \(KerasImportError.dims(expected)); check that the architecture matches the weights file")
    }
    return w.tensor
  }

  /// The next `n` weights without checks (converted and checked by the caller).
  func takeRaw(_ n: Int, what: String) throws -> [StoredWeight] {
    guard items.count >= n else {
      throw KerasImportError(.missingWeight, "\(source): layer `\(layer)` (\(location)): needs \(n) weights for \(what), the file holds \(items.count) more: \(names)")
    }
    let out = Array(items.prefix(n))
    items.removeFirst(n)
    taken += out
    return out
  }

  /// Errors when weights are left over.
  func finish(what: String) throws {
    guard items.isEmpty else {
      throw KerasImportError(.surplusWeight, "\(source): layer `\(layer)` (\(location)): \(items.count) surplus weight(s) \(items.map { "`\($0.name)` \(KerasImportError.dims($0.tensor.shape))" }.joined(separator: ", ")) that \(what) does not use; check the architecture (use_bias, units, layer class) against the weights file")
    }
  }
}

enum WeightReader {
  static func read(_ ds: Dataset) throws -> Tensor<Double> {
    let shape = try ds.shape
    let values: [Double] = try ds.read(as: Double.self)
    return Tensor(uncheckedShape: shape, scalars: values)
  }

  /// Keras' `to_snake_case` (keras/src/utils/naming.py).
  static func snakeCase(_ name: String) -> String {
    func sub(_ s: String, _ pattern: String, _ template: String) -> String {
      guard let re = try? NSRegularExpression(pattern: pattern) else { return s }
      return re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
    }
    var s = sub(name, "\\W+", "")
    s = sub(s, "(.)([A-Z][a-z]+)", "$1_$2")
    s = sub(s, "([a-z])([A-Z])", "$1_$2")
    return s.lowercased()
  }

  /// Keys Keras 3 gives a list of saveables: snake_case class, `_1`, `_2` ... on repeats.
  static func keys(_ classes: [String]) -> [String] {
    var used: [String: Int] = [:]
    return classes.map { c in
      let n = snakeCase(c)
      if let k = used[n] { used[n] = k + 1; return "\(n)_\(k + 1)" }
      used[n] = 0
      return n
    }
  }

  // MARK: Legacy (.h5)

  /// The weights of layer `name` in a legacy group, in `weight_names` order (nil: no group).
  static func legacy(_ g: Group, layer name: String) throws -> [StoredWeight]? {
    guard try g.exists(name) else { return nil }
    let lg = try g.group(name)
    let names: [String]
    if try lg.hasAttribute("weight_names") || lg.hasAttribute("weight_names0") {
      names = try lg.chunkedStringsAttribute("weight_names")
    } else { names = [] }
    return try names.map { n in StoredWeight(name: "\(name)/\(n)", tensor: try read(try lg.dataset(n))) }
  }

  static func layerNames(_ g: Group) throws -> [String] {
    try g.chunkedStringsAttribute("layer_names")
  }

  /// Checks a legacy weights group as Keras' legacy loader does before it loads anything
  /// (tf-keras `hdf5_format.load_weights_from_hdf5_group`, Keras 3
  /// `legacy_h5_format.load_weights_from_hdf5_group`): every name in `layer_names` must be a
  /// group, and the listed groups that hold weights (non-empty `weight_names`), in `layer_names`
  /// order, are paired by position with the model's layers that have weights. Keras refuses a
  /// count mismatch and loads a reordered list into the wrong layers; this importer, which
  /// matches by name, refuses any difference: a listed name without a group, a listed layer
  /// the model lacks, a group of a model layer that is not listed, or another order.
  /// `layers`: the model's top-level layer names in model order.
  static func checkLayerNames(_ g: Group, layers: [String], source: String) throws {
    let listed: [String]
    if try g.hasAttribute("layer_names") || g.hasAttribute("layer_names0") { listed = try layerNames(g) } else { listed = [] }
    let groups = Set(try g.childNames())
    func weighted(_ name: String) throws -> Bool {
      guard groups.contains(name) else { return false }
      let lg = try g.group(name)
      guard try lg.hasAttribute("weight_names") || lg.hasAttribute("weight_names0") else { return false }
      return !(try lg.chunkedStringsAttribute("weight_names")).isEmpty
    }
    if let absent = listed.first(where: { !groups.contains($0) }) {
      throw KerasImportError(.unreadableFile, "\(source): `layer_names` lists `\(absent)`, but the file has no group `\(absent)` (groups: \(groups.sorted().joined(separator: ", "))); Keras refuses this file too; the file is damaged or was edited: save the model again")
    }
    let listedWithWeights = try listed.filter(weighted)
    let model = Set(layers)
    for n in listedWithWeights where !model.contains(n) {
      let w = try legacy(g, layer: n) ?? []
      throw KerasImportError(.surplusWeight, "\(source): the file holds weights for layer `\(n)` (\(w.map(\.name).joined(separator: ", "))), which the architecture does not have; check that the architecture matches the weights file")
    }
    let modelWithWeights = try layers.filter(weighted)
    guard listedWithWeights != modelWithWeights else { return }
    let listedSet = Set(listedWithWeights)
    if let unlisted = modelWithWeights.first(where: { !listedSet.contains($0) }) {
      throw KerasImportError(.unreadableFile, "\(source): the group `\(unlisted)` holds the weights of layer `\(unlisted)`, but `layer_names` does not list it (it lists the layers with weights \(listedWithWeights)); Keras loads only the listed groups and refuses this file (layer count mismatch); the file is damaged or was edited: save the model again")
    }
    throw KerasImportError(.unreadableFile, "\(source): `layer_names` lists the layers with weights in the order \(listedWithWeights), the model has them in the order \(modelWithWeights); Keras pairs them by position and would refuse this file or load weights into the wrong layers; the file is damaged or was edited: save the model again")
  }

  // MARK: Keras 3 (.weights.h5)

  static func vars(_ g: Group, _ path: String) throws -> [StoredWeight] {
    guard try g.exists(path + "/vars") else { return [] }
    let vg = try g.group(path + "/vars")
    let names = try vg.childNames().compactMap { Int($0) }.sorted()
    return try names.map { i in StoredWeight(name: "\(path)/vars/\(i)", tensor: try read(try vg.dataset(String(i)))) }
  }

  /// A layer's weights in a Keras 3 store, in `layer.weights` order.
  static func v3(_ g: Group, path: String, className: String, config: [String: JSONValue]) throws -> [StoredWeight] {
    var out = try vars(g, path)
    switch className {
    case "Bidirectional":
      let fw = config["layer"]?.object ?? [:]
      let bw = config["backward_layer"]?.object ?? fw
      out += try v3(g, path: path + "/forward_layer", className: fw["class_name"]?.string ?? "",
                    config: fw["config"]?.object ?? [:])
      out += try v3(g, path: path + "/backward_layer", className: bw["class_name"]?.string ?? "",
                    config: bw["config"]?.object ?? [:])
    case "TimeDistributed":
      let inner = config["layer"]?.object ?? [:]
      out += try v3(g, path: path + "/layer", className: inner["class_name"]?.string ?? "",
                    config: inner["config"]?.object ?? [:])
    case "Sequential", "Functional", "Model":
      let model = config["__model"]?.object ?? ["class_name": .string(className), "config": .object(config)]
      let sub = try GraphParser.parse(.object(model), location: "")
      let subLayers = sub.layers.filter { !(sub.isSequential && $0.className == "InputLayer") }
      for (k, l) in zip(keys(subLayers.map(\.className)), subLayers) {
        out += try v3(g, path: path + "/layers/" + k, className: l.className, config: l.config)
      }
    default:
      if let cell = config["cell"]?.object {
        if cell["class_name"]?.string == "StackedRNNCells" {
          let cells = cell["config"]?["cells"]?.array ?? []
          let ks = keys(cells.map { $0["class_name"]?.string ?? "" })
          for k in ks { out += try vars(g, path + "/cell/cells/" + k) }
        } else {
          out += try vars(g, path + "/cell")
        }
      } else if ["LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"].contains(className) {
        out += try vars(g, path + "/cell")
      }
    }
    return out
  }
}
