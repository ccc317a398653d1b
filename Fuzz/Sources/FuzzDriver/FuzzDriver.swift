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

/// libFuzzer's per-input entry point. Its runtime references the symbol even though the driver above
/// is started with an explicit callback, so the one definition lives here.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: inputPath))
  readInput(inputPath)
  return 0
}
