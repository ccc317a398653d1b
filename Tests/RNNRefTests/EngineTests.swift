import Testing
@testable import RNNRef
import _TestSupport

/// Property tests of the sequence engine: relations between runs that must hold
/// whatever the weights are. Golden numbers come only from framework fixtures
/// (Conformance), never from here.
@Suite struct EngineTests {
  let T = 7, N = 3, I = 5, H = 6

  // MARK: directions

  @Test(arguments: BackendUnderTest.all) func reverseEqualsFlippedForward(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try reverseEqualsFlippedForward(Float.self)
      try reverseEqualsFlippedForward(Double.self)
    }
  }

  func reverseEqualsFlippedForward<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 1)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let s0 = randomState(cell, batch: N, rng: &rng)
      let fw = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: x.timeFlipped,
                              initialStates: [s0])
      let rv = try Engine.run(RecurrentLayer(direction: .reverse, cells: [cell]), input: x, initialStates: [s0])
      #expect(rv.merged.maxAbsDifference(fw.merged.timeFlipped) <= tolerance(S.self), "\(name) \(S.self)")
      #expect(rv.finalStates[0].h.maxAbsDifference(fw.finalStates[0].h) <= tolerance(S.self), "\(name)")
      // go_backwards order: the k-th processed step at k, i.e. the forward run on the flipped input.
      let gb = try Engine.run(RecurrentLayer(direction: .reverse, cells: [cell], reverseOutputOrder: .timeReversed),
                              input: x, initialStates: [s0])
      #expect(gb.merged.maxAbsDifference(fw.merged) <= tolerance(S.self), "\(name) timeReversed")
      // and reverse differs from forward (the test can fail).
      let f2 = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: x, initialStates: [s0])
      #expect(f2.merged.maxAbsDifference(rv.merged) > 1e-3, "\(name): reverse should differ from forward")
    }
  }

  @Test(arguments: BackendUnderTest.all) func reverseWithLengthsRunsEachReversedPrefix(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try reverseWithLengths(Float.self, order: .alignedToInput)
      try reverseWithLengths(Double.self, order: .alignedToInput)
      try reverseWithLengths(Double.self, order: .timeReversed)
    }
  }

  func reverseWithLengths<S: RNNScalar>(_: S.Type, order: ReverseOutputOrder) throws {
    var rng = SeededRNG(seed: 2)
    let lengths = [T, 3, 0]
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    let mask = StepMask(lengths: lengths, steps: T)
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let s0 = randomState(cell, batch: N, rng: &rng)
      let out = try Engine.run(RecurrentLayer(direction: .reverse, cells: [cell], padding: .zeroOutput,
                                              reverseOutputOrder: order),
                               input: x, mask: mask, initialStates: [s0])
      for n in 0..<N {
        let len = lengths[n]
        let hout = cell.outputSize
        let yn = sample(out.merged, n)
        // aligned: the output of input step t sits at t, padding at steps >= len.
        // timeReversed: the k-th processed step sits at k; the reverse pass meets
        // the padding steps T-1 ..< len first, so the valid outputs fill slots T-len ..< T.
        let validSlots = order == .alignedToInput ? 0..<len : (T - len)..<T
        let padSlots = order == .alignedToInput ? len..<T : 0..<(T - len)
        if len > 0 {
          let prefix = sample(x, n).slice(axis: 0, range: 0..<len).timeFlipped
          let ref = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: prefix,
                                   initialStates: [row(s0, n)])
          let expected = order == .alignedToInput ? ref.merged.timeFlipped : ref.merged
          #expect(yn.slice(axis: 0, range: validSlots).maxAbsDifference(expected) <= tolerance(S.self),
                  "\(name) sample \(n)")
          #expect(out.finalStates[0].h.slice(axis: 0, range: n..<(n + 1))
            .maxAbsDifference(ref.finalStates[0].h) <= tolerance(S.self), "\(name) final h sample \(n)")
        } else {
          #expect(out.finalStates[0].h.slice(axis: 0, range: n..<(n + 1)) == row(s0, n).h,
                  "\(name): no valid step keeps the initial state")
          #expect(out.finalStates[0].c?.slice(axis: 0, range: n..<(n + 1)) == row(s0, n).c)
        }
        #expect(yn.slice(axis: 0, range: padSlots) == Tensor(uncheckedZeros: [T - len, 1, hout]),
                "\(name) padding of sample \(n)")
      }
    }
  }

  @Test(arguments: BackendUnderTest.all) func bidirectionalMergesBothDirections(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try bidirectional(Float.self)
      try bidirectional(Double.self)
    }
  }

  func bidirectional<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 3)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    let mask = StepMask(lengths: [T, 4, 1], steps: T)
    for kind in CellKind.allCases {
      let fwCell = randomCell(kind, S.self, input: I, hidden: H, rng: &rng)
      let bwCell = randomCell(kind, S.self, input: I, hidden: H, rng: &rng)
      let states = [randomState(fwCell, batch: N, rng: &rng), randomState(bwCell, batch: N, rng: &rng)]
      for m in [nil, mask] {
        let fw = try Engine.run(RecurrentLayer(direction: .forward, cells: [fwCell]), input: x, mask: m,
                                initialStates: [states[0]])
        let bw = try Engine.run(RecurrentLayer(direction: .reverse, cells: [bwCell]), input: x, mask: m,
                                initialStates: [states[1]])
        let a = fw.merged, b = bw.merged
        func bi(_ mode: MergeMode) throws -> LayerOutput<S> {
          try Engine.run(RecurrentLayer(direction: .bidirectional, cells: [fwCell, bwCell], merge: mode),
                         input: x, mask: m, initialStates: states)
        }
        let concat = try bi(.concat)
        #expect(concat.merged == Tensor.concatenate([a, b], axis: 2), "\(kind) concat")
        #expect(concat.directionOutputs == [a, b])
        #expect(concat.finalStates == [fw.finalStates[0], bw.finalStates[0]])
        #expect(try bi(.sum).merged.scalars == zip(a.scalars, b.scalars).map { $0 + $1 }, "\(kind) sum")
        #expect(try bi(.mul).merged.scalars == zip(a.scalars, b.scalars).map { $0 * $1 }, "\(kind) mul")
        #expect(try bi(.ave).merged.scalars == zip(a.scalars, b.scalars).map { ($0 + $1) / 2 }, "\(kind) ave")
        let none = try bi(.none)
        #expect(none.directionOutputs == [a, b] && none.merged == concat.merged, "\(kind) none")
        #expect(concat.merged.shape == [T, N, 2 * H])
      }
    }
  }

  // MARK: masks

  @Test(arguments: BackendUnderTest.all) func maskedStepsCarryStateAndFollowPadding(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try maskedSteps(Float.self)
      try maskedSteps(Double.self)
    }
  }

  /// Replays a masked run with `Engine.step`, selecting per sample: the state
  /// moves only on valid steps; outputs are zeros or the previous valid output.
  func maskedSteps<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 4)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    // holes in the middle, a sample starting late, one never valid
    let valid: [[Bool]] = [
      [true, false, false, true, true, false, true],
      [false, false, true, true, false, true, false],
      [false, false, false, false, false, false, false],
    ]
    let mask = StepMask(batch: N, steps: T, valid: valid.flatMap { $0 })
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let s0 = randomState(cell, batch: N, rng: &rng)
      for direction in [Direction.forward, .reverse] {
        for padding in [PaddingPolicy.zeroOutput, .repeatPreviousOutput] {
          let out = try Engine.run(RecurrentLayer(direction: direction, cells: [cell], padding: padding),
                                   input: x, mask: mask, initialStates: [s0])
          for n in 0..<N {
            var state = row(s0, n)
            var prev = Tensor<S>(uncheckedZeros: [1, cell.outputSize])
            let order = direction == .forward ? Array(0..<T) : Array((0..<T).reversed())
            for t in order {
              let xt = x.slice(axis: 0, range: t..<(t + 1)).slice(axis: 1, range: n..<(n + 1)).reshaped([1, I])
              let got = out.merged.slice(axis: 0, range: t..<(t + 1)).slice(axis: 1, range: n..<(n + 1))
                .reshaped([1, cell.outputSize])
              if valid[n][t] {
                state = try Engine.step(cell, input: xt, state: state)
                prev = state.h
                #expect(got.maxAbsDifference(state.h) <= tolerance(S.self), "\(name) \(direction) n=\(n) t=\(t)")
              } else {
                let expected = padding == .zeroOutput ? Tensor<S>(uncheckedZeros: [1, cell.outputSize]) : prev
                #expect(got == expected, "\(name) \(direction) \(padding) masked n=\(n) t=\(t)")
              }
            }
            let fin = row(out.finalStates[0], n)
            #expect(fin.h.maxAbsDifference(state.h) <= tolerance(S.self), "\(name) final h n=\(n)")
            if let c = state.c { #expect(fin.c!.maxAbsDifference(c) <= tolerance(S.self)) }
          }
        }
      }
    }
  }

  @Test(arguments: BackendUnderTest.all) func allValidMaskEqualsNoMask(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 5)
      let x = Tensor<Double>.random([T, N, I], scale: 1, rng: &rng)
      for (name, cell) in cellZoo(Double.self, input: I, hidden: H, rng: &rng) {
        for direction in [Direction.forward, .reverse] {
          let layer = RecurrentLayer(direction: direction, cells: [cell], padding: .repeatPreviousOutput)
          let a = try Engine.run(layer, input: x)
          let b = try Engine.run(layer, input: x, mask: StepMask(lengths: Array(repeating: T, count: N), steps: T))
          #expect(a == b, "\(name) \(direction)")
        }
      }
    }
  }

  // MARK: composition

  @Test(arguments: BackendUnderTest.all) func stackEqualsLayersOneByOne(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try stack(Float.self)
      try stack(Double.self)
    }
  }

  func stack<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 6)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    let mask = StepMask(lengths: [T, 2, 5], steps: T)
    let l0 = RecurrentLayer(direction: .bidirectional,
                            cells: [randomCell(.lstm, S.self, input: I, hidden: H, rng: &rng),
                                    randomCell(.lstm, S.self, input: I, hidden: H, rng: &rng)])
    let l1 = RecurrentLayer(direction: .forward, cells: [randomCell(.gru, S.self, input: 2 * H, hidden: 4, rng: &rng)])
    let l2 = RecurrentLayer(direction: .reverse, cells: [randomCell(.simple, S.self, input: 4, hidden: 3, rng: &rng)],
                            padding: .repeatPreviousOutput)
    let net = Network(layers: [l0, l1, l2])
    let out = try Engine.run(net, input: x, mask: mask)
    let o0 = try Engine.run(l0, input: x, mask: mask)
    let o1 = try Engine.run(l1, input: o0.merged, mask: mask)
    let o2 = try Engine.run(l2, input: o1.merged, mask: mask)
    #expect(out.layers == [o0, o1, o2])
    #expect(out.last.merged.shape == [T, N, 3])
  }

  @Test(arguments: BackendUnderTest.all) func batchEqualsSampleBySample(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try batchEqualsSamples(Float.self)
      try batchEqualsSamples(Double.self)
    }
  }

  func batchEqualsSamples<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 7)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    let lengths = [4, T, 1]
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      let s0 = randomState(cell, batch: N, rng: &rng)
      let layer = RecurrentLayer(direction: .reverse, cells: [cell])
      let all = try Engine.run(layer, input: x, mask: StepMask(lengths: lengths, steps: T), initialStates: [s0])
      for n in 0..<N {
        let one = try Engine.run(layer, input: sample(x, n), mask: StepMask(lengths: [lengths[n]], steps: T),
                                 initialStates: [row(s0, n)])
        #expect(sample(all.merged, n).maxAbsDifference(one.merged) <= tolerance(S.self), "\(name) n=\(n)")
        #expect(row(all.finalStates[0], n).h.maxAbsDifference(one.finalStates[0].h) <= tolerance(S.self))
      }
    }
  }

  @Test(arguments: BackendUnderTest.all) func iteratedStepEqualsRun(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try iteratedStep(Float.self)
      try iteratedStep(Double.self)
    }
  }

  func iteratedStep<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 8)
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    for (name, cell) in cellZoo(S.self, input: I, hidden: H, rng: &rng) {
      var state = randomState(cell, batch: N, rng: &rng)
      let out = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: x, initialStates: [state])
      for t in 0..<T {
        state = try Engine.step(cell, input: x.slice(axis: 0, range: t..<(t + 1)).reshaped([N, I]), state: state)
        let yt = out.merged.slice(axis: 0, range: t..<(t + 1)).reshaped([N, cell.outputSize])
        #expect(yt.maxAbsDifference(state.h) <= tolerance(S.self), "\(name) t=\(t)")
      }
      #expect(out.finalStates[0].h.maxAbsDifference(state.h) <= tolerance(S.self))
      if let c = state.c { #expect(out.finalStates[0].c!.maxAbsDifference(c) <= tolerance(S.self)) }
    }
  }

  @Test(arguments: BackendUnderTest.all) func floatAgreesWithDouble(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 9)
      let xd = Tensor<Double>.random([T, N, I], scale: 1, rng: &rng)
      let mask = StepMask(lengths: [T, 3, 5], steps: T)
      for (name, cd) in cellZoo(Double.self, input: I, hidden: H, rng: &rng) {
        let layerD = RecurrentLayer(direction: .bidirectional, cells: [cd, cd], padding: .repeatPreviousOutput)
        let layerF = RecurrentLayer<Float>(direction: .bidirectional, cells: [convert(cd), convert(cd)],
                                           padding: .repeatPreviousOutput)
        let d = try Engine.run(layerD, input: xd, mask: mask)
        let f = try Engine.run(layerF, input: Tensor<Float>(xd), mask: mask)
        let diff = Tensor<Double>(f.merged).maxAbsDifference(d.merged)
        #expect(diff <= 1e-5, "\(name): Float vs Double \(diff)")
        #expect(diff > 0, "\(name): the Float run should round differently from the Double run")
      }
    }
  }

  // MARK: cell semantics

  @Test(arguments: BackendUnderTest.all) func saturatedGatesKeepTheCell(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      try saturatedGates(Float.self)
      try saturatedGates(Double.self)
    }
  }

  /// f = 1, i = 0 (huge biases): c passes through unchanged, exactly.
  func saturatedGates<S: RNNScalar>(_: S.Type) throws {
    var rng = SeededRNG(seed: 10)
    guard case .lstm(var c) = randomCell(.lstm, S.self, input: I, hidden: H, rng: &rng) else { return }
    for j in 0..<H {
      c.inputBias.scalars[j] = -200       // i
      c.inputBias.scalars[H + j] = 200    // f
    }
    let x = Tensor<S>.random([T, N, I], scale: 1, rng: &rng)
    let c0 = Tensor<S>(uncheckedShape: [N, H], scalars: (0..<(N * H)).map { S(0.25) + S($0) / 8 })
    let s0 = LayerState(h: .random([N, H], rng: &rng), c: c0)
    let out = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(c)]), input: x, initialStates: [s0])
    #expect(out.finalStates[0].c == c0)
    // and h = o * tanh(c0) moves with o only: |h| <= tanh(|c0|)
    for (h, cv) in zip(out.finalStates[0].h.scalars, c0.scalars) { #expect(Swift.abs(h) <= S.tanh(cv)) }
  }

  @Test(arguments: BackendUnderTest.all) func coupledForgetIsOneMinusInput(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      // An uncoupled LSTM whose f pre-activation is minus i's gives f = sigmoid(-a) = 1 - sigmoid(a).
      var rng = SeededRNG(seed: 11)
      guard case .lstm(var c) = randomCell(.lstm, Double.self, input: I, hidden: H, rng: &rng) else { return }
      let x = Tensor<Double>.random([T, N, I], scale: 1, rng: &rng)
      for (r, cols) in [(I, 4 * H), (H, 4 * H)].enumerated() {
        var k = r == 0 ? c.kernel : c.recurrentKernel
        for p in 0..<cols.0 { for j in 0..<H { k.scalars[p * cols.1 + H + j] = -k.scalars[p * cols.1 + j] } }
        if r == 0 { c.kernel = k } else { c.recurrentKernel = k }
      }
      for j in 0..<H {
        c.inputBias.scalars[H + j] = -c.inputBias.scalars[j]
        c.recurrentBias.scalars[H + j] = -c.recurrentBias.scalars[j]
      }
      var coupled = c
      coupled.coupledInputForget = true
      // the forget block and the forget bias are ignored when coupled
      coupled.forgetBias = 3
      for j in 0..<H { coupled.inputBias.scalars[H + j] = 100 }
      let a = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(c)]), input: x)
      let b = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(coupled)]), input: x)
      #expect(a.merged.maxAbsDifference(b.merged) <= 1e-14)
      #expect(a.finalStates[0].c!.maxAbsDifference(b.finalStates[0].c!) <= 1e-14)
    }
  }

  @Test(arguments: BackendUnderTest.all) func forgetBiasIsAddedToTheForgetPreActivation(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 12)
      guard case .lstm(var c) = randomCell(.lstm, Double.self, input: I, hidden: H, rng: &rng) else { return }
      let x = Tensor<Double>.random([T, N, I], scale: 1, rng: &rng)
      c.forgetBias = 1
      var folded = c
      folded.forgetBias = 0
      for j in H..<(2 * H) { folded.recurrentBias.scalars[j] += 1 }
      let a = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(c)]), input: x)
      let b = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(folded)]), input: x)
      #expect(a.merged.maxAbsDifference(b.merged) <= 1e-14)
      var none = c
      none.forgetBias = 0
      let z = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(none)]), input: x)
      #expect(a.merged.maxAbsDifference(z.merged) > 1e-3)
    }
  }

  @Test(arguments: BackendUnderTest.all) func outputPeepholeSeesTheNewCell(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      // From c0 = 0, the i and f peepholes multiply zero on the first step: no effect.
      // The o peephole multiplies the new c, which is not zero: it changes h.
      var rng = SeededRNG(seed: 13)
      guard case .lstm(let c) = randomCell(.lstm, Double.self, input: I, hidden: H, rng: &rng) else { return }
      let x = Tensor<Double>.random([1, N, I], scale: 1, rng: &rng)
      let zeros = Tensor<Double>(uncheckedZeros: [H])
      var ifOnly = c
      ifOnly.peepholes = .init(i: .random([H], rng: &rng), f: .random([H], rng: &rng), o: zeros)
      var oOnly = c
      oOnly.peepholes = .init(i: zeros, f: zeros, o: .random([H], rng: &rng))
      func run(_ cell: LSTMCell<Double>) throws -> Tensor<Double> {
        try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(cell)]), input: x).merged
      }
      #expect(try run(ifOnly) == run(c))
      #expect(try run(oOnly).maxAbsDifference(run(c)) > 1e-4)
    }
  }

  @Test(arguments: BackendUnderTest.all) func clipsBoundWhatTheyClip(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 14)
      let x = Tensor<Double>.random([T, N, I], scale: 3, rng: &rng)
      let cell = randomCell(.lstm, Double.self, input: I, hidden: H,
                            options: CellOptions(projection: 4, cellClip: 0.2, projectionClip: 0.05), rng: &rng)
      let out = try Engine.run(RecurrentLayer(direction: .forward, cells: [cell]), input: x)
      #expect(out.finalStates[0].c!.scalars.allSatisfy { Swift.abs($0) <= 0.2 })
      #expect(out.merged.scalars.allSatisfy { Swift.abs($0) <= 0.05 })
      #expect(out.merged.scalars.contains { Swift.abs($0) == 0.05 }, "the projection clip should bind somewhere")
      #expect(out.merged.shape == [T, N, 4])
      // activation clip: tanh(clip(a, -0.1, 0.1)) is within tanh(0.1), computed by the same activation kernel
      let simple = randomCell(.simple, Double.self, input: I, hidden: H, options: CellOptions(activationClip: 0.1),
                              rng: &rng)
      let s = try Engine.run(RecurrentLayer(direction: .forward, cells: [simple]), input: x)
      var bound = [0.1]
      bound.withUnsafeMutableBufferPointer { Activation.tanh.apply($0.baseAddress!, count: 1, clip: nil) }
      #expect(s.merged.scalars.allSatisfy { Swift.abs($0) <= bound[0] })
      // a clip larger than every pre-activation changes nothing
      guard case .simple(var wide) = simple else { return }
      wide.activationClip = 1e9
      var noClip = wide
      noClip.activationClip = nil
      #expect(try Engine.run(RecurrentLayer(direction: .forward, cells: [.simple(wide)]), input: x)
        == Engine.run(RecurrentLayer(direction: .forward, cells: [.simple(noClip)]), input: x))
    }
  }

  @Test(arguments: BackendUnderTest.all) func gruResetPlacementMattersOnlyWhenResetIsNotOne(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 15)
      guard case .gru(var after) = randomCell(.gru, Double.self, input: I, hidden: H, rng: &rng) else { return }
      let x = Tensor<Double>.random([T, N, I], scale: 1, rng: &rng)
      var before = after
      before.resetAfter = false
      func run(_ c: GRUCell<Double>) throws -> Tensor<Double> {
        try Engine.run(RecurrentLayer(direction: .forward, cells: [.gru(c)]), input: x).merged
      }
      #expect(try run(after).maxAbsDifference(run(before)) > 1e-4)
      // r = sigmoid(200) = 1: n = g(x Wn + bWn + h Un + bUn) both ways
      for j in H..<(2 * H) { after.inputBias.scalars[j] = 200 }
      before = after
      before.resetAfter = false
      #expect(try run(after).maxAbsDifference(run(before)) <= 1e-14)
    }
  }

  // MARK: errors

  @Test func shapeErrorsNameWhatIsWrong() throws {
    var rng = SeededRNG(seed: 16)
    let cell = randomCell(.lstm, Float.self, input: I, hidden: H, rng: &rng)
    let layer = RecurrentLayer(direction: .forward, cells: [cell])
    func message(_ body: () throws -> Void) -> String {
      do { try body(); return "" } catch { return "\(error)" }
    }
    let wrongFeatures = message { _ = try Engine.run(layer, input: Tensor<Float>(uncheckedZeros: [T, N, I + 1])) }
    #expect(wrongFeatures.contains("[\(T), \(N), \(I + 1)]") && wrongFeatures.contains("inputSize \(I)"),
            "\(wrongFeatures)")
    let wrongRank = message { _ = try Engine.run(layer, input: Tensor<Float>(uncheckedZeros: [T, I])) }
    #expect(wrongRank.contains("(T, N, I)"), "\(wrongRank)")
    let wrongMask = message {
      _ = try Engine.run(layer, input: Tensor<Float>(uncheckedZeros: [T, N, I]), mask: StepMask(lengths: [1, 2], steps: T))
    }
    #expect(wrongMask.contains("mask") && wrongMask.contains("[2, \(T)]"), "\(wrongMask)")
    let wrongH = message {
      _ = try Engine.run(layer, input: Tensor<Float>(uncheckedZeros: [T, N, I]),
                         initialStates: [LayerState(h: Tensor(uncheckedZeros: [N, H + 2]), c: Tensor(uncheckedZeros: [N, H]))])
    }
    #expect(wrongH.contains("initial h") && wrongH.contains("[\(N), \(H + 2)]"), "\(wrongH)")
    let wrongC = message {
      _ = try Engine.run(layer, input: Tensor<Float>(uncheckedZeros: [T, N, I]),
                         initialStates: [LayerState(h: Tensor(uncheckedZeros: [N, H]), c: Tensor(uncheckedZeros: [1, H]))])
    }
    #expect(wrongC.contains("initial c"), "\(wrongC)")
    guard case .lstm(var bad) = cell else { return }
    bad.recurrentKernel = Tensor(uncheckedZeros: [H, 3 * H])
    let wrongWeight = message {
      _ = try Engine.run(RecurrentLayer(direction: .forward, cells: [.lstm(bad)]), input: Tensor<Float>(uncheckedZeros: [T, N, I]))
    }
    #expect(wrongWeight.contains("recurrentKernel") && wrongWeight.contains("[\(H), \(4 * H)]"), "\(wrongWeight)")
    let states = message {
      _ = try Engine.run(Network(layers: [layer]), input: Tensor<Float>(uncheckedZeros: [T, N, I]), initialStates: [])
    }
    #expect(states.contains("initial states"), "\(states)")
  }

  @Test(arguments: BackendUnderTest.all) func emptySequenceKeepsTheInitialState(_ backend: BackendUnderTest) throws {
    try backend.asDefault { () throws in
      var rng = SeededRNG(seed: 17)
      let cell = randomCell(.gru, Double.self, input: I, hidden: H, rng: &rng)
      let s0 = randomState(cell, batch: N, rng: &rng)
      let out = try Engine.run(RecurrentLayer(direction: .bidirectional, cells: [cell, cell]),
                               input: Tensor(uncheckedZeros: [0, N, I]), initialStates: [s0, s0])
      #expect(out.merged.shape == [0, N, 2 * H])
      #expect(out.finalStates == [s0, s0])
    }
  }
}

/// Float copy of a Double cell.
func convert(_ c: Cell<Double>) -> Cell<Float> {
  func t(_ x: Tensor<Double>) -> Tensor<Float> { Tensor<Float>(x) }
  switch c {
  case .simple(let s):
    return .simple(SimpleRNNCell(inputSize: s.inputSize, hiddenSize: s.hiddenSize, kernel: t(s.kernel),
                                 recurrentKernel: t(s.recurrentKernel), inputBias: t(s.inputBias),
                                 recurrentBias: t(s.recurrentBias), activation: s.activation,
                                 activationClip: s.activationClip))
  case .lstm(let l):
    return .lstm(LSTMCell(inputSize: l.inputSize, hiddenSize: l.hiddenSize, kernel: t(l.kernel),
                          recurrentKernel: t(l.recurrentKernel), inputBias: t(l.inputBias),
                          recurrentBias: t(l.recurrentBias),
                          peepholes: l.peepholes.map { .init(i: t($0.i), f: t($0.f), o: t($0.o)) },
                          projection: l.projection.map(t), projectionClip: l.projectionClip, cellClip: l.cellClip,
                          forgetBias: l.forgetBias, coupledInputForget: l.coupledInputForget,
                          activationClip: l.activationClip, gateActivation: l.gateActivation,
                          cellActivation: l.cellActivation, outputActivation: l.outputActivation))
  case .gru(let g):
    return .gru(GRUCell(inputSize: g.inputSize, hiddenSize: g.hiddenSize, kernel: t(g.kernel),
                        recurrentKernel: t(g.recurrentKernel), inputBias: t(g.inputBias),
                        recurrentBias: t(g.recurrentBias), resetAfter: g.resetAfter,
                        activationClip: g.activationClip, gateActivation: g.gateActivation,
                        candidateActivation: g.candidateActivation))
  }
}
