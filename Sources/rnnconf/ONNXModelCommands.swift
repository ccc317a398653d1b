import ArgumentParser
import Foundation
import HDF5
import KerasImport
import ONNXImport
import RNNRef

/// `inspect` and `predict` on an ONNX model (`.onnx`): read through ONNXImport.
enum ONNXModelCommands {
  static func isONNX(_ path: String) -> Bool { path.lowercased().hasSuffix(".onnx") }

  static func dims(_ s: [Int?]?) -> String {
    guard let s else { return "(shape not declared)" }
    return "[" + s.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
  }

  /// What `inspect` prints for a model.
  static func summary(_ m: ONNXModel) -> String {
    var lines = ["ONNX model \(m.path)",
                 "  ir_version \(m.irVersion), opset \(m.opset), producer \(m.producerName.isEmpty ? "(none)" : m.producerName) \(m.producerVersion)"]
    func port(_ p: ONNXModel.Port) -> String { "\(p.name) \(p.elementType?.name ?? "?") \(dims(p.shape))" }
    lines.append("  inputs:  " + m.inputs.map(port).joined(separator: "; "))
    lines.append("  outputs: " + m.outputs.map(port).joined(separator: "; "))
    lines.append("  operators: " + m.opTypes.joined(separator: ", "))
    for r in m.recurrentNodes {
      lines.append("  \(r.opType) node \"\(r.name)\": attributes \(r.config["attributes"]?.jsonText ?? "{}"), inputs \(r.config["inputs_present"]?.jsonText ?? "[]")")
    }
    lines.append("  initializers:")
    for i in m.initializerShapes { lines.append("    \(i.name) \(i.type.name) \(i.shape)") }
    return lines.joined(separator: "\n")
  }

  static func inspect(_ path: String) throws {
    do { print(summary(try ONNXModel(path: path))) } catch {
      FileHandle.standardError.write(Data("rnnconf inspect: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }

  /// `predict` on an ONNX model: one --input (.npy, or HDF5 with --dataset) per graph input in
  /// graph order, in the model's own layout; computed in Float (Double with --float64 or for a
  /// float64 model); outputs printed, or written to .npy (one output) or .h5 (output_K).
  static func predict(model path: String, inputs: [String], dataset: String, output: String?, float64: Bool) throws {
    do {
      try Output.check("--output", output)
      let m = try ONNXModel(path: path)
      guard inputs.count == m.inputs.count else {
        throw ValidationError("the model takes \(m.inputs.count) input(s) (\(m.inputs.map(\.name).joined(separator: ", "))), \(inputs.count) --input given; give one per input, in this order")
      }
      var xs = NamedTensors<Double>()
      for (p, file) in zip(m.inputs, inputs) { xs.append(p.name, try PredictCommand.readInput(file, dataset: dataset)) }
      let double = float64 || m.inputs.contains { $0.elementType == .double }
      let ys: NamedTensors<Double>
      if double {
        ys = try m.run(xs)
      } else {
        let out: NamedTensors<Float> = try m.run(NamedTensors(xs.entries.map { ($0.name, Tensor<Float>($0.tensor)) }))
        ys = NamedTensors(out.entries.map { ($0.name, Tensor<Double>($0.tensor)) })
      }
      guard let o = output else {
        for (k, e) in ys.entries.enumerated() {
          let first = e.tensor.scalars.prefix(8).map { String(format: "%.6g", $0) }.joined(separator: ", ")
          print("output_\(k) \(e.name): shape \(e.tensor.shape), first values [\(first)\(e.tensor.count > 8 ? ", ..." : "")]")
        }
        return
      }
      if o.hasSuffix(".npy") {
        guard ys.entries.count == 1 else {
          throw ValidationError("the model has \(ys.entries.count) outputs (\(ys.names.joined(separator: ", "))); write them to an .h5 file")
        }
        try NPY.write(ys.entries[0].tensor, to: URL(fileURLWithPath: o), float64: double)
      } else {
        try HDF5.File.createAtomically(path: o) { f in
          for (k, e) in ys.entries.enumerated() {
            let ds: Dataset
            if double { ds = try f.root.createDataset("output_\(k)", shape: e.tensor.shape, values: e.tensor.scalars) }
            else { ds = try f.root.createDataset("output_\(k)", shape: e.tensor.shape, values: e.tensor.scalars.map { Float($0) }) }
            try ds.setAttribute("name", e.name)
          }
        }
      }
      print("wrote \(ys.entries.count) output(s) to \(o)")
    } catch let e as ValidationError {
      FileHandle.standardError.write(Data("rnnconf predict: \(e.message)\n".utf8))
      throw ExitCode(1)
    } catch let e as ExitCode {
      throw e
    } catch {
      FileHandle.standardError.write(Data("rnnconf predict: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}
