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

// MARK: - Activation kernels

/// Who computes sigmoid and tanh in the engine's cell math: a C kernel (`Sources/CRNNKernels`,
/// `src/act_template.h`: vectorised, chosen like the GEMM kernels by CPUID + XGETBV) or `swift`,
/// the pure-Swift path (`SIMD8<Float>` for Float, the scalar libm form for Double). The other
/// activations do not depend on it. The results differ by rounding only (a few ulps: the bounds
/// measured per kernel are in `ActivationKernelTests`).
///
/// The engine reads `ActivationKernel.default` once per layer run: `RNNCONF_ACTIVATION_KERNEL`
/// (`swift`, `portable`, `avx2`, `avx512`; a kernel this CPU lacks falls back to `detected` with a
/// note on stderr) sets the process default; `withDefault` sets it for one task.
public enum ActivationKernel: String, CaseIterable, Sendable, CustomStringConvertible {
  /// The pure-Swift path.
  case swift
  /// C with generic vectors (SSE2 on x86-64, NEON on arm64): every CPU.
  case portable
  /// x86-64 AVX2 + FMA.
  case avx2
  /// x86-64 AVX-512F.
  case avx512

  public var description: String { rawValue }

  /// The C kernel (nil for `swift`). A switch, not `NativeKernel(rawValue:)`: the cell math asks on every call.
  public var native: NativeKernel? {
    switch self {
    case .swift: nil
    case .portable: .portable
    case .avx2: .avx2
    case .avx512: .avx512
    }
  }

  /// Whether this CPU and OS can run it (`swift` and `portable` always).
  public var isSupported: Bool { native?.isSupported ?? true }

  /// The kernels this CPU can run.
  public static var supported: [ActivationKernel] { allCases.filter(\.isSupported) }

  /// The fastest C kernel this CPU supports (the GEMM kernels' detection).
  public static var detected: ActivationKernel { ActivationKernel(rawValue: NativeKernel.detected.rawValue)! }

  /// The environment variable naming the process default.
  public static let environmentVariable = "RNNCONF_ACTIVATION_KERNEL"

  /// The kernel a value of `RNNCONF_ACTIVATION_KERNEL` selects, and why it is not the one named
  /// (nil when honoured or when nothing is named): a kernel this CPU lacks or an unknown name falls
  /// back to `detected`.
  public static func forRequest(_ requested: String?) -> (kernel: ActivationKernel, note: String?) {
    guard let raw = requested, !raw.isEmpty, raw.lowercased() != "auto" else { return (detected, nil) }
    guard let k = ActivationKernel(rawValue: raw.lowercased()) else {
      let names = allCases.map(\.rawValue).joined(separator: ", ")
      return (detected, "\(environmentVariable)=\(raw) is not an activation kernel (\(names)); using \(detected)")
    }
    guard k.isSupported else {
      return (detected, "\(environmentVariable)=\(raw): this CPU or OS lacks the \(k) kernel's instructions; using \(detected) instead")
    }
    return (k, nil)
  }

  /// `RNNCONF_ACTIVATION_KERNEL`, else `detected`; a request not honoured is said once on stderr.
  public static let processDefault: ActivationKernel = {
    let (k, note) = forRequest(getenv(environmentVariable).map { String(cString: $0) })
    if let note {
      _ = "rnnconf: \(note)\n".utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
    return k
  }()

  @TaskLocal static var taskDefault: ActivationKernel? = nil

  /// The kernel the engine uses: the one `withDefault` set for the current task, else `processDefault`.
  public static var `default`: ActivationKernel { taskDefault ?? processDefault }

  /// Runs `body` with `kernel` as `default` for the current task (and the tasks it creates). Throws
  /// when this CPU or OS lacks the kernel's instructions.
  public static func withDefault<R>(_ kernel: ActivationKernel, _ body: () throws -> R) throws -> R {
    if let n = kernel.native, !n.isSupported { throw NativeKernelError.unsupported(n) }
    return try $taskDefault.withValue(kernel, operation: body)
  }
}

/// Sigmoid and tanh through the C kernels, for Float and Double.
@usableFromInline
enum NativeActivations {
  /// Computes `a` in place with `kernel`'s C code; false when `a` is not sigmoid or tanh, `S` not
  /// Float or Double, or `kernel` is `swift` (the caller takes the Swift path).
  @usableFromInline
  static func apply<S: RNNScalar>(_ a: Activation, _ p: UnsafeMutablePointer<S>, count: Int,
                                  kernel: ActivationKernel) -> Bool {
    let function: Int32
    switch a {
    case .sigmoid: function = Int32(RNN_ACT_SIGMOID)
    case .tanh: function = Int32(RNN_ACT_TANH)
    default: return false
    }
    guard let id = kernel.native?.id else { return false }
    let rc: Int32
    if S.self == Float.self {
      rc = rnn_act_f32(id, function, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count)
    } else if S.self == Double.self {
      rc = rnn_act_f64(id, function, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), count)
    } else {
      return false
    }
    // a kernel the CPU lacks never gets here (`withDefault` and `processDefault` check); if one did,
    // nothing was written and the Swift path computes the values
    return rc == 0
  }

  /// The C kernel by raw id (tests: `RNN_GEMM_AVX512_GEOMETRY`).
  static func apply<S: RNNScalar>(_ a: Activation, _ p: UnsafeMutablePointer<S>, count: Int, kernelID: Int32) -> Bool {
    let function: Int32 = a == .sigmoid ? Int32(RNN_ACT_SIGMOID) : Int32(RNN_ACT_TANH)
    if S.self == Float.self {
      return rnn_act_f32(kernelID, function, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count) == 0
    }
    return rnn_act_f64(kernelID, function, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Double.self), count) == 0
  }
}
