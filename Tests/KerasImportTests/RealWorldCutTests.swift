import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// The real Keras files in ../shared/realworld that only run cut or with a converted weights
/// file (see its MANIFEST.md; never copied into the project): the CTC models up to their
/// softmax, the CRF model up to its recurrent layer, textgenrnn's cuDNN weights under an LSTM
/// architecture up to its concatenation, the kapre model from its normalisation on, and a
/// Keras 1 weights-only file under a Keras 2 architecture. Each predicts what tf-keras
/// predicts for the same cut on seeded inputs (Data/realworld_cut_refs.h5, written by
/// Data/make_realworld_cut_refs.py; inputs, outputs, the cut and the architecture JSON it
/// wrote for the weights-only files) at atol = rtol = 1e-5, in float32 and float64. As in
/// RealWorldTests, a file missing from the corpus is skipped with the reason recorded, never
/// counted as a pass.
@Suite struct RealWorldCutTests {
  struct Ref {
    var name: String, file: String, weights: String, architecture: String
    var outputLayers: [String], inputLayers: [String]
    var inputs: [Tensor<Double>], outputs: [Tensor<Double>]
  }

  static func refs() throws -> [Ref] {
    let f = try HDF5.File(path: Paths.data + "/realworld_cut_refs.h5")
    let root = try f.root
    return try root.childNames().sorted().map { name in
      let g = try root.group(name)
      func list(_ key: String) throws -> [String] {
        try JSONValue(parsing: try g.stringAttribute(key)).array?.compactMap(\.string) ?? []
      }
      func read(_ prefix: String) throws -> [Tensor<Double>] {
        var out: [Tensor<Double>] = []
        while try g.exists("\(prefix)_\(out.count)") {
          let ds = try g.dataset("\(prefix)_\(out.count)")
          out.append(try Tensor(shape: try ds.shape, scalars: try ds.read(as: Double.self)))
        }
        return out
      }
      return Ref(name: name, file: try g.stringAttribute("file"), weights: try g.stringAttribute("weights"),
                 architecture: try g.stringAttribute("architecture"), outputLayers: try list("output_layers"),
                 inputLayers: try list("input_layers"), inputs: try read("input"), outputs: try read("output"))
    }
  }

  /// The model of one reference, cut as Keras was.
  static func load(_ r: Ref, precision: KerasPrecision) throws -> KerasModel {
    var shapes: [String: [Int?]] = [:]
    for (n, x) in zip(r.inputLayers, r.inputs.suffix(r.inputLayers.count)) { shapes[n] = [nil] + x.shape.dropFirst().map { $0 } }
    let cut = KerasCut(outputLayers: r.outputLayers, inputLayers: r.inputLayers, inputShapes: shapes)
    let file = URL(fileURLWithPath: Paths.realworld + "/" + r.file)
    if r.architecture.isEmpty { return try KerasModel(contentsOf: file, precision: precision, cut: cut) }
    let json = tempURL("\(r.name).json")
    try Data(r.architecture.utf8).write(to: json)
    defer { try? FileManager.default.removeItem(at: json) }
    return try KerasModel(contentsOf: json, weights: file, precision: precision, cut: cut)
  }

  @Test func everyCaseOfTheIssueHasAReference() throws {
    let names = Set(try Self.refs().map(\.name))
    #expect(names == ["ctc_fmind_model_end", "ctc_fmind_model_2", "ctc_raduenuca", "ctc_kywertheim", "crf_hecyxy",
                      "kapre_tomhwi01", "attention_textgenrnn", "keras1_udacity"])
  }

  @Test(arguments: KerasPrecision.allCases)
  func cutRealWorldModelsMatchKeras(precision: KerasPrecision) throws {
    var passed: [String] = [], failed: [String] = [], skipped: [String] = []
    let refs = try Self.refs()
    for r in refs {
      guard FileManager.default.fileExists(atPath: Paths.realworld + "/" + r.file) else {
        skipped.append("\(r.name): skipped, \(r.file) not in ../shared/realworld"); continue
      }
      do {
        let model = try Self.load(r, precision: precision)
        let outs = try model.predict(r.inputs)
        guard outs.count == r.outputs.count else {
          failed.append("\(r.name): \(outs.count) outputs (\(model.outputNames)), Keras gave \(r.outputs.count)"); continue
        }
        // Where Keras gives NaN (ctc_raduenuca: every weight in the file is NaN, a diverged
        // training run), the same element must be NaN; the other elements match.
        let problems = try zip(outs, r.outputs).enumerated().compactMap { k, p -> String? in
          guard p.0.shape == p.1.shape else { return "output \(k): shape \(p.0.shape), expected \(p.1.shape)" }
          let nan = p.1.scalars.map(\.isNaN)
          if let i = nan.indices.first(where: { nan[$0] != p.0.scalars[$0].isNaN }) {
            return "output \(k): NaN where Keras has \(p.1.scalars[i]) or a number where it has NaN, at flat index \(i)"
          }
          let keep = nan.indices.filter { !nan[$0] }
          let a = try Tensor(shape: [keep.count], scalars: keep.map { p.0.scalars[$0] })
          let e = try Tensor(shape: [keep.count], scalars: keep.map { p.1.scalars[$0] })
          return mismatch(a, e, atol: 1e-5, rtol: 1e-5).map { "output \(k): \($0)" }
        }
        if problems.isEmpty { passed.append(r.name) } else { failed.append("\(r.name): \(problems.joined(separator: "; "))") }
      } catch {
        failed.append("\(r.name): \(error)")
      }
    }
    print("KerasImport real-world cut (\(precision)): \(passed.count) pass, \(failed.count) fail, \(skipped.count) skipped of \(refs.count)")
    for s in skipped { print("SKIP \(s)") }
    for f in failed { print("FAIL \(f)") }
    #expect(failed.isEmpty, "\(failed)")
    #expect(passed.count + skipped.count == refs.count)
  }

  /// --all-layers: the cut output layer's entry equals the cut prediction, and the layers
  /// beyond the cut (the CTC Lambdas) are not among them.
  @Test func allLayersOfACutModel() throws {
    guard let r = try Self.refs().first(where: { $0.name == "ctc_fmind_model_end" }),
          FileManager.default.fileExists(atPath: Paths.realworld + "/" + r.file) else { return }
    let model = try Self.load(r, precision: .float64)
    let all = try model.predictAllLayers(r.inputs)
    #expect(all.map(\.name) == ["the_input", "bidir_rnn0", "bidir_rnn1", "time_distributed_7", "softmax"])
    let last = try #require(all.last)
    #expect(mismatch(last.tensor, r.outputs[0], atol: 1e-5, rtol: 1e-5) == nil)
  }

  /// Without the cut the CTC model is still refused for its Lambda; a cut naming no layer is an error.
  @Test func cutErrors() throws {
    let url = URL(fileURLWithPath: Paths.realworld + "/fmind__AIND-VUI-Capstone__model_end.h5")
    guard FileManager.default.fileExists(atPath: url.path) else { return }
    #expect(throws: KerasImportError.self) { _ = try KerasModel(contentsOf: url) }
    do {
      _ = try KerasModel(contentsOf: url, cut: KerasCut(outputLayers: ["no_such_layer"]))
      Issue.record("a cut at an unknown layer loaded")
    } catch let e as KerasImportError {
      #expect(e.kind == .invalidInput && e.message.contains("no_such_layer") && e.message.contains("bidir_rnn0"))
    }
    do {
      _ = try KerasModel(contentsOf: url, cut: KerasCut(outputLayers: ["ctc"]))
      Issue.record("a cut through the Lambda loaded")
    } catch let e as KerasImportError {
      #expect(e.kind == .lambdaLayer)
    }
  }
}
