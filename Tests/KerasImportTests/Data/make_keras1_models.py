"""A Keras 1 style full-model file with per-gate GRU and SimpleRNN weights.

No Keras 1 runs here, so the file is written in the Keras 1 layout (keras_version
1.2.2, Keras 1 config keys, `gru_1_W_z`, `gru_1_U_z`, `gru_1_b_z`, ... in z, r, h
order) from a tf-keras model, and the script asserts that tf-keras' own converter,
`preprocess_weights_for_loading(layer, weights, original_keras_version="1")`, turns
those per-gate arrays back into the model's weights. The expected outputs are
tf-keras' predict on the model. Writes models/k1_gru_simple.h5 and its .refs.h5.

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_keras1_models.py
"""
import json
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import h5py
import numpy as np
import tf_keras as K
from tf_keras import layers as L
from tf_keras.src.saving.legacy import hdf5_format

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
rng = np.random.default_rng(21)

model = K.Sequential([L.Input(shape=(5, 3)),
                      L.GRU(4, reset_after=False, recurrent_activation="hard_sigmoid", return_sequences=True, name="gru_1"),
                      L.SimpleRNN(3, activation="tanh", name="simplernn_1"),
                      L.Dense(2, activation="softmax", name="dense_1")])
for layer in model.layers:
    layer.set_weights([rng.uniform(-0.6, 0.6, size=w.shape).astype(np.float32) for w in layer.get_weights()])
x = rng.standard_normal((2, 5, 3)).astype(np.float32)
y = model.predict(x, verbose=0)


def per_gate(layer):
    k, r, b = layer.get_weights()
    if layer.__class__.__name__ == "GRU":
        names, arrays = [], []
        for g, (ks, rs, bs) in zip("zrh", zip(np.split(k, 3, axis=1), np.split(r, 3, axis=1), np.split(b, 3))):
            names += ["%s_W_%s" % (layer.name, g), "%s_U_%s" % (layer.name, g), "%s_b_%s" % (layer.name, g)]
            arrays += [ks, rs, bs]
        return names, arrays
    return ["%s_W" % layer.name, "%s_U" % layer.name, "%s_b" % layer.name], [k, r, b]


config = {"class_name": "Sequential", "config": [
    {"class_name": "GRU", "config": {"name": "gru_1", "output_dim": 4, "activation": "tanh",
                                     "inner_activation": "hard_sigmoid", "return_sequences": True,
                                     "go_backwards": False, "stateful": False, "unroll": False, "consume_less": "gpu",
                                     "input_dim": 3, "input_length": 5, "batch_input_shape": [None, 5, 3],
                                     "input_dtype": "float32", "trainable": True, "dropout_W": 0.0, "dropout_U": 0.0}},
    {"class_name": "SimpleRNN", "config": {"name": "simplernn_1", "output_dim": 3, "activation": "tanh",
                                           "return_sequences": False, "go_backwards": False, "stateful": False,
                                           "unroll": False, "consume_less": "cpu", "trainable": True}},
    {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 2, "activation": "softmax", "bias": True,
                                       "trainable": True}},
]}

path = os.path.join(OUT, "k1_gru_simple.h5")
with h5py.File(path, "w") as f:
    f.attrs["keras_version"] = "1.2.2"
    f.attrs["model_config"] = json.dumps(config)
    g = f.create_group("model_weights")
    g.attrs["layer_names"] = [l.name.encode() for l in model.layers]
    for layer in model.layers:
        lg = g.create_group(layer.name)
        if layer.__class__.__name__ == "Dense":
            names, arrays = ["%s_W" % layer.name, "%s_b" % layer.name], layer.get_weights()
        else:
            names, arrays = per_gate(layer)
            # tf-keras' Keras 1 converter must give the layer's weights back.
            back = hdf5_format.preprocess_weights_for_loading(layer, list(arrays), original_keras_version="1")
            for a, w in zip(back, layer.get_weights()):
                assert np.array_equal(a, w), layer.name
        lg.attrs["weight_names"] = [n.encode() for n in names]
        for n, a in zip(names, arrays):
            lg.create_dataset(n, data=a)

with h5py.File(os.path.join(OUT, "k1_gru_simple.refs.h5"), "w") as f:
    f.attrs["library"] = "tf-keras"
    f.attrs["library_version"] = K.__version__
    f.attrs["files"] = json.dumps(["k1_gru_simple.h5"])
    f.attrs["generator"] = "Tests/KerasImportTests/Data/make_keras1_models.py"
    f.create_dataset("input_0", data=x)
    f.create_dataset("output_0", data=y)
print("ok", path)
