"""capture_keras: a Keras layer or model (tf-keras 2 or Keras 3) as a case.

The config follows fixtures/README.md, "### keras": `{"library", "keras_version", "calls",
"model": <model.to_json()>}`; weights are `model.weights` in order (Keras 3: variable paths,
tf-keras: variable names); inputs and outputs by the names given (a stateful model called
several times: `<name>_call<k>`). Artifacts: the files Keras saves (tf-keras `model.h5`;
Keras 3 `model.keras` and `model.weights.h5`).
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Optional, Sequence

import numpy as np

from .case import CapturedCase, _finish

RECURRENT = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru", "CuDNNLSTM": "lstm", "CuDNNGRU": "gru"}


def _keras_of(obj):
    """(keras module, library name) the object belongs to: tf-keras or Keras 3."""
    mod = type(obj).__module__
    if mod.startswith("tf_keras"):
        import tf_keras
        return tf_keras, "tf-keras"
    if mod.startswith("keras"):
        import keras
        return keras, "keras"
    if mod.startswith("tensorflow"):
        import tensorflow as tf
        k = tf.keras
        return k, ("tf-keras" if type(k).__module__.startswith("tf_keras") or k.__name__.startswith("tf_keras") else "keras")
    raise TypeError(f"capture_keras takes a Keras layer or model, not {type(obj).__name__} ({mod})")


def infer_cell(model) -> str:
    """`rnn`, `lstm` or `gru` when every recurrent layer is of one kind, else `mixed`
    (an `RNN(cell)` layer counts as mixed)."""
    kinds = set()

    def visit(layer):
        cls = type(layer).__name__
        if cls == "Bidirectional":
            visit(layer.forward_layer)
            visit(layer.backward_layer)
        elif cls in RECURRENT:
            kinds.add(RECURRENT[cls])
        elif cls == "RNN":
            kinds.add("mixed")
        for sub in getattr(layer, "layers", []) or []:
            visit(sub)

    for layer in model.layers:
        visit(layer)
    if not kinds:
        raise ValueError("the model has no SimpleRNN, LSTM, GRU or RNN layer")
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _input_layer_names(model) -> list:
    """The model's input layer names, in input order (what the saved config calls them)."""
    layers = json.loads(model.to_json()).get("config", {}).get("input_layers")
    if layers:
        if isinstance(layers[0], str):  # Keras 3 writes one input as a flat [name, 0, 0]
            layers = [layers]
        return [entry[0] for entry in layers]
    names = getattr(model, "input_names", None)
    if names:
        return list(names)
    return [(getattr(t, "name", None) or f"input_{k}").split(":")[0] for k, t in enumerate(model.inputs)]


def _state_names(kind: str) -> list:
    return ["h", "c"] if kind == "lstm" else ["h"]


def _cell_kind(cell) -> str:
    name = type(cell).__name__
    return {"SimpleRNNCell": "rnn", "LSTMCell": "lstm", "GRUCell": "gru"}.get(name, name)


def infer_output_names(model) -> list:
    """The schema's output names (fixtures/README.md, "### keras") for a model whose outputs are
    its last recurrent layer's: `output` (Bidirectional merge_mode=None: `output_fw`,
    `output_bw`), then with return_state `state_h` [`state_c`], `fw_state_*`/`bw_state_*`, or
    `cell{k}_state_*` for RNN(StackedRNNCells)."""
    last = None
    for layer in model.layers:
        if type(layer).__name__ in set(RECURRENT) | {"Bidirectional", "RNN"}:
            last = layer
    if last is None:
        raise ValueError("the model has no recurrent layer; pass output_names")
    cls = type(last).__name__
    inner = last.forward_layer if cls == "Bidirectional" else last
    names = ["output_fw", "output_bw"] if cls == "Bidirectional" and last.merge_mode is None else ["output"]
    if not getattr(inner, "return_state", False):
        return names
    if cls == "Bidirectional":
        kind = RECURRENT[type(inner).__name__]
        return names + [f"{d}_state_{s}" for d in ("fw", "bw") for s in _state_names(kind)]
    if cls == "RNN":
        cells = getattr(inner.cell, "cells", None)
        if not cells:
            return names + [f"state_{s}" for s in _state_names(_cell_kind(inner.cell))]
        return names + [f"cell{k}_state_{s}" for k, c in enumerate(cells) for s in _state_names(_cell_kind(c))]
    return names + [f"state_{s}" for s in _state_names(RECURRENT[cls])]


def _as_feed(inputs) -> list:
    return [np.asarray(a) for a in inputs] if isinstance(inputs, (list, tuple)) else [np.asarray(inputs)]


def _save_artifacts(keras, library, model) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = ["model.h5"] if library == "tf-keras" else ["model.keras", "model.weights.h5"]
        for n in names:
            p = os.path.join(tmp, n)
            if n == "model.weights.h5":
                model.save_weights(p)
            elif library == "tf-keras":
                model.save(p, save_format="h5")
            else:
                model.save(p)
            with open(p, "rb") as f:
                out[n] = f.read()
    return out


def capture_keras(layer_or_model, inputs, path: Optional[str] = None, *, name: str,
                  more_calls: Sequence = (), input_names: Optional[Sequence[str]] = None,
                  output_names: Optional[Sequence[str]] = None, cell: Optional[str] = None,
                  description: str = "", artifacts=True, atol: Optional[float] = None,
                  rtol: Optional[float] = None, tolerance_reason: Optional[str] = None,
                  references: Optional[str] = None,
                  compared_outputs: Optional[Sequence[str]] = None) -> CapturedCase:
    """Runs `layer_or_model` on `inputs` (one array, or one per model input) with training=False
    and captures it. A layer is first wrapped in a functional model with one input `x`.
    more_calls: further inputs for a stateful model, called in order after `inputs` (state
    carries over). input_names / output_names: default the model's input layer names and the
    schema's names for its last recurrent layer's outputs (`infer_output_names`). artifacts: True saves the model as Keras does (tf-keras `model.h5`,
    Keras 3 `model.keras` + `model.weights.h5`), False none, or a dict {file name: bytes}.
    A boolean input (a mask passed as `mask=`) is stored as uint8, 1 = valid. compared_outputs: the
    output names the case compares (`compared_output_names`; None = all).
    Returns the `CapturedCase`; writes it to `path` when given."""
    keras, library = _keras_of(layer_or_model)
    feed0 = _as_feed(inputs)
    model = layer_or_model
    if not isinstance(model, keras.Model):
        x = keras.Input(shape=feed0[0].shape[1:], name="x", dtype=feed0[0].dtype.name)
        model = keras.Model(x, layer_or_model(x), name="model")
    dtype = feed0[0].dtype.name
    if dtype not in ("float32", "float64"):
        raise ValueError(f"the first input is {dtype}; rnnconf cases are float32 or float64")
    if input_names is None:
        input_names = _input_layer_names(model)
    feeds = [feed0] + [_as_feed(f) for f in more_calls]
    calls = len(feeds)
    try:
        import tensorflow as tf
        flatten = tf.nest.flatten
    except ImportError:  # Keras 3 on another backend
        flatten = keras.tree.flatten
    ins, outs = [], []
    for k, feed in enumerate(feeds):
        if len(feed) != len(input_names):
            raise ValueError(f"call {k} has {len(feed)} inputs; the model takes {len(input_names)} ({input_names})")
        suffix = f"_call{k}" if calls > 1 else ""
        ins += [(n + suffix, v.astype(np.uint8) if v.dtype == np.bool_ else v) for n, v in zip(input_names, feed)]
        ys = [np.asarray(v) for v in flatten(model(feed if len(feed) > 1 else feed[0], training=False))]
        names = list(output_names) if output_names is not None else infer_output_names(model)
        if len(ys) != len(names):
            raise ValueError(f"the model gave {len(ys)} outputs but the names are {names}; its outputs must be "
                             "its last recurrent layer's (fixtures/README.md, \"### keras\"), or pass output_names")
        for n, v in zip(names, ys):
            if v.dtype != np.dtype(dtype):
                raise ValueError(f"output {n} is {v.dtype}, expected {dtype}")
            outs.append((n + suffix, v))
    weights = [((getattr(w, "path", None) if library == "keras" else w.name), np.asarray(w.numpy()))
               for w in model.weights]
    config = {"library": library, "keras_version": keras.__version__, "calls": calls,
              "model": json.loads(model.to_json())}
    if artifacts is True:
        artifacts = _save_artifacts(keras, library, model)
    case = CapturedCase(
        name=name, framework="keras", library=library, library_version=keras.__version__,
        cell=cell or infer_cell(model), dtype=dtype, description=description or f"Keras model {model.name}",
        config=config, weights=weights, inputs=ins, outputs=outs, atol=atol, rtol=rtol,
        tolerance_reason=tolerance_reason, artifacts=artifacts or None, references=references,
        compared_outputs=compared_outputs)
    case.extra["model"] = model
    return _finish(case, path)
