import Dispatch

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
  /// Copies of the folded bias `(G*H)`, the LSTM peepholes `(3, H)` (i, f, o; zeros when none) and the
  /// reset-after GRU's `b_Un (H)`: raw pointers the step workers read (no array borrowed across threads).
  let bias: UnsafeMutablePointer<S>, peepholes: UnsafeMutablePointer<S>, biasN: UnsafeMutablePointer<S>
  let biasCount: Int, peepholeCount: Int, biasNCount: Int

  init(cell: PreparedCell<S>, batch n: Int) {
    recurrentCount = max(1, n * cell.width)
    tempCount = max(1, n * cell.hidden)
    recurrent = .allocate(capacity: recurrentCount)
    recurrent.initialize(repeating: 0, count: recurrentCount)
    temp = .allocate(capacity: tempCount)
    temp.initialize(repeating: 0, count: tempCount)
    biasCount = max(1, cell.foldedBias.count)
    bias = .allocate(capacity: biasCount)
    bias.initialize(repeating: 0, count: biasCount)
    for (j, v) in cell.foldedBias.enumerated() { bias[j] = v }
    peepholeCount = max(1, 3 * cell.hidden)
    peepholes = .allocate(capacity: peepholeCount)
    peepholes.initialize(repeating: 0, count: peepholeCount)
    if cell.hasPeepholes {
      for j in 0..<cell.hidden {
        peepholes[j] = cell.peepholeI[j]
        peepholes[cell.hidden + j] = cell.peepholeF[j]
        peepholes[2 * cell.hidden + j] = cell.peepholeO[j]
      }
    }
    biasNCount = max(1, cell.recurrentBiasN.count)
    biasN = .allocate(capacity: biasNCount)
    biasN.initialize(repeating: 0, count: biasNCount)
    for (j, v) in cell.recurrentBiasN.enumerated() { biasN[j] = v }
  }

  deinit {
    recurrent.deallocate()
    temp.deallocate()
    bias.deallocate()
    peepholes.deallocate()
    biasN.deallocate()
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
    if kind == .lstm || (kind == .gru && resetAfter) {
      // Every gate block adds its whole recurrent product: the element-wise math of hidden unit j
      // needs only column j of each gate block, so it runs per slice of hidden units.
      if !fusedParallelStep(batch: n, pre: pre, h: h, c: c, newH: newH, newC: newC, workspace: ws, backend: backend) {
        backend.multiply(m: n, a: h, lda: outputSize, b: recurrent, c: ws.recurrent, ldc: W, accumulate: false)
        stepSlice(batch: n, j0: 0, j1: H, pre: pre, h: h, c: c, newH: newH, newC: newC, workspace: ws)
      }
      if kind == .lstm, let projection {
        let P = outputSize
        backend.multiply(m: n, a: ws.temp, lda: H, b: projection, c: newH, ldc: P, accumulate: false)
        if let pc = projectionClip {
          for j in 0..<(n * P) { newH[j] = Swift.min(Swift.max(newH[j], -pc), pc) }
        }
      }
      return
    }
    do {
      let g = pre, rec = ws.recurrent
      // g = x W + folded bias (+ h U for a simple cell; a reset-before GRU adds its products below)
      let addsRecurrent = kind == .simple
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
        preconditionFailure("LSTM steps run in stepSlice")

      case .gru:
        let fAct = activations[0], gAct = activations[1]
        do {
          if resetAfter {
            preconditionFailure("reset-after GRU steps run in stepSlice")
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

/// What the step workers share: the cell, the step's buffers and the packed recurrent kernel. The
/// workers write disjoint hidden-unit slices (columns j0..<j1 of every gate block, of `c'` and `h'`).
private struct FusedStepArgs<S: RNNScalar>: @unchecked Sendable {
  let cell: PreparedCell<S>
  let n: Int
  let pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?
  let newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?
  let ws: StepWorkspace<S>
  let packed: UnsafePointer<Float>
  let kernel: SwiftMatmul.Kernel
  let workers: Int
}

extension PreparedCell {
  /// LSTM / reset-after GRU element-wise math for hidden units `j0 ..< j1` of all `n` rows, after
  /// `ws.recurrent (N, G*H)` holds `h U`: adds the folded bias and the recurrent product to `pre`,
  /// activates in place, writes `newC` (LSTM), `ws.temp` (LSTM `o * h(c')`, the projection's input) and,
  /// unless the LSTM projects, `newH`. Each element gets the same operations in the same order
  /// whatever the slice, so slices give the same bits as one pass over all units.
  func stepSlice(
    batch n: Int, j0: Int, j1: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>
  ) {
    precondition(kind == .lstm || (kind == .gru && resetAfter), "stepSlice: only LSTM and reset-after GRU cells")
    let H = hidden, W = width, L = j1 - j0
    if L <= 0 { return }
    let gates = kind == .lstm ? 4 : 3
    let fAct = activations[0], gAct = activations[1]
    for r in 0..<n {
      let g0 = pre + r * W + j0, r0 = ws.recurrent + r * W + j0, b0 = ws.bias + j0
      if kind == .lstm {
        for q in 0..<gates {
          let gq = g0 + q * H, rq = r0 + q * H, bq = b0 + q * H
          for j in 0..<L { gq[j] = gq[j] + bq[j] + rq[j] }
        }
        let hAct = activations[2]
        let gi = g0, gf = g0 + H, gg = g0 + 2 * H, go = g0 + 3 * H
        let cPrev = c! + r * H + j0, cNew = newC! + r * H + j0, mRow = ws.temp + r * H + j0
        let pI = ws.peepholes + j0, pF = pI + H, pO = pI + 2 * H
        if hasPeepholes {
          for j in 0..<L {
            gi[j] += pI[j] * cPrev[j]
            gf[j] += pF[j] * cPrev[j]
          }
        }
        fAct.apply(gi, count: L, clip: activationClip)
        if coupledInputForget {
          for j in 0..<L { gf[j] = 1 - gi[j] }
        } else {
          fAct.apply(gf, count: L, clip: activationClip)
        }
        gAct.apply(gg, count: L, clip: activationClip)
        for j in 0..<L { cNew[j] = gf[j] * cPrev[j] + gi[j] * gg[j] }
        if let cc = cellClip {
          for j in 0..<L { cNew[j] = Swift.min(Swift.max(cNew[j], -cc), cc) }
        }
        if hasPeepholes {
          for j in 0..<L { go[j] += pO[j] * cNew[j] }
        }
        fAct.apply(go, count: L, clip: activationClip)
        mRow.update(from: cNew, count: L)
        hAct.apply(mRow, count: L, clip: activationClip)
        for j in 0..<L { mRow[j] = go[j] * mRow[j] }
        if projection == nil { (newH + r * H + j0).update(from: mRow, count: L) }
      } else {
        // reset-after GRU: z, r = f(x Wz,r + b + h Uz,r); n = g(x Wn + b_Wn + r * (h Un + b_Un))
        let gz = g0, gr = g0 + H, gn = g0 + 2 * H
        for q in 0..<2 {
          let gq = g0 + q * H, rq = r0 + q * H, bq = b0 + q * H
          for j in 0..<L { gq[j] = gq[j] + bq[j] + rq[j] }
        }
        let bnn = b0 + 2 * H
        for j in 0..<L { gn[j] = gn[j] + bnn[j] }
        fAct.apply(gz, count: L, clip: activationClip)
        fAct.apply(gr, count: L, clip: activationClip)
        let rn = r0 + 2 * H, bn = ws.biasN + j0
        for j in 0..<L { gn[j] += gr[j] * (rn[j] + bn[j]) }
        gAct.apply(gn, count: L, clip: activationClip)
        let hRow = h + r * H + j0, out = newH + r * H + j0
        for j in 0..<L { out[j] = gz[j] * hRow[j] + (1 - gz[j]) * gn[j] }
      }
    }
  }

  /// Float with `SwiftMatmul` on several threads: each worker computes the recurrent product's
  /// columns for its slice of hidden units in every gate block (whole panels of 16, so it needs
  /// H % 16 == 0) and then that slice's element-wise math: one hand-off per step, and the cell math
  /// runs on all workers. Same sums in the same order as `multiply` + `stepSlice(0..<H)`. Returns
  /// false (nothing done) when the conditions do not hold.
  func fusedParallelStep(
    batch n: Int, pre: UnsafeMutablePointer<S>, h: UnsafePointer<S>, c: UnsafePointer<S>?,
    newH: UnsafeMutablePointer<S>, newC: UnsafeMutablePointer<S>?, workspace ws: StepWorkspace<S>,
    backend: any MatmulBackend
  ) -> Bool {
    guard kind == .lstm || (kind == .gru && resetAfter),
          S.self == Float.self, let sm = backend as? SwiftMatmul, sm.threads > 1,
          recurrent.panelWidth == SwiftMatmul.panel, hidden % SwiftMatmul.panel == 0,
          n * outputSize * width >= sm.parallelThreshold, n > 0, outputSize > 0
    else { return false }
    let unitPanels = hidden / SwiftMatmul.panel
    let workers = min(sm.threads, unitPanels)
    if workers < 2 { return false }
    let gates = kind == .lstm ? 4 : 3
    recurrent.packed.withUnsafeBufferPointer { packed in
      let args = FusedStepArgs(
        cell: self, n: n, pre: pre, h: h, c: c, newH: newH, newC: newC, ws: ws,
        packed: UnsafeRawPointer(packed.baseAddress!).assumingMemoryBound(to: Float.self),
        kernel: sm.forcedKernel ?? SwiftMatmul.chosenKernel, workers: workers)
      DispatchQueue.concurrentPerform(iterations: workers) { w in
        let cell = args.cell
        let p0 = unitPanels * w / args.workers, p1 = unitPanels * (w + 1) / args.workers
        let hF = UnsafeRawPointer(args.h).assumingMemoryBound(to: Float.self)
        let recF = UnsafeMutableRawPointer(args.ws.recurrent).assumingMemoryBound(to: Float.self)
        for q in 0..<gates {
          SwiftMatmul.floatPanels(
            (q * unitPanels + p0)..<(q * unitPanels + p1), m: args.n, k: cell.outputSize, n: cell.width,
            a: hF, lda: cell.outputSize, pb: args.packed, c: recF, ldc: cell.width, accumulate: false,
            kernel: args.kernel)
        }
        cell.stepSlice(batch: args.n, j0: p0 * SwiftMatmul.panel, j1: p1 * SwiftMatmul.panel, pre: args.pre,
                       h: args.h, c: args.c, newH: args.newH, newC: args.newC, workspace: args.ws)
      }
    }
    return true
  }
}
