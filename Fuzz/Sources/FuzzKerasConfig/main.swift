import Foundation
import FuzzDriver
import KerasImport

// Any bytes as a Keras architecture JSON (model.to_json()): the graph parser must return or
// throw, never trap or hang. No weights are given, so only the config and graph are exercised.
@_cdecl("FuzzKerasConfig_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, name: "keras", fileExtension: "json") { _ = try? KerasModel(contentsOf: URL(fileURLWithPath: $0)) }
}
