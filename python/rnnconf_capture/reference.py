"""What Keras computes for a whole model, layer by layer, for `rnnconf compare`:

    python -m rnnconf_capture.reference MODEL X.npy [X2.npy ...] REF.h5

or, from Python, `capture_keras_reference(model, inputs, "REF.h5")` on a live model.

MODEL is what `keras.models.load_model` reads (`.keras`, or a legacy `.h5`); run it with the
Keras the model was made with (tf-keras: `TF_USE_LEGACY_KERAS=1`; Keras 3: `KERAS_BACKEND=tensorflow`).
The inputs are batch-major arrays, one per model input, in order. REF.h5 gets:

- `output_0`, `output_1`, ...: `model(inputs)`, flattened in order (`tf.nest.flatten`), in the
  dtype Keras computed (a float64 capture makes `rnnconf compare` run the model in float64);
- `intermediate/<layer name>`: every non-input layer's first output, as
  `keras.Model(model.inputs, layer.output)` computes it, with the root attribute
  `intermediate_names` listing them in the model's layer order (graph order).

Then: `rnnconf compare MODEL --input X.npy --expected REF.h5` names the first layer whose
output leaves the tolerance. (A conformance *case* of one layer or model is `capture_keras`.)
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

import h5py
import numpy as np


def capture_keras_reference(model, inputs: Sequence[np.ndarray], path: str) -> str:
    """Runs the live Keras `model` on `inputs` (one array per model input) and writes its outputs
    and every non-input layer's first output to `path` (the REF.h5 `rnnconf compare` reads)."""
    import tensorflow as tf

    keras = sys.modules.get("tf_keras") if os.environ.get("TF_USE_LEGACY_KERAS") == "1" else None
    if keras is None:
        import keras
    xs = [np.asarray(x) for x in inputs]
    if len(xs) != len(model.inputs):
        raise ValueError(f"the model takes {len(model.inputs)} input(s), {len(xs)} given")
    feed = xs if len(xs) > 1 else xs[0]
    outputs = [np.asarray(v) for v in tf.nest.flatten(model(feed, training=False))]
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    sub = keras.Model(model.inputs, [tf.nest.flatten(l.output)[0] for l in layers])
    inter = [np.asarray(v) for v in tf.nest.flatten(sub(feed, training=False))]
    with h5py.File(path, "w") as f:
        for k, v in enumerate(outputs):
            f.create_dataset(f"output_{k}", data=v)
        g = f.create_group("intermediate")
        for l, v in zip(layers, inter):
            g.create_dataset(l.name, data=v)
        f.attrs["intermediate_names"] = np.array([l.name.encode() for l in layers])
    print(f"wrote {len(outputs)} output(s) and {len(layers)} layer output(s) to {path}")
    return path


def main(argv: Sequence[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 64
    model_path, input_paths, out_path = argv[1], list(argv[2:-1]), argv[-1]
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras as keras
    else:
        import keras
    model = keras.models.load_model(model_path, compile=False)
    try:
        capture_keras_reference(model, [np.load(p) for p in input_paths], out_path)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
