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

/// A constant right operand `B (K, N)` prepared once for repeated products
/// (weights: the kernel, the recurrent kernel, the projection). A backend
/// chooses the layout in `prepare`; `rowMajor` always holds the original.
public struct PreparedMatrix<S: RNNScalar>: @unchecked Sendable {
  public let rows: Int
  public let cols: Int
  /// `B` row-major, `(rows, cols)`.
  public let rowMajor: [S]
  /// Backend-specific layout (e.g. column panels); empty when unused.
  public let packed: [S]
  /// Width of a column panel in `packed` (0 when unused).
  public let panelWidth: Int

  public init(rows: Int, cols: Int, rowMajor: [S], packed: [S] = [], panelWidth: Int = 0) {
    precondition(rowMajor.count == rows * cols, "PreparedMatrix: \(rowMajor.count) scalars for (\(rows), \(cols))")
    self.rows = rows; self.cols = cols; self.rowMajor = rowMajor
    self.packed = packed; self.panelWidth = panelWidth
  }
}

/// Matrix products the engine runs through: `C (M, N) = A (M, K) x B (K, N)`,
/// plus `C` when `accumulate`. Row-major; `A` and `C` with leading dimensions
/// (row strides) `lda`, `ldc`. Plug a BLAS in by conforming to this protocol.
public protocol MatmulBackend: Sendable {
  func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S>
  func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool)
}

extension MatmulBackend {
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
    return Tensor(shape: [m, n], scalars: c)
  }
}

/// The textbook triple loop, summing over k in order: the reference the fast
/// backend is tested against.
public struct NaiveMatmul: MatmulBackend {
  public init() {}
  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    return PreparedMatrix(rows: b.shape[0], cols: b.shape[1], rowMajor: b.scalars)
  }
  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    let k = b.rows, n = b.cols
    b.rowMajor.withUnsafeBufferPointer { bp in
      for i in 0..<m {
        for j in 0..<n {
          var s: S = accumulate ? c[i * ldc + j] : 0
          for p in 0..<k { s += a[i * lda + p] * bp[p * n + j] }
          c[i * ldc + j] = s
        }
      }
    }
  }
}

/// The default pure-Swift backend. Float: `B` packed in column panels of 16,
/// a register-blocked SIMD micro-kernel (4 rows x 16 columns), K blocked so a
/// panel stays in L1, and the panels split over `threads` cores for large
/// products. Double: a straightforward i-k-j loop (the oracle path, not the hot one).
public struct SwiftMatmul: MatmulBackend {
  /// Worker threads for large products (1 = never spawn).
  public var threads: Int
  /// Products below this many multiply-adds run on the calling thread.
  public var parallelThreshold: Int

  public init(threads: Int = SwiftMatmul.defaultThreads, parallelThreshold: Int = 1 << 20) {
    self.threads = max(1, threads); self.parallelThreshold = parallelThreshold
  }

  public static var defaultThreads: Int { SystemInfo.activeProcessorCount }

  static let panel = 16
  static let kBlock = 256
  static let mBlock = 96

  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    let k = b.shape[0], n = b.shape[1]
    guard S.self == Float.self else { return PreparedMatrix(rows: k, cols: n, rowMajor: b.scalars) }
    // Panels of `panel` columns, each (K, panel) contiguous, zero-padded at the right edge.
    let w = Self.panel
    let panels = (n + w - 1) / w
    var packed = [S](repeating: 0, count: panels * k * w)
    for jp in 0..<panels {
      let j0 = jp * w
      let cols = min(w, n - j0)
      for p in 0..<k {
        let dst = (jp * k + p) * w
        let src = p * n + j0
        for j in 0..<cols { packed[dst + j] = b.scalars[src + j] }
      }
    }
    return PreparedMatrix(rows: k, cols: n, rowMajor: b.scalars, packed: packed, panelWidth: w)
  }

  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if m == 0 || b.cols == 0 { return }
    if S.self == Float.self && b.panelWidth == Self.panel {
      let fb = unsafeBitCast(b, to: PreparedMatrix<Float>.self)
      multiplyFloat(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda, b: fb,
                    c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc,
                    accumulate: accumulate)
      return
    }
    genericMultiply(m: m, a: a, lda: lda, b: b, c: c, ldc: ldc, accumulate: accumulate)
  }

  func genericMultiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    let k = b.rows, n = b.cols
    b.rowMajor.withUnsafeBufferPointer { bp in
      for i in 0..<m {
        let crow = c + i * ldc
        if !accumulate { crow.update(repeating: 0, count: n) }
        for p in 0..<k {
          let av = a[i * lda + p]
          if av == 0 { continue }
          let brow = bp.baseAddress! + p * n
          for j in 0..<n { crow[j] += av * brow[j] }
        }
      }
    }
  }

  func multiplyFloat(
    m: Int, a: UnsafePointer<Float>, lda: Int, b: PreparedMatrix<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
  ) {
    let k = b.rows, n = b.cols, w = Self.panel
    let panels = (n + w - 1) / w
    let work = m * n * k
    let workers = (threads > 1 && work >= parallelThreshold) ? min(threads, panels) : 1
    b.packed.withUnsafeBufferPointer { packed in
      // Each worker owns a contiguous range of panels (disjoint columns of C),
      // so the workers never write the same element.
      let ptrs = SendablePointers(a: a, b: packed.baseAddress!, c: c)
      let body: @Sendable (Int) -> Void = { worker in
        let p0 = panels * worker / workers, p1 = panels * (worker + 1) / workers
        Self.floatPanels(p0..<p1, m: m, k: k, n: n, a: ptrs.a, lda: lda, pb: ptrs.b, c: ptrs.c, ldc: ldc,
                         accumulate: accumulate)
      }
      if workers == 1 {
        body(0)
      } else {
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
      }
    }
  }

  @inline(__always)
  static func floatPanels(
    _ panelRange: Range<Int>, m: Int, k: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
    pb: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
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
          while i + 4 <= i0 + mc {
            kernel4x16(kc: kc, a: a + i * lda + k0, lda: lda, b: bpanel,
                       c: c + i * ldc + j0, ldc: ldc, cols: cols, accumulate: acc)
            i += 4
          }
          while i < i0 + mc {
            kernel1x16(kc: kc, a: a + i * lda + k0, b: bpanel, c: c + i * ldc + j0, cols: cols, accumulate: acc)
            i += 1
          }
        }
        i0 += mc
      }
      k0 += kc
    } while k0 < k
  }

  @inline(__always)
  static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
  }

  @inline(__always)
  static func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, cols: Int, accumulate: Bool) {
    if cols == 16 {
      let r = UnsafeMutableRawPointer(p)
      if accumulate {
        r.storeBytes(of: r.loadUnaligned(as: SIMD16<Float>.self) + v, as: SIMD16<Float>.self)
      } else {
        r.storeBytes(of: v, as: SIMD16<Float>.self)
      }
    } else {
      for j in 0..<cols { p[j] = accumulate ? p[j] + v[j] : v[j] }
    }
  }

  @inline(__always)
  static func kernel4x16(
    kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, accumulate: Bool
  ) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    var bp = b
    for p in 0..<kc {
      let bv = load16(bp)
      c0 += bv * a0[p]
      c1 += bv * a1[p]
      c2 += bv * a2[p]
      c3 += bv * a3[p]
      bp += 16
    }
    store16(c0, c, cols: cols, accumulate: accumulate)
    store16(c1, c + ldc, cols: cols, accumulate: accumulate)
    store16(c2, c + 2 * ldc, cols: cols, accumulate: accumulate)
    store16(c3, c + 3 * ldc, cols: cols, accumulate: accumulate)
  }

  @inline(__always)
  static func kernel1x16(
    kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, cols: Int, accumulate: Bool
  ) {
    var c0 = SIMD16<Float>()
    var bp = b
    for p in 0..<kc {
      c0 += load16(bp) * a[p]
      bp += 16
    }
    store16(c0, c, cols: cols, accumulate: accumulate)
  }
}

/// Pointers handed to GEMM workers, which write disjoint parts of `c`.
struct SendablePointers: @unchecked Sendable {
  let a: UnsafePointer<Float>
  let b: UnsafePointer<Float>
  let c: UnsafeMutablePointer<Float>
}

/// The engine's default backend.
public enum Matmul {
  public static let `default`: any MatmulBackend = SwiftMatmul()
}
