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
// A zip's stored entries get their CRC-32 recomputed before loading (`repairingCRCs`): the loader
// refuses a mismatch, so without it a mutation inside config.json or model.weights.h5 (stored,
// as Keras saves them) would stop there and never reach the JSON or the in-memory HDF5 reader.
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

/// zip's CRC-32 (reflected, polynomial 0xEDB88320).
let crcTable: [UInt32] = (0..<256).map { n in
  var c = UInt32(n)
  for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
  return c
}
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
  var c: UInt32 = 0xFFFF_FFFF
  for x in bytes { c = crcTable[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
  return c ^ 0xFFFF_FFFF
}

/// `zip` with the CRC-32 of each stored (method 0) entry, in its central directory record and its
/// local header, set to that of its bytes; whatever does not parse is left as it is. Every read is
/// bounds-checked: a trap here would be blamed on rnnconf.
func repairingCRCs(_ zip: [UInt8]) -> [UInt8] {
  var b = zip
  func u16(_ i: Int) -> Int? { i >= 0 && i <= b.count - 2 ? Int(b[i]) | Int(b[i + 1]) << 8 : nil }
  func u32(_ i: Int) -> Int? { guard let lo = u16(i), let hi = u16(i + 2) else { return nil }; return lo | hi << 16 }
  func put32(_ i: Int, _ v: UInt32) { for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
  func isSignature(_ i: Int, _ third: UInt8, _ fourth: UInt8) -> Bool {
    i >= 0 && i <= b.count - 4 && b[i] == 0x50 && b[i + 1] == 0x4b && b[i + 2] == third && b[i + 3] == fourth
  }
  // The end of central directory record: the last one within its comment's reach of the end.
  guard b.count >= 22,
        let end = stride(from: b.count - 22, through: max(0, b.count - 22 - 0xFFFF), by: -1).first(where: { isSignature($0, 5, 6) }),
        let count = u16(end + 10), var p = u32(end + 16) else { return b }
  for _ in 0..<count {
    guard isSignature(p, 1, 2), let method = u16(p + 10), let size = u32(p + 20), let nameLength = u16(p + 28),
          let extraLength = u16(p + 30), let commentLength = u16(p + 32), let local = u32(p + 42) else { break }
    if method == 0, isSignature(local, 3, 4), let ln = u16(local + 26), let le = u16(local + 28) {
      let start = local + 30 + ln + le
      if start + size <= b.count, p + 20 <= b.count, local + 18 <= b.count {
        let c = crc32(b[start..<(start + size)])
        put32(p + 16, c); put32(local + 14, c)
      }
    }
    p += 46 + nameLength + extraLength + commentLength
  }
  return b
}

func load(_ path: String) {
  let url = URL(fileURLWithPath: path)
  if path.hasSuffix(".keras"), let d = try? Data(contentsOf: url) {
    try? Data(repairingCRCs([UInt8](d))).write(to: url)
  }
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
