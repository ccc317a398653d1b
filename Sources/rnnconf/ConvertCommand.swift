import ArgumentParser
import Conversion
import Foundation

extension ConversionTarget: ExpressibleByArgument {}

struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "Convert a recurrent layer or network into files another framework loads.",
    discussion: """
      SOURCE is a case file of any framework (its whole network), a Keras model (a legacy .h5 full \
      model, a .keras archive, or an architecture .json with --weights; --layer picks one recurrent \
      layer, required when the model has several), or a PyTorch export (a .safetensors state_dict \
      with its {"module", "kwargs"} .json beside it, or the .json with --weights FILE.safetensors).
      --to pytorch writes PATH.safetensors (the state_dict of torch.nn.RNN/LSTM/GRU, names and shapes \
      as torch has them) and PATH.json ({"module": "LSTM", "kwargs": {...}}): \
      torch.nn.LSTM(**kwargs).load_state_dict(safetensors.torch.load_file("PATH.safetensors")). \
      batch_first follows the source (True for Keras). \
      --to keras writes a Keras 3 archive (PATH ending .keras) or a tf-keras legacy model (PATH ending \
      .h5): a functional model from input `x` (batch, steps, features) through the recurrent layers, \
      return_sequences=True, for keras.models.load_model; a bidirectional layer keeping its directions \
      apart (merge_mode=None, TF1 bidirectional_dynamic_rnn, ONNX) keeps merge_mode=None.
      --to onnx writes PATH.onnx (opset 22, IR 10): one ONNX LSTM/GRU/RNN node per layer, chained, with the \
      Transpose/Squeeze/Gather/Concat/Slice/Reshape around them that make the graph take and return tensors \
      with the source framework's names and layout (torch: input, h0, c0 -> output, h_n, c_n; Keras: x, \
      h0, c0 -> output or output_fw/output_bw, state_h, state_c; TF1: inputs, initial_state/c, \
      initial_state/h -> outputs, state/c, state/h; ONNX: the node's X, Y, Y_h, Y_c). The graph takes \
      initial states when the source case does (or with --initial-states); it takes no lengths or masks.
      Exact rewrites applied on the way are printed (a TF1 run-time forget_bias added to the bias, \
      one bias written as two, two biases summed into one). What the target cannot express (peepholes, \
      projections into Keras, clips, coupled input-forget gates, reset-before GRUs into PyTorch, ...) is \
      refused with the reason and exit code 2; an unreadable source exits 1. Files are written atomically.
      """)

  @Argument(help: "The source: case file, Keras model (.h5, .keras, .json), or PyTorch export (.safetensors / .json).")
  var source: String
  @Option(help: "Weights of an architecture JSON (Keras .h5 / .weights.h5, or a PyTorch .safetensors).") var weights: String?
  @Option(help: "The recurrent layer of a Keras model to convert (default: the only one).") var layer: String?
  @Option(help: "The target framework: pytorch, keras or onnx.") var to: ConversionTarget
  @Option(help: "Output path: PATH (-> PATH.safetensors + PATH.json) for pytorch; PATH.keras or PATH.h5 for keras; PATH.onnx for onnx.")
  var output: String
  @Flag(help: "--to onnx: the graph takes initial states as inputs (default: when the source case has them).")
  var initialStates = false

  func validate() throws {
    if to == .keras && !(output.hasSuffix(".keras") || output.hasSuffix(".h5") || output.hasSuffix(".hdf5")) {
      throw ValidationError("Please give --output ending in .keras (Keras 3) or .h5 (tf-keras) with --to keras.")
    }
    if to == .onnx && !output.hasSuffix(".onnx") {
      throw ValidationError("Please give --output ending in .onnx with --to onnx.")
    }
    if initialStates && to != .onnx { throw ValidationError("--initial-states is for --to onnx.") }
  }

  func run() throws {
    let source: SourceNetwork
    do { source = try ConversionSource.load(path: self.source, weights: weights, layer: layer) } catch {
      throw Output.failure("\(error)")
    }
    do {
      let result = try Converter.convert(source, to: to, output: output, initialStates: initialStates ? true : nil)
      var text = "Converted \(source.label) to \(to.rawValue): " + result.files.joined(separator: ", ") + "\n"
      if to == .onnx {
        text += "  graph inputs: \(result.inputs.joined(separator: ", ")); outputs: \(result.outputs.joined(separator: ", "))\n"
      }
      for r in result.rewrites { text += "  rewrite: \(r)\n" }
      if result.rewrites.isEmpty { text += "  no rewrite: the weights were only renamed, transposed and reordered\n" }
      FileHandle.standardOutput.write(Data(text.utf8))
    } catch let e as ConversionError {
      if case .refused = e {
        FileHandle.standardError.write(Data(("Refused: \(e) (source: \(source.label))\n").utf8))
        throw ExitCode(2)
      }
      throw Output.failure("\(e)")
    } catch {
      throw Output.failure("\(Output.reason(error))")
    }
  }
}
