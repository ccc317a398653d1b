import Foundation
import RNNRef

/// One stored weight of a custom layer, as loaded.
public struct KerasWeight: Sendable {
  /// The stored name: `layer/.../kernel:0` in legacy `.h5` files, `layers/<key>/vars/<i>`
  /// (or `.../cell/vars/<i>`) in Keras 3 archives, whose weights have no names.
  public let name: String
  public let tensor: Tensor<Double>
}

/// What a custom layer or cell implementation is made from: its layer's name, class,
/// config (as saved) and weights (in `layer.weights` order, as Keras saves them).
public struct KerasLayerContext: Sendable {
  /// The Keras layer's name (for a cell: the `RNN` layer's).
  public let name: String
  /// The class as registered (for a cell: the cell's class).
  public let className: String
  /// The layer's `config` as saved (for a cell: the cell's `config`).
  public let config: JSONValue
  /// The config of the `RNN` layer around a cell (nil for a layer).
  public let layerConfig: JSONValue?
  public let weights: [KerasWeight]
  /// Input shapes, batch first (nil = any size); for a cell, the `RNN` layer's.
  public let inputShapes: [[Int?]]

  /// The weight whose stored name is `name` or ends in `/name` (`:0` ignored): `"kernel"`
  /// finds `my_layer/kernel:0`. Keras 3 archives store weights by position only: there
  /// `"0"`, `"1"` ... name them in `layer.weights` order.
  public func weight(_ name: String) throws -> Tensor<Double> {
    func base(_ s: String) -> String { s.hasSuffix(":0") ? String(s.dropLast(2)) : s }
    let hits = weights.filter { w in let b = base(w.name); return b == name || b.hasSuffix("/" + name) }
    guard hits.count == 1 else {
      throw KerasImportError(hits.isEmpty ? .missingWeight : .invalidConfig,
        "layer `\(self.name)` (custom \(className)): \(hits.isEmpty ? "no" : "\(hits.count)") stored weight(s) named `\(name)`; the layer holds \(weights.map { "`\($0.name)` \(KerasImportError.dims($0.tensor.shape))" }.joined(separator: ", "))")
    }
    return hits[0].tensor
  }
}

/// A user's implementation of a Keras layer class (`KerasCustomLayers.register(layer:_:)`).
/// Inputs and outputs are batch-major; `call` runs in the model's precision (`Float` or
/// `Double`: convert the weights with `Tensor<S>(tensor)`).
public protocol KerasCustomLayer: Sendable {
  /// Output shapes (batch first, nil = any size) for the input shapes.
  func outputShapes(_ inputShapes: [[Int?]]) throws -> [[Int?]]
  /// The layer's outputs for its inputs (the tensors of its call, in order).
  func call<S: RNNScalar>(_ inputs: [Tensor<S>]) throws -> [Tensor<S>]
}

/// A user's implementation of a Keras RNN cell class, run by the `RNN` layer that holds it
/// as Keras runs it: step by step over the time axis (reversed with `go_backwards`), from
/// zero states or the layer's `initial_state`; a masked step keeps the states and repeats the
/// previous output (zeros with `zero_output_for_mask`); `return_sequences` and
/// `return_state` as configured.
public protocol KerasCustomCell: Sendable {
  /// The size of each state (the cell's `state_size`), in order.
  var stateSizes: [Int] { get }
  /// The size of the output (the cell's `output_size`; by default the first state's).
  var outputSize: Int { get }
  /// One step: `input` is `(batch, features)`, each state `(batch, size)`.
  func step<S: RNNScalar>(_ input: Tensor<S>, states: [Tensor<S>]) throws -> (output: Tensor<S>, states: [Tensor<S>])
}

extension KerasCustomCell {
  public var outputSize: Int { stateSizes.first ?? 0 }
}

/// Implementations for layer and RNN cell classes this importer does not know, by Keras class
/// name (`MyLayer`; a registered name `package>MyLayer` or `Custom>MyLayer` matches too).
///
/// ```swift
/// var custom = KerasCustomLayers()
/// custom.register(layer: "ScaleShift") { ctx in ScaleShift(scale: try ctx.weight("scale"), shift: try ctx.weight("shift")) }
/// custom.register(cell: "MinimalRNNCell") { ctx in MinimalCell(kernel: try ctx.weight("kernel"), recurrent: try ctx.weight("recurrent_kernel")) }
/// let model = try KerasModel(contentsOf: url, customLayers: custom)
/// ```
/// A registered class is used in place of a built-in one of the same name. Every weight the
/// file holds for the layer is handed to the implementation.
public struct KerasCustomLayers: Sendable {
  public typealias LayerFactory = @Sendable (KerasLayerContext) throws -> any KerasCustomLayer
  public typealias CellFactory = @Sendable (KerasLayerContext) throws -> any KerasCustomCell
  var layers: [String: LayerFactory] = [:]
  var cells: [String: CellFactory] = [:]

  public init() {}

  /// Registers an implementation of layer class `className`.
  public mutating func register(layer className: String, _ make: @escaping LayerFactory) { layers[className] = make }
  /// Registers an implementation of RNN cell class `className` (used by `RNN(cell=...)` layers).
  public mutating func register(cell className: String, _ make: @escaping CellFactory) { cells[className] = make }

  public var layerClasses: [String] { layers.keys.sorted() }
  public var cellClasses: [String] { cells.keys.sorted() }

  static func bare(_ cls: String) -> String { cls.split(separator: ">").last.map(String.init) ?? cls }

  func lookup<T>(_ table: [String: T], _ cls: String) -> T? { table[cls] ?? table[Self.bare(cls)] }

  /// The layer built from a registered implementation, or nil when none applies.
  func build(_ e: LayerEntry, inputs: [Shape], queue q: WeightQueue, source: String) throws -> KerasLayer? {
    if layers.isEmpty && cells.isEmpty { return nil }
    func context(_ cls: String, _ config: JSONValue, _ layerConfig: JSONValue?) throws -> KerasLayerContext {
      let ws = try q.takeRaw(q.count, what: "custom \(cls)").map { KerasWeight(name: $0.name, tensor: $0.tensor) }
      return KerasLayerContext(name: e.name, className: cls, config: config, layerConfig: layerConfig, weights: ws,
                               inputShapes: inputs)
    }
    func made<T>(_ body: () throws -> T) throws -> T {
      do { return try body() } catch let err as KerasImportError { throw err } catch {
        throw KerasImportError(.invalidConfig, "\(source): layer `\(e.name)` (\(e.location)): the custom implementation of `\(e.className)` failed: \(error)")
      }
    }
    if let make = lookup(layers, e.className) {
      let ctx = try context(e.className, .object(e.config), nil)
      let impl = try made { try make(ctx) }
      return CustomKLayer(name: e.name, className: e.className, location: e.location, impl: impl,
                          parameterCount: ctx.weights.reduce(0) { $0 + $1.tensor.count })
    }
    if e.className == "RNN", let cell = e.config["cell"]?.object, let ccls = cell["class_name"]?.string,
       let make = lookup(cells, ccls) {
      if e.config["stateful"]?.bool == true {
        throw KerasImportError(.unsupportedLayer, "\(source): layer `\(e.name)` (\(e.location)): a stateful RNN over the custom cell `\(ccls)` is not supported; save the model with stateful=False")
      }
      let ctx = try context(ccls, cell["config"] ?? .object([:]), .object(e.config))
      let impl = try made { try make(ctx) }
      return CustomRNNKLayer(name: e.name, location: e.location, cellClass: ccls, cell: impl,
                             returnSequences: e.config["return_sequences"]?.bool ?? false,
                             returnState: e.config["return_state"]?.bool ?? false,
                             goBackwards: e.config["go_backwards"]?.bool ?? false,
                             zeroOutputForMask: e.config["zero_output_for_mask"]?.bool ?? false,
                             parameterCount: ctx.weights.reduce(0) { $0 + $1.tensor.count })
    }
    return nil
  }
}

/// A layer run by a user's `KerasCustomLayer`. Its outputs carry no mask.
final class CustomKLayer: KerasLayer {
  let name: String, className: String, location: String
  let impl: any KerasCustomLayer
  let parameterCount: Int
  init(name: String, className: String, location: String, impl: any KerasCustomLayer, parameterCount: Int) {
    self.name = name; self.className = className; self.location = location; self.impl = impl
    self.parameterCount = parameterCount
  }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    do { return try impl.outputShapes(inputs) } catch let e as KerasImportError { throw e } catch { throw bad("custom outputShapes failed: \(error)") }
  }
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let outs: [Tensor<S>]
    do { outs = try impl.call(inputs.map(\.t)) } catch let e as KerasImportError { throw e } catch {
      throw bad("the custom implementation of `\(className)` failed: \(error)")
    }
    return outs.map { Value(t: $0, mask: nil) }
  }
}

/// `RNN(cell=<custom cell>)`: Keras' RNN loop over a user's `KerasCustomCell`.
final class CustomRNNKLayer: KerasLayer {
  let name: String, location: String
  let className = "RNN"
  let cellClass: String
  let cell: any KerasCustomCell
  let returnSequences: Bool, returnState: Bool, goBackwards: Bool, zeroOutputForMask: Bool
  let parameterCount: Int
  init(name: String, location: String, cellClass: String, cell: any KerasCustomCell, returnSequences: Bool,
       returnState: Bool, goBackwards: Bool, zeroOutputForMask: Bool, parameterCount: Int) {
    self.name = name; self.location = location; self.cellClass = cellClass; self.cell = cell
    self.returnSequences = returnSequences; self.returnState = returnState; self.goBackwards = goBackwards
    self.zeroOutputForMask = zeroOutputForMask; self.parameterCount = parameterCount
  }

  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil, nil]
    let n = s.first ?? nil, steps = s.count > 1 ? s[1] : nil
    var outs: [Shape] = [returnSequences ? [n, steps, cell.outputSize] : [n, cell.outputSize]]
    if returnState { outs += cell.stateSizes.map { [n, $0] } }
    return outs
  }

  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let xv = try one(inputs)
    let x = xv.t
    guard x.rank == 3 else { throw bad("input has shape \(KerasImportError.dims(x.shape)), expected (batch, steps, features)") }
    let n = x.shape[0], steps = x.shape[1], f = x.shape[2]
    let sizes = cell.stateSizes
    var states: [Tensor<S>]
    if inputs.count > 1 {
      states = inputs.dropFirst().map(\.t)
      guard states.count == sizes.count, zip(states, sizes).allSatisfy({ $0.shape == [n, $1] }) else {
        throw bad("initial_state has shapes \(states.map { KerasImportError.dims($0.shape) }), the cell `\(cellClass)` has states of sizes \(sizes)")
      }
    } else {
      states = sizes.map { Tensor<S>(uncheckedZeros: [n, $0]) }
    }
    if let m = xv.mask, m.count != n * steps { throw bad("the incoming mask has \(m.count) entries for \(n * steps) steps") }
    let o = cell.outputSize
    var sequence = [S](repeating: 0, count: returnSequences ? n * steps * o : 0)
    var last = Tensor<S>(uncheckedZeros: [n, o])
    for k in 0..<steps {
      let t = goBackwards ? steps - 1 - k : k
      var xt = Tensor<S>(uncheckedZeros: [n, f])
      for b in 0..<n { for j in 0..<f { xt.scalars[b * f + j] = x.scalars[(b * steps + t) * f + j] } }
      var (out, next): (Tensor<S>, [Tensor<S>])
      do { (out, next) = try cell.step(xt, states: states) } catch let e as KerasImportError { throw e } catch {
        throw bad("the custom cell `\(cellClass)` failed at step \(t): \(error)")
      }
      guard out.shape == [n, o], next.count == sizes.count, zip(next, sizes).allSatisfy({ $0.shape == [n, $1] }) else {
        throw bad("the custom cell `\(cellClass)` returned an output \(KerasImportError.dims(out.shape)) and states \(next.map { KerasImportError.dims($0.shape) }); expected (\(n), \(o)) and sizes \(sizes)")
      }
      if let m = xv.mask {
        // A masked step keeps the states and the previous output (zeros with zero_output_for_mask).
        for b in 0..<n where !m[b * steps + t] {
          for j in 0..<o { out.scalars[b * o + j] = zeroOutputForMask ? 0 : last.scalars[b * o + j] }
          for s in next.indices { for j in 0..<sizes[s] { next[s].scalars[b * sizes[s] + j] = states[s].scalars[b * sizes[s] + j] } }
        }
      }
      states = next
      last = out
      if returnSequences {
        for b in 0..<n { for j in 0..<o { sequence[(b * steps + k) * o + j] = out.scalars[b * o + j] } }
      }
    }
    var outs: [Value<S>] = [returnSequences ? Value(t: Tensor(uncheckedShape: [n, steps, o], scalars: sequence), mask: xv.mask) : Value(t: last, mask: nil)]
    if returnState { outs += states.map { Value(t: $0, mask: nil) } }
    return outs
  }
}
