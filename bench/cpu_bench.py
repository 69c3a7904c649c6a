#!/usr/bin/env python3
"""CPU benchmarks of kvcc on the real model (SmolLM2-135M-Instruct), one run:

  1. ceilings measured in the same run: memory bandwidth (bench/membw.c, STREAM-
     like, all cores) and the bandwidth of a large f32 GEMV (numpy's BLAS), the
     operation a decode step is made of;
  2. decode and prefill tokens/s of kvcc-run, with the bytes each decode step
     must read (f32 weights + the KV cache of the context) and the achieved
     bandwidth = bytes / step time;
  3. the seed experiment: time to generate N tokens with the paged KV cache and
     with --no-kv-cache (full recomputation each step), N = 64 ... 2048, and a
     PNG plot of it. Without the cache the cost grows quadratically; runs whose
     predicted time exceeds --max-seconds are skipped and marked.

Usage: python3 bench/cpu_bench.py [--out bench/results] [--max-seconds 300]
Never part of the test suite. Writes results.json and seed_experiment.png.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def ceilings(tmp):
    exe = os.path.join(tmp, "membw")
    sh(["cc", "-O3", "-ffast-math", "-march=native", "-pthread",
        os.path.join(ROOT, "bench", "membw.c"), "-o", exe])
    stream = json.loads(sh([exe, "512"]).stdout)
    import numpy as np
    w = np.random.default_rng(0).standard_normal((49152 * 2, 1152), dtype=np.float32)
    x = np.ones(1152, dtype=np.float32)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        w @ x
        best = min(best, time.perf_counter() - t0)
    stream["gemv_gbs"] = round(w.nbytes / best / 1e9, 2)
    return stream


def run(artifact, model, prompt, n, no_cache=False, extra=()):
    stats = tempfile.mktemp(suffix=".json")
    cmd = [os.path.join(BIN, "kvcc-run"), artifact, "--weights", model, "--prompt", prompt,
           "--max-tokens", str(n), "--ignore-eos", "--temperature", "0", "--quiet",
           "--stats-json", stats] + list(extra)
    if no_cache:
        cmd.append("--no-kv-cache")
    t0 = time.perf_counter()
    sh(cmd)
    wall = time.perf_counter() - t0
    with open(stats) as f:
        s = json.load(f)
    os.unlink(stats)
    s["wall_seconds"] = wall
    return s


def predict_uncached(measured, n):
    if len(measured) < 2:
        return 0.0
    (n1, t1), (n2, t2) = [(r["n"], r["uncached_seconds"]) for r in measured[-2:]]
    # t = a n + c n², solved from two points (c = b/2).
    c = (t2 / n2 - t1 / n1) / (n2 - n1)
    a = t1 / n1 - c * n1
    return max(a * n + c * n * n, 0.0)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--sizes", default="64,128,256,512,1024,2048")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = sh([os.path.join(ROOT, "scripts", "fetch-model.sh")]).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="kvcc-bench-")
    artifact = os.path.join(tmp, "smollm2")
    sh([os.path.join(BIN, "kvcc"), "compile", model, "--target=cpu", "-o", artifact])
    with open(os.path.join(artifact, "manifest.json")) as f:
        manifest = json.load(f)
    weight_bytes = 4 * manifest["weights_size"]

    results = {"machine": {"cpus": os.cpu_count()}, "ceilings": ceilings(tmp)}
    print("ceilings:", results["ceilings"], flush=True)

    # Decode: 256 tokens after a short prompt; prefill: a ~500-token prompt.
    prompt = "The history of the printing press"
    dec = run(artifact, model, prompt, 256)
    kv_per_token = dec["kv_bytes_per_token"]
    avg_context = dec["prompt_tokens"] + dec["generated_tokens"] / 2
    step_bytes = weight_bytes + kv_per_token * avg_context
    step_s = dec["decode_seconds"] / max(dec["decode_steps"], 1)
    long_prompt = " ".join(["The printing press changed how knowledge spread in Europe."] * 45)
    pre = run(artifact, model, long_prompt, 1)
    results["decode"] = {
        "tokens_per_second": dec["decode_tokens_per_second"],
        "bytes_per_step": step_bytes, "achieved_gbs": step_bytes / step_s / 1e9,
        "weights_bytes": weight_bytes, "kv_bytes_per_token": kv_per_token}
    results["prefill"] = {"prompt_tokens": pre["prompt_tokens"],
                          "tokens_per_second": pre["prefill_tokens_per_second"]}
    print("decode:", results["decode"], flush=True)
    print("prefill:", results["prefill"], flush=True)

    # The seed experiment.
    seed = []
    for n in [int(x) for x in a.sizes.split(",")]:
        row = {"n": n}
        row["cached_seconds"] = run(artifact, model, prompt, n)["wall_seconds"]
        # Full recomputation: step i reads every weight (a) and recomputes i
        # tokens (b·i), so T(N) ~ a·N + b·N²/2. Fit a, b on the last two
        # measured sizes and predict before running a size that would take
        # longer than --max-seconds.
        predicted = predict_uncached([r for r in seed if "uncached_seconds" in r], n)
        if predicted <= a.max_seconds:
            row["uncached_seconds"] = run(artifact, model, prompt, n, no_cache=True)["wall_seconds"]
        else:
            row["uncached_predicted_seconds"] = predicted
        seed.append(row)
        print("seed:", row, flush=True)
    results["seed_experiment"] = seed
    with open(os.path.join(a.out, "cpu_results.json"), "w") as f:
        json.dump(results, f, indent=2)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: pip install matplotlib for the plot", file=sys.stderr)
        return 0
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot([r["n"] for r in seed], [r["cached_seconds"] for r in seed], "o-",
            label="paged KV cache")
    meas = [r for r in seed if "uncached_seconds" in r]
    ax.plot([r["n"] for r in meas], [r["uncached_seconds"] for r in meas], "s-",
            label="no cache (recompute every step)")
    pred = [r for r in seed if "uncached_predicted_seconds" in r]
    if pred:
        ax.plot([meas[-1]["n"]] + [r["n"] for r in pred],
                [meas[-1]["uncached_seconds"]] + [r["uncached_predicted_seconds"] for r in pred],
                "s--", color="C1", alpha=0.5, label="no cache (predicted: a·N + b·N² fit)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tokens generated (N)")
    ax.set_ylabel("seconds")
    ax.set_title("SmolLM2-135M on %d CPU cores, kvcc CPU target" % os.cpu_count())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "seed_experiment.png"), dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
