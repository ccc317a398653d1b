/// The gate blocks along a framework's fused gate axis (`G*H`): the framework's letters in its
/// order, and the canonical gate each block holds. Canonical orders: LSTM **i, f, g, o**; GRU
/// **z, r, n**; a simple RNN one block (letter ""). The one table of each framework's order:
/// the PyTorch, ONNX and TF1 (LSTM) adapters reorder their weights by `toCanonical` /
/// `fromCanonical` (Keras needs none; TF1's GRU splits `gates/` r, u by hand), and Conformance's
/// diagnosis names gates by `letters`.
public struct GateOrder: Sendable, Equatable, CustomStringConvertible {
  /// The framework's letters in its order along the gate axis (ONNX LSTM `["i", "o", "f", "c"]`).
  public let letters: [String]
  /// The canonical gate each native block holds, in native order (ONNX LSTM `["i", "o", "f", "g"]`).
  public let canonical: [String]
  /// The canonical order of the cell's gates.
  public let family: CellFamily

  /// `letters` and `canonical` as space-separated letters ("" for a simple RNN's one block).
  init(_ family: CellFamily, _ letters: String, means canonical: String) {
    self.family = family
    self.letters = letters.isEmpty ? [""] : letters.split(separator: " ").map(String.init)
    self.canonical = canonical.isEmpty ? [""] : canonical.split(separator: " ").map(String.init)
  }

  /// The canonical gate order of a cell family.
  public static func canonicalLetters(_ family: CellFamily) -> [String] {
    switch family {
    case .lstm: ["i", "f", "g", "o"]
    case .gru: ["z", "r", "n"]
    case .rnn, .mixed: [""]
    }
  }

  /// Native block indices in canonical order: `native.reorderingBlocks(toCanonical, axis:)` is
  /// canonical (canonical block j is native block `toCanonical[j]`). An order holding part of
  /// the gates (TF1's GRU `gates/` tensor: r, u) lists its blocks in canonical order (u, r).
  public var toCanonical: [Int] {
    Self.canonicalLetters(family).compactMap { canonical.firstIndex(of: $0) }
  }

  /// The inverse of `toCanonical`: `canonicalTensor.reorderingBlocks(fromCanonical, axis:)` is native.
  public var fromCanonical: [Int] {
    let to = toCanonical
    return to.indices.map { k in to.firstIndex(of: k)! }
  }

  /// "i, o, f, c".
  public var description: String { letters.joined(separator: ", ") }
}

extension Framework {
  /// This framework's gate order for a cell family (`mixed` as `rnn`).
  /// - keras: LSTM i, f, c, o; GRU z, r, h: the canonical orders (no reordering on import).
  /// - tf1: LSTMCell/BasicLSTMCell i, j, f, o (j the candidate); GRUCell's `gates/kernel` r, u
  ///   (u = z; the candidate n is the separate `candidate/kernel`).
  /// - pytorch: LSTM i, f, g, o; GRU r, z, n.
  /// - onnx: LSTM i, o, f, c; GRU z, r, h.
  public func gateOrder(_ family: CellFamily) -> GateOrder {
    switch (self, family) {
    case (_, .rnn), (_, .mixed): GateOrder(.rnn, "", means: "")
    case (.keras, .lstm): GateOrder(.lstm, "i f c o", means: "i f g o")
    case (.keras, .gru): GateOrder(.gru, "z r h", means: "z r n")
    case (.tf1, .lstm): GateOrder(.lstm, "i j f o", means: "i g f o")
    case (.tf1, .gru): GateOrder(.gru, "r u", means: "r z")
    case (.pytorch, .lstm): GateOrder(.lstm, "i f g o", means: "i f g o")
    case (.pytorch, .gru): GateOrder(.gru, "r z n", means: "r z n")
    case (.onnx, .lstm): GateOrder(.lstm, "i o f c", means: "i o f g")
    case (.onnx, .gru): GateOrder(.gru, "z r h", means: "z r n")
    }
  }

  /// The gate order whose cell has `gates` blocks (1, 3 or 4), nil for another count.
  public func gateOrder(gates: Int) -> GateOrder? {
    switch gates {
    case 1: gateOrder(.rnn)
    case 3: gateOrder(.gru)
    case 4: gateOrder(.lstm)
    default: nil
    }
  }
}
