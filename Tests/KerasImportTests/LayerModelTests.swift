import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// Small models built, saved and run by Keras itself (Data/make_layer_models.py):
/// two inputs and two outputs with a shared layer and merges, Embedding(mask_zero)
/// into Bidirectional, a nested Sequential with BatchNormalization/LayerNormalization/
/// Flatten/RepeatVector/Permute/Reshape, Masking + StackedRNNCells + go_backwards,
/// CuDNNLSTM/CuDNNGRU; each as tf-keras legacy .h5 and save_weights + to_json, and as
/// Keras 3 .keras, legacy .h5 and .weights.h5 + to_json.
@Suite struct LayerModelTests {
  static let dir = Paths.data + "/models"

  static func refs() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".refs.h5") }.sorted()
  }

  static func check(_ refName: String) throws -> String? {
    let f = try HDF5.File(path: dir + "/" + refName)
    let files = try JSONValue(parsing: try f.root.stringAttribute("files")).array?.compactMap { $0.string } ?? []
    guard let first = files.first else { return "no files listed" }
    let model = try KerasModel(contentsOf: URL(fileURLWithPath: dir + "/" + first),
                               weights: files.count > 1 ? URL(fileURLWithPath: dir + "/" + files[1]) : nil)
    func read(_ p: String) throws -> [Tensor<Double>] {
      var out: [Tensor<Double>] = []
      var k = 0
      while try f.root.exists("\(p)_\(k)") {
        let ds = try f.dataset("\(p)_\(k)")
        out.append(Tensor(uncheckedShape: try ds.shape, scalars: try ds.read(as: Double.self)))
        k += 1
      }
      return out
    }
    let outs = try model.predict(try read("input"))
    let expected = try read("output")
    guard outs.count == expected.count else { return "\(outs.count) outputs, Keras gave \(expected.count)" }
    let problems = zip(outs, expected).enumerated().compactMap { k, p in
      mismatch(p.0, p.1, atol: 1e-5, rtol: 1e-5).map { "output \(k): \($0)" }
    }
    return problems.isEmpty ? nil : problems.joined(separator: "; ")
  }

  @Test func everyModelKerasSavedGivesKerasOutputs() throws {
    let names = try Self.refs()
    #expect(names.count >= 28, "expected the generated models in \(Self.dir), found \(names.count)")
    var failed: [String] = []
    for n in names {
      do { if let p = try Self.check(n) { failed.append("\(n): \(p)") } } catch { failed.append("\(n): \(error)") }
    }
    print("KerasImport layer models: \(names.count - failed.count)/\(names.count) pass")
    for f in failed { print("FAIL \(f)") }
    #expect(failed.isEmpty, "\(failed)")
  }

  @Test func summaryNamesLayersShapesParametersAndVersion() throws {
    let m = try KerasModel(contentsOf: URL(fileURLWithPath: Self.dir + "/k2_two_inputs.h5"))
    let s = m.summary
    #expect(s.contains("saved by Keras 2.21.0 with the tensorflow backend"), "\(s)")
    #expect(s.contains("lstm_a (LSTM)"))
    #expect(s.contains("(None, 5, 4)"))
    #expect(m.inputNames == ["a", "b"])
    #expect(m.outputShapes == [[nil, 5, 3], [nil, 3]])
    // LSTM 4 units over 3 features: 4*4*(3+4) + 16 = 128 parameters.
    #expect(m.layers.first { $0.name == "lstm_a" }?.parameterCount == 128)
    #expect(m.recurrentLayers.map(\.name) == ["lstm_a", "gru_b", "rnn_last"])
    #expect(m.recurrentNetwork(named: "lstm_a")?.layers.first?.cells.first?.hiddenSize == 4)
  }
}

/// Keras splits a name list that would exceed HDF5's 64 KB attribute limit into
/// `layer_names0`, `layer_names1`, ... (and `weight_names0`, ...). The tf-keras
/// save_weights file of the two-input model, rewritten with every name list split
/// in two, loads with its to_json() architecture and still gives Keras' outputs.
@Suite struct SplitAttributeTests {
  @Test func splitNameListsLoad() throws {
    let dir = Paths.data + "/models"
    let original = try HDF5.File(path: dir + "/k2w_two_inputs.h5")
    let u = tempURL("split.h5")
    defer { try? FileManager.default.removeItem(at: u) }
    do {
      let out = try HDF5.File.create(path: u.path)
      let root = try original.root
      let layers = try root.chunkedStringsAttribute("layer_names")
      let half = layers.count / 2
      try out.root.setAttribute("layer_names0", fixedLengthStrings: Array(layers.prefix(half)))
      try out.root.setAttribute("layer_names1", fixedLengthStrings: Array(layers.dropFirst(half)))
      try out.root.setAttribute("keras_version", try root.stringAttribute("keras_version"))
      try out.root.setAttribute("backend", try root.stringAttribute("backend"))
      var split = 0
      for l in layers {
        let g = try root.group(l)
        let names = try g.chunkedStringsAttribute("weight_names")
        let og = try out.root.createGroup(l)
        if names.count >= 2 {
          try og.setAttribute("weight_names0", fixedLengthStrings: Array(names.prefix(1)))
          try og.setAttribute("weight_names1", fixedLengthStrings: Array(names.dropFirst(1)))
          split += 1
        } else if !names.isEmpty {
          try og.setAttribute("weight_names", fixedLengthStrings: names)
        }
        for n in names {
          let ds = try g.dataset(n)
          _ = try og.createDataset(n, shape: try ds.shape, values: try ds.read(as: Float.self))
        }
      }
      #expect(split >= 3)
      try out.flush()
    }
    let m = try KerasModel(contentsOf: URL(fileURLWithPath: dir + "/k2w_two_inputs.json"), weights: u)
    let refs = try HDF5.File(path: dir + "/k2w_two_inputs.refs.h5")
    func read(_ n: String) throws -> Tensor<Double> {
      let ds = try refs.dataset(n)
      return Tensor(uncheckedShape: try ds.shape, scalars: try ds.read(as: Double.self))
    }
    let outs = try m.predict([try read("input_0"), try read("input_1")])
    #expect(mismatch(outs[0], try read("output_0"), atol: 1e-5, rtol: 1e-5) == nil)
    #expect(mismatch(outs[1], try read("output_1"), atol: 1e-5, rtol: 1e-5) == nil)
  }
}
