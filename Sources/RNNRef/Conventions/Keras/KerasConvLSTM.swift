/// Keras `ConvLSTM1D` / `ConvLSTM2D` / `ConvLSTM3D` over the canonical `ConvLSTMCell`: config,
/// weights and call, used by KerasImport (saved models) and `KerasCases` (conformance cases).
///
/// Conventions, read in both generations' sources (tf-keras 2.21
/// `tf_keras/src/layers/rnn/base_conv_lstm.py` + `base_conv_rnn.py`; Keras 3.15
/// `keras/src/layers/rnn/conv_lstm.py`), identical in both:
/// - weights `kernel (k..., C, 4F)`, `recurrent_kernel (k..., F, 4F)`, `bias (4F)` (absent with
///   `use_bias=False`), in that order (`ConvLSTMCell.build`); gates split along the last axis
///   i, f, c, o (`call`: `ops.split(self.kernel, 4, axis=self.rank + 1)`), the canonical i, f, g, o.
/// - `i = σ(x_i + h_i)`, `f = σ(x_f + h_f)`, `c = f * c_tm1 + i * tanh(x_c + h_c)`, `o = σ(x_o + h_o)`,
///   `h = o * tanh(c)` with σ = `recurrent_activation`, tanh = `activation`: the canonical LSTM.
/// - the bias is added to the input convolution only (`input_conv(..., b)`); `unit_forget_bias`
///   only initialises it (`bias_initializer` puts ones in the f block).
/// - the input convolution takes `strides`, `padding`, `dilation_rate`, `data_format`
///   (`input_conv`); the recurrent one always strides 1, pads `"same"` and is *not* dilated
///   (`recurrent_conv` passes neither the strides nor `dilation_rate`).
/// - states `[h, c]`, each `(N, o..., F)` (channels_last) or `(N, F, o...)` (channels_first), `o` the
///   input convolution's output size (tf-keras `get_initial_state` convolves a zero input; Keras 3
///   `compute_output_shape` -> `compute_conv_output_shape`).
/// - `return_sequences`, `return_state` (`[output, h, c]`), `go_backwards` (outputs in processing
///   order, as every Keras RNN), `initial_state` `[h, c]`, all through the base `RNN`.
/// - `dropout`, `recurrent_dropout` act only in training. Masks (a `(N, T)` step mask from an explicit
///   `mask=`) and `stateful=True` are not supported here and are refused.
/// Keras 3.15 on the TensorFlow backend cannot run `channels_first` ConvLSTM1D/2D on a CPU
/// (TensorFlow's CPU Conv2D is NHWC only); tf-keras transposes and runs it; both run ConvLSTM3D.
extension Keras {
  /// A ConvLSTM layer's config.
  public struct ConvLSTMConfig: Equatable, Sendable {
    public var name: String
    public var className: String
    public var rank: Int
    public var filters: Int
    public var kernelSize: [Int]
    public var strides: [Int]
    public var dilation: [Int]
    public var padding: ConvPadding
    public var channelsFirst: Bool
    public var activation: Activation
    public var recurrentActivation: Activation
    public var useBias: Bool
    public var returnSequences: Bool
    public var returnState: Bool
    public var goBackwards: Bool

    /// Stored weights in `layer.weights` order.
    public var weightLeaves: [String] { useBias ? ["kernel", "recurrent_kernel", "bias"] : ["kernel", "recurrent_kernel"] }
  }

  public static let convLSTMClasses: Set<String> = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

  /// Reads a ConvLSTM layer (`{"class_name", "config"}`).
  public static func convLSTMConfig(layer: [String: JSONValue], version: Version) throws -> ConvLSTMConfig {
    let cls = layer["class_name"]?.string ?? "?"
    guard convLSTMClasses.contains(cls), let rank = Int(String(cls.dropFirst("ConvLSTM".count).prefix(1))) else {
      throw invalid("class_name", layer["class_name"], "expected ConvLSTM1D, ConvLSTM2D or ConvLSTM3D")
    }
    guard let c = layer["config"]?.object else { throw invalid("layer config", layer["config"], "expected an object") }
    let name = c["name"]?.string ?? layer["name"]?.string ?? "?"
    if version.isKeras1 {
      throw invalid("layer `\(name)`", .string(cls), "Keras 1 ConvLSTM configs (nb_filter, nb_row, ...) are not read")
    }
    guard let filters = c["filters"]?.int, filters > 0 else {
      throw invalid("\(name).filters", c["filters"], "expected a positive integer")
    }
    // `standardize_tuple` / `normalize_tuple`: an integer or a list of `rank` integers.
    func tuple(_ key: String, _ def: Int) throws -> [Int] {
      guard let v = c[key], !v.isNull else { return Array(repeating: def, count: rank) }
      if let i = v.int { return Array(repeating: i, count: rank) }
      guard let a = v.array?.compactMap({ $0.int }), a.count == rank, v.array?.count == rank else {
        throw invalid("\(name).\(key)", v, "expected an integer or \(rank) integers")
      }
      return a
    }
    let kernel = try tuple("kernel_size", 1), strides = try tuple("strides", 1), dilation = try tuple("dilation_rate", 1)
    guard c["kernel_size"] != nil, kernel.allSatisfy({ $0 >= 1 }), strides.allSatisfy({ $0 >= 1 }),
          dilation.allSatisfy({ $0 >= 1 }) else {
      throw invalid("\(name).kernel_size/strides/dilation_rate", c["kernel_size"],
                    "kernel_size is required; every kernel size, stride and dilation must be >= 1")
    }
    if strides.contains(where: { $0 > 1 }) && dilation.contains(where: { $0 > 1 }) {
      throw invalid("\(name).strides", c["strides"], "Keras refuses strides > 1 together with dilation_rate > 1")
    }
    guard let padding = ConvPadding(rawValue: (c["padding"]?.string ?? "valid").lowercased()) else {
      throw invalid("\(name).padding", c["padding"], "expected valid or same")
    }
    let df = c["data_format"]?.string ?? "channels_last"  // None: image_data_format(), 'channels_last' by default
    guard df == "channels_last" || df == "channels_first" else {
      throw invalid("\(name).data_format", c["data_format"], "expected channels_last or channels_first")
    }
    if c["stateful"]?.bool == true {
      throw RNNRefError.unsupported(framework: "Keras", feature: "stateful=True on \(cls) `\(name)`")
    }
    if c["time_major"]?.bool == true {
      throw invalid("\(name).time_major", .bool(true), "time-major Keras layers are not supported")
    }
    let act = try activation(c["activation"], key: "\(name).activation", version: version) ?? .tanh
    let rec = try activation(c["recurrent_activation"], key: "\(name).recurrent_activation", version: version)
      ?? (version.isBefore2_3 ? .hardSigmoidKeras2 : .sigmoid)
    return ConvLSTMConfig(
      name: name, className: cls, rank: rank, filters: filters, kernelSize: kernel, strides: strides,
      dilation: dilation, padding: padding, channelsFirst: df == "channels_first", activation: act,
      recurrentActivation: rec, useBias: c["use_bias"]?.bool ?? true,
      returnSequences: c["return_sequences"]?.bool ?? false, returnState: c["return_state"]?.bool ?? false,
      goBackwards: c["go_backwards"]?.bool ?? false)
  }

  /// The canonical cell from the stored weights, in `layer.weights` order (`kernel`,
  /// `recurrent_kernel`[, `bias`]); names only for errors. `inputChannels` from the model when known.
  public static func importConvLSTM<Scalar: RNNScalar>(
    _ l: ConvLSTMConfig, inputChannels: Int?, weights: [(name: String, tensor: Tensor<Scalar>)]
  ) throws -> ConvLSTMCell<Scalar> {
    guard weights.count == l.weightLeaves.count else {
      throw RNNRefError.invalidConfig(
        key: "layer `\(l.name)` weights", value: "\(weights.count) arrays (\(weights.map(\.name).joined(separator: ", ")))",
        reason: "a \(l.className) with use_bias=\(l.useBias ? "True" : "False") stores \(l.weightLeaves.joined(separator: ", "))")
    }
    let k = weights[0].tensor, f4 = 4 * l.filters
    let channels = inputChannels ?? (k.rank == l.rank + 2 ? k.shape[l.rank] : -1)
    func check(_ w: (name: String, tensor: Tensor<Scalar>), _ expected: [Int], _ reason: String) throws {
      guard w.tensor.shape == expected else {
        throw RNNRefError.shapeMismatch(name: "layer `\(l.name)` weight `\(w.name)`", actual: w.tensor.shape,
                                        expected: expected, reason: reason)
      }
    }
    try check(weights[0], l.kernelSize + [channels, f4], "\(l.className) kernel is (kernel_size..., input channels, 4*filters)")
    try check(weights[1], l.kernelSize + [l.filters, f4], "\(l.className) recurrent_kernel is (kernel_size..., filters, 4*filters)")
    var bias = Tensor<Scalar>(uncheckedZeros: [f4])
    if l.useBias {
      try check(weights[2], [f4], "\(l.className) bias is (4*filters)")
      bias = weights[2].tensor
    }
    return ConvLSTMCell(inputChannels: channels, filters: l.filters, kernelSize: l.kernelSize, strides: l.strides,
                        dilation: l.dilation, padding: l.padding, kernel: k, recurrentKernel: weights[1].tensor,
                        bias: bias, gateActivation: l.recurrentActivation, cellActivation: l.activation,
                        outputActivation: l.activation)
  }

  /// Axis permutations between the layer's data format and the canonical channels_last, for a
  /// tensor with `lead` leading axes (batch, or batch and time) and `rank` spatial axes.
  static func toChannelsLast(lead: Int, rank: Int) -> [Int] {
    Array(0..<lead) + Array((lead + 1)...(lead + rank)) + [lead]
  }
  static func toChannelsFirst(lead: Int, rank: Int) -> [Int] {
    Array(0..<lead) + [lead + rank] + Array(lead..<(lead + rank))
  }

  /// Calls a ConvLSTM layer as Keras does: `x (N, T, spatial..., C)` (channels_first: `(N, T, C,
  /// spatial...)`), `initialStates` `[h, c]` in the layer's data format, named for errors.
  /// Returns the native outputs: the sequence `(N, T, o..., F)` or the last output `(N, o..., F)`,
  /// then `h`, `c` with `return_state`, all in the layer's data format.
  public static func callConvLSTM<Scalar: RNNScalar>(
    _ l: ConvLSTMConfig, cell: ConvLSTMCell<Scalar>, input x: Tensor<Scalar>,
    initialStates: [(name: String, tensor: Tensor<Scalar>)]?
  ) throws -> [Tensor<Scalar>] {
    let r = l.rank
    guard x.rank == r + 3 else {
      throw RNNRefError.shapeMismatch(name: "input of layer `\(l.name)`", actual: x.shape,
                                      expected: [-1, -1] + Array(repeating: -1, count: r + 1),
                                      reason: "\(l.className) takes (batch, steps, \(r) spatial axes and channels); -1 stands for any size")
    }
    let xl = l.channelsFirst ? x.transposed(toChannelsLast(lead: 2, rank: r)) : x
    var initial: LayerState<Scalar>?
    if let given = initialStates {
      guard given.count == 2 else {
        throw RNNRefError.invalidConfig(key: "layer `\(l.name)`", value: "\(given.count) initial states",
                                        reason: "a ConvLSTM layer takes 2: h and c")
      }
      let states = given.map { l.channelsFirst && $0.tensor.rank == r + 2 ? $0.tensor.transposed(toChannelsLast(lead: 1, rank: r)) : $0.tensor }
      initial = LayerState(h: states[0], c: states[1])
    }
    let (sequence, final) = try Engine.runConvLSTM(cell, input: xl, reversed: l.goBackwards, initialState: initial)
    let n = sequence.shape[0], steps = sequence.shape[1], per = Array(sequence.shape.dropFirst(2))
    var outs: [Tensor<Scalar>]
    if l.returnSequences {
      outs = [sequence]
    } else if steps > 0 {
      // The last processed step (input step 0 with go_backwards): the sequence's last slot.
      outs = [sequence.slice(axis: 1, range: (steps - 1)..<steps).reshaped([n] + per)]
    } else {
      outs = [Tensor(uncheckedZeros: [n] + per)]
    }
    if l.returnState { outs += [final.h, final.c ?? final.h] }
    guard l.channelsFirst else { return outs }
    return outs.enumerated().map { k, t in
      t.transposed(toChannelsFirst(lead: k == 0 && l.returnSequences ? 2 : 1, rank: r))
    }
  }
}
