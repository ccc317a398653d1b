/// Keras weights of one layer: to canonical layers (`importLayer`), from the cuDNN and
/// Keras 1 layouts (`fusedFromCuDNN`, `fusedFromKeras1`), and back (`exportCell`).
extension Keras {
  /// One weight a layer needs, in Keras order: per direction (forward, backward), per
  /// cell, `kernel`, `recurrent_kernel`, then `bias` when the cell uses one.
  public struct WeightSlot: Sendable {
    public var direction: Int
    public var cellIndex: Int
    public var cell: CellConfig
    /// `kernel`, `recurrent_kernel` or `bias`.
    public var leaf: String
  }

  /// A named weight: the name is the one errors show.
  public typealias NamedWeight<Scalar: RNNScalar> = (name: String, tensor: Tensor<Scalar>)

  /// Native names expected for one cell, for messages: `<layer>/<cell>/kernel`.
  static func describe(_ layer: LayerConfig, _ slot: WeightSlot) -> String {
    var parts = [layer.name]
    if layer.bidirectional != nil {
      parts.append(layer.directionNames.count == 2 ? layer.directionNames[slot.direction]
                   : (slot.direction == 0 ? "forward_" : "backward_") + "<layer>")
    }
    if let n = slot.cell.name, layer.cells.count > 1 { parts.append("stacked_rnn_cells/\(n)") }
    else { parts.append(slot.cell.name ?? slot.cell.kind.snakeCell) }
    parts.append(slot.leaf)
    return parts.joined(separator: "/")
  }

  /// Imports one layer from its (fused) weights given in Keras order; a weight left
  /// over is an `unusedWeights` error, a missing one `missingWeight`.
  /// - Parameters:
  ///   - layer: the layer's config (`LayerConfig(layer:version:)`).
  ///   - inputFeatures: the layer's input size when the model declares it (the
  ///     kernel is checked against it), else taken from the kernel.
  ///   - weights: the layer's weights in Keras order, each with its name for errors.
  public static func importLayer<Scalar: RNNScalar>(_ layer: LayerConfig, inputFeatures: Int?,
                                                    weights: [NamedWeight<Scalar>]) throws -> [RecurrentLayer<Scalar>] {
    var rest = weights[...]
    let out = try importLayer(layer, inputFeatures: inputFeatures) { _ in rest.popFirst() }
    if !rest.isEmpty { throw RNNRefError.unusedWeights(names: rest.map(\.name)) }
    return out
  }

  /// Imports one layer, asking `weight` for each slot in Keras order (nil: missing).
  /// One Keras layer is one canonical layer, several for `StackedRNNCells` (one per cell).
  public static func importLayer<Scalar: RNNScalar>(
    _ layer: LayerConfig, inputFeatures: Int?, weight: (WeightSlot) throws -> NamedWeight<Scalar>?
  ) throws -> [RecurrentLayer<Scalar>] {
    var perDirection: [[Cell<Scalar>]] = Array(repeating: [], count: layer.directions)
    for dir in 0..<layer.directions {
      var cellInput = inputFeatures
      for (ci, cfg) in layer.cells(direction: dir).enumerated() {
        func take(_ leaf: String) throws -> NamedWeight<Scalar>? {
          try weight(WeightSlot(direction: dir, cellIndex: ci, cell: cfg, leaf: leaf))
        }
        func missing(_ leaf: String, _ shape: [Int], _ reason: String) -> RNNRefError {
          .missingWeight(name: describe(layer, WeightSlot(direction: dir, cellIndex: ci, cell: cfg, leaf: leaf)),
                         expectedShape: shape, reason: reason)
        }
        let g = cfg.kind.gates, h = cfg.units
        let why = "\(cfg.kind.rawValue) units=\(h): k=\(g) gates"
        guard let k = try take("kernel") else {
          throw missing("kernel", [cellInput ?? -1, g * h], "\(why), kernel (I, kH)")
        }
        let i = cellInput ?? (k.tensor.rank == 2 ? k.tensor.shape[0] : -1)
        guard k.tensor.shape == [i, g * h] else {
          throw RNNRefError.shapeMismatch(name: k.name, actual: k.tensor.shape, expected: [i, g * h],
                                          reason: "\(why), kernel (I, kH) with I = \(i) input features")
        }
        guard let r = try take("recurrent_kernel") else {
          throw missing("recurrent_kernel", [h, g * h], "\(why), recurrent_kernel (H, kH)")
        }
        guard r.tensor.shape == [h, g * h] else {
          throw RNNRefError.shapeMismatch(name: r.name, actual: r.tensor.shape, expected: [h, g * h],
                                          reason: "\(why), recurrent_kernel (H, kH)")
        }
        var bi = Tensor<Scalar>(uncheckedZeros: [g * h]), bh = Tensor<Scalar>(uncheckedZeros: [g * h])
        if cfg.useBias {
          let shape = cfg.resetAfter ? [2, g * h] : [g * h]
          let bwhy = cfg.resetAfter ? "GRU reset_after=True: bias (2, 3H), row 0 input, row 1 recurrent"
                                    : "\(why), use_bias=True: bias (kH)"
          guard let b = try take("bias") else { throw missing("bias", shape, bwhy) }
          guard b.tensor.shape == shape else {
            throw RNNRefError.shapeMismatch(name: b.name, actual: b.tensor.shape, expected: shape,
                                            reason: bwhy + (cfg.kind == .gru ? " (check reset_after)" : ""))
          }
          if cfg.resetAfter {
            bi = b.tensor.slice(axis: 0, range: 0..<1).reshaped([g * h])
            bh = b.tensor.slice(axis: 0, range: 1..<2).reshaped([g * h])
          } else {
            bi = b.tensor
          }
        }
        let c: Cell<Scalar>
        switch cfg.kind {
        case .simple:
          c = .simple(SimpleRNNCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                                    inputBias: bi, recurrentBias: bh, activation: cfg.activation))
        case .lstm:
          c = .lstm(LSTMCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                             inputBias: bi, recurrentBias: bh, gateActivation: cfg.recurrentActivation,
                             cellActivation: cfg.activation, outputActivation: cfg.activation))
        case .gru:
          c = .gru(GRUCell(inputSize: i, hiddenSize: h, kernel: k.tensor, recurrentKernel: r.tensor,
                           inputBias: bi, recurrentBias: bh, resetAfter: cfg.resetAfter,
                           gateActivation: cfg.recurrentActivation, candidateActivation: cfg.activation))
        }
        perDirection[dir].append(c)
        cellInput = h
      }
    }
    let padding: PaddingPolicy = layer.zeroOutputForMask ? .zeroOutput : .repeatPreviousOutput
    if let merge = layer.bidirectional {
      let (f, b) = layer.forwardGoesBackwards ? (1, 0) : (0, 1)
      return [RecurrentLayer(direction: .bidirectional, cells: [perDirection[f][0], perDirection[b][0]],
                             merge: merge, padding: padding)]
    }
    let cells = perDirection[0]
    return cells.enumerated().map { j, c in
      // Stacked cells step together backwards: inner layers keep input time so the
      // next one reads them backwards too; the last returns processing order.
      layer.goBackwards
        ? RecurrentLayer(direction: .reverse, cells: [c], padding: padding,
                         reverseOutputOrder: j == cells.count - 1 ? .timeReversed : .alignedToInput)
        : RecurrentLayer(direction: .forward, cells: [c], padding: padding)
    }
  }

  // MARK: - Stored layouts

  /// tf-keras `_convert_rnn_weights`: cuDNN `kernel`, `recurrent_kernel`, `bias` (both biases,
  /// `(2kH)`) of one cell to the fused layout. Input kernels per gate
  /// `k.T.reshape(k.shape, order="F")`, recurrent kernels per gate `k.T`, LSTM biases summed
  /// (in float32 when stored as float32, as numpy does), GRU biases reshaped to `(2, 3H)`.
  public static func fusedFromCuDNN<Scalar: RNNScalar>(_ w: [NamedWeight<Scalar>], kind: CellKind) throws -> [NamedWeight<Scalar>] {
    let gates = kind.gates
    let why = "cuDNN \(kind.rawValue): kernel (I, \(gates)H), recurrent_kernel (H, \(gates)H), bias (\(2 * gates)H)"
    guard w.count == 3 else {
      throw RNNRefError.invalidConfig(key: "cuDNN weights", value: "\(w.count) arrays", reason: "expected 3: \(why)")
    }
    let k = w[0].tensor, r = w[1].tensor, b = w[2].tensor
    guard k.rank == 2, k.shape[1] > 0, k.shape[1] % gates == 0 else {
      throw RNNRefError.shapeMismatch(name: w[0].name, actual: k.shape, expected: [k.shape.first ?? -1, gates * (r.shape.first ?? 1)], reason: why)
    }
    let i = k.shape[0], u = k.shape[1] / gates
    for (x, shape) in [(w[1], [u, gates * u]), (w[2], [2 * gates * u])] where x.tensor.shape != shape {
      throw RNNRefError.shapeMismatch(name: x.name, actual: x.tensor.shape, expected: shape, reason: why)
    }
    let kBlocks = k.split(gates, axis: 1).map { blk -> Tensor<Scalar> in
      var out = Tensor<Scalar>(uncheckedZeros: [i, u])
      for row in 0..<i { for col in 0..<u {
        let m = row + col * i           // F-order position in the (I, u) result
        let a = m % u, bb = m / u        // F-order position in the (u, I) transpose
        out.scalars[row * u + col] = blk.scalars[bb * u + a]
      } }
      return out
    }
    let rBlocks = r.split(gates, axis: 1).map { $0.transposed2D }
    let kernel = Tensor.concatenate(kBlocks, axis: 1), rec = Tensor.concatenate(rBlocks, axis: 1)
    let bias: Tensor<Scalar>
    if kind == .lstm {
      // tf-keras sums the two biases in the stored dtype (numpy float32 for cuDNN files): a
      // sum of float32 values is rounded to float32 as there, or recurrences that amplify
      // differences (textgenrnn's) drift from Keras' result by 1e-6.
      let halves = b.split(2, axis: 0)
      let stored32 = b.scalars.allSatisfy { Scalar(Float($0)) == $0 }
      bias = Tensor(uncheckedShape: halves[0].shape, scalars: zip(halves[0].scalars, halves[1].scalars).map {
        stored32 ? Scalar(Float($0) + Float($1)) : $0 + $1
      })
    } else {
      bias = b.reshaped([2, b.count / 2])
    }
    return [(w[0].name, kernel), (w[1].name, rec), (w[2].name, bias)]
  }

  /// Keras 1's per-gate arrays of one cell (`W`, `U`, `b` per gate; LSTM gates stored i, c,
  /// f, o, GRU z, r, h) fused into `kernel`, `recurrent_kernel`, `bias` in Keras 2's gate
  /// order, as tf-keras' `preprocess_weights_for_loading` does. Each fused weight is named
  /// by the stored arrays it joins (`a+b+c+d`).
  public static func fusedFromKeras1<Scalar: RNNScalar>(_ raw: [NamedWeight<Scalar>], kind: CellKind) throws -> [NamedWeight<Scalar>] {
    let groups: [[Int]]
    switch kind {
    case .lstm: groups = [[0, 6, 3, 9], [1, 7, 4, 10], [2, 8, 5, 11]]  // i, f, c, o
    case .gru: groups = [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    case .simple: groups = [[0], [1], [2]]
    }
    let why = "Keras 1 \(kind.rawValue): W (I, H), U (H, H), b (H) per gate"
    guard raw.count == 3 * kind.gates else {
      throw RNNRefError.invalidConfig(key: "Keras 1 weights", value: "\(raw.count) arrays",
                                      reason: "expected \(3 * kind.gates): \(why)")
    }
    // The gates' arrays of one kind share a shape: W and U of rank 2, b of rank 1.
    for (g, ix) in groups.enumerated() {
      let first = raw[ix[0]].tensor.shape
      let rank = g == 2 ? 1 : 2
      for j in ix where raw[j].tensor.shape != first || first.count != rank || first.contains(0) {
        throw RNNRefError.shapeMismatch(name: raw[j].name, actual: raw[j].tensor.shape,
                                        expected: first.count == rank ? first : Array(repeating: -1, count: rank), reason: why)
      }
    }
    if kind == .simple { return raw }
    let last = raw[0].tensor.rank - 1
    return groups.map { ix in
      (ix.map { raw[$0].name }.joined(separator: "+"),
       Tensor.concatenate(ix.map { raw[$0].tensor }, axis: ix[0] % 3 == 2 ? 0 : last))
    }
  }

  // MARK: - Export

  static func activationName(_ a: Activation, version: Version, role: String) throws -> String {
    if let entry = activationNames.first(where: { $0.activation == a && (version.isKeras3 ? $0.keras3 : $0.keras2) }) {
      return entry.name
    }
    switch a {
    case .hardSigmoidKeras2 where !version.isKeras3: return "hard_sigmoid"
    case .hardSigmoidKeras3 where version.isKeras3: return "hard_sigmoid"
    case .hardSigmoidKeras2:
      throw RNNRefError.unsupported(framework: "Keras 3", feature: "the Keras 2 hard_sigmoid clip(0.2x+0.5, 0, 1) (\(role)); Keras 3's is relu6(x+3)/6")
    case .hardSigmoidKeras3:
      throw RNNRefError.unsupported(framework: "Keras 2", feature: "the Keras 3 hard_sigmoid relu6(x+3)/6 (\(role)); Keras 2's is clip(0.2x+0.5, 0, 1)")
    default:
      throw RNNRefError.unsupported(framework: "Keras", feature: "the activation \(a) (\(role))")
    }
  }

  /// Which Keras can express a network's cells: Keras 2 when one uses the Keras 2 hard_sigmoid, else Keras 3.
  public static func preferredVersion<Scalar: RNNScalar>(_ network: Network<Scalar>) -> Version {
    for l in network.layers { for c in l.cells {
      switch c {
      case .lstm(let x) where [x.gateActivation, x.cellActivation].contains(.hardSigmoidKeras2): return .keras2
      case .gru(let x) where [x.gateActivation, x.candidateActivation].contains(.hardSigmoidKeras2): return .keras2
      case .simple(let x) where x.activation == .hardSigmoidKeras2: return .keras2
      default: continue
      }
    } }
    return .keras3
  }

  /// The Keras cell kind of a canonical cell.
  public static func kind<Scalar: RNNScalar>(of cell: Cell<Scalar>) -> CellKind {
    switch cell { case .simple: .simple; case .lstm: .lstm; case .gru: .gru }
  }

  /// One canonical cell as Keras config keys and weights (`kernel`, `recurrent_kernel`,
  /// `bias`), or `unsupported` naming what Keras cannot express (`layer` numbers it in messages).
  public static func exportCell<Scalar: RNNScalar>(_ cell: Cell<Scalar>, version: Version, layer li: Int) throws
    -> ([String: JSONValue], [(String, Tensor<Scalar>)]) {
    func unsupported(_ f: String) -> RNNRefError { .unsupported(framework: "Keras", feature: "\(f) (layer \(li))") }
    func isZero(_ t: Tensor<Scalar>) -> Bool { t.scalars.allSatisfy { $0 == 0 } }
    func sum(_ a: Tensor<Scalar>, _ b: Tensor<Scalar>) -> Tensor<Scalar> {
      Tensor(uncheckedShape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 + $1 })
    }
    var cfg: [String: JSONValue] = [:]
    var w: [(String, Tensor<Scalar>)] = []
    switch cell {
    case .simple(let c):
      if c.activationClip != nil { throw unsupported("an activation clip") }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.activation, version: version, role: "activation"))
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias { w.append(("bias", sum(c.inputBias, c.recurrentBias))) }
    case .lstm(let c):
      if c.peepholes != nil { throw unsupported("LSTM peepholes") }
      if c.projection != nil { throw unsupported("an LSTM projection") }
      if c.cellClip != nil { throw unsupported("an LSTM cell clip") }
      if c.activationClip != nil { throw unsupported("an activation clip") }
      if c.coupledInputForget { throw unsupported("a coupled input-forget gate") }
      if c.forgetBias != 0 { throw unsupported("a run-time forget bias (fold it into the bias first)") }
      guard c.cellActivation == c.outputActivation else {
        throw unsupported("different cell-candidate and output activations (Keras uses `activation` for both)")
      }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.cellActivation, version: version, role: "activation"))
      cfg["recurrent_activation"] = .string(try activationName(c.gateActivation, version: version, role: "recurrent_activation"))
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      cfg["unit_forget_bias"] = .bool(true)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias { w.append(("bias", sum(c.inputBias, c.recurrentBias))) }
    case .gru(let c):
      if c.activationClip != nil { throw unsupported("an activation clip") }
      cfg["units"] = .number(Double(c.hiddenSize))
      cfg["activation"] = .string(try activationName(c.candidateActivation, version: version, role: "activation"))
      cfg["recurrent_activation"] = .string(try activationName(c.gateActivation, version: version, role: "recurrent_activation"))
      cfg["reset_after"] = .bool(c.resetAfter)
      let useBias = !(isZero(c.inputBias) && isZero(c.recurrentBias))
      cfg["use_bias"] = .bool(useBias)
      w = [("kernel", c.kernel), ("recurrent_kernel", c.recurrentKernel)]
      if useBias {
        if c.resetAfter {
          w.append(("bias", Tensor.concatenate([c.inputBias.reshaped([1, c.inputBias.count]),
                                                c.recurrentBias.reshaped([1, c.recurrentBias.count])], axis: 0)))
        } else {
          w.append(("bias", sum(c.inputBias, c.recurrentBias)))
        }
      }
    }
    return (cfg, w)
  }
}
