import Foundation
import RNNRef

/// A tensor flowing through the model, batch-major, with Keras' time-step mask, in the
/// scalar type the model runs in (`KerasPrecision`).
struct Value<S: RNNScalar> {
  var t: Tensor<S>
  /// `(N, T)` row-major, true = valid step; nil = no mask.
  var mask: [Bool]?
}

typealias Shape = [Int?]

/// One imported layer. A layer keeps its weights as loaded (`Double`, exact for float16/32/64
/// files) and runs in the scalar type of its inputs, converting its weights once per type
/// (`ConvertedWeights`): one code path for both precisions. Layers are called through this
/// protocol, where generic code runs unspecialised (each arithmetic operation a witness call);
/// the generic entry points therefore carry `@_specialize` for Float and Double, which
/// dispatches them to code compiled for the concrete type.
///
/// Layers are immutable once built (`Sendable`): what a stateful layer carries between calls
/// lives in the `CarriedStates` the caller passes to `call(_:states:)`.
protocol KerasLayer: AnyObject, Sendable {
  var name: String { get }
  var className: String { get }
  var location: String { get }
  /// Number of scalars in the layer's weights.
  var parameterCount: Int { get }
  /// Output shapes (batch first, nil = unknown) for input shapes.
  func outputShapes(_ inputs: [Shape]) throws -> [Shape]
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>]
  /// `call` for a layer that carries states between calls (a stateful recurrent layer, or a
  /// layer holding one): reads and updates its entry in `states`. The default ignores them.
  func call<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates) throws -> [Value<S>]
}

/// A layer that carries states between calls (a stateful recurrent layer, or a layer holding
/// one): it implements `call(_:states:)`; called without states, it starts from zeros and
/// carries nothing.
protocol StatefulKerasLayer: KerasLayer {}

extension StatefulKerasLayer {
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var none = CarriedStates()
    return try call(inputs, states: &none)
  }
}

extension KerasLayer {
  func call<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates) throws -> [Value<S>] {
    try call(inputs)
  }
  func bad(_ what: String) -> KerasImportError {
    KerasImportError(.invalidInput, "layer `\(name)` (\(location)): \(what)")
  }
  func one<S: RNNScalar>(_ inputs: [Value<S>]) throws -> Value<S> {
    guard inputs.count >= 1 else { throw bad("expected an input, got none") }
    return inputs[0]
  }
}

/// Weights as loaded, in the scalar type a model runs in: converted once per type and kept
/// (`Double` needs no conversion). The cache is filled under a lock, so concurrent `predict`
/// calls on one model convert once and never race (the only mutable state a built layer has).
final class ConvertedWeights: @unchecked Sendable {
  private var byType: [ObjectIdentifier: Any] = [:]
  private let lock = NSLock()
  /// `make`'s result for scalar type `S`, computed on first use.
  func get<S: RNNScalar, T>(_: S.Type, _ make: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    if let v = byType[ObjectIdentifier(S.self)] as? T { return v }
    let v = try make()
    byType[ObjectIdentifier(S.self)] = v
    return v
  }
}

/// A loaded (`Double`) tensor in scalar type `S`: the same tensor for `Double`, rounded to
/// nearest for `Float` (exact for weights stored as float32 or float16).
func converted<S: RNNScalar>(_ t: Tensor<Double>) -> Tensor<S> {
  if let same = t as? Tensor<S> { return same }
  return Tensor<S>(t)
}

// MARK: - Activations

/// A Keras activation applied element-wise (or along the last axis for softmax).
enum KerasActivation: Equatable {
  case scalar(Activation)
  case softmax
  case logSoftmax
  case swish
  case relu6

  static func parse(_ v: JSONValue?, version: Keras.Version, key: String) throws -> KerasActivation {
    guard let v, !v.isNull else { return .scalar(.linear) }
    var name: String?
    if let s = v.string { name = s } else if let o = v.object { name = o["config"]?.string ?? o["class_name"]?.string }
    guard let name else { throw KerasImportError(.invalidConfig, "\(key): expected an activation name, got \(v.jsonText)") }
    switch name {
    case "None": return .scalar(.linear)
    case "softmax": return .softmax
    case "log_softmax": return .logSoftmax
    case "swish", "silu": return .swish
    case "relu6": return .relu6
    default:
      // The element-wise activations recurrent layers also use: one reading of their names.
      do {
        guard let a = try Keras.activation(.string(name), key: key, version: version) else {
          return .scalar(.linear)
        }
        return .scalar(a)
      } catch let e as RNNRefError {
        throw KerasImportError(.invalidConfig, "\(key): activation `\(name)` is not supported; supported: linear, tanh, sigmoid, relu, hard_sigmoid, elu, selu, softsign, softplus, exponential, softmax, log_softmax, swish, relu6", underlying: e)
      }
    }
  }

  @_specialize(where S == Float) @_specialize(where S == Double)
  func apply<S: RNNScalar>(_ t: inout Tensor<S>) {
    if self == .scalar(.linear) { return }
    let f = t.shape.last ?? 1
    t.scalars.withUnsafeMutableBufferPointer { p in
      if let base = p.baseAddress { apply(base, count: p.count, features: f) }
    }
  }

  /// The activation on `count` values at `p`, rows of `features` (softmax and log-softmax run
  /// along each row; `count` is a multiple of `features` for them).
  @_specialize(where S == Float) @_specialize(where S == Double)
  func apply<S: RNNScalar>(_ p: UnsafeMutablePointer<S>, count: Int, features f: Int) {
    switch self {
    case .scalar(let a):
      if a == .linear { return }
      for i in 0..<count { p[i] = a(p[i]) }
    case .swish:
      for i in 0..<count { let x = p[i]; p[i] = x * stableSigmoid(x) }
    case .relu6:
      for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], 0), 6) }
    case .softmax, .logSoftmax:
      guard f > 0 else { return }
      var base = 0
      while base < count {
        var m = -S.infinity
        for j in 0..<f { m = Swift.max(m, p[base + j]) }
        var s: S = 0
        for j in 0..<f { s += S.exp(p[base + j] - m) }
        for j in 0..<f {
          let x = p[base + j] - m
          p[base + j] = self == .softmax ? S.exp(x) / s : x - S.log(s)
        }
        base += f
      }
    }
  }
}

// MARK: - Helpers

/// `activation(x k + b)` over the last axis of `x (..., I)`, `k (I, U)`: the product through the
/// engine's matrix backend (`k` prepared once per call; rows in blocks split over the backend's
/// workers), each block's bias and activation applied by the worker that computed it, while the block
/// is in cache. Every output element is written (no zero-filled buffer). As in Keras, the bias is added
/// to the finished sum (`matmul`, then `bias_add`).
@_specialize(where S == Float) @_specialize(where S == Double)
func dense<S: RNNScalar>(_ x: Tensor<S>, _ k: Tensor<S>, _ b: Tensor<S>?, activation: KerasActivation,
                         backend: any MatmulBackend = Matmul.default) -> Tensor<S> {
  let i = k.shape[0], u = k.shape[1]
  let rows = x.shape.dropLast().reduce(1, *)
  let shape = Array(x.shape.dropLast()) + [u]
  guard rows > 0, u > 0 else { return Tensor(uncheckedZeros: shape) }
  let prepared = i > 0 ? backend.prepare(k) : nil
  let block = 64  // rows per product: a block's outputs stay in L1 for the bias and activation
  var out = [S](unsafeUninitializedCapacity: rows * u) { _, n in n = rows * u }
  x.scalars.withUnsafeBufferPointer { xp in
    out.withUnsafeMutableBufferPointer { op in
      let ptrs = DensePointers(x: xp.baseAddress, out: op.baseAddress!)
      backend.forEachSlice(of: (rows + block - 1) / block, multiplyAdds: rows * i * u) { slice in
        let end = Swift.min(rows, slice.upperBound * block)
        var r = slice.lowerBound * block
        while r < end {
          let m = Swift.min(block, end - r)
          let c = ptrs.out + r * u
          if let prepared, let x = ptrs.x {
            backend.multiply(m: m, a: x + r * i, lda: i, b: prepared, columns: 0..<u, c: c, ldc: u, accumulate: false)
          } else {
            c.update(repeating: 0, count: m * u)
          }
          if let b {
            b.scalars.withUnsafeBufferPointer { bp in
              for row in 0..<m { for j in 0..<u { c[row * u + j] += bp[j] } }
            }
          }
          activation.apply(c, count: m * u, features: u)
          r += m
        }
      }
    }
  }
  return Tensor(uncheckedShape: shape, scalars: out)
}

/// The input and output of `dense` handed to the backend's workers, which write disjoint rows.
private struct DensePointers<S>: @unchecked Sendable {
  let x: UnsafePointer<S>?
  let out: UnsafeMutablePointer<S>
}

func knownCount(_ s: Shape) -> Int? {
  var n = 1
  for d in s { guard let d else { return nil }; n *= d }
  return n
}

// MARK: - Simple layers

final class InputKLayer: KerasLayer {
  let name: String, location: String
  let className = "InputLayer"
  let shape: Shape?
  let isInteger: Bool
  var parameterCount: Int { 0 }
  init(name: String, location: String, shape: Shape?, isInteger: Bool) {
    self.name = name; self.location = location; self.shape = shape; self.isInteger = isInteger
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [shape ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] { inputs }
}

/// Dropout, SpatialDropout1D, GaussianNoise, ... : identity at inference; the mask passes.
final class IdentityKLayer: KerasLayer {
  let name: String, className: String, location: String
  var parameterCount: Int { 0 }
  init(name: String, className: String, location: String) { self.name = name; self.className = className; self.location = location }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [inputs.first ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] { [try one(inputs)] }
}

final class ActivationKLayer: KerasLayer {
  let name: String, className: String, location: String
  let activation: KerasActivation
  var parameterCount: Int { 0 }
  init(name: String, className: String, location: String, activation: KerasActivation) {
    self.name = name; self.className = className; self.location = location; self.activation = activation
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [inputs.first ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var v = try one(inputs)
    activation.apply(&v.t)
    return [v]
  }
}

final class DenseKLayer: KerasLayer {
  let name: String, location: String
  let className = "Dense"
  let kernel: Tensor<Double>, bias: Tensor<Double>?
  let activation: KerasActivation
  let weights = ConvertedWeights()
  var parameterCount: Int { kernel.count + (bias?.count ?? 0) }
  init(name: String, location: String, kernel: Tensor<Double>, bias: Tensor<Double>?, activation: KerasActivation) {
    self.name = name; self.location = location; self.kernel = kernel; self.bias = bias; self.activation = activation
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil]
    return [Array(s.dropLast()) + [kernel.shape[1]]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var v = try one(inputs)
    guard v.t.rank >= 2, v.t.shape.last == kernel.shape[0] else {
      throw bad("input has shape \(KerasImportError.dims(v.t.shape)), expected (..., \(kernel.shape[0])) from the kernel \(KerasImportError.dims(kernel.shape))")
    }
    let (k, b): (Tensor<S>, Tensor<S>?) = weights.get(S.self) { (converted(kernel), bias.map(converted)) }
    v.t = dense(v.t, k, b, activation: activation)
    return [v]
  }
}

final class EmbeddingKLayer: KerasLayer {
  let name: String, location: String
  let className = "Embedding"
  let table: Tensor<Double>
  let maskZero: Bool
  let weights = ConvertedWeights()
  var parameterCount: Int { table.count }
  init(name: String, location: String, table: Tensor<Double>, maskZero: Bool) {
    self.name = name; self.location = location; self.table = table; self.maskZero = maskZero
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [(inputs.first ?? [nil]) + [table.shape[1]]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let v = try one(inputs)
    let vocab = table.shape[0], d = table.shape[1]
    let table: Tensor<S> = weights.get(S.self) { converted(self.table) }
    var out = [S](repeating: 0, count: v.t.count * d)
    for (k, x) in v.t.scalars.enumerated() {
      guard x == x.rounded(), x >= 0, Int(x) < vocab else {
        throw bad("input value \(x) at flat index \(k) is not an index in 0..<\(vocab) (input_dim); Embedding inputs are integer token ids")
      }
      let row = Int(x)
      for j in 0..<d { out[k * d + j] = table.scalars[row * d + j] }
    }
    var mask: [Bool]? = nil
    if maskZero { mask = v.t.scalars.map { $0 != 0 } }
    return [Value(t: Tensor(uncheckedShape: v.t.shape + [d], scalars: out), mask: mask)]
  }
}

final class MaskingKLayer: KerasLayer {
  let name: String, location: String
  let className = "Masking"
  let maskValue: Double
  var parameterCount: Int { 0 }
  init(name: String, location: String, maskValue: Double) { self.name = name; self.location = location; self.maskValue = maskValue }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [inputs.first ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var v = try one(inputs)
    guard v.t.rank == 3 else { throw bad("Masking expects (N, T, F), got \(KerasImportError.dims(v.t.shape))") }
    let n = v.t.shape[0], steps = v.t.shape[1], f = v.t.shape[2]
    var mask = [Bool](repeating: false, count: n * steps)
    let maskValue = S(self.maskValue)  // compared in the model's type, as Keras does
    for s in 0..<(n * steps) {
      mask[s] = (0..<f).contains { v.t.scalars[s * f + $0] != maskValue }
      if !mask[s] { for j in 0..<f { v.t.scalars[s * f + j] = 0 } }
    }
    v.mask = mask
    return [v]
  }
}

final class FlattenKLayer: KerasLayer {
  let name: String, location: String
  let className = "Flatten"
  var parameterCount: Int { 0 }
  init(name: String, location: String) { self.name = name; self.location = location }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil]
    return [[s.first ?? nil, knownCount(Array(s.dropFirst()))]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let v = try one(inputs)
    let n = v.t.shape.first ?? 1
    return [Value(t: v.t.reshaped([n, v.t.count / Swift.max(n, 1)]), mask: nil)]
  }
}

final class ReshapeKLayer: KerasLayer {
  let name: String, location: String
  let className = "Reshape"
  let target: [Int]
  var parameterCount: Int { 0 }
  init(name: String, location: String, target: [Int]) { self.name = name; self.location = location; self.target = target }
  func resolved(_ total: Int?) -> Shape {
    guard target.contains(-1) else { return target.map { $0 } }
    let known = target.filter { $0 != -1 }.reduce(1, *)
    return target.map { $0 == -1 ? total.map { $0 / Swift.max(known, 1) } : $0 }
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil]
    return [[s.first ?? nil] + resolved(knownCount(Array(s.dropFirst())))]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let v = try one(inputs)
    let n = v.t.shape.first ?? 1
    let per = v.t.count / Swift.max(n, 1)
    let dims = resolved(per).map { $0 ?? 0 }
    guard dims.reduce(1, *) == per else {
      throw bad("cannot reshape \(KerasImportError.dims(v.t.shape)) to (N, \(target.map(String.init).joined(separator: ", ")))")
    }
    return [Value(t: v.t.reshaped([n] + dims), mask: nil)]
  }
}

final class RepeatVectorKLayer: KerasLayer {
  let name: String, location: String
  let className = "RepeatVector"
  let times: Int
  var parameterCount: Int { 0 }
  init(name: String, location: String, times: Int) { self.name = name; self.location = location; self.times = times }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil]
    return [[s.first ?? nil, times, s.last ?? nil]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let v = try one(inputs)
    guard v.t.rank == 2 else { throw bad("RepeatVector expects (N, F), got \(KerasImportError.dims(v.t.shape))") }
    let n = v.t.shape[0], f = v.t.shape[1]
    var out = [S](repeating: 0, count: n * times * f)
    for b in 0..<n { for t in 0..<times { for j in 0..<f { out[(b * times + t) * f + j] = v.t.scalars[b * f + j] } } }
    return [Value(t: Tensor(uncheckedShape: [n, times, f], scalars: out), mask: nil)]
  }
}

final class PermuteKLayer: KerasLayer {
  let name: String, location: String
  let className = "Permute"
  /// 1-based axes excluding the batch, as Keras' `dims`.
  let dims: [Int]
  var parameterCount: Int { 0 }
  init(name: String, location: String, dims: [Int]) { self.name = name; self.location = location; self.dims = dims }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? []
    guard s.count == dims.count + 1 else { return [[s.first ?? nil] + dims.map { _ in nil }] }
    return [[s[0]] + dims.map { s[$0] }]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let v = try one(inputs)
    guard v.t.rank == dims.count + 1 else {
      throw bad("Permute(\(dims)) expects rank \(dims.count + 1), got \(KerasImportError.dims(v.t.shape))")
    }
    return [Value(t: v.t.transposed([0] + dims), mask: nil)]
  }
}

/// BatchNormalization at inference: `gamma * (x - mean) / sqrt(var + eps) + beta` along `axis`.
final class BatchNormKLayer: KerasLayer {
  let name: String, location: String
  let className = "BatchNormalization"
  let axis: Int
  let gamma: Tensor<Double>?, beta: Tensor<Double>?, mean: Tensor<Double>, variance: Tensor<Double>
  let epsilon: Double
  let weights = ConvertedWeights()
  var parameterCount: Int { (gamma?.count ?? 0) + (beta?.count ?? 0) + mean.count + variance.count }
  init(name: String, location: String, axis: Int, gamma: Tensor<Double>?, beta: Tensor<Double>?,
       mean: Tensor<Double>, variance: Tensor<Double>, epsilon: Double) {
    self.name = name; self.location = location; self.axis = axis
    self.gamma = gamma; self.beta = beta; self.mean = mean; self.variance = variance; self.epsilon = epsilon
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [inputs.first ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var v = try one(inputs)
    let ax = axis < 0 ? v.t.rank + axis : axis
    guard ax >= 0, ax < v.t.rank, v.t.shape[ax] == mean.count else {
      throw bad("input shape \(KerasImportError.dims(v.t.shape)) does not have \(mean.count) features on axis \(axis)")
    }
    let c = mean.count
    let inner = v.t.shape[(ax + 1)...].reduce(1, *)
    // The same arithmetic as Keras: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) * gamma.
    let (inv, off): ([S], [S]) = weights.get(S.self) {
      let gamma: Tensor<S>? = self.gamma.map(converted), beta: Tensor<S>? = self.beta.map(converted)
      let mean: Tensor<S> = converted(self.mean), variance: Tensor<S> = converted(self.variance)
      var inv = [S](repeating: 0, count: c), off = [S](repeating: 0, count: c)
      for j in 0..<c {
        inv[j] = 1 / (variance.scalars[j] + S(epsilon)).squareRoot() * (gamma?.scalars[j] ?? 1)
        off[j] = (beta?.scalars[j] ?? 0) - mean.scalars[j] * inv[j]
      }
      return (inv, off)
    }
    for i in v.t.scalars.indices {
      let j = (i / inner) % c
      v.t.scalars[i] = v.t.scalars[i] * inv[j] + off[j]
    }
    return [v]
  }
}

/// LayerNormalization over one axis: the last (Keras' default `axis=-1`) or `axis`.
final class LayerNormKLayer: KerasLayer {
  let name: String, location: String
  let className = "LayerNormalization"
  let gamma: Tensor<Double>?, beta: Tensor<Double>?
  let epsilon: Double
  /// The normalised axis when not the last (nil: the last).
  let axis: Int?
  let weights = ConvertedWeights()
  var parameterCount: Int { (gamma?.count ?? 0) + (beta?.count ?? 0) }
  init(name: String, location: String, gamma: Tensor<Double>?, beta: Tensor<Double>?, epsilon: Double, axis: Int? = nil) {
    self.name = name; self.location = location; self.gamma = gamma; self.beta = beta; self.epsilon = epsilon
    self.axis = axis
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] { [inputs.first ?? [nil]] }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    var v = try one(inputs)
    let ax = axis ?? (v.t.rank - 1)
    guard ax >= 0, ax < v.t.rank else { throw bad("input shape \(KerasImportError.dims(v.t.shape)) has no axis \(ax)") }
    let f = v.t.shape[ax]
    guard gamma == nil || gamma!.count == f, beta == nil || beta!.count == f else {
      throw bad("input shape \(KerasImportError.dims(v.t.shape)) has \(f) features on axis \(ax), the weights \(gamma?.count ?? beta?.count ?? f)")
    }
    let inner = v.t.shape[(ax + 1)...].reduce(1, *), outer = v.t.shape[..<ax].reduce(1, *)
    let (gamma, beta): (Tensor<S>?, Tensor<S>?) = weights.get(S.self) { (self.gamma.map(converted), self.beta.map(converted)) }
    for o in 0..<outer { for i in 0..<inner {
      let base = o * f * inner + i
      var m: S = 0
      for j in 0..<f { m += v.t.scalars[base + j * inner] }
      m /= S(f)
      var s: S = 0
      for j in 0..<f { let d = v.t.scalars[base + j * inner] - m; s += d * d }
      let inv = 1 / (s / S(f) + S(epsilon)).squareRoot()
      for j in 0..<f {
        let p = base + j * inner
        v.t.scalars[p] = (v.t.scalars[p] - m) * inv * (gamma?.scalars[j] ?? 1) + (beta?.scalars[j] ?? 0)
      }
    } }
    return [v]
  }
}

/// Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum.
final class MergeKLayer: KerasLayer {
  let name: String, className: String, location: String
  let axis: Int
  var parameterCount: Int { 0 }
  init(name: String, className: String, location: String, axis: Int) {
    self.name = name; self.className = className; self.location = location; self.axis = axis
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    guard var s = inputs.first else { return [[nil]] }
    if className == "Concatenate" {
      let ax = axis < 0 ? s.count + axis : axis
      if ax >= 0 && ax < s.count {
        s[ax] = inputs.reduce(0 as Int?) { acc, x in
          guard let acc, ax < x.count, let d = x[ax] else { return nil }
          return acc + d
        }
      }
    }
    return [s]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    guard inputs.count >= 2 || (className != "Subtract" && inputs.count >= 1) else {
      throw bad("\(className) needs at least two inputs, got \(inputs.count)")
    }
    var mask: [Bool]? = nil
    for v in inputs { if let m = v.mask { mask = mask.map { zip($0, m).map { $0 && $1 } } ?? m } }
    if className == "Concatenate" {
      let rank = inputs[0].t.rank
      let ax = axis < 0 ? rank + axis : axis
      for v in inputs where v.t.rank != rank || (0..<rank).contains(where: { $0 != ax && v.t.shape[$0] != inputs[0].t.shape[$0] }) {
        throw bad("Concatenate(axis=\(axis)) inputs have shapes \(inputs.map { KerasImportError.dims($0.t.shape) }), which differ off the axis")
      }
      // A time-step mask only survives a concatenation of features (the last axis).
      return [Value(t: Tensor.concatenate(inputs.map(\.t), axis: ax), mask: ax == rank - 1 ? mask : nil)]
    }
    for v in inputs where v.t.shape != inputs[0].t.shape {
      throw bad("\(className) inputs have shapes \(inputs.map { KerasImportError.dims($0.t.shape) }); they must be equal")
    }
    var out = inputs[0].t
    for v in inputs.dropFirst() {
      for i in out.scalars.indices {
        let a = out.scalars[i], b = v.t.scalars[i]
        switch className {
        case "Add", "Average": out.scalars[i] = a + b
        case "Subtract": out.scalars[i] = a - b
        case "Multiply": out.scalars[i] = a * b
        case "Maximum": out.scalars[i] = Swift.max(a, b)
        case "Minimum": out.scalars[i] = Swift.min(a, b)
        default: break
        }
      }
    }
    if className == "Average" { for i in out.scalars.indices { out.scalars[i] /= S(inputs.count) } }
    return [Value(t: out, mask: mask)]
  }
}

/// TimeDistributed(layer): the inner layer on `(N*T, ...)`; the mask passes.
final class TimeDistributedKLayer: StatefulKerasLayer {
  let name: String, location: String
  let className = "TimeDistributed"
  let inner: KerasLayer
  var parameterCount: Int { inner.parameterCount }
  init(name: String, location: String, inner: KerasLayer) { self.name = name; self.location = location; self.inner = inner }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil]
    guard s.count >= 2 else { return [[nil]] }
    let o = try inner.outputShapes([[nil] + Array(s.dropFirst(2))])
    return [[s[0], s[1]] + Array((o.first ?? [nil]).dropFirst())]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates) throws -> [Value<S>] {
    let v = try one(inputs)
    guard v.t.rank >= 3 else { throw bad("TimeDistributed expects (N, T, ...), got \(KerasImportError.dims(v.t.shape))") }
    let n = v.t.shape[0], steps = v.t.shape[1]
    let flat = Value<S>(t: v.t.reshaped([n * steps] + Array(v.t.shape.dropFirst(2))), mask: nil)
    guard let o = try inner.call([flat], states: &states).first else { throw bad("the wrapped layer returned nothing") }
    return [Value(t: o.t.reshaped([n, steps] + Array(o.t.shape.dropFirst())), mask: v.mask)]
  }
}
