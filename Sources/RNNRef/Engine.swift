/// The sequence engine: runs canonical cells over time, per direction and
/// layer. Inputs and outputs are time-major: `x: (T, N, I) -> (T, N, F)`.
public enum Engine {
  /// Runs one layer. `initialStates`: one per direction (zeros when nil).
  /// `mask`: `(N, T)` valid steps; masked steps follow `layer.padding` and carry the state.
  public static func run<Scalar: RNNScalar>(
    _ layer: RecurrentLayer<Scalar>, input x: Tensor<Scalar>, mask: StepMask? = nil,
    initialStates: [LayerState<Scalar>]? = nil
  ) throws -> LayerOutput<Scalar> {
    fatalError("Engine.run(layer:) lands with the RNNRef issue")
  }

  /// Runs a stack. `initialStates[layer][direction]`.
  public static func run<Scalar: RNNScalar>(
    _ network: Network<Scalar>, input x: Tensor<Scalar>, mask: StepMask? = nil,
    initialStates: [[LayerState<Scalar>]]? = nil
  ) throws -> NetworkOutput<Scalar> {
    var layers: [LayerOutput<Scalar>] = []
    var current = x
    for (k, layer) in network.layers.enumerated() {
      let out = try run(layer, input: current, mask: mask, initialStates: initialStates?[k])
      layers.append(out)
      current = out.merged
    }
    return NetworkOutput(layers: layers)
  }

  /// One step of one cell: `x: (N, I)`, `state.h: (N, Hout)` -> the new state.
  public static func step<Scalar: RNNScalar>(
    _ cell: Cell<Scalar>, input x: Tensor<Scalar>, state: LayerState<Scalar>
  ) -> LayerState<Scalar> {
    fatalError("Engine.step lands with the RNNRef issue")
  }
}
