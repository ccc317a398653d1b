/// The canonical cells' math (see the doc comments of `SimpleRNNCell`,
/// `LSTMCell`, `GRUCell` in Canonical.swift), on gate-packed buffers.
///
/// A cell is prepared once per run: weights handed to the matmul backend,
/// biases folded where the math allows (everything that is added outside a
/// product of the recurrent state with a reset gate goes into the folded bias,
/// added to the input projection `x W` in each step). Each kind of cell is its own
/// type with its own step; `PreparedCell` holds one of them.

/// What the engine asks of a prepared cell: sizes, the input kernel and one step.
protocol PreparedCellKind<S>: Sendable {
  associatedtype S: RNNScalar
  var inputSize: Int { get }
  /// H.
  var hidden: Int { get }
  /// Hout: the size of `h` (the projection size of a projected LSTM, else H).
  var outputSize: Int { get }
  /// G*H: width of the gate-packed pre-activations.
  var width: Int { get }
  /// `(I, G*H)`.
  var kernel: PreparedMatrix<S> { get }
  /// An LSTM carries `c (N, H)`.
  var hasCellState: Bool { get }

  /// One step for all N rows: `pre (N, G*H)` (x W, row stride `width`; the folded bias is
  /// added here), state `h (N, Hout)`, `c (N, H)` (LSTM; nil otherwise) -> `newH`, `newC`.
  /// `pre` is used as scratch (the gate pre-activations are summed and activated in place).
  /// Recurrent products go to the workspace, which stays in cache (not accumulated into
  /// `pre`, whose rows are cold: that costs ~20% of the product).
  func step(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend)
}

/// A cell ready to run: validated shapes, prepared weights, folded biases; one case per kind.
enum PreparedCell<S: RNNScalar> {
  case simple(PreparedSimpleRNN<S>)
  case lstm(PreparedLSTM<S>)
  /// Reset-after GRU (PyTorch, cuDNN, Keras `reset_after=True`, ONNX `linear_before_reset=1`).
  case gru(PreparedGRU<S>)
  /// Reset-before GRU (TF1 `GRUCell`, Keras `reset_after=False`, ONNX default).
  case resetBeforeGRU(PreparedResetBeforeGRU<S>)

  /// Validates the cell's tensors against its sizes; `name` prefixes error messages
  /// (e.g. "layer 0 backward cell").
  init(_ cell: Cell<S>, name: String, backend: any MatmulBackend) throws {
    func check(_ t: Tensor<S>, _ what: String, _ expected: [Int], _ reason: String) throws {
      if t.shape != expected {
        throw RNNRefError.shapeMismatch(name: "\(name) \(what)", actual: t.shape, expected: expected, reason: reason)
      }
    }
    func clip(_ v: Double?) -> S? { v.map { S($0) } }
    func folded(_ a: Tensor<S>, _ b: Tensor<S>) -> [S] { zip(a.scalars, b.scalars).map { $0 + $1 } }
    switch cell {
    case .simple(let c):
      let i = c.inputSize, h = c.hiddenSize
      try check(c.kernel, "kernel", [i, h], "canonical simple RNN kernel is (inputSize, hiddenSize)")
      try check(c.recurrentKernel, "recurrentKernel", [h, h], "(hiddenSize, hiddenSize)")
      try check(c.inputBias, "inputBias", [h], "(hiddenSize)")
      try check(c.recurrentBias, "recurrentBias", [h], "(hiddenSize)")
      self = .simple(PreparedSimpleRNN(
        inputSize: i, hidden: h, kernel: backend.prepare(c.kernel),
        bias: ConstantScalars(folded(c.inputBias, c.recurrentBias)), recurrent: backend.prepare(c.recurrentKernel),
        activation: c.activation, activationClip: clip(c.activationClip)))

    case .lstm(let c):
      let i = c.inputSize, h = c.hiddenSize
      var hout = h
      if let p = c.projection {
        guard p.rank == 2, p.shape[0] == h, p.shape[1] > 0 else {
          throw RNNRefError.shapeMismatch(name: "\(name) projection", actual: p.shape, expected: [h, p.shape.last ?? 0],
                                          reason: "canonical LSTM projection is (hiddenSize, projectionSize)")
        }
        hout = p.shape[1]
      }
      try check(c.kernel, "kernel", [i, 4 * h], "canonical LSTM kernel is (inputSize, 4*hiddenSize), gates i, f, g, o")
      try check(c.recurrentKernel, "recurrentKernel", [hout, 4 * h],
                "canonical LSTM recurrent kernel is (outputSize, 4*hiddenSize), outputSize = projection size or hiddenSize")
      try check(c.inputBias, "inputBias", [4 * h], "(4*hiddenSize)")
      try check(c.recurrentBias, "recurrentBias", [4 * h], "(4*hiddenSize)")
      if let p = c.peepholes {
        try check(p.i, "peephole i", [h], "(hiddenSize)")
        try check(p.f, "peephole f", [h], "(hiddenSize)")
        try check(p.o, "peephole o", [h], "(hiddenSize)")
      }
      var bias = folded(c.inputBias, c.recurrentBias)
      if c.forgetBias != 0 && !c.coupledInputForget {
        let fb = S(c.forgetBias)
        for j in h..<(2 * h) { bias[j] += fb }
      }
      self = .lstm(PreparedLSTM(
        inputSize: i, hidden: h, outputSize: hout, kernel: backend.prepare(c.kernel), bias: ConstantScalars(bias),
        recurrent: backend.prepare(c.recurrentKernel), projection: c.projection.map { backend.prepare($0) },
        peepholes: c.peepholes.map { ConstantScalars($0.i.scalars + $0.f.scalars + $0.o.scalars) },
        coupledInputForget: c.coupledInputForget, activationClip: clip(c.activationClip),
        cellClip: clip(c.cellClip), projectionClip: clip(c.projectionClip),
        gateActivation: c.gateActivation, cellActivation: c.cellActivation, outputActivation: c.outputActivation))

    case .gru(let c):
      let i = c.inputSize, h = c.hiddenSize
      try check(c.kernel, "kernel", [i, 3 * h], "canonical GRU kernel is (inputSize, 3*hiddenSize), gates z, r, n")
      try check(c.recurrentKernel, "recurrentKernel", [h, 3 * h], "(hiddenSize, 3*hiddenSize), gates z, r, n")
      try check(c.inputBias, "inputBias", [3 * h], "(3*hiddenSize)")
      try check(c.recurrentBias, "recurrentBias", [3 * h], "(3*hiddenSize)")
      var bias = folded(c.inputBias, c.recurrentBias)
      if c.resetAfter {
        // b_Un stays inside r * (h Un + b_Un).
        for j in (2 * h)..<(3 * h) { bias[j] = c.inputBias.scalars[j] }
        self = .gru(PreparedGRU(
          inputSize: i, hidden: h, kernel: backend.prepare(c.kernel), bias: ConstantScalars(bias),
          recurrent: backend.prepare(c.recurrentKernel),
          recurrentBiasN: ConstantScalars(Array(c.recurrentBias.scalars[(2 * h)..<(3 * h)])),
          activationClip: clip(c.activationClip), gateActivation: c.gateActivation,
          candidateActivation: c.candidateActivation))
      } else {
        let blocks = c.recurrentKernel.split(3, axis: 1)
        self = .resetBeforeGRU(PreparedResetBeforeGRU(
          inputSize: i, hidden: h, kernel: backend.prepare(c.kernel), bias: ConstantScalars(bias),
          recurrentZR: backend.prepare(Tensor.concatenate([blocks[0], blocks[1]], axis: 1)),
          recurrentN: backend.prepare(blocks[2]), activationClip: clip(c.activationClip),
          gateActivation: c.gateActivation, candidateActivation: c.candidateActivation))
      }
    }
  }

  var inputSize: Int {
    switch self {
    case .simple(let c): c.inputSize
    case .lstm(let c): c.inputSize
    case .gru(let c): c.inputSize
    case .resetBeforeGRU(let c): c.inputSize
    }
  }
  var hidden: Int {
    switch self {
    case .simple(let c): c.hidden
    case .lstm(let c): c.hidden
    case .gru(let c): c.hidden
    case .resetBeforeGRU(let c): c.hidden
    }
  }
  var outputSize: Int {
    switch self {
    case .simple(let c): c.outputSize
    case .lstm(let c): c.outputSize
    case .gru(let c): c.outputSize
    case .resetBeforeGRU(let c): c.outputSize
    }
  }
  /// G*H.
  var width: Int {
    switch self {
    case .simple(let c): c.width
    case .lstm(let c): c.width
    case .gru(let c): c.width
    case .resetBeforeGRU(let c): c.width
    }
  }
  var hasCellState: Bool { if case .lstm = self { true } else { false } }
}

/// Constant vectors (folded biases, peepholes) in raw memory that every step worker reads (no array
/// borrowed across threads); written once in `init`.
final class ConstantScalars<S: RNNScalar>: @unchecked Sendable {
  let base: UnsafeMutablePointer<S>
  let count: Int

  init(_ values: [S]) {
    count = values.count
    base = .allocate(capacity: max(1, count))
    base.initialize(repeating: 0, count: max(1, count))
    for (j, v) in values.enumerated() { base[j] = v }
  }

  deinit { base.deallocate() }
}

/// Scratch buffers for one direction's steps, sized for a batch of N. Raw
/// buffers (not arrays borrowed through nested closures): the step loop touches
/// them every step.
final class StepWorkspace<S: RNNScalar>: @unchecked Sendable {
  /// `(N, G*H)`: recurrent products.
  let recurrent: UnsafeMutablePointer<S>
  /// `(N, H)`: LSTM `o * h(c')` before the projection; reset-before GRU `r * h`.
  let temp: UnsafeMutablePointer<S>
  let recurrentCount: Int, tempCount: Int

  init<C: PreparedCellKind<S>>(cell: C, batch n: Int) {
    recurrentCount = max(1, n * cell.width)
    tempCount = max(1, n * cell.hidden)
    recurrent = .allocate(capacity: recurrentCount)
    recurrent.initialize(repeating: 0, count: recurrentCount)
    temp = .allocate(capacity: tempCount)
    temp.initialize(repeating: 0, count: tempCount)
  }

  deinit {
    recurrent.deallocate()
    temp.deallocate()
  }
}

// MARK: - Simple RNN

/// `h' = act(x W + b + h U)`.
struct PreparedSimpleRNN<S: RNNScalar>: PreparedCellKind {
  let inputSize: Int
  let hidden: Int
  let kernel: PreparedMatrix<S>
  /// `(H)`: input bias + recurrent bias.
  let bias: ConstantScalars<S>
  /// `(H, H)`.
  let recurrent: PreparedMatrix<S>
  let activation: Activation
  let activationClip: S?
  /// Who computes sigmoid and tanh (`ActivationKernel.default` when the cell was prepared).
  var activationKernel: ActivationKernel = ActivationKernel.default

  var outputSize: Int { hidden }
  var width: Int { hidden }
  var hasCellState: Bool { false }

  func step(
    batch n: Int, pre g: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend
  ) {
    let H = hidden, rec = ws.recurrent, b = bias.base
    backend.multiply(m: n, a: h, lda: H, b: recurrent, c: rec, ldc: H, accumulate: false)
    for r in 0..<n {
      let gr = g + r * H, rr = rec + r * H
      for j in 0..<H { gr[j] = gr[j] + b[j] + rr[j] }
    }
    activation.apply(g, count: n * H, clip: activationClip, kernel: activationKernel)
    newH.update(from: g, count: n * H)
  }
}

// MARK: - Reset-before GRU

/// `z, r = f(x W + b + h U)`, `n = g(x Wn + b + (r * h) Un)` (b_Un folded into b),
/// `h' = z * h + (1 - z) * n`.
struct PreparedResetBeforeGRU<S: RNNScalar>: PreparedCellKind {
  let inputSize: Int
  let hidden: Int
  let kernel: PreparedMatrix<S>
  /// `(3H)`: input bias + recurrent bias.
  let bias: ConstantScalars<S>
  /// The z, r blocks of the recurrent kernel, `(H, 2H)`.
  let recurrentZR: PreparedMatrix<S>
  /// The n block, `(H, H)`.
  let recurrentN: PreparedMatrix<S>
  let activationClip: S?
  /// Who computes sigmoid and tanh (`ActivationKernel.default` when the cell was prepared).
  var activationKernel: ActivationKernel = ActivationKernel.default
  let gateActivation: Activation
  let candidateActivation: Activation

  var outputSize: Int { hidden }
  var width: Int { 3 * hidden }
  var hasCellState: Bool { false }

  /// Two phases, each split by hidden unit over the backend's workers (two hand-offs per step: the
  /// candidate's product needs all of `r * h`): (1) each worker computes its units' columns of `h Uz`,
  /// `h Ur`, then z, r and `r * h` for those units; (2) its units' columns of `(r * h) Un`, then n and
  /// h'. Each element gets the same operations in the same order whatever the split, so any number of
  /// workers gives the bits of one pass. When H is not a multiple of the column granularity: whole
  /// products and one pass per phase.
  func step(
    batch n: Int, pre g: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend
  ) {
    let H = hidden
    let granule = Swift.max(recurrentZR.columnGranularity, recurrentN.columnGranularity)
    let buffers = StepBuffers(pre: g, h: h, c: nil, newH: newH, newC: nil)
    guard n > 0, H > 0, H % recurrentZR.columnGranularity == 0, H % recurrentN.columnGranularity == 0,
          H % granule == 0 else {
      backend.multiply(m: n, a: h, lda: H, b: recurrentZR, c: ws.recurrent, ldc: 2 * H, accumulate: false)
      gatesSlice(batch: n, units: 0..<H, buffers, ws)
      backend.multiply(m: n, a: ws.temp, lda: H, b: recurrentN, c: ws.recurrent, ldc: H, accumulate: false)
      candidateSlice(batch: n, units: 0..<H, buffers, ws)
      return
    }
    let parts = H / granule
    backend.forEachSlice(of: parts, multiplyAdds: n * H * 2 * H) { slice in
      let j0 = slice.lowerBound * granule, j1 = slice.upperBound * granule
      if slice.count == parts {
        backend.multiply(m: n, a: buffers.h, lda: H, b: recurrentZR, columns: 0..<(2 * H), c: ws.recurrent,
                         ldc: 2 * H, accumulate: false)
      } else {
        for q in 0..<2 {
          backend.multiply(m: n, a: buffers.h, lda: H, b: recurrentZR, columns: (q * H + j0)..<(q * H + j1),
                           c: ws.recurrent, ldc: 2 * H, accumulate: false)
        }
      }
      gatesSlice(batch: n, units: j0..<j1, buffers, ws)
    }
    // (r*h) Un into the workspace (z, r no longer need it)
    backend.forEachSlice(of: parts, multiplyAdds: n * H * H) { slice in
      let j0 = slice.lowerBound * granule, j1 = slice.upperBound * granule
      backend.multiply(m: n, a: ws.temp, lda: H, b: recurrentN, columns: j0..<j1, c: ws.recurrent, ldc: H,
                       accumulate: false)
      candidateSlice(batch: n, units: j0..<j1, buffers, ws)
    }
  }

  /// Units `units` of all rows: z, r from `pre + b + h Uz,r` (`ws.recurrent (N, 2H)`), and `r * h`
  /// into `ws.temp`.
  func gatesSlice(batch n: Int, units: Range<Int>, _ buf: StepBuffers<S>, _ ws: StepWorkspace<S>) {
    let H = hidden, W = width, j0 = units.lowerBound, L = units.count
    if L <= 0 { return }
    for r in 0..<n {
      let g0 = buf.pre + r * W + j0, r0 = ws.recurrent + r * 2 * H + j0, b0 = bias.base + j0
      for q in 0..<2 {
        let gq = g0 + q * H, rq = r0 + q * H, bq = b0 + q * H
        for j in 0..<L { gq[j] = gq[j] + bq[j] + rq[j] }
      }
      let gz = g0, gr = g0 + H
      gateActivation.apply(gz, count: L, clip: activationClip, kernel: activationKernel)
      gateActivation.apply(gr, count: L, clip: activationClip, kernel: activationKernel)
      let hRow = buf.h + r * H + j0, rhRow = ws.temp + r * H + j0
      for j in 0..<L { rhRow[j] = gr[j] * hRow[j] }
    }
  }

  /// Units `units` of all rows: n from `pre + b + (r * h) Un` (`ws.recurrent (N, H)`), then h'.
  func candidateSlice(batch n: Int, units: Range<Int>, _ buf: StepBuffers<S>, _ ws: StepWorkspace<S>) {
    let H = hidden, W = width, j0 = units.lowerBound, L = units.count
    if L <= 0 { return }
    for r in 0..<n {
      let gz = buf.pre + r * W + j0, gn = gz + 2 * H, rn = ws.recurrent + r * H + j0, bn = bias.base + 2 * H + j0
      for j in 0..<L { gn[j] = gn[j] + bn[j] + rn[j] }
      candidateActivation.apply(gn, count: L, clip: activationClip, kernel: activationKernel)
      let hRow = buf.h + r * H + j0, out = buf.newH + r * H + j0
      for j in 0..<L { out[j] = gz[j] * hRow[j] + (1 - gz[j]) * gn[j] }
    }
  }
}

// MARK: - Cells whose step splits by hidden unit (LSTM, reset-after GRU)

/// A cell whose every gate block adds its whole recurrent product `h U`, so the element-wise math of
/// hidden unit j needs only column j of each gate block: the step runs per slice of hidden units,
/// and slices run on the backend's workers (`recurrentStep`).
protocol UnitSlicedCell: PreparedCellKind {
  /// G: gate blocks of H columns in `recurrent`.
  var gates: Int { get }
  /// `(Hout, G*H)`.
  var recurrent: PreparedMatrix<S> { get }
  /// The element-wise math for hidden units `units` of all `n` rows, after `ws.recurrent (N, G*H)`
  /// holds `h U` in those units' columns of every gate block. Each element gets the same operations in
  /// the same order whatever the slice, so slices give the same bits as one pass over all units.
  func stepSlice(
    batch n: Int, units: Range<Int>, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>)
}

/// What the step workers share: the step's buffers. The workers write disjoint hidden-unit slices
/// (columns of every gate block of `pre` and of the workspace, of `c'`, `h'` and `temp`).
struct StepBuffers<S: RNNScalar>: @unchecked Sendable {
  let pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?
  let newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?
}

extension UnitSlicedCell {
  /// The recurrent product and the element-wise math, fused: the backend splits the hidden units (in
  /// granules of the recurrent matrix's column granularity) over its workers; each computes the
  /// product's columns for its units in every gate block, then those units' math. One hand-off per
  /// step, and the cell math runs on all workers. Same sums in the same order as one product and one
  /// pass over all units. When H is not a multiple of the granularity: the whole product (threaded as
  /// the backend likes), then one pass.
  func recurrentStep(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>,
    backend: any MatmulBackend
  ) {
    let H = hidden, W = width, Hout = outputSize, G = gates
    let granule = recurrent.columnGranularity
    guard n > 0, H > 0, H % granule == 0 else {
      backend.multiply(m: n, a: h, lda: Hout, b: recurrent, c: ws.recurrent, ldc: W, accumulate: false)
      stepSlice(batch: n, units: 0..<H, pre: pre, h: h, c: c, newH: newH, newC: newC, workspace: ws)
      return
    }
    let parts = H / granule
    let buffers = StepBuffers(pre: pre, h: h, c: c, newH: newH, newC: newC)
    backend.forEachSlice(of: parts, multiplyAdds: n * Hout * W) { slice in
      let j0 = slice.lowerBound * granule, j1 = slice.upperBound * granule
      if slice.count == parts {
        backend.multiply(m: n, a: buffers.h, lda: Hout, b: recurrent, columns: 0..<W, c: ws.recurrent, ldc: W,
                         accumulate: false)
      } else {
        for q in 0..<G {
          backend.multiply(m: n, a: buffers.h, lda: Hout, b: recurrent, columns: (q * H + j0)..<(q * H + j1),
                           c: ws.recurrent, ldc: W, accumulate: false)
        }
      }
      stepSlice(batch: n, units: j0..<j1, pre: buffers.pre, h: buffers.h, c: buffers.c, newH: buffers.newH,
                newC: buffers.newC, workspace: ws)
    }
  }
}

// MARK: - LSTM

/// Gates i, f, g, o; optional peepholes, coupled input-forget, clips and projection (see `LSTMCell`).
struct PreparedLSTM<S: RNNScalar>: UnitSlicedCell {
  let inputSize: Int
  let hidden: Int
  let outputSize: Int
  let kernel: PreparedMatrix<S>
  /// `(4H)`: input bias + recurrent bias + forget bias.
  let bias: ConstantScalars<S>
  /// `(Hout, 4H)`.
  let recurrent: PreparedMatrix<S>
  /// `(H, P)`.
  let projection: PreparedMatrix<S>?
  /// `(3, H)`: i, f, o.
  let peepholes: ConstantScalars<S>?
  let coupledInputForget: Bool
  let activationClip: S?
  /// Who computes sigmoid and tanh (`ActivationKernel.default` when the cell was prepared).
  var activationKernel: ActivationKernel = ActivationKernel.default
  let cellClip: S?
  let projectionClip: S?
  /// f (gates i, f, o), g (candidate), h (applied to c').
  let gateActivation: Activation, cellActivation: Activation, outputActivation: Activation

  var width: Int { 4 * hidden }
  var gates: Int { 4 }
  var hasCellState: Bool { true }

  func step(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend
  ) {
    recurrentStep(batch: n, pre: pre, h: h, c: c, newH: newH, newC: newC, workspace: ws, backend: backend)
    if let projection {
      let P = outputSize
      backend.multiply(m: n, a: ws.temp, lda: hidden, b: projection, c: newH, ldc: P, accumulate: false)
      if let pc = projectionClip {
        for j in 0..<(n * P) { newH[j] = Swift.min(Swift.max(newH[j], -pc), pc) }
      }
    }
  }

  /// Adds the folded bias and the recurrent product to `pre`, activates in place, writes `newC`,
  /// `ws.temp` (`o * h(c')`, the projection's input) and, unless the cell projects, `newH`.
  func stepSlice(
    batch n: Int, units: Range<Int>, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>
  ) {
    let H = hidden, W = width, j0 = units.lowerBound, L = units.count
    if L <= 0 { return }
    guard let c, let newC else { return }  // the engine always passes the cell state of an LSTM
    let fAct = gateActivation, gAct = cellActivation, hAct = outputActivation
    for r in 0..<n {
      let g0 = pre + r * W + j0, r0 = ws.recurrent + r * W + j0, b0 = bias.base + j0
      for q in 0..<4 {
        let gq = g0 + q * H, rq = r0 + q * H, bq = b0 + q * H
        for j in 0..<L { gq[j] = gq[j] + bq[j] + rq[j] }
      }
      let gi = g0, gf = g0 + H, gg = g0 + 2 * H, go = g0 + 3 * H
      let cPrev = c + r * H + j0, cNew = newC + r * H + j0, mRow = ws.temp + r * H + j0
      if let peepholes {
        let pI = peepholes.base + j0, pF = pI + H
        for j in 0..<L {
          gi[j] += pI[j] * cPrev[j]
          gf[j] += pF[j] * cPrev[j]
        }
      }
      fAct.apply(gi, count: L, clip: activationClip, kernel: activationKernel)
      if coupledInputForget {
        for j in 0..<L { gf[j] = 1 - gi[j] }
      } else {
        fAct.apply(gf, count: L, clip: activationClip, kernel: activationKernel)
      }
      gAct.apply(gg, count: L, clip: activationClip, kernel: activationKernel)
      for j in 0..<L { cNew[j] = gf[j] * cPrev[j] + gi[j] * gg[j] }
      if let cc = cellClip {
        for j in 0..<L { cNew[j] = Swift.min(Swift.max(cNew[j], -cc), cc) }
      }
      if let peepholes {
        let pO = peepholes.base + 2 * H + j0
        for j in 0..<L { go[j] += pO[j] * cNew[j] }
      }
      fAct.apply(go, count: L, clip: activationClip, kernel: activationKernel)
      mRow.update(from: cNew, count: L)
      hAct.apply(mRow, count: L, clip: activationClip, kernel: activationKernel)
      for j in 0..<L { mRow[j] = go[j] * mRow[j] }
      if projection == nil { (newH + r * H + j0).update(from: mRow, count: L) }
    }
  }
}

// MARK: - Reset-after GRU

/// `z, r = f(x Wz,r + b + h Uz,r)`, `n = g(x Wn + b_Wn + r * (h Un + b_Un))`, `h' = z * h + (1 - z) * n`.
struct PreparedGRU<S: RNNScalar>: UnitSlicedCell {
  let inputSize: Int
  let hidden: Int
  let kernel: PreparedMatrix<S>
  /// `(3H)`: input bias + recurrent bias for z, r; `b_Wn` alone for n.
  let bias: ConstantScalars<S>
  /// `(H, 3H)`.
  let recurrent: PreparedMatrix<S>
  /// `b_Un (H)`, added inside `r * (h Un + b_Un)`.
  let recurrentBiasN: ConstantScalars<S>
  let activationClip: S?
  /// Who computes sigmoid and tanh (`ActivationKernel.default` when the cell was prepared).
  var activationKernel: ActivationKernel = ActivationKernel.default
  let gateActivation: Activation
  let candidateActivation: Activation

  var outputSize: Int { hidden }
  var width: Int { 3 * hidden }
  var gates: Int { 3 }
  var hasCellState: Bool { false }

  func step(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend
  ) {
    recurrentStep(batch: n, pre: pre, h: h, c: c, newH: newH, newC: newC, workspace: ws, backend: backend)
  }

  func stepSlice(
    batch n: Int, units: Range<Int>, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>
  ) {
    let H = hidden, W = width, j0 = units.lowerBound, L = units.count
    if L <= 0 { return }
    let fAct = gateActivation, gAct = candidateActivation
    for r in 0..<n {
      let g0 = pre + r * W + j0, r0 = ws.recurrent + r * W + j0, b0 = bias.base + j0
      let gz = g0, gr = g0 + H, gn = g0 + 2 * H
      for q in 0..<2 {
        let gq = g0 + q * H, rq = r0 + q * H, bq = b0 + q * H
        for j in 0..<L { gq[j] = gq[j] + bq[j] + rq[j] }
      }
      let bnn = b0 + 2 * H
      for j in 0..<L { gn[j] = gn[j] + bnn[j] }
      fAct.apply(gz, count: L, clip: activationClip, kernel: activationKernel)
      fAct.apply(gr, count: L, clip: activationClip, kernel: activationKernel)
      let rn = r0 + 2 * H, bn = recurrentBiasN.base + j0
      for j in 0..<L { gn[j] += gr[j] * (rn[j] + bn[j]) }
      gAct.apply(gn, count: L, clip: activationClip, kernel: activationKernel)
      let hRow = h + r * H + j0, out = newH + r * H + j0
      for j in 0..<L { out[j] = gz[j] * hRow[j] + (1 - gz[j]) * gn[j] }
    }
  }
}
