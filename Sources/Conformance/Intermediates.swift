import Foundation
import RNNRef

/// Expected intermediate outputs (`/intermediate/<layer>`, fixtures/README.md): each layer's
/// output compared like a case output, in graph order, so a report can name the first layer
/// that leaves the tolerance.
public enum Intermediates {
  /// One comparison per layer the case carries, in its `intermediate_names` order. `actual` is
  /// nil when the adapter cannot give per-layer outputs: every layer is then a failure saying so.
  public static func compare(_ c: Case, actual: NamedTensors<Double>?, actualDType: DType, tolerance: Tolerance,
                             axes: (Int) -> [String]?) -> [OutputComparison] {
    c.intermediates.entries.map { entry in
      guard let actual else {
        return OutputComparison(
          name: entry.name, status: .fail,
          problem: "the \(c.framework) adapter does not give per-layer outputs, so the intermediate output "
            + "`/intermediate/\(entry.name)` cannot be compared (Keras and PyTorch cases can); remove `/intermediate` from the case",
          expectedShape: entry.tensor.shape, expectedDType: c.dtype.rawValue, tolerance: tolerance,
          total: entry.tensor.count)
      }
      guard let got = actual[entry.name] else {
        return OutputComparison(
          name: entry.name, status: .fail,
          problem: "the model has no layer `\(entry.name)` (its layers, in graph order: "
            + (actual.names.isEmpty ? "none" : actual.names.map { "`\($0)`" }.joined(separator: ", "))
            + "); `intermediate_names` must name layers of the model",
          expectedShape: entry.tensor.shape, expectedDType: c.dtype.rawValue, tolerance: tolerance,
          total: entry.tensor.count)
      }
      return Comparison.compare(
        name: entry.name, expected: entry.tensor, expectedDType: c.dtype.rawValue, actual: got,
        actualDType: actualDType, dtype: c.dtype, tolerance: tolerance, nanEqual: c.nanEqual,
        axes: Comparison.axisNames(axes(entry.tensor.rank), rank: entry.tensor.rank))
    }
  }
}

/// Where one failing output (or layer output) differs, reduced for drawing: the greatest
/// absolute error per step for each batch row, and per step and unit (greatest over the rows).
///
/// Axes come from the comparison's axis names: the `step` axis is time, the last axis is the
/// unit, every other axis together is the "row" (batch, and direction for ONNX `Y`). An output
/// without a step axis has one step.
public struct ErrorMap: Sendable, Equatable {
  /// The output's name, or the layer's for an intermediate output.
  public var name: String
  /// Whether `name` is a layer (an intermediate output) rather than a case output.
  public var isLayer: Bool
  public var rows: Int
  public var steps: Int
  public var units: Int
  /// Whether the output has a step axis (otherwise `steps` is 1).
  public var hasSteps: Bool
  /// `rows * steps`, row-major: the greatest `|actual - expected|` of that row at that step
  /// (infinity for a NaN or infinite mismatch).
  public var rowStep: [Double]
  /// `steps * units`, row-major: the greatest error over the rows.
  public var stepUnit: [Double]
  /// Per step: the largest difference the tolerance allows there (`atol + rtol * max |expected|`).
  public var allowedPerStep: [Double]
  public var tolerance: Tolerance

  /// Maps for every output and layer that failed on values (not on shape or presence).
  static func maps(case c: Case, outputs: [OutputComparison], actual: NamedTensors<Double>,
                   layers: [OutputComparison], actualLayers: NamedTensors<Double>?) -> [ErrorMap] {
    var maps: [ErrorMap] = []
    for o in outputs where o.status == .fail && o.problem == nil {
      if let e = c.outputs[o.name], let a = actual[o.name], let m = ErrorMap(o, expected: e, actual: a, isLayer: false, nanEqual: c.nanEqual) {
        maps.append(m)
      }
    }
    for o in layers where o.status == .fail && o.problem == nil {
      if let e = c.intermediates[o.name], let a = actualLayers?[o.name],
         let m = ErrorMap(o, expected: e, actual: a, isLayer: true, nanEqual: c.nanEqual) {
        maps.append(m)
      }
    }
    return maps
  }

  /// nil when the shapes differ or the tensor is empty.
  public init?(_ o: OutputComparison, expected: Tensor<Double>, actual: Tensor<Double>, isLayer: Bool,
               nanEqual: Bool = false) {
    guard expected.shape == actual.shape, expected.count > 0 else { return nil }
    let shape = expected.shape
    let axes = o.axes.count == shape.count ? o.axes : shape.indices.map { "dim\($0)" }
    let stepAxis = Comparison.stepAxis(axes)
    let unitAxis = shape.count - 1
    let steps = stepAxis.map { shape[$0] } ?? 1
    let units = shape.isEmpty ? 1 : (stepAxis == unitAxis ? 1 : shape[unitAxis])
    let rows = max(1, expected.count / max(1, steps * units))
    self.name = o.name; self.isLayer = isLayer; self.tolerance = o.tolerance
    self.rows = rows; self.steps = steps; self.units = units; self.hasSteps = stepAxis != nil
    var rowStep = [Double](repeating: 0, count: rows * steps)
    var stepUnit = [Double](repeating: 0, count: steps * units)
    var maxExpected = [Double](repeating: 0, count: steps)
    let strides = expected.strides
    for k in 0..<expected.count {
      // Split the flat index into (row, step, unit).
      var rest = k, row = 0, step = 0, unit = 0
      for (axis, s) in strides.enumerated() {
        let i = rest / s; rest -= i * s
        if axis == stepAxis { step = i } else if axis == unitAxis && stepAxis != unitAxis { unit = i }
        else { row = row * shape[axis] + i }
      }
      let e = expected.scalars[k], a = actual.scalars[k]
      let diff: Double
      if e.isNaN || a.isNaN { diff = (e.isNaN && a.isNaN && nanEqual) ? 0 : .infinity }
      else if e.isInfinite || a.isInfinite { diff = e == a ? 0 : .infinity }
      else { diff = Swift.abs(a - e) }
      rowStep[row * steps + step] = max(rowStep[row * steps + step], diff)
      stepUnit[step * units + unit] = max(stepUnit[step * units + unit], diff)
      if e.isFinite { maxExpected[step] = max(maxExpected[step], Swift.abs(e)) }
    }
    self.rowStep = rowStep; self.stepUnit = stepUnit
    self.allowedPerStep = maxExpected.map { o.tolerance.allowed($0) }
  }
}
