import Testing
@testable import RNNRef

/// The multi-threaded step (each worker: its hidden units' columns of the recurrent product, then
/// their cell math) against the one-thread step: same sums in the same order, so the same bits.
@Suite struct EngineFusedStepTests {
  /// H = 48: three 16-column panels per gate block, split 1 + 2 over two workers (uneven slices).
  @Test func multiThreadedStepEqualsOneThreadBitwise() throws {
    var rng = SeededRNG(seed: 91)
    let T = 6, N = 5, I = 20, H = 48
    let one = SwiftMatmul(threads: 1)
    let two = SwiftMatmul(threads: 2, parallelThreshold: 0)
    for (name, cell) in cellZoo(Float.self, input: I, hidden: H, rng: &rng) {
      let layer = RecurrentLayer(direction: .forward, cells: [cell])
      let x = Tensor<Float>.random([T, N, I], rng: &rng)
      let s0 = randomState(cell, batch: N, rng: &rng)
      let a = try Engine.run(layer, input: x, mask: nil, initialStates: [s0], backend: one)
      let b = try Engine.run(layer, input: x, mask: nil, initialStates: [s0], backend: two)
      #expect(a.merged.scalars == b.merged.scalars, "\(name): outputs differ between 1 and 2 threads")
      #expect(a.finalStates[0].h.scalars == b.finalStates[0].h.scalars, "\(name): final h differs")
      #expect(a.finalStates[0].c?.scalars == b.finalStates[0].c?.scalars, "\(name): final c differs")
    }
  }

  /// The fused path is taken exactly for the cells it claims (LSTM, reset-after GRU; H % 16 == 0),
  /// so the test above compares two different code paths.
  @Test func fusedPathIsTakenWhereItApplies() throws {
    var rng = SeededRNG(seed: 92)
    let N = 3, I = 7
    let two = SwiftMatmul(threads: 2, parallelThreshold: 0)
    for (H, fusable) in [(32, true), (24, false)] {
      for (name, cell) in cellZoo(Float.self, input: I, hidden: H, rng: &rng) {
        let pc = try PreparedCell(cell, name: name, backend: two)
        let ws = StepWorkspace(cell: pc, batch: N)
        let pre = UnsafeMutablePointer<Float>.allocate(capacity: N * pc.width)
        pre.initialize(repeating: 0.25, count: N * pc.width)
        let h = [Float](repeating: 0.5, count: N * pc.outputSize)
        let c = [Float](repeating: 0.1, count: N * pc.hidden)
        var newH = [Float](repeating: 0, count: N * pc.outputSize)
        var newC = [Float](repeating: 0, count: N * pc.hidden)
        let expected = fusable && (pc.kind == .lstm || (pc.kind == .gru && pc.resetAfter))
        let taken = h.withUnsafeBufferPointer { hp in
          c.withUnsafeBufferPointer { cp in
            newH.withUnsafeMutableBufferPointer { nh in
              newC.withUnsafeMutableBufferPointer { nc in
                pc.fusedParallelStep(batch: N, pre: pre, h: hp.baseAddress!, c: cp.baseAddress!,
                                     newH: nh.baseAddress!, newC: nc.baseAddress!, workspace: ws, backend: two)
              }
            }
          }
        }
        pre.deallocate()
        #expect(taken == expected, "\(name) H=\(H): fused path taken \(taken), expected \(expected)")
      }
    }
  }
}
