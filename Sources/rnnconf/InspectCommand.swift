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
      output shapes, parameter counts, the Keras version and backend that saved it. An ONNX model (.onnx) \
      is read as rnnconf runs it: opset, inputs, outputs, operators, recurrent nodes, initializers. Any other file that is \
      not HDF5 (JSON, text, empty, a directory) is named for what it is and the command exits with status 1; \
      so does a file that says it is a case or a Keras model but cannot be read as one (after showing what \
      it could read).
      """)

  @Argument(help: "The file to inspect.") var file: String
  @Option(help: "Cut strings longer than this many characters.") var maxString: Int = 80
  @Option(help: "Show at most this many elements of an array attribute.") var maxElements: Int = 8
  /// Internal: the child's side of the read (see `run`).
  @Flag(help: .hidden) var inProcess = false

  func validate() throws {
    if maxString < 8 { throw ValidationError("Please give --max-string of at least 8.") }
    if maxElements < 1 { throw ValidationError("Please give --max-elements of at least 1.") }
  }

  /// The file is read in a child process (`rnnconf inspect --in-process ...`, output passed
  /// straight through): libhdf5 1.10 itself dereferences null on some corrupt attribute tables
  /// (`H5Aget_name_by_idx` -> `H5A__attr_release_table`; every libhdf5 call that lists attribute
  /// names builds that table), which a tree walk reaches. A child killed by a signal becomes an
  /// error naming the file and the signal, exit 1. Cost: one process start (docs/HOSTILE-INPUTS.md).
  func run() throws {
    if !inProcess, let status = InChild.run(insertingAfter: "inspect", flag: "--in-process") {
      switch status {
      case .exited(let code): throw ExitCode(code)
      case .signalled(let sig):
        throw Output.fail("rnnconf inspect: `\(file)`: reading the file crashed libhdf5 (signal \(sig), \(InChild.name(sig))); the file is corrupt (seen: a damaged attribute table, on which libhdf5 1.10 dereferences null); nothing more can be shown; re-copy or re-save the file")
      }
    }
    try inspect()
  }

  func inspect() throws {
    if inProcess { ChildMemoryLimit.apply() }  // the child's memory cap (docs/HOSTILE-INPUTS.md)
    if ONNXModelCommands.isONNX(file) { return try ONNXModelCommands.inspect(file) }  // ONNXModelCommands.swift
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
        if let failure { throw Output.fail(failure) }
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
      throw Output.fail(Inspection.failureMessage(path: file, error: error))
    }
    if let failure { throw Output.fail(failure) }
  }

  /// A Keras save: a full model (`model_config`) or a Keras 3 weights file (`layers/`).
  static func looksLikeKeras(_ path: String) -> Bool {
    guard let root = try? HDF5.File(path: path).root else { return false }
    return (try? root.hasAttribute("model_config")) == true || (try? root.exists("layers")) == true
  }
}

/// Runs this command again in a child process with the same arguments plus an internal flag,
/// stdin, stdout and stderr shared, and waits for it.
enum InChild {
  enum Status { case exited(Int32), signalled(Int32) }

  /// nil when the child cannot be started (the caller then works in process).
  static func run(insertingAfter command: String, flag: String) -> Status? {
    guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
    var args = CommandLine.arguments
    guard let k = args.firstIndex(of: command) else { return nil }
    args.insert(flag, at: k + 1)
    args[0] = exe
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"  // the parent names the signal; no backtrace dump
    let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv + envp { free(p) } }
    var pid = pid_t()
    guard posix_spawn(&pid, exe, nil, nil, argv, envp) == 0 else { return nil }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { return nil }
    }
    let sig = status & 0x7f
    return sig != 0 ? .signalled(sig) : .exited((status >> 8) & 0xff)
  }

  static func name(_ sig: Int32) -> String {
    guard let s = strsignal(sig) else { return "signal \(sig)" }
    return String(cString: s)
  }
}
