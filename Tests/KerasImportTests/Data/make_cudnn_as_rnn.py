"""cuDNN weights loaded into LSTM / GRU architectures, as tf-keras loads them (how textgenrnn
runs its CuDNNLSTM checkpoints on CPU), for KerasImport's conversion (CuDNNAsRNNTests.swift).

For models/k2_cudnnlstm.h5 and models/k2_cudnngru.h5 (CuDNNLSTM / CuDNNGRU models, written by
make_layer_models.py), this takes the saved model_config with the cuDNN class replaced by
LSTM / GRU(reset_after=True) (sigmoid gates, as cuDNN computes), builds it in tf-keras 2.21,
`load_weights` the cuDNN file (tf-keras' `_convert_rnn_weights` converts the weights by their
bias shape) and stores the architecture JSON and the outputs on the inputs of the file's
refs, in models/cudnn_as_rnn_refs.h5:

    /<model>/  attrs: architecture (model.to_json()), weights (the cuDNN file)
        input_0, output_0 (float32)

Run with the fixture venv from the repository root:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_cudnn_as_rnn.py
"""
import json
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import h5py
import numpy as np
import tf_keras

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
RENAME = {"CuDNNLSTM": ("LSTM", {}), "CuDNNGRU": ("GRU", {"reset_after": True})}


def main():
    with h5py.File(os.path.join(MODELS, "cudnn_as_rnn_refs.h5"), "w") as out:
        out.attrs["generator"] = "Tests/KerasImportTests/Data/make_cudnn_as_rnn.py"
        for name in ("k2_cudnnlstm", "k2_cudnngru"):
            path = os.path.join(MODELS, name + ".h5")
            cfg = json.loads(h5py.File(path, "r").attrs["model_config"])
            for layer in cfg["config"]["layers"]:
                if layer["class_name"] in RENAME:
                    cls, extra = RENAME[layer["class_name"]]
                    layer["class_name"] = cls
                    layer["config"].update(extra, activation="tanh", recurrent_activation="sigmoid")
            model = tf_keras.models.model_from_json(json.dumps(cfg))
            model.load_weights(path)
            x = np.asarray(h5py.File(os.path.join(MODELS, name + ".refs.h5"), "r")["input_0"], np.float32)
            g = out.create_group(name)
            g.attrs["architecture"] = model.to_json()
            g.attrs["weights"] = name + ".h5"
            g.create_dataset("input_0", data=x)
            g.create_dataset("output_0", data=np.asarray(model.predict(x, verbose=0), np.float32))
            print("ok", name, [l.__class__.__name__ for l in model.layers])


if __name__ == "__main__":
    main()
