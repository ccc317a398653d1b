"""Reference outputs of the real-world Keras files that rnnconf runs cut, or with a
converted weights file (../shared/realworld, see its MANIFEST.md; never copied here).

These models cannot be loaded whole by any installed Keras: they end in a CTC `Lambda`
(marshalled bytecode, never loaded), a keras_contrib `CRF`, a custom attention layer, or
start with a kapre front end; two are weights-only files without an architecture. For each,
this script builds the cut sub-model in tf-keras 2.21 from the file's config (read as JSON,
never deserialising a Lambda) or from the architecture the project's code defines, loads
the file's weights with tf-keras' own loader (`load_weights_from_hdf5_group_by_name`, or
`model.load_weights`, which converts Keras 1 and cuDNN weights by
`preprocess_weights_for_loading`), runs it on a seeded small input and stores only the
inputs, the outputs and the cut, one group per case, in realworld_cut_refs.h5:

    /<case>/  attrs: file, weights ("" or the weights file), architecture ("" or the
                     architecture JSON this script wrote, for a weights-only file),
                     output_layers, input_layers (JSON lists), how
        input_0, ...   (batch-major float32; Embedding ids as floats)
        output_0, ...  (float32, the outputs of the output layers in order)

Run with the fixture venv from the repository root:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_realworld_cut_refs.py
"""
import io
import json
import os
import re
import sys
import zipfile

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py
import numpy as np
import tf_keras
from tf_keras.src.saving.legacy import hdf5_format

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
REALWORLD = os.path.abspath(os.path.join(ROOT, "..", "shared", "realworld"))
OUT = os.path.join(HERE, "realworld_cut_refs.h5")
BATCH = 2


def model_config(path):
    """The model config of a legacy .h5 or a zip, read as JSON (no code is loaded)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"PK":
        return json.loads(zipfile.ZipFile(path).read("config.json"))
    mc = h5py.File(path, "r").attrs["model_config"]
    return json.loads(mc.decode() if isinstance(mc, bytes) else mc)


def keras_version(path):
    with open(path, "rb") as fh:
        if fh.read(2) == b"PK":
            return json.loads(zipfile.ZipFile(path).read("metadata.json"))["keras_version"]
    v = h5py.File(path, "r").attrs.get("keras_version", b"1")
    return v.decode() if isinstance(v, bytes) else v


def old_gru_defaults(layer, version):
    """A GRU saved before Keras 2.1 has no `reset_after` key: it computed reset_after=False,
    tf-keras' default is True. State it, as that Keras ran it."""
    c = layer.get("config", {})
    if layer.get("class_name") == "GRU" and "reset_after" not in c:
        major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
        if (major, minor) < (2, 1):
            c["reset_after"] = False
    for k in ("layer", "backward_layer"):
        if isinstance(c.get(k), dict):
            old_gru_defaults(c[k], version)


def functional_sub_config(cfg, outputs, given=None):
    """The functional config reduced to the layers `outputs` need, with each layer in `given`
    (name -> batch shape) replaced by an InputLayer of that name."""
    given = given or {}
    layers = cfg["config"]["layers"]
    by = {l["config"]["name"]: l for l in layers}
    need, stack = set(), list(outputs)
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        if n in given:
            continue
        for node in by[n].get("inbound_nodes", []):
            for ref in node:
                stack.append(ref[0])
    assert not any(by[n]["class_name"] == "Lambda" for n in need), "a Lambda inside the cut"
    new, inputs = [], []
    for l in layers:
        n = l["config"]["name"]
        if n not in need:
            continue
        if n in given:
            l = {"class_name": "InputLayer", "name": n, "inbound_nodes": [],
                 "config": {"batch_input_shape": given[n], "dtype": "float32", "name": n, "sparse": False}}
        if l["class_name"] == "InputLayer":
            inputs.append([n, 0, 0])
        new.append(l)
    return {"class_name": "Model", "config": {"name": cfg["config"]["name"], "layers": new, "input_layers": inputs,
                                              "output_layers": [[o, 0, 0] for o in outputs]}}


def load_by_name(model, path):
    with h5py.File(path, "r") as f:
        hdf5_format.load_weights_from_hdf5_group_by_name(f["model_weights"] if "model_weights" in f else f, model)


def snake(name):
    s = re.sub(r"\W+", "", name)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def load_keras214_zip(model, path, cfg):
    """tf-keras 2.13/2.14 .keras zip: weights at `_layer_checkpoint_dependencies/<snake_case
    class>[_N]/...vars/<i>` (one key per layer of the saved model, in its layer order)."""
    z = zipfile.ZipFile(path)
    f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    root = f["_layer_checkpoint_dependencies"]
    used, key = {}, {}
    for l in cfg["config"]["layers"]:
        s = snake(l["class_name"])
        k = s if s not in used else "%s_%d" % (s, used[s] + 1)
        used[s] = used.get(s, -1) + 1
        key[l["config"]["name"]] = k

    def vars_(g):
        if "vars" not in g:
            return []
        return [np.asarray(g["vars"][str(i)]) for i in range(len(g["vars"]))]

    for layer in model.layers:
        if not layer.weights:
            continue
        g = root[key[layer.name]]
        cls = layer.__class__.__name__
        if cls == "Bidirectional":
            values = vars_(g["forward_layer"]["cell"]) + vars_(g["backward_layer"]["cell"])
        elif cls == "TimeDistributed":
            values = vars_(g["layer"])
        else:
            values = vars_(g)
        layer.set_weights(values)


def ctc(file, output, steps, features):
    path = os.path.join(REALWORLD, file)
    cfg, version = model_config(path), keras_version(path)
    for l in cfg["config"]["layers"]:
        old_gru_defaults(l, version)
    model = tf_keras.Model.from_config(functional_sub_config(cfg, [output])["config"])
    if file.endswith(".h5") and open(path, "rb").read(2) == b"PK":
        load_keras214_zip(model, path, cfg)
        how = "tf-keras %s: sub-model from config.json up to `%s`, weights set from the 2.14 zip's _layer_checkpoint_dependencies" % (tf_keras.__version__, output)
    else:
        load_by_name(model, path)
        how = "tf-keras %s: sub-model from model_config up to `%s`, load_weights_from_hdf5_group_by_name" % (tf_keras.__version__, output)
    rng = np.random.default_rng(sum(map(ord, file)))
    x = rng.standard_normal((BATCH, steps, features)).astype(np.float32)
    return dict(file=file, inputs=[x], outputs=[model.predict(x, verbose=0)], output_layers=[output], how=how)


def crf():
    file = "hecyxy__FinanceMl__search.h5"
    path = os.path.join(REALWORLD, file)
    cfg = model_config(path)
    layers = cfg["config"]["layers"] if isinstance(cfg["config"], dict) else cfg["config"]
    names = [l["config"]["name"] for l in layers]
    cut = names.index("bidirectional_1")
    model = tf_keras.Sequential.from_config({"name": "cut", "layers": layers[:cut + 1]})
    load_by_name(model, path)
    vocab = layers[0]["config"]["input_dim"]
    rng = np.random.default_rng(13)
    x = rng.integers(1, vocab, size=(BATCH, 7)).astype(np.float32)
    x[0, 5:] = 0  # padding, masked by mask_zero
    return dict(file=file, inputs=[x], outputs=[model.predict(x, verbose=0)], output_layers=["bidirectional_1"],
                how="tf-keras %s: Sequential of the layers up to `bidirectional_1` (the CRF after it left out), load_weights_from_hdf5_group_by_name" % tf_keras.__version__)


def kapre():
    file = "tomhwi01__audio_classification__models_lstm.h5"
    path = os.path.join(REALWORLD, file)
    cfg = model_config(path)
    # MagnitudeToDecibel's output: 100 frames (16000 samples, hop 160, pad_end) x 128 mels x 1.
    shape = [None, 100, 128, 1]
    out = cfg["config"]["output_layers"][0][0]
    model = tf_keras.Model.from_config(functional_sub_config(cfg, [out], {"magnitude_to_decibel": shape})["config"])
    load_by_name(model, path)
    rng = np.random.default_rng(19)
    x = (rng.standard_normal((BATCH, 100, 128, 1)) * 10 - 40).astype(np.float32)  # decibel-like
    return dict(file=file, inputs=[x], outputs=[model.predict(x, verbose=0)], output_layers=[],
                input_layers=["magnitude_to_decibel"],
                how="tf-keras %s: sub-model from `batch_norm` on, `magnitude_to_decibel` given as an input, load_weights_from_hdf5_group_by_name" % tf_keras.__version__)


class AttentionWeightedAverage(tf_keras.layers.Layer):
    """textgenrnn's attention layer (its weight `attention_W`, shape (features, 1)): only its
    class name and weight matter here, since the model is cut before it."""

    def build(self, input_shape):
        self.W = self.add_weight(name="attention_W", shape=(input_shape[2], 1), initializer="uniform")
        super().build(input_shape)

    def call(self, x, mask=None):
        logits = tf_keras.backend.dot(x, self.W)[..., 0]
        a = tf_keras.backend.softmax(logits)
        return tf_keras.backend.sum(x * a[..., None], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def attention():
    """textgenrnn (its model.py): Input -> Embedding(465, 100) -> LSTM(128, seq) x2 ->
    concatenate([embedding, rnn_1, rnn_2]) -> AttentionWeightedAverage -> Dense(softmax). The
    weights file holds CuDNNLSTM weights (bias 8H); `load_weights` converts them for the LSTMs
    as textgenrnn does on CPU. textgenrnn fixes the length at 40; this takes any length and
    runs 12 steps: over 40, float32 rounding is amplified to 6e-5 in Keras' own result (its
    float32 and float64 results differ by that much at step 40), beyond the 1e-5 tolerance."""
    file = "minimaxir__textgenrnn__textgenrnn_weights.hdf5"
    L = tf_keras.layers
    inp = L.Input(shape=(None,), name="input")
    emb = L.Embedding(465, 100, name="embedding")(inp)
    r1 = L.LSTM(128, return_sequences=True, recurrent_activation="sigmoid", name="rnn_1")(emb)
    r2 = L.LSTM(128, return_sequences=True, recurrent_activation="sigmoid", name="rnn_2")(r1)
    cat = L.concatenate([emb, r1, r2], name="rnn_concat")
    att = AttentionWeightedAverage(name="attention")(cat)
    out = L.Dense(465, activation="softmax", name="output")(att)
    model = tf_keras.Model(inp, out)
    model.load_weights(os.path.join(REALWORLD, file))
    cut = tf_keras.Model(inp, cat)
    rng = np.random.default_rng(11)
    x = rng.integers(0, 465, size=(BATCH, 12)).astype(np.float32)
    return dict(file=file, architecture=model.to_json(), inputs=[x], outputs=[cut.predict(x, verbose=0)],
                output_layers=["rnn_concat"],
                how="tf-keras %s: textgenrnn's architecture with LSTM for CuDNNLSTM, model.load_weights (cuDNN weights converted), cut at `rnn_concat`" % tf_keras.__version__)


def keras1():
    """aind2-rnn: LSTM(200, input_shape=(100, 33)) -> Dense(33) -> Activation(softmax), trained
    in Keras 1 (hard_sigmoid gates, Keras 1's default). `load_weights` reads the file's missing
    keras_version as "1" and fuses the per-gate arrays."""
    file = "udacity__aind2-rnn__best_RNN_large_textdata_weights.hdf5"
    model = tf_keras.Sequential([
        tf_keras.layers.LSTM(200, recurrent_activation="hard_sigmoid", input_shape=(100, 33), name="lstm_1"),
        tf_keras.layers.Dense(33, name="dense_1"),
        tf_keras.layers.Activation("softmax", name="activation_1"),
    ])
    model.load_weights(os.path.join(REALWORLD, file))
    rng = np.random.default_rng(1)
    x = np.eye(33, dtype=np.float32)[rng.integers(0, 33, size=(BATCH, 100))]
    return dict(file=file, architecture=model.to_json(), inputs=[x], outputs=[model.predict(x, verbose=0)],
                output_layers=[], how="tf-keras %s: model.load_weights of the Keras 1 file (per-gate weights fused by preprocess_weights_for_loading)" % tf_keras.__version__)


CASES = {
    "ctc_fmind_model_end": lambda: ctc("fmind__AIND-VUI-Capstone__model_end.h5", "softmax", 9, 161),
    "ctc_fmind_model_2": lambda: ctc("fmind__AIND-VUI-Capstone__model_2.h5", "softmax", 31, 161),
    "ctc_raduenuca": lambda: ctc("raduenuca__dnn-speech-recognizer__model_end.h5", "activation_1", 31, 13),
    "ctc_kywertheim": lambda: ctc("kywertheim__SpeechRecognitionPipeline__model_end.h5", "softmax", 31, 13),
    "crf_hecyxy": crf,
    "kapre_tomhwi01": kapre,
    "attention_textgenrnn": attention,
    "keras1_udacity": keras1,
}


def main():
    only = sys.argv[1:]
    with h5py.File(OUT, "a") as out:
        out.attrs["generator"] = "Tests/KerasImportTests/Data/make_realworld_cut_refs.py"
        for name, make in CASES.items():
            if only and name not in only:
                continue
            r = make()
            if name in out:
                del out[name]
            g = out.create_group(name)
            g.attrs["file"] = r["file"]
            g.attrs["weights"] = r["file"] if r.get("architecture") else ""
            g.attrs["architecture"] = r.get("architecture", "")
            g.attrs["output_layers"] = json.dumps(r.get("output_layers", []))
            g.attrs["input_layers"] = json.dumps(r.get("input_layers", []))
            g.attrs["how"] = r["how"]
            for i, x in enumerate(r["inputs"]):
                g.create_dataset("input_%d" % i, data=np.asarray(x, np.float32))
            for j, y in enumerate(r["outputs"]):
                g.create_dataset("output_%d" % j, data=np.asarray(y, np.float32))
            print("ok", name, [np.shape(x) for x in r["inputs"]], [np.shape(y) for y in r["outputs"]], r["how"])


if __name__ == "__main__":
    main()
