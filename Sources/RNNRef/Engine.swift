/// The sequence engine: runs canonical cells over time, per direction and
/// layer. Inputs and outputs are time-major: `x: (T, N, I) -> (T, N, F)`.
///
/// Per direction: the input projection of all steps is one product
/// `(T*N, I) x (I, G*H)` plus the folded biases; then each step is one product
/// `(N, Hout) x (Hout, G*H)` and the cell's element-wise math. All products go
/// through a `MatmulBackend` (`Matmul.default` unless one is passed).
///
/// Directions: forward processes t = 0 ..< T, reverse t = T-1 down to 0;
/// bidirectional runs `cells[0]` forward and `cells[1]` reverse. A masked step
/// (mask false) carries the state unchanged and outputs per `layer.padding`.
/// A reverse direction's outputs follow `layer.reverseOutputOrder`. The final
/// state of a direction is the state after its last processed valid step
/// (the initial state when none).
public enum Engine {
  /// Runs one layer. `initialStates`: one per direction (zeros when nil).
  /// `mask`: `(N, T)` valid steps; masked steps follow `layer.padding` and carry the state.
  /// `backend`: the matrix products (`Matmul.default` unless given).
  public static func run<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, mask: StepMask? = nil,
    initialStates: [LayerState<Scalar>]? = nil, backend: any MatmulBackend = Matmul.default
  ) throws -> LayerOutput<Scalar> {
    try runLayer(layer, input: x, mask: mask, initialStates: initialStates, backend: backend, name: "layer")
  }

  /// Runs a stack. `initialStates[layer][direction]`.
  public static func run<Scalar: RNNScalar>(
    _ network: Network<Scalar>, input x: Tensor<Scalar>, mask: StepMask? = nil,
    initialStates: [[LayerState<Scalar>]]? = nil, backend: any MatmulBackend = Matmul.default
  ) throws -> NetworkOutput<Scalar> {
    if let initialStates, initialStates.count != network.layers.count {
      throw RNNRefError.shapeMismatch(
        name: "initial states", actual: [initialStates.count], expected: [network.layers.count],
        reason: "pass one list of per-direction states per layer (or nil for zeros)")
    }
    try checkResiduals(network, inputFeatures: x.rank == 3 ? x.shape[2] : nil)
    var layers: [LayerOutput<Scalar>] = []
    var layerInputs: [Tensor<Scalar>] = []  // what each layer read, for residuals starting there
    var current = x
    for (k, layer) in network.layers.enumerated() {
      var out = try runLayer(layer, input: current, mask: mask, initialStates: initialStates?[k],
                             backend: backend, name: "layer \(k)")
      layerInputs.append(current)
      for r in network.residuals where r.to == k {
        addResidual(layerInputs[r.from], to: &out.merged, mask: mask)
      }
      layers.append(out)
      current = out.merged
    }
    return NetworkOutput(layers: layers)
  }

  /// Refuses residuals whose layers do not exist, run backwards, join unequal sizes or end at a
  /// layer whose masked steps repeat the previous output (no framework defines that sum).
  static func checkResiduals<Scalar>(_ network: Network<Scalar>, inputFeatures: Int?) throws {
    let L = network.layers.count
    for (i, r) in network.residuals.enumerated() {
      let key = "residuals[\(i)]"
      guard r.from >= 0, r.to < L, r.from <= r.to else {
        throw RNNRefError.invalidConfig(key: key, value: "from \(r.from) to \(r.to)",
                                        reason: "a residual runs from a layer's input to the output of the same or a later layer, 0 ..< \(L)")
      }
      let inSize = r.from == 0 ? (inputFeatures ?? network.layers[0].inputSize) : network.layers[r.from - 1].outputSize
      let outSize = network.layers[r.to].outputSize
      guard inSize == outSize else {
        throw RNNRefError.invalidConfig(
          key: key, value: "from \(r.from) to \(r.to)",
          reason: "the input of layer \(r.from) has \(inSize) features but the output of layer \(r.to) has \(outSize); a residual adds them")
      }
      guard network.layers[r.to].padding == .zeroOutput else {
        throw RNNRefError.invalidConfig(
          key: key, value: "from \(r.from) to \(r.to)",
          reason: "layer \(r.to) repeats the previous output at masked steps; a residual needs zero outputs there (PaddingPolicy.zeroOutput)")
      }
    }
  }

  /// `y += x` at valid steps (both `(T, N, F)`); masked steps keep `y`'s zeros.
  static func addResidual<S: RNNScalar>(_ x: Tensor<S>, to y: inout Tensor<S>, mask: StepMask?) {
    let T = y.shape[0], N = y.shape[1], F = y.shape[2]
    for t in 0..<T {
      for n in 0..<N where mask?[batch: n, step: t] ?? true {
        let base = (t * N + n) * F
        for f in 0..<F { y.scalars[base + f] += x.scalars[base + f] }
      }
    }
  }

  /// One step of one cell: `x: (N, I)`, `state.h: (N, Hout)`, `state.c: (N, H)`
  /// (LSTM; zeros when nil) -> the new state. Throws on a malformed cell or mismatched shapes.
  public static func step<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>, input x: Tensor<Scalar>, state: LayerState<Scalar>,
    backend: any MatmulBackend = Matmul.default
  ) throws -> LayerState<Scalar> {
    let prepared = try PreparedCell(rewritten(cell), name: "cell", backend: backend)
    guard x.rank == 2 && x.shape[1] == prepared.inputSize else {
      throw RNNRefError.shapeMismatch(name: "step input", actual: x.shape, expected: [-1, prepared.inputSize],
                                      reason: "one step takes (N, inputSize); -1 stands for any N")
    }
    let n = x.shape[0]
    guard state.h.shape == [n, prepared.outputSize] else {
      throw RNNRefError.shapeMismatch(name: "step state h", actual: state.h.shape, expected: [n, prepared.outputSize],
                                      reason: "h is (N, outputSize)")
    }
    if let c = state.c {
      guard prepared.hasCellState else {
        throw RNNRefError.shapeMismatch(name: "step state c", actual: c.shape, expected: [],
                                        reason: "only an LSTM has a cell state; pass c = nil")
      }
      guard c.shape == [n, prepared.hidden] else {
        throw RNNRefError.shapeMismatch(name: "step state c", actual: c.shape, expected: [n, prepared.hidden],
                                        reason: "c is (N, hiddenSize)")
      }
    }
    switch prepared {
    case .simple(let p): return step(p, x: x, state: state, backend: backend)
    case .lstm(let p): return step(p, x: x, state: state, backend: backend)
    case .gru(let p): return step(p, x: x, state: state, backend: backend)
    case .resetBeforeGRU(let p): return step(p, x: x, state: state, backend: backend)
    }
  }

  // MARK: - Implementation

  static func step<C: PreparedCellKind>(
    _ cell: C, x: Tensor<C.S>, state: LayerState<C.S>, backend: any MatmulBackend
  ) -> LayerState<C.S> {
    typealias S = C.S
    let n = x.shape[0], H = cell.hidden, Hout = cell.outputSize
    var pre = projectInputs(cell, x: x.scalars, rows: n, backend: backend)
    let ws = StepWorkspace(cell: cell, batch: n)
    var newH = [S](repeating: 0, count: n * Hout)
    var newC = [S](repeating: 0, count: cell.hasCellState ? n * H : 0)
    let c = cell.hasCellState ? (state.c?.scalars ?? [S](repeating: 0, count: n * H)) : []
    if n > 0 {
      pre.withUnsafeMutableBufferPointer { preP in
        state.h.scalars.withUnsafeBufferPointer { hP in
          c.withUnsafeBufferPointer { cP in
            newH.withUnsafeMutableBufferPointer { nh in
              newC.withUnsafeMutableBufferPointer { nc in
                if let pre = preP.baseAddress, let h = hP.baseAddress, let newH = nh.baseAddress {
                  cell.step(batch: n, pre: pre, h: h, c: cell.hasCellState ? cP.baseAddress : nil, newH: newH,
                            newC: cell.hasCellState ? nc.baseAddress : nil, workspace: ws, backend: backend)
                }
              }
            }
          }
        }
      }
    }
    return LayerState(h: Tensor(uncheckedShape: [n, Hout], scalars: newH),
                      c: cell.hasCellState ? Tensor(uncheckedShape: [n, H], scalars: newC) : nil)
  }

  /// `x (rows, I) W -> (rows, G*H)` (the folded bias is added per step, with the
  /// recurrent product: one pass instead of a fill pass over this T*N*G*H buffer).
  static func projectInputs<C: PreparedCellKind>(
    _ cell: C, x: [C.S], rows: Int, backend: any MatmulBackend
  ) -> [C.S] {
    let w = cell.width
    guard rows > 0, w > 0, cell.inputSize > 0 else { return [C.S](repeating: 0, count: rows * w) }
    // `multiply` with accumulate: false writes every element of C.
    return [C.S](unsafeUninitializedCapacity: rows * w) { buf, count in
      x.withUnsafeBufferPointer { xp in
        backend.multiply(m: rows, a: xp.baseAddress!, lda: cell.inputSize, b: cell.kernel, c: buf.baseAddress!,
                         ldc: w, accumulate: false)
      }
      count = rows * w
    }
  }

  /// Rows `firstRow ..< firstRow + rows` of `x (rows, I)` times W into `pre`'s first `rows` rows (the
  /// folded bias is added per step, with the recurrent product).
  static func projectInputs<C: PreparedCellKind>(
    _ cell: C, x: [C.S], firstRow: Int, rows: Int, into pre: inout [C.S], backend: any MatmulBackend
  ) {
    let w = cell.width, i = cell.inputSize
    guard rows > 0, w > 0 else { return }
    pre.withUnsafeMutableBufferPointer { pp in
      guard i > 0 else { pp.baseAddress!.update(repeating: 0, count: rows * w); return }
      x.withUnsafeBufferPointer { xp in
        backend.multiply(m: rows, a: xp.baseAddress! + firstRow * i, lda: i, b: cell.kernel, c: pp.baseAddress!,
                         ldc: w, accumulate: false)
      }
    }
  }

  /// Steps per input-projection block: about 256 KiB of pre-activations (L2-resident next to the
  /// recurrent weights), at least one step, and at least 64 rows per product (below that the
  /// product's tiles run short and a small batch's steps would each pay a call).
  static func projectionBlock(steps T: Int, batch N: Int, width W: Int, scalarSize: Int) -> Int {
    let stepBytes = Swift.max(1, N * W * scalarSize)
    let bySize = Swift.max(1, (256 << 10) / stepBytes), byRows = (64 + N - 1) / Swift.max(1, N)
    return Swift.max(1, Swift.min(T, Swift.max(bySize, byRows)))
  }

  /// Runs one layer; `name` prefixes error messages ("layer 2"). Goes through `Scalar._runEngineLayer`,
  /// which Float and Double implement with a concrete call to `layerBody`: the optimizer then
  /// specialises the whole cell math for them (a generic call from another module would otherwise
  /// run the unspecialised code, several times slower).
  static func runLayer<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, mask: StepMask? = nil,
    initialStates: [LayerState<Scalar>]? = nil, backend: any MatmulBackend = Matmul.default, name: String = "layer"
  ) throws -> LayerOutput<Scalar> {
    try Scalar._runEngineLayer(rewritten(layer), input: x, mask: mask, initialStates: initialStates, backend: backend,
                               name: name)
  }

  static func layerBody<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, mask: StepMask?,
    initialStates: [LayerState<Scalar>]?, backend: any MatmulBackend, name: String
  ) throws -> LayerOutput<Scalar> {
    guard x.rank == 3 else {
      throw RNNRefError.shapeMismatch(name: "\(name) input", actual: x.shape, expected: [-1, -1, layer.inputSize],
                                      reason: "the engine takes time-major input (T, N, I) with I = \(layer.inputSize); -1 stands for any size")
    }
    let T = x.shape[0], N = x.shape[1]
    let directions = layer.direction == .bidirectional ? 2 : 1
    guard layer.cells.count == directions else {
      throw RNNRefError.invalidConfig(key: "\(name) cells", value: "\(layer.cells.count)",
                                      reason: "a \(layer.direction) layer needs \(directions) cell(s)")
    }
    let dirNames = directions == 2 ? ["forward cell", "backward cell"]
      : [layer.direction == .reverse ? "reverse cell" : "forward cell"]
    var cells: [PreparedCell<Scalar>] = []
    for (d, cell) in layer.cells.enumerated() {
      let pc = try PreparedCell(cell, name: "\(name) \(dirNames[d])", backend: backend)
      guard pc.inputSize == x.shape[2] else {
        throw RNNRefError.shapeMismatch(
          name: "\(name) input", actual: x.shape, expected: [T, N, pc.inputSize],
          reason: "the \(dirNames[d]) has inputSize \(pc.inputSize) but the input has \(x.shape[2]) features")
      }
      cells.append(pc)
    }
    if directions == 2 && cells[0].outputSize != cells[1].outputSize && layer.merge != .concat && layer.merge != .none {
      throw RNNRefError.invalidConfig(
        key: "\(name) merge", value: layer.merge.rawValue,
        reason: "the directions' output sizes differ (\(cells[0].outputSize) vs \(cells[1].outputSize)); only concat or none can merge them")
    }
    if let mask {
      guard mask.batch == N, mask.steps == T else {
        throw RNNRefError.shapeMismatch(name: "\(name) mask", actual: [mask.batch, mask.steps], expected: [N, T],
                                        reason: "the mask is (N, T) for input (T, N, I) = \(x.shape)")
      }
    }
    if let initialStates {
      guard initialStates.count == directions else {
        throw RNNRefError.shapeMismatch(name: "\(name) initial states", actual: [initialStates.count],
                                        expected: [directions],
                                        reason: "pass one state per direction of a \(layer.direction) layer")
      }
      for (d, s) in initialStates.enumerated() {
        let pc = cells[d]
        guard s.h.shape == [N, pc.outputSize] else {
          throw RNNRefError.shapeMismatch(name: "\(name) \(dirNames[d]) initial h", actual: s.h.shape,
                                          expected: [N, pc.outputSize], reason: "h is (N, outputSize)")
        }
        if let c = s.c {
          guard pc.hasCellState else {
            throw RNNRefError.shapeMismatch(name: "\(name) \(dirNames[d]) initial c", actual: c.shape, expected: [],
                                            reason: "only an LSTM has a cell state; pass c = nil")
          }
          guard c.shape == [N, pc.hidden] else {
            throw RNNRefError.shapeMismatch(name: "\(name) \(dirNames[d]) initial c", actual: c.shape,
                                            expected: [N, pc.hidden], reason: "c is (N, hiddenSize)")
          }
        }
      }
    }

    let results = DirectionResults<Scalar>(directions)
    let prepared = cells
    let run: @Sendable (Int) -> Void = { d in
      let reversed = layer.direction == .reverse || d == 1
      results.set(d, runDirection(
        prepared[d], x: x, T: T, N: N, reversed: reversed,
        timeReversedOutput: reversed && layer.reverseOutputOrder == .timeReversed,
        mask: mask, padding: layer.padding, initial: initialStates?[d], backend: backend))
    }
    if directions == 2 {
      // The two directions are independent: the backend's workers run them at once when the layer's
      // work warrants two workers (each direction's own products then split no further on a 2-core
      // machine: Dispatch narrows a nested concurrentPerform to the cores left), else one after the
      // other on this thread. No hand-off between them until the layer ends.
      var work = 0
      for cell in prepared {
        let perRow: Int = cell.width * (cell.inputSize + cell.outputSize)
        work += T * N * perRow
      }
      backend.forEachSlice(of: 2, multiplyAdds: work) { slice in
        for d in slice { run(d) }
      }
    } else {
      run(0)
    }
    let outputs = results.outputs, finals = results.finals
    let merged = directions == 1 ? outputs[0] : layer.merge.merge(fw: outputs[0], bw: outputs[1])
    return LayerOutput(directionOutputs: outputs, merged: merged, finalStates: finals)
  }

  /// What the directions of one layer leave, each written by the worker that ran it.
  /// Raw slots (no array shared between threads): each direction writes its own slot once, and the
  /// slots are read after every worker is done.
  final class DirectionResults<S: RNNScalar>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<(Tensor<S>, LayerState<S>)?>
    private let count: Int
    init(_ n: Int) {
      count = n
      slots = .allocate(capacity: n)
      slots.initialize(repeating: nil, count: n)
    }
    deinit {
      slots.deinitialize(count: count)
      slots.deallocate()
    }
    func set(_ d: Int, _ r: (Tensor<S>, LayerState<S>)) { slots[d] = r }
    var outputs: [Tensor<S>] { (0..<count).map { slots[$0]!.0 } }
    var finals: [LayerState<S>] { (0..<count).map { slots[$0]!.1 } }
  }

  /// One direction over all steps, for the cell's kind. Returns `(T, N, Hout)` and the final state.
  static func runDirection<S: RNNScalar>(
    _ cell: PreparedCell<S>, x: Tensor<S>, T: Int, N: Int, reversed: Bool, timeReversedOutput: Bool,
    mask: StepMask?, padding: PaddingPolicy, initial: LayerState<S>?, backend: any MatmulBackend
  ) -> (Tensor<S>, LayerState<S>) {
    switch cell {
    case .simple(let c):
      runDirection(c, x: x, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput, mask: mask,
                   padding: padding, initial: initial, backend: backend)
    case .lstm(let c):
      runDirection(c, x: x, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput, mask: mask,
                   padding: padding, initial: initial, backend: backend)
    case .gru(let c):
      runDirection(c, x: x, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput, mask: mask,
                   padding: padding, initial: initial, backend: backend)
    case .resetBeforeGRU(let c):
      runDirection(c, x: x, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput, mask: mask,
                   padding: padding, initial: initial, backend: backend)
    }
  }

  static func runDirection<C: PreparedCellKind>(
    _ cell: C, x: Tensor<C.S>, T: Int, N: Int, reversed: Bool, timeReversedOutput: Bool,
    mask: StepMask?, padding: PaddingPolicy, initial: LayerState<C.S>?, backend: any MatmulBackend
  ) -> (Tensor<C.S>, LayerState<C.S>) {
    typealias S = C.S
    let H = cell.hidden, Hout = cell.outputSize, W = cell.width
    var h = initial?.h.scalars ?? [S](repeating: 0, count: N * Hout)
    var c = cell.hasCellState ? (initial?.c?.scalars ?? [S](repeating: 0, count: N * H)) : []
    var out = [S](repeating: 0, count: T * N * Hout)
    if T > 0 && N > 0 {
      // The input projection in blocks of steps, each computed just before its steps run, into one
      // reused buffer that stays in cache (not the whole sequence's T*N*G*H pre-activations at once,
      // written to memory and read back a step at a time). Each element is the same sum in the same
      // order whatever rows a product has, so the bits are those of one whole product.
      let block = projectionBlock(steps: T, batch: N, width: W, scalarSize: MemoryLayout<S>.stride)
      // every row a step reads is written by `projectInputs` first (its product overwrites, or zeros when I = 0)
      var pre = [S](unsafeUninitializedCapacity: block * N * W) { _, count in count = block * N * W }
      var blockStart = 0  // the lowest t of the block in `pre`
      let ws = StepWorkspace(cell: cell, batch: N)
      var newH = [S](repeating: 0, count: N * Hout)
      var newC = [S](repeating: 0, count: c.count)
      var prevOut = [S](repeating: 0, count: N * Hout)
      for k in 0..<T {
        if k % block == 0 {
          let steps = Swift.min(block, T - k)
          blockStart = reversed ? T - k - steps : k
          projectInputs(cell, x: x.scalars, firstRow: blockStart * N, rows: steps * N, into: &pre, backend: backend)
        }
        let t = reversed ? T - 1 - k : k
        let slot = timeReversedOutput ? k : t
        pre.withUnsafeMutableBufferPointer { preP in
          h.withUnsafeBufferPointer { hP in
            c.withUnsafeBufferPointer { cP in
              newH.withUnsafeMutableBufferPointer { nh in
                newC.withUnsafeMutableBufferPointer { nc in
                  cell.step(batch: N, pre: preP.baseAddress! + (t - blockStart) * N * W, h: hP.baseAddress!,
                            c: cell.hasCellState ? cP.baseAddress : nil, newH: nh.baseAddress!,
                            newC: cell.hasCellState ? nc.baseAddress : nil,
                            workspace: ws, backend: backend)
                }
              }
            }
          }
        }
        let outBase = slot * N * Hout
        if let mask {
          for n in 0..<N {
            let rowH = n * Hout
            if mask[batch: n, step: t] {
              for j in 0..<Hout {
                h[rowH + j] = newH[rowH + j]
                out[outBase + rowH + j] = newH[rowH + j]
                prevOut[rowH + j] = newH[rowH + j]
              }
              if cell.hasCellState {
                for j in 0..<H { c[n * H + j] = newC[n * H + j] }
              }
            } else if padding == .repeatPreviousOutput {
              for j in 0..<Hout { out[outBase + rowH + j] = prevOut[rowH + j] }
            }  // .zeroOutput: already zero
          }
        } else {
          swap(&h, &newH)
          if cell.hasCellState { swap(&c, &newC) }
          out.withUnsafeMutableBufferPointer { o in
            h.withUnsafeBufferPointer { hp in
              (o.baseAddress! + outBase).update(from: hp.baseAddress!, count: N * Hout)
            }
          }
        }
      }
    }
    let final = LayerState(h: Tensor(uncheckedShape: [N, Hout], scalars: h),
                           c: cell.hasCellState ? Tensor(uncheckedShape: [N, H], scalars: c) : nil)
    return (Tensor(uncheckedShape: [T, N, Hout], scalars: out), final)
  }
}

extension MergeMode {
  /// A bidirectional layer's two directions joined along the last axis: `fw` then `bw` for `.concat`
  /// and `.none` (the engine's `merged` for `.none` is what a next layer reads), element-wise
  /// `fw + bw`, `fw * bw`, `(fw + bw) / 2` for `.sum`, `.mul`, `.ave` (same shapes required; the
  /// engine checks the directions' output sizes before). Works on any rank: `(T, N, H)` sequences
  /// or `(N, H)` last steps.
  func merge<S: RNNScalar>(fw: Tensor<S>, bw: Tensor<S>) -> Tensor<S> {
    switch self {
    case .concat, .none:
      return Tensor.concatenate([fw, bw], axis: max(fw.rank - 1, 0))
    case .sum, .mul, .ave:
      precondition(fw.shape == bw.shape, "MergeMode.\(self): directions' shapes \(fw.shape) and \(bw.shape) differ")
      let combine: (S, S) -> S
      switch self {
      case .sum: combine = { $0 + $1 }
      case .mul: combine = { $0 * $1 }
      default: combine = { ($0 + $1) / 2 }
      }
      return Tensor(uncheckedShape: fw.shape, scalars: zip(fw.scalars, bw.scalars).map(combine))
    }
  }
}

/// The engine's layer loop compiled for Float and Double: concrete calls, so the optimizer
/// specialises `Engine.layerBody` and the cell math under it for each (see `Engine.runLayer`).
extension Float {
  public static func _runEngineLayer(
    _ layer: RecurrentLayer<Float>, input x: Tensor<Float>, mask: StepMask?,
    initialStates: [LayerState<Float>]?, backend: any MatmulBackend, name: String
  ) throws -> LayerOutput<Float> {
    try Engine.layerBody(layer, input: x, mask: mask, initialStates: initialStates, backend: backend, name: name)
  }
}

extension Double {
  public static func _runEngineLayer(
    _ layer: RecurrentLayer<Double>, input x: Tensor<Double>, mask: StepMask?,
    initialStates: [LayerState<Double>]?, backend: any MatmulBackend, name: String
  ) throws -> LayerOutput<Double> {
    try Engine.layerBody(layer, input: x, mask: mask, initialStates: initialStates, backend: backend, name: name)
  }
}

extension RNNScalar {
  /// Other conformers run the generic (unspecialised) layer loop.
  public static func _runEngineLayer(
    _ layer: RecurrentLayer<Self>, input x: Tensor<Self>, mask: StepMask?,
    initialStates: [LayerState<Self>]?, backend: any MatmulBackend, name: String
  ) throws -> LayerOutput<Self> {
    try Engine.layerBody(layer, input: x, mask: mask, initialStates: initialStates, backend: backend, name: name)
  }
}
