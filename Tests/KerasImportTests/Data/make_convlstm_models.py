"""Small ConvLSTM models with the pooling layers around them, built, saved and run by Keras
itself, in the layout of make_layer_models.py (LayerModelTests reads every models/*.refs.h5):

    models/<k2|k3>_convlstm_pool2d.<h5|keras>, <k2|k3>_convlstm_pool3d.<h5|keras>, and .refs.h5

Run from the repository root:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_convlstm_models.py

tf-keras 2.21 (TF_USE_LEGACY_KERAS=1) and Keras 3.15 (TensorFlow backend) run in separate
processes. Weights random (seeded); MaxPooling and AveragePooling with `valid` and `same`
padding over odd sizes, so the padded windows (max ignores them, average counts only the
positions inside) matter.
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def build(keras, name):
    L = keras.layers
    if name == "convlstm_pool2d":
        x = keras.Input(shape=(3, 7, 9, 2), name="x")
        h = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, name="conv_lstm2d")(x)
        h = L.MaxPooling3D(pool_size=(1, 2, 2), padding="same", name="max3d_same")(h)
        h = L.TimeDistributed(L.AveragePooling2D(pool_size=2, strides=1, padding="same"), name="td_avg2d_same")(h)
        h = L.TimeDistributed(L.MaxPooling2D(pool_size=(2, 3)), name="td_max2d_valid")(h)
        h = L.ConvLSTM2D(2, (2, 1), return_sequences=False, go_backwards=True, name="conv_lstm2d_1")(h)
        h = L.Flatten(name="flatten")(h)
        y = L.Dense(4, activation="softmax", name="dense")(h)
    else:
        x = keras.Input(shape=(3, 5, 4, 6, 2), name="x")
        h = L.ConvLSTM3D(2, 2, padding="same", return_sequences=True, name="conv_lstm3d")(x)
        h = L.TimeDistributed(L.AveragePooling3D(pool_size=2, padding="same"), name="td_avg3d_same")(h)
        h = L.TimeDistributed(L.MaxPooling3D(pool_size=(1, 2, 1)), name="td_max3d_valid")(h)
        h = L.Flatten(name="flatten")(h)
        y = L.Dense(3, name="dense")(h)
    return keras.Model(x, y, name=name)


def child(lib):
    if lib == "k2":
        import tf_keras as keras
    else:
        import keras
    from make_layer_models import randomize, write_refs, predict
    for k, name in enumerate(["convlstm_pool2d", "convlstm_pool3d"]):
        model = build(keras, name)
        randomize(model, 100 + k + (10 if lib == "k3" else 0))
        rng = np.random.default_rng(200 + k)
        xs = [rng.uniform(-1, 1, size=(2,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)]
        ys = predict(model, xs)
        base = f"{lib}_{name}"
        fname = base + (".h5" if lib == "k2" else ".keras")
        path = os.path.join(HERE, "models", fname)
        if lib == "k2":
            model.save(path, save_format="h5")
        else:
            model.save(path)
        write_refs(base, xs, ys, "tf-keras" if lib == "k2" else "keras", keras.__version__, [fname])
        print("ok", fname, [y.shape for y in ys])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    for lib, env in (("k2", {"TF_USE_LEGACY_KERAS": "1"}), ("k3", {"KERAS_BACKEND": "tensorflow"})):
        r = subprocess.run([sys.executable, __file__, "--child", lib], env=dict(os.environ, **env),
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("FAILED", lib, r.stderr[-3000:])
            sys.exit(1)
        print(r.stdout.strip())


if __name__ == "__main__":
    main()
