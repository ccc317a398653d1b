import ArgumentParser

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Run conformance cases (placeholder until the runner lands).")
  func run() throws { print("0 passed, 0 failed") }
}
