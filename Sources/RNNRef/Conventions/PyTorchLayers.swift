/// PyTorch modules layer by layer: layer k of `nn.RNN`/`nn.LSTM`/`nn.GRU` is `l{k}` (the `_l{k}`
/// of its weights); its output is the sequence the next layer reads, in `output`'s layout
/// (`(T, N, D*Hout)`, batch-first with `batch_first`, zeros past each length when packed).
/// Cells have no layers.
extension PyTorch: LayerwiseConvention {
  public static func evaluateLayers<Scalar: RNNScalar>(
    config: Config, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> (outputs: NamedTensors<Scalar>, layers: NamedTensors<Scalar>) {
    if config.module.kind.isCell { return (try evaluate(config: config, weights: weights, inputs: inputs), NamedTensors()) }
    let network: Network<Scalar> = try importNetwork(config: config, weights: weights)
    return try evaluateModuleLayers(network, config.module, config.call, inputs)
  }

  public static func layerAxisNames(rank: Int, config: Config) -> [String]? {
    axisNames(output: "output", config: config).flatMap { $0.count == rank ? $0 : nil }
  }
}
