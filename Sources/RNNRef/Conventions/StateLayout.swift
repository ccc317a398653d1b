/// Layout plumbing the adapters share: stacking per-layer, per-direction states
/// into a framework's `(L*D, N, H)` tensor (index `layer*D + dir`) and back, and
/// moving between batch-major `(N, T, F)` and the engine's time-major `(T, N, F)`.
public enum StateLayout {
  /// Stacks equally shaped tensors along a new axis at `axis`: k tensors of shape
  /// `S` give shape `S[..<axis] + [k] + S[axis...]`.
  public static func stack<Scalar: RNNScalar>(_ parts: [Tensor<Scalar>], axis: Int) -> Tensor<Scalar> {
    let expanded = parts.map { p -> Tensor<Scalar> in
      var s = p.shape
      s.insert(1, at: axis)
      return p.reshaped(s)
    }
    return Tensor.concatenate(expanded, axis: axis)
  }

  /// The inverse of `stack`: the slices along `axis`, that axis removed.
  public static func unstack<Scalar: RNNScalar>(_ t: Tensor<Scalar>, axis: Int) -> [Tensor<Scalar>] {
    var s = t.shape
    s.remove(at: axis)
    return (0..<t.shape[axis]).map { t.slice(axis: axis, range: $0..<($0 + 1)).reshaped(s) }
  }

  /// Final states per layer (outer) and direction (inner), each `(N, H)`, as one
  /// `(L*D, N, H)` tensor indexed `layer*D + dir` (PyTorch `h_n`, ONNX `Y_h` with L = 1).
  public static func stackLayers<Scalar: RNNScalar>(_ states: [[Tensor<Scalar>]]) -> Tensor<Scalar> {
    stack(states.flatMap { $0 }, axis: 0)
  }

  /// A `(L*D, N, H)` tensor as `[layer][direction]` of `(N, H)`.
  public static func unstackLayers<Scalar: RNNScalar>(_ t: Tensor<Scalar>, layers: Int, directions: Int) -> [[Tensor<Scalar>]] {
    let flat = unstack(t, axis: 0)
    return (0..<layers).map { l in (0..<directions).map { flat[l * directions + $0] } }
  }

  /// Initial states `[layer][direction]` from stacked `h` `(L*D, N, Hout)` and, for an
  /// LSTM, `c` `(L*D, N, H)`, both already checked against those shapes.
  public static func layerStates<Scalar: RNNScalar>(
    h: Tensor<Scalar>, c: Tensor<Scalar>?, layers: Int, directions: Int
  ) -> [[LayerState<Scalar>]] {
    let hs = unstackLayers(h, layers: layers, directions: directions)
    let cs = c.map { unstackLayers($0, layers: layers, directions: directions) }
    return (0..<layers).map { l in (0..<directions).map { LayerState(h: hs[l][$0], c: cs?[l][$0]) } }
  }

  /// Swaps the two leading axes (`(N, T, ...)` <-> `(T, N, ...)`) when `swap` is true.
  public static func swapLeadingAxes<Scalar: RNNScalar>(_ t: Tensor<Scalar>, if swap: Bool) -> Tensor<Scalar> {
    guard swap else { return t }
    var axes = Array(0..<t.rank)
    axes.swapAt(0, 1)
    return t.transposed(axes)
  }

  /// A native sequence as the engine's time-major `(T, N, F)`.
  public static func timeMajor<Scalar: RNNScalar>(_ x: Tensor<Scalar>, batchMajor: Bool) -> Tensor<Scalar> {
    swapLeadingAxes(x, if: batchMajor)
  }

  /// A time-major `(T, N, F)` result in the native layout.
  public static func native<Scalar: RNNScalar>(_ y: Tensor<Scalar>, batchMajor: Bool) -> Tensor<Scalar> {
    swapLeadingAxes(y, if: batchMajor)
  }
}
