import ArgumentParser
import Conformance
import Foundation

struct ListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List conformance cases with their framework, cell, dtype and input/output shapes.",
    discussion: "Exit status: 0 when every case file could be read, 1 otherwise, 64 for usage errors.")

  @OptionGroup var selection: SelectionOptions

  func run() throws {
    var options = RunOptions()
    try selection.apply(to: &options)
    let listings: [CaseListing]
    do { listings = try Runner().list(options) } catch let error as ConformanceError {
      throw usageFailure(error.description)
    }
    var out = listings.map(\.line).joined(separator: "\n")
    let errors = listings.filter { $0.error != nil }.count
    out += (listings.isEmpty ? "" : "\n") + "\(listings.count) cases" + (errors > 0 ? ", \(errors) unreadable" : "") + "\n"
    FileHandle.standardOutput.write(Data(out.utf8))
    if errors > 0 { throw ExitCode.failure }
  }
}
