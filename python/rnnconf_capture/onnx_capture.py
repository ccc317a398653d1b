"""capture_onnx: a model whose graph is one ONNX LSTM, GRU or RNN node, as a case.

The config follows fixtures/README.md, "### onnx": `{"op_type", "opset", "attributes",
"inputs_present", "outputs_requested", "evaluator"}`. Tensors are stored under the operator's
own input and output names (`W`, `R`, `B`, `P`; `X`, `sequence_lens`, `initial_h`,
`initial_c`; `Y`, `Y_h`, `Y_c`), whatever the graph calls them.
"""
from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from .case import CapturedCase, _finish

INPUT_ROLES = {
    "LSTM": ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"],
    "GRU": ["X", "W", "R", "B", "sequence_lens", "initial_h"],
    "RNN": ["X", "W", "R", "B", "sequence_lens", "initial_h"],
}
OUTPUT_ROLES = {"LSTM": ["Y", "Y_h", "Y_c"], "GRU": ["Y", "Y_h"], "RNN": ["Y", "Y_h"]}
WEIGHT_ROLES = ("W", "R", "B", "P")
ORT = "onnxruntime CPUExecutionProvider"
REFERENCE = "onnx.reference.ReferenceEvaluator"


def _attribute_value(attr):
    from onnx import helper
    v = helper.get_attribute_value(attr)
    def one(x):
        if isinstance(x, bytes):
            return x.decode("utf-8")
        if isinstance(x, float):  # stored as float32: its shortest decimal form (0.6, not 0.6000000238)
            return float(str(np.float32(x)))
        return x
    return [one(x) for x in v] if isinstance(v, (list, tuple)) else one(v)


def run_onnxruntime(model, feeds: Mapping[str, np.ndarray]) -> list:
    """ONNX Runtime, CPU, graph optimisations off, one thread (what the bundled cases use)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def run_reference(model, feeds: Mapping[str, np.ndarray]) -> list:
    from onnx.reference import ReferenceEvaluator
    return list(ReferenceEvaluator(model).run(None, dict(feeds)))


def capture_onnx(model, inputs: Mapping[str, np.ndarray], path: Optional[str] = None, *, name: str,
                 evaluator: str = "onnxruntime", description: str = "", atol: Optional[float] = None,
                 rtol: Optional[float] = None, tolerance_reason: Optional[str] = None,
                 references: Optional[str] = None) -> CapturedCase:
    """Runs `model` (a ModelProto, or the path of a .onnx file) on `inputs` (graph input name ->
    array) and captures its one recurrent node. Weights come from the graph's initializers or,
    when the graph takes them as inputs, from `inputs`. evaluator: "onnxruntime" or "reference"
    (onnx.reference, for what ONNX Runtime does not run: float64, layout=1). Returns the
    `CapturedCase`; writes it to `path` when given."""
    import onnx
    from onnx import numpy_helper

    if isinstance(model, (str, bytes)) and not isinstance(model, onnx.ModelProto):
        model = onnx.load(model) if isinstance(model, str) else onnx.load_from_string(model)
    nodes = [n for n in model.graph.node]
    if len(nodes) != 1 or nodes[0].op_type not in INPUT_ROLES or nodes[0].domain not in ("", "ai.onnx"):
        raise ValueError("capture_onnx takes a graph of exactly one LSTM, GRU or RNN node (default domain); "
                         f"this graph has {[n.op_type for n in nodes]}")
    node = nodes[0]
    op = node.op_type
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    graph_inputs = [i.name for i in model.graph.input if i.name not in initializers]
    missing = [n for n in graph_inputs if n not in inputs]
    if missing:
        raise ValueError(f"inputs lack graph input(s) {missing}; give one array per graph input")

    def value(tensor_name):
        return initializers[tensor_name] if tensor_name in initializers else np.asarray(inputs[tensor_name])

    roles = INPUT_ROLES[op]
    present = list(node.input)
    if len(present) > len(roles):
        raise ValueError(f"the {op} node has {len(present)} inputs, at most {len(roles)}")
    weights, ins = [], []
    for role, tensor_name in zip(roles, present):
        if not tensor_name:
            continue
        (weights if role in WEIGHT_ROLES else ins).append((role, value(tensor_name)))
    weights.sort(key=lambda kv: WEIGHT_ROLES.index(kv[0]))
    ins.sort(key=lambda kv: ["X", "sequence_lens", "initial_h", "initial_c"].index(kv[0]))
    out_roles = OUTPUT_ROLES[op]
    requested = list(node.output)

    feeds = {n: np.asarray(inputs[n]) for n in graph_inputs}
    if evaluator == "onnxruntime":
        import onnxruntime as ort
        values, ev, library, version = run_onnxruntime(model, feeds), ORT, "onnxruntime", ort.__version__
    elif evaluator == "reference":
        values, ev, library, version = run_reference(model, feeds), REFERENCE, "onnx", onnx.__version__
    else:
        raise ValueError(f"evaluator {evaluator!r} is not 'onnxruntime' or 'reference'")
    by_graph_output = dict(zip([o.name for o in model.graph.output], values))
    outs = []
    for role, tensor_name in zip(out_roles, requested):
        if tensor_name:
            if tensor_name not in by_graph_output:
                raise ValueError(f"node output {tensor_name!r} ({role}) is not a graph output")
            outs.append((role, np.asarray(by_graph_output[tensor_name])))
    x = dict(ins)["X"]
    dtype = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}.get(np.asarray(x).dtype)
    if dtype is None:
        raise ValueError(f"X is {np.asarray(x).dtype}; rnnconf cases are float32 or float64")
    config = {
        "op_type": op,
        "opset": opset,
        "attributes": {a.name: _attribute_value(a) for a in node.attribute},
        "inputs_present": [r if t else "" for r, t in zip(roles, present)],
        "outputs_requested": [r if t else "" for r, t in zip(out_roles, requested)],
        "evaluator": ev,
    }
    case = CapturedCase(
        name=name, framework="onnx", library=library, library_version=version,
        cell={"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}[op], dtype=dtype,
        description=description or f"ONNX {op} {config['attributes']}", config=config, weights=weights,
        inputs=ins, outputs=outs, atol=atol, rtol=rtol, tolerance_reason=tolerance_reason, references=references)
    return _finish(case, path)
