#!/usr/bin/env python3
"""`rnnconf predict` (the whole process) against tf-keras' (or Keras 3's) warm `model.predict`, in one run.

For each round: every rnnconf binary given (--rnnconf, repeatable: e.g. a build before and after a
change), `rnnconf predict MODEL --input INPUT --output TMP.npy` timed as a whole process (wall
seconds and the child's CPU seconds, loading included), then bench/predict_peer.py (tf-keras
loads once, one warm-up `predict`, median of --peer-runs warm calls, wall and process CPU time;
loading and tracing not counted; Keras 3 for a `.keras` archive, see predict_peer.py). The order of the binaries flips
every round, so load from other processes falls on all alike. Prints one line per measurement, the load averages
(1/5/15 min, as `uptime`) before and after, and a JSON summary (--json OUT to keep it; the peer's figures under the
`tf_keras_*` keys whichever peer ran, named by `peer`); the outputs of every binary are compared with the peer's
(max abs difference).

  python3 bench/predict_bench.py MODEL INPUT --rnnconf .build/release/rnnconf [--rnnconf OTHER]
      [--rounds 3] [--peer-runs 3] [--threads 2] [--framework auto|tf_keras|keras3] [--json OUT.json]

Run with the venv's python ($RNNCONF_VENV/bin/python): the peer needs tensorflow and tf-keras (Keras 3 for .keras).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def run_rnnconf(binary, model, inp, out, extra):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([binary, "predict", model, "--input", inp, "--output", out] + extra,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        raise SystemExit(f"{binary} predict failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return wall, cpu


def loadavg():
    """The 1, 5 and 15 minute load averages (None where /proc/loadavg is missing)."""
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def load1():
    la = loadavg()
    return la[0] if la else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("input", help="a batch-major .npy input")
    ap.add_argument("--rnnconf", action="append", required=True, help="an rnnconf binary (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="tf-keras intra/inter-op threads")
    ap.add_argument("--float64", action="store_true", help="also time each binary with --float64")
    ap.add_argument("--framework", choices=["auto", "tf_keras", "keras3"], default="auto",
                    help="the peer (predict_peer.py): auto = Keras 3 for a .keras archive, else tf-keras")
    ap.add_argument("--json", help="write the summary here")
    args = ap.parse_args()

    import numpy as np
    here = os.path.dirname(os.path.abspath(__file__))
    variants = [(b, []) for b in args.rnnconf] + ([(b, ["--float64"]) for b in args.rnnconf] if args.float64 else [])
    times = {i: [] for i in range(len(variants))}
    cpus = {i: [] for i in range(len(variants))}
    peer, peer_cpu, loads = [], [], []
    peer_name = "tf_keras"
    load_before = loadavg()
    print(f"load average before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        peer_out = os.path.join(tmp, "peer.npy")
        for r in range(args.rounds):
            loads.append(load1())
            order = list(range(len(variants)))
            if r % 2 == 1:
                order.reverse()
            for i in order:
                binary, extra = variants[i]
                wall, cpu = run_rnnconf(binary, args.model, args.input, os.path.join(tmp, f"y{i}.npy"), extra)
                times[i].append(wall)
                cpus[i].append(cpu)
                print(f"round {r + 1} (load {loads[-1]}): {binary} {' '.join(extra)}: {wall:.2f} s wall, {cpu:.2f} s CPU",
                      flush=True)
            p = subprocess.run([sys.executable, os.path.join(here, "predict_peer.py"), args.model, args.input,
                                "--runs", str(args.peer_runs), "--threads", str(args.threads), "--save", peer_out,
                                "--framework", args.framework],
                               capture_output=True, text=True)
            line = (p.stdout.strip().splitlines() or ["{}"])[-1]
            res = json.loads(line)
            if res.get("status") != "ok":
                raise SystemExit(f"{res.get('peer', 'tf_keras')} peer failed: {res} {p.stderr.strip()[-500:]}")
            peer_name = res.get("peer", peer_name)
            peer.append(res["median_s"])
            peer_cpu.append(res.get("cpu_median_s"))
            print(f"round {r + 1}: {peer_name} warm predict {res['median_s']:.2f} s wall, {res.get('cpu_median_s', 0):.2f} s "
                  f"CPU (medians of {args.peer_runs})", flush=True)
        ref = np.load(peer_out)
        diffs = {i: float(np.max(np.abs(np.load(os.path.join(tmp, f"y{i}.npy")).astype(np.float64) - ref)))
                 for i in times}
    loads.append(load1())
    load_after = loadavg()
    print(f"load average after: {load_after}", flush=True)
    summary = {"model": os.path.basename(args.model), "input_shape": list(np.load(args.input, mmap_mode="r").shape),
               "peer": peer_name, "load_average_before": load_before, "load_average_after": load_after,
               "tf_keras_median_s": statistics.median(peer), "tf_keras_rounds_s": peer,
               "tf_keras_cpu_rounds_s": peer_cpu, "load_average_1min": loads,
               "rnnconf": [{"binary_index": i, "options": variants[i][1], "median_s": statistics.median(times[i]),
                            "rounds_s": times[i], "cpu_rounds_s": cpus[i],
                            "ratio_tf_keras_over_rnnconf": statistics.median(peer) / statistics.median(times[i]),
                            "max_abs_diff_vs_tf_keras": diffs[i]} for i in times]}
    for row in summary["rnnconf"]:
        print(f"binary {row['binary_index']} {' '.join(row['options'])}: median {row['median_s']:.2f} s "
              f"(CPU {statistics.median(row['cpu_rounds_s']):.2f} s), "
              f"{peer_name} / rnnconf {row['ratio_tf_keras_over_rnnconf']:.2f}x, max |diff| {row['max_abs_diff_vs_tf_keras']:.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
