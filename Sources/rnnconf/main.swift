import ArgumentParser

struct RNNConf: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rnnconf",
    abstract: "Conformance of recurrent layers across Keras, TensorFlow 1, PyTorch and ONNX.",
    subcommands: [RunCommand.self, ListCommand.self, InspectCommand.self, PredictCommand.self, CompareCommand.self,
                  ConvertCommand.self],
    defaultSubcommand: RunCommand.self
  )
}
RNNConf.main()
