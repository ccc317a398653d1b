import Foundation

// The libFuzzer glue every target shares. SwiftPM links an executable target's entry point as
// `<Target>_main` (main is defined to it), so libFuzzer's own main is not linked; each target's
// `<Target>_main` calls `runFuzzer`, which starts libFuzzer's driver with a callback that writes the
// input to a file (the readers under test take paths, as the CLI does) and hands the path to `body`.

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

// libFuzzer calls back on one thread, one input at a time; these are set once before it starts.
nonisolated(unsafe) private var inputPath = ""
nonisolated(unsafe) private var readInput: (String) -> Void = { _ in }
/// Set by the `extensionFor:` form of `runFuzzer`: the extension of each input's file, chosen from
/// its bytes; `inputPath` is then the path without the extension.
nonisolated(unsafe) private var inputExtension: ((Data) -> String)?

/// Runs libFuzzer with `argc`/`argv`; each input is written to a per-process temporary file named
/// `fuzz-<name>-<pid>.<fileExtension>` and `body` reads it. `body` must return (throwing inside it is
/// fine, the caller uses `try?`): a trap, a hang or an over-allocation is what libFuzzer reports.
public func runFuzzer(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
  name: String, fileExtension: String, _ body: @escaping (String) -> Void
) -> CInt {
  inputPath = FileManager.default.temporaryDirectory
    .appendingPathComponent("fuzz-\(name)-\(getpid()).\(fileExtension)").path
  readInput = body
  var count = argc
  var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &vector, fuzzOneInput)
}

/// `runFuzzer` for inputs of more than one format: each input is written to
/// `fuzz-<name>-<pid>.<extensionFor(input)>` (e.g. `keras` for a zip, `h5` for HDF5), named as a
/// user's file of that kind would be.
public func runFuzzer(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
  name: String, extensionFor: @escaping (Data) -> String, _ body: @escaping (String) -> Void
) -> CInt {
  inputExtension = extensionFor
  return runFuzzer(argc, argv, name: name, fileExtension: "", body)
}

/// libFuzzer's per-input entry point. Its runtime references the symbol even though the driver above
/// is started with an explicit callback, so the one definition lives here.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  var path = inputPath
  if let ext = inputExtension { path += ext(bytes) }  // inputPath ends in "."
  try? bytes.write(to: URL(fileURLWithPath: path))
  readInput(path)
  return 0
}
