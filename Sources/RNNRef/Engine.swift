/// The sequence engine: runs canonical cells over time, per direction and
/// layer. Inputs and outputs are time-major: `x: (T, N, I) -> (T, N, F)`; one layer
/// also runs on batch-major `(N, T, I) -> (N, T, F)` in place (`SequenceLayout`).
///
/// Per direction: the input projection of blocks of steps, products
/// `(steps*N, I) x (I, G*H)` plus the folded biases; then each step is one product
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
  /// `layout`: how `x` and the outputs are laid out (`.timeMajor` `(T, N, F)`, or `.batchMajor`
  /// `(N, T, F)`, read and written in place: no transposed copy).
  public static func run<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, layout: SequenceLayout = .timeMajor, mask: StepMask? = nil,
    initialStates: [LayerState<Scalar>]? = nil, backend: any MatmulBackend = Matmul.default
  ) throws -> LayerOutput<Scalar> {
    try runLayer(layer, input: x, layout: layout, mask: mask, initialStates: initialStates, backend: backend, name: "layer")
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
  ///
  /// `keepDirections` false: a bidirectional layer merged by `.concat` returns no `directionOutputs`
  /// (empty: its directions write straight into `merged`, no per-direction copy); for callers that
  /// read `merged` only (the Keras adapter). Every other layer returns them as documented.
  package static func runLayer<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, layout: SequenceLayout = .timeMajor,
    mask: StepMask? = nil, initialStates: [LayerState<Scalar>]? = nil,
    backend: any MatmulBackend = Matmul.default, name: String = "layer", keepDirections: Bool = true
  ) throws -> LayerOutput<Scalar> {
    try Scalar._runEngineLayer(rewritten(layer), input: x, layout: layout, mask: mask, initialStates: initialStates,
                               backend: backend, name: name, keepDirections: keepDirections)
  }

  static func layerBody<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, layout: SequenceLayout, mask: StepMask?,
    initialStates: [LayerState<Scalar>]?, backend: any MatmulBackend, name: String, keepDirections: Bool
  ) throws -> LayerOutput<Scalar> {
    guard x.rank == 3 else {
      throw RNNRefError.shapeMismatch(name: "\(name) input", actual: x.shape, expected: [-1, -1, layer.inputSize],
                                      reason: "the engine takes \(layout.text) input with I = \(layer.inputSize); -1 stands for any size")
    }
    let T = layout == .timeMajor ? x.shape[0] : x.shape[1], N = layout == .timeMajor ? x.shape[1] : x.shape[0]
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
          name: "\(name) input", actual: x.shape, expected: [x.shape[0], x.shape[1], pc.inputSize],
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
                                        reason: "the mask is (N, T) for \(layout.text) input \(x.shape)")
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

    // Where the directions write: straight into `merged` for a single direction or a `.concat`/`.none`
    // merge (the two directions' columns side by side, no concatenation afterwards), and into their own
    // buffers when the caller keeps them or an element-wise merge needs them. Every element of every
    // buffer is written by `runDirection` (masked steps included), so none is zero-filled first.
    let hout = cells.map(\.outputSize)
    let features = hout.reduce(0, +)
    let joined = directions == 2 && (layer.merge == .concat || layer.merge == .none)
    let own = directions == 2 && (keepDirections || !joined)
    var out0 = uninitialized(Scalar.self, own ? T * N * hout[0] : 0)
    var out1 = uninitialized(Scalar.self, own ? T * N * hout[1] : 0)
    var merged = uninitialized(Scalar.self, own && !joined ? 0 : T * N * features)
    let finals = FinalStates<Scalar>(directions)
    let prepared = cells
    out0.withUnsafeMutableBufferPointer { p0 in
      out1.withUnsafeMutableBufferPointer { p1 in
        merged.withUnsafeMutableBufferPointer { pm in
          var targets: [[SequenceTarget<Scalar>]] = Array(repeating: [], count: directions)
          if !own || joined, let m = pm.baseAddress {
            for d in 0..<directions {
              targets[d].append(SequenceTarget(base: m, features: features, offset: d == 0 ? 0 : hout[0], layout: layout))
            }
          }
          if own, let b = p0.baseAddress { targets[0].append(SequenceTarget(base: b, features: hout[0], offset: 0, layout: layout)) }
          if own, let b = p1.baseAddress { targets[1].append(SequenceTarget(base: b, features: hout[1], offset: 0, layout: layout)) }
          let run: @Sendable (Int) -> Void = { [targets] d in
            let reversed = layer.direction == .reverse || d == 1
            finals.set(d, runDirection(
              prepared[d], x: x, layout: layout, T: T, N: N, reversed: reversed,
              timeReversedOutput: reversed && layer.reverseOutputOrder == .timeReversed,
              mask: mask, padding: layer.padding, initial: initialStates?[d], targets: targets[d], backend: backend))
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
        }
      }
    }
    let shape = { (f: Int) in layout == .timeMajor ? [T, N, f] : [N, T, f] }
    let mergedTensor: Tensor<Scalar>
    var outputs: [Tensor<Scalar>] = []
    if directions == 1 {
      mergedTensor = Tensor(uncheckedShape: shape(features), scalars: merged)
      outputs = [mergedTensor]
    } else {
      if own {
        outputs = [Tensor(uncheckedShape: shape(hout[0]), scalars: out0), Tensor(uncheckedShape: shape(hout[1]), scalars: out1)]
      }
      mergedTensor = joined ? Tensor(uncheckedShape: shape(features), scalars: merged)
        : layer.merge.merge(fw: outputs[0], bw: outputs[1])
    }
    return LayerOutput(directionOutputs: outputs, merged: mergedTensor, finalStates: finals.states)
  }

  /// An array of `count` elements left uninitialised, for a buffer whose every element is written
  /// before it is read (no zero-filling pass over fresh pages).
  static func uninitialized<S: RNNScalar>(_: S.Type, _ count: Int) -> [S] {
    [S](unsafeUninitializedCapacity: count) { _, n in n = count }
  }

  /// The final state of each direction of one layer, each written by the worker that ran it.
  /// Raw slots (no array shared between threads): each direction writes its own slot once, and the
  /// slots are read after every worker is done.
  final class FinalStates<S: RNNScalar>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<LayerState<S>?>
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
    func set(_ d: Int, _ r: LayerState<S>) { slots[d] = r }
    var states: [LayerState<S>] { (0..<count).map { slots[$0]! } }
  }

  /// Where a direction writes its outputs: features `offset ..< offset + Hout` of each row of a
  /// sequence buffer of `features` per row, in `layout`. Directions of one layer write disjoint
  /// features (or disjoint buffers), so they can run at once.
  struct SequenceTarget<S>: @unchecked Sendable {
    let base: UnsafeMutablePointer<S>
    let features: Int
    let offset: Int
    let layout: SequenceLayout

    /// The first element of the row of step slot `t`, sample `n`, in a sequence of `T` steps and
    /// `N` samples.
    @inline(__always)
    func row(_ t: Int, _ n: Int, T: Int, N: Int) -> UnsafeMutablePointer<S> {
      base + layout.row(step: t, sample: n, steps: T, batch: N) * features + offset
    }
  }

  /// One direction over all steps, for the cell's kind: writes its outputs into `targets` and returns
  /// the final state.
  static func runDirection<S: RNNScalar>(
    _ cell: PreparedCell<S>, x: Tensor<S>, layout: SequenceLayout, T: Int, N: Int, reversed: Bool,
    timeReversedOutput: Bool, mask: StepMask?, padding: PaddingPolicy, initial: LayerState<S>?,
    targets: [SequenceTarget<S>], backend: any MatmulBackend
  ) -> LayerState<S> {
    switch cell {
    case .simple(let c):
      runDirection(c, x: x, layout: layout, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput,
                   mask: mask, padding: padding, initial: initial, targets: targets, backend: backend)
    case .lstm(let c):
      runDirection(c, x: x, layout: layout, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput,
                   mask: mask, padding: padding, initial: initial, targets: targets, backend: backend)
    case .gru(let c):
      runDirection(c, x: x, layout: layout, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput,
                   mask: mask, padding: padding, initial: initial, targets: targets, backend: backend)
    case .resetBeforeGRU(let c):
      runDirection(c, x: x, layout: layout, T: T, N: N, reversed: reversed, timeReversedOutput: timeReversedOutput,
                   mask: mask, padding: padding, initial: initial, targets: targets, backend: backend)
    }
  }

  /// Steps `firstStep ..< firstStep + steps` of `x` (`T` steps, `N` samples, `I` features, in
  /// `layout`) times W into `pre`, time-major (row `s * N + n` for step `firstStep + s`, sample n). The
  /// folded bias is added per step, with the recurrent product. Time-major input is one product over
  /// its contiguous rows; batch-major input one product per step (its N rows are `T * I` apart) or,
  /// when the block has more steps than samples, one per sample (its steps are contiguous; written
  /// `N` rows apart). Each element is the same sum in the same order whatever rows a product has.
  static func projectInputs<C: PreparedCellKind>(
    _ cell: C, x: UnsafePointer<C.S>, layout: SequenceLayout, T: Int, N: Int, firstStep: Int, steps: Int,
    into pre: UnsafeMutablePointer<C.S>, backend: any MatmulBackend
  ) {
    let w = cell.width, i = cell.inputSize
    guard steps > 0, N > 0, w > 0 else { return }
    guard i > 0 else { pre.update(repeating: 0, count: steps * N * w); return }
    if layout == .timeMajor || N == 1 || T == 1 {  // N == 1 or T == 1: both layouts are the same rows
      backend.multiply(m: steps * N, a: x + firstStep * N * i, lda: i, b: cell.kernel, c: pre, ldc: w, accumulate: false)
    } else if steps <= N {
      for s in 0..<steps {
        backend.multiply(m: N, a: x + (firstStep + s) * i, lda: T * i, b: cell.kernel, c: pre + s * N * w, ldc: w,
                         accumulate: false)
      }
    } else {
      for n in 0..<N {
        backend.multiply(m: steps, a: x + (n * T + firstStep) * i, lda: i, b: cell.kernel, c: pre + n * w, ldc: N * w,
                         accumulate: false)
      }
    }
  }

  static func runDirection<C: PreparedCellKind>(
    _ cell: C, x: Tensor<C.S>, layout: SequenceLayout, T: Int, N: Int, reversed: Bool, timeReversedOutput: Bool,
    mask: StepMask?, padding: PaddingPolicy, initial: LayerState<C.S>?, targets: [SequenceTarget<C.S>],
    backend: any MatmulBackend
  ) -> LayerState<C.S> {
    typealias S = C.S
    let H = cell.hidden, Hout = cell.outputSize, W = cell.width
    var h = initial?.h.scalars ?? [S](repeating: 0, count: N * Hout)
    var c = cell.hasCellState ? (initial?.c?.scalars ?? [S](repeating: 0, count: N * H)) : []
    if T > 0 && N > 0 {
      // The input projection in blocks of steps, each computed just before its steps run, into one
      // reused buffer that stays in cache (not the whole sequence's T*N*G*H pre-activations at once,
      // written to memory and read back a step at a time). Each element is the same sum in the same
      // order whatever rows a product has, so the bits are those of one whole product.
      let block = projectionBlock(steps: T, batch: N, width: W, scalarSize: MemoryLayout<S>.stride)
      // every row a step reads is written by `projectInputs` first (its product overwrites, or zeros when I = 0)
      var pre = uninitialized(S.self, block * N * W)
      var blockStart = 0  // the lowest t of the block in `pre`
      let ws = StepWorkspace(cell: cell, batch: N)
      var newH = [S](repeating: 0, count: N * Hout)
      var newC = [S](repeating: 0, count: c.count)
      // the last valid output per sample, for `.repeatPreviousOutput` at masked steps
      var prevOut = [S](repeating: 0, count: mask != nil && padding == .repeatPreviousOutput ? N * Hout : 0)
      // one target that is this direction's own time-major buffer: each step's rows are one block
      let contiguous = targets.map { $0.layout == .timeMajor && $0.features == Hout && $0.offset == 0 }
      for k in 0..<T {
        if k % block == 0 {
          let steps = Swift.min(block, T - k)
          blockStart = reversed ? T - k - steps : k
          x.scalars.withUnsafeBufferPointer { xp in
            pre.withUnsafeMutableBufferPointer { pp in
              projectInputs(cell, x: xp.baseAddress!, layout: layout, T: T, N: N, firstStep: blockStart, steps: steps,
                            into: pp.baseAddress!, backend: backend)
            }
          }
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
        if let mask {
          for n in 0..<N {
            let rowH = n * Hout
            if mask[batch: n, step: t] {
              for j in 0..<Hout { h[rowH + j] = newH[rowH + j] }
              if padding == .repeatPreviousOutput { for j in 0..<Hout { prevOut[rowH + j] = newH[rowH + j] } }
              if cell.hasCellState {
                for j in 0..<H { c[n * H + j] = newC[n * H + j] }
              }
            }
          }
          // valid rows: the new output; masked rows: the previous output or zeros, per `padding`
          newH.withUnsafeBufferPointer { nh in
            prevOut.withUnsafeBufferPointer { po in
              for target in targets {
                for n in 0..<N {
                  let dst = target.row(slot, n, T: T, N: N)
                  if mask[batch: n, step: t] {
                    dst.update(from: nh.baseAddress! + n * Hout, count: Hout)
                  } else if padding == .repeatPreviousOutput {
                    dst.update(from: po.baseAddress! + n * Hout, count: Hout)
                  } else {
                    dst.update(repeating: 0, count: Hout)
                  }
                }
              }
            }
          }
        } else {
          swap(&h, &newH)
          if cell.hasCellState { swap(&c, &newC) }
          h.withUnsafeBufferPointer { hp in
            for (target, whole) in zip(targets, contiguous) {
              if whole {
                target.row(slot, 0, T: T, N: N).update(from: hp.baseAddress!, count: N * Hout)
              } else {
                for n in 0..<N { target.row(slot, n, T: T, N: N).update(from: hp.baseAddress! + n * Hout, count: Hout) }
              }
            }
          }
        }
      }
    }
    return LayerState(h: Tensor(uncheckedShape: [N, Hout], scalars: h),
                      c: cell.hasCellState ? Tensor(uncheckedShape: [N, H], scalars: c) : nil)
  }
}

/// How a sequence tensor is laid out: `(T, N, F)` time-major (the engine's own order: one step's
/// rows are contiguous) or `(N, T, F)` batch-major (Keras' order: one sample's steps are contiguous).
/// `Engine.run(_:input:layout:...)` reads its input and writes its outputs in the layout given.
public enum SequenceLayout: Sendable, Equatable {
  case timeMajor
  case batchMajor

  /// The flat row (of F features) of step `t`, sample `n`, in a sequence of `T` steps, `N` samples.
  @inline(__always)
  func row(step t: Int, sample n: Int, steps T: Int, batch N: Int) -> Int {
    self == .timeMajor ? t * N + n : n * T + t
  }

  var text: String { self == .timeMajor ? "time-major (T, N, I)" : "batch-major (N, T, I)" }
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
    _ layer: RecurrentLayer<Float>, input x: Tensor<Float>, layout: SequenceLayout, mask: StepMask?,
    initialStates: [LayerState<Float>]?, backend: any MatmulBackend, name: String, keepDirections: Bool
  ) throws -> LayerOutput<Float> {
    try Engine.layerBody(layer, input: x, layout: layout, mask: mask, initialStates: initialStates, backend: backend,
                         name: name, keepDirections: keepDirections)
  }
}

extension Double {
  public static func _runEngineLayer(
    _ layer: RecurrentLayer<Double>, input x: Tensor<Double>, layout: SequenceLayout, mask: StepMask?,
    initialStates: [LayerState<Double>]?, backend: any MatmulBackend, name: String, keepDirections: Bool
  ) throws -> LayerOutput<Double> {
    try Engine.layerBody(layer, input: x, layout: layout, mask: mask, initialStates: initialStates, backend: backend,
                         name: name, keepDirections: keepDirections)
  }
}

extension RNNScalar {
  /// Other conformers run the generic (unspecialised) layer loop.
  public static func _runEngineLayer(
    _ layer: RecurrentLayer<Self>, input x: Tensor<Self>, layout: SequenceLayout, mask: StepMask?,
    initialStates: [LayerState<Self>]?, backend: any MatmulBackend, name: String, keepDirections: Bool
  ) throws -> LayerOutput<Self> {
    try Engine.layerBody(layer, input: x, layout: layout, mask: mask, initialStates: initialStates, backend: backend,
                         name: name, keepDirections: keepDirections)
  }
}
