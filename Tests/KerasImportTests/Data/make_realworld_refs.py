"""Reference outputs for the real-world Keras files in ../shared/realworld.

For every file that a Keras can load (and that holds no Lambda layer), this runs
that Keras on seeded inputs and stores the inputs and Keras' outputs (never the
model weights) in realworld_refs.h5, one group per model file:

    /<file name>/  attrs: file, weights (sidecar or ""), library, library_version,
                          keras_version (as stored), how (what loaded it)
        input_0, input_1, ...    (batch-major, float32 as Keras was fed; Embedding ids as floats)
        output_0, output_1, ...  (float32 as Keras returned them, the model's output order)

Run with the fixture venv from the repository root:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_realworld_refs.py [FILE ...]

(with file names: only those groups are rewritten, the others kept).

Keras 2 files run in tf-keras 2.21 (TF_USE_LEGACY_KERAS=1); Keras 1 files are rebuilt
from their config with Keras 1 keys renamed (output_dim -> units, inner_activation ->
recurrent_activation) and their per-gate weights converted by tf-keras' own
`preprocess_weights_for_loading(..., original_keras_version="1")`; Keras 3 files run
in Keras 3.15. Files with Lambda layers are never loaded (their `function` is
marshalled bytecode): the config is read as JSON and the file is skipped with the
reason. So are files without an architecture, files with custom layers, and the
unbuilt model.
"""
import json
import os
import subprocess
import sys
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
REALWORLD = os.path.abspath(os.path.join(ROOT, "..", "shared", "realworld"))
OUT = os.path.join(HERE, "realworld_refs.h5")

# file -> (sidecar architecture JSON or None)
MODELS = {
    "KonduitAI__dl4j-test-resources__simple_lstm_th_keras_1_model.h5": None,
    "KonduitAI__dl4j-test-resources__bidirectional_lstm_tensorflow_1.h5": None,
    "nanoporetech__medaka__ecoli_entire_LSTM_frequency_assm_reads.h5": None,
    "chen0040__keras-chatbot-web-api__gunthercox_char-weights.h5":
        "chen0040__keras-chatbot-web-api__gunthercox_char-architecture.json",
    "chen0040__keras-sentiment-analysis-web-api__bidirectional_lstm_softmax_weights.h5":
        "chen0040__keras-sentiment-analysis-web-api__bidirectional_lstm_softmax_architecture.json",
    "nanoporetech__medaka__medaka_model.hdf5": None,
    "anushree1001__Comparing-Multiple-Pre-trained-Neural-network-models-on-IMDB-dataset__bigru_model.h5": None,
    "jancervenka__turbofan_failure__models_lstm.h5": None,
    "Hanh-hub__Sign-Language-Detection-using-ACTION-RECOGNITION-with-Python-LSTM-Deep-Learning-Model__action.h5": None,
    "BenedictOdhiambo__GRU-Deployment__gru_model.h5": None,
    "GrzTer__PZ-0_1__model_checkpoint.h5": None,
    "Partha-Guntur__BiLSTM-Stock-Market-Analysis__bilstm_model.keras": None,
    "MSMRo__deeplearning_codes__lstm_model.keras": None,
    "satwikk908__battery-soh-gru__gru_model.h5": None,
    "akshitgajera1013__Email-Spam-Detection-GRU-Model-__gru_model.keras": None,
    "iam-pranjal__Human-Activity-Recognition__convlstm.h5": None,
}

BATCH = 2
STEPS = 7  # for a None time axis
# Models whose input is large: one sample keeps the committed input small ((1, 20, 64, 64, 3) video clip).
BATCH_OF = {"iam-pranjal__Human-Activity-Recognition__convlstm.h5": 1}


def config_of(path, sidecar):
    """The architecture JSON and keras_version, read without loading any code."""
    if sidecar:
        return json.load(open(os.path.join(REALWORLD, sidecar))), None
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"PK":
        z = zipfile.ZipFile(path)
        meta = json.loads(z.read("metadata.json"))
        return json.loads(z.read("config.json")), meta.get("keras_version")
    f = h5py.File(path, "r")
    v = f.attrs.get("keras_version")
    v = v.decode() if isinstance(v, bytes) else v
    mc = f.attrs["model_config"]
    return json.loads(mc.decode() if isinstance(mc, bytes) else mc), v


def classes(cfg):
    out = []
    def walk(layer):
        out.append(layer.get("class_name"))
        c = layer.get("config")
        if isinstance(c, dict):
            for x in c.get("layers", []) or []:
                walk(x)
            for k in ("layer", "backward_layer", "cell"):
                if isinstance(c.get(k), dict):
                    walk(c[k])
        elif isinstance(c, list):
            for x in c:
                walk(x)
    walk(cfg)
    return out


def keras1_to_2(cfg):
    """Keras 1 Sequential config -> tf-keras keys (the rename only; weights are converted by tf-keras)."""
    layers = cfg["config"] if isinstance(cfg["config"], list) else cfg["config"]["layers"]
    def fix(layer):
        c = dict(layer["config"])
        cls = layer["class_name"]
        if cls == "Bidirectional":
            c = {"name": c["name"], "merge_mode": c.get("merge_mode", "concat"), "layer": fix(c["layer"])}
            return {"class_name": cls, "config": c}
        if "output_dim" in c and cls != "Embedding":
            c["units"] = c.pop("output_dim")
        if "inner_activation" in c:
            c["recurrent_activation"] = c.pop("inner_activation")
        if "bias" in c:
            c["use_bias"] = c.pop("bias")
        keep = {"name", "units", "activation", "recurrent_activation", "return_sequences", "go_backwards", "stateful",
                "use_bias", "merge_mode", "layer", "input_dim", "output_dim", "mask_zero", "rate", "trainable"}
        if cls == "Embedding":
            keep -= {"units"}
        else:
            keep -= {"input_dim", "output_dim"}
        c = {k: v for k, v in c.items() if k in keep}
        return {"class_name": cls, "config": c}
    first = layers[0]["config"]
    shape = first.get("batch_input_shape")
    new = [fix(l) for l in layers]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": new}}, shape


def inputs_for(model, rng, cfg, batch=BATCH):
    xs = []
    emb = {}
    for layer in model.layers:
        if layer.__class__.__name__ == "Embedding":
            emb[id(layer)] = layer
    for k, t in enumerate(model.inputs):
        shape = [d if d is not None else (batch if i == 0 else STEPS) for i, d in enumerate(t.shape)]
        shape[0] = batch
        dtype = str(t.dtype)
        # Integer ids when the input feeds an Embedding.
        feeds_embedding = any(l.__class__.__name__ == "Embedding" for l in model.layers)
        if feeds_embedding and ("int" in dtype or len(shape) == 2):
            vocab = min(l.input_dim for l in model.layers if l.__class__.__name__ == "Embedding")
            x = rng.integers(1, vocab, size=shape).astype(np.float64)
            x[0, :2] = 0  # padding (masked when mask_zero)
        else:
            x = rng.standard_normal(shape)
        xs.append(x)
    return xs


def run_tf_keras(path, sidecar, cfg, version):
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras
    from tf_keras.src.saving.legacy import hdf5_format
    if version and version.startswith("1"):
        new, shape = keras1_to_2(cfg)
        model = tf_keras.Sequential.from_config(new["config"])
        model.build(tuple(shape))
        f = h5py.File(path, "r")
        g = f["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["layer_names"]]
        weighted = [l for l in model.layers if l.weights]
        stored = [n for n in names if len(g[n].attrs["weight_names"])]
        assert len(weighted) == len(stored), (len(weighted), stored)
        for layer, n in zip(weighted, stored):
            wn = [w.decode() if isinstance(w, bytes) else w for w in g[n].attrs["weight_names"]]
            values = [np.asarray(g[n][w]) for w in wn]
            values = hdf5_format.preprocess_weights_for_loading(layer, values, original_keras_version="1",
                                                                original_backend=None)
            layer.set_weights(values)
        return model, "tf-keras %s: Keras 1 config renamed, weights converted by preprocess_weights_for_loading" % tf_keras.__version__
    if sidecar:
        model = tf_keras.models.model_from_json(json.dumps(cfg))
        model.load_weights(path)
        return model, "tf-keras %s: model_from_json + load_weights" % tf_keras.__version__
    model = tf_keras.models.load_model(path, compile=False)
    return model, "tf-keras %s: load_model" % tf_keras.__version__


def run_keras3(path):
    import keras
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return model, "keras %s: load_model" % keras.__version__


def child(name):
    """Runs one model in this process and prints a JSON line (tf-keras and Keras 3 need separate processes)."""
    sidecar = MODELS[name]
    path = os.path.join(REALWORLD, name)
    cfg, version = config_of(path, sidecar)
    if sidecar:
        version = cfg.get("keras_version") or h5py.File(path, "r").attrs.get("keras_version")
        version = version.decode() if isinstance(version, bytes) else version
    bad = [c for c in classes(cfg) if c == "Lambda"]
    assert not bad, "Lambda layers are never loaded"
    rng = np.random.default_rng(abs(hash(name)) % (2**32) if False else sum(map(ord, name)))
    if version and version.startswith("3"):
        model, how = run_keras3(path)
        lib, libv = "keras", __import__("keras").__version__
    else:
        model, how = run_tf_keras(path, sidecar, cfg, version)
        lib, libv = "tf-keras", __import__("tf_keras").__version__
    xs = [x.astype(np.float32) for x in inputs_for(model, rng, cfg, BATCH_OF.get(name, BATCH))]
    ys = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    if not isinstance(ys, (list, tuple)):
        ys = [ys]
    np.savez(os.path.join(HERE, ".tmp_" + name + ".npz"), *xs, *[np.asarray(y) for y in ys])
    print(json.dumps({"n_in": len(xs), "n_out": len(ys), "how": how, "library": lib, "library_version": libv,
                      "keras_version": version or ""}))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    # Names on the command line: rewrite only those groups, keep the others.
    only = sys.argv[1:]
    with h5py.File(OUT, "a" if only else "w") as out:
        out.attrs["generator"] = "Tests/KerasImportTests/Data/make_realworld_refs.py"
        for name in only or MODELS:
            if name in out:
                del out[name]
            env = dict(os.environ)
            path = os.path.join(REALWORLD, name)
            cfg, version = config_of(path, MODELS[name])
            if not (version or "").startswith("3"):
                env["TF_USE_LEGACY_KERAS"] = "1"
            r = subprocess.run([sys.executable, __file__, "--child", name], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                print("FAILED", name, r.stderr[-3000:])
                sys.exit(1)
            info = json.loads(r.stdout.strip().splitlines()[-1])
            npz = os.path.join(HERE, ".tmp_" + name + ".npz")
            arrays = np.load(npz)
            g = out.create_group(name)
            g.attrs["file"] = name
            g.attrs["weights"] = MODELS[name] or ""
            for k in ("how", "library", "library_version", "keras_version"):
                g.attrs[k] = info[k]
            for i in range(info["n_in"]):
                g.create_dataset("input_%d" % i, data=arrays["arr_%d" % i].astype(np.float32))
            for j in range(info["n_out"]):
                g.create_dataset("output_%d" % j, data=arrays["arr_%d" % (info["n_in"] + j)].astype(np.float32))
            os.remove(npz)
            print("ok", name, info["how"], [arrays["arr_%d" % i].shape for i in range(info["n_in"] + info["n_out"])])


if __name__ == "__main__":
    main()
