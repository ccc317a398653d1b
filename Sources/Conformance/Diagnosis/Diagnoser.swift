import Foundation
import RNNRef

/// Tries the catalogue of convention mistakes (`Catalogue`) against one failing case: each
/// hypothesis runs the case's own adapter on its own weights, inputs and configuration, changed
/// as the mistake would have changed them, and is reported when every expected output then
/// matches within the case's tolerance. Most specific first; a pair only when no single mistake
/// explains the case.
public enum Diagnoser {
  /// The diagnoses of a case (empty when no mistake in the catalogue explains it) and whether
  /// every hypothesis was tried before `limit.deadline`.
  public static func diagnose(_ c: Case, precision: Precision = .case, tolerance override: Tolerance? = nil,
                              limit: DiagnosisLimit = .unlimited) -> (diagnoses: [Diagnosis], complete: Bool) {
    let tolerance = override ?? Tolerance(atol: c.atol, rtol: c.rtol)
    let convention = Conventions.convention(for: c.framework, config: c.config)
    guard let parsed = try? convention.parsed(config: c.config) else { return ([], true) }
    let single = precision == .case && c.dtype == .float32

    func run(_ p: any ParsedConfig, _ weights: NamedTensors<Double>, _ rewrite: (any LayerRewrite)?) -> NamedTensors<Double>? {
      func body() throws -> NamedTensors<Double> {
        if single {
          let out = try p.evaluate(weights: Runner.convert(weights) as NamedTensors<Float>,
                                   inputs: Runner.convert(c.inputs) as NamedTensors<Float>)
          return Runner.convert(out)
        }
        return try p.evaluate(weights: weights, inputs: c.inputs)
      }
      guard let rewrite else { return try? body() }
      return try? Engine.$rewrite.withValue(rewrite) { try body() }
    }

    let probe = LayerProbe()
    guard let baseline = run(parsed, c.weights, probe) else { return ([], true) }
    let hypotheses = Catalogue.hypotheses(for: c, convention: convention, probe: probe.layers,
                                          axisNames: { parsed.axisNames(output: $0) })
    var found: [Diagnosis] = []
    var seen = Set<String>()
    var singleFound = false
    // A case with `compared_output_names` is judged on those outputs only, as the run judged it.
    func compared(_ t: NamedTensors<Double>) -> NamedTensors<Double> {
      guard let names = c.comparedOutputs else { return t }
      return NamedTensors(t.entries.filter { names.contains($0.name) }.map { ($0.name, $0.tensor) })
    }
    let expected = compared(c.outputs)
    for h in hypotheses {
      if let deadline = limit.deadline, Date() >= deadline { return (found, false) }
      if h.atoms > 1 && singleFound { break }
      var out: NamedTensors<Double>
      if h.weights == nil && h.config == nil && h.rewrite == nil {
        out = baseline
      } else {
        var weights = c.weights
        if let f = h.weights { guard let w = f(weights) else { continue }; weights = w }
        var p = parsed
        if let config = h.config { guard let q = try? convention.parsed(config: config) else { continue }; p = q }
        guard let o = run(p, weights, h.rewrite) else { continue }
        out = o
      }
      if let f = h.outputs { guard let o = f(out) else { continue }; out = o }
      guard let err = matches(compared(out), expected, tolerance: tolerance, nanEqual: c.nanEqual),
            seen.insert(h.description).inserted else { continue }
      found.append(Diagnosis(kind: h.kind, description: h.description, maxAbsError: err))
      if h.atoms == 1 { singleFound = true }
    }
    return (found, true)
  }

  /// The greatest absolute error when `actual` has exactly the expected outputs' names and shapes
  /// and every value is within tolerance; nil otherwise.
  static func matches(_ actual: NamedTensors<Double>, _ expected: NamedTensors<Double>, tolerance: Tolerance,
                      nanEqual: Bool) -> Double? {
    guard Set(actual.names) == Set(expected.names) else { return nil }
    var worst = 0.0
    for (name, e) in expected.entries {
      guard let a = actual[name], a.shape == e.shape else { return nil }
      for (x, y) in zip(a.scalars, e.scalars) {
        if x.isNaN || y.isNaN {
          guard nanEqual && x.isNaN && y.isNaN else { return nil }
          continue
        }
        if x == y { continue }  // equal infinities
        let d = abs(x - y)
        guard d <= tolerance.atol + tolerance.rtol * abs(y) else { return nil }
        worst = max(worst, d)
      }
    }
    return worst
  }
}
