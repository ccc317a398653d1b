/// TensorFlow 1 `tf.nn.rnn_cell` cells and drivers. Placeholder until the adapter lands.
public enum TF1: FrameworkConvention {
  public static let framework = "tf1"

  public static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    throw RNNRefError.unsupported(framework: framework, feature: "running cases (adapter not implemented yet)")
  }
}
