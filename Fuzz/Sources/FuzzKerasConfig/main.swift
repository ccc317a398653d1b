import Foundation
import KerasImport

// Any bytes as a Keras architecture JSON (model.to_json()): the graph parser must return or
// throw, never trap or hang. No weights are given, so only the config and graph are exercised.
let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-keras-\(getpid()).json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  try? Data(bytes: data, count: size).write(to: path)
  _ = try? KerasModel(contentsOf: path)
  return 0
}

// SwiftPM links an executable target's entry point as `FuzzKerasConfig_main` (main is defined to it), so
// libFuzzer's own main is not linked; start its driver from here instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("FuzzKerasConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  var count = argc
  var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
  return LLVMFuzzerRunDriver(&count, &vector, fuzz)
}
