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

enum Inspection {
  /// The full inspection text of one path; throws when it is not a readable HDF5 file.
  static func text(path: String, maxString: Int = 80, maxElements: Int = 8) throws -> String {
    let file = try File(path: path)
    var parts: [String] = []
    if try file.root.hasAttribute("rnnconf_case_schema") {
      do {
        parts.append(try Case.load(path: path).summaryText)
      } catch {
        parts.append("This file says it is an rnnconf case but cannot be loaded as one:\n  \(error)")
      }
      parts.append("HDF5 tree:")
    }
    parts.append(try TreePrinter(maxStringLength: maxString, maxArrayElements: maxElements).render(file))
    return parts.joined(separator: "\n\n")
  }

  static func failureMessage(path: String, error: Error) -> String {
    if let e = error as? HDF5Error {
      switch e.kind {
      case .fileNotFound: return "rnnconf inspect: `\(path)` does not exist. Check the path."
      case .isDirectory:
        return "rnnconf inspect: `\(path)` is a directory. Pass one file inside it; `rnnconf list \(path)` lists the cases in a folder."
      case .notHDF5:
        let kind = FileKind.sniff(path: path)
        var what = "rnnconf inspect: `\(path)` is not an HDF5 file: it is \(kind)."
        switch kind {
        case .zip: what += " A Keras 3 .keras file is a zip holding config.json, metadata.json and model.weights.h5; unzip it and inspect model.weights.h5."
        case .json: what += " It may be a Keras model.to_json() architecture; its weights live in a separate .h5 file."
        case .empty: what += " Nothing to show."
        default: what += " rnnconf reads HDF5 files (.h5, .hdf5, .weights.h5)."
        }
        return what
      default:
        return "rnnconf inspect: \(e)"
      }
    }
    return "rnnconf inspect: cannot read `\(path)`: \(error)"
  }
}
