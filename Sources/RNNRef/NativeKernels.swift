import CRNNKernels
import Foundation

/// GEMM micro-kernels written in C (`Sources/CRNNKernels`), one per instruction set, each compiled
/// with a per-function target attribute: the package needs no compiler flags, and the kernel is
/// chosen when the process runs (CPUID + XGETBV), not when it is built.
public enum NativeKernel: String, CaseIterable, Sendable, CustomStringConvertible {
  /// Plain C with the compiler's generic vectors: runs on every CPU.
  case portable
  /// x86-64 AVX2 + FMA.
  case avx2
  /// x86-64 AVX-512F.
  case avx512

  var id: Int32 {
    switch self {
    case .portable: Int32(RNN_GEMM_PORTABLE)
    case .avx2: Int32(RNN_GEMM_AVX2)
    case .avx512: Int32(RNN_GEMM_AVX512)
    }
  }

  init?(id: Int32) {
    guard let k = NativeKernel.allCases.first(where: { $0.id == id }) else { return nil }
    self = k
  }

  public var description: String { rawValue }

  /// Whether this CPU has the instructions and the OS saves their registers.
  public var isSupported: Bool { rnn_gemm_kernel_supported(id) != 0 }

  /// The kernels this CPU can run, slowest first.
  public static var supported: [NativeKernel] { allCases.filter(\.isSupported) }

  /// The fastest kernel this CPU supports, by feature detection.
  public static var detected: NativeKernel { NativeKernel(id: rnn_gemm_detected_kernel())! }

  /// The kernel new packed matrices use unless told otherwise: the one set by `setDefault`, else the
  /// one the environment variable `RNNCONF_GEMM_KERNEL` names (`portable`, `avx2`, `avx512`; a kernel
  /// this CPU lacks is ignored), else `detected`.
  public static var `default`: NativeKernel { NativeKernel(id: rnn_gemm_default_kernel())! }

  /// The kernel a value of `RNNCONF_GEMM_KERNEL` selects, and why it is not the one named (`note`, nil when
  /// the request is honoured or names no kernel): a kernel this CPU lacks, or an unknown name, falls back to
  /// `detected`; the process default prints that note once on stderr instead of failing.
  public static func forRequest(_ requested: String?) -> (kernel: NativeKernel, note: String?) {
    var note = [CChar](repeating: 0, count: 256)
    let id = note.withUnsafeMutableBufferPointer { buf in
      rnn_gemm_kernel_for_request(requested, buf.baseAddress, buf.count)
    }
    let text = note.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (NativeKernel(id: id)!, text.isEmpty ? nil : text)
  }

  /// Sets the process default (`nil`: back to the environment variable, then detection). Matrices
  /// packed before keep their kernel.
  public static func setDefault(_ kernel: NativeKernel?) throws(NativeKernelError) {
    if rnn_gemm_set_default_kernel(kernel?.id ?? Int32(RNN_GEMM_AUTO)) != 0 {
      throw .unsupported(kernel ?? .portable)
    }
  }

  /// Columns per packed panel for scalar type `S`.
  public func panelWidth<S: NativeGEMMScalar>(for _: S.Type) -> Int { S.panelWidth(id) }
}

/// Why a native kernel could not be used.
public enum NativeKernelError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// The CPU (or the OS) lacks the kernel's instructions.
  case unsupported(NativeKernel)

  public var description: String {
    switch self {
    case let .unsupported(k):
      "GEMM kernel `\(k)` needs instructions this CPU or OS does not provide (supported here: "
        + NativeKernel.supported.map(\.rawValue).joined(separator: ", ") + ")"
    }
  }

  /// The same text as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }
}

/// Scalars the C kernels handle: `Float` and `Double`.
public protocol NativeGEMMScalar: RNNScalar {
  static func panelWidth(_ kernel: Int32) -> Int
  static func packedCount(_ kernel: Int32, k: Int, n: Int) -> Int
  static func pack(_ kernel: Int32, k: Int, n: Int, b: UnsafePointer<Self>, ldb: Int,
                   into packed: UnsafeMutablePointer<Self>) -> Int32
  static func gemm(_ kernel: Int32, m: Int, k: Int, n: Int, j0: Int, j1: Int, a: UnsafePointer<Self>, lda: Int,
                   packed: UnsafePointer<Self>, c: UnsafeMutablePointer<Self>, ldc: Int, accumulate: Bool) -> Int32
}

extension Float: NativeGEMMScalar {
  public static func panelWidth(_ kernel: Int32) -> Int { rnn_gemm_panel_width_f32(kernel) }
  public static func packedCount(_ kernel: Int32, k: Int, n: Int) -> Int { rnn_gemm_packed_count_f32(kernel, k, n) }
  public static func pack(_ kernel: Int32, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
                          into packed: UnsafeMutablePointer<Float>) -> Int32 {
    rnn_gemm_pack_f32(kernel, k, n, b, ldb, packed)
  }
  public static func gemm(_ kernel: Int32, m: Int, k: Int, n: Int, j0: Int, j1: Int, a: UnsafePointer<Float>,
                          lda: Int, packed: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                          accumulate: Bool) -> Int32 {
    rnn_gemm_f32(kernel, m, k, n, j0, j1, a, lda, packed, c, ldc, accumulate ? 1 : 0)
  }
}

extension Double: NativeGEMMScalar {
  public static func panelWidth(_ kernel: Int32) -> Int { rnn_gemm_panel_width_f64(kernel) }
  public static func packedCount(_ kernel: Int32, k: Int, n: Int) -> Int { rnn_gemm_packed_count_f64(kernel, k, n) }
  public static func pack(_ kernel: Int32, k: Int, n: Int, b: UnsafePointer<Double>, ldb: Int,
                          into packed: UnsafeMutablePointer<Double>) -> Int32 {
    rnn_gemm_pack_f64(kernel, k, n, b, ldb, packed)
  }
  public static func gemm(_ kernel: Int32, m: Int, k: Int, n: Int, j0: Int, j1: Int, a: UnsafePointer<Double>,
                          lda: Int, packed: UnsafePointer<Double>, c: UnsafeMutablePointer<Double>, ldc: Int,
                          accumulate: Bool) -> Int32 {
    rnn_gemm_f64(kernel, m, k, n, j0, j1, a, lda, packed, c, ldc, accumulate ? 1 : 0)
  }
}

/// A constant right operand `B (K, N)` packed once into the column panels of one native kernel.
/// Immutable after `init`, so several threads may multiply with it at once (on disjoint columns
/// of `C`).
public final class NativePackedMatrix<S: NativeGEMMScalar>: @unchecked Sendable {
  /// The kernel the panels were packed for (every product with this matrix uses it).
  public let kernel: NativeKernel
  /// K
  public let rows: Int
  /// N
  public let cols: Int
  /// Columns per panel.
  public let panelWidth: Int
  let storage: UnsafeMutablePointer<S>
  let count: Int

  /// Packs `B (rows, cols)`, row stride `ldb`, for `kernel`.
  public init(rows: Int, cols: Int, b: UnsafePointer<S>, ldb: Int,
              kernel: NativeKernel = .default) throws(NativeKernelError) {
    precondition(rows >= 0 && cols >= 0 && ldb >= cols, "NativePackedMatrix: (\(rows), \(cols)) with ldb \(ldb)")
    guard kernel.isSupported else { throw .unsupported(kernel) }
    self.kernel = kernel; self.rows = rows; self.cols = cols
    panelWidth = S.panelWidth(kernel.id)
    (storage, count) = Self.allocate(kernel: kernel, rows: rows, cols: cols)
    Self.pack(kernel: kernel, rows: rows, cols: cols, b: b, ldb: ldb, into: storage)
  }

  /// Packs the rank-2 tensor `b` for `kernel`.
  public init(_ b: Tensor<S>, kernel: NativeKernel = .default) throws(NativeKernelError) {
    precondition(b.rank == 2, "NativePackedMatrix: B must be rank 2, got shape \(b.shape)")
    guard kernel.isSupported else { throw .unsupported(kernel) }
    self.kernel = kernel; rows = b.shape[0]; cols = b.shape[1]
    panelWidth = S.panelWidth(kernel.id)
    (storage, count) = Self.allocate(kernel: kernel, rows: rows, cols: cols)
    let (k, n, dst) = (rows, cols, storage)
    b.scalars.withUnsafeBufferPointer { bp in
      // no base address only when B is empty: nothing to pack
      if let base = bp.baseAddress { Self.pack(kernel: kernel, rows: k, cols: n, b: base, ldb: n, into: dst) }
    }
  }

  /// 64-byte aligned: every panel row starts on a cache line for the 512-bit kernels.
  private static func allocate(kernel: NativeKernel, rows: Int, cols: Int) -> (UnsafeMutablePointer<S>, Int) {
    let count = S.packedCount(kernel.id, k: rows, n: cols)
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<S>.stride, alignment: 64)
      .bindMemory(to: S.self, capacity: max(count, 1))
    return (p, count)
  }

  private static func pack(kernel: NativeKernel, rows: Int, cols: Int, b: UnsafePointer<S>, ldb: Int,
                           into dst: UnsafeMutablePointer<S>) {
    let rc = S.pack(kernel.id, k: rows, n: cols, b: b, ldb: ldb, into: dst)
    precondition(rc == 0, "rnn_gemm_pack failed for the supported kernel \(kernel)")
  }

  deinit { UnsafeMutableRawPointer(storage).deallocate() }

  /// `C[i, j - columns.lowerBound] (+)= sum_p A[i, p] B[p, j]` for `i < m`, `j` in `columns`: `c`
  /// points at the element that receives column `columns.lowerBound`. Row-major, row strides
  /// `lda`, `ldc`. `accumulate: false` overwrites. Single-threaded; threads may call it at once on
  /// disjoint column ranges (or disjoint `c`).
  public func multiply(
    m: Int, a: UnsafePointer<S>, lda: Int, columns: Range<Int>? = nil,
    c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
  ) {
    let cols = columns ?? 0..<self.cols
    precondition(m >= 0 && cols.lowerBound >= 0 && cols.upperBound <= self.cols,
                 "NativePackedMatrix.multiply: columns \(cols) of \(self.cols), m \(m)")
    let rc = S.gemm(kernel.id, m: m, k: rows, n: self.cols, j0: cols.lowerBound, j1: cols.upperBound, a: a, lda: lda,
                    packed: storage, c: c, ldc: ldc, accumulate: accumulate)
    precondition(rc == 0, "rnn_gemm failed for a supported kernel \(kernel)")
  }
}
