import CRNNKernels
import Foundation
import Testing
@testable import RNNRef
import _TestSupport

/// The C sigmoid/tanh kernels (`ActivationKernel`, `Sources/CRNNKernels/src/act_template.h`), each
/// forced in turn: their error against libm over a dense sweep of the input range, their special
/// values, their tails, and whole layers through the engine under each.
@Suite struct ActivationKernelTests {
  /// The C kernels this CPU runs, by raw id, with the AVX-512 instantiation's operations built
  /// without its target attribute (the test hook), which every CPU runs with the same roundings.
  static let cKernels: [(name: String, id: Int32)] =
    NativeKernel.supported.map { ($0.rawValue, $0.id) } + [("avx512-geometry", Int32(RNN_GEMM_AVX512_GEOMETRY))]

  /// Measured on x86-64 (AMD EPYC: portable, avx2 and the AVX-512 geometry give the same maxima) against
  /// long-double libm: over this sweep (2^17 points per precision) sigmoid 2.18 ulp (Float) / 2.29 (Double),
  /// tanh 2.16 / 2.24; over a 2^21-point sweep of the same ranges, at most 2.22 / 2.27 and 2.27 / 2.53.
  /// Asserted: 3 ulps.
  static let ulpBound = 3.0

  /// The sweep: the whole range where the functions are not yet saturated or flushed, evenly, and
  /// [-4, 4] densely (where the gates live), plus the ends of the polynomial's reduction interval.
  static func sweep(wide: Double, points: Int) -> [Double] {
    var xs: [Double] = []
    xs.reserveCapacity(2 * points)
    for i in 0..<points { xs.append(-wide + 2 * wide * Double(i) / Double(points)) }
    for i in 0..<points { xs.append(-4 + 8 * Double(i) / Double(points)) }
    for k in -40...40 { let c = Double(k) * 0.693147180559945309 / 2; xs += [c.nextDown, c, c.nextUp] }
    return xs
  }

  #if arch(x86_64)
  static let hasFloat80 = true

  /// Long-double libm (64-bit significand): the reference for both precisions.
  static func reference(_ f: Int32, _ x: Double) -> Float80 {
    let v = Float80(x)
    if f == Int32(RNN_ACT_SIGMOID) { return v >= 0 ? 1 / (1 + expl(-v)) : expl(v) / (1 + expl(v)) }
    return tanhl(v)
  }

  /// The largest error of every C kernel over the sweep, in ulps of the correctly rounded result (the ulp
  /// of a zero or subnormal result is the least nonzero magnitude), and where it is.
  func measure<S: BinaryFloatingPoint>(_: S.Type, function f: Int32) -> [(kernel: String, ulps: Double, at: Double)] {
    let xs = Self.sweep(wide: S.self == Float.self ? 110 : 760, points: 1 << 16).map { Double(S($0)) }
    let exact = xs.map { Self.reference(f, $0) }
    let rounded: [S] = exact.map { S.self == Float.self ? S(Float($0)) : S(Double($0)) }
    var result: [(kernel: String, ulps: Double, at: Double)] = []
    for kernel in Self.cKernels {
      var values = xs.map { S($0) }
      let rc = values.withUnsafeMutableBufferPointer { buf in
        S.self == Float.self
          ? rnn_act_f32(kernel.id, f, UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: Float.self), buf.count)
          : rnn_act_f64(kernel.id, f, UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: Double.self), buf.count)
      }
      #expect(rc == 0)
      var worst = 0.0, at = 0.0
      for i in 0..<xs.count where values[i] != rounded[i] {
        let r = rounded[i].magnitude
        let u = r == 0 ? S.leastNonzeroMagnitude : r.nextUp - r
        let err = Double(abs(Float80(Double(values[i])) - exact[i]) / Float80(Double(u)))
        if !(err <= worst) { worst = err; at = xs[i] }
      }
      let name = f == Int32(RNN_ACT_SIGMOID) ? "sigmoid" : "tanh"
      print("activation kernel \(kernel.name) \(name) \(S.self): max error \(String(format: "%.3f", worst)) ulp at x = \(at)")
      result.append((kernel.name, worst, at))
    }
    return result
  }
  #else
  static let hasFloat80 = false
  #endif

  @Test(.enabled(if: hasFloat80, "needs Float80 (x86-64) for the reference"),
        arguments: [Int32(RNN_ACT_SIGMOID), Int32(RNN_ACT_TANH)])
  func errorAgainstLongDoubleLibmIsWithinTheBound(_ function: Int32) {
    #if arch(x86_64)
    for (kernel, e, at) in measure(Float.self, function: function) {
      #expect(e <= Self.ulpBound, "\(kernel) Float: \(e) ulp at \(at)")
    }
    for (kernel, e, at) in measure(Double.self, function: function) {
      #expect(e <= Self.ulpBound, "\(kernel) Double: \(e) ulp at \(at)")
    }
    #endif
  }

  /// NaN in, NaN out; infinities, signed zeros, saturation and the far tails, in both precisions.
  @Test func specialValues() {
    for kernel in Self.cKernels {
      check(Float.self, kernel)
      check(Double.self, kernel)
    }
    func check<S: RNNScalar>(_: S.Type, _ kernel: (name: String, id: Int32)) {
      let xs: [S] = [.nan, .infinity, -.infinity, S(0), -S(0), S.leastNonzeroMagnitude, -S.leastNonzeroMagnitude,
                     S.leastNormalMagnitude, 1000, -1000, S.greatestFiniteMagnitude, -S.greatestFiniteMagnitude]
      var sig = xs, th = xs
      #expect(sig.withUnsafeMutableBufferPointer {
        NativeActivations.apply(.sigmoid, $0.baseAddress!, count: $0.count, kernelID: kernel.id) })
      #expect(th.withUnsafeMutableBufferPointer {
        NativeActivations.apply(.tanh, $0.baseAddress!, count: $0.count, kernelID: kernel.id) })
      let k = "\(kernel.name) \(S.self)"
      #expect(sig[0].isNaN && th[0].isNaN, "\(k): NaN")
      #expect(sig[1] == 1 && sig[2] == 0 && th[1] == 1 && th[2] == -1, "\(k): infinities")
      #expect(sig[3] == 0.5 && sig[4] == 0.5, "\(k): sigmoid(+-0)")
      #expect(th[3] == 0 && th[3].sign == .plus && th[4] == 0 && th[4].sign == .minus, "\(k): tanh keeps the sign of zero")
      #expect(th[5] == S.leastNonzeroMagnitude && th[6] == -S.leastNonzeroMagnitude, "\(k): tanh(x) = x for the least x")
      #expect(sig[5] == 0.5 && sig[6] == 0.5, "\(k)")
      #expect(th[7] == S.leastNormalMagnitude, "\(k): tanh(least normal)")
      #expect(sig[8] == 1 && sig[9] == 0 && th[8] == 1 && th[9] == -1, "\(k): saturation")
      #expect(sig[10] == 1 && sig[11] == 0 && th[10] == 1 && th[11] == -1, "\(k): the largest finite values")
      // the negative tail of the sigmoid, e^x / (1 + e^x), with relative accuracy (no flush to 0 before the
      // subnormals); the reference in Double has its own few ulps
      var tail: [S] = [-20, -80, S.self == Float.self ? -100 : -700]
      let want = tail.map { Double.exp(Double($0)) / (1 + Double.exp(Double($0))) }
      _ = tail.withUnsafeMutableBufferPointer {
        NativeActivations.apply(.sigmoid, $0.baseAddress!, count: $0.count, kernelID: kernel.id) }
      for (got, w) in zip(tail, want) {
        #expect(abs(Double(got) - w) <= 6 * Double(S(w).ulp), "\(k): sigmoid tail \(got) vs \(w)")
      }
    }
  }

  /// Every count from 1 to 41 at several offsets: the partial last vector (zero-padded) gives the bits
  /// of the same values inside a whole vector.
  @Test func tailsGiveTheBitsOfWholeVectors() {
    var rng = SeededRNG(seed: 11)
    let values = (0..<64).map { _ in Double.random(in: -9...9, using: &rng) }
    for kernel in Self.cKernels {
      for f in [Activation.sigmoid, .tanh] {
        var full = values.map { Float($0) }, fullD = values
        _ = full.withUnsafeMutableBufferPointer { NativeActivations.apply(f, $0.baseAddress!, count: 64, kernelID: kernel.id) }
        _ = fullD.withUnsafeMutableBufferPointer { NativeActivations.apply(f, $0.baseAddress!, count: 64, kernelID: kernel.id) }
        for count in 1...41 {
          for start in [0, 3, 64 - count] {
            var part = values[start..<(start + count)].map { Float($0) }
            var partD = Array(values[start..<(start + count)])
            _ = part.withUnsafeMutableBufferPointer {
              NativeActivations.apply(f, $0.baseAddress!, count: count, kernelID: kernel.id) }
            _ = partD.withUnsafeMutableBufferPointer {
              NativeActivations.apply(f, $0.baseAddress!, count: count, kernelID: kernel.id) }
            #expect(part == Array(full[start..<(start + count)]), "\(kernel.name) \(f) Float count \(count) at \(start)")
            #expect(partD == Array(fullD[start..<(start + count)]), "\(kernel.name) \(f) Double count \(count) at \(start)")
          }
        }
      }
    }
  }

  /// `Activation.apply` with each kernel forced: sigmoid and tanh within the bound of the scalar libm
  /// form (the Swift Float SIMD path: the few ulps it always had), the other activations unchanged.
  @Test(arguments: ActivationKernel.supported)
  func applyDispatchesToTheKernel(_ kernel: ActivationKernel) {
    let xs = stride(from: -12.0, through: 12.0, by: 0.01).map { $0 }
    for act in [Activation.sigmoid, .tanh, .hardSigmoidKeras2, .relu, .softsign] {
      var f = xs.map { Float($0) }, d = xs
      f.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: $0.count, clip: nil, kernel: kernel) }
      d.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: $0.count, clip: nil, kernel: kernel) }
      for (i, x) in xs.enumerated() {
        let wf: Float = act(Float(x)), wd: Double = act(x)
        #expect(abs(f[i] - wf) <= 4 * wf.magnitude.ulp + Float.leastNormalMagnitude, "\(kernel) \(act) Float \(x)")
        #expect(abs(d[i] - wd) <= 4 * wd.magnitude.ulp + Double.leastNormalMagnitude, "\(kernel) \(act) Double \(x)")
        if kernel == .swift || (act != .sigmoid && act != .tanh) {
          #expect(d[i] == wd, "\(kernel) \(act) Double \(x): the scalar form's bits")
        }
      }
    }
  }

  /// Whole layers (every cell of the zoo, bidirectional, masked) under each kernel, against the textbook
  /// backend with the pure-Swift activations: rounding only.
  @Test(arguments: ActivationKernel.supported)
  func engineRunsUnderEveryKernel(_ kernel: ActivationKernel) throws {
    var rng = SeededRNG(seed: 91)
    let x = Tensor<Double>.random([5, 4, 7], scale: 1, rng: &rng)
    let mask = StepMask(lengths: [5, 2, 0, 4], steps: 5)
    for (name, cell) in cellZoo(Double.self, input: 7, hidden: 16, rng: &rng) {
      let layer = RecurrentLayer(direction: .bidirectional, cells: [cell, cell])
      let reference = try ActivationKernel.withDefault(.swift) {
        try Engine.run(layer, input: x, mask: mask, backend: NaiveMatmul())
      }
      let out = try ActivationKernel.withDefault(kernel) {
        try Engine.run(layer, input: x, mask: mask, backend: try NativeMatmul(threads: 2, parallelThreshold: 0))
      }
      #expect(out.merged.maxAbsDifference(reference.merged) <= 1e-13, "\(name) \(kernel) Double")
      let lf = RecurrentLayer<Float>(direction: .bidirectional, cells: [convert(cell), convert(cell)])
      let rf = try ActivationKernel.withDefault(.swift) {
        try Engine.run(lf, input: Tensor<Float>(x), mask: mask, backend: NaiveMatmul())
      }
      let of = try ActivationKernel.withDefault(kernel) {
        try Engine.run(lf, input: Tensor<Float>(x), mask: mask, backend: try NativeMatmul(threads: 2, parallelThreshold: 0))
      }
      #expect(of.merged.maxAbsDifference(rf.merged) <= 2e-6, "\(name) \(kernel) Float")
    }
  }

  /// The kernel the engine's cells take is the task's default when they are prepared.
  @Test func withDefaultReachesTheEngine() throws {
    for kernel in ActivationKernel.supported {
      try ActivationKernel.withDefault(kernel) { #expect(ActivationKernel.default == kernel) }
    }
    for kernel in ActivationKernel.allCases where !kernel.isSupported {
      #expect(throws: NativeKernelError.self) { try ActivationKernel.withDefault(kernel) {} }
    }
  }

  /// `RNNCONF_ACTIVATION_KERNEL`: a kernel this CPU lacks or an unknown name falls back to the detected
  /// one with a note; `swift`, `portable`, nothing and `auto` are honoured silently.
  @Test func requestsFallBackWithANote() {
    for kernel in ActivationKernel.allCases {
      let (chosen, note) = ActivationKernel.forRequest(kernel.rawValue)
      if kernel.isSupported {
        #expect(chosen == kernel && note == nil)
      } else {
        #expect(chosen == ActivationKernel.detected && (note ?? "").contains("lacks"), "\(String(describing: note))")
      }
    }
    #expect(ActivationKernel.forRequest("SWIFT").kernel == .swift)
    let unknown = ActivationKernel.forRequest("avx1024")
    #expect(unknown.kernel == ActivationKernel.detected && (unknown.note ?? "").contains("not an activation kernel"))
    for quiet in [nil, "", "auto"] as [String?] {
      #expect(ActivationKernel.forRequest(quiet) == (ActivationKernel.detected, nil))
    }
    let named = ProcessInfo.processInfo.environment[ActivationKernel.environmentVariable]
    #expect(ActivationKernel.processDefault == ActivationKernel.forRequest(named).kernel)
  }
}
