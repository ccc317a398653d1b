import Foundation
import HDF5
import KerasImport
import RNNRef

/// `rnnconf compare MODEL --input X --expected REF.h5`: a Keras model run by the reference,
/// against outputs a user captured from Keras on the same inputs, and each layer's output
/// when the capture holds it, to name the first layer (in the model's graph order) that
/// leaves the tolerance. `python -m rnnconf_capture.reference` (`pip install ./python`) writes REF.h5.
///
/// REF.h5: datasets `output_0`, `output_1`, ... (the model's outputs in order, batch-major, as
/// `model(x)` returns them) and, optionally, `intermediate/<layer name>` (each layer's first
/// output, as `keras.Model(model.inputs, layer.output)` returns it). A float64 `output_0` runs
/// the model in float64; otherwise the model computes as Keras does (float32 unless its layers
/// are float64).
public enum ModelComparison {
  /// The captured outputs.
  public struct Reference: Sendable {
    public var outputs: NamedTensors<Double>
    public var intermediates: NamedTensors<Double>
    /// The dtype the capture stores (that of `output_0`).
    public var dtype: DType
  }

  public static func readReference(path: String) throws -> Reference {
    let file = try File(path: path)
    var outputs = NamedTensors<Double>()
    var dtype: DType?
    var k = 0
    while try file.exists("output_\(k)") {
      let d = try file.dataset("output_\(k)")
      let stored = try d.storedType.description
      guard let t = DType(rawValue: stored) else {
        throw ConformanceError.usage("`\(path)`: dataset `output_\(k)` stores \(stored); expected float32 or float64")
      }
      if dtype == nil { dtype = t }
      outputs.append("output_\(k)", try Tensor(shape: try d.shape, scalars: try d.read()))
      k += 1
    }
    guard let dtype else {
      throw ConformanceError.usage("`\(path)` has no dataset `output_0`; write the model's outputs as output_0, output_1, ... "
        + "(`python -m rnnconf_capture.reference`, from `pip install ./python`, does)")
    }
    var intermediates = NamedTensors<Double>()
    if try file.exists("intermediate") {
      for name in try file.group("intermediate").datasetPaths() {
        let d = try file.dataset("intermediate/" + name)
        intermediates.append(name, try Tensor(shape: try d.shape, scalars: try d.read()))
      }
    }
    return Reference(outputs: outputs, intermediates: intermediates, dtype: dtype)
  }

  /// Runs `model` on `inputs` and compares with the capture at `reference`. The report's
  /// `intermediates` follow the model's layer order (captured layers the model lacks come last,
  /// as failures); `errorMaps` are filled for the HTML report.
  public static func compare(model modelPath: String, weights: String? = nil, inputs: [Tensor<Double>],
                             reference referencePath: String, tolerance override: Tolerance? = nil,
                             currentDirectory: String = FileManager.default.currentDirectoryPath) throws -> CaseReport {
    let started = Date()
    let ref = try readReference(path: referencePath)
    let model = try KerasModel(contentsOf: URL(fileURLWithPath: modelPath), weights: weights.map { URL(fileURLWithPath: $0) },
                               precision: ref.dtype == .float64 ? .float64 : nil)
    let actualDType: DType = model.precision == .float64 ? .float64 : .float32
    let tolerance = override ?? Case.defaultTolerance(ref.dtype)
    let run = try model.predictLayers(inputs)
    let name = (modelPath as NSString).lastPathComponent
    var report = CaseReport(
      name: name, path: RelativePath.of(Discovery.absolute(modelPath, in: currentDirectory), from: currentDirectory),
      framework: .keras, dtype: ref.dtype, precision: actualDType, tolerance: tolerance,
      toleranceSource: override == nil ? "case" : "command line", nanEqual: false, status: .error)
    func axes(_ rank: Int) -> [String] {
      Comparison.axisNames(rank == 3 ? ["batch", "step", "unit"] : rank == 2 ? ["batch", "unit"] : nil, rank: rank)
    }
    func compare(_ name: String, _ expected: Tensor<Double>, _ actual: Tensor<Double>) -> OutputComparison {
      Comparison.compare(name: name, expected: expected, expectedDType: ref.dtype.rawValue, actual: actual,
                         actualDType: actualDType, dtype: ref.dtype, tolerance: tolerance, nanEqual: false,
                         axes: axes(expected.rank))
    }
    var actualOutputs = NamedTensors<Double>()
    for (k, t) in run.outputs.enumerated() { actualOutputs.append("output_\(k)", t) }
    var outputs: [OutputComparison] = []
    for (outName, expected) in ref.outputs.entries {
      if let got = actualOutputs[outName] { outputs.append(compare(outName, expected, got)) } else {
        outputs.append(Comparison.missing(name: outName, expected: expected, expectedDType: ref.dtype.rawValue,
                                          tolerance: tolerance, produced: actualOutputs.names))
      }
    }
    report.outputs = outputs
    var maps: [ErrorMap] = []
    for o in outputs where o.status == .fail && o.problem == nil {
      if let e = ref.outputs[o.name], let a = actualOutputs[o.name], let m = ErrorMap(o, expected: e, actual: a, isLayer: false) {
        maps.append(m)
      }
    }
    if !ref.intermediates.entries.isEmpty {
      var layers: [OutputComparison] = []
      let modelLayers = run.layers.map(\.name)
      for (layer, actual) in run.layers {
        guard let expected = ref.intermediates[layer] else { continue }
        let o = compare(layer, expected, actual)
        layers.append(o)
        if o.status == .fail, o.problem == nil, let m = ErrorMap(o, expected: expected, actual: actual, isLayer: true) {
          maps.append(m)
        }
      }
      for (layer, expected) in ref.intermediates.entries where !modelLayers.contains(layer) {
        layers.append(OutputComparison(
          name: layer, status: .fail,
          problem: "the model has no layer `\(layer)` (its layers: " + modelLayers.map { "`\($0)`" }.joined(separator: ", ") + ")",
          expectedShape: expected.shape, expectedDType: ref.dtype.rawValue, tolerance: tolerance, total: expected.count))
      }
      report.intermediates = layers
      report.firstDivergentLayer = layers.first { $0.status == .fail }?.name
    }
    report.errorMaps = maps
    let failing = outputs.filter { $0.status == .fail }
    var parts: [String] = []
    if !failing.isEmpty {
      parts.append("\(failing.count) of \(outputs.count) outputs differ: " + failing.map { "`\($0.name)`" }.joined(separator: ", "))
    }
    if let layer = report.firstDivergentLayer { parts.append("first divergent layer `\(layer)`") }
    let layersFail = report.intermediates?.contains { $0.status == .fail } ?? false
    report.status = failing.isEmpty && !layersFail ? .pass : .fail
    report.message = parts.isEmpty ? nil : parts.joined(separator: "; ")
    report.durationSeconds = Date().timeIntervalSince(started)
    return report
  }
}
