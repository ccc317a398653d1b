import Foundation
import KerasImport

// rnnconf-example MODEL: loads a Keras model (.h5, .keras, or an architecture .json with
// its weights file as a second argument) and runs it on a batch of 2 made-up sequences.
let arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first else {
  print("usage: rnnconf-example MODEL.h5|MODEL.keras|ARCH.json [WEIGHTS.h5]")
  exit(64)
}
do {
  let model = try KerasModel(contentsOf: URL(fileURLWithPath: path),
                             weights: arguments.count > 1 ? URL(fileURLWithPath: arguments[1]) : nil)
  print(model.summary)

  // One tensor per model input, batch-major as in Keras: (batch, steps, features) for a
  // sequence. Dimensions the model leaves free (None) are chosen here: batch 2, 5 steps.
  // `scalars` are row-major: x[b, t, f] is scalars[(b * steps + t) * features + f].
  let inputs = try model.inputShapes.map { shape -> Tensor<Float> in
    let dims = shape.enumerated().map { axis, d in d ?? (axis == 0 ? 2 : 5) }
    let count = dims.reduce(1, *)
    return try Tensor<Float>(shape: dims, scalars: (0..<count).map { Float($0 % 7) / 7 - 0.5 })
  }

  // One tensor per model output, batch-major, computed as Keras computes it (here in Float).
  let outputs = try model.predict(inputs)
  for (name, y) in zip(model.outputNames, outputs) {
    print("output \(name) shape \(y.shape): " + y.scalars.prefix(8).map { "\($0)" }.joined(separator: " "))
  }

  // The recurrent layers as RNNRef networks: these run time-major, (steps, batch, features).
  for (name, network) in model.recurrentLayers {
    print("recurrent layer \(name): \(network.layers.count) canonical layer(s)")
  }
} catch {
  // Every error names the file, the layer and the fix (a wrong input shape, a missing weight).
  print("error: \(error.localizedDescription)")
  exit(1)
}
