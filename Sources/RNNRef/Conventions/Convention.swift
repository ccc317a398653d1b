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
///
/// An adapter parses a case's native configuration once (`parseConfig`) into its
/// typed `Config`, which `evaluate`, `importNetwork` and `axisNames` share. The
/// JSON forms in the extension below parse and forward, for callers holding JSON;
/// `parsed(config:)` keeps one parse for a caller that only knows the framework
/// by name (the conformance runner).
public protocol FrameworkConvention {
  /// The `framework` attribute of the cases this adapter runs.
  static var framework: Framework { get }

  /// The adapter's parsed native configuration.
  associatedtype Config

  /// Parses and validates a case's native configuration; errors name the key path
  /// and the fix (`RNNRefError.invalidConfig`, or `unsupported`).
  static func parseConfig(_ json: JSONValue) throws -> Config

  /// Runs a native call: `weights` and `inputs` carry native names, shapes and
  /// layouts. Returns the outputs in native names, order and layout.
  static func evaluate<Scalar: RNNScalar>(
    config: Config, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar>

  /// Names of the axes of a native output, for reports: e.g. `["batch", "step", "unit"]`
  /// for a batch-major sequence output, `["layer*dir", "batch", "unit"]` for PyTorch `h_n`;
  /// nil means the report names axes by position.
  static func axisNames(output: String, config: Config) -> [String]?

  /// The shapes `evaluate` will give its outputs, from the configuration and the shapes of the
  /// weights and inputs alone, so a case whose expected outputs cannot match is refused before
  /// the reference runs. A nil dimension depends on input values (packed lengths); an output
  /// absent from the answer, or a nil answer (the default), has no rule. Inputs that `evaluate`
  /// would refuse give nil: `evaluate` says why.
  static func outputShapes(config: Config, weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]?
}

extension FrameworkConvention {
  public static func outputShapes(config: Config, weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]? {
    nil
  }
}

extension FrameworkConvention {
  /// `evaluate` from the JSON configuration (parsed here, once).
  public static func evaluate<Scalar: RNNScalar>(
    config json: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    try evaluate(config: parseConfig(json), weights: weights, inputs: inputs)
  }

  /// `axisNames` from the JSON configuration; nil when it does not parse.
  public static func axisNames(output: String, config json: JSONValue) -> [String]? {
    guard let config = try? parseConfig(json) else { return nil }
    return axisNames(output: output, config: config)
  }

  /// The configuration parsed once, with this convention, for callers holding
  /// `any FrameworkConvention.Type`.
  public static func parsed(config json: JSONValue) throws -> any ParsedConfig {
    Parsed<Self>(config: try parseConfig(json))
  }
}

/// A case's configuration parsed by its adapter: run it and name output axes
/// without parsing again.
public protocol ParsedConfig {
  /// The adapter's `framework` attribute.
  var framework: Framework { get }
  func evaluate<Scalar: RNNScalar>(weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>) throws -> NamedTensors<Scalar>
  func axisNames(output: String) -> [String]?
  /// `FrameworkConvention.outputShapes` of this configuration.
  func outputShapes(weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]?
}

/// `ParsedConfig` of one convention.
struct Parsed<Convention: FrameworkConvention>: ParsedConfig {
  let config: Convention.Config
  var framework: Framework { Convention.framework }
  func evaluate<Scalar: RNNScalar>(weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>) throws -> NamedTensors<Scalar> {
    try Convention.evaluate(config: config, weights: weights, inputs: inputs)
  }
  func axisNames(output: String) -> [String]? { Convention.axisNames(output: output, config: config) }
  func outputShapes(weights: [String: [Int]], inputs: [String: [Int]]) -> [String: [Int?]]? {
    Convention.outputShapes(config: config, weights: weights, inputs: inputs)
  }
}

/// Namespace of the framework adapters. The case-level adapters in RNNRef are `TF1`,
/// `PyTorch` and `ONNX`, one file each under `Conventions/`; Keras cases run through
/// KerasImport's graph parser (`KerasCases`). The one lookup from a `Framework` to its
/// adapter, `Conventions.convention(for:)`, lives in Conformance, which sees both modules.
public enum Conventions {}

/// Converting a network between frameworks: each adapter imports its native
/// configuration and weights into the canonical `Network` and exports one back,
/// or throws `RNNRefError.unsupported` naming what it cannot express.
public protocol NetworkConvention: FrameworkConvention {
  static func importNetwork<Scalar: RNNScalar>(config: Config, weights: NamedTensors<Scalar>) throws -> Network<Scalar>
  static func exportNetwork<Scalar: RNNScalar>(_ network: Network<Scalar>) throws -> (config: JSONValue, weights: NamedTensors<Scalar>)
}

extension NetworkConvention {
  /// `importNetwork` from the JSON configuration.
  public static func importNetwork<Scalar: RNNScalar>(config json: JSONValue, weights: NamedTensors<Scalar>) throws -> Network<Scalar> {
    try importNetwork(config: parseConfig(json), weights: weights)
  }
}
