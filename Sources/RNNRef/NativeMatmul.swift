import Dispatch

/// A `MatmulBackend` over the C micro-kernels (`NativeKernel`): `B` packed in the kernel's column
/// panels, the panels split over `threads` workers for large products, each worker calling the
/// single-threaded C kernel on its column range. Float and Double.
public struct NativeMatmul: MatmulBackend {
  /// The micro-kernel every product uses (fixed at `init`).
  public let kernel: NativeKernel
  /// Worker threads for large products (1 = never spawn).
  public var threads: Int
  /// Products below this many multiply-adds run on the calling thread.
  public var parallelThreshold: Int

  /// `kernel` nil: the process default (`NativeKernel.default`).
  public init(kernel: NativeKernel? = nil, threads: Int = SwiftMatmul.defaultThreads,
              parallelThreshold: Int = 1 << 20) throws(NativeKernelError) {
    let k = kernel ?? .default
    guard k.isSupported else { throw .unsupported(k) }
    self.kernel = k
    self.threads = max(1, threads); self.parallelThreshold = parallelThreshold
  }

  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    if S.self == Float.self {
      return unsafeBitCast(prepared(unsafeBitCast(b, to: Tensor<Float>.self)), to: PreparedMatrix<S>.self)
    }
    if S.self == Double.self {
      return unsafeBitCast(prepared(unsafeBitCast(b, to: Tensor<Double>.self)), to: PreparedMatrix<S>.self)
    }
    return PreparedMatrix(rows: b.shape[0], cols: b.shape[1], rowMajor: b.scalars)
  }

  func prepared<T: NativeGEMMScalar>(_ b: Tensor<T>) -> PreparedMatrix<T> {
    let k = b.shape[0], n = b.shape[1]
    var packed = [T](repeating: 0, count: T.packedCount(kernel.id, k: k, n: n))
    if !packed.isEmpty {
      packed.withUnsafeMutableBufferPointer { dst in
        b.scalars.withUnsafeBufferPointer { src in
          let rc = T.pack(kernel.id, k: k, n: n, b: src.baseAddress!, ldb: n, into: dst.baseAddress!)
          precondition(rc == 0, "rnn_gemm_pack failed for the supported kernel \(kernel)")
        }
      }
    }
    return PreparedMatrix(rows: k, cols: n, rowMajor: b.scalars, packed: packed, panelWidth: T.panelWidth(kernel.id))
  }

  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if S.self == Float.self {
      multiplyNative(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda,
                     b: unsafeBitCast(b, to: PreparedMatrix<Float>.self),
                     c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc, accumulate: accumulate)
    } else if S.self == Double.self {
      multiplyNative(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda,
                     b: unsafeBitCast(b, to: PreparedMatrix<Double>.self),
                     c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc, accumulate: accumulate)
    } else {
      NaiveMatmul().multiply(m: m, a: a, lda: lda, b: b, c: c, ldc: ldc, accumulate: accumulate)
    }
  }

  /// `C[i, j - columns.lowerBound] (+)= sum_p A[i, p] B[p, j]` for `j` in `columns`, on the calling
  /// thread (`c` points at the element receiving column `columns.lowerBound`): what one worker of a
  /// fused recurrent step runs for its slice of hidden units. Float and Double only.
  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    precondition(columns.lowerBound >= 0 && columns.upperBound <= b.cols, "multiply: columns \(columns) of \(b.cols)")
    if S.self == Float.self {
      multiplyNative(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda,
                     b: unsafeBitCast(b, to: PreparedMatrix<Float>.self), columns: columns,
                     c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc, accumulate: accumulate)
    } else if S.self == Double.self {
      multiplyNative(m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda,
                     b: unsafeBitCast(b, to: PreparedMatrix<Double>.self), columns: columns,
                     c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldc: ldc, accumulate: accumulate)
    } else {
      // no other RNNScalar exists today; the plain loop keeps this total
      let n = b.cols
      b.rowMajor.withUnsafeBufferPointer { bp in
        for i in 0..<m {
          for j in columns {
            let cij = c + i * ldc + (j - columns.lowerBound)
            var s: S = accumulate ? cij.pointee : 0
            for p in 0..<b.rows { s += a[i * lda + p] * bp[p * n + j] }
            cij.pointee = s
          }
        }
      }
    }
  }

  func multiplyNative<T: NativeGEMMScalar>(
    m: Int, a: UnsafePointer<T>, lda: Int, b: PreparedMatrix<T>,
    columns: Range<Int>? = nil, c: UnsafeMutablePointer<T>, ldc: Int, accumulate: Bool
  ) {
    let k = b.rows, n = b.cols
    if m == 0 || n == 0 || columns?.isEmpty == true { return }
    let w = T.panelWidth(kernel.id)
    // panels of width w are the same layout for every kernel of that width; anything else
    // (another backend's matrix) is packed here for this product
    let own = b.panelWidth == w ? b : prepared(Tensor(shape: [k, n], scalars: b.rowMajor))
    let panels = (n + w - 1) / w
    let workers = columns == nil && threads > 1 && m * n * k >= parallelThreshold ? min(threads, panels) : 1
    let id = kernel.id
    own.packed.withUnsafeBufferPointer { packed in
      // k == 0: nothing packed; the kernel only zeroes C (or leaves it) and reads no panel
      let pb = packed.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<T>.alignment)!
      let ptrs = NativePointers(a: a, b: pb, c: c)
      let body: @Sendable (Int) -> Void = { worker in
        var j0 = panels * worker / workers * w, j1 = min(n, panels * (worker + 1) / workers * w)
        if let columns { (j0, j1) = (columns.lowerBound, columns.upperBound) }
        if j0 >= j1 { return }
        let rc = T.gemm(id, m: m, k: k, n: n, j0: j0, j1: j1, a: ptrs.a, lda: lda, packed: ptrs.b,
                        c: ptrs.c + (j0 - (columns?.lowerBound ?? 0)), ldc: ldc, accumulate: accumulate)
        precondition(rc == 0, "rnn_gemm failed: columns \(j0)..<\(j1) of \(n)")
      }
      if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
    }
  }
}

/// Pointers handed to GEMM workers, which write disjoint columns of `c`.
private struct NativePointers<T>: @unchecked Sendable {
  let a: UnsafePointer<T>
  let b: UnsafePointer<T>
  let c: UnsafeMutablePointer<T>
}
