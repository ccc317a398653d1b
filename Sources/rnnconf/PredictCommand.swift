import ArgumentParser

struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict", abstract: "Run a Keras model on inputs (placeholder until Keras import lands).")
}
