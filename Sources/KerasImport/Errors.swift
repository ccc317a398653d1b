import Foundation
import RNNRef

/// Why a Keras file could not be loaded or run. Every message names the file,
/// the layer (and where it sits in the model), the weight and both shapes where
/// they apply, and what to do.
public struct KerasImportError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
  public enum Kind: String, Equatable, Sendable {
    /// The file is missing, not a Keras file, or its container is damaged.
    case unreadableFile
    /// The file holds weights only and no architecture was given.
    case noArchitecture
    /// The model was saved before it was built: it has no weights.
    case noWeights
    /// A layer class this importer does not implement.
    case unsupportedLayer
    /// A `Lambda` layer: arbitrary Python code that is never executed or unmarshalled.
    case lambdaLayer
    /// A weight the configuration needs is not in the file.
    case missingWeight
    /// The file holds weights the configuration does not use.
    case surplusWeight
    /// A weight has the wrong shape.
    case shapeMismatch
    /// The configuration is malformed or holds a value this importer does not know.
    case invalidConfig
    /// The inputs given to `predict` do not fit the model.
    case invalidInput
  }

  public var kind: Kind
  public var message: String
  /// The error this one reports, when it comes from the Keras adapter (an `RNNRefError`
  /// naming the weight, shapes or config key); `message` says where it happened too.
  public var underlying: (any Error & Sendable)?

  public init(_ kind: Kind, _ message: String, underlying: (any Error & Sendable)? = nil) {
    self.kind = kind; self.message = message; self.underlying = underlying
  }

  /// An adapter error in its place: `context` says which file and layer (`path: layer `lstm`
  /// (where)`); the kind follows the adapter's case.
  init(_ error: RNNRefError, context: String) {
    let kind: Kind
    switch error {
    case .missingWeight: kind = .missingWeight
    case .unusedWeights: kind = .surplusWeight
    case .shapeMismatch: kind = .shapeMismatch
    case .unsupported: kind = .unsupportedLayer
    default: kind = .invalidConfig
    }
    self.init(kind, "\(context): \(error)", underlying: error)
  }

  public var description: String { message }
  public var errorDescription: String? { description }

  /// Equal kind and message (the underlying error is part of the message).
  public static func == (a: KerasImportError, b: KerasImportError) -> Bool { a.kind == b.kind && a.message == b.message }

  static func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
  static func dims(_ s: [Int?]) -> String { "(" + s.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")" }
}
