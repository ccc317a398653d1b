import CRNNKernels
import Foundation
import Testing
@testable import RNNRef
import _TestSupport

/// The C GEMM micro-kernels (`NativeKernel`), each forced in turn, against the textbook triple loop
/// in Double. A kernel this CPU lacks is a skipped test that names it, never a pass.
@Suite struct NativeKernelTests {
  /// Every (M, K, N) from {1, 3, 17, 33} (rows below and across the register tile, columns below
  /// and across the 8/16/32-wide panels), and larger odd shapes across the K block (128/256),
  /// the M block (96) and many panels.
  static let shapes: [(m: Int, k: Int, n: Int)] = {
    let small = [1, 3, 17, 33]
    var s = [(m: Int, k: Int, n: Int)]()
    for m in small { for k in small { for n in small { s.append((m, k, n)) } } }
    s += [(255, 257, 33), (33, 255, 257), (257, 33, 255), (1, 257, 255), (257, 1, 257), (3, 257, 257),
          (255, 17, 255), (2, 0, 5)]
    return s
  }()

  /// The full range and slices at odd offsets: inside one panel, across panel edges, one column.
  static func slices(_ n: Int) -> [Range<Int>] {
    var s: [Range<Int>] = [0..<n]
    if n >= 3 { s += [1..<(n - 1), (n / 3) | 1 ..< n, (n - 1)..<n] }
    if n > 40 { s += [17..<(n - 2), 33..<41] }
    return s
  }

  /// One product through `kernel`: A (m, k) with row stride k + 3, C with row stride slice + 5;
  /// the padding holds sentinels that must survive. Expected: C0 (when accumulating) + sum over k
  /// in Double, checked against the rounding bound of a k-term sum in S.
  func check<S: NativeGEMMScalar>(
    _: S.Type, kernel: Int32, m: Int, k: Int, n: Int, columns: Range<Int>, accumulate: Bool,
    integers: Bool, rng: inout SeededRNG
  ) throws {
    func value() -> S {
      integers ? S(Int.random(in: -4...4, using: &rng)) : S(Double.random(in: -1...1, using: &rng))
    }
    let lda = k + 3, width = columns.count, ldc = width + 5
    let a = (0..<(m * lda)).map { _ in value() }
    let b = (0..<(k * n)).map { _ in value() }
    let c0 = (0..<(m * ldc)).map { _ in value() }
    var c = c0
    let name = rnn_gemm_kernel_name(kernel).map { String(cString: $0) } ?? "avx512-geometry"
    // the C API itself (NativePackedMatrix is a thin owner of the packed buffer)
    var packed = [S](repeating: .nan, count: max(1, S.packedCount(kernel, k: k, n: n)))
    let rc: (Int32, Int32) = a.withUnsafeBufferPointer { ap in
      b.withUnsafeBufferPointer { bp in
        packed.withUnsafeMutableBufferPointer { pp in
          c.withUnsafeMutableBufferPointer { cp in
            // empty operands have no base address; any valid pointer does, nothing is read through it
            let some = pp.baseAddress!
            let p = S.pack(kernel, k: k, n: n, b: bp.baseAddress ?? UnsafePointer(some), ldb: n, into: some)
            let g = S.gemm(kernel, m: m, k: k, n: n, j0: columns.lowerBound, j1: columns.upperBound,
                           a: ap.baseAddress ?? UnsafePointer(some), lda: lda, packed: some,
                           c: cp.baseAddress ?? some, ldc: ldc, accumulate: accumulate)
            return (p, g)
          }
        }
      }
    }
    #expect(rc == (0, 0), "\(name): pack/gemm refused (\(m), \(k), \(n)) \(columns)")
    let u = S.self == Float.self ? Double(Float.ulpOfOne) / 2 : Double.ulpOfOne / 2
    // the reference loop on concrete Doubles (generic code is slow unoptimised)
    let ad = a.map(Double.init), bd = b.map(Double.init)
    var worst = 0.0, sentinelsChanged = 0
    for i in 0..<m {
      for jj in 0..<ldc {
        let got = c[i * ldc + jj]
        guard jj < width else {
          if got != c0[i * ldc + jj] { sentinelsChanged += 1 }
          continue
        }
        let j = columns.lowerBound + jj
        var s = accumulate ? Double(c0[i * ldc + jj]) : 0
        var sumAbs = abs(s)
        for p in 0..<k {
          let t = ad[i * lda + p] * bd[p * n + j]
          s += t; sumAbs += abs(t)
        }
        if integers {
          // every partial sum is an integer below 2^13: exact in any order
          #expect(Double(got) == s, "\(name) \(S.self) (\(m), \(k), \(n)) \(columns) C[\(i), \(jj)]")
        } else {
          // a (k+1)-term sum in S, and the Double reference's own rounding
          let bound = 2 * Double(k + 2) * u * sumAbs + Double.ulpOfOne
          let err = abs(Double(got) - s)
          if err > bound { worst = max(worst, err / bound) }
        }
      }
    }
    #expect(worst == 0, "\(name) \(S.self) (\(m), \(k), \(n)) cols \(columns) acc \(accumulate): error \(worst)x bound")
    #expect(sentinelsChanged == 0, "\(name) \(S.self) (\(m), \(k), \(n)) cols \(columns): wrote outside its slice")
  }

  func checkKernel(_ kernel: Int32) throws {
    var rng = SeededRNG(seed: 0xC0FFEE)
    for (index, (m, k, n)) in Self.shapes.enumerated() {
      // large shapes: the full range and one odd slice, each mode on one of them (keeps the naive loop short)
      let large = m * k * n > 100_000
      for (si, columns) in Self.slices(n).enumerated() where !large || si < 2 {
        for accumulate in [false, true] where !large || accumulate == ((index + si) % 2 == 1) {
          try check(Float.self, kernel: kernel, m: m, k: k, n: n, columns: columns, accumulate: accumulate,
                    integers: false, rng: &rng)
          try check(Double.self, kernel: kernel, m: m, k: k, n: n, columns: columns, accumulate: !accumulate,
                    integers: false, rng: &rng)
        }
      }
      try check(Float.self, kernel: kernel, m: m, k: k, n: n, columns: 0..<n, accumulate: true, integers: true,
                rng: &rng)
      try check(Double.self, kernel: kernel, m: m, k: k, n: n, columns: 0..<n, accumulate: false, integers: true,
                rng: &rng)
    }
  }

  @Test func portableKernelMatchesNaive() throws { try checkKernel(NativeKernel.portable.id) }

  @Test(.enabled(if: NativeKernel.avx2.isSupported, "AVX2+FMA kernel NOT TESTED: this CPU/OS lacks AVX2 or FMA"))
  func avx2KernelMatchesNaive() throws { try checkKernel(NativeKernel.avx2.id) }

  @Test(.enabled(if: NativeKernel.avx512.isSupported, "AVX-512F kernel NOT TESTED: this CPU/OS lacks AVX-512F"))
  func avx512KernelMatchesNaive() throws { try checkKernel(NativeKernel.avx512.id) }

  /// The AVX-512 kernels' tiling (32/16-wide panels, 8-row tiles, K blocks of 128) built from generic
  /// vectors: checks that indexing on every CPU, including those that skip the test above.
  @Test func avx512GeometryMatchesNaive() throws {
    let id = Int32(RNN_GEMM_AVX512_GEOMETRY)
    #expect(Float.panelWidth(id) == 32 && Double.panelWidth(id) == 16)
    #expect(Float.panelWidth(id) == NativeKernel.avx512.panelWidth(for: Float.self) || !NativeKernel.avx512.isSupported)
    try checkKernel(id)
  }

  /// The Swift owner of a packed B: a column slice lands where `c` points, other columns untouched.
  @Test func packedMatrixMultipliesAColumnSlice() throws {
    for kernel in NativeKernel.supported {
      let b = Tensor<Float>(uncheckedShape: [3, 40], scalars: (0..<120).map { Float($0 % 7) - 3 })
      let packed = try NativePackedMatrix(b, kernel: kernel)
      #expect(packed.kernel == kernel && packed.rows == 3 && packed.cols == 40)
      let a: [Float] = [1, 2, 3, -1, 0, 2]
      var c = [Float](repeating: 99, count: 2 * 12)
      c.withUnsafeMutableBufferPointer { cp in
        packed.multiply(m: 2, a: a, lda: 3, columns: 17..<27, c: cp.baseAddress! + 1, ldc: 12, accumulate: false)
      }
      let full = NaiveMatmul().matmul(Tensor(uncheckedShape: [2, 3], scalars: a), b)
      for i in 0..<2 {
        #expect(c[i * 12] == 99 && c[i * 12 + 11] == 99, "\(kernel): wrote outside the slice")
        #expect(Array(c[(i * 12 + 1)..<(i * 12 + 11)]) == Array(full.scalars[(i * 40 + 17)..<(i * 40 + 27)]), "\(kernel)")
      }
    }
  }

  /// Feature detection (CPUID + XGETBV in C) agrees with the kernel's view of the CPU (Linux).
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/cpuinfo"), "no /proc/cpuinfo to compare with"))
  func detectionAgreesWithProcCpuinfo() throws {
    let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let flagsLine = try #require(info.split(separator: "\n").first { $0.hasPrefix("flags") })
    let flags = Set(flagsLine.split(separator: ":").last!.split(separator: " ").map(String.init))
    #expect(NativeKernel.portable.isSupported)
    #if arch(x86_64)
    #expect(NativeKernel.avx2.isSupported == (flags.contains("avx2") && flags.contains("fma")), "flags: \(flags.sorted())")
    #expect(NativeKernel.avx512.isSupported == flags.contains("avx512f"), "flags: \(flags.sorted())")
    #else
    #expect(!NativeKernel.avx2.isSupported && !NativeKernel.avx512.isSupported)
    #endif
    #expect(NativeKernel.detected == NativeKernel.supported.last)
  }

  /// Forcing the process default, refusing a kernel the CPU lacks, and going back to automatic.
  @Test func defaultKernelCanBeForcedAndRestored() throws {
    for kernel in NativeKernel.allCases {
      if kernel.isSupported {
        try NativeKernel.setDefault(kernel)
        #expect(NativeKernel.default == kernel)
        #expect(try NativeMatmul().kernel == kernel)
      } else {
        let before = NativeKernel.default
        #expect(throws: NativeKernelError.unsupported(kernel)) { try NativeKernel.setDefault(kernel) }
        #expect(throws: NativeKernelError.unsupported(kernel)) { try NativeMatmul(kernel: kernel) }
        #expect(NativeKernel.default == before)
      }
    }
    try NativeKernel.setDefault(nil)
    let named = ProcessInfo.processInfo.environment["RNNCONF_GEMM_KERNEL"].flatMap(NativeKernel.init(rawValue:))
    #expect(NativeKernel.default == (named.flatMap { $0.isSupported ? $0 : nil } ?? NativeKernel.detected))
  }

  /// `RNNCONF_GEMM_KERNEL` naming a kernel this CPU lacks (here: AVX-512 on a CPU without it) or no kernel
  /// falls back to the detected kernel with a note saying so (printed once on stderr by the process
  /// default), instead of failing; a supported kernel, "auto", nothing and the Swift backend's shapes
  /// get no note.
  @Test func requestingAKernelTheCPULacksFallsBackWithANote() {
    for kernel in NativeKernel.allCases {
      let (chosen, note) = NativeKernel.forRequest(kernel.rawValue)
      if kernel.isSupported {
        #expect(chosen == kernel && note == nil)
      } else {
        #expect(chosen == NativeKernel.detected)
        let text = note ?? ""
        #expect(text.contains("RNNCONF_GEMM_KERNEL=\(kernel)") && text.contains("lacks")
                && text.contains("using \(NativeKernel.detected)"), "\(text)")
      }
    }
    let unknown = NativeKernel.forRequest("avx1024")
    #expect(unknown.kernel == NativeKernel.detected && (unknown.note ?? "").contains("not a kernel"))
    for quiet in [nil, "", "auto", "wide", "narrow", "flat"] as [String?] {
      let r = NativeKernel.forRequest(quiet)
      #expect(r.kernel == NativeKernel.detected && r.note == nil, "\(String(describing: quiet))")
    }
  }

  /// The backend through `MatmulBackend`, on each kernel and 1-3 workers: exact on small integers.
  @Test(arguments: NativeKernel.supported)
  func nativeBackendEqualsNaiveOnIntegers(_ kernel: NativeKernel) throws {
    let _ = try BackendUnderTest.native(kernel).make()
    var rng = SeededRNG(seed: 77)
    func integers<S: RNNScalar>(_ shape: [Int]) -> Tensor<S> {
      Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in S(Int.random(in: -4...4, using: &rng)) })
    }
    do {
      for threads in [1, 2, 3] {
        let backend = try NativeMatmul(kernel: kernel, threads: threads, parallelThreshold: 0)
        for (m, k, n) in [(5, 17, 33), (33, 3, 100), (1, 40, 65), (2, 0, 3), (0, 4, 4), (130, 40, 100)] {
          let af: Tensor<Float> = integers([m, k]), bf: Tensor<Float> = integers([k, n])
          #expect(backend.matmul(af, bf) == NaiveMatmul().matmul(af, bf), "\(kernel) \(threads) (\(m), \(k), \(n)) Float")
          let ad: Tensor<Double> = integers([m, k]), bd: Tensor<Double> = integers([k, n])
          #expect(backend.matmul(ad, bd) == NaiveMatmul().matmul(ad, bd), "\(kernel) \(threads) (\(m), \(k), \(n)) Double")
          // one worker's column slice of a prepared B (the fused step's call), accumulating
          let pbd = backend.prepare(bd), g = pbd.columnGranularity
          let cols = (n / 3 / g * g)..<min(n, (n - n / 4 + g - 1) / g * g), width = cols.count
          let full = NaiveMatmul().matmul(ad, bd).scalars
          var slice = [Double](repeating: 1, count: m * width)
          ad.scalars.withUnsafeBufferPointer { ap in
            slice.withUnsafeMutableBufferPointer { sp in
              if m > 0 && width > 0 {
                // the contract's c: C's column 0 (the slice's first column at c + cols.lowerBound)
                backend.multiply(m: m, a: ap.baseAddress!, lda: k, b: pbd, columns: cols,
                                 c: sp.baseAddress! - cols.lowerBound, ldc: width, accumulate: true)
              }
            }
          }
          let expected = (0..<(m * width)).map { 1 + full[($0 / width) * n + cols.lowerBound + $0 % width] }
          #expect(slice == expected, "\(kernel) (\(m), \(k), \(n)) columns \(cols)")
        }
      }
    }
  }

  /// Whole layers through the engine on each kernel, against the naive backend: the same math, so
  /// rounding only.
  @Test(arguments: NativeKernel.supported)
  func engineRunsOnEveryNativeKernel(_ kernel: NativeKernel) throws {
    let _ = try BackendUnderTest.native(kernel).make()
    var rng = SeededRNG(seed: 78)
    try engineMatchesNaive(Double.self, kernel, tolerance: 1e-12, rng: &rng)
    try engineMatchesNaive(Float.self, kernel, tolerance: 1e-5, rng: &rng)
  }

  func engineMatchesNaive<S: RNNScalar>(_: S.Type, _ kernel: NativeKernel, tolerance: Double,
                                        rng: inout SeededRNG) throws {
    let T = 4, N = 3, I = 9, H = 32
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let layer = RecurrentLayer(direction: .forward, cells: [cell])
      let x = Tensor<S>.random([T, N, I], rng: &rng)
      let reference = try Engine.run(layer, input: x, mask: nil, initialStates: nil, backend: NaiveMatmul())
      for threads in [1, 2] {
        let backend = try NativeMatmul(kernel: kernel, threads: threads, parallelThreshold: 0)
        let out = try Engine.run(layer, input: x, mask: nil, initialStates: nil, backend: backend)
        #expect(out.merged.maxAbsDifference(reference.merged) <= tolerance, "\(name) \(kernel) \(threads) \(S.self)")
      }
    }
  }

  /// The engine tests are parameterised over `BackendUnderTest.all`: every kernel this CPU supports is
  /// in it; a kernel it lacks is a skipped test here, by name.
  @Test func engineTestsRunOnThePortableKernel() {
    #expect(BackendUnderTest.all.contains(.native(.portable)) && BackendUnderTest.all.contains(.swift))
  }

  @Test(.enabled(if: NativeKernel.avx2.isSupported, "engine tests NOT RUN on the AVX2+FMA kernel: this CPU/OS lacks it"))
  func engineTestsRunOnTheAVX2Kernel() { #expect(BackendUnderTest.all.contains(.native(.avx2))) }

  @Test(.enabled(if: NativeKernel.avx512.isSupported, "engine tests NOT RUN on the AVX-512F kernel: this CPU/OS lacks it"))
  func engineTestsRunOnTheAVX512Kernel() { #expect(BackendUnderTest.all.contains(.native(.avx512))) }

  /// The default backend is the native one unless RNNCONF_GEMM_BACKEND names another; a task can
  /// set its own default.
  @Test func defaultBackendIsNativeUnlessChosen() throws {
    let named = ProcessInfo.processInfo.environment[Matmul.environmentVariable].flatMap {
      Matmul.Choice(rawValue: $0.lowercased())
    }
    #expect(Matmul.defaultChoice == (named ?? .native))
    switch Matmul.defaultChoice {
    case .native: #expect(Matmul.processDefault is NativeMatmul)
    case .swift: #expect(Matmul.processDefault is SwiftMatmul)
    }
    Matmul.withDefault(NaiveMatmul()) { #expect(Matmul.default is NaiveMatmul) }
    #expect(Matmul.Choice.swift.backend(threads: 1) is SwiftMatmul)
    #expect(Matmul.Choice.native.backend(threads: 1) is NativeMatmul)
  }
}
