import Foundation
import KerasImport

// Any bytes as a .npy file: NPY.read must return or throw, never trap, hang or over-allocate.
let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-npy-\(getpid()).npy")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  try? Data(bytes: data, count: size).write(to: path)
  _ = try? NPY.read(path)
  return 0
}

// SwiftPM links an executable target's entry point as `FuzzNPY_main` (main is defined to it), so
// libFuzzer's own main is not linked; start its driver from here instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("FuzzNPY_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &vector, fuzz)
}
