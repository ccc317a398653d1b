import ArgumentParser
import Foundation
import HDF5
import KerasImport
import RNNRef

struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict",
    abstract: "Run a saved Keras model on inputs and write or show every output.",
    discussion: """
      MODEL is an ONNX model (.onnx: one --input per graph input, in graph order and the model's own \
      layout) or a Keras file: a legacy .h5 full model (Keras 1/2, tf.keras, tf-keras, Keras 3), a .keras \
      archive, or an architecture JSON (model.to_json() or config.json) with --weights (a save_weights \
      .h5 or a Keras 3 .weights.h5). Give one --input per model input, in the model's input order: a \
      .npy file, or an HDF5 file whose dataset --dataset (default x) holds the batch-major array. \
      --output writes a .npy (single output) or an HDF5 file with datasets output_0, output_1, ...; \
      without it the shapes and first values of each output are printed. The model computes as Keras \
      does (float32, or float64 for a model saved with float64 layers) and writes float32; --float64 \
      computes and writes in float64. The output is written atomically (a temporary file beside it, \
      renamed when complete), so a kill or a full disk keeps any previous file. The batch runs in slices \
      of rows (--batch-size; rows are independent, so the result is the same bit for bit) read from the \
      input as they are needed, so memory stays near the output's size; progress shows on a terminal. \
      A cut model: --output-layer NAME (repeatable) returns those layers' outputs and never builds \
      the layers after them (a Lambda or custom class there is no error); --input-layer NAME \
      (repeatable) takes that layer's output as the last --input(s), so the layers before it are \
      never built; --all-layers writes every built layer's output (HDF5 datasets named by layer).
      """)

  @Argument(help: "The Keras model file (.h5, .keras, or architecture .json with --weights).") var model: String
  @Option(help: "A separate weights file (save_weights .h5 or Keras 3 .weights.h5).") var weights: String?
  @Option(name: .customLong("input"), help: "An input (.npy or HDF5); repeat for each model input, in order.")
  var inputs: [String] = []
  @Option(help: "The dataset to read from HDF5 inputs.") var dataset: String = "x"
  @Option(help: "Write the outputs here: .npy (single output) or .h5 (output_0, output_1, ...).") var output: String?
  @Flag(help: "Compute in float64 (Double) and write float64.") var float64 = false
  @Flag(help: "Print the model summary before predicting.") var summary = false
  @Option(name: .customLong("output-layer"), help: "Return this layer's outputs instead of the model's; repeatable.")
  var outputLayers: [String] = []
  @Option(name: .customLong("input-layer"), help: "Give this layer's output as the last --input(s) instead of computing it; repeatable.")
  var inputLayers: [String] = []
  @Flag(name: .customLong("all-layers"), help: "Write every built layer's output (HDF5 datasets named by layer).")
  var allLayers = false
  @Option(help: "Rows of the batch run at a time (default: about 4 MB of input per slice); the result is the same.")
  var batchSize: Int?

  func validate() throws {
    if let b = batchSize, b < 1 { throw ValidationError("Please give --batch-size of at least 1.") }
    if inputs.isEmpty { throw ValidationError("Please give at least one --input (a .npy or HDF5 file per model input).") }
    if allLayers, let o = output, o.hasSuffix(".npy") {
      throw ValidationError("--all-layers writes one dataset per layer: give --output ending in .h5/.hdf5.")
    }
    if inputLayers.count > inputs.count {
      throw ValidationError("\(inputLayers.count) --input-layer given but \(inputs.count) --input: give each input layer's output as one of the last --input files, in the same order.")
    }
    if let o = output, !(o.hasSuffix(".npy") || o.hasSuffix(".h5") || o.hasSuffix(".hdf5")) {
      throw ValidationError("Please give --output ending in .npy (single output) or .h5/.hdf5.")
    }
  }

  /// A whole input file (`.npy`, or the HDF5 dataset `dataset`), read by the same reader as
  /// the streamed batch (PredictStreaming.Input), so its errors name the file the same way.
  static func readInput(_ path: String, dataset: String) throws -> Tensor<Double> {
    let input = try PredictStreaming.Input.open(path, dataset: dataset)
    return try input.rows(0..<(input.shape.first ?? 0))
  }

  /// The cut the options ask for: the input layers' shapes are those of the last --input files
  /// (any batch size).
  func cut() throws -> KerasCut {
    var shapes: [String: [Int?]] = [:]
    for (name, path) in zip(inputLayers, inputs.suffix(inputLayers.count)) {
      let t = try Self.readInput(path, dataset: dataset)
      shapes[name] = [nil] + t.shape.dropFirst().map { Optional($0) }
    }
    return KerasCut(outputLayers: outputLayers, inputLayers: inputLayers, inputShapes: shapes)
  }

  /// --all-layers: every built layer's output, printed or written as one dataset per layer.
  func writeAllLayers(_ m: KerasModel) throws {
    guard inputs.count == m.inputNames.count else {
      throw ValidationError("the model takes \(m.inputNames.count) input(s) (\(m.inputNames.joined(separator: ", "))), \(inputs.count) --input given; give one per input, in this order")
    }
    let outs = try m.predictAllLayers(try inputs.map { try Self.readInput($0, dataset: dataset) })
    guard let o = output else {
      for (name, y) in outs {
        let first = y.scalars.prefix(8).map { String(format: "%.6g", $0) }.joined(separator: ", ")
        print("\(name): shape \(y.shape), first values [\(first)\(y.count > 8 ? ", ..." : "")]")
      }
      return
    }
    try HDF5.File.createAtomically(path: o) { f in
      for (name, y) in outs {
        if float64 { _ = try f.root.createDataset(name, shape: y.shape, values: y.scalars) }
        else { _ = try f.root.createDataset(name, shape: y.shape, values: y.scalars.map { Float($0) }) }
      }
    }
    print("wrote \(outs.count) layer output(s) to \(o)")
  }

  func run() throws {
    try Output.reportingErrors(of: "predict") {
      if ONNXModelCommands.isONNX(model) {  // an ONNX model: ONNXModelCommands.swift
        return try ONNXModelCommands.predict(model: model, inputs: inputs, dataset: dataset, output: output, float64: float64)
      }
      try Output.check("--output", output)  // before the model runs
      let m = try KerasModel(contentsOf: URL(fileURLWithPath: model), weights: weights.map { URL(fileURLWithPath: $0) },
                             precision: float64 ? .float64 : nil, cut: try cut())
      if allLayers { return try writeAllLayers(m) }
      if summary { print(m.summary) }
      guard inputs.count == m.inputNames.count else {
        throw ValidationError("the model takes \(m.inputNames.count) input(s) (\(m.inputNames.joined(separator: ", "))), \(inputs.count) --input given; give one per input, in this order")
      }
      // Read and run in slices of the batch; input errors name the file (PredictStreaming.swift).
      let xs = try inputs.map { try PredictStreaming.Input.open($0, dataset: dataset) }
      try PredictStreaming.predict(m, inputs: xs, output: output, float64: float64, batchSize: batchSize)
    }
  }
}
