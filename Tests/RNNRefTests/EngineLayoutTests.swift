import Foundation
import Testing
@testable import RNNRef
import _TestSupport

/// The engine on batch-major sequences (`SequenceLayout.batchMajor`, read and written in place, as the
/// Keras adapter runs it) against the time-major run on the transposed input: the same sums in the
/// same order, so the same bits, for every cell kind, direction, merge, mask and padding; and the
/// directions written straight into the merged output (`keepDirections: false`) give the same `merged`.
@Suite struct EngineLayoutTests {
  @Test func batchMajorEqualsTimeMajorBitwise() throws {
    try compareLayouts(Float.self)
    try compareLayouts(Double.self)
  }

  func compareLayouts<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 1207)
    // (T, N): several samples and steps (per-step projections at N = 70; per-sample ones where a
    // projection block holds more steps than samples, N = 3), one sample, one step
    let shapes = [(5, 70), (7, 3), (6, 1), (1, 4)]
    let I = 6, H = 8
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let other = randomCell(.lstm, S.self, input: I, hidden: H, rng: &rng)
      let layers: [(String, RecurrentLayer<S>)] = [
        ("forward", RecurrentLayer(direction: .forward, cells: [cell])),
        ("reverse go_backwards", RecurrentLayer(direction: .reverse, cells: [cell], reverseOutputOrder: .timeReversed)),
        ("bidirectional concat", RecurrentLayer(direction: .bidirectional, cells: [cell, cell])),
        ("bidirectional concat, other backward cell", RecurrentLayer(direction: .bidirectional, cells: [cell, other])),
        ("bidirectional sum", RecurrentLayer(direction: .bidirectional, cells: [cell, cell], merge: .sum)),
        ("bidirectional none", RecurrentLayer(direction: .bidirectional, cells: [cell, cell], merge: .none)),
      ]
      for (T, N) in shapes {
        let x = Tensor<S>.random([T, N, I], rng: &rng)
        let xb = x.transposed([1, 0, 2])
        let masks: [StepMask?] = [nil, StepMask(batch: N, steps: T, valid: (0..<(N * T)).map { ($0 * 7 + 3) % 5 != 0 })]
        for (what, base) in layers {
          for mask in masks {
            for padding in [PaddingPolicy.zeroOutput, .repeatPreviousOutput] where mask != nil || padding == .zeroOutput {
              var layer = base
              layer.padding = padding
              let label = "\(name) \(S.self) \(what) T=\(T) N=\(N) mask=\(mask != nil) \(padding)"
              let tm = try Engine.run(layer, input: x, mask: mask)
              let bm = try Engine.run(layer, input: xb, layout: .batchMajor, mask: mask)
              #expect(bm.merged.shape == [N, T, tm.merged.shape[2]], "\(label): merged shape \(bm.merged.shape)")
              #expect(bm.merged.scalars == tm.merged.transposed([1, 0, 2]).scalars, "\(label): merged differs")
              #expect(bm.directionOutputs.map { $0.transposed([1, 0, 2]) } == tm.directionOutputs,
                      "\(label): direction outputs differ")
              #expect(bm.finalStates == tm.finalStates, "\(label): final states differ")
              let merged = try Engine.runLayer(layer, input: xb, layout: .batchMajor, mask: mask, keepDirections: false)
              #expect(merged.merged == bm.merged, "\(label): merged differs without the directions kept")
              #expect(merged.finalStates == bm.finalStates, "\(label): final states differ without the directions kept")
              let joined = layer.direction == .bidirectional && (layer.merge == .concat || layer.merge == .none)
              #expect(merged.directionOutputs.isEmpty == joined,
                      "\(label): \(merged.directionOutputs.count) direction outputs without the directions kept")
            }
          }
        }
      }
    }
  }

  /// An input of the wrong rank or size names the layout it was read in.
  @Test func errorsNameTheLayout() throws {
    var rng = SeededRNG(seed: 5)
    let layer = RecurrentLayer(direction: .forward, cells: [randomCell(.gru, Float.self, input: 4, hidden: 3, rng: &rng)])
    #expect(throws: RNNRefError.self) { try Engine.run(layer, input: Tensor<Float>.random([2, 3], rng: &rng), layout: .batchMajor) }
    do {
      _ = try Engine.run(layer, input: Tensor<Float>.random([2, 3, 4], rng: &rng), layout: .batchMajor,
                         mask: StepMask(lengths: [3, 3, 3], steps: 3))
      Issue.record("a (N=3, T=3) mask for a batch-major (2, 3, 4) input was accepted")
    } catch let e as RNNRefError {
      #expect("\(e)".contains("batch-major"), "\(e)")
    }
  }
}
