/// The canonical convolutional LSTM (Keras `ConvLSTM1D` / `ConvLSTM2D` / `ConvLSTM3D`): the
/// canonical LSTM with convolutions in place of its two products.
///
/// ```
/// i, f, g, o = split(conv(x_t, W; strides, dilation, padding) + b + conv(h, U; stride 1, 'same'))
/// c' = f(i-gate) ... exactly the canonical LSTM (`LSTMCell`), per spatial position
/// ```
/// A convolution is a product of the patch matrix ("im2col": one row per output position, the
/// window's values kernel position major, channel minor) with the kernel flattened to
/// `(kernel volume * channels, 4F)`. So a ConvLSTM step *is* the canonical LSTM step on
/// `N * P` rows (P output positions): the input projection takes the input's patches, the
/// recurrent product takes the patches of `h`, and the gate math is the engine's one LSTM step
/// (`PreparedLSTM`, CellMath.swift). The only new math here is building patch matrices.
///
/// Canonical layout: channels last, batch-major. `x (N, T, s_1..s_r, C)`, states
/// `h, c (N, o_1..o_r, F)` with `o` the input convolution's output size (below); gates i, f, g, o
/// (Keras' i, f, c, o).

/// How the input convolution pads: `valid` (none) or `same` (output size `ceil(in / stride)`, the
/// total padding `max((out - 1) * stride + span - in, 0)` split with the smaller half before, as
/// TensorFlow's and JAX's `SAME`).
public enum ConvPadding: String, Hashable, Sendable, Codable {
  case valid, same

  /// Output size and padding before, for one spatial axis; `span = dilation * (kernel - 1) + 1`.
  public func plan(length: Int, span: Int, stride: Int) -> (out: Int, before: Int) {
    switch self {
    case .same:
      let out = (length + stride - 1) / stride
      return (out, Swift.max((out - 1) * stride + span - length, 0) / 2)
    case .valid:
      return (length >= span ? (length - span) / stride + 1 : 0, 0)
    }
  }
}

/// One ConvLSTM cell in canonical form (see the file's comment).
public struct ConvLSTMCell<Scalar: RNNScalar>: Equatable, Sendable {
  /// C.
  public var inputChannels: Int
  /// F: the state's channels.
  public var filters: Int
  /// Per spatial axis (r = 1, 2 or 3 entries each).
  public var kernelSize: [Int]
  /// The input convolution's strides (the recurrent convolution always has stride 1).
  public var strides: [Int]
  /// The input convolution's dilation (the recurrent convolution is never dilated).
  public var dilation: [Int]
  /// The input convolution's padding (the recurrent convolution always pads `same`).
  public var padding: ConvPadding
  /// `(k_1..k_r, C, 4F)`, gates i, f, g, o along the last axis.
  public var kernel: Tensor<Scalar>
  /// `(k_1..k_r, F, 4F)`.
  public var recurrentKernel: Tensor<Scalar>
  /// `(4F)`, added to the input convolution.
  public var bias: Tensor<Scalar>
  /// f (gates i, f, o), g (candidate), h (applied to c'), as `LSTMCell`.
  public var gateActivation: Activation
  public var cellActivation: Activation
  public var outputActivation: Activation

  public init(inputChannels: Int, filters: Int, kernelSize: [Int], strides: [Int], dilation: [Int],
              padding: ConvPadding, kernel: Tensor<Scalar>, recurrentKernel: Tensor<Scalar>, bias: Tensor<Scalar>,
              gateActivation: Activation = .sigmoid, cellActivation: Activation = .tanh,
              outputActivation: Activation = .tanh) {
    self.inputChannels = inputChannels; self.filters = filters; self.kernelSize = kernelSize
    self.strides = strides; self.dilation = dilation; self.padding = padding
    self.kernel = kernel; self.recurrentKernel = recurrentKernel; self.bias = bias
    self.gateActivation = gateActivation; self.cellActivation = cellActivation
    self.outputActivation = outputActivation
  }

  /// r.
  public var spatialRank: Int { kernelSize.count }
  /// The product of the kernel sizes.
  public var kernelVolume: Int { kernelSize.reduce(1, *) }

  /// The state's spatial size for an input of spatial size `input` (Keras' `conv_output_length`).
  public func outputSpatial(_ input: [Int]) -> [Int] {
    (0..<spatialRank).map { a in
      padding.plan(length: input[a], span: dilation[a] * (kernelSize[a] - 1) + 1, stride: strides[a]).out
    }
  }

  func validate() throws {
    let r = spatialRank
    guard (1...3).contains(r), strides.count == r, dilation.count == r,
          kernelSize.allSatisfy({ $0 >= 1 }), strides.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }) else {
      throw RNNRefError.invalidConfig(
        key: "ConvLSTM geometry", value: "kernel \(kernelSize), strides \(strides), dilation \(dilation)",
        reason: "1 to 3 spatial axes, one positive kernel size, stride and dilation per axis")
    }
    guard inputChannels >= 1, filters >= 1 else {
      throw RNNRefError.invalidConfig(key: "ConvLSTM sizes", value: "channels \(inputChannels), filters \(filters)",
                                      reason: "both must be positive")
    }
    let f4 = 4 * filters
    if kernel.shape != kernelSize + [inputChannels, f4] {
      throw RNNRefError.shapeMismatch(name: "ConvLSTM kernel", actual: kernel.shape, expected: kernelSize + [inputChannels, f4],
                                      reason: "(kernel_size..., input channels, 4*filters), gates i, f, g, o")
    }
    if recurrentKernel.shape != kernelSize + [filters, f4] {
      throw RNNRefError.shapeMismatch(name: "ConvLSTM recurrent kernel", actual: recurrentKernel.shape,
                                      expected: kernelSize + [filters, f4],
                                      reason: "(kernel_size..., filters, 4*filters), gates i, f, g, o")
    }
    if bias.shape != [f4] {
      throw RNNRefError.shapeMismatch(name: "ConvLSTM bias", actual: bias.shape, expected: [f4], reason: "(4*filters)")
    }
  }
}

/// Where a convolution reads: the geometry of one patch matrix, spatial axes padded to three
/// (leading axes of size 1) so one loop serves ranks 1 to 3.
struct PatchPlan {
  let input: [Int], output: [Int], kernel: [Int], strides: [Int], dilation: [Int], before: [Int]
  let channels: Int

  init(input: [Int], kernel: [Int], strides: [Int], dilation: [Int], padding: ConvPadding, channels: Int) {
    let pad = 3 - input.count
    func three(_ v: [Int], _ fill: Int) -> [Int] { Array(repeating: fill, count: pad) + v }
    self.input = three(input, 1); self.kernel = three(kernel, 1)
    self.strides = three(strides, 1); self.dilation = three(dilation, 1)
    var output: [Int] = [], before: [Int] = []
    for a in 0..<3 {
      let p = padding.plan(length: self.input[a], span: self.dilation[a] * (self.kernel[a] - 1) + 1, stride: self.strides[a])
      output.append(p.out); before.append(p.before)
    }
    self.output = output; self.before = before; self.channels = channels
  }

  /// Output positions per image.
  var positions: Int { output.reduce(1, *) }
  /// Values per input image.
  var imageSize: Int { input.reduce(1, *) * channels }
  /// Columns of the patch matrix: kernel volume * channels.
  var width: Int { kernel.reduce(1, *) * channels }

  /// Writes the patch rows of the images starting at `images[k]` (offsets into `src`, channels
  /// last) to `dst`, `positions` rows of `width` each per image, image after image; zeros where the
  /// window leaves the input.
  @_specialize(where S == Float) @_specialize(where S == Double)
  func patches<S: RNNScalar>(_ src: UnsafePointer<S>, images: [Int], into dst: UnsafeMutablePointer<S>) {
    let C = channels, W = width
    var row = dst
    for base in images {
      for o0 in 0..<output[0] { for o1 in 0..<output[1] { for o2 in 0..<output[2] {
        var col = 0
        for k0 in 0..<kernel[0] {
          let i0 = o0 * strides[0] + k0 * dilation[0] - before[0]
          for k1 in 0..<kernel[1] {
            let i1 = o1 * strides[1] + k1 * dilation[1] - before[1]
            for k2 in 0..<kernel[2] {
              let i2 = o2 * strides[2] + k2 * dilation[2] - before[2]
              if i0 >= 0, i0 < input[0], i1 >= 0, i1 < input[1], i2 >= 0, i2 < input[2] {
                (row + col).update(from: src + base + ((i0 * input[1] + i1) * input[2] + i2) * C, count: C)
              } else {
                (row + col).update(repeating: 0, count: C)
              }
              col += C
            }
          }
        }
        row += W
      } } }
    }
  }
}

extension Engine {
  /// Runs one ConvLSTM cell over a sequence.
  /// - Parameters:
  ///   - x: `(N, T, s_1..s_r, C)`, batch-major, channels last.
  ///   - reversed: process t = T-1 down to 0 (Keras `go_backwards`); outputs stay in processing order.
  ///   - initialState: `h`, `c` each `(N, o_1..o_r, F)`; zeros when nil.
  /// - Returns: `sequence (N, T, o_1..o_r, F)` in processing order, and the final `h`, `c`.
  @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
  public static func runConvLSTM<Scalar: RNNScalar>(
    _ cell: ConvLSTMCell<Scalar>, input x: Tensor<Scalar>, reversed: Bool = false,
    initialState: LayerState<Scalar>? = nil, backend: any MatmulBackend = Matmul.default
  ) throws -> (sequence: Tensor<Scalar>, final: LayerState<Scalar>) {
    try cell.validate()
    let r = cell.spatialRank, C = cell.inputChannels, F = cell.filters
    guard x.rank == r + 3, x.shape[r + 2] == C else {
      throw RNNRefError.shapeMismatch(name: "ConvLSTM input", actual: x.shape,
                                      expected: [-1, -1] + Array(repeating: -1, count: r) + [C],
                                      reason: "batch-major, channels last: (N, T, spatial..., channels) with \(r) spatial axes and \(C) channels from the kernel; -1 stands for any size")
    }
    let N = x.shape[0], T = x.shape[1], spatial = Array(x.shape[2..<(r + 2)])
    let inPlan = PatchPlan(input: spatial, kernel: cell.kernelSize, strides: cell.strides, dilation: cell.dilation,
                           padding: cell.padding, channels: C)
    let outSpatial = cell.outputSpatial(spatial)
    let recPlan = PatchPlan(input: outSpatial, kernel: cell.kernelSize, strides: Array(repeating: 1, count: r),
                            dilation: Array(repeating: 1, count: r), padding: .same, channels: F)
    let P = inPlan.positions, rows = N * P
    let stateShape = [N] + outSpatial + [F]
    if let s = initialState {
      guard s.h.shape == stateShape, s.c?.shape == stateShape else {
        throw RNNRefError.shapeMismatch(name: "ConvLSTM initial state", actual: s.h.shape, expected: stateShape,
                                        reason: "h and c are each (N, output spatial..., filters): the input convolution's output size")
      }
    }
    let kvol = cell.kernelVolume
    // The canonical LSTM step on N*P rows: the "input" of a row is its input patch (kvol*C), the
    // recurrent product reads its patch of h (kvol*F, passed where the LSTM reads h: `outputSize`
    // is that row width, and `newH` is written F wide, as an unprojected LSTM writes it).
    let lstm = PreparedLSTM<Scalar>(
      inputSize: kvol * C, hidden: F, outputSize: kvol * F,
      kernel: backend.prepare(cell.kernel.reshaped([kvol * C, 4 * F])), bias: ConstantScalars(cell.bias.scalars),
      recurrent: backend.prepare(cell.recurrentKernel.reshaped([kvol * F, 4 * F])), projection: nil, peepholes: nil,
      coupledInputForget: false, activationClip: nil, cellClip: nil, projectionClip: nil,
      gateActivation: cell.gateActivation, cellActivation: cell.cellActivation, outputActivation: cell.outputActivation)
    var h = initialState?.h.scalars ?? [Scalar](repeating: 0, count: rows * F)
    var c = initialState?.c?.scalars ?? [Scalar](repeating: 0, count: rows * F)
    var out = [Scalar](repeating: 0, count: N * T * P * F)
    if T > 0 && rows > 0 {
      // Per step: the input convolution (patches of x_t times the kernel), then the recurrent one
      // (patches of h) inside the LSTM step. Patches of one step at a time: memory stays
      // rows * kernel volume * channels, whatever T.
      var xPatches = [Scalar](repeating: 0, count: rows * inPlan.width)
      var pre = [Scalar](repeating: 0, count: rows * 4 * F)
      let ws = StepWorkspace(cell: lstm, batch: rows)
      var hPatches = [Scalar](repeating: 0, count: rows * recPlan.width)
      var newH = [Scalar](repeating: 0, count: rows * F), newC = newH
      let stateOffsets = (0..<N).map { $0 * P * F }
      for k in 0..<T {
        let t = reversed ? T - 1 - k : k
        x.scalars.withUnsafeBufferPointer { xp in
          xPatches.withUnsafeMutableBufferPointer { pp in
            inPlan.patches(xp.baseAddress!, images: (0..<N).map { ($0 * T + t) * inPlan.imageSize }, into: pp.baseAddress!)
          }
        }
        xPatches.withUnsafeBufferPointer { xp in
          pre.withUnsafeMutableBufferPointer { pp in
            backend.multiply(m: rows, a: xp.baseAddress!, lda: inPlan.width, b: lstm.kernel, c: pp.baseAddress!,
                             ldc: 4 * F, accumulate: false)
          }
        }
        h.withUnsafeBufferPointer { hp in
          hPatches.withUnsafeMutableBufferPointer { pp in recPlan.patches(hp.baseAddress!, images: stateOffsets, into: pp.baseAddress!) }
        }
        pre.withUnsafeMutableBufferPointer { preP in
          hPatches.withUnsafeBufferPointer { hp in
            c.withUnsafeBufferPointer { cp in
              newH.withUnsafeMutableBufferPointer { nh in
                newC.withUnsafeMutableBufferPointer { nc in
                  lstm.step(batch: rows, pre: preP.baseAddress!, h: hp.baseAddress!, c: cp.baseAddress!,
                            newH: nh.baseAddress!, newC: nc.baseAddress!, workspace: ws, backend: backend)
                }
              }
            }
          }
        }
        swap(&h, &newH)
        swap(&c, &newC)
        for n in 0..<N {
          let src = n * P * F, dst = (n * T + k) * P * F
          for j in 0..<(P * F) { out[dst + j] = h[src + j] }
        }
      }
    }
    return (Tensor(uncheckedShape: [N, T] + outSpatial + [F], scalars: out),
            LayerState(h: Tensor(uncheckedShape: stateShape, scalars: h), c: Tensor(uncheckedShape: stateShape, scalars: c)))
  }
}
