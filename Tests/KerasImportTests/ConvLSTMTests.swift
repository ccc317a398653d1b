import Foundation
import Testing
import Conformance
@testable import KerasImport
import RNNRef
import _TestSupport

/// ConvLSTM1D/2D/3D: the cases captured from tf-keras 2.21 and Keras 3.15
/// (fixtures/keras/convlstm/, gen_keras2.py `CONV_CASES`) through the conformance runner (the
/// `KerasCases` adapter) in both precisions, and their saved models through `KerasModel`.
@Suite struct ConvLSTMTests {
  static let dir = Paths.root + "/fixtures/keras/convlstm"

  static func paths() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".h5") }.sorted().map { dir + "/" + $0 }
  }

  @Test(arguments: Precision.allCases)
  func everyConvLSTMCasePassesInTheRunner(precision: Precision) throws {
    var options = RunOptions()
    options.paths = [Self.dir]
    options.precision = precision
    options.parallel = false
    let report = try Runner().run(options)
    let failed = report.cases.filter { $0.status != .pass }
    #expect(report.cases.count == (try Self.paths().count))
    #expect(report.cases.count >= 40, "expected the ConvLSTM cases of both Keras versions, found \(report.cases.count)")
    #expect(failed.isEmpty, "\(failed.map { "\($0.name): \($0.status) \($0.message ?? "") \($0.outputs.filter { $0.status == .fail }.map(\.name))" })")
    #expect(report.cases.contains { $0.name.hasPrefix("keras/convlstm/k2_") } && report.cases.contains { $0.name.hasPrefix("keras/convlstm/k3_") })
  }

  /// Every artifact (tf-keras `model.h5`, Keras 3 `model.keras`, `model.weights.h5`, one legacy
  /// `model.h5`) through KerasModel: as Keras computes it, forced to float32, forced to float64.
  @Test(arguments: [nil] + KerasPrecision.allCases)
  func everyConvLSTMArtifactGivesKerasOutputs(precision: KerasPrecision?) throws {
    var compared = 0
    var failed: [String] = []
    for path in try Self.paths() {
      let c = try Case.load(path: path)
      #expect(c.atol <= 1e-5 && c.rtol <= 1e-5, "\(c.name): tolerance \(c.atol)/\(c.rtol) is wider than 1e-5")
      #expect(!c.artifactNames.isEmpty, "\(c.name) carries no artifact")
      for a in c.artifactNames {
        do {
          let r = try FixtureTests.run(c, artifact: a, precision: precision)
          // A float64 case computed in float32 is not held to the float64 tolerance.
          if c.dtype == .float64 && precision == .float32 { continue }
          compared += 1
          if let f = r.failure { failed.append("\(c.name) \(a): \(f)") }
        } catch {
          failed.append("\(c.name) \(a): \(error)")
        }
      }
    }
    #expect(compared >= 60)
    #expect(failed.isEmpty, "\(failed)")
  }

  /// A ConvLSTM case cannot become a canonical `Network` (conversion's source): a clear refusal.
  @Test func conversionRefusesConvLSTM() throws {
    let c = try Case.load(path: Self.dir + "/k2_convlstm2d_same_seq_state.h5")
    #expect {
      let _: Network<Double> = try KerasCases.importNetwork(config: c.config, weights: c.weights)
    } throws: { e in
      "\(e)".contains("ConvLSTM2D") && "\(e)".contains("convolutions")
    }
  }

  /// Shapes that do not fit are errors naming the layer, never a crash.
  @Test func malformedInputsAreErrors() throws {
    let c = try Case.load(path: Self.dir + "/k2_convlstm2d_same_seq_state.h5")
    let chain = try KerasCases.parseConfig(c.config)
    var inputs = NamedTensors<Double>()
    inputs.append("x", try Tensor<Double>(zeros: [2, 3, 5, 6, 4]))  // 4 channels, the kernel takes 2
    #expect(throws: RNNRefError.self) { _ = try KerasCases.evaluate(config: chain, weights: c.weights, inputs: inputs) }
    var rank = NamedTensors<Double>()
    rank.append("x", try Tensor<Double>(zeros: [2, 3, 5, 2]))
    #expect(throws: RNNRefError.self) { _ = try KerasCases.evaluate(config: chain, weights: c.weights, inputs: rank) }
  }
}

/// What the adapter refuses, with the key and the reason, rather than computing something else.
@Suite struct ConvLSTMConfigTests {
  static func config(_ extra: [String: JSONValue], cls: String = "ConvLSTM2D") -> [String: JSONValue] {
    var c: [String: JSONValue] = ["name": .string("c"), "filters": .number(3), "kernel_size": .array([.number(3), .number(3)])]
    for (k, v) in extra { c[k] = v }
    return ["class_name": .string(cls), "config": .object(c)]
  }

  @Test func readsBothGenerationsDefaults() throws {
    let l = try Keras.convLSTMConfig(layer: Self.config(["data_format": .null]), version: .keras3)
    #expect(l.rank == 2 && l.strides == [1, 1] && l.dilation == [1, 1] && l.padding == .valid && !l.channelsFirst)
    #expect(l.recurrentActivation == .sigmoid && l.activation == .tanh && l.useBias)
    let k1 = try Keras.convLSTMConfig(layer: Self.config(["kernel_size": .number(2)], cls: "ConvLSTM1D"), version: .keras2)
    #expect(k1.kernelSize == [2])
    let hs2 = try Keras.convLSTMConfig(layer: Self.config(["recurrent_activation": .string("hard_sigmoid")]), version: .keras2)
    let hs3 = try Keras.convLSTMConfig(layer: Self.config(["recurrent_activation": .string("hard_sigmoid")]), version: .keras3)
    #expect(hs2.recurrentActivation == .hardSigmoidKeras2 && hs3.recurrentActivation == .hardSigmoidKeras3)
  }

  @Test(arguments: [
    (["stateful": JSONValue.bool(true)], "stateful"),
    (["padding": .string("causal")], "padding"),
    (["strides": .number(2), "dilation_rate": .number(2)], "strides"),
    (["kernel_size": .array([.number(3)])], "kernel_size"),
    (["filters": .number(0)], "filters"),
    (["data_format": .string("channels_middle")], "data_format"),
  ])
  func refusesWhatItCannotRun(extra: [String: JSONValue], naming: String) {
    #expect { _ = try Keras.convLSTMConfig(layer: Self.config(extra), version: .keras3) } throws: { e in
      "\(e)".contains(naming)
    }
  }

  @Test func aMaskReachingAConvLSTMIsAnError() throws {
    let l = try Keras.convLSTMConfig(layer: Self.config([:]), version: .keras3)
    let cell = ConvLSTMCell<Double>(inputChannels: 1, filters: 3, kernelSize: [3, 3], strides: [1, 1], dilation: [1, 1],
                                    padding: .valid, kernel: Tensor(uncheckedZeros: [3, 3, 1, 12]),
                                    recurrentKernel: Tensor(uncheckedZeros: [3, 3, 3, 12]), bias: Tensor(uncheckedZeros: [12]))
    let layer = ConvLSTMKLayer(name: "c", location: "model > c", config: l, cell: cell)
    let x = Value<Double>(t: Tensor(uncheckedZeros: [1, 2, 4, 4, 1]), mask: [true, false])
    #expect(throws: KerasImportError.self) { _ = try layer.call([x]) }
    #expect(try layer.call([Value<Double>(t: x.t, mask: nil)])[0].t.shape == [1, 2, 2, 3])
  }
}

/// The canonical ConvLSTM against the canonical LSTM: a 1x1 convolution over one position is
/// the LSTM's product, so both must give the same bits (the gate math is one code path).
@Suite struct ConvLSTMCanonicalTests {
  func check<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 7)
    func random(_ shape: [Int]) -> Tensor<S> { Tensor<S>.random(shape, scale: 0.6, rng: &rng) }
    let c = 3, f = 4, n = 2, t = 5
    let kernel = random([1, 1, c, 4 * f]), rec = random([1, 1, f, 4 * f]), bias = random([4 * f])
    let conv = ConvLSTMCell(inputChannels: c, filters: f, kernelSize: [1, 1], strides: [1, 1], dilation: [1, 1],
                            padding: .valid, kernel: kernel, recurrentKernel: rec, bias: bias)
    let x = random([n, t, 1, 1, c])
    let (seq, final) = try Engine.runConvLSTM(conv, input: x)
    let lstm = LSTMCell(inputSize: c, hiddenSize: f, kernel: kernel.reshaped([c, 4 * f]),
                        recurrentKernel: rec.reshaped([f, 4 * f]), inputBias: bias,
                        recurrentBias: Tensor(uncheckedZeros: [4 * f]))
    let out = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(lstm)]),
                             input: x.reshaped([n, t, c]).transposed([1, 0, 2]))
    #expect(seq.reshaped([n, t, f]).scalars == out.merged.transposed([1, 0, 2]).scalars)
    #expect(final.c!.reshaped([n, f]).scalars == out.finalStates[0].c!.scalars)
  }
  @Test func oneByOneConvLSTMIsTheLSTMFloat() throws { try check(Float.self) }
  @Test func oneByOneConvLSTMIsTheLSTMDouble() throws { try check(Double.self) }
}
