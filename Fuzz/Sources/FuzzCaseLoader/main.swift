import Conformance
import Foundation

// Any bytes as a case file: Case.load must return or throw, never trap, hang or over-allocate.
// (Inputs that crash inside libhdf5 itself are libhdf5 bugs; `rnnconf run --isolate` contains them.)
let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-case-\(getpid()).h5").path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  try? Data(bytes: data, count: size).write(to: URL(fileURLWithPath: path))
  _ = try? Case.load(path: path)
  return 0
}

// SwiftPM links an executable target's entry point as `FuzzCaseLoader_main` (main is defined to it), so
// libFuzzer's own main is not linked; start its driver from here instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("FuzzCaseLoader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &vector, fuzz)
}
