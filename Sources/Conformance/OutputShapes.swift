import RNNRef

extension Runner {
  /// Why a case's expected outputs cannot match what its adapter will produce, judged from the
  /// configuration and the shapes of the weights and inputs alone (the adapter's
  /// `outputShapes`), so no reference computation is spent on it; nil when they can match or
  /// the adapter has no rule. Outputs the adapter does not produce at all are reported after the
  /// run, with the outputs it does produce.
  static func outputShapeProblem(_ c: Case, _ parsed: any ParsedConfig) -> String? {
    func shapes(_ t: NamedTensors<Double>) -> [String: [Int]] {
      Dictionary(t.entries.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
    }
    let inputs = shapes(c.inputs)
    guard let rules = parsed.outputShapes(weights: shapes(c.weights), inputs: inputs) else { return nil }
    var problems: [String] = []
    for (name, expected) in c.outputs.entries {
      guard let rule = rules[name] else { continue }
      let fits = rule.count == expected.rank && zip(rule, expected.shape).allSatisfy { $0 == nil || $0 == $1 }
      if !fits {
        let produced = "[" + rule.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
        problems.append("expected output `\(name)` (dataset `outputs/\(name)`) has shape \(expected.shape), but the "
          + "\(c.framework) adapter produces \(produced) for this config and these inputs")
      }
    }
    guard !problems.isEmpty else { return nil }
    let given = c.inputs.entries.map { "`\($0.name)` \($0.tensor.shape)" }.joined(separator: ", ")
    return "`\(c.path)`: " + problems.joined(separator: "; ") + " (inputs: \(given); `?` depends on input values). "
      + "No reference was computed. Regenerate the case with its generator, or fix the config or the expected outputs"
  }
}
