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

  /// `k2_nested.h5` with one byte changed in its `model_config` (`hs`'s call on `resh` -> `resl`;
  /// the fuzzer made the same error from `k3_nested.keras`' config.json): the graph parser's error
  /// named no file ("model config: nested > hs (Activation, layer 10 of 11): calls on `resl`,
  /// which is not a layer of the model"). Load errors now name the model file.
  @Test func aGraphErrorNamesTheModelFile() throws {
    let path = Self.data + "/inbound-call-on-unknown-layer.h5"
    let e = try #require(throws: KerasImportError.self) { try KerasModel(contentsOf: URL(fileURLWithPath: path)) }
    #expect(e.kind == .invalidConfig)
    #expect(e.message == path + ": model config: nested > hs (Activation, layer 10 of 11): calls on `resl`, which is not a layer of the model", "\(e.message)")
  }

  /// `k3_seq_stacked.keras` with one bit of the first GRU kernel value flipped inside the stored
  /// `model.weights.h5` (the CRC-32 left as saved; Python's zipfile says "Bad CRC-32"). It loaded
  /// and predicted with the changed weight, as the fuzzer's `.keras` mutations of stored entries
  /// did; a CRC-32 mismatch is now an error naming the entry.
  @Test func aKerasArchiveEntryWhoseCRCDoesNotMatchIsRefused() throws {
    let path = Self.data + "/keras-weights-bad-crc.keras"
    let e = try #require(throws: KerasImportError.self) { try KerasModel(contentsOf: URL(fileURLWithPath: path)) }
    #expect(e.kind == .unreadableFile)
    #expect(e.message.hasPrefix(path + "!/model.weights.h5: its bytes have CRC-32 "), "\(e.message)")
    #expect(e.message.contains("the archive is damaged"), "\(e.message)")
    // The archive it was made from loads.
    _ = try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/k3_seq_stacked.keras"))
  }

  /// The model the finding was made from loads and runs (the check refuses only the damage).
  @Test func theUndamagedModelStillLoadsAndRuns() throws {
    let m = try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/k2_nested_bn.h5"))
    let y = try m.predict([try Tensor<Float>(zeros: [1, 4, 3])])
    #expect(y.map(\.shape) == [[1, 2]])
  }
}
