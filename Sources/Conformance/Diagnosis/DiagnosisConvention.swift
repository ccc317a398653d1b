import KerasImport
import RNNRef

/// A native weight tensor with one axis of gate blocks, as an adapter describes it for diagnosis.
struct GateTensor: Sendable, Equatable {
  var name: String
  /// The axis holding `groups * gates.count` blocks of H.
  var axis: Int
  /// The framework's gate letters in its native order (`["r", "z", "n"]`); one empty letter for
  /// a simple RNN (no order to get wrong, but a kernel to transpose).
  var gates: [String]
  /// Bias tensors holding an input and a recurrent part side by side (ONNX `B`: 2), else 1.
  var groups: Int = 1
  var isBias: Bool
  /// Tensors of one layer and direction share a group name (`_l0_reverse`, a Keras layer path).
  var layer: String
}

/// Where an input bias and its recurrent bias are stored: two tensors, two rows of one tensor
/// (Keras GRU `(2, 3H)`), or two halves of one axis (ONNX `B`).
struct BiasPart: Sendable, Equatable {
  var name: String
  /// nil: the whole tensor; else part `index` of `count` equal parts along `axis`.
  var axis: Int?
  var index = 0
  var count = 1

  var label: String { axis == nil ? "`\(name)`" : "part \(index + 1) of \(count) of `\(name)` (axis \(axis!))" }

  func get(_ w: NamedTensors<Double>) -> Tensor<Double>? {
    guard let t = w[name] else { return nil }
    guard let axis else { return t }
    guard axis < t.rank, t.shape[axis] % count == 0 else { return nil }
    return t.split(count, axis: axis)[index]
  }

  func set(_ w: inout NamedTensors<Double>, _ value: Tensor<Double>) {
    guard let t = w[name] else { return }
    guard let axis else { w[name] = value; return }
    var parts = t.split(count, axis: axis)
    parts[index] = value
    w[name] = Tensor.concatenate(parts, axis: axis)
  }
}

struct BiasPair: Sendable, Equatable {
  var input: BiasPart
  var recurrent: BiasPart
}

/// State outputs stacked along one axis by layer and direction (PyTorch `h_n`: `layer*D + dir`).
struct StateStack: Sendable, Equatable {
  var name: String
  var axis: Int
  var layers: Int
  var directions: Int
}

/// A configuration the same call could have been made with by mistake.
struct ConfigVariant: Sendable {
  var kind: DiagnosisKind
  var config: JSONValue
  var description: String
}

/// What an adapter tells the diagnosis about its native form: which weights hold gate blocks
/// and in which order, where its biases pair up, how its outputs stack states, and which
/// configuration switches a user gets wrong. Read from the native configuration and weight
/// names only; the math stays in the engine. Conformances for the four case adapters follow.
protocol DiagnosisConvention {
  static func gateTensors(config: JSONValue, weights: NamedTensors<Double>) -> [GateTensor]
  static func biasPairs(config: JSONValue, weights: NamedTensors<Double>) -> [BiasPair]
  static func stateStacks(config: JSONValue, outputs: NamedTensors<Double>) -> [StateStack]
  static func configVariants(config: JSONValue) -> [ConfigVariant]
}

extension DiagnosisConvention {
  static func biasPairs(config: JSONValue, weights: NamedTensors<Double>) -> [BiasPair] { [] }
  static func stateStacks(config: JSONValue, outputs: NamedTensors<Double>) -> [StateStack] { [] }
  static func configVariants(config: JSONValue) -> [ConfigVariant] { [] }
}

extension ConfigVariant {
  /// The run-time layout switch at `path` flipped to `value` (a time-major / batch-major mix-up),
  /// or none when `path` cannot be set.
  static func timeMajor(_ config: JSONValue, _ path: [String], _ value: JSONValue, _ description: String) -> [ConfigVariant] {
    guard let c = config.setting(path, value) else { return [] }
    return [ConfigVariant(kind: .timeMajor, config: c, description: description)]
  }
}

extension JSONValue {
  /// This object with `path` set to `value` (intermediate objects created); nil when a step is not an object.
  func setting(_ path: [String], _ value: JSONValue) -> JSONValue? {
    guard let key = path.first, case .object(var o) = self else { return nil }
    if path.count == 1 { o[key] = value; return .object(o) }
    guard let inner = (o[key] ?? .object([:])).setting(Array(path.dropFirst()), value) else { return nil }
    o[key] = inner
    return .object(o)
  }
}

// MARK: - PyTorch

extension PyTorch: DiagnosisConvention {
  static func letters(_ module: String?) -> [String] {
    switch module {
    case "LSTM", "LSTMCell": framework.gateOrder(.lstm).letters
    case "GRU", "GRUCell": framework.gateOrder(.gru).letters
    default: framework.gateOrder(.rnn).letters
    }
  }

  static func gateTensors(config: JSONValue, weights: NamedTensors<Double>) -> [GateTensor] {
    let gates = letters(config["module"]?.string)
    return weights.entries.compactMap { e in
      for prefix in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] where e.name.hasPrefix(prefix) {
        return GateTensor(name: e.name, axis: 0, gates: gates, isBias: prefix.hasPrefix("bias"),
                          layer: String(e.name.dropFirst(prefix.count)))
      }
      return nil
    }
  }

  static func biasPairs(config: JSONValue, weights: NamedTensors<Double>) -> [BiasPair] {
    weights.names.filter { $0.hasPrefix("bias_ih") }.compactMap { ih in
      let hh = "bias_hh" + ih.dropFirst("bias_ih".count)
      return weights[hh] == nil ? nil : BiasPair(input: BiasPart(name: ih), recurrent: BiasPart(name: hh))
    }
  }

  static func stateStacks(config: JSONValue, outputs: NamedTensors<Double>) -> [StateStack] {
    let kw = config["kwargs"]
    let layers = kw?["num_layers"]?.int ?? 1, dirs = kw?["bidirectional"]?.bool == true ? 2 : 1
    guard layers * dirs > 1 else { return [] }
    return ["h_n", "c_n"].filter { outputs[$0] != nil }.map { StateStack(name: $0, axis: 0, layers: layers, directions: dirs) }
  }

  static func configVariants(config: JSONValue) -> [ConfigVariant] {
    guard let module = config["module"]?.string, !module.hasSuffix("Cell") else { return [] }
    let batchFirst = config["kwargs"]?["batch_first"]?.bool ?? false
    return ConfigVariant.timeMajor(
      config, ["kwargs", "batch_first"], .bool(!batchFirst),
      batchFirst
        ? "the expected outputs match with batch_first=False: the module read the batch-major input (N, T, I) as "
          + "time-major (T, N, I); pass batch_first=True to the module (or transpose the input)"
        : "the expected outputs match with batch_first=True: the module read the time-major input (T, N, I) as "
          + "batch-major; pass batch_first=False (the default) to the module (or transpose the input)")
  }
}

// MARK: - Keras

extension KerasCases: DiagnosisConvention {
  static func stem(_ name: String) -> String { name.hasSuffix(":0") ? String(name.dropLast(2)) : name }

  static func gateTensors(config: JSONValue, weights: NamedTensors<Double>) -> [GateTensor] {
    var out: [GateTensor] = []
    for e in weights.entries where stem(e.name).hasSuffix("recurrent_kernel") && e.tensor.rank == 2 {
      let prefix = String(stem(e.name).dropLast("recurrent_kernel".count))
      let h = e.tensor.shape[0]
      guard h > 0, e.tensor.shape[1] % h == 0 else { continue }
      let g = e.tensor.shape[1] / h
      guard let gates = framework.gateOrder(gates: g)?.letters else { continue }
      for s in weights.entries where stem(s.name).hasPrefix(prefix) {
        let leaf = stem(s.name).dropFirst(prefix.count)
        guard ["kernel", "recurrent_kernel", "bias"].contains(leaf), let last = s.tensor.shape.last,
              last % (g * h) == 0 else { continue }
        out.append(GateTensor(name: s.name, axis: s.tensor.rank - 1, gates: gates, groups: last / (g * h),
                              isBias: leaf == "bias", layer: prefix))
      }
    }
    return out
  }

  static func biasPairs(config: JSONValue, weights: NamedTensors<Double>) -> [BiasPair] {
    gateTensors(config: config, weights: weights).filter(\.isBias).compactMap { t in
      guard let b = weights[t.name] else { return nil }
      if b.rank == 2 && b.shape[0] == 2 {  // GRU reset_after=True: row 0 input, row 1 recurrent
        return BiasPair(input: BiasPart(name: t.name, axis: 0, index: 0, count: 2),
                        recurrent: BiasPart(name: t.name, axis: 0, index: 1, count: 2))
      }
      if b.rank == 1 && t.groups == 2 {  // CuDNN: input half, recurrent half
        return BiasPair(input: BiasPart(name: t.name, axis: 0, index: 0, count: 2),
                        recurrent: BiasPart(name: t.name, axis: 0, index: 1, count: 2))
      }
      return nil
    }
  }
}

// MARK: - TF1

extension TF1: DiagnosisConvention {
  static func gateTensors(config: JSONValue, weights: NamedTensors<Double>) -> [GateTensor] {
    let hasLSTM = config.jsonText.contains("LSTMCell")
    return weights.entries.compactMap { e in
      let parts = e.name.split(separator: "/").map(String.init)
      guard let leaf = parts.last, leaf == "kernel" || leaf == "bias" else { return nil }
      let scope = parts.dropLast().joined(separator: "/")
      // The variable's own scope: `gates` / `candidate` (GRUCell), `projection` (LSTMCell), else the cell's name.
      let owner = parts.count >= 2 ? parts[parts.count - 2] : ""
      if owner == "projection" { return nil }
      let isBias = leaf == "bias"
      if owner == "gates" {
        return GateTensor(name: e.name, axis: e.tensor.rank - 1, gates: framework.gateOrder(.gru).letters, isBias: isBias,
                          layer: scope)
      }
      if owner == "candidate" || owner.contains("rnn_cell") {
        return GateTensor(name: e.name, axis: e.tensor.rank - 1, gates: framework.gateOrder(.rnn).letters, isBias: isBias,
                          layer: scope)
      }
      guard hasLSTM, let last = e.tensor.shape.last, last % 4 == 0 else { return nil }
      return GateTensor(name: e.name, axis: e.tensor.rank - 1, gates: framework.gateOrder(.lstm).letters, isBias: isBias,
                        layer: scope)
    }
  }

  static func configVariants(config: JSONValue) -> [ConfigVariant] {
    guard let driver = config["driver"]?.string, driver.contains("dynamic") else { return [] }
    let tm = config["driver_kwargs"]?["time_major"]?.bool ?? false
    return ConfigVariant.timeMajor(
      config, ["driver_kwargs", "time_major"], .bool(!tm),
      tm
        ? "the expected outputs match with time_major=False: \(driver) read the time-major inputs (T, N, I) as "
          + "batch-major; pass time_major=True (or transpose the inputs)"
        : "the expected outputs match with time_major=True: \(driver) read the batch-major inputs (N, T, I) as "
          + "time-major; pass time_major=False (the default) or transpose the inputs")
  }
}

// MARK: - ONNX

extension ONNX: DiagnosisConvention {
  static func gateTensors(config: JSONValue, weights: NamedTensors<Double>) -> [GateTensor] {
    let gates: [String]
    switch config["op_type"]?.string {
    case "LSTM": gates = framework.gateOrder(.lstm).letters
    case "GRU": gates = framework.gateOrder(.gru).letters
    default: gates = framework.gateOrder(.rnn).letters
    }
    return weights.entries.compactMap { e in
      switch e.name {
      case "W", "R": GateTensor(name: e.name, axis: 1, gates: gates, isBias: false, layer: "")
      case "B": GateTensor(name: e.name, axis: 1, gates: gates, groups: 2, isBias: true, layer: "")
      default: nil
      }
    }
  }

  static func biasPairs(config: JSONValue, weights: NamedTensors<Double>) -> [BiasPair] {
    weights["B"] == nil ? [] : [BiasPair(input: BiasPart(name: "B", axis: 1, index: 0, count: 2),
                                         recurrent: BiasPart(name: "B", axis: 1, index: 1, count: 2))]
  }

  static func stateStacks(config: JSONValue, outputs: NamedTensors<Double>) -> [StateStack] {
    guard config["attributes"]?["direction"]?.string == "bidirectional" else { return [] }
    let layout = config["attributes"]?["layout"]?.int ?? 0
    var out: [StateStack] = []
    for n in ["Y_h", "Y_c"] where outputs[n] != nil {
      out.append(StateStack(name: n, axis: layout == 1 ? 1 : 0, layers: 1, directions: 2))
    }
    return out
  }

  static func configVariants(config: JSONValue) -> [ConfigVariant] {
    let layout = config["attributes"]?["layout"]?.int ?? 0
    return ConfigVariant.timeMajor(
      config, ["attributes", "layout"], .number(layout == 1 ? 0 : 1),
      layout == 1
        ? "the expected outputs match with layout=0: the node read the batch-major X [N, T, I] as time-major "
          + "[T, N, I]; set the attribute layout=1 (or transpose X)"
        : "the expected outputs match with layout=1: the node read the time-major X [T, N, I] as batch-major; "
          + "set layout=0 (the default) or transpose X")
  }
}
