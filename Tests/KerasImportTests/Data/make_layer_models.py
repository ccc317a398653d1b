"""Small models that Keras itself builds, saves and runs, for the layers and file
formats the real-world corpus does not cover. Writes into models/:

    <name>.<ext>        the file Keras saved (legacy .h5, .keras, .weights.h5 + .json, ...)
    <name>.refs.h5      input_0.., output_0.. (float32): Keras' predict on seeded inputs
                        attrs: library, library_version, files (what to load, in order)

Run from the repository root:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_layer_models.py

tf-keras 2.21 (TF_USE_LEGACY_KERAS=1) and Keras 3.15 run in separate processes.
Weights are random (seeded), so every gate and bias matters.
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")


def randomize(model, seed):
    rng = np.random.default_rng(seed)

    def visit(layer):
        if layer.__class__.__name__ in ("Sequential", "Functional", "Model"):
            for sub in layer.layers:
                visit(sub)
            return
        ws = layer.get_weights()
        if not ws:
            return
        new = [rng.uniform(-0.6, 0.6, size=w.shape).astype(w.dtype) for w in ws]
        if layer.__class__.__name__ == "BatchNormalization":
            new[-1] = np.abs(new[-1]) + 0.5  # positive moving variance
        layer.set_weights(new)

    visit(model)


def write_refs(name, xs, ys, library, version, files):
    with h5py.File(os.path.join(OUT, name + ".refs.h5"), "w") as f:
        f.attrs["library"] = library
        f.attrs["library_version"] = version
        f.attrs["files"] = json.dumps(files)
        f.attrs["generator"] = "Tests/KerasImportTests/Data/make_layer_models.py"
        for i, x in enumerate(xs):
            f.create_dataset("input_%d" % i, data=np.asarray(x, np.float32))
        for j, y in enumerate(ys):
            f.create_dataset("output_%d" % j, data=np.asarray(y, np.float32))


def predict(model, xs):
    ys = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return list(ys) if isinstance(ys, (list, tuple)) else [ys]


def models(K, L):
    """The same architectures in tf-keras and Keras 3 (K = keras module, L = layers)."""
    rng = np.random.default_rng(7)
    out = {}

    # Two inputs, shared Dense, merges, TimeDistributed, two outputs.
    a = L.Input(shape=(5, 3), name="a")
    b = L.Input(shape=(5, 2), name="b")
    ha = L.LSTM(4, return_sequences=True, name="lstm_a")(a)
    hb = L.GRU(4, return_sequences=True, name="gru_b")(b)
    shared = L.Dense(4, activation="tanh", name="shared")
    sa, sb = shared(ha), shared(hb)
    cat = L.Concatenate(name="cat")([sa, sb])
    add = L.Add(name="add")([sa, sb])
    mul = L.Multiply(name="mul")([sa, sb])
    avg = L.Average(name="avg")([add, mul])
    td = L.TimeDistributed(L.Dense(3, activation="softmax"), name="td")(L.Concatenate(name="cat2")([cat, avg]))
    last = L.SimpleRNN(3, activation="relu", name="rnn_last")(avg)
    m = K.Model([a, b], [td, last], name="two_inputs")
    out["two_inputs"] = (m, [rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))])

    # Embedding with mask_zero into Bidirectional and a stacked recurrent layer.
    t = L.Input(shape=(6,), name="tokens")
    e = L.Embedding(12, 5, mask_zero=True, name="emb")(t)
    h = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="concat", name="bi")(e)
    h = L.GRU(3, name="gru")(h)
    y = L.Dense(2, activation="softmax", name="out")(h)
    m = K.Model(t, y, name="embedding_mask")
    ids = rng.integers(1, 12, size=(3, 6)).astype(np.float32)
    ids[0, 4:] = 0
    ids[1, :2] = 0
    ids[2, 2] = 0
    out["embedding_mask"] = (m, [ids])

    # A nested Sequential inside a functional model, and the shape layers.
    inner = K.Sequential([L.Input(shape=(4, 3)), L.LSTM(5, return_sequences=True, name="inner_lstm"),
                          L.Dropout(0.5, name="inner_drop")], name="inner")
    x = L.Input(shape=(4, 3), name="x")
    h = inner(x)
    h = L.BatchNormalization(name="bn")(h)
    h = L.LayerNormalization(name="ln")(h)
    f = L.Flatten(name="flat")(h)
    r = L.RepeatVector(2, name="rep")(L.Dense(6, name="d6")(f))
    p = L.Permute((2, 1), name="perm")(r)
    s = L.Reshape((3, 4), name="resh")(p)
    s = L.Activation("hard_sigmoid", name="hs")(s)
    g = L.GRU(3, reset_after=False, recurrent_activation="hard_sigmoid", name="gru_rb")(s)
    m = K.Model(x, g, name="nested")
    out["nested"] = (m, [rng.standard_normal((2, 4, 3))])

    # A nested model holding BatchNormalization and a frozen Dense: a legacy .h5 stores its
    # weights as all trainable ones, then all non-trainable ones (moving stats, frozen layers).
    inner = K.Sequential([L.Input(shape=(4, 3)), L.LSTM(4, return_sequences=True, name="in_lstm"),
                          L.BatchNormalization(name="in_bn"), L.Dense(3, name="in_dense"),
                          L.Dense(3, name="in_frozen", trainable=False)],
                         name="inner_bn")
    x = L.Input(shape=(4, 3), name="x")
    m = K.Model(x, L.GRU(2, name="top_gru")(inner(x)), name="nested_bn")
    out["nested_bn"] = (m, [rng.standard_normal((2, 4, 3))])

    # Masking + RNN(StackedRNNCells) + go_backwards, Sequential.
    m = K.Sequential([L.Input(shape=(5, 3)), L.Masking(mask_value=0.0, name="mask"),
                      L.RNN([L.LSTMCell(3), L.GRUCell(4)], return_sequences=True, name="stacked"),
                      L.SimpleRNN(2, go_backwards=True, name="back")], name="seq_stacked")
    x = rng.standard_normal((2, 5, 3))
    x[0, 3:] = 0
    x[1, 1] = 0
    out["seq_stacked"] = (m, [x])
    return out


def tf_keras_child():
    import tf_keras as K
    from tf_keras import layers as L
    version = K.__version__
    for name, (m, xs) in models(K, L).items():
        randomize(m, 11)
        xs = [np.asarray(x, np.float32) for x in xs]
        ys = predict(m, xs)
        m.save(os.path.join(OUT, "k2_%s.h5" % name))
        write_refs("k2_%s" % name, xs, ys, "tf-keras", version, ["k2_%s.h5" % name])
        # save_weights + to_json
        m.save_weights(os.path.join(OUT, "k2w_%s.h5" % name))
        with open(os.path.join(OUT, "k2w_%s.json" % name), "w") as fh:
            fh.write(m.to_json())
        write_refs("k2w_%s" % name, xs, ys, "tf-keras", version, ["k2w_%s.json" % name, "k2w_%s.h5" % name])
        print("ok k2", name)
    # CuDNNLSTM / CuDNNGRU saved by tf-keras (built on CPU), run as Keras converts them:
    # an LSTM / GRU(reset_after=True) model loading the cuDNN weights (preprocess_weights_for_loading).
    from tf_keras.src.layers.rnn.cudnn_lstm import CuDNNLSTM
    from tf_keras.src.layers.rnn.cudnn_gru import CuDNNGRU
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    for cls, plain in [(CuDNNLSTM, lambda **k: L.LSTM(recurrent_activation="sigmoid", **k)),
                       (CuDNNGRU, lambda **k: L.GRU(reset_after=True, recurrent_activation="sigmoid", **k))]:
        nm = cls.__name__.lower()
        c = K.Sequential([L.Input(shape=(6, 3)), cls(4, return_sequences=True, name="rec"),
                          L.Dense(2, name="out")], name=nm)
        randomize(c, 3)
        path = os.path.join(OUT, "k2_%s.h5" % nm)
        c.save(path)
        p = K.Sequential([L.Input(shape=(6, 3)), plain(units=4, return_sequences=True, name="rec"),
                          L.Dense(2, name="out")], name=nm)
        p.load_weights(path)
        write_refs("k2_%s" % nm, [x], predict(p, [x]), "tf-keras", version, ["k2_%s.h5" % nm])
        print("ok k2", nm)


def keras3_child():
    import keras as K
    from keras import layers as L
    version = K.__version__
    for name, (m, xs) in models(K, L).items():
        randomize(m, 11)
        xs = [np.asarray(x, np.float32) for x in xs]
        ys = predict(m, xs)
        m.save(os.path.join(OUT, "k3_%s.keras" % name))
        write_refs("k3_%s" % name, xs, ys, "keras", version, ["k3_%s.keras" % name])
        m.save(os.path.join(OUT, "k3h_%s.h5" % name))
        write_refs("k3h_%s" % name, xs, ys, "keras", version, ["k3h_%s.h5" % name])
        m.save_weights(os.path.join(OUT, "k3w_%s.weights.h5" % name))
        with open(os.path.join(OUT, "k3w_%s.json" % name), "w") as fh:
            fh.write(m.to_json())
        write_refs("k3w_%s" % name, xs, ys, "keras", version, ["k3w_%s.json" % name, "k3w_%s.weights.h5" % name])
        print("ok k3", name)


if __name__ == "__main__":
    if sys.argv[1:] == ["--tf-keras"]:
        tf_keras_child()
    elif sys.argv[1:] == ["--keras3"]:
        keras3_child()
    else:
        os.makedirs(OUT, exist_ok=True)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")
        subprocess.run([sys.executable, __file__, "--tf-keras"], env=env, check=True)
        env = dict(os.environ, KERAS_BACKEND="tensorflow", PYTHONHASHSEED="0")
        env.pop("TF_USE_LEGACY_KERAS", None)
        subprocess.run([sys.executable, __file__, "--keras3"], env=env, check=True)
