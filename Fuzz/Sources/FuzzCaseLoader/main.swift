import Conformance
import FuzzDriver

// Any bytes as a case file: Case.load must return or throw, never trap, hang or over-allocate.
// (Inputs that crash inside libhdf5 itself are libhdf5 bugs; `rnnconf run --isolate` contains them.)
@_cdecl("FuzzCaseLoader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, name: "case", fileExtension: "h5") { _ = try? Case.load(path: $0) }
}
