import Foundation
import HDF5
import RNNRef
import ZIPFoundation

/// Which kind of file a model came from.
public enum KerasFileFormat: String, Sendable, CustomStringConvertible {
  /// Keras 1/2 (standalone, tf.keras, tf-keras) or Keras 3 legacy `.h5` full model.
  case legacyH5 = "legacy .h5 full model"
  /// `save_weights` `.h5` (Keras 1/2 layout) with the architecture from a JSON file.
  case legacyWeightsH5 = "legacy save_weights .h5 + architecture JSON"
  /// Keras 3 `.keras` zip archive (config.json, metadata.json, model.weights.h5).
  case kerasArchive = ".keras archive"
  /// Keras 3 `.weights.h5` with the architecture from a config JSON.
  case kerasWeightsH5 = "Keras 3 .weights.h5 + config JSON"

  public var description: String { rawValue }
}

/// One weight as the file stores it: its name (or dataset path) and value.
struct StoredWeight {
  var name: String
  var tensor: Tensor<Double>
}

/// Where a layer's weights come from.
enum WeightStore {
  /// Keras 1/2/3 legacy layout: a group with `layer_names`, one group per layer with `weight_names`.
  case legacy(Group)
  /// Keras 3 `.weights.h5`: `layers/<snake_case_class>[_N]/.../vars/<i>`.
  case v3(Group)
}

/// A model file read into memory: the architecture, the versions and the weights' location.
struct LoadedFile {
  var path: String
  var format: KerasFileFormat
  var model: JSONValue
  var kerasVersion: String?
  var backend: String?
  var store: WeightStore?
  var weightsPath: String
  /// Temporary files to delete once the weights are read.
  var temporaries: [URL] = []
}

enum Storage {
  static func unreadable(_ path: String, _ detail: String) -> KerasImportError {
    KerasImportError(.unreadableFile, "\(path): \(detail)")
  }

  static func readJSON(_ url: URL) throws -> JSONValue {
    let data: [UInt8]
    do {
      data = try RegularFile.read(url.path, limit: ArchiveLimits.json,
                                  what: "the JSON cap (raise it with RNNCONF_MAX_JSON_MB=<MiB>)")
    } catch let e as FileIOError { throw unreadable(url.path, e.detail) }
    guard let text = String(validating: data, as: UTF8.self) else { throw unreadable(url.path, "not UTF-8 text") }
    do { return try JSONValue(parsing: text) } catch {
      throw unreadable(url.path, "not valid JSON (\(error)); expected a Keras architecture (model.to_json() or config.json)")
    }
  }

  static func parseJSONAttribute(_ text: String, path: String, what: String) throws -> JSONValue {
    do { return try JSONValue(parsing: text) } catch {
      throw unreadable(path, "the `\(what)` attribute is not valid JSON (\(error))")
    }
  }

  static func optionalString(_ o: Object, _ name: String) -> String? {
    guard (try? o.hasAttribute(name)) == true else { return nil }
    return try? o.stringAttribute(name)
  }

  /// Opens an HDF5 file with a typed error.
  static func openHDF5(_ path: String) throws -> HDF5.File {
    do { return try HDF5.File(path: path) } catch {
      throw unreadable(path, "cannot open as HDF5: \(error)")
    }
  }

  /// Reads any supported file (and an optional separate weights file).
  static func load(_ url: URL, weights: URL?) throws -> LoadedFile {
    let path = url.path
    switch FileKind.sniff(path: path) {
    case .hdf5:
      let f = try openHDF5(path)
      let root = try f.root
      var loaded: LoadedFile
      if let cfgText = optionalString(root, "model_config") {
        let model = try parseJSONAttribute(cfgText, path: path, what: "model_config")
        let wg: Group
        if (try? root.exists("model_weights")) == true {
          wg = try root.group("model_weights")
        } else if weights == nil {
          throw KerasImportError(.noWeights, "\(path): the file has a model_config but no `model_weights` group: it was saved without weights; save it again after training (or pass weights:)")
        } else { wg = root }
        loaded = LoadedFile(path: path, format: .legacyH5, model: model,
                            kerasVersion: optionalString(root, "keras_version") ?? optionalString(wg, "keras_version"),
                            backend: optionalString(root, "backend") ?? optionalString(wg, "backend"),
                            store: .legacy(wg), weightsPath: path)
      } else if (try? root.hasAttribute("layer_names")) == true || (try? root.hasAttribute("layer_names0")) == true
                  || (try? root.exists("layers")) == true {
        throw KerasImportError(.noArchitecture, "\(path): the file holds weights only (no `model_config`); pass the architecture as the model file (a model.to_json() or config.json file) and this file as `weights:` (CLI: --weights)")
      } else {
        throw unreadable(path, "an HDF5 file but not a Keras model: no `model_config` attribute and no `layer_names`; is it a case file? (use `rnnconf inspect`)")
      }
      if let w = weights { try replaceWeights(&loaded, with: w) }
      return loaded
    case .zip:
      return try loadArchive(url, weights: weights)
    case .json:
      let doc = try readJSON(url)
      guard let w = weights else {
        throw KerasImportError(.noArchitecture, "\(path): an architecture JSON without weights; pass the weights file as `weights:` (CLI: --weights)")
      }
      let model = doc["class_name"] != nil ? doc : (doc["model"] ?? doc)
      var loaded = LoadedFile(path: path, format: .legacyWeightsH5, model: model,
                              kerasVersion: doc["keras_version"]?.string, backend: doc["backend"]?.string,
                              store: .legacy(try openHDF5(w.path).root), weightsPath: w.path)
      try replaceWeights(&loaded, with: w)
      return loaded
    case let other:
      throw unreadable(path, "not a Keras model file: it is \(other); expected .h5/.hdf5 (HDF5), .keras (zip) or an architecture .json")
    }
  }

  /// Points `loaded` at a separate weights file (`save_weights` .h5 or Keras 3 .weights.h5).
  static func replaceWeights(_ loaded: inout LoadedFile, with url: URL) throws {
    guard FileKind.sniff(path: url.path) == .hdf5 else {
      throw unreadable(url.path, "the weights file is \(FileKind.sniff(path: url.path)); expected HDF5 (.h5 / .weights.h5)")
    }
    try replaceWeights(&loaded, with: try openHDF5(url.path), label: url.path)
  }

  /// Points `loaded` at the weights in an open HDF5 file; `label` names it in errors.
  static func replaceWeights(_ loaded: inout LoadedFile, with f: HDF5.File, label: String) throws {
    let root = try f.root
    loaded.weightsPath = label
    if (try? root.exists("model_weights")) == true {
      let g = try root.group("model_weights")
      loaded.store = .legacy(g)
      loaded.kerasVersion = loaded.kerasVersion ?? optionalString(root, "keras_version")
      loaded.backend = loaded.backend ?? optionalString(root, "backend")
    } else if (try? root.hasAttribute("layer_names")) == true || (try? root.hasAttribute("layer_names0")) == true {
      loaded.store = .legacy(root)
      loaded.kerasVersion = loaded.kerasVersion ?? optionalString(root, "keras_version") ?? "1"
      loaded.backend = loaded.backend ?? optionalString(root, "backend")
      if loaded.format == .kerasArchive { loaded.format = .legacyWeightsH5 }
    } else if (try? root.exists("layers")) == true || (try? root.exists("vars")) == true {
      loaded.store = .v3(root)
      loaded.format = loaded.format == .kerasArchive ? .kerasArchive : .kerasWeightsH5
      loaded.kerasVersion = loaded.kerasVersion ?? "3"
    } else if (try? root.exists("_layer_checkpoint_dependencies")) == true {
      // tf-keras 2.13/2.14 zips: Keras 3's layout under another root (`Builder.queues`).
      loaded.store = .v3(root)
    } else {
      throw unreadable(label, "an HDF5 file without Keras weights (no `model_weights`, `layer_names` or `layers`)")
    }
  }

  /// A `.keras` zip: config.json, metadata.json, model.weights.h5 (opened in memory, no temporary
  /// file). Each entry is bounded (see `ArchiveLimits`); errors name `archive.keras!/<entry>`.
  static func loadArchive(_ url: URL, weights: URL?) throws -> LoadedFile {
    let path = url.path
    let archive = try KerasArchive(path: path)
    guard let cfgData = try archive.bytes("config.json", cap: ArchiveLimits.json, variable: "RNNCONF_MAX_JSON_MB") else {
      let names = archive.entries.map(\.path).prefix(8).joined(separator: ", ")
      throw unreadable(path, "a zip archive without `config.json` (holds \(names)); not a Keras .keras file")
    }
    guard let cfgText = String(validating: cfgData, as: UTF8.self) else {
      throw unreadable(archive.label("config.json"), "not UTF-8 text")
    }
    let model = try parseJSONAttribute(cfgText, path: archive.label("config.json"), what: "config.json")
    var version: String?
    if let meta = try archive.bytes("metadata.json", cap: ArchiveLimits.json, variable: "RNNCONF_MAX_JSON_MB"),
       let t = String(validating: meta, as: UTF8.self), let m = try? JSONValue(parsing: t) {
      version = m["keras_version"]?.string
    }
    var loaded = LoadedFile(path: path, format: .kerasArchive, model: model, kerasVersion: version, backend: nil,
                            store: nil, weightsPath: path)
    if let w = weights {
      try replaceWeights(&loaded, with: w)
      return loaded
    }
    let label = archive.label("model.weights.h5")
    guard let wData = try archive.bytes("model.weights.h5", cap: ArchiveLimits.weights, variable: "RNNCONF_MAX_WEIGHTS_MB") else {
      throw KerasImportError(.noWeights, "\(path): the archive has no `model.weights.h5`; pass the weights as `weights:`")
    }
    let file: HDF5.File
    do { file = try HDF5.File(image: wData, name: label) } catch {
      throw unreadable(label, "cannot open as HDF5: \(error)")
    }
    try replaceWeights(&loaded, with: file, label: label)
    loaded.format = .kerasArchive
    return loaded
  }

}
