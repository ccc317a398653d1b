import ArgumentParser
import Conformance
import Foundation
import RNNRef

struct CompareCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare",
    abstract: "Run a Keras model on inputs and compare it with outputs captured from Keras, layer by layer.",
    discussion: """
      MODEL is a Keras file, as for `predict`. REF.h5 holds what Keras computed on the same inputs: \
      datasets output_0, output_1, ... (the model's outputs in order) and optionally intermediate/<layer> \
      (each layer's first output), which name the first layer, in the model's graph order, that leaves the \
      tolerance. `python -m rnnconf_capture.reference` (from `pip install ./python`) writes REF.h5 from Keras. The tolerance is \
      |actual - expected| <= atol + rtol * |expected|, by default 1e-5/1e-5 for a float32 capture and \
      1e-10/1e-10 for float64 (then the model runs in float64). Exit status: 0 everything within \
      tolerance, 1 a difference or an error, 64 usage error.
      """)

  @Argument(help: "The Keras model file (.h5, .keras, or architecture .json with --weights).") var model: String
  @Option(help: "A separate weights file (save_weights .h5 or Keras 3 .weights.h5).") var weights: String?
  @Option(name: .customLong("input"), help: "An input (.npy or HDF5); repeat for each model input, in order.")
  var inputs: [String] = []
  @Option(help: "The dataset to read from HDF5 inputs.") var dataset: String = "x"
  @Option(help: ArgumentHelp("The captured outputs (output_N, optional intermediate/<layer>).", valueName: "REF.h5"))
  var expected: String
  @Option(help: ArgumentHelp("Absolute tolerance (needs --rtol).", valueName: "x")) var atol: Double?
  @Option(help: ArgumentHelp("Relative tolerance (needs --atol).", valueName: "x")) var rtol: Double?
  @Option(help: ArgumentHelp("Write the comparison as a JSON report here.", valueName: "file")) var json: String?
  @Option(help: ArgumentHelp("Write a self-contained HTML report here.", valueName: "file")) var html: String?

  func validate() throws {
    if inputs.isEmpty { throw ValidationError("Please give at least one --input (a .npy or HDF5 file per model input).") }
    if (atol == nil) != (rtol == nil) {
      throw ValidationError("Please pass --atol and --rtol together (the tolerance is atol + rtol * |expected|).")
    }
    for (name, value) in [("--atol", atol), ("--rtol", rtol)] {
      if let v = value, !(v >= 0 && v.isFinite) {
        throw ValidationError("Please pass a finite, non-negative number to \(name) (got \(v)).")
      }
    }
  }

  func run() throws {
    try Output.check("--json", json)
    try Output.check("--html", html)
    let started = Date()
    let c = try Output.reportingErrors(of: "compare") {
      let xs = try inputs.map { try PredictCommand.readInput($0, dataset: dataset) }
      return try ModelComparison.compare(model: model, weights: weights, inputs: xs, reference: expected,
                                         tolerance: atol.flatMap { a in rtol.map { Tolerance(atol: a, rtol: $0) } })
    }
    let text = TextReporter(color: wantsColor(), verbose: true, quiet: false)
    var lines = text.lines(for: c)
    for o in c.intermediates ?? [] {
      lines.append("  layer " + text.describe(o).replacingOccurrences(of: "output `\(o.name)`", with: "`\(o.name)`"))
    }
    FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    let report = RunReport(startedAt: ISO8601DateFormatter().string(from: started),
                           durationSeconds: Date().timeIntervalSince(started), precision: .case,
                           toleranceOverride: c.toleranceSource == "command line" ? c.tolerance : nil,
                           filter: nil, framework: nil, cell: nil, shard: nil, expectationsFile: nil, cases: [c])
    if let json { try Output.write(try report.jsonData(), to: json, what: "the JSON report") }
    if let html { try Output.write(Data(HTMLReport.render(report).utf8), to: html, what: "the HTML report") }
    if c.status != .pass { throw ExitCode(1) }
  }
}
