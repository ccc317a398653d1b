import RNNRef

/// The adapter of an ONNX model case (an ONNX backend test folder, Conformance's
/// `Case.loadONNXBackend`): its config names the model file, `{"onnx_model": "<path>"}`, which
/// is read and checked when the config is parsed; the run-time inputs are the graph's inputs
/// (`input_K.pb`), the outputs the graph's outputs. The model keeps its own initializers, so a
/// case carries no weights. Recurrent nodes run through `ONNX`, the one ONNX adapter.
public enum ONNXModelCase: FrameworkConvention {
  public static let framework = Framework.onnx
  public typealias Config = ONNXModel

  /// Whether `config` is an ONNX model case's (rather than an `ONNX` single-node case's).
  public static func isModelConfig(_ config: JSONValue) -> Bool { config["onnx_model"]?.string != nil }

  public static func parseConfig(_ json: JSONValue) throws -> ONNXModel {
    let r = ConfigReader(json)
    _ = try r.requireObject("an ONNX model case's config is {\"onnx_model\": \"<path of model.onnx>\"}")
    try r.rejectUnknownKeys(known: ["onnx_model"], reason: "an ONNX model case's config has only `onnx_model`")
    guard let path = try r.string("onnx_model", expected: "expected the path of model.onnx") else {
      throw r.invalid("onnx_model", "expected the path of model.onnx")
    }
    return try ONNXModel(path: path)
  }

  public static func evaluate<Scalar: RNNScalar>(
    config model: ONNXModel, weights: NamedTensors<Scalar>, inputs: NamedTensors<Scalar>
  ) throws -> NamedTensors<Scalar> {
    guard weights.entries.isEmpty else {
      throw ONNXImportError(.invalidInput, path: model.path,
        "an ONNX model case takes no separate weights (the model's initializers are its weights); got \(weights.names)")
    }
    return try model.run(inputs)
  }

  public static func axisNames(output: String, config: ONNXModel) -> [String]? { config.axisNames(output: output) }
}
