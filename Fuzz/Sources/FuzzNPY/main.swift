import Foundation
import FuzzDriver
import KerasImport

// Any bytes as a .npy file: NPY.read must return or throw, never trap, hang or over-allocate.
@_cdecl("FuzzNPY_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, name: "npy", fileExtension: "npy") { _ = try? NPY.read(URL(fileURLWithPath: $0)) }
}
