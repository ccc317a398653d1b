import RealModule

/// Evaluation of every `Activation`, as the frameworks define them.
///
/// Sources checked (installed versions, see fixtures/generate/requirements.txt):
/// - Keras 2 / tf-keras `backend.hard_sigmoid`: `x * 0.2`, then `+ 0.5`, then
///   `clip_by_value(0, 1)` (tf_keras/src/backend.py), computed in that order here.
/// - Keras 3 `hard_sigmoid` (keras/src/backend/*/nn.py): `relu6(x + 3) / 6`.
/// - Keras `elu(x, alpha)`: `x > 0 ? x : alpha * (exp(x) - 1)`; `selu`: TF's constants
///   (alpha 1.6732632423543772848170429916717, scale 1.0507009873554804934193349852946).
/// - ONNX operator spec (the activations an RNN/LSTM/GRU node accepts):
///   Affine `alpha*x + beta`; LeakyRelu `x >= 0 ? x : alpha*x`; ThresholdedRelu
///   `x > alpha ? x : 0`; ScaledTanh `alpha * tanh(beta*x)`; HardSigmoid
///   `max(0, min(1, alpha*x + beta))`; Elu `x >= 0 ? x : alpha*(exp(x) - 1)`;
///   Softsign `x / (1 + |x|)`; Softplus `log(1 + exp(x))`.
/// - Keras' further activations, as the TensorFlow ops they call (keras/src/backend/tensorflow/nn.py,
///   tf_keras/src/activations.py): `relu6` = `tf.nn.relu6`; `silu`/`swish` = `tf.nn.silu` = `x * sigmoid(x)`;
///   `gelu` = `tf.nn.gelu(approximate=False)` = `0.5 * x * erfc(-x / sqrt(2))`; `mish` = `x * tanh(softplus(x))`;
///   `log_sigmoid` = `tf.math.log_sigmoid` = `-softplus(-x)`; `hard_tanh` = `clip(x, -1, 1)`;
///   `hard_silu` = `x * hard_sigmoid(x)` (Keras 3's); `tanh_shrink` = `x - tanh(x)`; `soft_shrink`,
///   `hard_shrink` with threshold 0.5; `sparse_plus`, `sparse_sigmoid` piecewise as written there;
///   `squareplus` = `(x + sqrt(x^2 + b)) / 2` with b = 4; `leaky_relu` is `leakyRelu(alpha: 0.2)` (both
///   generations' default slope); Keras 3 `celu` with alpha 1 is `max(x, 0) + expm1(min(x, 0))`, which is
///   `elu(alpha: 1)` value for value.
/// Parameters are rounded to the scalar type first (ONNX Runtime stores alpha/beta as float).
extension Activation {
  /// The activation of one value, computed in `S`.
  @inlinable
  public func callAsFunction<S: RNNScalar>(_ x: S) -> S {
    switch self {
    case .sigmoid:
      return stableSigmoid(x)
    case .tanh:
      return S.tanh(x)
    case .relu:
      return x > 0 ? x : 0
    case .linear:
      return x
    case .hardSigmoidKeras2:
      let y = x * S(0.2) + S(0.5)   // two roundings: multiply, then add (no FMA), as TF does
      return Swift.min(Swift.max(y, 0), 1)
    case .hardSigmoidKeras3:
      let y = x + S(3)
      return Swift.min(Swift.max(y, 0), 6) / S(6)
    case .elu(let alpha):
      return x > 0 ? x : S(alpha) * S.expMinusOne(x)
    case .selu:
      let alpha = S(1.6732632423543772848170429916717)
      let scale = S(1.0507009873554804934193349852946)
      return x > 0 ? scale * x : scale * (alpha * S.expMinusOne(x))
    case .softsign:
      return x / (1 + Swift.abs(x))
    case .softplus:
      // log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
      return Swift.max(x, 0) + S.log(onePlus: S.exp(-Swift.abs(x)))
    case .exponential:
      return S.exp(x)
    case .relu6:
      return Swift.min(Swift.max(x, 0), 6)
    case .silu:
      return x * stableSigmoid(x)
    case .gelu:
      return S(0.5) * x * S.erfc(-x * S(0.7071067811865476))
    case .mish:
      return x * S.tanh(Activation.softplus.callAsFunction(x))
    case .logSigmoid:
      return -Activation.softplus.callAsFunction(-x)
    case .hardTanh:
      return Swift.min(Swift.max(x, -1), 1)
    case .hardSilu:
      return x * Activation.hardSigmoidKeras3.callAsFunction(x)
    case .tanhShrink:
      return x - S.tanh(x)
    case .softShrink(let t):
      let t = S(t)
      return x > t ? x - t : (x < -t ? x + t : 0)
    case .hardShrink(let t):
      return Swift.abs(x) > S(t) ? x : 0
    case .sparsePlus:
      if x <= -1 { return 0 }
      if x < 1 { let y = x + 1; return S(0.25) * (y * y) }
      return x
    case .sparseSigmoid:
      if x <= -1 { return 0 }
      if x >= 1 { return 1 }
      return S(0.5) * (x + 1)
    case .squareplus(let b):
      return (x + (x * x + S(b)).squareRoot()) / 2
    case let .affine(alpha, beta):
      return S(alpha) * x + S(beta)
    case .leakyRelu(let alpha):
      return x >= 0 ? x : S(alpha) * x
    case .thresholdedRelu(let alpha):
      return x > S(alpha) ? x : 0
    case let .scaledTanh(alpha, beta):
      return S(alpha) * S.tanh(S(beta) * x)
    case let .hardSigmoid(alpha, beta):
      return Swift.max(0, Swift.min(1, S(alpha) * x + S(beta)))
    }
  }

  /// Applies the activation in place to `count` values, clamping each input to
  /// `[-clip, clip]` first when `clip` is given (ONNX `clip`). Sigmoid and tanh go through
  /// `ActivationKernel.default` (the current task's, else the process's).
  @inlinable
  public func apply<S: RNNScalar>(_ p: UnsafeMutablePointer<S>, count: Int, clip: S?) {
    apply(p, count: count, clip: clip, kernel: ActivationKernel.default)
  }

  /// `apply(_:count:clip:)` with sigmoid and tanh computed by `kernel` (the engine chooses it once
  /// per run): a C kernel (`portable`, `avx2`, `avx512`) for Float and Double, or `swift` (Swift
  /// `SIMD8<Float>` for Float, the scalar libm form for Double). Other activations do not depend on it.
  @inlinable
  public func apply<S: RNNScalar>(_ p: UnsafeMutablePointer<S>, count: Int, clip: S?, kernel: ActivationKernel) {
    if let clip {
      for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], -clip), clip) }
    }
    if kernel != .swift, NativeActivations.apply(self, p, count: count, kernel: kernel) {
      return
    }
    if S.self == Float.self, FastActivations.apply(self, UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), count: count) {
      return
    }
    switch self {
    case .linear:
      return
    case .sigmoid:
      for i in 0..<count { p[i] = stableSigmoid(p[i]) }
    case .tanh:
      for i in 0..<count { p[i] = S.tanh(p[i]) }
    default:
      for i in 0..<count { p[i] = self(p[i]) }
    }
  }
}

/// `1 / (1 + exp(-x))` without overflow for large |x|.
@inlinable
public func stableSigmoid<S: RNNScalar>(_ x: S) -> S {
  if x >= 0 {
    return 1 / (1 + S.exp(-x))
  } else {
    let e = S.exp(x)
    return e / (1 + e)
  }
}

/// Vectorised Float activations for the hot loop (8 lanes at a time): sigmoid and tanh, and the
/// piecewise-linear ones (hard sigmoids, relu), which give the scalar path's bits exactly.
/// Sigmoid and tanh accuracy: within a few ulps of the correctly rounded value (tested against
/// the scalar libm path), like the frameworks' own vectorised forms (Eigen,
/// Sleef, MLAS). NaN in, NaN out. Returns false for activations it does not
/// handle (the caller falls back to the scalar path).
@usableFromInline
enum FastActivations {
  @usableFromInline
  static func apply(_ a: Activation, _ p: UnsafeMutablePointer<Float>, count: Int) -> Bool {
    switch a {
    case .sigmoid: map(p, count: count, sigmoid8)
    case .tanh: map(p, count: count, tanh8)
    case .hardSigmoidKeras2: map(p, count: count, hardSigmoidKeras2x8)
    case .hardSigmoidKeras3: map(p, count: count, hardSigmoidKeras3x8)
    case let .hardSigmoid(alpha, beta):
      let a = Float(alpha), b = Float(beta)
      map(p, count: count) { hardSigmoid8($0, alpha: a, beta: b) }
    case .relu: map(p, count: count, relu8)
    case .linear: break
    default: return false
    }
    return true
  }

  // The piecewise-linear activations, lane by lane the same operations as the scalar
  // `Activation.callAsFunction` (same roundings, no FMA; `Swift.max(y, 0)` is `0 >= y ? 0 : y`,
  // `Swift.min(y, 1)` is `1 < y ? 1 : y`, so NaN and -0 come out as there): the same bits.

  /// tf-keras: `x * 0.2`, `+ 0.5`, clip to [0, 1].
  @inline(__always)
  static func hardSigmoidKeras2x8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let y = x * Float(0.2) + Float(0.5)
    var m = y
    m.replace(with: 0, where: y .<= 0)
    m.replace(with: 1, where: m .> 1)
    return m
  }

  /// Keras 3: `min(max(x + 3, 0), 6) / 6`.
  @inline(__always)
  static func hardSigmoidKeras3x8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let y = x + 3
    var m = y
    m.replace(with: 0, where: y .<= 0)
    m.replace(with: 6, where: m .> 6)
    return m / 6
  }

  /// ONNX: `max(0, min(1, alpha * x + beta))` (`Swift.min(1, v)` is `v < 1 ? v : 1`, `Swift.max(0, m)` is
  /// `m >= 0 ? m : 0`).
  @inline(__always)
  static func hardSigmoid8(_ x: SIMD8<Float>, alpha: Float, beta: Float) -> SIMD8<Float> {
    let v = alpha * x + beta
    var m = SIMD8<Float>(repeating: 1)
    m.replace(with: v, where: v .< 1)
    var r = SIMD8<Float>(repeating: 0)
    r.replace(with: m, where: m .>= 0)
    return r
  }

  /// `x > 0 ? x : 0`.
  @inline(__always)
  static func relu8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var r = SIMD8<Float>(repeating: 0)
    r.replace(with: x, where: x .> 0)
    return r
  }

  @inline(__always)
  static func map(_ p: UnsafeMutablePointer<Float>, count: Int, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    let raw = UnsafeMutableRawPointer(p)
    var i = 0
    while i + 8 <= count {
      let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
      raw.storeBytes(of: f(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
      i += 8
    }
    if i < count {
      var v = SIMD8<Float>()
      for j in 0..<(count - i) { v[j] = p[i + j] }
      let r = f(v)
      for j in 0..<(count - i) { p[i + j] = r[j] }
    }
  }

  /// e^x: Cody-Waite reduction x = n ln2 + r, a degree-6 polynomial for e^r
  /// (Cephes expf coefficients), 2^n from the exponent bits. x is clamped to
  /// [-87.33, 88.37] so 2^n stays a normal number.
  @inline(__always)
  static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var x = x
    let lo = SIMD8<Float>(repeating: -87.336_54), hi = SIMD8<Float>(repeating: 88.376_26)
    x.replace(with: lo, where: x .< lo)
    x.replace(with: hi, where: x .> hi)
    // round(x / ln2) with the 1.5 * 2^23 trick (no roundps on the SSE2 baseline)
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let t = x * 1.442_695_04 + magic
    let n = t - magic
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    var y = SIMD8<Float>(repeating: 1.987_569_15e-4)
    y = y * r + 1.398_199_95e-3
    y = y * r + 8.333_451_9e-3
    y = y * r + 4.166_579_59e-2
    y = y * r + 1.666_666_55e-1
    y = y * r + 5.000_000_12e-1
    y = y * (r * r) + r + 1
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return y * unsafeBitCast(bits, to: SIMD8<Float>.self)
  }

  @inline(__always)
  static func sigmoid8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    var y = 1 / (1 + exp8(-x))
    y.replace(with: x, where: x .!= x)
    return y
  }

  /// tanh: an odd polynomial below |x| = 0.625 (Cephes tanhf), 1 - 2/(e^{2|x|} + 1) above.
  @inline(__always)
  static func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let ax = abs(x)
    let z = x * x
    var small = SIMD8<Float>(repeating: -5.704_988_727_45e-3)
    small = small * z + 2.063_908_879_54e-2
    small = small * z - 5.373_971_555_31e-2
    small = small * z + 1.333_144_220_36e-1
    small = small * z - 3.333_328_194_22e-1
    small = small * z * x + x
    var large = 1 - 2 / (exp8(2 * ax) + 1)
    large.replace(with: -large, where: x .< 0)
    var y = large
    y.replace(with: small, where: ax .< 0.625)
    y.replace(with: x, where: x .!= x)
    return y
  }

  @inline(__always)
  static func abs(_ x: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
  }
}
