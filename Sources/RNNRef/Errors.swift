import Foundation

/// Why a native network could not be imported, run or exported.
/// Messages name the weight, its shape, the shape expected and the config value it follows from.
public enum RNNRefError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  /// A weight the configuration requires is absent.
  case missingWeight(name: String, expectedShape: [Int], reason: String)
  /// Weights nothing in the configuration uses.
  case unusedWeights(names: [String])
  /// A weight (or input) has the wrong shape.
  case shapeMismatch(name: String, actual: [Int], expected: [Int], reason: String)
  /// A required input is absent.
  case missingInput(name: String, reason: String)
  /// The configuration is malformed or holds a value we do not know.
  case invalidConfig(key: String, value: String, reason: String)
  /// The target framework cannot express this network.
  case unsupported(framework: String, feature: String)

  public var description: String {
    func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
    switch self {
    case let .missingWeight(name, shape, reason):
      return "weight `\(name)` is missing: expected shape \(dims(shape)) (\(reason))"
    case let .unusedWeights(names):
      return "weights not used by the configuration: " + names.map { "`\($0)`" }.joined(separator: ", ")
        + "; check the layer configuration (bias, bidirectional, num_layers, projection) matches the weights"
    case let .shapeMismatch(name, actual, expected, reason):
      return "`\(name)` has shape \(dims(actual)), expected \(dims(expected)) (\(reason))"
    case let .missingInput(name, reason):
      return "input `\(name)` is missing (\(reason))"
    case let .invalidConfig(key, value, reason):
      return "config `\(key)` = \(value): \(reason)"
    case let .unsupported(framework, feature):
      return "\(framework) cannot express \(feature)"
    }
  }

  /// The same text as `description`, for `localizedDescription`.
  public var errorDescription: String? { description }
}

extension RNNRefError {
  /// `unsupported` naming an adapter's own framework by its case-file spelling ("pytorch cannot express ...").
  public static func unsupported(framework: Framework, feature: String) -> RNNRefError {
    .unsupported(framework: framework.rawValue, feature: feature)
  }
}
