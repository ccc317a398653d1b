import KerasImport
import RNNRef

extension Conventions {
  /// The adapter a case of `framework` runs through: the one place a `Framework` is mapped
  /// to code (Runner, Comparison). It lives in Conformance, which sees every module a case
  /// adapter may live in: Keras cases run through KerasImport's graph parser and the Keras
  /// layer API (`KerasCases`).
  public static func convention(for framework: Framework) -> any FrameworkConvention.Type {
    switch framework {
    case .keras: KerasCases.self
    case .tf1: TF1.self
    case .pytorch: PyTorch.self
    case .onnx: ONNX.self
    }
  }
}
