import Foundation
import HDF5
import RNNRef

extension KerasModel {
  /// The Keras version that wrote a separate `save_weights` file, as tf-keras reads it
  /// (`load_weights_from_hdf5_group`): its `keras_version` attribute, `"1"` when it has none.
  /// nil when the weights come with the architecture (one version for both).
  static func weightsVersion(_ loaded: LoadedFile) -> Keras.Version? {
    guard loaded.format == .legacyWeightsH5, case .legacy = loaded.store,
          FileKind.sniff(path: loaded.weightsPath) == .hdf5,
          let f = try? HDF5.File(path: loaded.weightsPath), let root = try? f.root else { return nil }
    return Keras.Version(Storage.optionalString(root, "keras_version") ?? "1")
  }
}
