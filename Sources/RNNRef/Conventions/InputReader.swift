/// The run-time inputs of a native call, read by name with the errors every
/// adapter gives: a required input absent (`missingInput`), an input of the wrong
/// shape (`shapeMismatch` with what the shape means), inputs the call does not take
/// (`invalidConfig` at `inputs`, listing what it takes) and per-sample lengths that
/// are not integers in range (`invalidConfig` at `<name>[n]`).
public struct InputReader<Scalar: RNNScalar> {
  public let inputs: NamedTensors<Scalar>

  public init(_ inputs: NamedTensors<Scalar>) { self.inputs = inputs }

  public subscript(name: String) -> Tensor<Scalar>? { inputs[name] }

  /// A required input; absent throws `missingInput` with `reason`.
  public func require(_ name: String, _ reason: @autoclosure () -> String) throws -> Tensor<Scalar> {
    guard let t = inputs[name] else { throw RNNRefError.missingInput(name: name, reason: reason()) }
    return t
  }

  /// Throws `shapeMismatch` unless `t` (the input `name`) has `shape`.
  public func check(_ name: String, _ t: Tensor<Scalar>, shape: [Int], _ meaning: @autoclosure () -> String) throws {
    guard t.shape == shape else {
      throw RNNRefError.shapeMismatch(name: name, actual: t.shape, expected: shape, reason: meaning())
    }
  }

  /// An optional input of an exact shape: nil when absent.
  public func optional(_ name: String, shape: [Int], _ meaning: @autoclosure () -> String) throws -> Tensor<Scalar>? {
    guard let t = inputs[name] else { return nil }
    try check(name, t, shape: shape, meaning())
    return t
  }

  /// Refuses inputs not in `allowed`, all named at once (in the order given).
  public func rejectOthers(than allowed: [String], reason: String) throws {
    let unknown = inputs.names.filter { !allowed.contains($0) }
    if !unknown.isEmpty {
      throw RNNRefError.invalidConfig(key: "inputs", value: unknown.map { "`\($0)`" }.joined(separator: ", "), reason: reason)
    }
  }

  /// Per-sample lengths from the input `name`: shape `(batch)`, every value an
  /// integer in `range`; nil when the input is absent. `key` names the input in
  /// errors (`sequence_lens` gives `sequence_lens[1]`); `why` says where the range
  /// comes from.
  public func lengths(_ name: String, key: String? = nil, batch: Int, in range: ClosedRange<Int>,
                      shapeMeaning: @autoclosure () -> String, why: String) throws -> [Int]? {
    guard let t = try optional(name, shape: [batch], shapeMeaning()) else { return nil }
    return try t.scalars.enumerated().map { n, v in
      let d = Double(v)
      guard d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
        throw RNNRefError.invalidConfig(key: "\(key ?? name)[\(n)]", value: "\(v)",
                                        reason: "expected an integer in \(range.lowerBound)...\(range.upperBound) (\(why))")
      }
      return Int(d)
    }
  }
}
