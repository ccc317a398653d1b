import Foundation
import RNNRef

/// Keras `ConvLSTM1D` / `ConvLSTM2D` / `ConvLSTM3D` over RNNRef's canonical `ConvLSTMCell`. The
/// config, weights and call are the Keras adapter's (`Keras.convLSTMConfig`, `Keras.importConvLSTM`,
/// `Keras.callConvLSTM`, Conventions/Keras/KerasConvLSTM.swift); this type holds the weights as
/// loaded and converts them once per scalar type.
final class ConvLSTMKLayer: KerasLayer {
  let name: String, location: String
  let config: Keras.ConvLSTMConfig
  let cell: ConvLSTMCell<Double>
  let cells = ConvertedWeights()
  var className: String { config.className }
  var parameterCount: Int { cell.kernel.count + cell.recurrentKernel.count + (config.useBias ? cell.bias.count : 0) }

  init(name: String, location: String, config: Keras.ConvLSTMConfig, cell: ConvLSTMCell<Double>) {
    self.name = name; self.location = location; self.config = config; self.cell = cell
  }

  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let r = config.rank, f = config.filters
    let s = inputs.first ?? []
    let n = s.first ?? nil, steps = s.count > 1 ? s[1] : nil
    var spatial: [Int?] = Array(repeating: nil, count: r)
    if s.count == r + 3 {
      let given = config.channelsFirst ? Array(s[3...]) : Array(s[2..<(r + 2)])
      if given.allSatisfy({ $0 != nil }) { spatial = cell.outputSpatial(given.map { $0! }) }
    }
    let state: Shape = config.channelsFirst ? [n, f] + spatial : [n] + spatial + [f]
    let out: Shape = config.returnSequences ? [state[0], steps] + state.dropFirst() : state
    return config.returnState ? [out, state, state] : [out]
  }

  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let xv = try one(inputs)
    if xv.mask != nil {
      throw bad("a time-step mask reaches this \(className); masked ConvLSTM layers are not supported")
    }
    let c: ConvLSTMCell<S> = cells.get(S.self) {
      ConvLSTMCell(inputChannels: cell.inputChannels, filters: cell.filters, kernelSize: cell.kernelSize,
                   strides: cell.strides, dilation: cell.dilation, padding: cell.padding,
                   kernel: converted(cell.kernel), recurrentKernel: converted(cell.recurrentKernel),
                   bias: converted(cell.bias), gateActivation: cell.gateActivation,
                   cellActivation: cell.cellActivation, outputActivation: cell.outputActivation)
    }
    let given = inputs.dropFirst().enumerated().map { (name: "initial state \($0.offset)", tensor: $0.element.t) }
    do {
      let outs = try Keras.callConvLSTM(config, cell: c, input: xv.t, initialStates: given.isEmpty ? nil : given)
      return outs.map { Value(t: $0, mask: nil) }
    } catch let e as RNNRefError {
      var error = bad("\(e)")
      error.underlying = e
      throw error
    }
  }
}

/// MaxPooling2D/3D and AveragePooling2D/3D, `channels_last`, `valid` or `same` padding (an
/// average counts only the positions inside the input, as TensorFlow's `avg_pool` with `SAME`;
/// a max ignores the padding). Keras: `pool_size` and `strides` an integer or one per spatial
/// axis, `strides` None = `pool_size` (keras/src/layers/pooling/base_pooling.py; tf-keras
/// `Pooling2D`/`Pooling3D`).
final class PoolNDKLayer: KerasLayer {
  let name: String, className: String, location: String
  let pool: [Int], strides: [Int], padding: ConvPadding
  let isMax: Bool
  var parameterCount: Int { 0 }
  init(name: String, className: String, location: String, pool: [Int], strides: [Int], padding: ConvPadding, isMax: Bool) {
    self.name = name; self.className = className; self.location = location
    self.pool = pool; self.strides = strides; self.padding = padding; self.isMax = isMax
  }
  var rank: Int { pool.count }
  func plan(_ a: Int, _ length: Int) -> (out: Int, before: Int) { padding.plan(length: length, span: pool[a], stride: strides[a]) }
  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? []
    guard s.count == rank + 2 else { return [[s.first ?? nil] + Array(repeating: nil, count: rank + 1)] }
    return [[s[0]] + (0..<rank).map { a in s[a + 1].map { plan(a, $0).out } } + [s[rank + 1]]]
  }
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>]) throws -> [Value<S>] {
    let x = try one(inputs).t
    guard x.rank == rank + 2 else {
      throw bad("input has shape \(KerasImportError.dims(x.shape)), expected (batch, \(rank) spatial axes, channels)")
    }
    // Spatial axes padded to three, leading axes of size 1.
    let pad = 3 - rank
    let inD = Array(repeating: 1, count: pad) + Array(x.shape[1...rank])
    let pk = Array(repeating: 1, count: pad) + pool, st = Array(repeating: 1, count: pad) + strides
    var outD: [Int] = [], before: [Int] = []
    for a in 0..<3 {
      let p = a < pad ? (out: 1, before: 0) : plan(a - pad, inD[a])
      outD.append(p.out); before.append(p.before)
    }
    let n = x.shape[0], c = x.shape[rank + 1]
    let inSize = inD.reduce(1, *) * c, outSize = outD.reduce(1, *) * c
    var y = [S](repeating: 0, count: n * outSize)
    for b in 0..<n {
      var o = b * outSize
      for o0 in 0..<outD[0] { for o1 in 0..<outD[1] { for o2 in 0..<outD[2] {
        for j in 0..<c {
          var acc: S = isMax ? -S.infinity : 0
          var count = 0
          for k0 in 0..<pk[0] {
            let i0 = o0 * st[0] + k0 - before[0]
            guard i0 >= 0, i0 < inD[0] else { continue }
            for k1 in 0..<pk[1] {
              let i1 = o1 * st[1] + k1 - before[1]
              guard i1 >= 0, i1 < inD[1] else { continue }
              for k2 in 0..<pk[2] {
                let i2 = o2 * st[2] + k2 - before[2]
                guard i2 >= 0, i2 < inD[2] else { continue }
                let v = x.scalars[b * inSize + ((i0 * inD[1] + i1) * inD[2] + i2) * c + j]
                if isMax { acc = Swift.max(acc, v) } else { acc += v }
                count += 1
              }
            }
          }
          y[o + j] = isMax ? acc : acc / S(Swift.max(count, 1))
        }
        o += c
      } } }
    }
    return [Value(t: Tensor(uncheckedShape: [n] + Array(outD[pad...]) + [c], scalars: y), mask: nil)]
  }
}

extension Builder {
  /// ConvLSTM1D/2D/3D and 2-D/3-D pooling layers, or nil for other classes.
  func buildConvRecurrent(_ e: LayerEntry, inputs: [Shape], queue q: WeightQueue) throws -> KerasLayer? {
    let c = e.config
    let inShape = inputs.first ?? [nil]
    switch e.className {
    case let cls where Keras.convLSTMClasses.contains(cls):
      let lc: Keras.ConvLSTMConfig
      do {
        lc = try Keras.convLSTMConfig(layer: ["class_name": .string(cls), "config": .object(c)], version: version)
      } catch let err as RNNRefError {
        throw KerasImportError(err, context: "\(source): layer `\(e.name)` (\(e.location))")
      }
      let r = lc.rank
      var channels: Int? = nil
      if inShape.count == r + 3 { channels = lc.channelsFirst ? inShape[2] : inShape[r + 2] }
      let k = try q.take("kernel (kernel_size..., input channels, 4*filters)", expected: lc.kernelSize.map { Optional($0) } + [channels, 4 * lc.filters])
      let rk = try q.take("recurrent_kernel (kernel_size..., filters, 4*filters)",
                          expected: lc.kernelSize.map { Optional($0) } + [lc.filters, 4 * lc.filters])
      var weights: [(name: String, tensor: Tensor<Double>)] = [("kernel", k), ("recurrent_kernel", rk)]
      if lc.useBias { weights.append(("bias", try q.take("bias (4*filters)", expected: [4 * lc.filters]))) }
      let cell: ConvLSTMCell<Double>
      do {
        cell = try Keras.importConvLSTM(lc, inputChannels: channels, weights: weights)
      } catch let err as RNNRefError {
        throw KerasImportError(err, context: "\(source): layer `\(e.name)` (\(e.location))")
      }
      return ConvLSTMKLayer(name: e.name, location: e.location, config: lc, cell: cell)
    case "MaxPooling2D", "MaxPooling3D", "AveragePooling2D", "AveragePooling3D",
         "MaxPool2D", "MaxPool3D", "AvgPool2D", "AvgPool3D":
      let rank = Int(String(e.className.dropLast().last ?? "2")) ?? 2
      if let df = c["data_format"]?.string, df != "channels_last" { throw unsupported(e, "data_format \(df); only channels_last") }
      func tuple(_ key: String, _ def: [Int]) throws -> [Int] {
        guard let v = c[key], !v.isNull else { return def }
        if let i = v.int { return Array(repeating: i, count: rank) }
        guard let a = v.array?.compactMap({ $0.int }), a.count == rank else { throw unsupported(e, "\(key) \(v.jsonText)") }
        return a
      }
      let p = try tuple("pool_size", Array(repeating: 2, count: rank))
      let s = try tuple("strides", p)
      guard let padding = ConvPadding(rawValue: (c["padding"]?.string ?? "valid").lowercased()),
            p.allSatisfy({ $0 >= 1 }), s.allSatisfy({ $0 >= 1 }) else {
        throw unsupported(e, "padding \(c["padding"]?.jsonText ?? "?"), pool_size \(p), strides \(s)")
      }
      return PoolNDKLayer(name: e.name, className: e.className, location: e.location, pool: p, strides: s,
                          padding: padding, isMax: e.className.hasPrefix("Max"))
    default:
      return nil
    }
  }
}

extension KerasModel {
  /// The ConvLSTM layers (Keras layer name and class, in model order; nested models as
  /// `outer/inner`). They are recurrent but not in `recurrentLayers`: their products are
  /// convolutions, which a canonical `Network` (and so conversion) cannot express.
  public var convLSTMLayers: [(name: String, className: String)] {
    func collect(_ g: ModelGraph, prefix: String) -> [(name: String, className: String)] {
      g.order.flatMap { n -> [(name: String, className: String)] in
        switch g.layers[n] {
        case let c as ConvLSTMKLayer: return [(prefix + n, c.className)]
        case let m as NestedModelKLayer: return collect(m.graph, prefix: prefix + n + "/")
        default: return []
        }
      }
    }
    return collect(graph, prefix: "")
  }
}
