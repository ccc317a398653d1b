import Foundation
import Testing
@testable import KerasImport
import RNNRef

/// Findings of the `FuzzKerasFile` fuzz target (Fuzz/, `scripts/fuzz FuzzKerasFile`): Keras model
/// files that loaded or ran wrongly. Each input in `Data/fuzz/` is one of our own test models
/// (`Data/models/`) with the bytes the fuzzer changed; the comment on each test says which.
@Suite struct FuzzKerasFileTests {
  static let data = Paths.data + "/fuzz"

  /// `k2_nested_bn.h5` with one byte changed in its `model_config`: `inner_bn`'s call takes
  /// `["x", 5, 0]`, node 5 of the input layer `x`, which has only node 0. It loaded, and
  /// `predict` then failed with an error naming no file ("nested_bn > x (InputLayer, layer 1 of
  /// 3): node 5 is referenced but the layer has 0 call(s)"); it is now refused at load, naming it.
  @Test func anInboundNodeOfAnInputLayerThatIsNoModelInputIsRefusedAtLoad() throws {
    let path = Self.data + "/inbound-node-of-input-layer.h5"
    let e = try #require(throws: KerasImportError.self) { try KerasModel(contentsOf: URL(fileURLWithPath: path)) }
    #expect(e.kind == .invalidConfig)
    #expect(e.message.hasPrefix(path + ": nested_bn > x (InputLayer, layer 1 of 3): node 5 is referenced"), "\(e.message)")
    #expect(e.message.contains("`inbound_nodes` are damaged"), "\(e.message)")
  }

  /// The model the finding was made from loads and runs (the check refuses only the damage).
  @Test func theUndamagedModelStillLoadsAndRuns() throws {
    let m = try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/k2_nested_bn.h5"))
    let y = try m.predict([try Tensor<Float>(zeros: [1, 4, 3])])
    #expect(y.map(\.shape) == [[1, 2]])
  }
}
