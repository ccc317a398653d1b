/// The canonical form every framework's recurrent network is imported into.
/// The math is written once, against these types; adapters under
/// `Conventions/` translate names, shapes, gate orders and layouts.
///
/// Canonical weight layout (all cells): gate-packed, input-major, so that the
/// input projection of all time steps is one matrix product `(T*N, I) x (I, G*H)`:
/// - `kernel`: `(I, G*H)`
/// - `recurrentKernel`: `(Hout, G*H)` (Hout = projection size or H)
/// - `inputBias`, `recurrentBias`: `(G*H)` each; a framework with one bias fills
///   `inputBias` and leaves `recurrentBias` zero.
/// Gate blocks along the last axis, in canonical order:
/// - LSTM: i, f, g (cell candidate), o
/// - GRU: z (update), r (reset), n (candidate)
/// - simple RNN: one block.

/// An activation function, as the frameworks name them. ONNX's parameterised
/// forms carry their alpha/beta.
public enum Activation: Hashable, Sendable, Codable {
  case sigmoid
  case tanh
  case relu
  case linear
  /// Keras 2 / tf.keras / tf-keras: `clip(0.2 * x + 0.5, 0, 1)`.
  case hardSigmoidKeras2
  /// Keras 3: `relu6(x + 3) / 6`.
  case hardSigmoidKeras3
  case elu(alpha: Double)
  case selu
  case softsign
  case softplus
  case exponential
  // Keras' further elementwise activations (tf-keras 2.21 and Keras 3.15; see Activations.swift).
  /// `min(max(x, 0), 6)`
  case relu6
  /// `x * sigmoid(x)` (Keras `silu`, `swish`)
  case silu
  /// `x / 2 * erfc(-x / sqrt(2))`, the exact (erf) form; Keras' `gelu` default in both generations.
  case gelu
  /// `x * tanh(softplus(x))`
  case mish
  /// `-softplus(-x)`
  case logSigmoid
  /// `clip(x, -1, 1)`
  case hardTanh
  /// Keras 3 `hard_silu` / `hard_swish`: `x * relu6(x + 3) / 6`.
  case hardSilu
  /// `x - tanh(x)`
  case tanhShrink
  /// `x > t ? x - t : (x < -t ? x + t : 0)`
  case softShrink(threshold: Double)
  /// `|x| > t ? x : 0`
  case hardShrink(threshold: Double)
  /// `x <= -1 ? 0 : (x < 1 ? (x + 1)^2 / 4 : x)`
  case sparsePlus
  /// `x <= -1 ? 0 : (x >= 1 ? 1 : (x + 1) / 2)`
  case sparseSigmoid
  /// `(x + sqrt(x^2 + b)) / 2`
  case squareplus(b: Double)
  // ONNX's list with alpha/beta.
  /// `alpha * x + beta`
  case affine(alpha: Double, beta: Double)
  case leakyRelu(alpha: Double)
  case thresholdedRelu(alpha: Double)
  /// `alpha * tanh(beta * x)`
  case scaledTanh(alpha: Double, beta: Double)
  /// ONNX HardSigmoid: `clip(alpha * x + beta, 0, 1)`.
  case hardSigmoid(alpha: Double, beta: Double)
}

/// Canonical simple RNN: `h' = act(x W + b_x + h U + b_h)`.
public struct SimpleRNNCell<Scalar: RNNScalar>: Equatable, Sendable {
  public var inputSize: Int
  public var hiddenSize: Int
  /// `(I, H)`
  public var kernel: Tensor<Scalar>
  /// `(H, H)`
  public var recurrentKernel: Tensor<Scalar>
  /// `(H)`
  public var inputBias: Tensor<Scalar>
  /// `(H)`
  public var recurrentBias: Tensor<Scalar>
  public var activation: Activation
  /// ONNX `clip`: clamps the activation's input to `[-clip, clip]`.
  public var activationClip: Double?

  public init(inputSize: Int, hiddenSize: Int, kernel: Tensor<Scalar>, recurrentKernel: Tensor<Scalar>,
              inputBias: Tensor<Scalar>, recurrentBias: Tensor<Scalar>,
              activation: Activation = .tanh, activationClip: Double? = nil) {
    self.inputSize = inputSize; self.hiddenSize = hiddenSize
    self.kernel = kernel; self.recurrentKernel = recurrentKernel
    self.inputBias = inputBias; self.recurrentBias = recurrentBias
    self.activation = activation; self.activationClip = activationClip
  }
}

/// Canonical LSTM, gates i, f, g, o:
/// ```
/// i = f_act(x Wi + h Ui + bi + pi * c)        (peephole optional)
/// f = f_act(x Wf + h Uf + bf + forgetBias + pf * c)   or 1 - i when coupledInputForget
/// g = g_act(x Wg + h Ug + bg)
/// c' = f * c + i * g ; clipped to +-cellClip
/// o = f_act(x Wo + h Uo + bo + po * c')       (the new c, as TF1 and ONNX do)
/// m = o * h_act(c') ; h' = m P clipped to +-projectionClip when projected
/// ```
public struct LSTMCell<Scalar: RNNScalar>: Equatable, Sendable {
  public struct Peepholes: Equatable, Sendable {
    /// `(H)` each.
    public var i: Tensor<Scalar>
    public var f: Tensor<Scalar>
    public var o: Tensor<Scalar>
    public init(i: Tensor<Scalar>, f: Tensor<Scalar>, o: Tensor<Scalar>) { self.i = i; self.f = f; self.o = o }
  }
  public var inputSize: Int
  public var hiddenSize: Int
  /// `(I, 4H)`, gates i, f, g, o.
  public var kernel: Tensor<Scalar>
  /// `(Hout, 4H)` where Hout = `projection?.shape[1] ?? hiddenSize`.
  public var recurrentKernel: Tensor<Scalar>
  /// `(4H)`
  public var inputBias: Tensor<Scalar>
  /// `(4H)`
  public var recurrentBias: Tensor<Scalar>
  public var peepholes: Peepholes?
  /// `(H, P)`: the output projection (TF1 `num_proj`, PyTorch `proj_size`).
  public var projection: Tensor<Scalar>?
  public var projectionClip: Double?
  public var cellClip: Double?
  /// Added to the forget gate's pre-activation at run time (TF1 `forget_bias`).
  public var forgetBias: Double
  /// ONNX `input_forget`: f = 1 - i.
  public var coupledInputForget: Bool
  /// ONNX `clip`: clamps every activation's input to `[-clip, clip]`.
  public var activationClip: Double?
  /// f: the gates i, f, o.
  public var gateActivation: Activation
  /// g: the cell candidate.
  public var cellActivation: Activation
  /// h: applied to the cell state for the output.
  public var outputActivation: Activation

  public var outputSize: Int { projection?.shape[1] ?? hiddenSize }

  public init(inputSize: Int, hiddenSize: Int, kernel: Tensor<Scalar>, recurrentKernel: Tensor<Scalar>,
              inputBias: Tensor<Scalar>, recurrentBias: Tensor<Scalar>, peepholes: Peepholes? = nil,
              projection: Tensor<Scalar>? = nil, projectionClip: Double? = nil, cellClip: Double? = nil,
              forgetBias: Double = 0, coupledInputForget: Bool = false, activationClip: Double? = nil,
              gateActivation: Activation = .sigmoid, cellActivation: Activation = .tanh,
              outputActivation: Activation = .tanh) {
    self.inputSize = inputSize; self.hiddenSize = hiddenSize
    self.kernel = kernel; self.recurrentKernel = recurrentKernel
    self.inputBias = inputBias; self.recurrentBias = recurrentBias
    self.peepholes = peepholes; self.projection = projection; self.projectionClip = projectionClip
    self.cellClip = cellClip; self.forgetBias = forgetBias; self.coupledInputForget = coupledInputForget
    self.activationClip = activationClip
    self.gateActivation = gateActivation; self.cellActivation = cellActivation
    self.outputActivation = outputActivation
  }
}

/// Canonical GRU, gates z, r, n:
/// ```
/// z = f(x Wz + bWz + h Uz + bUz)
/// r = f(x Wr + bWr + h Ur + bUr)
/// resetAfter:  n = g(x Wn + bWn + r * (h Un + bUn))     PyTorch, cuDNN, Keras reset_after=True, ONNX lbr=1
/// otherwise:   n = g(x Wn + bWn + (r * h) Un + bUn)     TF1 GRUCell, Keras reset_after=False, ONNX default
/// h' = z * h + (1 - z) * n
/// ```
public struct GRUCell<Scalar: RNNScalar>: Equatable, Sendable {
  public var inputSize: Int
  public var hiddenSize: Int
  /// `(I, 3H)`, gates z, r, n.
  public var kernel: Tensor<Scalar>
  /// `(H, 3H)`
  public var recurrentKernel: Tensor<Scalar>
  /// `(3H)`
  public var inputBias: Tensor<Scalar>
  /// `(3H)`
  public var recurrentBias: Tensor<Scalar>
  public var resetAfter: Bool
  public var activationClip: Double?
  /// f: z and r.
  public var gateActivation: Activation
  /// g: the candidate n.
  public var candidateActivation: Activation

  public init(inputSize: Int, hiddenSize: Int, kernel: Tensor<Scalar>, recurrentKernel: Tensor<Scalar>,
              inputBias: Tensor<Scalar>, recurrentBias: Tensor<Scalar>, resetAfter: Bool,
              activationClip: Double? = nil, gateActivation: Activation = .sigmoid,
              candidateActivation: Activation = .tanh) {
    self.inputSize = inputSize; self.hiddenSize = hiddenSize
    self.kernel = kernel; self.recurrentKernel = recurrentKernel
    self.inputBias = inputBias; self.recurrentBias = recurrentBias
    self.resetAfter = resetAfter; self.activationClip = activationClip
    self.gateActivation = gateActivation; self.candidateActivation = candidateActivation
  }
}

/// One canonical recurrent cell.
public enum Cell<Scalar: RNNScalar>: Equatable, Sendable {
  case simple(SimpleRNNCell<Scalar>)
  case lstm(LSTMCell<Scalar>)
  case gru(GRUCell<Scalar>)

  public var inputSize: Int {
    switch self { case .simple(let c): c.inputSize; case .lstm(let c): c.inputSize; case .gru(let c): c.inputSize }
  }
  public var hiddenSize: Int {
    switch self { case .simple(let c): c.hiddenSize; case .lstm(let c): c.hiddenSize; case .gru(let c): c.hiddenSize }
  }
  /// The size of `h` (the projection size for a projected LSTM).
  public var outputSize: Int {
    switch self { case .simple(let c): c.hiddenSize; case .lstm(let c): c.outputSize; case .gru(let c): c.hiddenSize }
  }
  public var hasCellState: Bool { if case .lstm = self { true } else { false } }
}

public enum Direction: String, Hashable, Sendable, Codable {
  case forward, reverse, bidirectional
}

/// How a bidirectional layer combines its two directions (Keras `merge_mode`).
public enum MergeMode: String, Hashable, Sendable, Codable {
  case concat, sum, mul, ave
  /// Both directions' outputs are returned separately.
  case none
}

/// What a step outside a sample's length (or masked out) outputs. The state is
/// carried through unchanged in both policies.
public enum PaddingPolicy: String, Hashable, Sendable, Codable {
  /// Zeros (TF1 `sequence_length`, PyTorch packed sequences, ONNX Runtime,
  /// Keras with `zero_output_for_mask`, as Bidirectional with `return_sequences` sets).
  case zeroOutput
  /// The previous step's output, zeros before the first valid step (Keras' generic path).
  case repeatPreviousOutput
}

/// Where a reverse direction's outputs are placed.
public enum ReverseOutputOrder: String, Hashable, Sendable, Codable {
  /// Output at step t belongs to input step t (TF1, PyTorch, ONNX, Keras Bidirectional).
  case alignedToInput
  /// Output k is the k-th processed step, i.e. input step T-1-k (Keras `go_backwards`).
  case timeReversed
}

/// One layer: a cell per direction (one for forward or reverse, two for
/// bidirectional: forward first, backward second).
public struct RecurrentLayer<Scalar: RNNScalar>: Equatable, Sendable {
  public var direction: Direction
  public var cells: [Cell<Scalar>]
  public var merge: MergeMode
  public var padding: PaddingPolicy
  public var reverseOutputOrder: ReverseOutputOrder

  public init(direction: Direction, cells: [Cell<Scalar>], merge: MergeMode = .concat,
              padding: PaddingPolicy = .zeroOutput, reverseOutputOrder: ReverseOutputOrder = .alignedToInput) {
    precondition(cells.count == (direction == .bidirectional ? 2 : 1),
                 "\(direction) layer needs \(direction == .bidirectional ? 2 : 1) cells, got \(cells.count)")
    self.direction = direction; self.cells = cells; self.merge = merge
    self.padding = padding; self.reverseOutputOrder = reverseOutputOrder
  }

  public var inputSize: Int { cells[0].inputSize }
  /// Feature size of the merged output.
  public var outputSize: Int {
    let h = cells[0].outputSize
    return (direction == .bidirectional && merge == .concat) ? 2 * h : h
  }
}

/// A residual connection (TF1 `ResidualWrapper`): the input of layer `from` is added to the
/// merged output of layer `to` (`from <= to`) at every valid step; masked steps keep their
/// padding output (zeros: a residual needs `PaddingPolicy.zeroOutput` on layer `to`). The sum
/// is layer `to`'s `merged` output, so layer `to + 1` (or the network's output) reads it; the
/// states are untouched. `Residual(from: k, to: k)` wraps one layer, `Residual(from: 0, to: L-1)`
/// a whole stack. The input of layer `from` and the output of layer `to` need equal feature sizes.
public struct Residual: Hashable, Sendable, Codable {
  public var from: Int
  public var to: Int
  public init(from: Int, to: Int) { self.from = from; self.to = to }
}

/// A stack of layers; layer k+1 reads layer k's (merged) output, plus any `residuals` ending at layer k.
public struct Network<Scalar: RNNScalar>: Equatable, Sendable {
  public var layers: [RecurrentLayer<Scalar>]
  /// Residual connections, applied in order (several may end at one layer; each adds the input
  /// of its `from` layer as that layer read it).
  public var residuals: [Residual]
  public init(layers: [RecurrentLayer<Scalar>], residuals: [Residual] = []) {
    self.layers = layers; self.residuals = residuals
  }
}

/// The recurrent state of one direction of one layer.
public struct LayerState<Scalar: RNNScalar>: Equatable, Sendable {
  /// `(N, Hout)`
  public var h: Tensor<Scalar>
  /// `(N, H)`, LSTM only.
  public var c: Tensor<Scalar>?
  public init(h: Tensor<Scalar>, c: Tensor<Scalar>? = nil) { self.h = h; self.c = c }
}

/// Which steps of which samples are valid. `(N, T)`, row-major, true = valid.
/// Lengths are the special case of a valid prefix.
public struct StepMask: Equatable, Sendable {
  public var batch: Int
  public var steps: Int
  public var valid: [Bool]

  public init(batch: Int, steps: Int, valid: [Bool]) {
    precondition(valid.count == batch * steps, "mask needs \(batch * steps) entries, got \(valid.count)")
    self.batch = batch; self.steps = steps; self.valid = valid
  }

  /// A valid prefix of `lengths[n]` steps for sample n.
  public init(lengths: [Int], steps: Int) {
    self.init(batch: lengths.count, steps: steps,
              valid: lengths.flatMap { len in (0..<steps).map { $0 < len } })
  }

  public subscript(batch n: Int, step t: Int) -> Bool { valid[n * steps + t] }
}

/// What one layer produced.
public struct LayerOutput<Scalar: RNNScalar>: Equatable, Sendable {
  /// Per direction `(T, N, Hout)`, time-major, in the layer's `reverseOutputOrder`.
  public var directionOutputs: [Tensor<Scalar>]
  /// Merged per `merge` (`(T, N, F)`); for `.none`, the concatenation (what the next layer reads).
  public var merged: Tensor<Scalar>
  /// Final state per direction: the state after the last valid step of each sample.
  public var finalStates: [LayerState<Scalar>]
}

/// What a network produced.
public struct NetworkOutput<Scalar: RNNScalar>: Equatable, Sendable {
  /// One entry per layer, first layer first.
  public var layers: [LayerOutput<Scalar>]
  public var last: LayerOutput<Scalar> { layers[layers.count - 1] }
}
