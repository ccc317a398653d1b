/// Keras 2 (tf.keras, tf-keras) and Keras 3. Placeholder until the adapter lands.
public enum Keras: FrameworkConvention {
  public static let framework = "keras"

  public static func evaluate<Scalar: RNNScalar>(
    config: JSONValue, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    throw RNNRefError.unsupported(framework: framework, feature: "running cases (adapter not implemented yet)")
  }
}
