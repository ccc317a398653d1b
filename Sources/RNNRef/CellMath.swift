/// The canonical cells' math (see the doc comments of `SimpleRNNCell`,
/// `LSTMCell`, `GRUCell` in Canonical.swift), on gate-packed buffers.
///
/// A cell is prepared once per run: weights handed to the matmul backend,
/// biases folded where the math allows (everything that is added outside a
/// product of the recurrent state with a reset gate goes into `inputBias`,
/// which is added to the input projection of all time steps at once).

/// A cell ready to run: validated shapes, prepared weights, folded biases.
struct PreparedCell<S: RNNScalar> {
  enum Kind { case simple, lstm, gru }
  let kind: Kind
  let inputSize: Int
  let hidden: Int
  let outputSize: Int
  /// G*H: width of the gate-packed pre-activations.
  let width: Int
  /// `(I, G*H)`.
  let kernel: PreparedMatrix<S>
  /// `(G*H)`: added to `x W` (input bias + foldable recurrent bias + forget bias).
  let foldedBias: [S]
  /// `(Hout, G*H)`; for a reset-before GRU only the z, r blocks `(H, 2H)`.
  let recurrent: PreparedMatrix<S>
  /// Reset-before GRU: the n block of the recurrent kernel `(H, H)`.
  let recurrentN: PreparedMatrix<S>?
  /// Reset-after GRU: `b_Un (H)`, added inside `r * (h Un + b_Un)`.
  let recurrentBiasN: [S]
  /// LSTM projection `(H, P)`.
  let projection: PreparedMatrix<S>?
  let peepholeI: [S], peepholeF: [S], peepholeO: [S]
  let hasPeepholes: Bool
  let coupledInputForget: Bool
  let activationClip: S?
  let cellClip: S?
  let projectionClip: S?
  let resetAfter: Bool
  /// simple: [act]; LSTM: [f, g, h]; GRU: [f, g].
  let activations: [Activation]

  /// Validates the cell's tensors against its sizes; `name` prefixes error messages
  /// (e.g. "layer 0 backward cell").
  init(_ cell: Cell<S>, name: String, backend: any MatmulBackend) throws {
    func check(_ t: Tensor<S>, _ what: String, _ expected: [Int], _ reason: String) throws {
      if t.shape != expected {
        throw RNNRefError.shapeMismatch(name: "\(name) \(what)", actual: t.shape, expected: expected, reason: reason)
      }
    }
    func clip(_ v: Double?) -> S? { v.map { S($0) } }
    switch cell {
    case .simple(let c):
      let i = c.inputSize, h = c.hiddenSize
      try check(c.kernel, "kernel", [i, h], "canonical simple RNN kernel is (inputSize, hiddenSize)")
      try check(c.recurrentKernel, "recurrentKernel", [h, h], "(hiddenSize, hiddenSize)")
      try check(c.inputBias, "inputBias", [h], "(hiddenSize)")
      try check(c.recurrentBias, "recurrentBias", [h], "(hiddenSize)")
      kind = .simple; inputSize = i; hidden = h; outputSize = h; width = h
      kernel = backend.prepare(c.kernel)
      foldedBias = zip(c.inputBias.scalars, c.recurrentBias.scalars).map { $0 + $1 }
      recurrent = backend.prepare(c.recurrentKernel)
      recurrentN = nil; recurrentBiasN = []; projection = nil
      peepholeI = []; peepholeF = []; peepholeO = []; hasPeepholes = false; coupledInputForget = false
      activationClip = clip(c.activationClip); cellClip = nil; projectionClip = nil; resetAfter = false
      activations = [c.activation]

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
      kind = .lstm; inputSize = i; hidden = h; outputSize = hout; width = 4 * h
      kernel = backend.prepare(c.kernel)
      var bias = zip(c.inputBias.scalars, c.recurrentBias.scalars).map { $0 + $1 }
      if c.forgetBias != 0 && !c.coupledInputForget {
        let fb = S(c.forgetBias)
        for j in h..<(2 * h) { bias[j] += fb }
      }
      foldedBias = bias
      recurrent = backend.prepare(c.recurrentKernel)
      recurrentN = nil; recurrentBiasN = []
      projection = c.projection.map { backend.prepare($0) }
      hasPeepholes = c.peepholes != nil
      peepholeI = c.peepholes?.i.scalars ?? []
      peepholeF = c.peepholes?.f.scalars ?? []
      peepholeO = c.peepholes?.o.scalars ?? []
      coupledInputForget = c.coupledInputForget
      activationClip = clip(c.activationClip); cellClip = clip(c.cellClip); projectionClip = clip(c.projectionClip)
      resetAfter = false
      activations = [c.gateActivation, c.cellActivation, c.outputActivation]

    case .gru(let c):
      let i = c.inputSize, h = c.hiddenSize
      try check(c.kernel, "kernel", [i, 3 * h], "canonical GRU kernel is (inputSize, 3*hiddenSize), gates z, r, n")
      try check(c.recurrentKernel, "recurrentKernel", [h, 3 * h], "(hiddenSize, 3*hiddenSize), gates z, r, n")
      try check(c.inputBias, "inputBias", [3 * h], "(3*hiddenSize)")
      try check(c.recurrentBias, "recurrentBias", [3 * h], "(3*hiddenSize)")
      kind = .gru; inputSize = i; hidden = h; outputSize = h; width = 3 * h
      kernel = backend.prepare(c.kernel)
      var bias = zip(c.inputBias.scalars, c.recurrentBias.scalars).map { $0 + $1 }
      if c.resetAfter {
        // b_Un stays inside r * (h Un + b_Un).
        for j in (2 * h)..<(3 * h) { bias[j] = c.inputBias.scalars[j] }
        recurrentBiasN = Array(c.recurrentBias.scalars[(2 * h)..<(3 * h)])
        recurrent = backend.prepare(c.recurrentKernel)
        recurrentN = nil
      } else {
        recurrentBiasN = []
        let blocks = c.recurrentKernel.split(3, axis: 1)
        recurrent = backend.prepare(Tensor.concatenate([blocks[0], blocks[1]], axis: 1))
        recurrentN = backend.prepare(blocks[2])
      }
      foldedBias = bias
      projection = nil
      peepholeI = []; peepholeF = []; peepholeO = []; hasPeepholes = false; coupledInputForget = false
      activationClip = clip(c.activationClip); cellClip = nil; projectionClip = nil
      resetAfter = c.resetAfter
      activations = [c.gateActivation, c.candidateActivation]
    }
  }

  var hasCellState: Bool { kind == .lstm }
}

/// Scratch buffers for one direction's steps, sized for a batch of N. Raw
/// buffers (not arrays borrowed through nested closures): the step loop touches
/// them every step.
final class StepWorkspace<S: RNNScalar> {
  /// `(N, G*H)`: recurrent products.
  let recurrent: UnsafeMutablePointer<S>
  /// `(N, H)`: LSTM `o * h(c')` before the projection; GRU `r * h`.
  let temp: UnsafeMutablePointer<S>
  let recurrentCount: Int, tempCount: Int

  init(cell: PreparedCell<S>, batch n: Int) {
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

extension PreparedCell {
  /// One step for all N rows: `pre (N, G*H)` (x W, row stride `width`; the folded
  /// bias is added here), state `h (N, Hout)`, `c (N, H)` -> `newH`, `newC`. `pre` is
  /// used as scratch (the gate pre-activations are summed and activated in place).
  /// Recurrent products go to a small workspace buffer that stays in cache (not
  /// accumulated into `pre`, whose rows are cold: that costs ~20% of the product).
  func step(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?,
    workspace ws: StepWorkspace<S>, backend: any MatmulBackend
  ) {
    let H = hidden, W = width
    do {
      let g = pre, rec = ws.recurrent
      // g = x W + folded bias (+ h U, for the cells whose whole recurrent product adds)
      let addsRecurrent = kind != .gru
      if addsRecurrent {
        backend.multiply(m: n, a: h, lda: outputSize, b: recurrent, c: rec, ldc: W, accumulate: false)
      }
      foldedBias.withUnsafeBufferPointer { b in
        for r in 0..<n {
          let gr = g + r * W, rr = rec + r * W
          if addsRecurrent {
            for j in 0..<W { gr[j] = gr[j] + b[j] + rr[j] }
          } else {
            for j in 0..<W { gr[j] = gr[j] + b[j] }
          }
        }
      }
      switch kind {
      case .simple:
        activations[0].apply(g, count: n * H, clip: activationClip)
        newH.update(from: g, count: n * H)

      case .lstm:
        let c = c!, newC = newC!
        let fAct = activations[0], gAct = activations[1], hAct = activations[2]
        do {
          let m = ws.temp  // (N, H): o * h(c')
          peepholeI.withUnsafeBufferPointer { pI in
          peepholeF.withUnsafeBufferPointer { pF in
          peepholeO.withUnsafeBufferPointer { pO in
            for r in 0..<n {
              let gi = g + r * W, gf = gi + H, gg = gi + 2 * H, go = gi + 3 * H
              let cPrev = c + r * H, cNew = newC + r * H, mRow = m + r * H
              if hasPeepholes {
                for j in 0..<H {
                  gi[j] += pI[j] * cPrev[j]
                  gf[j] += pF[j] * cPrev[j]
                }
              }
              fAct.apply(gi, count: H, clip: activationClip)
              if coupledInputForget {
                for j in 0..<H { gf[j] = 1 - gi[j] }
              } else {
                fAct.apply(gf, count: H, clip: activationClip)
              }
              gAct.apply(gg, count: H, clip: activationClip)
              for j in 0..<H { cNew[j] = gf[j] * cPrev[j] + gi[j] * gg[j] }
              if let cc = cellClip {
                for j in 0..<H { cNew[j] = Swift.min(Swift.max(cNew[j], -cc), cc) }
              }
              if hasPeepholes {
                for j in 0..<H { go[j] += pO[j] * cNew[j] }
              }
              fAct.apply(go, count: H, clip: activationClip)
              mRow.update(from: cNew, count: H)
              hAct.apply(mRow, count: H, clip: activationClip)
              for j in 0..<H { mRow[j] = go[j] * mRow[j] }
            }
          }}}
          if let projection {
            let P = outputSize
            backend.multiply(m: n, a: m, lda: H, b: projection, c: newH, ldc: P, accumulate: false)
            if let pc = projectionClip {
              for j in 0..<(n * P) { newH[j] = Swift.min(Swift.max(newH[j], -pc), pc) }
            }
          } else {
            newH.update(from: m, count: n * H)
          }
        }

      case .gru:
        let fAct = activations[0], gAct = activations[1]
        do {
          if resetAfter {
            backend.multiply(m: n, a: h, lda: H, b: recurrent, c: rec, ldc: W, accumulate: false)
            recurrentBiasN.withUnsafeBufferPointer { bn in
              for r in 0..<n {
                let gz = g + r * W, gr = gz + H, gn = gz + 2 * H
                let rz = rec + r * W, rn = rz + 2 * H
                for j in 0..<(2 * H) { gz[j] += rz[j] }
                fAct.apply(gz, count: 2 * H, clip: activationClip)
                for j in 0..<H { gn[j] += gr[j] * (rn[j] + bn[j]) }
                gAct.apply(gn, count: H, clip: activationClip)
                let hRow = h + r * H, out = newH + r * H
                for j in 0..<H { out[j] = gz[j] * hRow[j] + (1 - gz[j]) * gn[j] }
              }
            }
          } else {
            // z, r from h; then n from (r * h) Un.
            backend.multiply(m: n, a: h, lda: H, b: recurrent, c: rec, ldc: 2 * H, accumulate: false)
            do {
              let rh = ws.temp
              for r in 0..<n {
                let gz = g + r * W, gr = gz + H
                let rz = rec + r * 2 * H
                for j in 0..<(2 * H) { gz[j] += rz[j] }
                fAct.apply(gz, count: 2 * H, clip: activationClip)
                let hRow = h + r * H, rhRow = rh + r * H
                for j in 0..<H { rhRow[j] = gr[j] * hRow[j] }
              }
              // (r*h) Un into the workspace (z, r no longer need it), then into the n blocks
              backend.multiply(m: n, a: rh, lda: H, b: recurrentN!, c: rec, ldc: H, accumulate: false)
            }
            for r in 0..<n {
              let gz = g + r * W, gn = gz + 2 * H, rn = rec + r * H
              for j in 0..<H { gn[j] += rn[j] }
              gAct.apply(gn, count: H, clip: activationClip)
              let hRow = h + r * H, out = newH + r * H
              for j in 0..<H { out[j] = gz[j] * hRow[j] + (1 - gz[j]) * gn[j] }
            }
          }
        }
      }
    }
  }
}
