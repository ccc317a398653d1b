import RNNRef

extension Conventions {
  /// The adapter a case of `framework` runs through: the one place a `Framework` is mapped
  /// to code (Runner, Comparison). It lives in Conformance, which sees every module a case
  /// adapter may live in.
  public static func convention(for framework: Framework) -> any FrameworkConvention.Type {
    switch framework {
    case .keras: Keras.self
    case .tf1: TF1.self
    case .pytorch: PyTorch.self
    case .onnx: ONNX.self
    }
  }
}
