import Foundation
import Testing
@testable import KerasImport
import RNNRef
import _TestSupport

/// `dense` (Dense and TimeDistributed(Dense)) through the matrix backend, in row blocks over its
/// workers, against a Double loop written here: `activation(x k + b)` for every row.
@Suite struct DenseTests {
  /// Rows enough for several blocks and both workers (the job is above the backend's parallel
  /// threshold), an uneven last block, and every activation kind `dense` applies per block.
  @Test func denseMatchesADoubleLoop() throws {
    var rng = SeededRNG(seed: 3141)
    let rows = 1000, i = 37, u = 29  // 1.07 M multiply-adds
    let x = Tensor<Float>.random([rows / 10, 10, i], rng: &rng)
    let k = Tensor<Float>.random([i, u], rng: &rng)
    let b = Tensor<Float>.random([u], rng: &rng)
    let two = try NativeMatmul(threads: 2, parallelThreshold: 0)
    for activation in [KerasActivation.scalar(.linear), .scalar(.tanh), .softmax, .relu6] {
      for bias in [b, nil] {
        let y = dense(x, k, bias, activation: activation, backend: two)
        #expect(y.shape == [rows / 10, 10, u])
        var worst = 0.0
        for r in 0..<rows {
          var row = (0..<u).map { j in
            (0..<i).reduce(0.0) { $0 + Double(x.scalars[r * i + $1]) * Double(k.scalars[$1 * u + j]) } + Double(bias?.scalars[j] ?? 0)
          }
          var t = try Tensor<Double>(shape: [1, u], scalars: row)
          activation.apply(&t)
          row = t.scalars
          for j in 0..<u { worst = max(worst, abs(Double(y.scalars[r * u + j]) - row[j])) }
        }
        #expect(worst < 2e-5, "\(activation), bias \(bias != nil): max |dense - Double loop| = \(worst)")
      }
    }
  }

  /// The same rows, one block at a time on one thread and in blocks over two workers: the same bits.
  @Test func threadsDoNotChangeTheBits() throws {
    var rng = SeededRNG(seed: 2718)
    let x = Tensor<Float>.random([700, 64], rng: &rng)
    let k = Tensor<Float>.random([64, 33], rng: &rng)
    let b = Tensor<Float>.random([33], rng: &rng)
    let one = try NativeMatmul(threads: 1, parallelThreshold: 1 << 30)
    let two = try NativeMatmul(threads: 2, parallelThreshold: 0)
    #expect(dense(x, k, b, activation: .softmax, backend: one) == dense(x, k, b, activation: .softmax, backend: two))
  }

  /// No input features (a kernel of shape (0, U)): every row is the bias, then the activation.
  @Test func emptyKernelGivesTheBias() throws {
    let x = try Tensor<Float>(shape: [3, 0], scalars: [])
    let k = try Tensor<Float>(shape: [0, 2], scalars: [])
    let b = try Tensor<Float>(shape: [2], scalars: [0.5, -2])
    let y = dense(x, k, b, activation: .scalar(.relu))
    #expect(y.shape == [3, 2])
    #expect(y.scalars == [0.5, 0, 0.5, 0, 0.5, 0])
  }
}
