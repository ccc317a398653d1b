#!/usr/bin/env python3
"""tf-keras' (or Keras 3's) warm `model.predict` on a saved Keras model, the peer of `rnnconf predict`.

Loads MODEL with tf-keras (TF_USE_LEGACY_KERAS=1, compile=False) or, for a Keras 3 `.keras`
archive (--framework auto, the default) or with --framework keras3, with Keras 3 on its
TensorFlow backend; runs one warm-up `predict` on INPUT (a batch-major .npy), then times --runs
more and prints one JSON object on stdout:

  {"peer": "tf_keras", "median_s": 0.61, "runs_s": [...], "cpu_median_s": 1.1, "load_s": 1.2, "version": "2.21.0",
   "tensorflow": "2.21.0", "batch_size": 64, "threads": 2}

("peer": "keras3" for Keras 3.)

`predict` runs the whole input as one batch (batch_size = N), as `rnnconf predict`
does. --threads limits TensorFlow's intra-op and inter-op pools (default 2; 0 = TF's
own choice). Usage:

  python3 bench/predict_peer.py MODEL INPUT [--runs 5] [--threads 2] [--framework auto|tf_keras|keras3]
      [--save OUT.npy]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a Keras model file tf-keras can load (.h5)")
    ap.add_argument("input", help="a batch-major .npy input, (N, T, F)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", help="write the last predict's (first) output here as .npy")
    ap.add_argument("--framework", choices=["auto", "tf_keras", "keras3"], default="auto",
                    help="auto: Keras 3 for a .keras archive, else tf-keras")
    args = ap.parse_args()

    peer = args.framework
    if peer == "auto":
        peer = "keras3" if args.model.endswith(".keras") else "tf_keras"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if peer == "tf_keras":
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    else:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    try:
        import numpy as np
        import tensorflow as tf
        if peer == "tf_keras":
            import tf_keras as keras_module
        else:
            import keras as keras_module
    except Exception as e:  # ImportError, or a broken install
        print(json.dumps({"peer": peer, "status": "not installed", "error": str(e)}), flush=True)
        return 1
    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    x = np.load(args.input).astype(np.float32)
    t0 = time.perf_counter()
    model = keras_module.models.load_model(args.model, compile=False)
    load_s = time.perf_counter() - t0
    n = x.shape[0]
    model.predict(x, batch_size=n, verbose=0)  # warm-up: traces the graph
    runs, cpu = [], []
    y = None
    for _ in range(args.runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        y = model.predict(x, batch_size=n, verbose=0)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if args.save:
        np.save(args.save, np.asarray(y[0] if isinstance(y, list) else y))
    print(json.dumps({"peer": peer, "status": "ok", "median_s": statistics.median(runs),
                      "runs_s": runs, "cpu_median_s": statistics.median(cpu), "load_s": load_s, "version": keras_module.__version__,
                      "tensorflow": tf.__version__, "batch_size": n, "threads": args.threads}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
