import Foundation
import FuzzDriver
import KerasImport
import RNNRef

// Any bytes as a Keras model file, loaded as `rnnconf predict MODEL` loads it
// (`KerasModel(contentsOf:weights:)`): a zip (`PK..`) is written as `.keras` (config.json and
// model.weights.h5 inside, the weights opened in memory), anything else as `.h5` (a legacy full
// model: model_config + model_weights). An HDF5 file that holds weights only (a save_weights
// `.h5` or a Keras 3 `.weights.h5`: `.noArchitecture`) is loaded as `--weights` of each
// architecture JSON of the seed models (Tests/KerasImportTests/Data/models/*.json), as
// `predict ARCH.json --weights FILE` does. A model that loads runs once on zeros (batch 1, 2 steps
// for each free axis) so the weight-shape checks and the layers behind them run too; a declared
// input of more than `inputCap` values is not run (a fuzzed width must not allocate).
// Loading or running must return or throw, never trap, hang or over-allocate.

/// The most values one zero input may hold.
let inputCap = 4096

/// The architecture JSONs a weights-only file is tried with, read once (from this repository,
/// found from this source file's place: Fuzz/Sources/FuzzKerasFile/main.swift).
let architectures: [URL] = {
  let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/KerasImportTests/Data/models")
  let names = (try? FileManager.default.contentsOfDirectory(atPath: models.path)) ?? []
  return names.filter { $0.hasSuffix(".json") }.sorted().map { models.appendingPathComponent($0) }
}()

/// Zeros of a declared input shape (batch first; nil axes are 1 for the batch, 2 elsewhere),
/// or nil when they would hold more than `inputCap` values or a dimension is negative.
func zeros(_ shape: [Int?]) -> Tensor<Float>? {
  let dims = shape.enumerated().map { $0.element ?? ($0.offset == 0 ? 1 : 2) }
  var count = 1
  for d in dims {
    guard d >= 0 else { return nil }
    let (p, overflow) = count.multipliedReportingOverflow(by: d)
    guard !overflow, p <= inputCap else { return nil }
    count = p
  }
  return try? Tensor<Float>(zeros: dims)
}

/// Runs a loaded model once on zeros, unless an input is over the cap.
func runOnce(_ m: KerasModel) {
  _ = m.summary
  var xs: [Tensor<Float>] = []
  for shape in m.inputShapes {
    guard let x = zeros(shape) else { return }
    xs.append(x)
  }
  _ = try? m.predict(xs)
}

func load(_ path: String) {
  let url = URL(fileURLWithPath: path)
  do {
    runOnce(try KerasModel(contentsOf: url))
  } catch let e as KerasImportError where e.kind == .noArchitecture {
    for arch in architectures {
      if let m = try? KerasModel(contentsOf: arch, weights: url) { runOnce(m) }
    }
  } catch {}
}

@_cdecl("FuzzKerasFile_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
  runFuzzer(argc, argv, name: "kerasfile", extensionFor: { $0.starts(with: [0x50, 0x4b]) ? "keras" : "h5" }, load)
}
