/// A rewrite of the canonical layers the engine runs, bound for one task with
/// `Engine.$rewrite.withValue(_:operation:)`. Conformance's diagnosis binds one to ask
/// "would the expected outputs match if the framework had used this convention?"
/// (GRU reset before instead of after, the other hard_sigmoid, a forget bias, masked
/// steps zeroed instead of carried, ...) through the adapters' own native I/O, without
/// a second copy of any adapter. Unbound (the default) the engine runs layers as given.
public protocol LayerRewrite: Sendable {
  /// The layer to run instead of `layer`; applied to every layer of every run, and to the
  /// cell of `Engine.step` wrapped in a forward layer.
  func rewrite<Scalar: RNNScalar>(_ layer: RecurrentLayer<Scalar>) -> RecurrentLayer<Scalar>
}

extension Engine {
  /// The rewrite applied to every layer run in this task; nil (the default) runs layers as given.
  @TaskLocal public static var rewrite: (any LayerRewrite)?

  static func rewritten<Scalar: RNNScalar>(_ layer: RecurrentLayer<Scalar>) -> RecurrentLayer<Scalar> {
    guard let r = rewrite else { return layer }
    return r.rewrite(layer)
  }

  static func rewritten<Scalar: RNNScalar>(_ cell: Cell<Scalar>) -> Cell<Scalar> {
    guard let r = rewrite else { return cell }
    return r.rewrite(RecurrentLayer(direction: .forward, cells: [cell])).cells[0]
  }
}
