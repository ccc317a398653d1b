import Testing
@testable import Conformance
import RNNRef

/// The comparison itself: metrics, indices, NaN/Inf rules. The tensors here are synthetic on purpose:
/// they test the arithmetic of the report, not a framework fact.
@Suite struct ComparisonTests {
  let tol = Tolerance(atol: 1e-5, rtol: 1e-5)
  let axes = ["batch", "step", "unit"]

  func ramp(_ shape: [Int]) -> Tensor<Double> {
    Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { Double(Float(0.01 * Double($0) - 0.3)) })
  }

  @Test func identicalOutputsPass() {
    let e = ramp([2, 5, 3])
    let r = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: e,
                               actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false, axes: axes)
    #expect(r.status == .pass)
    #expect(r.mismatched == 0)
    #expect(r.total == 30)
    #expect(r.maxAbsError == 0)
    #expect(r.maxULP == 0)
    #expect(r.firstFailingStep == nil)
  }

  @Test func perturbedElementIsReportedWithIndexAndFirstStep() {
    let e = ramp([2, 5, 3])
    var a = e
    a[[1, 3, 2]] += 2.1e-4   // the largest error
    a[[0, 4, 0]] += 5e-5     // fails too, at a later step in another batch
    a[[1, 1, 1]] += 5e-6     // within tolerance
    let r = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: a,
                               actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false, axes: axes)
    #expect(r.status == .fail)
    #expect(r.mismatched == 2)
    #expect(r.maxAbsIndex == [1, 3, 2])
    #expect(abs(r.maxAbsError! - 2.1e-4) < 1e-12)
    #expect(abs(r.maxAbsAllowed! - (1e-5 + 1e-5 * abs(e[[1, 3, 2]]))) < 1e-15)
    #expect(r.firstFailingStep == 3)
    #expect(r.firstFailingIndex == [0, 4, 0])
    #expect(r.maxULP! > 1000)
    let text = TextReporter().describe(r)
    #expect(text.contains("Mismatched elements: 2 / 30 (6.7%)"), "\(text)")
    #expect(text.contains("greatest absolute difference 0.00021 at (batch 1, step 3, unit 2)"), "\(text)")
    #expect(text.contains("first failing step 3"), "\(text)")
  }

  @Test func firstStepFollowsTheStepAxisInTimeMajorLayouts() {
    let e = ramp([4, 2, 3])  // step, batch, unit
    var a = e
    a[[2, 1, 0]] += 1
    a[[3, 0, 0]] += 1
    let r = Comparison.compare(name: "Y", expected: e, expectedDType: "float32", actual: a, actualDType: .float32,
                               dtype: .float32, tolerance: tol, nanEqual: false, axes: ["step", "batch", "unit"])
    #expect(r.firstFailingStep == 2)
    let noStep = Comparison.compare(name: "h_n", expected: e, expectedDType: "float32", actual: a,
                                    actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false,
                                    axes: ["dim0", "dim1", "dim2"])
    #expect(noStep.firstFailingStep == nil)
    #expect(noStep.firstFailingIndex == [2, 1, 0])
  }

  @Test func nanAndInfWhereExpectedIsFiniteFail() {
    let e = ramp([1, 3, 2])
    for bad in [Double.nan, .infinity, -.infinity] {
      var a = e
      a[[0, 2, 1]] = bad
      for nanEqual in [false, true] {
        let r = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: a,
                                   actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: nanEqual, axes: axes)
        #expect(r.status == .fail)
        #expect(r.nonFiniteMismatched == 1)
        #expect(r.maxAbsIndex == [0, 2, 1])
        #expect(r.maxAbsError == .infinity)
      }
    }
  }

  @Test func nanAgainstNanPassesOnlyWithNanEqual() {
    var e = ramp([1, 2, 2])
    e[[0, 1, 0]] = .nan
    let a = e
    let strict = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: a,
                                    actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false, axes: axes)
    #expect(strict.status == .fail)
    #expect(strict.expectedNaNs == 1)
    #expect(TextReporter().describe(strict).contains("the expected output holds 1 NaN"))
    let lenient = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: a,
                                     actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: true, axes: axes)
    #expect(lenient.status == .pass)
    var b = a
    b[[0, 1, 0]] = 0
    let nanExpectedNumberActual = Comparison.compare(
      name: "output", expected: e, expectedDType: "float32", actual: b, actualDType: .float32, dtype: .float32,
      tolerance: tol, nanEqual: true, axes: axes)
    #expect(nanExpectedNumberActual.status == .fail)
  }

  @Test func equalInfinitiesPass() {
    var e = ramp([1, 2, 2])
    e[[0, 0, 0]] = .infinity
    let r = Comparison.compare(name: "output", expected: e, expectedDType: "float32", actual: e,
                               actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false, axes: axes)
    #expect(r.status == .pass)
  }

  @Test func shapeMismatchFailsBeforeValues() {
    let r = Comparison.compare(name: "h_n", expected: ramp([2, 3, 4]), expectedDType: "float32", actual: ramp([1, 3, 4]),
                               actualDType: .float32, dtype: .float32, tolerance: tol, nanEqual: false, axes: axes)
    #expect(r.status == .fail)
    #expect(r.problem?.contains("shape mismatch") == true)
    #expect(r.problem?.contains("[2, 3, 4]") == true && r.problem?.contains("[1, 3, 4]") == true)
  }

  @Test func dtypeMismatchFails() {
    let e = ramp([2, 2])
    let r = Comparison.compare(name: "Y", expected: e, expectedDType: "float16", actual: e, actualDType: .float32,
                               dtype: .float32, tolerance: tol, nanEqual: false, axes: ["batch", "unit"])
    #expect(r.status == .fail)
    #expect(r.problem?.contains("float16") == true)
  }

  @Test func toleranceIsAtolPlusRtolTimesExpected() {
    let e = Tensor<Double>(uncheckedShape: [2], scalars: [1000, 0])
    let within = Tensor<Double>(uncheckedShape: [2], scalars: [1000 + 1e-5 + 1e-2 * 0.999, 1e-5 * 0.999])
    let outside = Tensor<Double>(uncheckedShape: [2], scalars: [1000 + 1e-5 + 1e-2 * 1.001, 1e-5 * 1.001])
    let t = Tolerance(atol: 1e-5, rtol: 1e-5)
    #expect(Comparison.compare(name: "x", expected: e, expectedDType: "float64", actual: within, actualDType: .float64,
                               dtype: .float64, tolerance: t, nanEqual: false, axes: ["a"]).status == .pass)
    let r = Comparison.compare(name: "x", expected: e, expectedDType: "float64", actual: outside, actualDType: .float64,
                               dtype: .float64, tolerance: t, nanEqual: false, axes: ["a"])
    #expect(r.mismatched == 2)
  }

  @Test func ulpDistances() {
    #expect(Comparison.ulpDistance(Float(1), Float(1).nextUp) == 1)
    #expect(Comparison.ulpDistance(Float(0), -Float(0)) == 0)
    #expect(Comparison.ulpDistance(Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude) == 2)
    #expect(Comparison.ulpDistance(Double(1), Double(1).nextUp.nextUp) == 2)
    #expect(Comparison.ulpDistance(-Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude) > 0)
  }

  @Test func summaryLineNamesOnlyNonzeroExtras() {
    var s = Summary()
    s.add(.pass); s.add(.pass); s.add(.fail)
    #expect(s.line == "2 passed, 1 failed")
    #expect(s.exitCode == 1)
    s.add(.error); s.add(.expectedFailure); s.add(.unexpectedPass)
    #expect(s.line == "2 passed, 1 failed, 1 errors, 1 expected failures, 1 unexpected passes")
    var ok = Summary()
    ok.add(.pass); ok.add(.expectedFailure)
    #expect(ok.line == "1 passed, 0 failed, 1 expected failures")
    #expect(ok.exitCode == 0)
    #expect(Summary().line == "0 passed, 0 failed")
  }

  @Test func globMatching() {
    #expect(globMatch("pytorch/*", "pytorch/lstm_basic"))
    #expect(globMatch("*lstm*", "onnx/lstm_peephole"))
    #expect(!globMatch("pytorch/*", "onnx/lstm"))
    #expect(globMatch("*/gru_?", "keras/gru_1"))
    #expect(globMatch("*/[gl]*", "keras/lstm"))
    #expect(!globMatch("*/[!gl]*", "keras/lstm"))
    #expect(globMatch("*", "a/b/c"))
  }
}
