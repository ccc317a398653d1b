/// Calling one Keras recurrent layer.
extension Keras {
  /// Output step `k` of a batch-major sequence `(N, T, F)`: `(N, F)`.
  static func step<Scalar: RNNScalar>(_ t: Tensor<Scalar>, _ k: Int) -> Tensor<Scalar> {
    t.slice(axis: 1, range: k..<(k + 1)).reshaped([t.shape[0], t.shape[2]])
  }

  /// Calls one Keras recurrent layer the way Keras does, over its canonical layers
  /// (`importLayer`'s result: one per cell, several for `StackedRNNCells`). The one place
  /// that knows how a Keras layer turns engine results into its outputs.
  /// - Parameters:
  ///   - layer: the layer's config (`LayerConfig(layer:version:)`).
  ///   - canonical: the layer's canonical layers, as `importLayer` returns them.
  ///   - x: `(N, T, I)`, batch-major.
  ///   - mask: the incoming time-step mask, nil when none.
  ///   - initialStates: the tensors passed as `initial_state`, in Keras order (per
  ///     canonical layer, per direction: `h`, then `c` for an LSTM), named for errors.
  ///   - carried: a stateful layer's final states from its previous call.
  /// - Returns: the native outputs (the output, or both directions' for merge_mode
  ///   None; then the states when `return_state`, `[h, c]` per direction), the final
  ///   states to carry, and the merged output sequence `(N, T, F)` a next layer reads.
  public static func callLayer<Scalar: RNNScalar>(
    _ layer: LayerConfig, canonical: [RecurrentLayer<Scalar>], input x: Tensor<Scalar>, mask: StepMask?,
    initialStates: [(name: String, tensor: Tensor<Scalar>)]?, carried: [[LayerState<Scalar>]]?
  ) throws -> (outputs: [Tensor<Scalar>], finalStates: [[LayerState<Scalar>]], sequence: Tensor<Scalar>) {
    guard let first = canonical.first else {
      throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "no cells", reason: "a recurrent layer needs a cell")
    }
    guard x.rank == 3, x.shape[2] == first.inputSize else {
      throw RNNRefError.shapeMismatch(name: "input of layer `\(layer.name)`", actual: x.shape,
                                      expected: [x.shape.first ?? -1, x.rank > 1 ? x.shape[1] : -1, first.inputSize],
                                      reason: "batch-major (N, T, I) with I from the layer's kernel")
    }
    let n = x.shape[0], steps = x.shape[1]
    let swapped = layer.bidirectional != nil && layer.forwardGoesBackwards
    // Initial states per canonical layer and direction: given, else carried (stateful), else zeros.
    var initial: [[LayerState<Scalar>]?] = Array(repeating: nil, count: canonical.count)
    if let given = initialStates {
      let want = canonical.reduce(0) { $0 + $1.cells.reduce(0) { $0 + ($1.hasCellState ? 2 : 1) } }
      guard given.count == want else {
        throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "\(given.count) initial states",
                                        reason: "the layer takes \(want): h\(first.cells[0].hasCellState ? " and c" : "") per direction and cell")
      }
      var pos = 0
      func next(_ shape: [Int], what: String) throws -> Tensor<Scalar> {
        let (name, t) = given[pos]; pos += 1
        guard t.shape == shape else {
          throw RNNRefError.shapeMismatch(name: name, actual: t.shape, expected: shape,
                                          reason: "\(what) of layer `\(layer.name)`: (N, units)")
        }
        return t
      }
      for (ci, cl) in canonical.enumerated() {
        // Keras order: the forward layer's states first (the canonical reverse direction when swapped).
        let cells = swapped ? Array(cl.cells.reversed()) : cl.cells
        let states = try cells.enumerated().map { d, cell in
          LayerState(h: try next([n, cell.outputSize], what: "h of direction \(d)"),
                     c: cell.hasCellState ? try next([n, cell.hiddenSize], what: "c of direction \(d)") : nil)
        }
        initial[ci] = swapped ? states.reversed() : states
      }
    } else if let carry = carried {
      guard carry.allSatisfy({ $0.allSatisfy { $0.h.shape[0] == n } }) else {
        throw RNNRefError.invalidConfig(key: "layer `\(layer.name)`", value: "batch \(n)",
                                        reason: "a stateful layer was called with another batch size than before; reset its states first")
      }
      initial = carry.map { Optional($0) }
    }
    // The engine reads and writes Keras' batch-major layout in place (no transposed copies). The
    // directions' own outputs are kept only where they are returned (merge_mode None, the last
    // outputs, the swapped Bidirectional); else a concat layer's directions write straight into `merged`.
    var current = x
    var outputs: [LayerOutput<Scalar>] = []
    for (ci, cl) in canonical.enumerated() {
      let last = ci == canonical.count - 1
      let keep = swapped || (last && (!layer.returnSequences || layer.bidirectional == MergeMode.none))
      let o = try Engine.runLayer(cl, input: current, layout: .batchMajor, mask: mask, initialStates: initial[ci],
                                  keepDirections: keep)
      outputs.append(o)
      current = o.merged
    }
    if swapped, let o = outputs.last, o.directionOutputs.count == 2, let mode = layer.bidirectional {
      return swappedOutputs(layer, o, steps: steps, batch: n, mode: mode)
    }
    let lastOut = outputs[outputs.count - 1]
    var values: [Tensor<Scalar>] = []
    if layer.returnSequences {
      if layer.bidirectional == MergeMode.none {
        values += lastOut.directionOutputs
      } else {
        values.append(lastOut.merged)
      }
    } else {
      // The last output in processing order: slot T-1, except a reverse direction aligned to input time (slot 0).
      let cl = canonical[canonical.count - 1]
      var lasts: [Tensor<Scalar>] = []
      for (d, seq) in lastOut.directionOutputs.enumerated() {
        let reversed = cl.direction == .reverse || d == 1
        let slot = (reversed && cl.reverseOutputOrder == .alignedToInput) ? 0 : steps - 1
        lasts.append(steps > 0 ? step(seq, slot) : Tensor(uncheckedZeros: [n, seq.shape[2]]))
      }
      // The engine's Bidirectional merge, on the two last outputs; None returns both.
      if let mode = layer.bidirectional, mode != MergeMode.none, lasts.count == 2 {
        values.append(mode.merge(fw: lasts[0], bw: lasts[1]))
      } else {
        values += lasts
      }
    }
    if layer.returnState {
      for o in outputs { for s in o.finalStates {
        values.append(s.h)
        if let c = s.c { values.append(c) }
      } }
    }
    return (values, outputs.map(\.finalStates), current)
  }

  /// A batch-major `(N, T, F)` sequence with the time axis reversed.
  static func flipTime<Scalar: RNNScalar>(_ t: Tensor<Scalar>) -> Tensor<Scalar> {
    let n = t.shape[0], steps = t.shape[1], f = t.shape[2]
    guard steps > 1 else { return t }
    var out = t
    for b in 0..<n {
      for k in 0..<steps {
        let from = (b * steps + steps - 1 - k) * f, to = (b * steps + k) * f
        for j in 0..<f { out.scalars[to + j] = t.scalars[from + j] }
      }
    }
    return out
  }

  /// A Bidirectional over a `go_backwards` layer (`forwardGoesBackwards`): canonical direction 0 is
  /// Keras' backward layer (run forwards), direction 1 Keras' forward layer (run backwards, aligned to
  /// input time). Keras returns the forward layer's sequence in its processing order and flips the
  /// backward layer's, so both come time-reversed; the last outputs are the forward layer's at input
  /// step 0 and the backward layer's at step T-1; states forward layer first.
  static func swappedOutputs<Scalar: RNNScalar>(_ layer: LayerConfig, _ o: LayerOutput<Scalar>, steps: Int, batch n: Int,
                                                mode: MergeMode)
    -> (outputs: [Tensor<Scalar>], finalStates: [[LayerState<Scalar>]], sequence: Tensor<Scalar>) {
    let fwSeq = flipTime(o.directionOutputs[1]), bwSeq = flipTime(o.directionOutputs[0])
    let sequence = mode.merge(fw: fwSeq, bw: bwSeq)
    var values: [Tensor<Scalar>] = []
    if layer.returnSequences {
      values += mode == MergeMode.none ? [fwSeq, bwSeq] : [sequence]
    } else {
      func last(_ t: Tensor<Scalar>, _ k: Int) -> Tensor<Scalar> { steps > 0 ? step(t, k) : Tensor(uncheckedZeros: [n, t.shape[2]]) }
      let fw = last(o.directionOutputs[1], 0), bw = last(o.directionOutputs[0], steps - 1)
      values += mode == MergeMode.none ? [fw, bw] : [mode.merge(fw: fw, bw: bw)]
    }
    if layer.returnState {
      for s in o.finalStates.reversed() {
        values.append(s.h)
        if let c = s.c { values.append(c) }
      }
    }
    return (values, [o.finalStates], sequence)
  }
}
