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
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw unreadable(url.path, "cannot read the file (\(error.localizedDescription))")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw unreadable(url.path, "not UTF-8 text") }
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
    let f = try openHDF5(url.path)
    let root = try f.root
    loaded.weightsPath = url.path
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
      throw unreadable(url.path, "a Keras 2.13/2.14 zip weights layout (`_layer_checkpoint_dependencies`), which this importer does not read; re-save the model with Keras 3 (.keras) or as a legacy .h5")
    } else {
      throw unreadable(url.path, "an HDF5 file without Keras weights (no `model_weights`, `layer_names` or `layers`)")
    }
  }

  /// A `.keras` zip: config.json, metadata.json, model.weights.h5 (copied to a temporary file for HDF5).
  static func loadArchive(_ url: URL, weights: URL?) throws -> LoadedFile {
    let path = url.path
    let archive: Archive
    do { archive = try Archive(url: url, accessMode: .read) } catch {
      throw unreadable(path, "not a readable zip archive (\(error))")
    }
    func entryData(_ name: String) throws -> Data? {
      guard let e = archive[name] else { return nil }
      var d = Data()
      do { _ = try archive.extract(e) { d.append($0) } } catch {
        throw unreadable(path, "cannot extract `\(name)` from the archive (\(error))")
      }
      return d
    }
    guard let cfgData = try entryData("config.json") else {
      let names = archive.map(\.path).prefix(8).joined(separator: ", ")
      throw unreadable(path, "a zip archive without `config.json` (holds \(names)); not a Keras .keras file")
    }
    guard let cfgText = String(data: cfgData, encoding: .utf8) else { throw unreadable(path, "config.json is not UTF-8") }
    let model = try parseJSONAttribute(cfgText, path: path, what: "config.json")
    var version: String?
    if let meta = try entryData("metadata.json"), let t = String(data: meta, encoding: .utf8),
       let m = try? JSONValue(parsing: t) {
      version = m["keras_version"]?.string
    }
    var loaded = LoadedFile(path: path, format: .kerasArchive, model: model, kerasVersion: version, backend: nil,
                            store: nil, weightsPath: path)
    if let w = weights {
      try replaceWeights(&loaded, with: w)
      return loaded
    }
    guard let wData = try entryData("model.weights.h5") else {
      throw KerasImportError(.noWeights, "\(path): the archive has no `model.weights.h5`; pass the weights as `weights:`")
    }
    let tmp = FileManager.default.temporaryDirectory
      .appendingPathComponent("kerasimport-\(UUID().uuidString).weights.h5")
    do { try wData.write(to: tmp) } catch {
      throw unreadable(path, "cannot write the archive's weights to \(tmp.path) (\(error.localizedDescription))")
    }
    loaded.temporaries.append(tmp)
    do { try replaceWeights(&loaded, with: tmp) } catch {
      try? FileManager.default.removeItem(at: tmp)
      throw error
    }
    loaded.weightsPath = path + "!/model.weights.h5"
    loaded.format = .kerasArchive
    return loaded
  }

}
