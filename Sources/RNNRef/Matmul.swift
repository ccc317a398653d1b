import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Processor count, for the default number of GEMM workers.
enum SystemInfo {
  static var activeProcessorCount: Int {
    let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    return n > 0 ? Int(n) : 1
  }
}

/// A constant right operand `B (K, N)` prepared once by a `MatmulBackend` for repeated products
/// (the weights: kernel, recurrent kernel, projection). Opaque to the engine: it reads only the
/// sizes and `columnGranularity`; the data is in `storage`, in whatever layout the backend chose,
/// and only the backend that prepared the matrix reads it.
public struct PreparedMatrix<S: RNNScalar>: Sendable {
  /// K.
  public let rows: Int
  /// N.
  public let cols: Int
  /// Column slices passed to `MatmulBackend.multiply(m:a:lda:b:columns:c:ldc:accumulate:)` start at a
  /// multiple of this and end at a multiple of it or at `cols` (a backend that packs B in panels of
  /// width w sets w; a row-major backend sets 1). At least 1.
  public let columnGranularity: Int
  /// The backend's prepared form of B (for example an object owning packed panels). A backend finds its
  /// own type with `as?`; a matrix prepared by another backend is a programming error.
  public let storage: AnyObject & Sendable

  public init(rows: Int, cols: Int, columnGranularity: Int, storage: AnyObject & Sendable) {
    precondition(rows >= 0 && cols >= 0 && columnGranularity >= 1,
                 "PreparedMatrix: (\(rows), \(cols)) with column granularity \(columnGranularity)")
    self.rows = rows; self.cols = cols; self.columnGranularity = columnGranularity; self.storage = storage
  }
}

/// `B` row-major, `(rows, cols)`: the storage of `NaiveMatmul` and of `SwiftMatmul` for Double.
final class RowMajorStorage<S: RNNScalar>: Sendable {
  let scalars: [S]
  init(_ scalars: [S]) { self.scalars = scalars }
}

/// The matrix products the engine runs through, row-major: `C (M, N) = A (M, K) x B (K, N)`, or
/// `C += A x B` when `accumulate`; `A` and `C` with leading dimensions (row strides) `lda`, `ldc`;
/// `B` a `PreparedMatrix` this backend prepared. Plug in a BLAS or other kernels by conforming.
///
/// Contract:
/// - `prepare` is called once per weight matrix; `multiply` many times (every step).
/// - `multiply(..., columns:, ...)` computes `C[:, columns] (+)= A x B[:, columns]` ON THE CALLING
///   THREAD: `c` is C's first column (column j of C is `c + j`, for B's column j) and nothing outside
///   `columns` is read or written in C. `columns` starts at a multiple of `b.columnGranularity` and
///   ends at a multiple of it or at `b.cols`. The engine calls it from inside `forEachSlice`, on
///   disjoint column slices at once, so it must be safe to call concurrently on disjoint slices.
/// - `multiply` without `columns` is the whole product and may split it over the backend's threads.
/// - `forEachSlice` is the backend's parallel-for: the engine's fused recurrent step hands it the hidden
///   units (in granules of `columnGranularity`) and the step's work; the backend decides how many
///   workers to use (one: the body runs on the calling thread) and returns when all are done.
/// - Threading, autotuning and kernel choice stay inside the backend.
/// - Bits: the engine's results are reproducible across thread counts only if each element of C gets
///   the same operations in the same order whatever the column slice (sum over k in order, as every
///   backend here does); the tests check this for the backends in the package.
public protocol MatmulBackend: Sendable {
  /// Prepares `b (K, N)` (rank 2) for `multiply`.
  func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S>

  /// `C[:, columns] (+)= A (M, K) x B[:, columns]` on the calling thread (see the protocol's contract).
  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool)

  /// `C (M, N) (+)= A (M, K) x B (K, N)`, the whole product; may use several threads.
  /// Default: the column form over all columns, on the calling thread.
  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool)

  /// Splits `0 ..< parts` into contiguous, in-order, non-empty ranges, one per worker, and runs `body` on
  /// each concurrently; `multiplyAdds` is the work of the whole job, for deciding whether more than one
  /// worker pays. Returns when every range is done; calls nothing when `parts` is 0.
  /// Default: `body(0 ..< parts)` on the calling thread.
  func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void)
}

extension MatmulBackend {
  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    multiply(m: m, a: a, lda: lda, b: b, columns: 0..<b.cols, c: c, ldc: ldc, accumulate: accumulate)
  }

  public func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
    if parts > 0 { body(0..<parts) }
  }

  /// `A (M, K) x B (K, N)` on tensors.
  public func matmul<S: RNNScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S> {
    precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[0],
                 "matmul: shapes \(a.shape) x \(b.shape) do not chain")
    let m = a.shape[0], n = b.shape[1]
    let pb = prepare(b)
    var c = [S](repeating: 0, count: m * n)
    a.scalars.withUnsafeBufferPointer { ap in
      c.withUnsafeMutableBufferPointer { cp in
        if m > 0 && n > 0 {
          multiply(m: m, a: ap.baseAddress!, lda: a.shape[1], b: pb, c: cp.baseAddress!, ldc: n, accumulate: false)
        }
      }
    }
    return Tensor(uncheckedShape: [m, n], scalars: c)
  }
}

/// Checks a column slice against the contract (a caller's programming error otherwise).
@inline(__always)
func checkColumns<S: RNNScalar>(_ columns: Range<Int>, _ b: PreparedMatrix<S>) {
  precondition(columns.lowerBound >= 0 && columns.upperBound <= b.cols
               && columns.lowerBound % b.columnGranularity == 0
               && (columns.upperBound % b.columnGranularity == 0 || columns.upperBound == b.cols),
               "multiply: columns \(columns) of \(b.cols) not on the granularity \(b.columnGranularity)")
}

/// A backend's own storage in `b` (a matrix prepared by another backend is a caller's programming error).
@inline(__always)
func storage<S: RNNScalar, T: AnyObject>(of b: PreparedMatrix<S>, as _: T.Type, backend: String) -> T {
  guard let s = b.storage as? T else {
    preconditionFailure("\(backend).multiply: B was prepared by another backend (\(type(of: b.storage)))")
  }
  return s
}

/// The textbook triple loop, summing over k in order: the reference the fast
/// backend is tested against.
public struct NaiveMatmul: MatmulBackend {
  public init() {}
  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    return PreparedMatrix(rows: b.shape[0], cols: b.shape[1], columnGranularity: 1,
                          storage: RowMajorStorage(b.scalars))
  }
  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    checkColumns(columns, b)
    let k = b.rows, n = b.cols
    storage(of: b, as: RowMajorStorage<S>.self, backend: "NaiveMatmul").scalars.withUnsafeBufferPointer { bp in
      for i in 0..<m {
        for j in columns {
          var s: S = accumulate ? c[i * ldc + j] : 0
          for p in 0..<k { s += a[i * lda + p] * bp[p * n + j] }
          c[i * ldc + j] = s
        }
      }
    }
  }
}

/// The pure-Swift backend (selectable: `RNNCONF_GEMM_BACKEND=swift`, or pass it to `Engine.run`). Float: `B` packed in column panels of 16 (the column granularity),
/// a register-blocked SIMD micro-kernel (4 rows x 16 or 4 x 8 columns, see `Kernel`), K blocked so a
/// panel stays in L1, and the panels split over `threads` cores for large
/// products. Double: a straightforward i-k-j loop over row-major `B` (the oracle path), column
/// granularity 1.
public struct SwiftMatmul: MatmulBackend {
  /// Worker threads for large products (1 = never spawn).
  public var threads: Int
  /// Products below this many multiply-adds run on the calling thread.
  public var parallelThreshold: Int
  /// How the workers run (`ThreadingPolicy.default` unless given).
  public var threading: ThreadingPolicy
  /// Tests force a micro-kernel; nil = the one timed fastest (`chosenKernel`).
  var forcedKernel: Kernel? = nil

  public init(threads: Int = SwiftMatmul.defaultThreads, parallelThreshold: Int = 1 << 20,
              threading: ThreadingPolicy = .default) {
    self.threads = max(1, threads); self.parallelThreshold = parallelThreshold; self.threading = threading
  }

  public static var defaultThreads: Int { SystemInfo.activeProcessorCount }

  static let panel = 16
  static let kBlock = 256
  static let mBlock = 96

  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    let k = b.shape[0], n = b.shape[1]
    guard S.self == Float.self else {
      return PreparedMatrix(rows: k, cols: n, columnGranularity: 1, storage: RowMajorStorage(b.scalars))
    }
    // concrete Float code: this runs once per weight per run, through an existential
    return PreparedMatrix(rows: k, cols: n, columnGranularity: Self.panel,
                          storage: PackedPanels(unsafeBitCast(b.scalars, to: [Float].self), k: k, n: n))
  }

  /// Float `B` in panels of `panel` columns, each `(K, panel)` contiguous, zero-padded at the right
  /// edge, in one 64-byte aligned allocation (raw memory the workers read; never written after init).
  final class PackedPanels: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    init(_ b: [Float], k: Int, n: Int) {
      let w = SwiftMatmul.panel
      let panels = (n + w - 1) / w
      count = max(1, panels * k * w)
      base = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        .bindMemory(to: Float.self, capacity: count)
      base.initialize(repeating: 0, count: count)
      b.withUnsafeBufferPointer { src in
        for jp in 0..<panels {
          let j0 = jp * w
          let cols = min(w, n - j0)
          for p in 0..<k {
            (base + (jp * k + p) * w).update(from: src.baseAddress! + p * n + j0, count: cols)
          }
        }
      }
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
  }

  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    checkColumns(columns, b)
    if m == 0 || columns.isEmpty { return }
    if S.self == Float.self {
      let panels = storage(of: b, as: PackedPanels.self, backend: "SwiftMatmul")
      let w = Self.panel
      Self.floatPanels((columns.lowerBound / w)..<((columns.upperBound + w - 1) / w), m: m, k: b.rows, n: b.cols,
                       a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda, pb: panels.base,
                       c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc,
                       accumulate: accumulate, kernel: kernel)
      return
    }
    rowMajorMultiply(m: m, a: a, lda: lda, b: b, columns: columns, c: c, ldc: ldc, accumulate: accumulate)
  }

  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if m == 0 || b.cols == 0 { return }
    if S.self == Float.self {
      // Each worker owns a contiguous range of panels (disjoint columns of C),
      // so the workers never write the same element.
      let panels = storage(of: b, as: PackedPanels.self, backend: "SwiftMatmul")
      let k = b.rows, n = b.cols, kernel = kernel
      let ptrs = SendablePointers(a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), b: panels.base,
                                  c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self))
      forEachSlice(of: (n + Self.panel - 1) / Self.panel, multiplyAdds: m * n * k) { range in
        Self.floatPanels(range, m: m, k: k, n: n, a: ptrs.a, lda: lda, pb: ptrs.b, c: ptrs.c, ldc: ldc,
                         accumulate: accumulate, kernel: kernel)
      }
      return
    }
    rowMajorMultiply(m: m, a: a, lda: lda, b: b, columns: 0..<b.cols, c: c, ldc: ldc, accumulate: accumulate)
  }

  /// Up to `threads` workers when the job has at least `parallelThreshold` multiply-adds, run as
  /// `threading` says (`parallelSlices`).
  public func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
    parallelSlices(of: parts, multiplyAdds: multiplyAdds, threads: threads, parallelThreshold: parallelThreshold,
                   threading: threading, body)
  }

  /// The micro-kernel used: the forced one (tests), else the one timed fastest.
  var kernel: Kernel { forcedKernel ?? Self.chosenKernel }

  /// Row-major `B`: Double (the oracle path, not the hot one) and any other non-Float scalar.
  func rowMajorMultiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if S.self == Double.self {
      // a concrete call, so the loop is specialised (the caller reached us through an existential)
      genericMultiply(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda,
                      b: storage(of: b, as: RowMajorStorage<Double>.self, backend: "SwiftMatmul").scalars,
                      k: b.rows, n: b.cols, columns: columns,
                      c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc,
                      accumulate: accumulate)
      return
    }
    genericMultiply(m: m, a: a, lda: lda, b: storage(of: b, as: RowMajorStorage<S>.self, backend: "SwiftMatmul").scalars,
                    k: b.rows, n: b.cols, columns: columns, c: c, ldc: ldc, accumulate: accumulate)
  }

  /// i-k-j over the columns `columns` of row-major `b (k, n)`; each element of C sums over k in order.
  func genericMultiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: [S], k: Int, n: Int, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    let j0 = columns.lowerBound, width = columns.count
    b.withUnsafeBufferPointer { bp in
      for i in 0..<m {
        let crow = c + i * ldc + j0
        if !accumulate { crow.update(repeating: 0, count: width) }
        for p in 0..<k {
          let av = a[i * lda + p]
          if av == 0 { continue }
          let brow = bp.baseAddress! + p * n + j0
          for j in 0..<width { crow[j] += av * brow[j] }
        }
      }
    }
  }

  /// Micro-kernel shapes. `wide`: 4 rows x 16 columns per pass (8 SIMD8
  /// accumulators: fits 16 AVX registers). `narrow`: 4 rows x 8 columns, twice per
  /// panel (8 SSE registers of accumulators: fits the x86-64 baseline Swift
  /// compiles for unless given `-target-cpu`). `flat`: 2 rows x 16 columns (one
  /// broadcast per 16 products: fewer shuffles on SSE). Both sum over k in the same order
  /// with the same operations, so they give the same bits; the faster one for
  /// the code the compiler generated is chosen once by timing both.
  enum Kernel: Sendable, CaseIterable { case wide, narrow, flat }

  /// The kernel shape used by this process (timed on first use).
  public static var kernelShape: String { "\(chosenKernel)" }

  static let chosenKernel: Kernel = {
    if let forced = getenv("RNNCONF_GEMM_KERNEL").map({ String(cString: $0) }) {
      if forced == "wide" { return .wide }
      if forced == "narrow" { return .narrow }
      if forced == "flat" { return .flat }
    }
    return autotune()
  }()

  static func autotune() -> Kernel {
    let m = 48, k = 256, n = 128
    let a = [Float](repeating: 0.5, count: m * k)
    let b = PackedPanels([Float](repeating: 0.25, count: k * n), k: k, n: n)
    var c = [Float](repeating: 0, count: m * n)
    func time(_ kernel: Kernel) -> UInt64 {
      var best = UInt64.max
      a.withUnsafeBufferPointer { ap in
        c.withUnsafeMutableBufferPointer { cp in
          for _ in 0..<3 {
            let t0 = threadCPUNanoseconds()
            for _ in 0..<4 {
              floatPanels(0..<(n / panel), m: m, k: k, n: n, a: ap.baseAddress!, lda: k, pb: b.base,
                          c: cp.baseAddress!, ldc: n, accumulate: false, kernel: kernel)
            }
            best = min(best, threadCPUNanoseconds() &- t0)
          }
        }
      }
      return best
    }
    // thread CPU time, kernels alternated over several rounds, each one's best kept:
    // load from other processes should not decide the choice
    var best = [Kernel: UInt64]()
    for _ in 0..<4 {
      for kernel in Kernel.allCases { best[kernel] = min(best[kernel] ?? .max, time(kernel)) }
    }
    return Kernel.allCases.min { best[$0]! < best[$1]! }!
  }

  /// CPU time of the calling thread (time while preempted by other processes does not count).
  static func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
  }

  static func floatPanels(
    _ panelRange: Range<Int>, m: Int, k: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
    pb: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, kernel: Kernel
  ) {
    let w = panel
    var k0 = 0
    repeat {
      let kc = min(kBlock, k - k0)
      let acc = accumulate || k0 > 0
      var i0 = 0
      while i0 < m {
        let mc = min(mBlock, m - i0)
        for jp in panelRange {
          let j0 = jp * w
          let cols = min(w, n - j0)
          let bpanel = pb + (jp * k + k0) * w
          var i = i0
          let end = i0 + mc
          while kernel == .flat && i + 2 <= end {
            kernel2x16(kc: kc, a: a + i * lda + k0, lda: lda, b: bpanel, c: c + i * ldc + j0, ldc: ldc, cols: cols,
                       accumulate: acc)
            i += 2
          }
          while i + 4 <= end {
            let ai = a + i * lda + k0, ci = c + i * ldc + j0
            if kernel == .wide {
              kernel4x16(kc: kc, a: ai, lda: lda, b: bpanel, c: ci, ldc: ldc, cols: cols, accumulate: acc)
            } else {
              for half in stride(from: 0, to: cols, by: 8) {
                kernel4x8(kc: kc, a: ai, lda: lda, b: bpanel + half, c: ci + half, ldc: ldc,
                          cols: min(8, cols - half), accumulate: acc)
              }
            }
            i += 4
          }
          // remaining rows: 2, 1 at a time (8 columns per pass)
          for rows in [2, 1] {
            while i + rows <= end {
              let ai = a + i * lda + k0, ci = c + i * ldc + j0
              for half in stride(from: 0, to: cols, by: 8) {
                let hc = min(8, cols - half)
                switch rows {
                case 2: kernelRx8(rows: 2, kc: kc, a: ai, lda: lda, b: bpanel + half, c: ci + half, ldc: ldc, cols: hc, accumulate: acc)
                default: kernelRx8(rows: 1, kc: kc, a: ai, lda: lda, b: bpanel + half, c: ci + half, ldc: ldc, cols: hc, accumulate: acc)
                }
              }
              i += rows
            }
          }
        }
        i0 += mc
      }
      k0 += kc
    } while k0 < k
  }

  @inline(__always)
  static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }

  @inline(__always)
  static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, cols: Int, accumulate: Bool) {
    if cols == 8 {
      let r = UnsafeMutableRawPointer(p)
      if accumulate {
        r.storeBytes(of: r.loadUnaligned(as: SIMD8<Float>.self) + v, as: SIMD8<Float>.self)
      } else {
        r.storeBytes(of: v, as: SIMD8<Float>.self)
      }
    } else {
      for j in 0..<cols { p[j] = accumulate ? p[j] + v[j] : v[j] }
    }
  }

  @inline(__always)
  static func store16(_ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, cols: Int,
                      accumulate: Bool) {
    store8(lo, p, cols: min(cols, 8), accumulate: accumulate)
    if cols > 8 { store8(hi, p + 8, cols: cols - 8, accumulate: accumulate) }
  }

  /// C[4, 16] (+)= A[4, kc] x Bpanel[kc, 16]: 8 SIMD8 accumulators, two B
  /// vectors, a broadcast and a product temporary fit 16 AVX registers.
  @inline(__always)
  static func kernel4x16(
    kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, accumulate: Bool
  ) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    var bp = b
    for p in 0..<kc {
      let b0 = load8(bp), b1 = load8(bp + 8)
      var s = SIMD8<Float>(repeating: a0[p]); c00 += b0 * s; c01 += b1 * s
      s = SIMD8<Float>(repeating: a1[p]); c10 += b0 * s; c11 += b1 * s
      s = SIMD8<Float>(repeating: a2[p]); c20 += b0 * s; c21 += b1 * s
      s = SIMD8<Float>(repeating: a3[p]); c30 += b0 * s; c31 += b1 * s
      bp += 16
    }
    store16(c00, c01, c, cols: cols, accumulate: accumulate)
    store16(c10, c11, c + ldc, cols: cols, accumulate: accumulate)
    store16(c20, c21, c + 2 * ldc, cols: cols, accumulate: accumulate)
    store16(c30, c31, c + 3 * ldc, cols: cols, accumulate: accumulate)
  }

  /// C[2, 16] (+)= A[2, kc] x Bpanel[kc, 16]: one broadcast feeds 16 columns
  /// (fewer shuffles per product on SSE).
  @inline(__always)
  static func kernel2x16(
    kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, accumulate: Bool
  ) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    let a0 = a, a1 = a + lda
    var bp = b
    for p in 0..<kc {
      let b0 = load8(bp), b1 = load8(bp + 8)
      var s = SIMD8<Float>(repeating: a0[p]); c00 += b0 * s; c01 += b1 * s
      s = SIMD8<Float>(repeating: a1[p]); c10 += b0 * s; c11 += b1 * s
      bp += 16
    }
    store16(c00, c01, c, cols: cols, accumulate: accumulate)
    store16(c10, c11, c + ldc, cols: cols, accumulate: accumulate)
  }

  /// C[4, 8] (+)= A[4, kc] x B[kc, 8] where B rows are `panel` apart: 4 SIMD8
  /// accumulators (8 SSE registers).
  @inline(__always)
  static func kernel4x8(
    kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, accumulate: Bool
  ) {
    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    var bp = b
    for p in 0..<kc {
      let bv = load8(bp)
      c0 += bv * a0[p]
      c1 += bv * a1[p]
      c2 += bv * a2[p]
      c3 += bv * a3[p]
      bp += panel
    }
    store8(c0, c, cols: cols, accumulate: accumulate)
    store8(c1, c + ldc, cols: cols, accumulate: accumulate)
    store8(c2, c + 2 * ldc, cols: cols, accumulate: accumulate)
    store8(c3, c + 3 * ldc, cols: cols, accumulate: accumulate)
  }

  /// C[rows, 8] (+)= A[rows, kc] x B[kc, 8], rows <= 4 (edge rows).
  @inline(__always)
  static func kernelRx8(
    rows: Int, kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, accumulate: Bool
  ) {
    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
    let a0 = a, a1 = a + min(1, rows - 1) * lda, a2 = a + min(2, rows - 1) * lda, a3 = a + min(3, rows - 1) * lda
    var bp = b
    for p in 0..<kc {
      let bv = load8(bp)
      c0 += bv * a0[p]
      if rows > 1 { c1 += bv * a1[p] }
      if rows > 2 { c2 += bv * a2[p]; c3 += bv * a3[p] }
      bp += panel
    }
    store8(c0, c, cols: cols, accumulate: accumulate)
    if rows > 1 { store8(c1, c + ldc, cols: cols, accumulate: accumulate) }
    if rows > 2 {
      store8(c2, c + 2 * ldc, cols: cols, accumulate: accumulate)
      store8(c3, c + 3 * ldc, cols: cols, accumulate: accumulate)
    }
  }
}

/// Pointers handed to GEMM workers, which write disjoint parts of `c`.
struct SendablePointers: @unchecked Sendable {
  let a: UnsafePointer<Float>
  let b: UnsafePointer<Float>
  let c: UnsafeMutablePointer<Float>
}

/// The worker policy of the package's backends: up to `threads` workers when the job has at least
/// `parallelThreshold` multiply-adds (else `body(0 ..< parts)` on the calling thread); worker `w` of
/// `n` gets `parts * w / n ..< parts * (w + 1) / n`. `threading` runs the workers: the persistent pool
/// (worker w on pool thread w; when the pool is busy with another job, the calling thread runs the
/// same slices one after the other) or a `DispatchQueue.concurrentPerform` per job.
func parallelSlices(of parts: Int, multiplyAdds: Int, threads: Int, parallelThreshold: Int,
                    threading: ThreadingPolicy = .default, _ body: @Sendable (Range<Int>) -> Void) {
  if parts <= 0 { return }
  let workers = (threads > 1 && multiplyAdds >= parallelThreshold) ? min(threads, parts) : 1
  if workers == 1 {
    body(0..<parts)
    return
  }
  switch threading {
  case .pool:
    // the pool busy (a nested job, or another thread's): the same slices, one after the other here,
    // so a job's split never depends on whether the pool was free
    if !WorkerPool.run(parts: parts, workers: workers, body) {
      for w in 0..<workers { body((parts * w / workers)..<(parts * (w + 1) / workers)) }
    }
  case .dispatch:
    DispatchQueue.concurrentPerform(iterations: workers) { w in
      body((parts * w / workers)..<(parts * (w + 1) / workers))
    }
  }
}

/// The engine's default backend and the run-time choice of it.
public enum Matmul {
  /// The backends a process can choose by name.
  public enum Choice: String, CaseIterable, Sendable {
    /// `NativeMatmul`: the C micro-kernels, the fastest this CPU supports (`NativeKernel.default`).
    case native
    /// `SwiftMatmul`: the pure-Swift kernels.
    case swift

    /// A new backend of this kind with `threads` workers run as `threading` says.
    public func backend(threads: Int = SwiftMatmul.defaultThreads,
                        threading: ThreadingPolicy = .default) -> any MatmulBackend {
      switch self {
      // the process default kernel is always supported
      case .native: try! NativeMatmul(threads: threads, threading: threading)
      case .swift: SwiftMatmul(threads: threads, threading: threading)
      }
    }
  }

  /// The environment variable naming the default backend (`native` or `swift`).
  public static let environmentVariable = "RNNCONF_GEMM_BACKEND"

  /// The default's kind: the one `RNNCONF_GEMM_BACKEND` names, else `native` (every CPU: the C
  /// kernels include a portable one). An unknown name is reported on stderr and ignored.
  public static let defaultChoice: Choice = {
    guard let raw = getenv(environmentVariable).map({ String(cString: $0) }), !raw.isEmpty else { return .native }
    if let choice = Choice(rawValue: raw.lowercased()) { return choice }
    let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
    let message = "rnnconf: \(environmentVariable)=\(raw) is not a backend (\(names)); using native\n"
    _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    return .native
  }()

  /// The process default: `defaultChoice` on all processors.
  public static let processDefault: any MatmulBackend = defaultChoice.backend()

  @TaskLocal static var taskDefault: (any MatmulBackend)? = nil

  /// The backend `Engine` uses unless one is passed: the one `withDefault` set for the current task,
  /// else `processDefault`.
  public static var `default`: any MatmulBackend { taskDefault ?? processDefault }

  /// Runs `body` with `backend` as `default` for the current task (and the tasks it creates).
  public static func withDefault<R>(_ backend: any MatmulBackend, _ body: () throws -> R) rethrows -> R {
    try $taskDefault.withValue(backend, operation: body)
  }
}
