import Foundation

/// Why an ONNX model, or a tensor file of an ONNX backend test, cannot be read or run. Every
/// message names the file, and where it applies the node (op type and name) or the tensor.
public struct ONNXImportError: Error, Sendable, CustomStringConvertible, LocalizedError {
  public enum Kind: Sendable, Equatable {
    /// Not a protobuf of the expected message (`ModelProto` / `TensorProto`), or truncated.
    case malformed
    /// An operator outside the supported set (`ONNXModel.supportedOps`), or another domain.
    case unsupportedOp
    /// A feature the reader refuses: external data, a data type, an attribute kind.
    case unsupported
    /// A graph that does not hold together: an undefined or twice-defined value, a missing input.
    case invalidGraph
    /// A node whose inputs or attributes break the operator's rules (shapes, axes, indices).
    case invalidNode
    /// A tensor whose declared size does not match its data, or beyond the size cap.
    case invalidTensor
    /// Run-time inputs that do not match the graph's.
    case invalidInput
  }

  public var kind: Kind
  /// The file the problem is in.
  public var path: String
  public var detail: String
  /// The error that revealed the problem (the protobuf decoder's, the recurrent adapter's).
  public var underlying: (any Error)?

  public init(_ kind: Kind, path: String, _ detail: String, underlying: (any Error)? = nil) {
    self.kind = kind; self.path = path; self.detail = detail; self.underlying = underlying
  }

  public var description: String { "\(path): \(detail)" }
  public var errorDescription: String? { description }
}

/// A node for messages: `LSTM node "/LSTM_1"` (or `node #3` when unnamed).
func describe(opType: String, name: String, index: Int) -> String {
  name.isEmpty ? "\(opType) node #\(index) (unnamed)" : "\(opType) node \"\(name)\""
}
