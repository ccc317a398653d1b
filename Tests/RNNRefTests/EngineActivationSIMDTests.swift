import Testing
@testable import RNNRef
import _TestSupport

/// The engine's vectorised piecewise-linear activations (`FastActivations`: hard sigmoids, relu) give the
/// scalar definition's bits, value for value, edges included (the clamps' ends, -0, infinities, NaN),
/// at every offset of the 8-lane vectors and in the partial last vector.
@Suite struct EngineActivationSIMDTests {
  static let activations: [Activation] = [
    .hardSigmoidKeras2, .hardSigmoidKeras3, .hardSigmoid(alpha: 0.3, beta: 0.4), .hardSigmoid(alpha: 0.2, beta: 0.5),
    .relu, .linear,
  ]

  @Test(arguments: activations)
  func vectorPathGivesTheScalarBits(_ act: Activation) {
    var values: [Float] = [0, -0, 1, -1, 2.5, -2.5, 3, -3, 6, -6, 2.4999998, -2.4999998, 2.5000002, -2.5000002,
                           .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e-8, -1e-8, 0.1, -0.1]
    var rng = SeededRNG(seed: 5)
    for _ in 0..<200 { values.append(Float(Double.random(in: -8...8, using: &rng))) }
    // every count from 1 to 19: full vectors and a partial last one
    for count in 1...19 {
      for start in stride(from: 0, to: values.count - count, by: 7) {
        var buf = Array(values[start..<(start + count)])
        buf.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: count, clip: nil) }
        for (k, got) in buf.enumerated() {
          let x = values[start + k], want: Float = act(x)
          #expect(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN),
                  "\(act)(\(x)): vector \(got), scalar \(want)")
        }
      }
    }
  }
}
