/// A `MatmulBackend` over the C micro-kernels (`NativeKernel`): `B` packed once into the kernel's
/// column panels (a `NativePackedMatrix`, the `PreparedMatrix.storage`), the panel width as the column
/// granularity, column slices on the calling thread through the single-threaded C kernel, and the
/// same worker policy as `SwiftMatmul` (`parallelSlices`, the worker pool unless `threading` says
/// otherwise) for whole products and the engine's fused step. Float and Double. The engine's default (`Matmul.default`).
public struct NativeMatmul: MatmulBackend {
  /// The micro-kernel every matrix this backend prepares is packed for (fixed at `init`).
  public let kernel: NativeKernel
  /// Worker threads for large products (1 = never spawn).
  public var threads: Int
  /// Products below this many multiply-adds run on the calling thread.
  public var parallelThreshold: Int
  /// How the workers run (`ThreadingPolicy.default` unless given).
  public var threading: ThreadingPolicy

  /// `kernel` nil: the process default (`NativeKernel.default`, always supported). Throws when the
  /// CPU or OS lacks `kernel`'s instructions.
  public init(kernel: NativeKernel? = nil, threads: Int = SwiftMatmul.defaultThreads,
              parallelThreshold: Int = 1 << 20, threading: ThreadingPolicy = .default) throws(NativeKernelError) {
    let k = kernel ?? .default
    guard k.isSupported else { throw .unsupported(k) }
    self.kernel = k
    self.threads = max(1, threads); self.parallelThreshold = parallelThreshold; self.threading = threading
  }

  public func prepare<S: RNNScalar>(_ b: Tensor<S>) -> PreparedMatrix<S> {
    precondition(b.rank == 2, "prepare: B must be rank 2, got shape \(b.shape)")
    // concrete Float/Double code: this runs once per weight per run, through an existential
    if S.self == Float.self {
      return unsafeBitCast(packed(unsafeBitCast(b, to: Tensor<Float>.self)), to: PreparedMatrix<S>.self)
    }
    if S.self == Double.self {
      return unsafeBitCast(packed(unsafeBitCast(b, to: Tensor<Double>.self)), to: PreparedMatrix<S>.self)
    }
    // no other RNNScalar exists today; row-major and the plain loop keep this total
    return PreparedMatrix(rows: b.shape[0], cols: b.shape[1], columnGranularity: 1, storage: RowMajorStorage(b.scalars))
  }

  func packed<T: NativeGEMMScalar>(_ b: Tensor<T>) -> PreparedMatrix<T> {
    // `kernel` was checked supported at init: packing cannot fail
    let p = try! NativePackedMatrix(b, kernel: kernel)
    return PreparedMatrix(rows: p.rows, cols: p.cols, columnGranularity: p.panelWidth, storage: p)
  }

  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>, columns: Range<Int>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    checkColumns(columns, b)
    if m == 0 || columns.isEmpty { return }
    if S.self == Float.self {
      storage(of: b, as: NativePackedMatrix<Float>.self, backend: "NativeMatmul").multiply(
        m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda: lda, columns: columns,
        c: UnsafeMutableRawPointer(c + columns.lowerBound).assumingMemoryBound(to: Float.self), ldc: ldc,
        accumulate: accumulate)
    } else if S.self == Double.self {
      storage(of: b, as: NativePackedMatrix<Double>.self, backend: "NativeMatmul").multiply(
        m: m, a: UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda: lda, columns: columns,
        c: UnsafeMutableRawPointer(c + columns.lowerBound).assumingMemoryBound(to: Double.self), ldc: ldc,
        accumulate: accumulate)
    } else {
      let bs = storage(of: b, as: RowMajorStorage<S>.self, backend: "NativeMatmul").scalars
      for i in 0..<m {
        for j in columns {
          var s: S = accumulate ? c[i * ldc + j] : 0
          for p in 0..<b.rows { s += a[i * lda + p] * bs[p * b.cols + j] }
          c[i * ldc + j] = s
        }
      }
    }
  }

  /// The whole product: the panels split over the workers (`forEachSlice`), each worker's columns
  /// through the column form (disjoint columns of C, so no two workers write one element).
  public func multiply<S: RNNScalar>(
    m: Int, a: UnsafePointer<S>, lda: Int, b: PreparedMatrix<S>,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    if m == 0 || b.cols == 0 { return }
    let w = b.columnGranularity, n = b.cols
    let ptrs = UncheckedPointers(a: a, c: c)
    forEachSlice(of: (n + w - 1) / w, multiplyAdds: m * n * b.rows) { panels in
      self.multiply(m: m, a: ptrs.a, lda: lda, b: b, columns: (panels.lowerBound * w)..<min(n, panels.upperBound * w),
                    c: ptrs.c, ldc: ldc, accumulate: accumulate)
    }
  }

  /// `SwiftMatmul`'s policy: up to `threads` workers when the job has at least `parallelThreshold`
  /// multiply-adds, run as `threading` says.
  public func forEachSlice(of parts: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
    parallelSlices(of: parts, multiplyAdds: multiplyAdds, threads: threads, parallelThreshold: parallelThreshold,
                   threading: threading, body)
  }
}

/// A and C handed to workers, which write disjoint columns of C.
private struct UncheckedPointers<S>: @unchecked Sendable {
  let a: UnsafePointer<S>
  let c: UnsafeMutablePointer<S>
}
