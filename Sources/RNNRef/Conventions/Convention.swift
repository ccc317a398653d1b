/// Named tensors in a fixed order (weights, inputs or outputs in a framework's native names).
public struct NamedTensors<Scalar: RNNScalar>: Equatable, Sendable {
  public var entries: [(name: String, tensor: Tensor<Scalar>)]

  public init(_ entries: [(name: String, tensor: Tensor<Scalar>)] = []) { self.entries = entries }

  public var names: [String] { entries.map(\.name) }
  public subscript(name: String) -> Tensor<Scalar>? {
    get { entries.first { $0.name == name }?.tensor }
    set {
      if let i = entries.firstIndex(where: { $0.name == name }) {
        if let v = newValue { entries[i].tensor = v } else { entries.remove(at: i) }
      } else if let v = newValue {
        entries.append((name, v))
      }
    }
  }
  public mutating func append(_ name: String, _ tensor: Tensor<Scalar>) { entries.append((name, tensor)) }

  public static func == (a: NamedTensors, b: NamedTensors) -> Bool {
    a.entries.count == b.entries.count
      && zip(a.entries, b.entries).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
  }
}

/// One framework's conventions: native config and weights to the canonical
/// network and back, and a native call (inputs in the framework's layout) to
/// native outputs.
public protocol FrameworkConvention {
  /// The `framework` attribute of the cases this adapter runs.
  static var framework: Framework { get }

  /// Runs a native call: `config` is the case's native configuration, `weights`
  /// and `inputs` carry native names, shapes and layouts. Returns the outputs in
  /// native names, order and layout.
  static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar>

  /// Names of the axes of a native output (see the default in the extension below).
  static func axisNames(output: String, config: JSONValue) -> [String]?
}

/// Registry of the framework adapters.
public enum Conventions {
  /// Every case-level adapter in RNNRef, one file each under `Conventions/`. Keras cases
  /// run through KerasImport's model graph (`KerasCases`), which Conformance adds.
  nonisolated(unsafe) public static let all: [any FrameworkConvention.Type] = [TF1.self, PyTorch.self, ONNX.self]
}

/// Converting a network between frameworks: each adapter imports its native
/// configuration and weights into the canonical `Network` and exports one back,
/// or throws `RNNRefError.unsupported` naming what it cannot express.
public protocol NetworkConvention: FrameworkConvention {
  static func importNetwork<Scalar: RNNScalar>(config: JSONValue, weights: NamedTensors<Scalar>) throws -> Network<Scalar>
  static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>) throws -> (config: JSONValue, weights: NamedTensors<Scalar>)
}

extension FrameworkConvention {
  /// Names of the axes of a native output, for reports: e.g. `["batch", "step", "unit"]`
  /// for a batch-major sequence output, `["layer*dir", "batch", "unit"]` for PyTorch `h_n`.
  /// Adapters override this; nil means the report names axes by position.
  public static func axisNames(output: String, config: JSONValue) -> [String]? { nil }
}
