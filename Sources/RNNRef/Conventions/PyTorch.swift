/// PyTorch `nn.RNN`, `nn.LSTM`, `nn.GRU` and their cells. Placeholder until the adapter lands.
public enum PyTorch: FrameworkConvention {
  public static let framework = "pytorch"

  public static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    throw RNNRefError.unsupported(framework: framework, feature: "running cases (adapter not implemented yet)")
  }
}
