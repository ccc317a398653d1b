import Foundation
import RNNRef

enum Paths {
  /// The repository root (this file is Tests/KerasImportTests/Support.swift).
  static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path
  static let realworld = root + "/../shared/realworld"
  static let data = root + "/Tests/KerasImportTests/Data"
}

func tempURL(_ name: String) -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("kerasimport-tests-\(UUID().uuidString)-\(name)")
}

/// `nil` when `actual` matches `expected` at `|a - e| <= atol + rtol * |e|`, else why not.
func mismatch(_ actual: Tensor<Double>, _ expected: Tensor<Double>, atol: Double, rtol: Double) -> String? {
  guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
  var worst = 0.0, worstIndex = -1, bad = 0
  for i in 0..<expected.count {
    let a = actual.scalars[i], e = expected.scalars[i]
    let d = abs(a - e)
    if !(d <= atol + rtol * abs(e)) {
      bad += 1
      if !(d <= worst) { worst = d; worstIndex = i }
    }
  }
  guard bad > 0 else { return nil }
  return "\(bad)/\(expected.count) mismatched; greatest |diff| \(worst) at \(expected.multiIndex(Swift.max(worstIndex, 0))) (actual \(actual.scalars[Swift.max(worstIndex, 0)]), expected \(expected.scalars[Swift.max(worstIndex, 0)]))"
}

