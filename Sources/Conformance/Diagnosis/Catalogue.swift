import RNNRef

/// The catalogue of convention mistakes tried against a failing case (docs/DIAGNOSIS.md), most
/// specific first: one weight tensor, one layer's tensors, every tensor, then the canonical and
/// layout mistakes, then pairs. Built from the adapter's description of its native form
/// (`DiagnosisConvention`) and from what a probe run saw of the canonical layers.
enum Catalogue {
  typealias Tensors = NamedTensors<Double>

  static func hypotheses(for c: Case, convention: any FrameworkConvention.Type, probe: [LayerProbe.Seen],
                         axisNames: (String) -> [String]?) -> [Hypothesis] {
    let described = convention as? any DiagnosisConvention.Type
    let gateTensors = described?.gateTensors(config: c.config, weights: c.weights) ?? []
    let ordered = gateTensors.filter { $0.gates.count > 1 }
    var singles: [Hypothesis] = [], groups: [Hypothesis] = [], wholes: [Hypothesis] = [], globals: [Hypothesis] = []
    let layerNames = orderedUnique(gateTensors.map(\.layer))

    // Gate order: per tensor, per layer, every tensor.
    for t in ordered {
      for p in permutations(t.gates.count) {
        singles.append(gateOrder([t], p, whole: false, framework: c.framework))
      }
    }
    let families = Dictionary(grouping: ordered, by: { $0.gates })
    var allGateOrders: [Hypothesis] = []
    for (_, tensors) in families.sorted(by: { $0.key.joined() < $1.key.joined() }) where tensors.count > 1 {
      let byLayer = Dictionary(grouping: tensors, by: \.layer)
      if byLayer.count > 1 {
        for layer in layerNames {
          guard let ts = byLayer[layer], ts.count > 1 else { continue }
          for p in permutations(ts[0].gates.count) { groups.append(gateOrder(ts, p, whole: false, framework: c.framework)) }
        }
      }
      for p in permutations(tensors[0].gates.count) {
        let h = gateOrder(tensors, p, whole: true, framework: c.framework)
        wholes.append(h)
        allGateOrders.append(h)
      }
    }

    // Transposed square blocks.
    let kernels = gateTensors.filter { t in !t.isBias && (c.weights[t.name].map { squareBlocks(t, $0) } ?? false) }
    for t in kernels { singles.append(transposed([t])) }
    var allTransposed: Hypothesis? = nil
    if kernels.count > 1 { allTransposed = transposed(kernels); wholes.append(allTransposed!) }

    // Biases.
    let biases = gateTensors.filter(\.isBias)
    let pairs = described?.biasPairs(config: c.config, weights: c.weights) ?? []
    // A whole tensor that is one side of a pair is dropped by the pair's wording below.
    let paired = Set(pairs.flatMap { [$0.input, $0.recurrent] }.filter { $0.axis == nil }.map(\.name))
    for b in biases {
      let part = BiasPart(name: b.name)
      if !paired.contains(b.name) {
        singles.append(biasChange([part], "zero", "`\(b.name)` was dropped (left zero)") { _ in nil })
      }
      singles.append(biasChange([part], "doubled", "`\(b.name)` was counted twice (copied into both the input and "
        + "the recurrent bias of a framework that adds both)") { t in t.map { $0 * 2 } })
    }
    for pair in pairs {
      singles.append(biasPair(pair, "the recurrent bias (\(pair.recurrent.label)) was dropped: the expected outputs match "
        + "with it zero; a conversion to one bias must add it to the input bias") { i, r in (i, r.zeros) })
      singles.append(biasPair(pair, "the input bias (\(pair.input.label)) was dropped: the expected outputs match "
        + "with it zero") { i, r in (i.zeros, r) })
      singles.append(biasPair(pair, "the two biases (\(pair.input.label) and \(pair.recurrent.label)) were folded into "
        + "one input bias: the expected outputs match with input + recurrent as the input bias and zero as the "
        + "recurrent bias. For a GRU that resets after the matmul the recurrent candidate bias b_hn sits inside "
        + "r * (...) and cannot be folded (coremltools#1124); keep the two biases apart") { i, r in (i.plus(r), r.zeros) })
      singles.append(biasPair(pair, "the input and recurrent biases (\(pair.input.label), \(pair.recurrent.label)) "
        + "were swapped") { i, r in (r, i) })
      singles.append(biasPair(pair, "the input bias (\(pair.input.label)) was also used as the recurrent bias "
        + "(\(pair.recurrent.label)): the one bias counted twice") { i, r in (i, i) })
    }
    if biases.count > 1 {
      let parts = biases.map { BiasPart(name: $0.name) }
      wholes.append(biasChange(parts, "zero", "every bias was dropped (left zero; loaded with use_bias=False / bias=False?)") { _ in nil })
      wholes.append(biasChange(parts, "doubled", "every bias was counted twice (one bias copied into both the input "
        + "and the recurrent bias of a framework that adds both)") { t in t.map { $0 * 2 } })
    }

    // The canonical mistakes, where the probe saw something they change.
    let cells = probe.flatMap(\.families)
    let activations = Set(probe.flatMap(\.activations))
    var canonical: [Hypothesis] = []
    if cells.contains(.lstm) {
      canonical.append(Hypothesis(
        kind: .forgetBias,
        description: "the forget bias is missing: the expected outputs match with 1.0 taken off every LSTM forget "
          + "gate's pre-activation. TF1's BasicLSTMCell and LSTMCell add forget_bias (default 1.0) at run time and "
          + "do not store it: a conversion from them must add forget_bias to the f block of the bias; one to them "
          + "must take it off or pass forget_bias=0",
        rewrite: Rewrites.ForgetBias(delta: -1)))
      canonical.append(Hypothesis(
        kind: .forgetBias,
        description: "the forget bias was added twice: the expected outputs match with 1.0 added to every LSTM "
          + "forget gate's pre-activation, as TF1's BasicLSTMCell/LSTMCell do at run time (forget_bias=1.0 by "
          + "default) on top of a bias that already holds it; pass forget_bias=0 or take it off the f block",
        rewrite: Rewrites.ForgetBias(delta: 1)))
    }
    let resets = Set(probe.flatMap(\.resetAfter))
    for value in [false, true] where resets.contains(!value) {
      canonical.append(Hypothesis(
        kind: .resetAfter,
        description: value
          ? "the expected outputs match a GRU that applies the reset gate after the recurrent matmul, "
            + "n = tanh(x W_n + b_in + r * (h U_n + b_hn)) (PyTorch, Keras reset_after=True, ONNX "
            + "linear_before_reset=1), where this case applies it before; set reset_after / "
            + "linear_before_reset to match the source"
          : "the expected outputs match a GRU that applies the reset gate before the recurrent matmul, "
            + "n = tanh(x W_n + (r * h) U_n + b_n) (TF1 GRUCell, Keras reset_after=False, ONNX "
            + "linear_before_reset=0, the ONNX default), where this case applies it after; set reset_after / "
            + "linear_before_reset to match the source",
        rewrite: Rewrites.ResetAfter(value: value)))
    }
    let sigmoidSwaps: [(Activation, Activation, String)] = [
      (.hardSigmoidKeras3, .hardSigmoidKeras2, "hard_sigmoid computed as Keras 2 defines it, clip(0.2x + 0.5, 0, 1), "
        + "where this case (Keras 3) uses relu6(x + 3) / 6: the outputs come from tf-keras / Keras 2 (or the other "
        + "way round); the two definitions differ, so convert the activation, not only the weights"),
      (.hardSigmoidKeras2, .hardSigmoidKeras3, "hard_sigmoid computed as Keras 3 defines it, relu6(x + 3) / 6, "
        + "where this case (Keras 2 / tf-keras) uses clip(0.2x + 0.5, 0, 1): the outputs come from Keras 3"),
      (.sigmoid, .hardSigmoidKeras2, "hard_sigmoid (Keras <= 2.2's default recurrent_activation) where this "
        + "case uses sigmoid: the model was saved by an old Keras and recurrent_activation was lost or defaulted"),
      (.hardSigmoidKeras2, .sigmoid, "sigmoid where this case uses hard_sigmoid: the target framework fixes "
        + "sigmoid gates (PyTorch, cuDNN) or recurrent_activation was not carried over"),
    ]
    for (from, to, text) in sigmoidSwaps where activations.contains(from) {
      canonical.append(Hypothesis(kind: .hardSigmoidVariant, description: "the expected outputs match " + text,
                                  rewrite: Rewrites.SwapActivation(from: from, to: to)))
    }
    for padding in Set(probe.map(\.padding)).sorted(by: { $0.rawValue < $1.rawValue }) {
      let other: PaddingPolicy = padding == .zeroOutput ? .repeatPreviousOutput : .zeroOutput
      canonical.append(Hypothesis(
        kind: .maskSemantics,
        description: other == .repeatPreviousOutput
          ? "masked or padded steps output the previous step's output (Keras Masking without zero_output_for_mask) "
            + "where this case outputs zeros there (PyTorch packed sequences, TF1 sequence_length, ONNX "
            + "sequence_lens): compare only valid steps, or zero the padded steps of the source's outputs"
          : "masked or padded steps output zeros (PyTorch packed sequences, TF1 sequence_length, ONNX "
            + "sequence_lens, Keras zero_output_for_mask) where this case repeats the previous step's output",
        rewrite: Rewrites.Padding(policy: other)))
    }
    struct Reverse: Hashable { var direction: Direction; var order: ReverseOutputOrder }
    let reverses = Set(probe.filter { $0.direction != .forward }.map { Reverse(direction: $0.direction, order: $0.reverseOutputOrder) })
    for r in reverses.sorted(by: { "\($0.direction)\($0.order)" < "\($1.direction)\($1.order)" }) {
      let direction = r.direction, order = r.order
      let other: ReverseOutputOrder = order == .alignedToInput ? .timeReversed : .alignedToInput
      if direction == .bidirectional {
        canonical.append(Hypothesis(
          kind: .reverseAlignment,
          description: other == .timeReversed
            ? "the backward direction's outputs are time-reversed (output k is backward step k, input step T-1-k) "
              + "where this case aligns them to input time: the bidirectional layer was built by hand from a "
              + "go_backwards / reversed-input run whose outputs were not flipped back"
            : "the backward direction's outputs are aligned to input time where this case has them time-reversed",
          rewrite: Rewrites.ReverseOrder(order: other, direction: direction)))
      } else {
        canonical.append(Hypothesis(
          kind: .goBackwardsOrientation,
          description: other == .alignedToInput
            ? "the reverse layer's outputs are aligned to input time (ONNX direction=reverse, a TF1 / PyTorch "
              + "reverse direction) where this case, like Keras go_backwards=True, returns them time-reversed "
              + "(output k is input step T-1-k): flip the sequence axis when converting (keras-onnx#523)"
            : "the reverse layer's outputs are time-reversed (Keras go_backwards=True) where this case aligns "
              + "them to input time: flip the sequence axis when converting",
          rewrite: Rewrites.ReverseOrder(order: other, direction: direction)))
      }
    }

    // Configuration switches the adapter names, and the outputs' layout.
    for v in described?.configVariants(config: c.config) ?? [] {
      globals.append(Hypothesis(kind: v.kind, description: v.description, config: v.config))
    }
    globals += outputHypotheses(c, described: described, axisNames: axisNames)

    // Pairs: every-tensor gate orders with the global mistakes that commonly come with them.
    var pairsList: [Hypothesis] = []
    let partners = canonical + (allTransposed.map { [$0] } ?? []) + globals.filter { $0.config != nil }
    for g in allGateOrders {
      for p in partners { if let h = g.and(p) { pairsList.append(h) } }
    }
    return singles + groups + wholes + canonical + globals + pairsList
  }

  // MARK: - Weight mistakes

  static func gateOrder(_ tensors: [GateTensor], _ p: [Int], whole: Bool, framework: Framework) -> Hypothesis {
    let letters = tensors[0].gates
    var inverse = [Int](repeating: 0, count: p.count)
    for (k, j) in p.enumerated() { inverse[j] = k }
    let readAs = inverse.map { letters[$0] }.joined(separator: ", ")
    let native = letters.joined(separator: ", ")
    let names = tensors.map { "`\($0.name)`" }.joined(separator: ", ")
    let subject = tensors.count == 1 ? "the gate blocks of \(names) were" : (whole ? "the gate blocks of every weight (\(names)) were"
                                                                            : "the gate blocks of \(names) were")
    let description = "\(subject) read as \(readAs) instead of \(framework.rawValue)'s \(native): the expected outputs "
      + "match with \(tensors.count == 1 ? "that tensor's" : "those tensors'") blocks in that order. The weights were "
      + "probably copied from a framework with that gate order without reordering them; reorder the blocks when converting"
    let tensorList = tensors
    return Hypothesis(kind: .gateOrder, description: description, weights: { w in
      var out = w
      for t in tensorList {
        guard let x = w[t.name], t.axis < x.rank, x.shape[t.axis] % (t.gates.count * t.groups) == 0 else { return nil }
        let g = t.gates.count
        let order = (0..<t.groups).flatMap { grp in p.map { grp * g + $0 } }
        out[t.name] = x.reorderingBlocks(order, axis: t.axis)
      }
      return out
    })
  }

  static func otherAxis(_ t: GateTensor, _ x: Tensor<Double>) -> Int? {
    guard x.rank >= 2 else { return nil }
    let last = x.rank - 1
    return t.axis == last ? last - 1 : (t.axis == last - 1 ? last : nil)
  }

  static func squareBlocks(_ t: GateTensor, _ x: Tensor<Double>) -> Bool {
    guard let b = otherAxis(t, x), t.axis < x.rank, x.shape[t.axis] % (t.gates.count * t.groups) == 0 else { return false }
    return x.shape[t.axis] / (t.gates.count * t.groups) == x.shape[b]
  }

  static func transposed(_ tensors: [GateTensor]) -> Hypothesis {
    let names = tensors.map { "`\($0.name)`" }.joined(separator: ", ")
    let what = tensors.count == 1
      ? (tensors[0].gates.count == 1 ? "\(names) was used transposed" : "each square gate block of \(names) was used transposed")
      : "every kernel (\(names)) was used transposed (block by block for gated cells)"
    let list = tensors
    return Hypothesis(
      kind: .transposedKernel,
      description: what + ": the expected outputs match with those blocks transposed. A square matrix loads in "
        + "either orientation, so a missing `.T` (or a reshape where a transpose was meant) goes unnoticed; "
        + "transpose it when converting",
      weights: { w in
        var out = w
        for t in list {
          guard let x = w[t.name], squareBlocks(t, x), let b = otherAxis(t, x) else { return nil }
          var perm = Array(0..<x.rank)
          perm.swapAt(t.axis, b)
          let blocks = x.split(t.gates.count * t.groups, axis: t.axis).map { $0.transposed(perm) }
          out[t.name] = Tensor.concatenate(blocks, axis: t.axis)
        }
        return out
      })
  }

  static func biasChange(_ parts: [BiasPart], _ tag: String, _ text: String,
                         _ change: @escaping @Sendable (Tensor<Double>?) -> Tensor<Double>?) -> Hypothesis {
    Hypothesis(kind: .biasSplit, description: text + (tag == "zero" ? ": the expected outputs match with it zero" : ""),
               weights: { w in
      var out = w
      for part in parts {
        guard let t = part.get(w) else { return nil }
        part.set(&out, change(t) ?? t.zeros)
      }
      return out
    })
  }

  static func biasPair(_ pair: BiasPair, _ text: String,
                       _ change: @escaping @Sendable (Tensor<Double>, Tensor<Double>) -> (Tensor<Double>, Tensor<Double>)) -> Hypothesis {
    Hypothesis(kind: .biasSplit, description: text, weights: { w in
      guard let i = pair.input.get(w), let r = pair.recurrent.get(w), i.shape == r.shape else { return nil }
      let (ni, nr) = change(i, r)
      var out = w
      pair.input.set(&out, ni)
      pair.recurrent.set(&out, nr)
      return out
    })
  }

  // MARK: - Output mistakes

  static func outputHypotheses(_ c: Case, described: (any DiagnosisConvention.Type)?,
                               axisNames: (String) -> [String]?) -> [Hypothesis] {
    var out: [Hypothesis] = []
    // Two state outputs in the other order ([h, c] vs (c, h), forward vs backward states).
    let states = c.outputs.entries.filter { !(axisNames($0.name)?.contains("step") ?? false) }
    for (a, x) in states.enumerated() {
      for y in states[(a + 1)...] where x.tensor.shape == y.tensor.shape {
        let (p, q) = (x.name, y.name)
        out.append(Hypothesis(
          kind: .stateOrder,
          description: "`\(p)` holds what this case calls `\(q)` and `\(q)` what it calls `\(p)`: the states were stored "
            + "in the other order (Keras returns [h, c], TF1's LSTMStateTuple is (c, h), PyTorch (h_n, c_n)); "
            + "match states by name, not by position",
          outputs: { o in
            guard let u = o[p], let v = o[q] else { return nil }
            var r = o; r[p] = v; r[q] = u; return r
          }))
      }
    }
    // Layer / direction order of stacked states.
    let stacks = described?.stateStacks(config: c.config, outputs: c.outputs) ?? []
    if let s = stacks.first {
      let L = s.layers, D = s.directions
      var orders: [([Int], String)] = []
      if L > 1 && D > 1 {
        orders.append(((0..<(L * D)).map { k in (k % L) * D + k / L },
                       "stacked direction-major (all layers' forward states, then all backward ones) where this case "
                       + "stacks them layer*\(D) + direction"))
      }
      if D > 1 {
        orders.append(((0..<(L * D)).map { k in (k / D) * D + (D - 1 - k % D) },
                       "with the forward and backward states of each layer swapped"))
      }
      if L > 1 {
        orders.append(((0..<(L * D)).map { k in (L - 1 - k / D) * D + k % D }, "with the layers in reverse order (last layer first)"))
      }
      let list = stacks
      for (order, text) in orders {
        let names = list.map { "`\($0.name)`" }.joined(separator: " and ")
        out.append(Hypothesis(
          kind: .stateOrder,
          description: "\(names) are \(text): index the states as the target framework does (PyTorch: "
            + "h_n[layer * num_directions + direction], pytorch#3587)",
          outputs: { o in
            var r = o
            for s in list {
              guard let t = o[s.name], s.axis < t.rank, t.shape[s.axis] == order.count else { return nil }
              r[s.name] = t.reorderingBlocks(order, axis: s.axis)
            }
            return r
          }))
      }
    }
    // Sequence outputs stored in the other layout.
    let sequences = c.outputs.names.compactMap { n -> (String, Int, Int)? in
      guard let axes = axisNames(n), let s = axes.firstIndex(of: "step"), let b = axes.firstIndex(of: "batch") else { return nil }
      return (n, s, b)
    }
    if !sequences.isEmpty {
      let names = sequences.map { "`\($0.0)`" }.joined(separator: ", ")
      out.append(Hypothesis(
        kind: .timeMajor,
        description: "\(names) \(sequences.count == 1 ? "is" : "are") stored with the batch and step axes swapped "
          + "(batch-major where this case is time-major, or the other way): transpose when storing or comparing",
        outputs: { o in
          var r = o
          for (n, s, b) in sequences {
            guard let t = o[n] else { return nil }
            var perm = Array(0..<t.rank)
            perm.swapAt(s, b)
            r[n] = t.transposed(perm)
          }
          return r
        }))
    }
    return out
  }

  // MARK: - Helpers

  /// Every permutation of 0..<n but the identity, in lexicographic order.
  static func permutations(_ n: Int) -> [[Int]] {
    guard n > 1 else { return [] }
    var result: [[Int]] = []
    func build(_ prefix: [Int], _ rest: [Int]) {
      if rest.isEmpty { result.append(prefix); return }
      for (i, x) in rest.enumerated() {
        var r = rest; r.remove(at: i)
        build(prefix + [x], r)
      }
    }
    build([], Array(0..<n))
    return result.filter { $0 != Array(0..<n) }
  }

  static func orderedUnique(_ xs: [String]) -> [String] {
    var seen = Set<String>()
    return xs.filter { seen.insert($0).inserted }
  }
}

extension Tensor where Scalar == Double {
  var zeros: Tensor { Tensor(uncheckedZeros: shape) }
  func plus(_ o: Tensor) -> Tensor { Tensor(uncheckedShape: shape, scalars: zip(scalars, o.scalars).map { $0 + $1 }) }
  static func * (t: Tensor, k: Double) -> Tensor { Tensor(uncheckedShape: t.shape, scalars: t.scalars.map { $0 * k }) }
}
