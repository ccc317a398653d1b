"""Small Keras models with a custom layer and a custom RNN cell, saved by the real Keras, and
their outputs, for the Swift custom-layer API (CustomLayerTests.swift).

    Input(5, 4) -> ScaleShift(offset=0.5) -> RNN(MinimalRNNCell(3), return_sequences=True) -> Dense(2)

ScaleShift: y = tanh(x * scale + shift) + offset (weights `scale`, `shift` of shape (features,),
config `offset`). MinimalRNNCell (the Keras guide's cell, with tanh): h = tanh(x . kernel +
h_prev . recurrent_kernel), state_size = units. Written to models/:

    custom_tfkeras.h5      tf-keras 2.21 legacy .h5 (model.save)
    custom_keras3.keras    Keras 3.15 archive
    custom_refs.h5         /<model file>/input_0, output_0 (float32, seeded)

Run with the fixture venv from the repository root (the two Kerases run in separate processes):

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_custom_models.py
"""
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")


def define(keras, register):
    @register(package="rnnconf")
    class ScaleShift(keras.layers.Layer):
        def __init__(self, offset=0.0, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def build(self, input_shape):
            f = input_shape[-1]
            self.scale = self.add_weight(name="scale", shape=(f,), initializer="random_normal")
            self.shift = self.add_weight(name="shift", shape=(f,), initializer="random_normal")

        def call(self, x):
            return keras.ops.tanh(x * self.scale + self.shift) + self.offset if hasattr(keras, "ops") else \
                keras.backend.tanh(x * self.scale + self.shift) + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}

    @register(package="rnnconf")
    class MinimalRNNCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units), initializer="glorot_uniform")
            self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, self.units),
                                                    initializer="orthogonal")

        def call(self, inputs, states):
            prev = states[0]
            if hasattr(keras, "ops"):
                h = keras.ops.tanh(keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(prev, self.recurrent_kernel))
            else:
                h = keras.backend.tanh(keras.backend.dot(inputs, self.kernel) + keras.backend.dot(prev, self.recurrent_kernel))
            return h, [h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return ScaleShift, MinimalRNNCell


def child(which):
    if which == "tf-keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tf_keras as keras
        import tensorflow as tf
        tf.random.set_seed(7)
        register = keras.utils.register_keras_serializable
        name = "custom_tfkeras.h5"
    else:
        import keras
        keras.utils.set_random_seed(7)
        register = keras.saving.register_keras_serializable
        name = "custom_keras3.keras"
    ScaleShift, MinimalRNNCell = define(keras, register)
    inp = keras.Input(shape=(5, 4), name="x")
    y = ScaleShift(offset=0.5, name="scale_shift")(inp)
    y = keras.layers.RNN(MinimalRNNCell(3), return_sequences=True, name="rnn")(y)
    out = keras.layers.Dense(2, name="dense")(y)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    ys = model.predict(x, verbose=0)
    path = os.path.join(MODELS, name)
    model.save(path)
    np.savez(os.path.join(HERE, ".tmp_custom_%s.npz" % which), x=x, y=ys)
    print(name)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    with h5py.File(os.path.join(MODELS, "custom_refs.h5"), "w") as out:
        out.attrs["generator"] = "Tests/KerasImportTests/Data/make_custom_models.py"
        for which in ("tf-keras", "keras"):
            r = subprocess.run([sys.executable, __file__, "--child", which], capture_output=True, text=True)
            if r.returncode != 0:
                print(r.stderr[-3000:])
                sys.exit(1)
            name = r.stdout.strip().splitlines()[-1]
            npz = os.path.join(HERE, ".tmp_custom_%s.npz" % which)
            a = np.load(npz)
            g = out.create_group(name)
            g.attrs["library"] = which
            g.create_dataset("input_0", data=a["x"])
            g.create_dataset("output_0", data=a["y"].astype(np.float32))
            os.remove(npz)
            print("ok", name, a["x"].shape, a["y"].shape)


if __name__ == "__main__":
    main()
