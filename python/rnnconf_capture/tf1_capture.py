"""capture_tf1: a TF1 graph (tf.compat.v1 rnn_cell cells run by a tf.compat.v1.nn driver) as a case.

The weights (the graph's global variables, `:0` dropped, in `tf.global_variables()` order) and
the outputs (the fetched tensors, run in the session) are read from the live session. The
`config` (fixtures/README.md, "### tf1": `cell`, `cell_bw`, `driver`, `driver_kwargs`, `scope`)
is given by the caller: a built TF1 graph does not record the cells' constructor arguments.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .case import CapturedCase, _finish

CELL_KIND = {"BasicRNNCell": "rnn", "BasicLSTMCell": "lstm", "LSTMCell": "lstm", "GRUCell": "gru"}
WRAPPERS = ("DropoutWrapper", "ResidualWrapper", "DeviceWrapper")


def cell_kind(spec: Mapping) -> str:
    """`rnn`, `lstm`, `gru` or `mixed` for a config cell (through wrappers and MultiRNNCell)."""
    if spec["class"] in WRAPPERS:
        return cell_kind(spec["cell"])
    if spec["class"] == "MultiRNNCell":
        kinds = {cell_kind(c) for c in spec["cells"]}
        return kinds.pop() if len(kinds) == 1 else "mixed"
    if spec["class"] not in CELL_KIND:
        raise ValueError(f"unknown TF1 cell class {spec['class']!r}; known: {sorted(CELL_KIND) + ['MultiRNNCell', *WRAPPERS]}")
    return CELL_KIND[spec["class"]]


def capture_tf1(session, inputs: Sequence, outputs: Sequence, path: Optional[str] = None, *, name: str,
                config: Mapping, description: str = "", cell: Optional[str] = None,
                atol: Optional[float] = None, rtol: Optional[float] = None,
                tolerance_reason: Optional[str] = None, references: Optional[str] = None) -> CapturedCase:
    """inputs: `(name, placeholder, value)` per fed tensor, in the case's order (`inputs`,
    `sequence_length`, `initial_state/...`); outputs: `(name, tensor)` per output (`outputs`,
    `state/...`; see the schema). Runs the outputs in `session` with those feeds and reads every
    global variable of the session's graph. Returns the `CapturedCase`; writes it to `path` when given."""
    import tensorflow as tf

    v1 = tf.compat.v1
    feeds = {ph: np.asarray(val) for _, ph, val in inputs}
    ins = [(n, np.asarray(val)) for n, _, val in inputs]
    floats = [v for _, v in ins if v.dtype.kind == "f"]
    if not floats or floats[0].dtype.name not in ("float32", "float64"):
        raise ValueError("the first floating-point input must be float32 or float64 (the case's dtype)")
    dtype = floats[0].dtype.name
    with session.graph.as_default():
        variables = v1.global_variables()
    values = session.run(variables) if variables else []
    weights = [(v.name[:-2] if v.name.endswith(":0") else v.name, np.asarray(a))
               for v, a in zip(variables, values)]
    got = session.run([t for _, t in outputs], feed_dict=feeds)
    outs = [(n, np.asarray(a)) for (n, _), a in zip(outputs, got)]
    for n, a in outs:
        if a.dtype != np.dtype(dtype):
            raise ValueError(f"output {n} is {a.dtype}, expected {dtype}")
    if cell is None:
        kinds = {cell_kind(config["cell"])} | ({cell_kind(config["cell_bw"])} if config.get("cell_bw") else set())
        cell = kinds.pop() if len(kinds) == 1 else "mixed"
    case = CapturedCase(
        name=name, framework="tf1", library="tensorflow", library_version=tf.__version__, cell=cell, dtype=dtype,
        description=description or f"TF1 {config.get('driver')}", config=dict(config), weights=weights, inputs=ins,
        outputs=outs, atol=atol, rtol=rtol, tolerance_reason=tolerance_reason, references=references)
    return _finish(case, path)
