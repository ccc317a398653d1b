import Foundation
import RNNRef

/// One convention mistake to try against a failing case: a change to the native weights, to the
/// native configuration, to the canonical layers the engine runs (`LayerRewrite`), or to the
/// reference's outputs (their layout), or several of these for a pair of mistakes. The reference
/// runs the case's own adapter under the change; the mistake explains the case when the result
/// matches the expected outputs within the case's tolerance.
struct Hypothesis: Sendable {
  typealias Tensors = NamedTensors<Double>
  var kind: DiagnosisKind
  var description: String
  /// Native weights as the mistaken conversion left them; nil = unchanged.
  var weights: (@Sendable (Tensors) -> Tensors?)?
  /// The native configuration the outputs were computed with; nil = the case's.
  var config: JSONValue?
  /// The canonical layers the outputs were computed with.
  var rewrite: (any LayerRewrite)?
  /// The reference's outputs rearranged as the mistake stored them.
  var outputs: (@Sendable (Tensors) -> Tensors?)?
  /// How many mistakes it combines (1, or 2 for a pair).
  var atoms = 1

  /// Both mistakes at once; nil when both change the configuration.
  func and(_ other: Hypothesis) -> Hypothesis? {
    if config != nil && other.config != nil { return nil }
    var h = self
    h.description = description + "; AND " + other.description
    h.atoms = atoms + other.atoms
    h.config = config ?? other.config
    if let f = weights, let g = other.weights { h.weights = { w in f(w).flatMap(g) } } else { h.weights = weights ?? other.weights }
    if let f = outputs, let g = other.outputs { h.outputs = { o in f(o).flatMap(g) } } else { h.outputs = outputs ?? other.outputs }
    if let a = rewrite, let b = other.rewrite { h.rewrite = Rewrites.Both(first: a, second: b) } else { h.rewrite = rewrite ?? other.rewrite }
    return h
  }
}

/// The canonical-form mistakes: each rewrites every cell or layer it applies to, leaving the rest.
enum Rewrites {
  struct Both: LayerRewrite {
    let first: any LayerRewrite, second: any LayerRewrite
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> { second.rewrite(first.rewrite(layer)) }
  }

  static func mapCells<S: RNNScalar>(_ layer: RecurrentLayer<S>, _ f: (Cell<S>) -> Cell<S>) -> RecurrentLayer<S> {
    var l = layer
    l.cells = layer.cells.map(f)
    return l
  }

  /// Every GRU resets before (`false`) or after (`true`) the recurrent matmul.
  struct ResetAfter: LayerRewrite {
    let value: Bool
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
      mapCells(layer) { cell in
        guard case .gru(var c) = cell else { return cell }
        c.resetAfter = value
        return .gru(c)
      }
    }
  }

  /// Every use of one activation replaced by another.
  struct SwapActivation: LayerRewrite {
    let from: Activation, to: Activation
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
      func r(_ a: Activation) -> Activation { a == from ? to : a }
      return mapCells(layer) { cell in
        switch cell {
        case .simple(var c): c.activation = r(c.activation); return .simple(c)
        case .lstm(var c):
          c.gateActivation = r(c.gateActivation); c.cellActivation = r(c.cellActivation)
          c.outputActivation = r(c.outputActivation); return .lstm(c)
        case .gru(var c):
          c.gateActivation = r(c.gateActivation); c.candidateActivation = r(c.candidateActivation); return .gru(c)
        }
      }
    }
  }

  /// `delta` added to every LSTM's forget-gate pre-activation.
  struct ForgetBias: LayerRewrite {
    let delta: Double
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
      mapCells(layer) { cell in
        guard case .lstm(var c) = cell else { return cell }
        c.forgetBias += delta
        return .lstm(c)
      }
    }
  }

  /// Every layer pads masked steps with `policy`.
  struct Padding: LayerRewrite {
    let policy: PaddingPolicy
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
      var l = layer
      l.padding = policy
      return l
    }
  }

  /// Every bidirectional (or every reverse-only) layer places its backward outputs per `order`.
  struct ReverseOrder: LayerRewrite {
    let order: ReverseOutputOrder
    let direction: Direction
    func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
      guard layer.direction == direction else { return layer }
      var l = layer
      l.reverseOutputOrder = order
      return l
    }
  }
}

/// What a case's layers are, seen by running it once with this recording rewrite: which
/// canonical hypotheses can change anything, and how to word them.
final class LayerProbe: LayerRewrite, @unchecked Sendable {
  struct Seen: Hashable {
    var direction: Direction
    var padding: PaddingPolicy
    var reverseOutputOrder: ReverseOutputOrder
    var families: [CellFamily]
    var resetAfter: [Bool]
    var activations: [Activation]
  }
  private let lock = NSLock()
  private var seen: [Seen] = []

  var layers: [Seen] { lock.lock(); defer { lock.unlock() }; return seen }

  func rewrite<S: RNNScalar>(_ layer: RecurrentLayer<S>) -> RecurrentLayer<S> {
    var s = Seen(direction: layer.direction, padding: layer.padding, reverseOutputOrder: layer.reverseOutputOrder,
                 families: [], resetAfter: [], activations: [])
    for cell in layer.cells {
      switch cell {
      case .simple(let c): s.families.append(.rnn); s.activations.append(c.activation)
      case .lstm(let c):
        s.families.append(.lstm); s.activations += [c.gateActivation, c.cellActivation, c.outputActivation]
      case .gru(let c):
        s.families.append(.gru); s.resetAfter.append(c.resetAfter)
        s.activations += [c.gateActivation, c.candidateActivation]
      }
    }
    lock.lock(); seen.append(s); lock.unlock()
    return layer
  }
}
