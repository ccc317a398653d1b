import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// The real Keras files in ../shared/realworld (see its MANIFEST.md; never copied
/// into the project). Each one either predicts what Keras predicts on the same
/// seeded inputs (Data/realworld_refs.h5, written by Data/make_realworld_refs.py
/// with tf-keras 2.21 / Keras 3.15; inputs and outputs only) in both precisions
/// (float32, the default and what Keras computes them all in, and float64), or fails with the
/// precise error its content calls for. A file missing from the corpus is
/// skipped with the reason recorded, never counted as a pass.
@Suite struct RealWorldTests {
  enum Expect {
    /// Loads and matches Keras' outputs.
    case matches
    /// Fails with this kind of error, whose message names all of these.
    case fails(KerasImportError.Kind, naming: [String])
  }

  static let cases: [(file: String, weights: String?, expect: Expect)] = [
    ("udacity__aind2-rnn__best_RNN_large_textdata_weights.hdf5", nil, .fails(.noArchitecture, naming: ["weights only"])),
    ("KonduitAI__dl4j-test-resources__simple_lstm_th_keras_1_model.h5", nil, .matches),
    ("KonduitAI__dl4j-test-resources__bidirectional_lstm_tensorflow_1.h5", nil, .matches),
    ("udacity__aind2-rnn__best_RNN_small_textdata_weights.hdf5", nil, .fails(.noArchitecture, naming: ["weights only"])),
    ("nanoporetech__medaka__ecoli_entire_LSTM_frequency_assm_reads.h5", nil, .matches),
    ("fmind__AIND-VUI-Capstone__model_2.h5", nil, .fails(.lambdaLayer, naming: ["Lambda", "`lambda_3`"])),
    ("fmind__AIND-VUI-Capstone__model_end.h5", nil, .fails(.lambdaLayer, naming: ["Lambda", "`lambda_4`"])),
    ("chen0040__keras-chatbot-web-api__gunthercox_char-architecture.json",
     "chen0040__keras-chatbot-web-api__gunthercox_char-weights.h5", .matches),
    ("minimaxir__textgenrnn__textgenrnn_weights_2017-08_keras2.0.6_cntk.hdf5", nil, .fails(.noArchitecture, naming: ["weights only"])),
    ("chen0040__keras-sentiment-analysis-web-api__bidirectional_lstm_softmax_architecture.json",
     "chen0040__keras-sentiment-analysis-web-api__bidirectional_lstm_softmax_weights.h5", .matches),
    ("minimaxir__textgenrnn__textgenrnn_weights.hdf5", nil, .fails(.noArchitecture, naming: ["weights only"])),
    ("nanoporetech__medaka__medaka_model.hdf5", nil, .matches),
    ("hecyxy__FinanceMl__search.h5", nil, .fails(.unsupportedLayer, naming: ["`CRF`", "crf"])),
    ("anushree1001__Comparing-Multiple-Pre-trained-Neural-network-models-on-IMDB-dataset__bigru_model.h5", nil, .matches),
    ("jancervenka__turbofan_failure__models_lstm.h5", nil, .matches),
    ("raduenuca__dnn-speech-recognizer__model_end.h5", nil, .fails(.lambdaLayer, naming: ["Lambda", "`lambda_6`"])),
    ("Hanh-hub__Sign-Language-Detection-using-ACTION-RECOGNITION-with-Python-LSTM-Deep-Learning-Model__action.h5", nil, .matches),
    ("BenedictOdhiambo__GRU-Deployment__gru_model.h5", nil, .matches),
    ("tomhwi01__audio_classification__models_lstm.h5", nil, .fails(.unsupportedLayer, naming: ["`STFT`"])),
    ("kywertheim__SpeechRecognitionPipeline__model_end.h5", nil, .fails(.lambdaLayer, naming: ["Lambda", "`lambda`"])),
    ("GrzTer__PZ-0_1__model_checkpoint.h5", nil, .matches),
    ("Partha-Guntur__BiLSTM-Stock-Market-Analysis__bilstm_model.keras", nil, .matches),
    ("iam-pranjal__Human-Activity-Recognition__convlstm.h5", nil, .matches),
    ("MSMRo__deeplearning_codes__lstm_model.keras", nil, .matches),
    ("satwikk908__battery-soh-gru__gru_model.h5", nil, .matches),
    ("akshitgajera1013__Email-Spam-Detection-GRU-Model-__gru_model.keras", nil, .matches),
    ("Aadii0916__Next-word-predict__lstm_model.h5", nil, .fails(.noWeights, naming: ["before it was built"])),
  ]

  /// The reference group of a model: stored under the weights file's name for weights+JSON pairs.
  static func refGroup(_ c: (file: String, weights: String?, expect: Expect)) -> String { c.weights ?? c.file }

  static func refs(_ name: String) throws -> (inputs: [Tensor<Double>], outputs: [Tensor<Double>]) {
    let f = try HDF5.File(path: Paths.data + "/realworld_refs.h5")
    let g = try f.group(name)
    func read(_ prefix: String) throws -> [Tensor<Double>] {
      var out: [Tensor<Double>] = []
      var k = 0
      while try g.exists("\(prefix)_\(k)") {
        let ds = try g.dataset("\(prefix)_\(k)")
        out.append(Tensor(uncheckedShape: try ds.shape, scalars: try ds.read(as: Double.self)))
        k += 1
      }
      return out
    }
    return (try read("input"), try read("output"))
  }

  @Test(arguments: KerasPrecision.allCases)
  func everyRealWorldFileMatchesKerasOrFailsPrecisely(precision: KerasPrecision) throws {
    var passed: [String] = [], failed: [String] = [], skipped: [String] = []
    let start = Date()
    for c in Self.cases {
      let url = URL(fileURLWithPath: Paths.realworld + "/" + c.file)
      let weights = c.weights.map { URL(fileURLWithPath: Paths.realworld + "/" + $0) }
      let missing = ([url] + (weights.map { [$0] } ?? [])).filter { !FileManager.default.fileExists(atPath: $0.path) }
      if !missing.isEmpty {
        skipped.append("\(c.file): skipped, not in ../shared/realworld (\(missing.map(\.lastPathComponent)))")
        continue
      }
      switch c.expect {
      case .matches:
        do {
          let model = try KerasModel(contentsOf: url, weights: weights, precision: precision)
          guard model.kerasPrecision == .float32 else {
            failed.append("\(c.file): read as a \(model.kerasPrecision) model; Keras computes it in float32"); continue
          }
          let r = try Self.refs(Self.refGroup(c))
          let outs = try model.predict(r.inputs)
          guard outs.count == r.outputs.count else {
            failed.append("\(c.file): \(outs.count) outputs, Keras gave \(r.outputs.count)"); continue
          }
          let problems = zip(outs, r.outputs).enumerated().compactMap { k, p in
            mismatch(p.0, p.1, atol: 1e-5, rtol: 1e-5).map { "output \(k): \($0)" }
          }
          if problems.isEmpty { passed.append(c.file) } else { failed.append("\(c.file): \(problems.joined(separator: "; "))") }
        } catch {
          failed.append("\(c.file): \(error)")
        }
      case let .fails(kind, naming):
        do {
          _ = try KerasModel(contentsOf: url, weights: weights)
          failed.append("\(c.file): loaded, expected a \(kind) error")
        } catch let e as KerasImportError {
          let absent = naming.filter { !e.message.contains($0) }
          if e.kind == kind && absent.isEmpty { passed.append("\(c.file) (\(kind))") } else {
            failed.append("\(c.file): expected \(kind) naming \(naming), got \(e.kind): \(e.message)")
          }
        } catch {
          failed.append("\(c.file): expected \(kind), got \(error)")
        }
      }
    }
    print("KerasImport real-world (\(precision)): \(passed.count) pass, \(failed.count) fail, \(skipped.count) skipped of \(Self.cases.count) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    for s in skipped { print("SKIP \(s)") }
    for f in failed { print("FAIL \(f)") }
    #expect(failed.isEmpty, "\(failed)")
    #expect(passed.count + skipped.count == Self.cases.count)
  }
}
