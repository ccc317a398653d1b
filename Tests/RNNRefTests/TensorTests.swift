import Testing
@testable import RNNRef

@Suite struct TensorTests {
  @Test func transposeMovesElements() {
    let t = Tensor<Float>(uncheckedShape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
    let u = t.transposed2D
    #expect(u.shape == [3, 2])
    #expect(u.scalars == [0, 3, 1, 4, 2, 5])
    #expect(u.transposed2D == t)
  }

  @Test func rank3PermutationMatchesIndexing() {
    let t = Tensor<Double>(uncheckedShape: [2, 3, 4], scalars: (0..<24).map(Double.init))
    let u = t.transposed([1, 0, 2])
    for a in 0..<2 { for b in 0..<3 { for c in 0..<4 { #expect(u[[b, a, c]] == t[[a, b, c]]) } } }
  }

  @Test func reorderingBlocksPermutesGates() {
    // four gate blocks of width 2 along the last axis
    let t = Tensor<Float>(uncheckedShape: [1, 8], scalars: [0, 0, 1, 1, 2, 2, 3, 3])
    let r = t.reorderingBlocks([2, 0, 3, 1], axis: 1)
    #expect(r.scalars == [2, 2, 0, 0, 3, 3, 1, 1])
    #expect(Tensor.concatenate(t.split(4, axis: 1), axis: 1) == t)
  }
}
