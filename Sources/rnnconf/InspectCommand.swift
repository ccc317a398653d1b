import ArgumentParser

struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect", abstract: "Show an HDF5 file's tree (placeholder until the HDF5 layer lands).")
  @Argument(help: "The file to inspect.") var file: String
}
