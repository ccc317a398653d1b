#!/usr/bin/env python3
"""Peer timings for rnnconf-bench: PyTorch and ONNX Runtime inference of the same layers.

For one shape (time-major input (T, B, I), hidden size H), every cell of --cells, every
thread count of --threads and every precision of --precision: random seeded weights,
warm-up, then the median of several timed runs. Prints one JSON object per peer and row
on stdout:

  {"peer": "torch", "cell": "lstm", "threads": 2, "precision": "float32", "status": "ok",
   "median_ms": 12.3, "runs_ms": [...], "cpu_median_ms": 24.1, "version": "2.15.0"}
  {"peer": "torch", "cell": "gru-rb", ..., "status": "unsupported", "error": "..."}
  {"peer": "onnxruntime", "cell": "lstm", ..., "status": "not installed", "error": "No module named 'onnxruntime'"}

Cells: rnn (tanh), lstm, gru (reset after: PyTorch's form, ONNX linear_before_reset=1),
gru-rb (reset before: ONNX linear_before_reset=0; PyTorch has no such GRU), bilstm2 (two
bidirectional LSTM layers, the second fed the first's concatenated outputs (T, B, 2H)).
Threads: torch.set_num_threads / ORT intra_op_num_threads (inter-op 1). Used by
`swift run -c release rnnconf-bench`, which passes the same shapes; run it alone with
`python3 bench/peers.py --help`.
"""
import argparse
import json
import statistics
import sys
import time

CELLS = ("rnn", "lstm", "gru", "gru-rb", "bilstm2")


def emit(obj):
    print(json.dumps(obj), flush=True)


def timed(fn, warmup, runs):
    """Median wall ms, the runs' wall ms, and the median process CPU ms (all threads)."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(times), times, statistics.median(cpu)


def rows(args):
    for precision in args.precision:
        for threads in args.threads:
            for cell in args.cells:
                yield cell, threads, precision


def bench_torch(args):
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install
        for cell, threads, precision in rows(args):
            emit({"peer": "torch", "cell": cell, "threads": threads, "precision": precision,
                  "status": "not installed", "error": str(e).splitlines()[0][:300]})
        return
    T, B, I, H = args.steps, args.batch, args.input, args.hidden
    for cell, threads, precision in rows(args):
        key = {"peer": "torch", "cell": cell, "threads": threads, "precision": precision}
        if cell == "gru-rb":
            emit({**key, "status": "unsupported", "error": "torch.nn.GRU computes only the reset-after form"})
            continue
        torch.set_num_threads(threads)
        torch.manual_seed(args.seed)
        dtype = torch.float64 if precision == "float64" else torch.float32
        if cell == "bilstm2":
            layer = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True)
        else:
            layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H)
        layer = layer.to(dtype).eval()
        x = torch.randn(T, B, I, dtype=dtype)
        with torch.inference_mode():
            med, runs, cpu = timed(lambda: layer(x), args.warmup, args.runs)
        emit({**key, "status": "ok", "median_ms": med, "runs_ms": runs, "cpu_median_ms": cpu,
              "version": torch.__version__})


def ort_model(cell, T, B, I, H, np_dtype, elem, rng, helper, TensorProto):
    """An ONNX graph X (T, B, I) -> Y for `cell`, weights uniform +-1/sqrt(H)."""
    scale = 1.0 / (H ** 0.5)
    nodes, inits = [], []

    def layer(name, inp, in_size, gates, op, directions, attrs, out):
        W = rng.uniform(-scale, scale, (directions, gates * H, in_size)).astype(np_dtype)
        R = rng.uniform(-scale, scale, (directions, gates * H, H)).astype(np_dtype)
        Bias = rng.uniform(-scale, scale, (directions, 2 * gates * H)).astype(np_dtype)
        for n, v in ((name + "_W", W), (name + "_R", R), (name + "_B", Bias)):
            inits.append(helper.make_tensor(n, elem, v.shape, v.ravel()))
        nodes.append(helper.make_node(op, [inp, name + "_W", name + "_R", name + "_B"], [out], hidden_size=H,
                                      **attrs))

    if cell == "rnn":
        layer("l0", "X", I, 1, "RNN", 1, {}, "Y")
    elif cell == "lstm":
        layer("l0", "X", I, 4, "LSTM", 1, {}, "Y")
    elif cell in ("gru", "gru-rb"):
        layer("l0", "X", I, 3, "GRU", 1, {"linear_before_reset": 1 if cell == "gru" else 0}, "Y")
    elif cell == "bilstm2":
        layer("l0", "X", I, 4, "LSTM", 2, {"direction": "bidirectional"}, "Y0")
        # Y0 (T, 2, B, H) -> (T, B, 2, H) -> (T, B, 2H): the concatenated directions
        nodes.append(helper.make_node("Transpose", ["Y0"], ["Y0t"], perm=[0, 2, 1, 3]))
        inits.append(helper.make_tensor("shape2", TensorProto.INT64, [3], [T, B, 2 * H]))
        nodes.append(helper.make_node("Reshape", ["Y0t", "shape2"], ["X1"]))
        layer("l1", "X1", 2 * H, 4, "LSTM", 2, {"direction": "bidirectional"}, "Y")
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("X", elem, [T, B, I])],
                              [helper.make_tensor_value_info("Y", elem, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8  # onnx 1.23 writes IR 14 by default; ORT 1.31 reads up to 13
    return model


def bench_ort(args):
    try:
        import numpy as np
        import onnx  # noqa: F401  (helper needs it)
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except Exception as e:
        for cell, threads, precision in rows(args):
            emit({"peer": "onnxruntime", "cell": cell, "threads": threads, "precision": precision,
                  "status": "not installed", "error": str(e)})
        return
    T, B, I, H = args.steps, args.batch, args.input, args.hidden
    for cell, threads, precision in rows(args):
        key = {"peer": "onnxruntime", "cell": cell, "threads": threads, "precision": precision}
        rng = np.random.default_rng(args.seed)
        np_dtype = np.float64 if precision == "float64" else np.float32
        elem = TensorProto.DOUBLE if precision == "float64" else TensorProto.FLOAT
        model = ort_model(cell, T, B, I, H, np_dtype, elem, rng, helper, TensorProto)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3  # failures are reported in the JSON line
        try:
            sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as e:  # e.g. no kernel registered for this type
            emit({**key, "status": "unsupported", "error": str(e).splitlines()[0][:300]})
            continue
        x = rng.standard_normal((T, B, I)).astype(np_dtype)
        try:
            med, runs, cpu = timed(lambda: sess.run(None, {"X": x}), args.warmup, args.runs)
        except Exception as e:  # ORT 1.31 builds an LSTM session for double, then refuses to run it
            emit({**key, "status": "unsupported", "error": str(e).splitlines()[0][:300]})
            continue
        emit({**key, "status": "ok", "median_ms": med, "runs_ms": runs, "cpu_median_ms": cpu,
              "version": ort.__version__})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default="lstm,gru", help="comma-separated: " + ", ".join(CELLS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=128)
    p.add_argument("--input", type=int, default=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", default="2", help="comma-separated thread counts")
    p.add_argument("--precision", default="float32", help="comma-separated: float32, float64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", default="torch,onnxruntime", help="comma-separated: torch, onnxruntime")
    args = p.parse_args()
    args.cells = [c for c in args.cells.split(",") if c]
    for c in args.cells:
        if c not in CELLS:
            p.error(f"unknown cell {c!r}; use one of {', '.join(CELLS)}")
    args.threads = [int(t) for t in args.threads.split(",") if t]
    args.precision = [q for q in args.precision.split(",") if q]
    for q in args.precision:
        if q not in ("float32", "float64"):
            p.error(f"unknown precision {q!r}; use float32 or float64")
    peers = args.peers.split(",")
    if "torch" in peers:
        bench_torch(args)
    if "onnxruntime" in peers:
        bench_ort(args)


if __name__ == "__main__":
    sys.exit(main())
