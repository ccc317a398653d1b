import Foundation
import Conformance
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// Every error names what it is about: the layer class, the layer and where it sits,
/// the weight and both shapes, the file, and what to do. The files are a real
/// tf-keras save (fixtures/keras/k2_lstm_seq.h5, artifact model.h5) with its
/// architecture JSON edited.
@Suite struct ErrorTests {
  final class Files {
    let model: URL
    let config: JSONValue
    var temps: [URL] = []
    init() throws {
      let bytes = try Case.artifact(path: Paths.root + "/fixtures/keras/k2_lstm_seq.h5", name: "model.h5")
      model = tempURL("model.h5")
      try Data(bytes).write(to: model)
      temps.append(model)
      config = try JSONValue(parsing: try HDF5.File(path: model.path).root.stringAttribute("model_config"))
    }
    deinit { for t in temps { try? FileManager.default.removeItem(at: t) } }

    /// The architecture with its layer list edited, written as a to_json() file.
    func json(_ edit: (inout [JSONValue]) -> Void) throws -> URL {
      guard case .object(var top) = config, case .object(var cfg)? = top["config"],
            case .array(var layers)? = cfg["layers"] else { throw KerasImportError(.invalidConfig, "fixture layout") }
      edit(&layers)
      cfg["layers"] = .array(layers)
      top["config"] = .object(cfg)
      let url = tempURL("arch.json")
      try Data(JSONValue.object(top).jsonText.utf8).write(to: url)
      temps.append(url)
      return url
    }
  }

  static func setConfig(_ layer: inout JSONValue, _ key: String, _ value: JSONValue) {
    guard case .object(var o) = layer, case .object(var c)? = o["config"] else { return }
    c[key] = value
    o["config"] = .object(c)
    layer = .object(o)
  }

  static func expectError(_ kind: KerasImportError.Kind, naming: [String], _ body: () throws -> Void) {
    do {
      try body()
      Issue.record("expected a \(kind) error, it loaded")
    } catch let e as KerasImportError {
      if ProcessInfo.processInfo.environment["KERASIMPORT_PRINT_ERRORS"] != nil { print("ERROR[\(kind)]: \(e.message)") }
      #expect(e.kind == kind, "\(e)")
      for n in naming { #expect(e.message.contains(n), "`\(n)` is not in: \(e.message)") }
    } catch {
      Issue.record("expected KerasImportError.\(kind), got \(error)")
    }
  }

  @Test func theUneditedArchitectureLoads() throws {
    let f = try Files()
    let m = try KerasModel(contentsOf: try f.json { _ in }, weights: f.model)
    #expect(m.format == .legacyWeightsH5)
    #expect(m.recurrentLayers.map(\.name) == ["lstm"])
  }

  @Test func anUnsupportedLayerClassNamesClassLayerAndPlace() throws {
    let f = try Files()
    let url = try f.json { layers in
      guard case .object(var o) = layers[1] else { return }
      o["class_name"] = .string("Conv3DTranspose")
      layers[1] = .object(o)
    }
    Self.expectError(.unsupportedLayer, naming: ["`Conv3DTranspose`", "layer `lstm`", "layer 2 of 2", "supported:"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  @Test func aLambdaIsRefusedWithoutReadingItsCode() throws {
    let f = try Files()
    let url = try f.json { layers in
      layers.append(.object(["class_name": .string("Lambda"),
                             "config": .object(["name": .string("my_lambda"), "function": .string("4wEAAAAAAAAA garbage")]),
                             "inbound_nodes": .array([.array([.array([.string("lstm"), .number(0), .number(0), .object([:])])])])]))
    }
    Self.expectError(.lambdaLayer, naming: ["`my_lambda`", "Lambda", "never executed"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  @Test func aShapeMismatchNamesLayerWeightAndBothShapes() throws {
    let f = try Files()
    let url = try f.json { layers in Self.setConfig(&layers[1], "units", .number(5)) }
    // The stored kernel is (3, 16) for units=4; units=5 needs (3, 20).
    Self.expectError(.shapeMismatch, naming: ["layer `lstm`", "lstm/lstm_cell/kernel:0", "[3, 16]", "[3, 20]"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  /// An adapter error keeps its typed cause; `localizedDescription` is the message.
  @Test func anAdapterErrorKeepsItsCause() throws {
    let f = try Files()
    let url = try f.json { layers in Self.setConfig(&layers[1], "units", .number(5)) }
    do {
      _ = try KerasModel(contentsOf: url, weights: f.model)
      Issue.record("units=5 loaded over a units=4 kernel")
    } catch let e as KerasImportError {
      guard case let .shapeMismatch(name, actual, expected, _)? = e.underlying as? RNNRefError else {
        Issue.record("no RNNRefError cause: \(String(describing: e.underlying))"); return
      }
      #expect(name.hasSuffix("lstm/lstm_cell/kernel:0") && actual == [3, 16] && expected == [3, 20], "\(name)")
      #expect(e.localizedDescription == e.description && e.errorDescription == e.message)
    }
  }

  @Test func aSurplusWeightIsNamed() throws {
    let f = try Files()
    let url = try f.json { layers in Self.setConfig(&layers[1], "use_bias", .bool(false)) }
    Self.expectError(.surplusWeight, naming: ["layer `lstm`", "lstm/lstm_cell/bias:0", "[16]", "use_bias"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  @Test func aMissingWeightNamesLayerWeightAndShape() throws {
    let f = try Files()
    let url = try f.json { layers in
      layers.append(.object(["class_name": .string("Dense"), "name": .string("head"),
                             "config": .object(["name": .string("head"), "units": .number(2)]),
                             "inbound_nodes": .array([.array([.array([.string("lstm"), .number(0), .number(0), .object([:])])])])]))
    }
    // The outputs still come from `lstm`; make the Dense reachable by pointing the output at it.
    var text = try String(contentsOf: url, encoding: .utf8)
    text = text.replacingOccurrences(of: "\"output_layers\":[[\"lstm\",0,0]]", with: "\"output_layers\":[[\"head\",0,0]]")
    try Data(text.utf8).write(to: url)
    Self.expectError(.missingWeight, naming: ["layer `head`", "kernel", "(4, 2)"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  @Test func storedWeightsOfALayerTheArchitectureLacksAreSurplus() throws {
    let f = try Files()
    let url = try f.json { layers in Self.setConfig(&layers[1], "name", .string("renamed")) }
    var text = try String(contentsOf: url, encoding: .utf8)
    text = text.replacingOccurrences(of: "[[\"lstm\",0,0]]", with: "[[\"renamed\",0,0]]")
    try Data(text.utf8).write(to: url)
    Self.expectError(.surplusWeight, naming: ["layer `lstm`", "does not have"]) {
      _ = try KerasModel(contentsOf: url, weights: f.model)
    }
  }

  @Test func aWeightsOnlyFileAsksForItsArchitecture() throws {
    let f = try Files()
    let w = tempURL("weights.h5")
    f.temps.append(w)
    let out = try HDF5.File.create(path: w.path)
    try out.root.setAttribute("layer_names", fixedLengthStrings: ["lstm"])
    try out.flush()
    Self.expectError(.noArchitecture, naming: [w.path, "weights only", "--weights"]) {
      _ = try KerasModel(contentsOf: w)
    }
  }

  @Test func aModelSavedBeforeItWasBuiltSaysSo() throws {
    let f = try Files()
    let u = tempURL("unbuilt.h5")
    f.temps.append(u)
    do {
      let out = try HDF5.File.create(path: u.path)
      try out.root.setAttribute("model_config", f.config.jsonText)
      try out.root.setAttribute("keras_version", "2.21.0")
      let g = try out.root.createGroup("model_weights")
      try g.setAttribute("layer_names", fixedLengthStrings: ["x", "lstm"])
      _ = try g.createGroup("x")
      _ = try g.createGroup("lstm")
      try out.flush()
    }
    Self.expectError(.noWeights, naming: [u.path, "before it was built", "lstm"]) { _ = try KerasModel(contentsOf: u) }
  }

  @Test func anUnknownActivationIsAConfigErrorNamingTheLayer() throws {
    let f = try Files()
    let url = try f.json { layers in Self.setConfig(&layers[1], "activation", .string("gelu_new")) }
    Self.expectError(.invalidConfig, naming: ["layer `lstm`", "gelu_new"]) { _ = try KerasModel(contentsOf: url, weights: f.model) }
  }

  @Test func unreadableFilesSayWhatTheyAre() throws {
    let f = try Files()
    let text = tempURL("notes.txt")
    try Data("hello".utf8).write(to: text)
    f.temps.append(text)
    Self.expectError(.unreadableFile, naming: [text.path, "not a Keras model file"]) { _ = try KerasModel(contentsOf: text) }
    Self.expectError(.unreadableFile, naming: ["missing"]) { _ = try KerasModel(contentsOf: tempURL("absent.h5")) }
    let caseFile = URL(fileURLWithPath: Paths.root + "/fixtures/keras/k2_lstm_seq.h5")
    Self.expectError(.unreadableFile, naming: ["not a Keras model", "case file"]) { _ = try KerasModel(contentsOf: caseFile) }
    let truncated = tempURL("truncated.h5")
    try Data(try Data(contentsOf: f.model).prefix(3000)).write(to: truncated)
    f.temps.append(truncated)
    Self.expectError(.unreadableFile, naming: [truncated.path]) { _ = try KerasModel(contentsOf: truncated) }
  }

  @Test func badInputsAreNamedWithTheirShapes() throws {
    let f = try Files()
    let m = try KerasModel(contentsOf: f.model)
    Self.expectError(.invalidInput, naming: ["takes 1 input", "got 2"]) {
      _ = try m.predict([Tensor<Double>(uncheckedZeros: [2, 6, 3]), Tensor<Double>(uncheckedZeros: [2, 6, 3])])
    }
    Self.expectError(.invalidInput, naming: ["`x`", "[2, 6, 5]", "(None, 6, 3)"]) {
      _ = try m.predict([Tensor<Double>(uncheckedZeros: [2, 6, 5])])
    }
    var nan = Tensor<Double>(uncheckedZeros: [2, 6, 3])
    nan.scalars[7] = .nan
    Self.expectError(.invalidInput, naming: ["non-finite", "flat index 7"]) { _ = try m.predict([nan]) }
  }

  /// A copy of the save_weights file Data/models/k2w_seq_stacked.h5 (layers `mask`, `stacked`,
  /// `back`; `mask` has no weights) with `layer_names` replaced.
  static func seqStackedWeights(layerNames: [String]) throws -> URL {
    let source = try HDF5.File(path: Paths.data + "/models/k2w_seq_stacked.h5").root
    let u = tempURL("weights.h5")
    let out = try HDF5.File.create(path: u.path)
    for a in ["backend", "keras_version"] { try out.root.setAttribute(a, try source.stringAttribute(a)) }
    try out.root.setAttribute("layer_names", fixedLengthStrings: layerNames)
    for layer in ["back", "mask", "stacked"] {
      let g = try out.root.createGroup(layer)
      let names = try source.group(layer).chunkedStringsAttribute("weight_names")
      try g.setAttribute("weight_names", fixedLengthStrings: names)
      for n in names {
        let ds = try source.group(layer).dataset(n)
        _ = try g.createDataset(n, shape: try ds.shape, values: try ds.read(as: Float.self))
      }
    }
    try out.flush()
    return u
  }

  /// `layer_names` must match the groups as Keras' legacy loader checks it (tf-keras and Keras 3
  /// `load_weights_from_hdf5_group`; tf-keras 2.21 refuses each of these files: a KeyError for the
  /// unknown name, "Layer count mismatch" for the omitted layer, "Weight count mismatch for layer
  /// #0" for the swapped order). Before, the importer matched groups by name and loaded all three.
  @Test func layerNamesThatDoNotMatchTheGroupsAreRefusedAsKerasRefusesThem() throws {
    let arch = URL(fileURLWithPath: Paths.data + "/models/k2w_seq_stacked.json")
    let good = try Self.seqStackedWeights(layerNames: ["mask", "stacked", "back"])
    defer { try? FileManager.default.removeItem(at: good) }
    _ = try KerasModel(contentsOf: arch, weights: good)  // as saved: loads

    let ghost = try Self.seqStackedWeights(layerNames: ["mask", "stacked", "back", "ghost"])
    defer { try? FileManager.default.removeItem(at: ghost) }
    Self.expectError(.unreadableFile, naming: [ghost.path, "`layer_names` lists `ghost`", "no group `ghost`"]) {
      _ = try KerasModel(contentsOf: arch, weights: ghost)
    }
    let omitted = try Self.seqStackedWeights(layerNames: ["mask", "stacked"])
    defer { try? FileManager.default.removeItem(at: omitted) }
    Self.expectError(.unreadableFile, naming: [omitted.path, "group `back`", "does not list it", "[\"stacked\"]"]) {
      _ = try KerasModel(contentsOf: arch, weights: omitted)
    }
    let swapped = try Self.seqStackedWeights(layerNames: ["mask", "back", "stacked"])
    defer { try? FileManager.default.removeItem(at: swapped) }
    Self.expectError(.unreadableFile, naming: [swapped.path, "[\"back\", \"stacked\"]", "[\"stacked\", \"back\"]", "by position"]) {
      _ = try KerasModel(contentsOf: arch, weights: swapped)
    }
  }
}
