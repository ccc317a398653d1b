import Foundation
import RNNRef

/// A Keras recurrent layer (SimpleRNN, LSTM, GRU, RNN(cell), RNN(StackedRNNCells),
/// Bidirectional, CuDNNLSTM/CuDNNGRU converted as Keras converts them) over RNNRef.
///
/// The config, gate orders, weight layouts and conversions, activations and masking
/// semantics come from the Keras adapter's layer API (`Keras.LayerConfig`,
/// `Keras.importLayer`, `Keras.fusedFromCuDNN` / `fusedFromKeras1`, `Keras.callLayer`):
/// this type takes the stored weights in order (Keras loads them by position) and
/// carries the mask; a stateful layer's states live in the caller's `CarriedStates`.
final class RecurrentKLayer: StatefulKerasLayer {
  let name: String, className: String, location: String
  /// The adapter's view of the layer.
  let config: Keras.LayerConfig
  /// One Keras layer becomes one canonical layer (several for StackedRNNCells), as loaded.
  let network: Network<Double>
  /// The fused weights in Keras order and the input size `network` was imported from: the
  /// network in another scalar type is imported again from them (rounded) by the adapter.
  let fused: [Keras.NamedWeight<Double>]
  let inputFeatures: Int?
  let networks = ConvertedWeights()
  let parameterCount: Int

  init(name: String, className: String, location: String, config: Keras.LayerConfig, network: Network<Double>,
       fused: [Keras.NamedWeight<Double>], inputFeatures: Int?, parameterCount: Int) {
    self.name = name; self.className = className; self.location = location
    self.config = config; self.network = network; self.fused = fused; self.inputFeatures = inputFeatures
    self.parameterCount = parameterCount
  }

  /// The canonical layers in scalar type `S`.
  @_specialize(where S == Float) @_specialize(where S == Double)
  func canonical<S: RNNScalar>(_: S.Type) throws -> [RecurrentLayer<S>] {
    if let same = network as? Network<S> { return same.layers }
    return try networks.get(S.self) {
      do {
        return try Keras.importLayer(config, inputFeatures: inputFeatures,
                                     weights: fused.map { (name: $0.name, tensor: Tensor<S>($0.tensor)) })
      } catch let e as RNNRefError {
        var error = bad("\(e)")
        error.underlying = e
        throw error
      }
    }
  }

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

  /// A stateful layer starts from its entry in `states` (this layer's final states from its
  /// previous call, converted when that call ran in another scalar type) and leaves its final
  /// states there.
  @_specialize(where S == Float) @_specialize(where S == Double)
  func call<S: RNNScalar>(_ inputs: [Value<S>], states: inout CarriedStates) throws -> [Value<S>] {
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
    let layers = try canonical(S.self)
    let result: (outputs: [Tensor<S>], finalStates: [[LayerState<S>]], sequence: Tensor<S>)
    do {
      result = try Keras.callLayer(config, canonical: layers, input: x, mask: mask,
                                   initialStates: given.isEmpty ? nil : given,
                                   carried: config.stateful ? states.states(of: self, S.self) : nil)
    } catch let e as RNNRefError {
      var error = bad("\(e)")
      error.underlying = e
      throw error
    }
    if config.stateful { states.set(result.finalStates, of: self) }
    // Sequence outputs keep the incoming mask; last outputs and states carry none.
    let sequences = config.returnSequences ? (config.bidirectional == MergeMode.none ? 2 : 1) : 0
    return result.outputs.enumerated().map { k, t in Value(t: t, mask: k < sequences ? xv.mask : nil) }
  }
}

enum RecurrentBuilder {
  /// Builds one recurrent layer: its config read by the Keras adapter, its stored weights
  /// taken in `layer.weights` order (cuDNN and Keras 1 layouts converted by the adapter),
  /// canonical layers from `Keras.importLayer`.
  ///
  /// `weightsVersion`: the version of a separate weights file when it is not the
  /// architecture's. As tf-keras' `preprocess_weights_for_loading`, Keras 1 per-gate arrays
  /// are fused when the weights file is Keras 1 (a Keras 1 `save_weights` file has no
  /// `keras_version`), and cuDNN-shaped weights (bias 8H for an LSTM, 6H for a GRU) loaded
  /// into an `LSTM`/`GRU(reset_after=True)` are converted (`_convert_rnn_weights`).
  static func build(name: String, className: String, config raw: [String: JSONValue], location: String,
                    inputFeatures: Int?, version: Keras.Version, weights q: WeightQueue,
                    weightsVersion: Keras.Version? = nil) throws -> RecurrentKLayer {
    /// The adapter's errors, placed in the file and the model.
    func adapter<T>(_ body: () throws -> T) throws -> T {
      do { return try body() } catch let e as RNNRefError {
        throw KerasImportError(e, context: "\(q.source): layer `\(name)` (\(location))")
      }
    }
    let lc = try adapter {
      try Keras.LayerConfig(layer: ["class_name": .string(className), "config": .object(raw), "name": .string(name)],
                            version: version)
    }
    // A Keras 1 weights file under a Keras 2/3 architecture: tf-keras fuses a layer's
    // per-gate arrays when there are 3 per gate (12 for an LSTM, 9 for a GRU) per direction.
    var storage = lc.storage
    if storage == .fused, weightsVersion?.isKeras1 == true {
      let perGate = (0..<lc.directions).reduce(0) { n, d in n + lc.cells(direction: d).reduce(0) { $0 + 3 * $1.kind.gates } }
      if q.count == perGate { storage = .keras1PerGate }
    }
    // Weights in Keras order: per direction (forward, backward), per cell: kernel, recurrent_kernel[, bias].
    var fused: [Keras.NamedWeight<Double>] = []
    for d in 0..<lc.directions {
      let cells = lc.cells(direction: d)
      for (ci, cell) in cells.enumerated() {
        let what = "\(cell.kind.rawValue)(units=\(cell.units))" + (lc.directions == 2 ? (d == 0 ? " forward" : " backward") : "")
          + (cells.count > 1 ? " cell \(ci)" : "")
        switch storage {
        case .keras1PerGate:
          let n = 3 * cell.kind.gates
          let raw = try q.takeRaw(n, what: "\(what) (Keras 1 stores \(n) per-gate arrays: W, U, b per gate)")
          fused += try adapter { try Keras.fusedFromKeras1(raw.map { ($0.name, $0.tensor) }, kind: cell.kind) }
        case .cudnn:
          let g = cell.kind.gates, h = cell.units
          let before = q.taken.count
          let k = try q.take("kernel", expected: [inputFeatures, g * h])
          let r = try q.take("recurrent_kernel", expected: [h, g * h])
          let b = try q.take("bias (cuDNN: input and recurrent biases, \(2 * g)H)", expected: [2 * g * h])
          let names = q.taken[before...].map(\.name)
          fused += try adapter { try Keras.fusedFromCuDNN(Array(zip(names, [k, r, b])).map { ($0.0, $0.1) }, kind: cell.kind) }
        case .fused:
          let n = cell.useBias ? 3 : 2
          let raw = try q.takeRaw(n, what: what + (cell.useBias ? ": kernel, recurrent_kernel, bias" : ": kernel, recurrent_kernel (use_bias=False)"))
            .map { ($0.name, $0.tensor) }
          // cuDNN-shaped weights (both biases, 2 x gates x H) in an LSTM/GRU layer.
          let g = cell.kind.gates
          if n == 3, cell.kind != .simple, raw[1].1.rank == 2, raw[2].1.shape == [2 * g * raw[1].1.shape[0]] {
            if cell.kind == .gru && !cell.resetAfter {
              throw KerasImportError(.shapeMismatch, "\(q.source): layer `\(name)` (\(location)): weight `\(raw[2].0)` has the cuDNN GRU bias shape \(KerasImportError.dims(raw[2].1.shape)), which GRU(reset_after=False) cannot take (tf-keras: CuDNNGRU is not compatible with GRU(reset_after=False)); set reset_after=True in the architecture")
            }
            fused += try adapter { try Keras.fusedFromCuDNN(raw, kind: cell.kind) }
          } else {
            fused += raw
          }
        }
      }
    }
    try q.finish(what: "\(lc.className) `\(name)`")
    let layers: [RecurrentLayer<Double>] = try adapter { try Keras.importLayer(lc, inputFeatures: inputFeatures, weights: fused) }
    return RecurrentKLayer(name: name, className: className, location: location, config: lc,
                           network: Network(layers: layers), fused: fused, inputFeatures: inputFeatures,
                           parameterCount: fused.reduce(0) { $0 + $1.tensor.count })
  }
}
