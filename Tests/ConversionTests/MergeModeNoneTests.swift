import Foundation
import KerasImport
import Testing
@testable import Conversion
import RNNRef
import _TestSupport

/// A bidirectional layer returning its directions apart (Keras `merge_mode=None`, TF1
/// `bidirectional_dynamic_rnn`, ONNX `Y`) stays apart where the target can say so: Keras keeps
/// `merge_mode=None` (the saved model returns both tensors), ONNX returns `output_fw`/`output_bw`
/// or `Y`; PyTorch concatenates and names the split.
@Suite struct MergeModeNoneTests {
  @Test func kerasTargetsKeepMergeModeNone() throws {
    let dir = try TempDir()
    var rng = SeededRNG(seed: 21)
    let cells = (0..<2).map { _ in randomCell(.lstm, Double.self, input: 3, hidden: 4, rng: &rng) }
    let net = Network(layers: [RecurrentLayer(direction: .bidirectional, cells: cells, merge: .none)])
    let src = SourceNetwork(network: net, framework: .tf1, batchMajor: false, label: "test", dtype: .float32)
    for ext in [".keras", ".h5"] {
      let out = dir.path + "/m" + ext
      let r = try Converter.convert(src, to: .keras, output: out)
      #expect(!r.rewrites.contains { $0.description.contains("concatenated") }, "\(ext)")
      let model = try KerasModel(contentsOf: URL(fileURLWithPath: out))
      #expect(model.recurrentLayers.first?.network.layers.first?.merge == MergeMode.none, "\(ext)")
      // The saved model returns both directions, forward first, each the engine's.
      let x = Tensor<Double>.random([2, 5, 3], scale: 1, rng: &rng)
      let y = try model.predict([x])
      let ref = try Engine.run(float32Network(net), input: x.transposed([1, 0, 2]))
      #expect(y.count == 2, "\(ext): \(y.count) outputs")
      for (d, t) in y.enumerated() where y.count == 2 {
        let want = ref.last.directionOutputs[d].transposed([1, 0, 2])
        #expect(t.shape == want.shape && zip(t.scalars, want.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(ext) direction \(d)")
      }
    }
  }
}
