import Testing
@testable import RNNRef
import _TestSupport

/// The fast GEMM against the textbook triple loop.
@Suite struct EngineMatmulTests {
  /// Shapes that hit every edge: rows not a multiple of the 4-row kernel,
  /// columns not a multiple of the 16-wide panel, K longer than the K block,
  /// M longer than the M block, and empty products.
  static let shapes: [(m: Int, k: Int, n: Int)] = [
    (1, 1, 1), (3, 5, 7), (4, 16, 16), (5, 17, 33), (13, 300, 40), (100, 257, 65), (2, 0, 3), (0, 4, 4),
    (130, 40, 100),
  ]

  func integers<S: RNNScalar>(_ shape: [Int], rng: inout SeededRNG) -> Tensor<S> {
    Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in S(Int.random(in: -4...4, using: &rng)) })
  }

  /// Small integers: every partial sum is exact in Float and Double, so any
  /// summation order gives the same bits.
  func exactOnIntegers<S: RNNScalar>(_: S.Type, backend: SwiftMatmul) {
    var rng = SeededRNG(seed: 21)
    for (m, k, n) in Self.shapes {
      let a: Tensor<S> = integers([m, k], rng: &rng)
      let b: Tensor<S> = integers([k, n], rng: &rng)
      let fast = backend.matmul(a, b)
      let naive = NaiveMatmul().matmul(a, b)
      #expect(fast == naive, "(\(m), \(k)) x (\(k), \(n)) \(S.self) threads \(backend.threads)")
    }
  }

  @Test func fastEqualsNaiveOnSmallIntegers() {
    for threads in [1, 2, 3] {
      for kernel in SwiftMatmul.Kernel.allCases {
        var backend = SwiftMatmul(threads: threads, parallelThreshold: 0)
        backend.forcedKernel = kernel
        exactOnIntegers(Float.self, backend: backend)
        exactOnIntegers(Double.self, backend: backend)
      }
    }
  }

  @Test func floatGemmMatchesDoubleOnRandomValues() {
    var rng = SeededRNG(seed: 22)
    for (m, k, n) in Self.shapes {
      let a = Tensor<Double>.random([m, k], scale: 1, rng: &rng)
      let b = Tensor<Double>.random([k, n], scale: 1, rng: &rng)
      let exact = NaiveMatmul().matmul(a, b)
      var wide = SwiftMatmul(threads: 2, parallelThreshold: 0), narrow = wide
      wide.forcedKernel = .wide
      narrow.forcedKernel = .narrow
      let fast = wide.matmul(Tensor<Float>(a), Tensor<Float>(b))
      // Float rounding of inputs and k-term sums: |error| <~ k * 2^-24 * sum|a||b| <= k^2 * 6e-8
      let bound = Double(max(k, 1) * max(k, 1)) * 1.2e-7
      #expect(Tensor<Double>(fast).maxAbsDifference(exact) <= bound, "(\(m), \(k)) x (\(k), \(n))")
      // every kernel adds the same products in the same order: same bits
      var flat = narrow
      flat.forcedKernel = .flat
      #expect(narrow.matmul(Tensor<Float>(a), Tensor<Float>(b)) == fast, "(\(m), \(k)) x (\(k), \(n)) narrow")
      #expect(flat.matmul(Tensor<Float>(a), Tensor<Float>(b)) == fast, "(\(m), \(k)) x (\(k), \(n)) flat")
    }
  }

  @Test func stridesAndAccumulate() {
    // C (sub-block of a wider buffer) += A (sub-block of a wider buffer) x B
    var rng = SeededRNG(seed: 23)
    let m = 6, k = 20, n = 18, lda = 25, ldc = 40
    let aFull: Tensor<Float> = integers([m, lda], rng: &rng)
    let b: Tensor<Float> = integers([k, n], rng: &rng)
    var c: [Float] = integers([m, ldc], rng: &rng).scalars
    var expected = c
    let a = aFull.slice(axis: 1, range: 3..<(3 + k))
    let prod = NaiveMatmul().matmul(a, b)
    for i in 0..<m { for j in 0..<n { expected[i * ldc + 5 + j] += prod[[i, j]] } }
    let backend = SwiftMatmul(threads: 2, parallelThreshold: 0)
    let pb = backend.prepare(b)
    aFull.scalars.withUnsafeBufferPointer { ap in
      c.withUnsafeMutableBufferPointer { cp in
        backend.multiply(m: m, a: ap.baseAddress! + 3, lda: lda, b: pb, c: cp.baseAddress! + 5, ldc: ldc,
                         accumulate: true)
      }
    }
    #expect(c == expected)
  }

  /// `multiply(columns:)` writes exactly `C[:, columns]`, equal to the same columns of the whole product,
  /// for every slice on the granularity (SwiftMatmul: 16 for Float panels, 1 for Double; NativeMatmul: the
  /// kernel's panel width), including the ragged last panel, on every backend and kernel.
  @Test(arguments: BackendUnderTest.all)
  func columnSlicesEqualTheWholeProduct(_ kind: BackendUnderTest) throws {
    try columnSlices(Float.self, kind)
    try columnSlices(Double.self, kind)
  }

  func columnSlices<S: RNNScalar>(_: S.Type, _ kind: BackendUnderTest) throws {
    var rng = SeededRNG(seed: 25)
    let m = 7, k = 300, n = 40, ldc = 45
    let a = Tensor<S>.random([m, k], scale: 1, rng: &rng)
    let b = Tensor<S>.random([k, n], scale: 1, rng: &rng)
    for threads in [1, 2] {
      let backend = try kind.make(threads: threads)
      let pb = backend.prepare(b)
      let g = pb.columnGranularity
      switch kind {
      case .swift: #expect(g == (S.self == Float.self ? 16 : 1))
      case .native(let kernel): #expect(g == (S.self == Float.self ? kernel.panelWidth(for: Float.self)
                                                                   : kernel.panelWidth(for: Double.self)))
      }
      let whole = backend.matmul(a, b)
      let bounds = Array(stride(from: 0, to: n, by: max(g, 8))) + [n]
      for lo in bounds where lo % g == 0 {
        for hi in bounds where hi > lo && (hi % g == 0 || hi == n) {
          var c = [S](repeating: -7, count: m * ldc)
          a.scalars.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
              backend.multiply(m: m, a: ap.baseAddress!, lda: k, b: pb, columns: lo..<hi, c: cp.baseAddress!, ldc: ldc,
                               accumulate: false)
            }
          }
          for i in 0..<m {
            for j in 0..<ldc {
              let expected = (lo..<hi).contains(j) ? whole[[i, j]] : -7
              if c[i * ldc + j] != expected {
                Issue.record("\(S.self) \(kind) threads \(threads) columns \(lo)..<\(hi): C[\(i), \(j)] = \(c[i * ldc + j]), expected \(expected)")
                return
              }
            }
          }
        }
      }
    }
  }

  /// Bidirectional, masked layers of every cell on every backend and kernel against the textbook backend.
  @Test(arguments: BackendUnderTest.all)
  func engineRunsTheSameOnAnyBackend(_ kind: BackendUnderTest) throws {
    let backend = try kind.make()
    var rng = SeededRNG(seed: 24)
    let x = Tensor<Double>.random([5, 4, 7], scale: 1, rng: &rng)
    for (name, cell) in cellZoo(Double.self, input: 7, hidden: 9, rng: &rng) {
      let layer = RecurrentLayer(direction: .bidirectional, cells: [cell, cell])
      let mask = StepMask(lengths: [5, 2, 0, 4], steps: 5)
      let fast = try Engine.run(layer, input: x, mask: mask, backend: backend)
      let naive = try Engine.run(layer, input: x, mask: mask, backend: NaiveMatmul())
      #expect(fast.merged.maxAbsDifference(naive.merged) <= 1e-14, "\(name) \(kind)")
      let xf = Tensor<Float>(x)
      let lf = RecurrentLayer<Float>(direction: .bidirectional, cells: [convert(cell), convert(cell)])
      let ff = try Engine.run(lf, input: xf, mask: mask, initialStates: nil, backend: backend)
      let fn = try Engine.run(lf, input: xf, mask: mask, initialStates: nil, backend: NaiveMatmul())
      #expect(ff.merged.maxAbsDifference(fn.merged) <= 1e-6, "\(name) \(kind) Float")
    }
  }
}
