// Shared helpers for the tests and the benchmark (not a product; swift-numerics keeps its
// `_TestSupport` the same way): a seeded generator, random tensors, cells and states.
import RNNRef

/// Seeded generator for random weights and inputs (SplitMix64): tests are
/// reproducible and need no golden numbers, only relations between runs.
@frozen
public struct SeededRNG: RandomNumberGenerator {
  public var state: UInt64
  @inlinable public init(seed: UInt64) { state = seed }
  @inlinable public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform integer in `0 ..< n` (0 when `n <= 1`), for seeded mutation tests.
  @inlinable public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

/// Uniform doubles in [-1, 1) from `SeededRNG`, for round-trip weights in the
/// adapter tests (a round trip, not a golden value).
public struct Rand {
  public var state: UInt64
  public init(state: UInt64) { self.state = state }
  public mutating func next() -> Double {
    var g = SeededRNG(seed: state)
    let bits = g.next()
    state = g.state
    return Double(bits >> 11) / Double(1 << 53) * 2 - 1
  }
}

extension Tensor {
  @inlinable  // specialised at the call site: the benchmark draws millions of values
  public static func random(_ shape: [Int], scale: Double = 0.5, rng: inout SeededRNG) -> Tensor {
    let n = shape.reduce(1, *)
    return Tensor(uncheckedShape: shape, scalars: (0..<n).map { _ in Scalar(Double.random(in: -scale...scale, using: &rng)) })
  }

  /// Uniform values in [-1, 1) from `Rand` (the adapter tests' round-trip weights).
  public static func random(_ shape: [Int], rng: inout Rand) -> Tensor {
    Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Scalar(rng.next()) })
  }

  /// Reverses axis 0 (time, for `(T, N, F)`).
  public var timeFlipped: Tensor {
    let t = shape[0]
    return Tensor.concatenate((0..<t).reversed().map { slice(axis: 0, range: $0..<($0 + 1)) }, axis: 0)
  }

  public func maxAbsDifference(_ other: Tensor) -> Double {
    precondition(shape == other.shape, "compare \(shape) with \(other.shape)")
    return zip(scalars, other.scalars).map { Double(Swift.abs($0 - $1)) }.max() ?? 0
  }
}

/// Options for random cells.
public struct CellOptions {
  public var peepholes: Bool
  public var projection: Int?
  public var cellClip: Double?
  public var projectionClip: Double?
  public var forgetBias: Double
  public var coupled: Bool
  public var activationClip: Double?
  public var resetAfter: Bool
  public var activation: Activation

  public init(peepholes: Bool = false, projection: Int? = nil, cellClip: Double? = nil, projectionClip: Double? = nil,
              forgetBias: Double = 0, coupled: Bool = false, activationClip: Double? = nil, resetAfter: Bool = true,
              activation: Activation = .tanh) {
    self.peepholes = peepholes; self.projection = projection; self.cellClip = cellClip
    self.projectionClip = projectionClip; self.forgetBias = forgetBias; self.coupled = coupled
    self.activationClip = activationClip; self.resetAfter = resetAfter; self.activation = activation
  }
}

public enum CellKind: CaseIterable, CustomStringConvertible {
  case simple, lstm, gru
  public var description: String { switch self { case .simple: "simple"; case .lstm: "lstm"; case .gru: "gru" } }
  public var gates: Int { switch self { case .simple: 1; case .lstm: 4; case .gru: 3 } }
}

public func randomCell<S: RNNScalar>(
  _ kind: CellKind, _: S.Type, input i: Int, hidden h: Int, options o: CellOptions = CellOptions(),
  rng: inout SeededRNG
) -> Cell<S> {
  let g = kind.gates
  let hout = (kind == .lstm ? o.projection : nil) ?? h
  let kernel = Tensor<S>.random([i, g * h], rng: &rng)
  let rec = Tensor<S>.random([hout, g * h], rng: &rng)
  let bi = Tensor<S>.random([g * h], rng: &rng)
  let bh = Tensor<S>.random([g * h], rng: &rng)
  switch kind {
  case .simple:
    return .simple(SimpleRNNCell(inputSize: i, hiddenSize: h, kernel: kernel, recurrentKernel: rec,
                                 inputBias: bi, recurrentBias: bh, activation: o.activation,
                                 activationClip: o.activationClip))
  case .lstm:
    let peep = o.peepholes
      ? LSTMCell<S>.Peepholes(i: .random([h], rng: &rng), f: .random([h], rng: &rng), o: .random([h], rng: &rng))
      : nil
    let proj = o.projection.map { Tensor<S>.random([h, $0], rng: &rng) }
    return .lstm(LSTMCell(inputSize: i, hiddenSize: h, kernel: kernel, recurrentKernel: rec, inputBias: bi,
                          recurrentBias: bh, peepholes: peep, projection: proj, projectionClip: o.projectionClip,
                          cellClip: o.cellClip, forgetBias: o.forgetBias, coupledInputForget: o.coupled,
                          activationClip: o.activationClip))
  case .gru:
    return .gru(GRUCell(inputSize: i, hiddenSize: h, kernel: kernel, recurrentKernel: rec, inputBias: bi,
                        recurrentBias: bh, resetAfter: o.resetAfter, activationClip: o.activationClip))
  }
}

/// Every cell flavour the engine distinguishes, for property tests that must hold for all.
public func cellZoo<S: RNNScalar>(_: S.Type, input i: Int, hidden h: Int, rng: inout SeededRNG) -> [(String, Cell<S>)] {
  [
    ("simple tanh", randomCell(.simple, S.self, input: i, hidden: h, rng: &rng)),
    ("simple relu clip", randomCell(.simple, S.self, input: i, hidden: h,
                                    options: CellOptions(activationClip: 0.8, activation: .relu), rng: &rng)),
    ("lstm", randomCell(.lstm, S.self, input: i, hidden: h, rng: &rng)),
    ("lstm peephole proj clips", randomCell(.lstm, S.self, input: i, hidden: h,
                                            options: CellOptions(peepholes: true, projection: h - 1, cellClip: 0.6,
                                                                 projectionClip: 0.3, forgetBias: 1),
                                            rng: &rng)),
    ("lstm coupled clip", randomCell(.lstm, S.self, input: i, hidden: h,
                                     options: CellOptions(coupled: true, activationClip: 0.9), rng: &rng)),
    ("gru reset after", randomCell(.gru, S.self, input: i, hidden: h, rng: &rng)),
    ("gru reset before", randomCell(.gru, S.self, input: i, hidden: h, options: CellOptions(resetAfter: false),
                                    rng: &rng)),
  ]
}

/// A random initial state for a cell and batch.
public func randomState<S: RNNScalar>(_ cell: Cell<S>, batch n: Int, rng: inout SeededRNG) -> LayerState<S> {
  LayerState(h: .random([n, cell.outputSize], rng: &rng),
             c: cell.hasCellState ? .random([n, cell.hiddenSize], rng: &rng) : nil)
}

/// `(T, N, F)` -> the rows of sample n, `(T, 1, F)`.
public func sample<S: RNNScalar>(_ x: Tensor<S>, _ n: Int) -> Tensor<S> {
  x.slice(axis: 1, range: n..<(n + 1))
}

public func row<S: RNNScalar>(_ state: LayerState<S>, _ n: Int) -> LayerState<S> {
  LayerState(h: state.h.slice(axis: 0, range: n..<(n + 1)), c: state.c?.slice(axis: 0, range: n..<(n + 1)))
}

/// Tolerance for relations that hold up to rounding: a few ulps of the values involved.
public func tolerance<S: RNNScalar>(_: S.Type) -> Double { S.self == Float.self ? 2e-6 : 1e-13 }

/// Cell kinds as Keras saves them, for `kerasCell`.
public enum KerasCellKind: Sendable { case simple, lstm, gru(resetAfter: Bool) }

/// A random canonical cell as a Keras import produces it: one bias (GRU `reset_after`: two),
/// values from `Rand` (round trips and relations between runs, never golden values).
public func kerasCell<S: RNNScalar>(_ kind: KerasCellKind, i: Int, h: Int, bias: Bool = true,
                                    gate: Activation = .sigmoid, act: Activation = .tanh,
                                    _ rng: inout Rand) -> Cell<S> {
  func tensor(_ shape: [Int]) -> Tensor<S> { .random(shape, rng: &rng) }
  let g: Int
  switch kind { case .simple: g = 1; case .lstm: g = 4; case .gru: g = 3 }
  let k = tensor([i, g * h]), r = tensor([h, g * h])
  let bi = bias ? tensor([g * h]) : Tensor(uncheckedZeros: [g * h])
  var bh = Tensor<S>(uncheckedZeros: [g * h])
  switch kind {
  case .simple:
    return .simple(SimpleRNNCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi,
                                 recurrentBias: bh, activation: act))
  case .lstm:
    return .lstm(LSTMCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi,
                          recurrentBias: bh, gateActivation: gate, cellActivation: act, outputActivation: act))
  case .gru(let after):
    if after && bias { bh = tensor([g * h]) }
    return .gru(GRUCell(inputSize: i, hiddenSize: h, kernel: k, recurrentKernel: r, inputBias: bi,
                        recurrentBias: bh, resetAfter: after, gateActivation: gate, candidateActivation: act))
  }
}

/// Whether `a` and `b` compute the same function on `x` (from `initialStates`, zeros when nil):
/// the engine's last output and every layer's final states agree within `tolerance`.
public func engineAgrees<S: RNNScalar>(_ a: Network<S>, _ b: Network<S>, input x: Tensor<S>,
                                       initialStates: [[LayerState<S>]]? = nil, tolerance: Double) throws -> Bool {
  let oa = try Engine.run(a, input: x, initialStates: initialStates)
  let ob = try Engine.run(b, input: x, initialStates: initialStates)
  func close(_ p: Tensor<S>, _ q: Tensor<S>) -> Bool {
    p.shape == q.shape && zip(p.scalars, q.scalars).allSatisfy { abs(Double($0) - Double($1)) <= tolerance }
  }
  guard close(oa.last.merged, ob.last.merged), oa.layers.count == ob.layers.count else { return false }
  for (la, lb) in zip(oa.layers, ob.layers) {
    for (sa, sb) in zip(la.finalStates, lb.finalStates) {
      guard close(sa.h, sb.h) else { return false }
      if let ca = sa.c, let cb = sb.c, !close(ca, cb) { return false }
    }
  }
  return true
}
