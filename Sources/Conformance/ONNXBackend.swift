import Foundation
import ONNXImport
import RNNRef

/// ONNX backend test folders as cases. ONNX's own conformance format:
/// ```
/// <folder>/model.onnx
/// <folder>/test_data_set_N/input_K.pb    TensorProto of the K-th graph input
/// <folder>/test_data_set_N/output_K.pb   TensorProto of the K-th graph output
/// ```
/// Each `test_data_set_N` folder is one case (path: that folder): the model runs through
/// ONNXImport (`ONNXModelCase`) on its inputs and every output is compared as usual, at the
/// default tolerance of the model's float type (float32 or float64).
public enum ONNXBackend {
  public static let modelFileName = "model.onnx"
  public static let dataSetPrefix = "test_data_set_"

  /// Whether `path` is a data set folder of a backend test (`test_data_set_N` beside a `model.onnx`).
  public static func isDataSet(path: String) -> Bool {
    let name = (path as NSString).lastPathComponent
    guard name.hasPrefix(dataSetPrefix), Int(name.dropFirst(dataSetPrefix.count)) != nil else { return false }
    var isDir: ObjCBool = false
    let model = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(modelFileName)
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
      && FileManager.default.fileExists(atPath: model)
  }

  /// The `test_data_set_N` folder names among `names` (a folder's entries), by N.
  static func dataSets(among names: [String]) -> [String] {
    names.filter { $0.hasPrefix(dataSetPrefix) && Int($0.dropFirst(dataSetPrefix.count)) != nil }
      .sorted { Int($0.dropFirst(dataSetPrefix.count))! < Int($1.dropFirst(dataSetPrefix.count))! }
  }

  /// Loads one data set as a case: the model is read and checked (so an unsupported operator is
  /// this case's error), `input_K.pb` become the inputs by the graph's input order and
  /// `output_K.pb` the expected outputs by the graph's output order.
  public static func load(dataSet path: String) throws -> Case {
    let folder = (path as NSString).deletingLastPathComponent
    let modelPath = (folder as NSString).appendingPathComponent(modelFileName)
    let model = try ONNXModel(path: modelPath)
    let fail = { (detail: String) in ONNXImportError(.invalidInput, path: path, detail) }

    func tensors(_ prefix: String, ports: [ONNXModel.Port]) throws -> (NamedTensors<Double>, [String: String]) {
      var found: [Int: String] = [:]
      for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix(prefix) && name.hasSuffix(".pb") {
        if let k = Int(name.dropFirst(prefix.count).dropLast(3)), k >= 0 { found[k] = name }
      }
      guard found.count == ports.count, found.keys.allSatisfy({ $0 < ports.count }) else {
        throw fail("holds \(found.count) \(prefix)K.pb file(s) (\(found.keys.sorted().map { "\(prefix)\($0).pb" }.joined(separator: ", "))); "
          + "the model has \(ports.count) graph \(prefix == "input_" ? "input" : "output")(s) (\(ports.map(\.name).joined(separator: ", "))): one file each, K = 0..<\(ports.count)")
      }
      var out = NamedTensors<Double>()
      var types: [String: String] = [:]
      for (k, port) in ports.enumerated() {
        let file = (path as NSString).appendingPathComponent(found[k]!)
        let t = try ONNXTensorFile.read(path: file)
        if !t.name.isEmpty && t.name != port.name {
          throw ONNXImportError(.invalidInput, path: file,
            "the tensor is named `\(t.name)` but graph \(prefix == "input_" ? "input" : "output") \(k) is `\(port.name)`")
        }
        out.append(port.name, t.tensor)
        types[port.name] = t.type.name
      }
      return (out, types)
    }
    let (inputs, _) = try tensors("input_", ports: model.inputs)
    let (outputs, outputTypes) = try tensors("output_", ports: model.outputs)

    let ops = Set(model.recurrentNodes.map(\.opType))
    let cell: CellFamily = ops.count == 1 ? (ops.first == "LSTM" ? .lstm : ops.first == "GRU" ? .gru : .rnn) : .mixed
    let floats = model.inputs.compactMap(\.elementType).filter(\.isFloatingPoint) + model.outputs.compactMap(\.elementType).filter(\.isFloatingPoint)
    let dtype: DType = floats.contains(.double) && !floats.contains(.float) ? .float64 : .float32
    let tol = Case.defaultTolerance(dtype)
    let name = ((folder as NSString).lastPathComponent as NSString).appendingPathComponent((path as NSString).lastPathComponent)
    return Case(
      name: name, path: path, schemaVersion: 1, framework: .onnx,
      library: model.producerName.isEmpty ? "onnx" : model.producerName, libraryVersion: model.producerVersion,
      cell: cell, dtype: dtype,
      description: "ONNX backend test: \(modelFileName) (opset \(model.opset); \(model.opTypes.joined(separator: ", "))), \((path as NSString).lastPathComponent)",
      config: .object(["onnx_model": .string(modelPath)]), atol: tol.atol, rtol: tol.rtol, toleranceReason: nil,
      nanEqual: false, weights: NamedTensors(), inputs: inputs, outputs: outputs, outputDTypes: outputTypes,
      artifactNames: [])
  }
}
