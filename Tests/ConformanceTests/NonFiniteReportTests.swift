import Testing
@testable import Conformance
import RNNRef

/// How a failing output with an infinity or NaN on the framework's side reads: no tolerance is quoted
/// for an infinite difference (atol + rtol * inf is not a tolerance), and the ULP figure says it covers
/// only the finite pairs. Synthetic tensors on purpose: this tests the report's wording, not a framework.
@Suite struct NonFiniteReportTests {
  @Test func infiniteExpectedValueQuotesNoToleranceAndQualifiesTheULP() throws {
    let e = try Tensor<Double>(shape: [1, 3, 1], scalars: [80, .infinity, .nan])
    let a = try Tensor<Double>(shape: [1, 3, 1], scalars: [80, 89, 89])
    let r = Comparison.compare(name: "Y", expected: e, expectedDType: "float32", actual: a, actualDType: .float32,
                               dtype: .float32, tolerance: Tolerance(atol: 1e-5, rtol: 1e-5), nanEqual: false,
                               axes: ["batch", "step", "unit"])
    #expect(r.status == .fail)
    #expect(r.nonFiniteMismatched == 2)
    let text = TextReporter().describe(r)
    #expect(text.contains("2 of them NaN or infinite"), "\(text)")
    #expect(!text.contains("up to inf allowed") && !text.contains("up to nan allowed"), "\(text)")
    #expect(text.contains("max 0 ULP among the finite pairs"), "\(text)")
  }
}
