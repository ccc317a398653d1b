/// ONNX `LSTM`, `GRU` and `RNN` operators. Placeholder until the adapter lands.
public enum ONNX: FrameworkConvention {
  public static let framework = "onnx"

  public static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    throw RNNRefError.unsupported(framework: framework, feature: "running cases (adapter not implemented yet)")
  }
}
