import Foundation
import RealModule

/// The scalar types the reference runs in: `Float` for the framework's own
/// precision, `Double` as the oracle that separates rounding from disagreement.
public protocol RNNScalar: BinaryFloatingPoint, Real, Sendable, Codable
where Self.RawSignificand: FixedWidthInteger {
  /// The engine's layer loop for this type (use `Engine.run`). Float and Double implement it with a
  /// concrete call so the optimizer specialises the cell math for them; other conformers get the
  /// generic code by default.
  static func _runEngineLayer(
    _ layer: RecurrentLayer<Self>, input x: Tensor<Self>, layout: SequenceLayout, mask: StepMask?,
    initialStates: [LayerState<Self>]?, backend: any MatmulBackend, name: String, keepDirections: Bool
  ) throws -> LayerOutput<Self>
}
extension Float: RNNScalar {}
extension Double: RNNScalar {}

/// A dense row-major tensor with an explicit shape.
///
/// `shape` lists the dimensions, outermost first; `scalars` holds `shape.reduce(1, *)`
/// values in row-major (C) order, so the last axis varies fastest. A sequence for
/// `KerasModel.predict` is batch-major `(batch, steps, features)`; the RNNRef engine
/// (`Engine.run`, `Network`) reads time-major `(steps, batch, features)`.
///
/// ```swift
/// // 2 sequences of 3 steps of 4 features, batch-major: scalars[(b * 3 + t) * 4 + f]
/// let x = try Tensor<Float>(shape: [2, 3, 4], scalars: (0..<24).map { Float($0) / 24 })
/// let zeros = try Tensor<Double>(zeros: [3, 2, 4])
/// let timeMajor = x.transposed([1, 0, 2])          // (steps, batch, features)
/// ```
///
/// The public initializers throw ``TensorShapeError`` when the shape and the scalars disagree
/// or a dimension is negative. `Tensor` is `Codable` as `{"shape": [...], "scalars": [...]}`;
/// decoding checks the shape the same way. (Non-finite scalars need a `JSONEncoder` with a
/// `nonConformingFloatEncodingStrategy`, as for any `Float` or `Double`.)
public struct Tensor<Scalar: RNNScalar>: Equatable, Sendable {
  /// The dimensions, outermost first; every entry is >= 0.
  public var shape: [Int]
  /// The values in row-major order; `scalars.count == shape.reduce(1, *)`.
  public var scalars: [Scalar]

  /// A tensor of `shape` holding `scalars` in row-major order (the last axis varies fastest).
  /// - Throws: ``TensorShapeError`` when a dimension is negative or `scalars.count` is not
  ///   the product of `shape` (`[]` is a scalar: one value).
  public init(shape: [Int], scalars: [Scalar]) throws {
    try TensorShapeError.check(shape, count: scalars.count)
    self.shape = shape
    self.scalars = scalars
  }

  /// A tensor of `shape` filled with zeros.
  /// - Throws: ``TensorShapeError`` when a dimension is negative.
  public init(zeros shape: [Int]) throws {
    try TensorShapeError.check(shape, count: nil)
    self.init(uncheckedZeros: shape)
  }

  /// `init(shape:scalars:)` for code in this package whose shape is right by construction
  /// (the engine, the adapters, slicing): traps instead of throwing on a wrong shape. Not
  /// part of the public API: callers outside the package use the throwing initializer.
  @usableFromInline package init(uncheckedShape shape: [Int], scalars: [Scalar]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    precondition(shape.reduce(1, *) == scalars.count,
                 "shape \(shape) holds \(shape.reduce(1, *)) scalars, got \(scalars.count)")
    self.shape = shape
    self.scalars = scalars
  }

  /// `init(zeros:)` for code in this package whose shape is right by construction.
  @usableFromInline package init(uncheckedZeros shape: [Int]) {
    self.init(uncheckedShape: shape, scalars: Array(repeating: 0, count: shape.reduce(1, *)))
  }

  /// Converts between scalar types (Float <-> Double) keeping the shape (rounding to
  /// nearest when narrowing). Specialised for Float and Double: called from other modules (predict's
  /// input and output conversions) it otherwise runs as generic code, a witness call per element.
  @_specialize(where Scalar == Float, Other == Double) @_specialize(where Scalar == Double, Other == Float)
  @_specialize(where Scalar == Float, Other == Float) @_specialize(where Scalar == Double, Other == Double)
  public init<Other: RNNScalar>(_ other: Tensor<Other>) {
    self.shape = other.shape
    self.scalars = other.scalars.map { Scalar($0) }
  }

  public var rank: Int { shape.count }
  public var count: Int { scalars.count }

  /// Row-major strides.
  public var strides: [Int] {
    var s = Array(repeating: 1, count: shape.count)
    var acc = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
      s[axis] = acc
      acc *= shape[axis]
    }
    return s
  }

  public subscript(index: [Int]) -> Scalar {
    get { scalars[flatIndex(index)] }
    set { scalars[flatIndex(index)] = newValue }
  }

  public func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == shape.count, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, s) in zip(index, strides) { flat += i * s }
    return flat
  }

  /// The multi-index of a flat position.
  public func multiIndex(_ flat: Int) -> [Int] {
    var rest = flat
    return strides.map { s in
      let i = rest / s
      rest -= i * s
      return i
    }
  }

  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(uncheckedShape: newShape, scalars: scalars)
  }

  /// Permutes axes: `result.shape[i] == shape[axes[i]]`.
  /// Specialised for Float and Double: callers in other modules (the Keras adapter's
  /// time-major/batch-major swaps) otherwise run it as unspecialised generic code.
  @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
  public func transposed(_ axes: [Int]) -> Tensor {
    precondition(axes.sorted() == Array(0..<rank), "bad permutation \(axes) for rank \(rank)")
    let newShape = axes.map { shape[$0] }
    // every element is written below: no zero-filling pass first
    var out = Tensor(uncheckedShape: newShape, scalars: [Scalar](unsafeUninitializedCapacity: count) { _, n in n = count })
    let oldStrides = strides
    let permutedStrides = axes.map { oldStrides[$0] }
    let n = count
    if n == 0 { return out }
    if rank >= 1 && axes[rank - 1] == rank - 1 {
      // The last axis stays last (time-major <-> batch-major): whole rows are copied.
      let inner = newShape[rank - 1], rows = n / inner
      var idx = Array(repeating: 0, count: rank - 1)
      scalars.withUnsafeBufferPointer { src in
        out.scalars.withUnsafeMutableBufferPointer { dst in
          for row in 0..<rows {
            var from = 0
            for a in 0..<(rank - 1) { from += idx[a] * permutedStrides[a] }
            (dst.baseAddress! + row * inner).update(from: src.baseAddress! + from, count: inner)
            Self.advance(&idx, in: newShape)
          }
        }
      }
      return out
    }
    var idx = Array(repeating: 0, count: rank)
    for flat in 0..<n {
      var src = 0
      for a in 0..<rank { src += idx[a] * permutedStrides[a] }
      out.scalars[flat] = scalars[src]
      Self.advance(&idx, in: newShape)
    }
    return out
  }

  /// Steps the multi-index `idx` to the next position over the first `idx.count` axes of
  /// `shape`, the last of them fastest (back to all zeros after the last position).
  @inline(__always)
  private static func advance(_ idx: inout [Int], in shape: [Int]) {
    var a = idx.count - 1
    while a >= 0 {
      idx[a] += 1
      if idx[a] < shape[a] { return }
      idx[a] = 0
      a -= 1
    }
  }

  /// The 2-D transpose.
  public var transposed2D: Tensor {
    precondition(rank == 2, "transposed2D needs rank 2, got shape \(shape)")
    return transposed([1, 0])
  }

  /// Splits `axis` into `parts` equal blocks.
  public func split(_ parts: Int, axis: Int) -> [Tensor] {
    precondition(shape[axis] % parts == 0, "axis \(axis) of \(shape) is not divisible by \(parts)")
    let size = shape[axis] / parts
    return (0..<parts).map { slice(axis: axis, range: ($0 * size)..<(($0 + 1) * size)) }
  }

  /// A contiguous range along one axis.
  public func slice(axis: Int, range: Range<Int>) -> Tensor {
    precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                 "range \(range) out of bounds for axis \(axis) of \(shape)")
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var newShape = shape
    newShape[axis] = range.count
    var out: [Scalar] = []
    out.reserveCapacity(outer * range.count * inner)
    for o in 0..<outer {
      let base = o * shape[axis] * inner
      out.append(contentsOf: scalars[(base + range.lowerBound * inner)..<(base + range.upperBound * inner)])
    }
    return Tensor(uncheckedShape: newShape, scalars: out)
  }

  /// Concatenates along `axis`; all other dimensions must agree.
  public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concatenate needs at least one tensor")
    let first = parts[0].shape
    for p in parts {
      precondition(p.rank == first.count, "concatenate: rank mismatch \(p.shape) vs \(first)")
      for a in 0..<first.count where a != axis {
        precondition(p.shape[a] == first[a], "concatenate: shape \(p.shape) vs \(first) on axis \(a)")
      }
    }
    let outer = first[..<axis].reduce(1, *)
    var newShape = first
    newShape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
    let total = newShape.reduce(1, *)
    let blocks = parts.map { $0.shape[axis...].reduce(1, *) }
    // block copies into an uninitialised array (every element is written)
    let out = [Scalar](unsafeUninitializedCapacity: total) { buf, n in
      var at = 0
      for o in 0..<outer {
        for (p, block) in zip(parts, blocks) where block > 0 {
          p.scalars.withUnsafeBufferPointer { src in
            (buf.baseAddress! + at).initialize(from: src.baseAddress! + o * block, count: block)
          }
          at += block
        }
      }
      n = total
    }
    return Tensor(uncheckedShape: newShape, scalars: out)
  }

  /// Reorders equal gate blocks along `axis`: `result` block k is `self` block `order[k]`.
  /// Used by adapters to move between a framework's gate order and the canonical one.
  public func reorderingBlocks(_ order: [Int], axis: Int) -> Tensor {
    let blocks = split(order.count, axis: axis)
    return Tensor.concatenate(order.map { blocks[$0] }, axis: axis)
  }
}

extension Tensor: Codable {
  private enum CodingKeys: String, CodingKey { case shape, scalars }

  /// Decodes `{"shape": [...], "scalars": [...]}`; a shape that does not fit the scalars is
  /// a `DecodingError.dataCorrupted` naming both.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let shape = try c.decode([Int].self, forKey: .shape)
    let scalars = try c.decode([Scalar].self, forKey: .scalars)
    do {
      try self.init(shape: shape, scalars: scalars)
    } catch let e as TensorShapeError {
      throw DecodingError.dataCorruptedError(forKey: .scalars, in: c, debugDescription: e.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(shape, forKey: .shape)
    try c.encode(scalars, forKey: .scalars)
  }
}

/// A tensor's shape does not fit its scalars, or has a negative dimension.
public struct TensorShapeError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// The shape asked for.
  public var shape: [Int]
  /// How many scalars were given (nil for `init(zeros:)`).
  public var scalarCount: Int?

  public init(shape: [Int], scalarCount: Int?) {
    self.shape = shape
    self.scalarCount = scalarCount
  }

  public var description: String {
    let dims = "[" + shape.map(String.init).joined(separator: ", ") + "]"
    if let bad = shape.firstIndex(where: { $0 < 0 }) {
      return "shape \(dims) has a negative dimension (\(shape[bad]) on axis \(bad)); every dimension must be >= 0"
    }
    guard let needed = Self.product(shape) else {
      return "shape \(dims) holds more scalars than an Int counts"
    }
    return "shape \(dims) holds \(needed) scalars (the product of its dimensions), got \(scalarCount ?? -1); "
      + "give \(needed) scalars in row-major order or a shape whose product is \(scalarCount ?? -1)"
  }

  public var errorDescription: String? { description }

  /// The number of scalars `shape` holds, nil on overflow.
  static func product(_ shape: [Int]) -> Int? {
    var product = 1
    for d in shape {
      let (p, overflow) = product.multipliedReportingOverflow(by: d)
      if overflow { return nil }
      product = p
    }
    return product
  }

  /// Throws when a dimension is negative, the product overflows, or (with `count`) the
  /// product is not `count`.
  static func check(_ shape: [Int], count: Int?) throws {
    guard shape.allSatisfy({ $0 >= 0 }), let product = product(shape), count == nil || product == count else {
      throw TensorShapeError(shape: shape, scalarCount: count)
    }
  }
}
