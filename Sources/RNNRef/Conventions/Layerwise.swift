/// An adapter that can also give each layer's own output, for the "first divergent layer"
/// of a case whose file carries expected intermediate outputs (`/intermediate/<layer>`,
/// fixtures/README.md). Layers are named as the framework names them (Keras: `layer.name`)
/// and returned in graph order; each holds the layer's first output (the sequence, or the
/// last output without `return_sequences`), in the framework's native layout.
public protocol LayerwiseConvention: FrameworkConvention {
  static func evaluateLayers<Scalar: RNNScalar>(
    config: Config, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>)

  /// Names of the axes of a layer output of rank `rank`, for reports (nil: by position).
  static func layerAxisNames(rank: Int, config: Config) -> [String]?
}

/// `Parsed` of a layerwise adapter (found by a dynamic cast, so `ParsedConfig` stays as it is).
protocol LayerwiseParsed {
  func evaluateLayers<Scalar: RNNScalar>(weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>) throws
    -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>)
  func layerAxisNames(rank: Int) -> [String]?
}

extension Parsed: LayerwiseParsed where Convention: LayerwiseConvention {
  func evaluateLayers<Scalar: RNNScalar>(weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>) throws
    -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>)
  {
    try Convention.evaluateLayers(config: config, weights: weights, inputs: inputs)
  }
  func layerAxisNames(rank: Int) -> [String]? { Convention.layerAxisNames(rank: rank, config: config) }
}

extension ParsedConfig {
  /// The outputs, and each layer's output when the adapter is a `LayerwiseConvention`
  /// (nil otherwise: the adapter cannot say what its layers computed).
  public func evaluateLayers<Scalar: RNNScalar>(weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>) throws
    -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>?)
  {
    if let layerwise = self as? any LayerwiseParsed {
      let r = try layerwise.evaluateLayers(weights: weights, inputs: inputs)
      return (r.outputs, r.layers)
    }
    return (try evaluate(weights: weights, inputs: inputs), nil)
  }

  /// Axis names of a layer output (nil when the adapter is not layerwise or does not say).
  public func layerAxisNames(rank: Int) -> [String]? { (self as? any LayerwiseParsed)?.layerAxisNames(rank: rank) }
}
