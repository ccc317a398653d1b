import Foundation
import RNNRef

/// A Keras recurrent layer (SimpleRNN, LSTM, GRU, RNN(cell), RNN(StackedRNNCells),
/// Bidirectional, CuDNNLSTM/CuDNNGRU converted as Keras converts them) over RNNRef.
///
/// The gate orders, weight layouts, activations and masking semantics come from
/// the Keras adapter (`RNNRef.Keras.parse` / `Keras.importNetwork`): this type
/// only orders the stored weights (Keras loads them by position), converts Keras 1
/// per-gate and cuDNN weights the way tf-keras' `preprocess_weights_for_loading`
/// does, and calls the layer through `Keras.callLayer`, as `Keras.evaluate` does.
final class RecurrentKLayer: KerasLayer {
  let name: String, className: String, location: String
  /// The adapter's view of the layer.
  let config: Keras.LayerConfig
  /// One Keras layer becomes one canonical layer (several for StackedRNNCells).
  let network: Network<Double>
  private(set) var parameterCount: Int
  /// States carried between calls of a stateful layer, per canonical layer and direction.
  var carried: [[LayerState<Double>]]?

  init(name: String, className: String, location: String, config: Keras.LayerConfig, network: Network<Double>,
       parameterCount: Int) {
    self.name = name; self.className = className; self.location = location
    self.config = config; self.network = network; self.parameterCount = parameterCount
  }

  func resetStates() { carried = nil }

  func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
    let s = inputs.first ?? [nil, nil, nil]
    let n = s.first ?? nil, steps = s.count > 1 ? s[1] : nil
    let last = network.layers[network.layers.count - 1]
    let h = last.cells[0].outputSize
    var outs: [Shape] = []
    let seq: (Int) -> Shape = { f in self.config.returnSequences ? [n, steps, f] : [n, f] }
    if config.bidirectional == MergeMode.none { outs = [seq(h), seq(h)] } else { outs = [seq(last.outputSize)] }
    if config.returnState {
      for l in network.layers { for c in l.cells {
        outs.append([n, c.outputSize])
        if c.hasCellState { outs.append([n, c.hiddenSize]) }
      } }
    }
    return outs
  }

  func call(_ inputs: [Value]) throws -> [Value] {
    let xv = try one(inputs)
    let x = xv.t
    let i0 = network.layers[0].inputSize
    guard x.rank == 3, x.shape[2] == i0 else {
      throw bad("input has shape \(KerasImportError.dims(x.shape)), expected (batch, steps, \(i0)) from the kernel")
    }
    let n = x.shape[0], steps = x.shape[1]
    if let m = xv.mask, m.count != n * steps {
      throw bad("the incoming mask has \(m.count) entries, the input \(KerasImportError.dims(x.shape)) has \(n * steps) steps; the layer before changed the time axis of a masked tensor")
    }
    let mask = xv.mask.map { StepMask(batch: n, steps: steps, valid: $0) }
    let given = inputs.dropFirst().enumerated().map { (name: "initial state \($0.offset)", tensor: $0.element.t) }
    let result: (outputs: [Tensor<Double>], finalStates: [[LayerState<Double>]], sequence: Tensor<Double>)
    do {
      result = try Keras.callLayer(config, canonical: network.layers, input: x, mask: mask,
                                   initialStates: given.isEmpty ? nil : given,
                                   carried: config.stateful ? carried : nil)
    } catch {
      throw bad("\(error)")
    }
    if config.stateful { carried = result.finalStates }
    // Sequence outputs keep the incoming mask; last outputs and states carry none.
    let sequences = config.returnSequences ? (config.bidirectional == MergeMode.none ? 2 : 1) : 0
    return result.outputs.enumerated().map { k, t in Value(t: t, mask: k < sequences ? xv.mask : nil) }
  }
}

enum RecurrentBuilder {
  static let classes: Set<String> = ["SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional", "CuDNNLSTM", "CuDNNGRU",
                                     "LSTMV1", "GRUV1"]

  /// Keras 1 keys to Keras 2 (`output_dim` -> `units`, `inner_activation` -> `recurrent_activation`),
  /// cuDNN layers to the layers Keras converts them to.
  static func normalize(_ cls: String, _ c: [String: JSONValue], version: KerasVersion)
    -> (cls: String, config: [String: JSONValue], cudnn: Bool) {
    var c = c
    if version.major <= 1 {
      if let u = c["output_dim"], c["units"] == nil { c["units"] = u }
      if let a = c["inner_activation"], c["recurrent_activation"] == nil { c["recurrent_activation"] = a }
    }
    switch cls {
    case "Bidirectional":
      var cudnn = false
      for key in ["layer", "backward_layer"] {
        if let inner = c[key]?.object, let icls = inner["class_name"]?.string {
          let n = normalize(icls, inner["config"]?.object ?? [:], version: version)
          cudnn = cudnn || n.cudnn
          var o = inner
          o["class_name"] = .string(n.cls); o["config"] = .object(n.config)
          c[key] = .object(o)
        }
      }
      return (cls, c, cudnn)
    case "CuDNNLSTM", "CuDNNGRU":
      c["activation"] = .string("tanh")
      c["recurrent_activation"] = .string("sigmoid")
      c["use_bias"] = .bool(true)
      if cls == "CuDNNGRU" { c["reset_after"] = .bool(true) }
      return (cls == "CuDNNLSTM" ? "LSTM" : "GRU", c, true)
    default:
      return (cls, c, false)
    }
  }

  /// tf-keras `_convert_rnn_weights`: cuDNN input kernels per gate `k.T.reshape(k.shape, order="F")`,
  /// recurrent kernels per gate `k.T`, LSTM biases summed, GRU biases reshaped to `(2, 3H)`.
  static func convertCuDNN(_ w: [Tensor<Double>], gates: Int) -> [Tensor<Double>] {
    let k = w[0], r = w[1], b = w[2]
    let i = k.shape[0], u = k.shape[1] / gates
    let kBlocks = k.split(gates, axis: 1).map { blk -> Tensor<Double> in
      var out = Tensor<Double>(zeros: [i, u])
      for row in 0..<i { for col in 0..<u {
        let m = row + col * i           // F-order position in the (I, u) result
        let a = m % u, bb = m / u        // F-order position in the (u, I) transpose
        out.scalars[row * u + col] = blk.scalars[bb * u + a]
      } }
      return out
    }
    let rBlocks = r.split(gates, axis: 1).map { $0.transposed2D }
    let kernel = Tensor.concatenate(kBlocks, axis: 1), rec = Tensor.concatenate(rBlocks, axis: 1)
    let bias: Tensor<Double>
    if gates == 4 {
      let halves = b.split(2, axis: 0)
      bias = Tensor(shape: halves[0].shape, scalars: zip(halves[0].scalars, halves[1].scalars).map { $0 + $1 })
    } else {
      bias = b.reshaped([2, b.count / 2])
    }
    return [kernel, rec, bias]
  }

  static func build(name: String, className: String, config raw: [String: JSONValue], location: String,
                    inputFeatures: Int?, version: KerasVersion, weights q: WeightQueue) throws -> RecurrentKLayer {
    let (cls, cfg, cudnn) = normalize(className, raw, version: version)
    var layerJSON: [String: JSONValue] = ["class_name": .string(cls), "config": .object(cfg)]
    layerJSON["name"] = .string(name)
    let inputLayer: JSONValue = .object([
      "class_name": .string("InputLayer"),
      "config": .object(["name": .string("__kerasimport_input"),
                         "batch_input_shape": .array([.null, .null, inputFeatures.map { .number(Double($0)) } ?? .null])]),
    ])
    let mini: JSONValue = .object([
      "keras_version": .string(version.text),
      "library": .string(version.major >= 3 ? "keras" : "tf-keras"),
      "model": .object(["class_name": .string("Sequential"),
                        "config": .object(["name": .string("m"), "layers": .array([inputLayer, .object(layerJSON)])])]),
    ])
    var storedNames: [String: String] = [:]
    func wrap(_ e: Error) -> KerasImportError {
      if let k = e as? KerasImportError { return k }
      var kind = KerasImportError.Kind.invalidConfig
      if let r = e as? RNNRefError {
        switch r {
        case .missingWeight: kind = .missingWeight
        case .unusedWeights: kind = .surplusWeight
        case .shapeMismatch: kind = .shapeMismatch
        case .unsupported: kind = .unsupportedLayer
        default: kind = .invalidConfig
        }
      }
      var text = "\(e)"
      for (synthetic, stored) in storedNames { text = text.replacingOccurrences(of: "`\(synthetic)`", with: "`\(stored)`") }
      return KerasImportError(kind, "\(q.source): layer `\(name)` (\(location)): \(text)")
    }
    let lc: Keras.LayerConfig
    do {
      let m = try Keras.parse(mini)
      guard let first = m.layers.first else { throw KerasImportError(.invalidConfig, "no recurrent layer") }
      lc = first
    } catch { throw wrap(error) }
    // Weights in Keras order: per direction (forward, backward), per cell: kernel, recurrent_kernel[, bias].
    var named = NamedTensors<Double>()
    let dirs = lc.bidirectional == nil ? 1 : 2
    let leaves = ["kernel", "recurrent_kernel", "bias"]
    var params = 0
    for d in 0..<dirs {
      let cells = lc.bidirectional == nil ? lc.cells : [lc.cells[d]]
      for (ci, cell) in cells.enumerated() {
        var prefix = lc.name + "/"
        if lc.bidirectional != nil { prefix += d == 0 ? "forward_layer/" : "backward_layer/" }
        prefix += (lc.cells.count > 1 ? (cell.name ?? "cell\(ci)") : "cell") + "/"
        let what = "\(cell.kind.rawValue)(units=\(cell.units))" + (dirs == 2 ? (d == 0 ? " forward" : " backward") : "")
          + (cells.count > 1 ? " cell \(ci)" : "")
        var tensors: [Tensor<Double>]
        let before = q.taken.count
        if version.major <= 1 && !cudnn {
          let n = cell.kind == .lstm ? 12 : cell.kind == .gru ? 9 : 3
          let raw = try q.takeRaw(n, what: "\(what) (Keras 1 stores \(n) per-gate arrays: W, U, b per gate)").map(\.tensor)
          let last = raw[0].rank - 1
          switch cell.kind {
          case .lstm:  // stored i, c, f, o; Keras 2 fuses i, f, c, o
            tensors = [[0, 6, 3, 9], [1, 7, 4, 10], [2, 8, 5, 11]].map { ix in
              Tensor.concatenate(ix.map { raw[$0] }, axis: ix[0] % 3 == 2 ? 0 : last) }
          case .gru:
            tensors = [[0, 3, 6], [1, 4, 7], [2, 5, 8]].map { ix in
              Tensor.concatenate(ix.map { raw[$0] }, axis: ix[0] % 3 == 2 ? 0 : last) }
          case .simple:
            tensors = raw
          }
        } else if cudnn {
          let g = cell.kind == .lstm ? 4 : 3
          let h = cell.units
          let k = try q.take("kernel", expected: [inputFeatures, g * h])
          let r = try q.take("recurrent_kernel", expected: [h, g * h])
          let b = try q.take("bias (cuDNN: input and recurrent biases, \(2 * g)H)", expected: [2 * g * h])
          tensors = convertCuDNN([k, r, b], gates: g)
        } else {
          let n = cell.useBias ? 3 : 2
          tensors = try q.takeRaw(n, what: what + (cell.useBias ? ": kernel, recurrent_kernel, bias" : ": kernel, recurrent_kernel (use_bias=False)")).map(\.tensor)
        }
        let stored = q.taken[before...].map(\.name)
        for (j, (leaf, t)) in zip(leaves, tensors).enumerated() {
          named.append(prefix + leaf, t); params += t.count
          storedNames[prefix + leaf] = stored.count == tensors.count ? stored[j] : stored.joined(separator: "+")
        }
      }
    }
    do { try q.finish(what: "\(cls) `\(name)`") } catch { throw error }
    let net: Network<Double>
    do { net = try Keras.importNetwork(config: mini, weights: named) } catch { throw wrap(error) }
    return RecurrentKLayer(name: name, className: className, location: location, config: lc, network: net,
                           parameterCount: params)
  }
}
