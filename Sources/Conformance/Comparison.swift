import Foundation
import RNNRef

/// `|actual - expected| <= atol + rtol * |expected|`, elementwise.
public struct Tolerance: Codable, Equatable, Sendable {
  public var atol: Double
  public var rtol: Double
  public init(atol: Double, rtol: Double) { self.atol = atol; self.rtol = rtol }

  /// The largest difference allowed where the expected value is `expected`.
  public func allowed(_ expected: Double) -> Double { atol + rtol * Swift.abs(expected) }
}

/// The comparison of one native output: the reference (`actual`) against what
/// the framework produced (`expected`). Checked in order: presence, shape,
/// dtype, then values; the first check that fails ends the comparison and
/// `problem` says why.
public struct OutputComparison: Codable, Equatable, Sendable {
  public enum Status: String, Codable, Sendable { case pass, fail }

  public var name: String
  public var status: Status
  /// Why the output could not be compared value by value (missing, shape, dtype), nil otherwise.
  public var problem: String?
  public var expectedShape: [Int]?
  public var actualShape: [Int]?
  /// Stored dtype of the expected output (an HDF5 type name: float32, float64, int64, ...).
  public var expectedDType: String?
  /// The dtype the reference ran in.
  public var actualDType: DType?
  /// Names of the output's axes, in order (from the framework adapter, else `dim0`, `dim1`, ...).
  public var axes: [String]
  public var tolerance: Tolerance
  /// Elements compared, and how many are outside the tolerance.
  public var total: Int
  public var mismatched: Int
  /// Mismatches where one side is NaN or infinite and the other is not the same value.
  public var nonFiniteMismatched: Int
  /// NaN elements in the expected output.
  public var expectedNaNs: Int
  /// Greatest `|actual - expected|` (infinite when a NaN/Inf mismatch is involved), its index, and the
  /// difference the tolerance allowed there.
  public var maxAbsError: Double?
  public var maxAbsIndex: [Int]?
  public var maxAbsAllowed: Double?
  /// Greatest `|actual - expected| / |expected|`.
  public var maxRelError: Double?
  public var maxRelIndex: [Int]?
  /// Greatest distance in units in the last place of the case's dtype, over elements where both are finite.
  public var maxULP: UInt64?
  /// Smallest index along the `step` axis at which an element is outside the tolerance (nil if the
  /// output has no step axis or nothing fails).
  public var firstFailingStep: Int?
  /// Index of the first failing element in row-major order.
  public var firstFailingIndex: [Int]?

  public init(name: String, status: Status, problem: String? = nil, expectedShape: [Int]? = nil,
              actualShape: [Int]? = nil, expectedDType: String? = nil, actualDType: DType? = nil,
              axes: [String] = [], tolerance: Tolerance, total: Int = 0, mismatched: Int = 0,
              nonFiniteMismatched: Int = 0, expectedNaNs: Int = 0, maxAbsError: Double? = nil,
              maxAbsIndex: [Int]? = nil, maxAbsAllowed: Double? = nil, maxRelError: Double? = nil,
              maxRelIndex: [Int]? = nil, maxULP: UInt64? = nil, firstFailingStep: Int? = nil,
              firstFailingIndex: [Int]? = nil) {
    self.name = name; self.status = status; self.problem = problem
    self.expectedShape = expectedShape; self.actualShape = actualShape
    self.expectedDType = expectedDType; self.actualDType = actualDType; self.axes = axes
    self.tolerance = tolerance; self.total = total; self.mismatched = mismatched
    self.nonFiniteMismatched = nonFiniteMismatched; self.expectedNaNs = expectedNaNs
    self.maxAbsError = maxAbsError; self.maxAbsIndex = maxAbsIndex; self.maxAbsAllowed = maxAbsAllowed
    self.maxRelError = maxRelError; self.maxRelIndex = maxRelIndex; self.maxULP = maxULP
    self.firstFailingStep = firstFailingStep; self.firstFailingIndex = firstFailingIndex
  }
}

/// Output comparison metrics, as `torch.testing.assert_close` reports them.
public enum Comparison {
  /// Axis names for an output of rank `rank`: the adapter's when it gives a list of the right
  /// length, otherwise `dim0`, `dim1`, ...
  public static func axisNames(_ names: [String]?, rank: Int) -> [String] {
    if let names, names.count == rank { return names }
    return (0..<rank).map { "dim\($0)" }
  }

  /// The axis the first failing step is measured along.
  static func stepAxis(_ axes: [String]) -> Int? {
    axes.firstIndex { ["step", "time", "t", "timestep"].contains($0.lowercased()) }
  }

  /// Compares one output. `dtype` is the case's dtype: ULP distances are measured in it.
  public static func compare(
    name: String, expected: Tensor<Double>, expectedDType: String, actual: Tensor<Double>,
    actualDType: DType, dtype: DType, tolerance: Tolerance, nanEqual: Bool, axes: [String]
  ) -> OutputComparison {
    var result = OutputComparison(
      name: name, status: .pass, expectedShape: expected.shape, actualShape: actual.shape,
      expectedDType: expectedDType, actualDType: actualDType, axes: axes, tolerance: tolerance,
      total: expected.count)
    result.expectedNaNs = expected.scalars.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
    guard expected.shape == actual.shape else {
      result.status = .fail
      result.problem = "shape mismatch: the framework's output has shape \(dims(expected.shape)), "
        + "the reference produced \(dims(actual.shape))"
      return result
    }
    guard expectedDType == dtype.rawValue else {
      result.status = .fail
      result.problem = "dtype mismatch: the framework's output is stored as \(expectedDType) but the case "
        + "runs in \(dtype); regenerate the case so its outputs keep the framework's dtype"
      return result
    }
    let stepAxis = stepAxis(axes)
    let strides = expected.strides
    func index(_ flat: Int) -> [Int] {
      var rest = flat
      return strides.map { s in let i = rest / s; rest -= i * s; return i }
    }
    var maxAbs = -1.0, maxAbsAt = -1
    var maxRel = -1.0, maxRelAt = -1
    var maxULP: UInt64? = nil
    var firstFail = -1
    var firstStep = Int.max
    let single = dtype == .float32
    for k in 0..<expected.count {
      let e = expected.scalars[k], a = actual.scalars[k]
      var diff: Double
      var rel: Double
      var ok: Bool
      if e.isNaN || a.isNaN {
        ok = e.isNaN && a.isNaN && nanEqual
        diff = ok ? 0 : .infinity
        rel = diff
        if !ok { result.nonFiniteMismatched += 1 }
      } else if e.isInfinite || a.isInfinite {
        ok = e == a
        diff = ok ? 0 : .infinity
        rel = diff
        if !ok { result.nonFiniteMismatched += 1 }
      } else {
        diff = Swift.abs(a - e)
        ok = diff <= tolerance.allowed(e)
        rel = diff == 0 ? 0 : (e == 0 ? .infinity : diff / Swift.abs(e))
        let u = single ? ulpDistance(Float(a), Float(e)) : ulpDistance(a, e)
        if maxULP.map({ u > $0 }) ?? true { maxULP = u }
      }
      if diff > maxAbs { maxAbs = diff; maxAbsAt = k }
      if rel > maxRel { maxRel = rel; maxRelAt = k }
      if !ok {
        result.mismatched += 1
        if firstFail < 0 { firstFail = k }
        if let s = stepAxis {
          let step = (k / strides[s]) % expected.shape[s]
          firstStep = min(firstStep, step)
        }
      }
    }
    if maxAbsAt >= 0 {
      result.maxAbsError = maxAbs
      result.maxAbsIndex = index(maxAbsAt)
      result.maxAbsAllowed = tolerance.allowed(expected.scalars[maxAbsAt])
      result.maxRelError = maxRel
      result.maxRelIndex = index(maxRelAt)
    }
    result.maxULP = maxULP
    if result.mismatched > 0 {
      result.status = .fail
      result.firstFailingIndex = index(firstFail)
      if stepAxis != nil { result.firstFailingStep = firstStep }
    }
    return result
  }

  /// An output the framework produced but the reference did not.
  public static func missing(name: String, expected: Tensor<Double>, expectedDType: String,
                             tolerance: Tolerance, produced: [String]) -> OutputComparison {
    OutputComparison(
      name: name, status: .fail,
      problem: "the reference produced no output `\(name)` (it produced "
        + (produced.isEmpty ? "nothing" : produced.map { "`\($0)`" }.joined(separator: ", "))
        + "); the adapter's outputs must match the case's output_names",
      expectedShape: expected.shape, expectedDType: expectedDType, tolerance: tolerance,
      total: expected.count)
  }

  /// An output the reference produced that the case does not hold.
  public static func unexpected(name: String, actual: Tensor<Double>, actualDType: DType,
                                tolerance: Tolerance, stored: [String]) -> OutputComparison {
    OutputComparison(
      name: name, status: .fail,
      problem: "the reference produced an output `\(name)` the case does not hold (the case stores "
        + stored.map { "`\($0)`" }.joined(separator: ", ") + ")",
      actualShape: actual.shape, actualDType: actualDType, tolerance: tolerance)
  }

  /// Distance in float32 units in the last place (0 for +0 vs -0).
  public static func ulpDistance(_ a: Float, _ b: Float) -> UInt64 {
    func ordered(_ x: Float) -> Int64 {
      let bits = Int64(Int32(bitPattern: x.bitPattern))
      return bits >= 0 ? bits : Int64(Int32.min) - bits
    }
    return UInt64(Swift.abs(ordered(a) - ordered(b)))
  }

  /// Distance in float64 units in the last place (0 for +0 vs -0).
  public static func ulpDistance(_ a: Double, _ b: Double) -> UInt64 {
    func ordered(_ x: Double) -> Int64 {
      let bits = Int64(bitPattern: x.bitPattern)
      return bits >= 0 ? bits : Int64.min &- bits
    }
    let x = ordered(a), y = ordered(b)
    return x >= y ? UInt64(bitPattern: x &- y) : UInt64(bitPattern: y &- x)
  }

  static func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
}
