/// Hands out a framework's native weights by name, each with the shape the
/// configuration implies, and remembers which were taken, so an adapter reports
/// missing, misshaped and unused weights the same way:
/// - `take` of an absent weight throws `missingWeight` with the expected shape and
///   what the shape means (`"(4*hidden_size, input_size) with hidden_size=4 ..."`);
/// - a weight of another shape throws `shapeMismatch` naming actual and expected;
/// - `finish()` throws `unusedWeights` listing, in the given order, every weight
///   nothing took.
///
/// The size checks (`checkSize`, `checkCount`) refuse a configured size no weight
/// given could match (`num_layers = 1e9`) before an adapter plans or allocates for it.
public struct WeightReader<Scalar: RNNScalar> {
  public let weights: NamedTensors<Scalar>
  private var used: Set<String> = []

  public init(_ weights: NamedTensors<Scalar>) { self.weights = weights }

  /// A weight by name without taking it (for sizes read off a weight), nil when absent.
  public func peek(_ name: String) -> Tensor<Scalar>? { weights[name] }

  public func contains(_ name: String) -> Bool { weights[name] != nil }

  /// The weight `name`, which must have `shape`; `meaning` says what the shape is
  /// made of and where it comes from, for the error.
  public mutating func take(_ name: String, shape: [Int], _ meaning: @autoclosure () -> String) throws -> Tensor<Scalar> {
    guard let t = weights[name] else {
      throw RNNRefError.missingWeight(name: name, expectedShape: shape, reason: meaning())
    }
    guard t.shape == shape else {
      throw RNNRefError.shapeMismatch(name: name, actual: t.shape, expected: shape, reason: meaning())
    }
    used.insert(name)
    return t
  }

  /// An optional weight: nil when absent, else as `take`.
  public mutating func takeIfPresent(_ name: String, shape: [Int], _ meaning: @autoclosure () -> String) throws -> Tensor<Scalar>? {
    guard weights[name] != nil else { return nil }
    return try take(name, shape: shape, meaning())
  }

  /// The weights not taken yet, in the order given.
  public var unused: [String] { weights.names.filter { !used.contains($0) } }

  /// Throws `unusedWeights` when a weight was not taken.
  public func finish() throws {
    let names = unused
    if !names.isEmpty { throw RNNRefError.unusedWeights(names: names) }
  }

  /// Throws `unusedWeights` for every weight whose name is not in `expected`, before
  /// anything is taken (for adapters whose weight names are fixed).
  public func rejectOthers(than expected: Set<String>) throws {
    let names = weights.names.filter { !expected.contains($0) }
    if !names.isEmpty { throw RNNRefError.unusedWeights(names: names) }
  }

  /// The largest dimension of any weight given (0 when none is).
  public var largestDimension: Int { weights.entries.lazy.flatMap(\.tensor.shape).max() ?? 0 }

  /// Refuses a configured size (`hidden_size`, `input_size`, `num_units`) larger
  /// than every dimension of the weights given: every such size is a dimension of
  /// some weight, so no weight can match it. With no weights at all, the missing
  /// weight is the clearer error and this passes.
  public func checkSize(_ value: Int, key: String, fix: String) throws {
    let largest = largestDimension
    guard weights.entries.isEmpty || value <= largest else {
      throw RNNRefError.invalidConfig(
        key: key, value: "\(value)",
        reason: "larger than every dimension of the weights given (the largest is \(largest)), so no weight can match it; \(fix)")
    }
  }

  /// Refuses a configured count (`num_layers`) that needs more weights than are
  /// given: `value` units of at least `weightsEach` weights each. With no weights at
  /// all this passes (the missing weight is the clearer error).
  public func checkCount(_ value: Int, key: String, weightsEach: Int, unit: String, fix: String) throws {
    let (needed, overflow) = value.multipliedReportingOverflow(by: weightsEach)
    guard weights.entries.isEmpty || (!overflow && needed <= weights.entries.count) else {
      throw RNNRefError.invalidConfig(
        key: key, value: "\(value)",
        reason: "needs at least \(weightsEach) weights per \(unit), "
          + (overflow ? "more than can exist" : "\(needed) in all") + ", but \(weights.entries.count) are given; \(fix)")
    }
  }
}
