import ArgumentParser
import Conformance
import Foundation
import HDF5
import KerasImport

struct InspectCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Show what a file holds: an rnnconf case in words or a Keras model's summary, then the HDF5 tree.",
    discussion: """
      Groups are listed in file order (creation order when the file tracks it), datasets with their \
      stored type and shape, attributes with short values; long strings are cut and their length shown. \
      A Keras file (.h5 with a model config, .weights.h5, or a .keras zip) is summarised first: layers, \
      output shapes, parameter counts, the Keras version and backend that saved it. Any other file that is \
      not HDF5 (JSON, text, empty, a directory) is named for what it is and the command exits with status 1; \
      so does a file that says it is a case or a Keras model but cannot be read as one (after showing what \
      it could read).
      """)

  @Argument(help: "The file to inspect.") var file: String
  @Option(help: "Cut strings longer than this many characters.") var maxString: Int = 80
  @Option(help: "Show at most this many elements of an array attribute.") var maxElements: Int = 8

  func validate() throws {
    if maxString < 8 { throw ValidationError("Please give --max-string of at least 8.") }
    if maxElements < 1 { throw ValidationError("Please give --max-elements of at least 1.") }
  }

  func run() throws {
    let kind = FileKind.sniff(path: file)
    var failure: String?  // what could not be read as what it says it is: shown, then exit 1
    if kind == .zip || (kind == .hdf5 && Self.looksLikeKeras(file)) {
      do {
        print(try KerasModel(contentsOf: URL(fileURLWithPath: file)).summary)
      } catch {
        print("Keras model: cannot be imported: \(error)")
        failure = "rnnconf inspect: `\(file)` looks like a Keras model but cannot be imported: \(error)"
      }
      if kind == .zip {
        if let failure { FileHandle.standardError.write(Data((failure + "\n").utf8)); throw ExitCode(1) }
        return
      }
      print("")
    }
    do {
      let (text, caseError) = try Inspection.inspect(path: file, maxString: maxString, maxElements: maxElements)
      print(text)
      if let caseError, failure == nil {
        failure = "rnnconf inspect: `\(file)` says it is an rnnconf case but cannot be loaded as one: \(caseError)"
      }
    } catch {
      FileHandle.standardError.write(Data((Inspection.failureMessage(path: file, error: error) + "\n").utf8))
      throw ExitCode(1)
    }
    if let failure { FileHandle.standardError.write(Data((failure + "\n").utf8)); throw ExitCode(1) }
  }

  /// A Keras save: a full model (`model_config`) or a Keras 3 weights file (`layers/`).
  static func looksLikeKeras(_ path: String) -> Bool {
    guard let root = try? HDF5.File(path: path).root else { return false }
    return (try? root.hasAttribute("model_config")) == true || (try? root.exists("layers")) == true
  }
}
