import Foundation
import HDF5
import KerasImport
import RNNRef
import ZIPFoundation

/// `torch.nn.RNN/LSTM/GRU` files: `PATH.safetensors` (the module's `state_dict`, names and
/// shapes as torch has them, from `PyTorch.exportNetwork`) and `PATH.json` (`{"module", "kwargs"}`
/// as the case schema's pytorch config writes them), so that
/// `torch.nn.LSTM(**kwargs).load_state_dict(safetensors.torch.load_file(PATH.safetensors))` works.
public enum PyTorchExport {
  /// `PATH` without the extension: `out/model.safetensors` and `out/model` both give `out/model`.
  public static func base(_ output: String) -> String {
    for ext in [".safetensors", ".json"] where output.hasSuffix(ext) { return String(output.dropLast(ext.count)) }
    return output
  }

  public static func write(_ network: Network<Double>, batchFirst: Bool, dtype: DType, output: String) throws -> [String] {
    let (config, weights) = try PyTorch.exportNetwork(network)
    var module = try PyTorch.ModuleConfig(config: config)
    module.batchFirst = batchFirst
    let b = base(output)
    let tensorsPath = b + ".safetensors", configPath = b + ".json"
    try AtomicFile.checkWritable(tensorsPath)
    try AtomicFile.checkWritable(configPath)
    try Safetensors.write(weights.entries, dtype: dtype, to: tensorsPath, metadata: ["format": "pt"])
    try AtomicFile.write(Array((module.json.jsonText + "\n").utf8), to: configPath)
    return [tensorsPath, configPath]
  }

  /// Reads a PyTorch export back: `PATH.safetensors` with `PATH.json` beside it (or the
  /// configuration given explicitly), through the PyTorch adapter.
  public static func read(safetensors path: String, config configPath: String? = nil) throws -> SourceNetwork {
    let cfgPath = configPath ?? base(path) + ".json"
    guard FileManager.default.fileExists(atPath: cfgPath) else {
      throw ConversionError.invalidSource(
        path: path, reason: "no module configuration `\(cfgPath)` beside it; write {\"module\": \"LSTM\", \"kwargs\": {...}} there (the kwargs of torch.nn.LSTM/GRU/RNN)")
    }
    let text: String
    do { text = try String(contentsOfFile: cfgPath, encoding: .utf8) } catch {
      throw ConversionError.invalidSource(path: cfgPath, reason: "cannot be read (\(error.localizedDescription))")
    }
    let json: JSONValue
    do { json = try JSONValue(parsing: text) } catch {
      throw ConversionError.invalidSource(path: cfgPath, reason: "is not JSON")
    }
    let config: PyTorch.Config
    do { config = try PyTorch.parseConfig(json) } catch {
      throw ConversionError.invalidSource(path: cfgPath, reason: "\(error)")
    }
    let (entries, _) = try Safetensors.read(path: path)
    let dtype: DType = entries.contains { $0.dtype == "F64" } ? .float64 : .float32
    do {
      let net = try PyTorch.importNetwork(config: config, weights: NamedTensors(entries.map { ($0.name, $0.tensor) }))
      return SourceNetwork(network: net, framework: .pytorch, batchMajor: config.module.batchFirst,
                           label: "torch.nn.\(config.module.kind.rawValue) \(path)", dtype: dtype)
    } catch {
      throw ConversionError.invalidSource(path: path, reason: "\(error)")
    }
  }
}

/// Keras files: a Keras 3 `.keras` archive (`config.json`, `metadata.json`, `model.weights.h5`)
/// or a tf-keras legacy `.h5` full model, from `KerasCases.exportNetwork` (a functional chain
/// `x` -> recurrent layers, `return_sequences=True`), loadable by that Keras' `load_model`.
public enum KerasExport {
  public static func write(_ network: Network<Double>, dtype: DType, output: String) throws -> [String] {
    let keras3: Bool
    if output.hasSuffix(".keras") { keras3 = true }
    else if output.hasSuffix(".h5") || output.hasSuffix(".hdf5") { keras3 = false }
    else {
      throw ConversionError.invalidOutput(path: output, reason: "end it in .keras (a Keras 3 archive) or .h5 (a tf-keras legacy model)")
    }
    try AtomicFile.checkWritable(output)
    let version: Keras.Version = keras3 ? .keras3 : .keras2
    let (config, weights) = try KerasCases.exportNetwork(network, version: version)
    guard var model = config["model"] else {
      throw ConversionError.refused(target: "Keras", reason: "the Keras adapter gave no model configuration")
    }
    if dtype == .float64 { model = withDType(model, "float64") }
    if let last = network.layers.last, last.direction == .bidirectional, last.merge == .none {
      model = withBothDirectionOutputs(model)
    }
    if keras3 {
      try writeKeras3(model: withModules(model, top: true), weights: weights, dtype: dtype, to: output)
    } else {
      try writeLegacyH5(model: model, weights: weights, version: version, dtype: dtype, to: output)
    }
    return [output]
  }

  /// Keras 3 needs `module` beside every `class_name` to locate the class.
  static func withModules(_ v: JSONValue, top: Bool = false) -> JSONValue {
    switch v {
    case .object(var o):
      for (k, x) in o { o[k] = withModules(x) }
      if o["class_name"] != nil && o["module"] == nil {
        o["module"] = .string(top ? "keras.src.models.functional" : "keras.layers")
        o["registered_name"] = .null
      }
      return .object(o)
    case .array(let a): return .array(a.map { withModules($0) })
    default: return v
    }
  }

  /// A last `Bidirectional(merge_mode=None)` returns two tensors: the model outputs both
  /// (`output_layers` [[name, 0, 0], [name, 0, 1]]), forward first.
  static func withBothDirectionOutputs(_ model: JSONValue) -> JSONValue {
    guard case .object(var o) = model, case .object(var c)? = o["config"],
          let first = c["output_layers"]?.array?.first?.array, first.count == 3 else { return model }
    c["output_layers"] = .array([.array(first), .array([first[0], first[1], .number(1)])])
    o["config"] = .object(c)
    return .object(o)
  }

  /// Sets `dtype` on every layer config (the InputLayer's included).
  static func withDType(_ v: JSONValue, _ dtype: String) -> JSONValue {
    switch v {
    case .object(var o):
      for (k, x) in o { o[k] = withDType(x, dtype) }
      if o["class_name"] != nil, o["class_name"]?.string != "Functional", case .object(var c)? = o["config"] {
        c["dtype"] = .string(dtype)
        o["config"] = .object(c)
      }
      return .object(o)
    case .array(let a): return .array(a.map { withDType($0, dtype) })
    default: return v
    }
  }

  /// The layers of the exported chain after the InputLayer: name and class.
  static func chainLayers(_ model: JSONValue) -> [(name: String, className: String)] {
    (model["config"]?["layers"]?.array ?? []).compactMap { l in
      guard let n = l["config"]?["name"]?.string ?? l["name"]?.string, let c = l["class_name"]?.string,
            c != "InputLayer" else { return nil }
      return (n, c)
    }
  }

  /// The exported weights grouped per chain layer (first name component), in order.
  static func weightsByLayer(_ weights: NamedTensors<Double>) -> [(layer: String, weights: [(String, Tensor<Double>)])] {
    var out: [(layer: String, weights: [(String, Tensor<Double>)])] = []
    for (name, t) in weights.entries {
      let layer = String(name.split(separator: "/").first ?? "")
      if out.last?.layer == layer { out[out.count - 1].weights.append((name, t)) } else { out.append((layer, [(name, t)])) }
    }
    return out
  }

  static func snakeCase(_ s: String) -> String {
    // Keras 3 `naming.to_snake_case`: SimpleRNN -> simple_rnn, LSTM -> lstm.
    var out = ""
    let chars = Array(s)
    for (i, ch) in chars.enumerated() {
      if ch.isUppercase && i > 0 && (chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase)) {
        out.append("_")
      }
      out.append(contentsOf: ch.lowercased())
    }
    return out
  }

  static func writeKeras3(model: JSONValue, weights: NamedTensors<Double>, dtype: DType, to output: String) throws {
    let layers = chainLayers(model)
    let groups = weightsByLayer(weights)
    var counts: [String: Int] = [:]
    var paths: [(String, Tensor<Double>)] = []
    for (name, cls) in layers {
      let snake = snakeCase(cls)
      let k = counts[snake, default: 0]; counts[snake] = k + 1
      let key = "layers/" + (k == 0 ? snake : "\(snake)_\(k)")
      guard let g = groups.first(where: { $0.layer == name }) else { continue }
      var index: [String: Int] = [:]
      for (wname, t) in g.weights {
        let parts = wname.split(separator: "/").map(String.init)
        let sub: String
        if cls == "Bidirectional" { sub = parts.count > 1 && parts[1].hasPrefix("backward_") ? "/backward_layer" : "/forward_layer" }
        else { sub = "" }
        let i = index[sub, default: 0]; index[sub] = i + 1
        paths.append(("\(key)\(sub)/cell/vars/\(i)", t))
      }
    }
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rnnconf-convert-\(UUID().uuidString).weights.h5").path
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    let float64 = dtype == .float64
    try File.createAtomically(path: tmp) { f in
      let root = try f.root
      for (p, t) in paths {
        if float64 { try root.createDataset(p, shape: t.shape, values: t.scalars) }
        else { try root.createDataset(p, shape: t.shape, values: t.scalars.map { Float($0) }) }
      }
    }
    let h5 = try Data(contentsOf: URL(fileURLWithPath: tmp))
    let archive: Archive
    do { archive = try Archive(data: Data(), accessMode: .create) } catch {
      throw ConversionError.invalidOutput(path: output, reason: "cannot build the zip archive (\(error))")
    }
    func add(_ name: String, _ data: Data) throws {
      try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate,
                           provider: { pos, size in data.subdata(in: Int(pos)..<(Int(pos) + size)) })
    }
    try add("metadata.json", Data(JSONValue.object(["keras_version": .string(Keras.Version.keras3.text)]).jsonText.utf8))
    try add("config.json", Data(model.jsonText.utf8))
    try add("model.weights.h5", h5)
    guard let data = archive.data else {
      throw ConversionError.invalidOutput(path: output, reason: "the zip archive was not built")
    }
    try AtomicFile.write(data, to: output)
  }

  static func writeLegacyH5(model: JSONValue, weights: NamedTensors<Double>, version: Keras.Version, dtype: DType,
                            to output: String) throws {
    let groups = weightsByLayer(weights)
    let float64 = dtype == .float64
    try File.createAtomically(path: output) { f in
      let root = try f.root
      try root.setAttribute("keras_version", version.text)
      try root.setAttribute("backend", "tensorflow")
      try root.setAttribute("model_config", model.jsonText)
      let mw = try root.createGroup("model_weights")
      try mw.setAttribute("layer_names", fixedLengthStrings: groups.map(\.layer))
      try mw.setAttribute("backend", "tensorflow")
      try mw.setAttribute("keras_version", version.text)
      for g in groups {
        let lg = try mw.createGroup(g.layer)
        try lg.setAttribute("weight_names", fixedLengthStrings: g.weights.map(\.0))
        for (name, t) in g.weights {
          if float64 { try lg.createDataset(name, shape: t.shape, values: t.scalars) }
          else { try lg.createDataset(name, shape: t.shape, values: t.scalars.map { Float($0) }) }
        }
      }
    }
  }
}
