import KerasImport
import ONNXImport
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

  /// The adapter of one case: `convention(for:)`, except that an ONNX model case (an ONNX backend
  /// test folder, whose config names `model.onnx`: `ONNXModelCase.isModelConfig`) runs the whole
  /// graph through ONNXImport, whose recurrent nodes go through the same `ONNX` adapter.
  public static func convention(for framework: Framework, config: JSONValue) -> any FrameworkConvention.Type {
    if framework == .onnx, ONNXModelCase.isModelConfig(config) { return ONNXModelCase.self }
    return convention(for: framework)
  }
}
