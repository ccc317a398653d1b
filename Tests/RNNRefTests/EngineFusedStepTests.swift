import Dispatch
import Foundation
import Testing
@testable import RNNRef
import _TestSupport

/// The fused step (the backend splits the hidden units over its workers; each does its units' columns of
/// the recurrent product, then their cell math) against one pass: same sums in the same order, so the
/// same bits, for the package's backend and for any backend that follows the `MatmulBackend` contract.
@Suite struct EngineFusedStepTests {
  /// H = 96 on every backend and kernel: three to twelve granules per gate block (panels of 8, 16 or
  /// 32 columns), split unevenly over two workers. SwiftMatmul's Double: row-major B, granularity 1.
  @Test(arguments: BackendUnderTest.all)
  func multiThreadedStepEqualsOneThreadBitwise(_ backend: BackendUnderTest) throws {
    try multiThreadedEqualsOneThread(Float.self, backend)
    try multiThreadedEqualsOneThread(Double.self, backend)
  }

  func multiThreadedEqualsOneThread<S: RNNScalar>(_: S.Type, _ kind: BackendUnderTest) throws {
    var rng = SeededRNG(seed: 91)
    let T = 6, N = 5, I = 20, H = 96
    let one = try kind.make(threads: 1, parallelThreshold: 1 << 20)
    let two = try kind.make(threads: 2, parallelThreshold: 0)
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let layer = RecurrentLayer(direction: .forward, cells: [cell])
      let x = Tensor<S>.random([T, N, I], rng: &rng)
      let s0 = randomState(cell, batch: N, rng: &rng)
      let a = try Engine.run(layer, input: x, initialStates: [s0], backend: one)
      let b = try Engine.run(layer, input: x, initialStates: [s0], backend: two)
      #expect(a.merged.scalars == b.merged.scalars, "\(name) \(S.self) \(kind): outputs differ between 1 and 2 threads")
      #expect(a.finalStates[0].h.scalars == b.finalStates[0].h.scalars, "\(name) \(S.self) \(kind): final h differs")
      #expect(a.finalStates[0].c?.scalars == b.finalStates[0].c?.scalars, "\(name) \(S.self) \(kind): final c differs")
      // bidirectional, masked: the two directions run at once on two workers, each splitting its steps
      // further as the backend decides (a nested parallel-for)
      let bi = RecurrentLayer(direction: .bidirectional, cells: [cell, cell])
      let mask = StepMask(lengths: [6, 3, 0, 5, 1], steps: T)
      let s1 = randomState(cell, batch: N, rng: &rng)
      let c1 = try Engine.run(bi, input: x, mask: mask, initialStates: [s0, s1], backend: one)
      let c2 = try Engine.run(bi, input: x, mask: mask, initialStates: [s0, s1], backend: two)
      #expect(c1 == c2, "\(name) \(S.self) \(kind): bidirectional outputs or states differ between 1 and 2 threads")
    }
  }

  /// A bidirectional layer hands its two directions to the backend's parallel-for (one job of two parts,
  /// before any step), and the result is the one of the directions run one after the other.
  @Test(arguments: BackendUnderTest.all)
  func bidirectionalDirectionsRunAsOneTwoPartJob(_ kind: BackendUnderTest) throws {
    var rng = SeededRNG(seed: 94)
    let T = 4, N = 3, I = 5, H = 24
    let log = CallLog()
    let backend = RecordingBackend(base: try kind.make(threads: 2, parallelThreshold: 0), log: log)
    let fw = randomCell(.gru, Float.self, input: I, hidden: H, options: CellOptions(resetAfter: false), rng: &rng)
    let bw = randomCell(.lstm, Float.self, input: I, hidden: H, rng: &rng)
    let x = Tensor<Float>.random([T, N, I], rng: &rng)
    let layer = RecurrentLayer(direction: .bidirectional, cells: [fw, bw])
    let together = try Engine.run(layer, input: x, backend: backend)
    #expect(log.jobs.first == 2, "first parallel-for job: \(log.jobs.prefix(3))")
    let serial = try Engine.run(layer, input: x, backend: try kind.make(threads: 1, parallelThreshold: 1 << 30))
    #expect(together == serial, "\(kind): concurrent directions differ from directions in turn")
  }

  /// The fused path is taken exactly for the cells it claims (LSTM, both GRUs; H a multiple of the
  /// column granularity g: 2g is, 3g/2 is not), so the test above compares two different code paths: the
  /// backend's parallel-for gets the hidden units and the products come as per-gate column slices (the
  /// reset-before GRU: two jobs per step, z and r columns of `(H, 2H)`, then the candidate's of `(H, H)`).
  @Test(arguments: BackendUnderTest.all)
  func fusedPathIsTakenWhereItApplies(_ kind: BackendUnderTest) throws {
    var rng = SeededRNG(seed: 92)
    let T = 2, N = 3, I = 7
    let base = try kind.make(threads: 2, parallelThreshold: 0)
    let g = base.prepare(Tensor<Float>(uncheckedZeros: [1, 1])).columnGranularity
    for (H, fusable) in [(2 * g, true), (g + g / 2, false)] {
      for (name, cell) in cellZoo(Float.self, input: I, hidden: H, rng: &rng) {
        let log = CallLog()
        let backend = RecordingBackend(base: base, log: log)
        _ = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: .random([T, N, I], rng: &rng),
                           backend: backend)
        var unitSliced = false, resetBefore = false
        if case .lstm = cell { unitSliced = true }
        if case .gru(let gru) = cell { unitSliced = true; resetBefore = !gru.resetAfter }
        let expected = fusable && unitSliced
        let gates = cell.hasCellState ? 4 : resetBefore ? 2 : 3
        if expected {
          let slicesPerStep: [Range<Int>] = resetBefore ? [0..<1, 1..<2, 0..<1, 1..<2] : [0..<1, 1..<2]
          #expect(sorted(log.slices) == sorted(Array(repeating: slicesPerStep, count: T).flatMap { $0 }),
                  "\(name) H=\(H) \(kind): \(log.slices)")
          var perStep: [Range<Int>] = resetBefore ? [0..<g, g..<(2 * g)] : []
          for q in 0..<gates {
            perStep.append((q * H)..<(q * H + g))
            perStep.append((q * H + g)..<(q * H + 2 * g))
          }
          #expect(sorted(log.columnCalls) == sorted(Array(repeating: perStep, count: T).flatMap { $0 }),
                  "\(name) H=\(H) \(kind): column products \(log.columnCalls)")
        } else {
          #expect(log.slices.isEmpty, "\(name) H=\(H) \(kind): fused path taken, expected not")
          #expect(log.columnCalls.isEmpty, "\(name) H=\(H) \(kind): column products \(log.columnCalls)")
        }
      }
    }
  }

  /// A backend written only against the protocol (row-major B in granules of 4 columns, three workers on
  /// Dispatch) runs the fused step and gives the same bits as the textbook backend, bidirectional and
  /// masked; H = 10 is not a multiple of 4 and takes the unfused path.
  @Test func anyBackendGetsTheFusedStep() throws {
    try anyBackend(Float.self)
    try anyBackend(Double.self)
  }

  func anyBackend<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 93)
    let T = 5, N = 4, I = 6
    for H in [12, 10] {
      for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
        let layer = RecurrentLayer(direction: .bidirectional, cells: [cell, cell])
        let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
        let mask = StepMask(lengths: [5, 2, 0, 4], steps: T)
        let log = CallLog()
        let slicing = GranuleBackend(granularity: 4, workers: 3, log: log)
        let a = try Engine.run(layer, input: x, mask: mask, backend: slicing)
        let b = try Engine.run(layer, input: x, mask: mask, backend: NaiveMatmul())
        #expect(a == b, "\(name) \(S.self) H=\(H): the protocol-only backend differs from NaiveMatmul")
        #expect(log.misalignedCalls.isEmpty, "\(name) H=\(H): column slices off the granularity \(log.misalignedCalls)")
        if H == 12, case .lstm = cell {
          #expect(!log.slices.isEmpty && log.slices.allSatisfy { $0.count == 1 }, "\(name): slices \(log.slices)")
        }
        // H = 10: no step is split; the only job is the layer's two directions
        if H == 10 { #expect(log.jobs == [2] && sorted(log.slices) == [0..<1, 1..<2], "\(name) H=10: \(log.slices)") }
      }
    }
  }
}

func sorted(_ ranges: [Range<Int>]) -> [Range<Int>] {
  ranges.sorted { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }
}

/// What a backend was asked to do, from any thread.
final class CallLog: @unchecked Sendable {
  private let lock = NSLock()
  private var _slices: [Range<Int>] = []
  private var _columnCalls: [Range<Int>] = []
  private var _misaligned: [Range<Int>] = []
  private var _jobs: [Int] = []
  /// `parts` of each parallel-for job, in call order.
  var jobs: [Int] { lock.withLock { _jobs } }
  func job(_ parts: Int) { lock.withLock { _jobs.append(parts) } }
  var slices: [Range<Int>] { lock.withLock { _slices } }
  var columnCalls: [Range<Int>] { lock.withLock { _columnCalls } }
  func slice(_ r: Range<Int>) { lock.withLock { _slices.append(r) } }
  var misalignedCalls: [Range<Int>] { lock.withLock { _misaligned } }
  func columns(_ r: Range<Int>) { lock.withLock { _columnCalls.append(r) } }
  func misaligned(_ r: Range<Int>) { lock.withLock { _misaligned.append(r) } }
}

/// Delegates to `base`, logging the engine's parallel-for slices and column-slice products (the
/// base's own whole products and threading are not logged).
struct RecordingBackend: MatmulBackend {
  let base: any MatmulBackend
  let log: CallLog
  func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> { base.prepare(b) }
  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    log.columns(columns)
    base.multiply(m: m, a: a, lda: lda, b: b, columns: columns, c: c, ldc: ldc, accumulate: accumulate)
  }
  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    base.multiply(m: m, a: a, lda: lda, b: b, c: c, ldc: ldc, accumulate: accumulate)
  }
  func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
    log.job(parts)
    base.forEachSlice(of: parts, multiplyAdds: multiplyAdds) { r in
      log.slice(r)
      body(r)
    }
  }
}

/// Written only against the protocol: B row-major in an object of its own, column slices on granules of
/// `granularity`, the textbook sum over k per element, `workers` Dispatch workers for every job.
struct GranuleBackend: MatmulBackend {
  final class Storage<S: RNNScalar>: Sendable {
    let b: [S]
    init(_ b: [S]) { self.b = b }
  }
  let granularity: Int
  let workers: Int
  let log: CallLog

  func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    PreparedMatrix(rows: b.shape[0], cols: b.shape[1], columnGranularity: granularity, storage: Storage(b.scalars))
  }

  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if !(columns.lowerBound % granularity == 0 && (columns.upperBound % granularity == 0 || columns.upperBound == b.cols)) {
      log.misaligned(columns)
    }
    let bs = (b.storage as! Storage<S>).b
    for i in 0..<m {
      for j in columns {
        var s: S = accumulate ? c[i * ldc + j] : 0
        for p in 0..<b.rows { s += a[i * lda + p] * bs[p * b.cols + j] }
        c[i * ldc + j] = s
      }
    }
  }

  func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let w = min(workers, parts)
    if w == 0 { return }
    log.job(parts)
    DispatchQueue.concurrentPerform(iterations: w) { k in
      let r = (parts * k / w)..<(parts * (k + 1) / w)
      log.slice(r)
      body(r)
    }
  }
}
