import ArgumentParser
import Conformance
import Foundation
import HDF5

struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show what an HDF5 file holds: an rnnconf case in words, then the tree of any HDF5 file.",
    discussion: """
      Groups are listed in file order (creation order when the file tracks it), datasets with their \
      stored type and shape, attributes with short values; long strings are cut and their length shown. \
      A file that is not HDF5 (a .keras zip, JSON, text, empty, a directory) is named for what it is \
      and the command exits with status 1.
      """)

  @Argument(help: "The file to inspect.") var file: String
  @Option(help: "Cut strings longer than this many characters.") var maxString: Int = 80
  @Option(help: "Show at most this many elements of an array attribute.") var maxElements: Int = 8

  func validate() throws {
    if maxString < 8 { throw ValidationError("Please give --max-string of at least 8.") }
    if maxElements < 1 { throw ValidationError("Please give --max-elements of at least 1.") }
  }

  func run() throws {
    do {
      print(try Inspection.text(path: file, maxString: maxString, maxElements: maxElements))
    } catch {
      FileHandle.standardError.write(Data((Inspection.failureMessage(path: file, error: error) + "\n").utf8))
      throw ExitCode(1)
    }
  }
}
