import Testing
import RNNRef

/// Each framework's gate order as its documentation gives it (Keras `LSTMCell`: i, f, c, o;
/// torch.nn.GRU: r, z, n; ONNX LSTM: i, o, f, c; TF1 `LSTMCell`: i, j, f, o), and the
/// permutations the adapters reorder weights by (TF1.swift still writes its own [0, 2, 1, 3]
/// and GRU [r, u] swap; these pin the vocabulary to them).
@Suite struct GateOrderTests {
  @Test func lettersAsDocumented() {
    #expect(Framework.keras.gateOrder(.lstm).letters == ["i", "f", "c", "o"])
    #expect(Framework.keras.gateOrder(.gru).letters == ["z", "r", "h"])
    #expect(Framework.tf1.gateOrder(.lstm).letters == ["i", "j", "f", "o"])
    #expect(Framework.tf1.gateOrder(.gru).letters == ["r", "u"])
    #expect(Framework.pytorch.gateOrder(.lstm).letters == ["i", "f", "g", "o"])
    #expect(Framework.pytorch.gateOrder(.gru).letters == ["r", "z", "n"])
    #expect(Framework.onnx.gateOrder(.lstm).letters == ["i", "o", "f", "c"])
    #expect(Framework.onnx.gateOrder(.gru).letters == ["z", "r", "h"])
    for f in Framework.allCases {
      #expect(f.gateOrder(.rnn).letters == [""])
      #expect(f.gateOrder(gates: 2) == nil)
      for family in [CellFamily.rnn, .lstm, .gru] {
        #expect(f.gateOrder(gates: f.gateOrder(family).letters.count) == f.gateOrder(family) || f == .tf1)
      }
    }
  }

  @Test func permutations() {
    #expect(Framework.keras.gateOrder(.lstm).toCanonical == [0, 1, 2, 3])
    #expect(Framework.keras.gateOrder(.gru).toCanonical == [0, 1, 2])
    #expect(Framework.tf1.gateOrder(.lstm).toCanonical == [0, 2, 1, 3])
    #expect(Framework.tf1.gateOrder(.gru).toCanonical == [1, 0])
    #expect(Framework.pytorch.gateOrder(.lstm).toCanonical == [0, 1, 2, 3])
    #expect(Framework.pytorch.gateOrder(.gru).toCanonical == [1, 0, 2])
    #expect(Framework.onnx.gateOrder(.lstm).toCanonical == [0, 2, 3, 1])
    #expect(Framework.onnx.gateOrder(.lstm).fromCanonical == [0, 3, 1, 2])
    #expect(Framework.onnx.gateOrder(.gru).toCanonical == [0, 1, 2])
    #expect(Framework.onnx.gateOrder(.rnn).toCanonical == [0])
  }

  /// Native blocks taken to canonical and back are the native blocks; canonical block j holds
  /// the canonical letter j.
  @Test func roundTrip() throws {
    for f in Framework.allCases {
      for family in [CellFamily.rnn, .lstm, .gru] {
        let order = f.gateOrder(family)
        let n = order.letters.count
        let native = try Tensor<Double>(shape: [n], scalars: (0..<n).map(Double.init))
        let canonical = native.reorderingBlocks(order.toCanonical, axis: 0)
        #expect(canonical.reorderingBlocks(order.fromCanonical, axis: 0) == native)
        let held = canonical.scalars.map { order.canonical[Int($0)] }
        #expect(held == GateOrder.canonicalLetters(family).filter(order.canonical.contains), "\(f) \(family)")
      }
    }
  }
}
