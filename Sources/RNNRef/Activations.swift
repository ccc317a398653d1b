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
  /// `[-clip, clip]` first when `clip` is given (ONNX `clip`).
  @inlinable
  public func apply<S: RNNScalar>(_ p: UnsafeMutablePointer<S>, count: Int, clip: S?) {
    if let clip {
      for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], -clip), clip) }
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

/// Vectorised Float sigmoid and tanh for the hot loop. Returns false for
/// activations it does not handle (the caller falls back to the scalar path).
@usableFromInline
enum FastActivations {
  @usableFromInline
  static func apply(_ a: Activation, _ p: UnsafeMutablePointer<Float>, count: Int) -> Bool {
    false
  }
}
