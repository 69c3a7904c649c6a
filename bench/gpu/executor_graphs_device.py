#!/usr/bin/env python3
"""On the GPU machine: kvcc-run on whole models, launch by launch and with
--cuda-graphs, side by side.

For each model of .device/models that make_kernels.py's MODELS describes, the
Hugging Face directory it was compiled from is written again here (same
make_tiny_model.py arguments and seed, so the same random weights and
tokenizer), then `kvcc-run ART --weights HF --device=cuda` generates
--tokens greedy tokens (--ignore-eos) twice: without and with --cuda-graphs.
The two must give the same tokens; the decode rate of each (kvcc-run's
--stats-json) and the graph counters go to DIR/executor_graphs.json. The tokens
are also compared with the CPU path's (cpu_tokens.json, which make_kernels.py
--models wrote from the CPU artifact of the same model and run): an f32 model
must match them; a 16-bit one is reported (its own rounding, in another order
than the CPU's, may part the two at a near tie).

    python3 bench/gpu/executor_graphs_device.py [--out DIR] [--tokens N]

Exit 0 when every model gives the same tokens both ways and its graphs were
not given up.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from make_kernels import MODELS, greedy_tokens  # noqa: E402


def torch_cublas():
    """The libcublas torch loaded (a pip wheel's, off the loader's path), for
    model.so's GEMMs, as check_model_device.py finds it; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.ones(8, 8, device="cuda") @ torch.ones(8, 8, device="cuda")
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "/libcublas.so" in line})
    return libs[0] if libs else None


def run(kvcc_run, art, hf, tokens, graphs, stats, device):
    """GREEDY_RUN with --max-tokens `tokens`, without or with CUDA graphs."""
    flag = "--cuda-graphs" if graphs else "--no-cuda-graphs"
    t0 = time.time()
    ids = greedy_tokens(kvcc_run, art, hf, device,
                        ["--max-tokens", str(tokens), "--stats-json", stats, flag])
    with open(stats) as f:
        st = json.load(f)
    return ids, st, time.time() - t0


def first_difference(a, b):
    """None when equal, else the first index where they part (or the shorter length)."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=os.path.join(ROOT, ".device", "models"))
    ap.add_argument("--kvcc-run", default=os.path.join(ROOT, "build", "bin", "kvcc-run"))
    ap.add_argument("--out", default=os.environ.get("OUT", "device-out"))
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script on CPU artifacts")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.device == "cuda" and not os.environ.get("KVCC_LIBCUBLAS"):
        lib = torch_cublas()
        if lib:
            os.environ["KVCC_LIBCUBLAS"] = lib
        print("cuBLAS for model.so:", os.environ.get("KVCC_LIBCUBLAS", "(runtime search)"), flush=True)
    report, ok = [], True
    # Small models first: a timeout must not cost the quick answers.
    order = sorted(MODELS.items(), key=lambda kv: "--layers" in kv[1][0] and int(kv[1][0][kv[1][0].index("--layers") + 1]))
    with tempfile.TemporaryDirectory() as tmp:
        written = {}  # generator arguments -> the directory already written
        for name, (args, _block, *flags) in order:
            art = os.path.join(a.models, name)
            if not os.path.isfile(os.path.join(art, "model.so")):
                continue
            try:
                hf = written.get(tuple(args))
                if hf is None:
                    hf = written[tuple(args)] = os.path.join(tmp, name)
                    subprocess.run([sys.executable, os.path.join(ROOT, "python", "make_tiny_model.py"), "--out", hf]
                                   + args, check=True, stdout=subprocess.DEVNULL)
                eager, st_e, _ = run(a.kvcc_run, art, hf, a.tokens, False, os.path.join(tmp, "e.json"), a.device)
                graph, st_g, _ = run(a.kvcc_run, art, hf, a.tokens, True, os.path.join(tmp, "g.json"), a.device)
            except Exception as e:  # keep going: one model must not hide the others
                print("%s: FAIL: %s" % (name, e), flush=True)
                report.append({"model": name, "error": str(e)})
                ok = False
                save(a.out, report)
                continue
            g = st_g.get("cuda_graphs", {})
            same = eager == graph
            cpu_file = os.path.join(art, "cpu_tokens.json")
            cpu = json.load(open(cpu_file))["tokens"][:a.tokens] if os.path.isfile(cpu_file) else None
            half = any(f in ("--dtype=f16", "--dtype=bf16") or f.startswith("--kv-cache-dtype=")
                       for f in (flags[0] if flags else []))
            cpu_diff = first_difference(graph, cpu) if cpu is not None else None
            row = dict(model=name, tokens=a.tokens, same_tokens=same,
                       first_difference=first_difference(eager, graph),
                       cpu_tokens=None if cpu is None else "identical" if cpu_diff is None
                       else "differ at %d" % cpu_diff, cpu_must_match=not half,
                       eager_decode_tok_s=st_e["decode_tokens_per_second"],
                       graph_decode_tok_s=st_g["decode_tokens_per_second"],
                       eager_prefill_tok_s=st_e["prefill_tokens_per_second"], cuda_graphs=g)
            report.append(row)
            good = same and (a.device == "cpu" or (g.get("enabled") and g.get("replayed", 0) > 0))
            good = good and (cpu is None or cpu_diff is None or half)
            ok &= bool(good)
            print("%s: %d greedy tokens: decode %.0f tok/s launch by launch, %.0f tok/s with CUDA graphs (%.2fx); "
                  "graphs captured %s, replayed %s; tokens %s; CPU path's %s%s"
                  % (name, a.tokens, row["eager_decode_tok_s"], row["graph_decode_tok_s"],
                     row["graph_decode_tok_s"] / max(row["eager_decode_tok_s"], 1e-9), g.get("captured"),
                     g.get("replayed"), "identical" if same else "DIFFER at %d" % row["first_difference"],
                     "not computed" if cpu is None else row["cpu_tokens"]
                     + ("" if cpu_diff is None or half else " (FAIL: an f32 model)"),
                     "" if g.get("enabled") else " (graphs given up: %s)" % g.get("disabled_because")),
                  flush=True)
            save(a.out, report)  # after each model: run_device.sh may stop this script
    save(a.out, report)
    return 0 if ok else 1


def save(out, report):
    with open(os.path.join(out, "executor_graphs.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
