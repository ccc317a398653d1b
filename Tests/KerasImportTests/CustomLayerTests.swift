import Foundation
import HDF5
import Testing
@testable import KerasImport
import RNNRef

/// Custom layers and RNN cells implemented in Swift (`KerasCustomLayers`), on models saved by
/// tf-keras 2.21 (.h5) and Keras 3.15 (.keras) with a custom layer `ScaleShift` and an
/// `RNN(MinimalRNNCell)` (Data/make_custom_models.py, which also stores Keras' outputs).
@Suite struct CustomLayerTests {
  /// y = tanh(x * scale + shift) + offset, over the last axis.
  struct ScaleShift: KerasCustomLayer {
    let scale: Tensor<Double>, shift: Tensor<Double>, offset: Double
    func outputShapes(_ inputShapes: [[Int?]]) throws -> [[Int?]] { [inputShapes[0]] }
    func call<S: RNNScalar>(_ inputs: [Tensor<S>]) throws -> [Tensor<S>] {
      var y = inputs[0]
      let f = scale.count
      for i in y.scalars.indices {
        let j = i % f
        y.scalars[i] = S.tanh(y.scalars[i] * S(scale.scalars[j]) + S(shift.scalars[j])) + S(offset)
      }
      return [y]
    }
  }

  /// h = tanh(x . kernel + h_prev . recurrent_kernel).
  struct MinimalCell: KerasCustomCell {
    let kernel: Tensor<Double>, recurrent: Tensor<Double>
    var stateSizes: [Int] { [kernel.shape[1]] }
    func step<S: RNNScalar>(_ input: Tensor<S>, states: [Tensor<S>]) throws -> (output: Tensor<S>, states: [Tensor<S>]) {
      let n = input.shape[0], f = kernel.shape[0], u = kernel.shape[1]
      var h = try Tensor<S>(zeros: [n, u])
      for b in 0..<n { for j in 0..<u {
        var acc: S = 0
        for i in 0..<f { acc += input.scalars[b * f + i] * S(kernel.scalars[i * u + j]) }
        for i in 0..<u { acc += states[0].scalars[b * u + i] * S(recurrent.scalars[i * u + j]) }
        h.scalars[b * u + j] = S.tanh(acc)
      } }
      return (h, [h])
    }
  }

  /// A weight by name (legacy .h5) or, in a Keras 3 archive whose weights are unnamed, by position.
  static func weight(_ ctx: KerasLayerContext, _ name: String, _ position: Int) throws -> Tensor<Double> {
    if ctx.weights.contains(where: { $0.name.contains("/vars/") }) { return ctx.weights[position].tensor }
    return try ctx.weight(name)
  }

  static var registry: KerasCustomLayers {
    var custom = KerasCustomLayers()
    custom.register(layer: "ScaleShift") { ctx in
      ScaleShift(scale: try weight(ctx, "scale", 0), shift: try weight(ctx, "shift", 1),
                 offset: ctx.config["offset"]?.double ?? 0)
    }
    custom.register(cell: "MinimalRNNCell") { ctx in
      MinimalCell(kernel: try weight(ctx, "kernel", 0), recurrent: try weight(ctx, "recurrent_kernel", 1))
    }
    return custom
  }

  static func refs(_ file: String) throws -> (x: Tensor<Double>, y: Tensor<Double>) {
    let g = try HDF5.File(path: Paths.data + "/models/custom_refs.h5").group(file)
    func read(_ n: String) throws -> Tensor<Double> {
      let ds = try g.dataset(n)
      return try Tensor(shape: try ds.shape, scalars: try ds.read(as: Double.self))
    }
    return (try read("input_0"), try read("output_0"))
  }

  @Test(arguments: ["custom_tfkeras.h5", "custom_keras3.keras"], KerasPrecision.allCases)
  func customLayerAndCellMatchKeras(file: String, precision: KerasPrecision) throws {
    let url = URL(fileURLWithPath: Paths.data + "/models/" + file)
    let model = try KerasModel(contentsOf: url, precision: precision, customLayers: Self.registry)
    let r = try Self.refs(file)
    let y = try model.predict([r.x])
    #expect(mismatch(y[0], r.y, atol: 1e-5, rtol: 1e-5) == nil, "\(mismatch(y[0], r.y, atol: 1e-5, rtol: 1e-5) ?? "")")
    #expect(model.layers.map(\.className).contains("RNN"))
    #expect(model.parameterCount == 4 + 4 + 4 * 3 + 3 * 3 + 3 * 2 + 2)
  }

  @Test func withoutARegistrationTheClassIsNamed() throws {
    let url = URL(fileURLWithPath: Paths.data + "/models/custom_tfkeras.h5")
    do {
      _ = try KerasModel(contentsOf: url)
      Issue.record("loaded without the custom layer")
    } catch let e as KerasImportError {
      #expect(e.kind == .unsupportedLayer && e.message.contains("ScaleShift"))
    }
  }

  @Test func aFailingImplementationIsReportedWithTheLayer() throws {
    struct Refused: Error, CustomStringConvertible { var description: String { "no offset" } }
    var custom = Self.registry
    custom.register(layer: "ScaleShift") { _ in throw Refused() }
    do {
      _ = try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/custom_keras3.keras"), customLayers: custom)
      Issue.record("loaded with a failing implementation")
    } catch let e as KerasImportError {
      #expect(e.message.contains("scale_shift") && e.message.contains("no offset"))
    }
  }

  @Test func aWeightThatIsNotThereIsNamed() throws {
    var custom = Self.registry
    custom.register(layer: "ScaleShift") { ctx in
      ScaleShift(scale: try ctx.weight("gain"), shift: try ctx.weight("shift"), offset: 0)
    }
    do {
      _ = try KerasModel(contentsOf: URL(fileURLWithPath: Paths.data + "/models/custom_tfkeras.h5"), customLayers: custom)
      Issue.record("loaded with a missing weight")
    } catch let e as KerasImportError {
      #expect(e.kind == .missingWeight && e.message.contains("`gain`") && e.message.contains("scale:0"))
    }
  }
}
