#!/usr/bin/env python3
"""Peer timings for rnnconf-bench: PyTorch and ONNX Runtime, float32 inference.

Runs one recurrent layer (LSTM or GRU, unidirectional, time-major input
(T, B, I), hidden size H) with random seeded weights, warm-up then the median
of several timed runs, and prints one JSON object per peer and cell on stdout:

  {"peer": "torch", "cell": "lstm", "status": "ok", "median_ms": 12.3, "runs_ms": [...], "cpu_median_ms": 24.1, "version": "2.15.0", "threads": 2}
  {"peer": "onnxruntime", "cell": "lstm", "status": "not installed", "error": "No module named 'onnxruntime'"}

Both peers are limited to --threads threads (default 2: torch.set_num_threads,
ORT intra_op_num_threads). Used by `swift run -c release rnnconf-bench`, which
passes the same shapes; run it alone with `python3 bench/peers.py --help`.
"""
import argparse
import json
import statistics
import sys
import time


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


def bench_torch(args, cells):
    try:
        import torch
    except Exception as e:  # ImportError, or a broken install
        for cell in cells:
            emit({"peer": "torch", "cell": cell, "status": "not installed", "error": str(e)})
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    for cell in cells:
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        layer = cls(args.input, args.hidden).eval()
        x = torch.randn(args.steps, args.batch, args.input)
        with torch.inference_mode():
            med, runs, cpu = timed(lambda: layer(x), args.warmup, args.runs)
        emit({"peer": "torch", "cell": cell, "status": "ok", "median_ms": med, "runs_ms": runs, "cpu_median_ms": cpu,
              "version": torch.__version__, "threads": torch.get_num_threads()})


def bench_ort(args, cells):
    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except Exception as e:
        for cell in cells:
            emit({"peer": "onnxruntime", "cell": cell, "status": "not installed", "error": str(e)})
        return
    rng = np.random.default_rng(args.seed)
    T, B, I, H = args.steps, args.batch, args.input, args.hidden
    for cell in cells:
        gates = {"lstm": 4, "gru": 3}[cell]
        scale = 1.0 / np.sqrt(H)
        W = rng.uniform(-scale, scale, (1, gates * H, I)).astype(np.float32)
        R = rng.uniform(-scale, scale, (1, gates * H, H)).astype(np.float32)
        Bias = rng.uniform(-scale, scale, (1, 2 * gates * H)).astype(np.float32)
        attrs = {"hidden_size": H}
        if cell == "gru":
            attrs["linear_before_reset"] = 1  # the PyTorch/cuDNN form, as torch.nn.GRU
        node = helper.make_node(cell.upper(), ["X", "W", "R", "B"], ["Y", "Y_h"], **attrs)
        graph = helper.make_graph(
            [node], "bench",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
             helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)],
            initializer=[helper.make_tensor("W", TensorProto.FLOAT, W.shape, W.ravel()),
                         helper.make_tensor("R", TensorProto.FLOAT, R.shape, R.ravel()),
                         helper.make_tensor("B", TensorProto.FLOAT, Bias.shape, Bias.ravel())])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
        model.ir_version = 8  # onnx 1.23 writes IR 14 by default; ORT 1.31 reads up to 13
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        x = rng.standard_normal((T, B, I)).astype(np.float32)
        med, runs, cpu = timed(lambda: sess.run(None, {"X": x}), args.warmup, args.runs)
        emit({"peer": "onnxruntime", "cell": cell, "status": "ok", "median_ms": med, "runs_ms": runs, "cpu_median_ms": cpu,
              "version": ort.__version__, "threads": args.threads})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default="lstm,gru", help="comma-separated: lstm, gru")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=128)
    p.add_argument("--input", type=int, default=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peers", default="torch,onnxruntime", help="comma-separated: torch, onnxruntime")
    args = p.parse_args()
    cells = [c for c in args.cells.split(",") if c]
    for c in cells:
        if c not in ("lstm", "gru"):
            p.error(f"unknown cell {c!r}; use lstm or gru")
    peers = args.peers.split(",")
    if "torch" in peers:
        bench_torch(args, cells)
    if "onnxruntime" in peers:
        bench_ort(args, cells)


if __name__ == "__main__":
    sys.exit(main())
