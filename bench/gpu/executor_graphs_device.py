#!/usr/bin/env python3
"""On the GPU machine: kvcc-run on whole models, launch by launch and with
--cuda-graphs, side by side.

For each model of .device/models that make_kernels.py's MODELS describes, the
Hugging Face directory it was compiled from is written again here (same
make_tiny_model.py arguments and seed, so the same random weights and
tokenizer), then `kvcc-run ART --weights HF --device=cuda` generates
--tokens greedy tokens (--ignore-eos) twice: without and with --cuda-graphs.
The two must give the same tokens; the decode rate of each (kvcc-run's
--stats-json) and the graph counters go to DIR/executor_graphs.json.

    python3 bench/gpu/executor_graphs_device.py [--out DIR] [--tokens N]

Exit 0 when every model gives the same tokens both ways and its graphs were
not given up.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from make_kernels import MODELS  # noqa: E402


def run(kvcc_run, art, hf, tokens, graphs, stats, device):
    cmd = [kvcc_run, art, "--weights", hf, "--device=" + device, "--prompt", "The history of the printing press",
           "--max-tokens", str(tokens), "--ignore-eos", "--temperature", "0", "--print-tokens", "--quiet",
           "--stats-json", stats] + (["--cuda-graphs"] if graphs else [])
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("kvcc-run%s failed (%d): %s" % (" --cuda-graphs" if graphs else "", p.returncode,
                                                          (p.stderr or p.stdout).strip()[-1500:]))
    line = [l for l in p.stdout.splitlines() if l.startswith("{\"prompt_tokens\"")][-1]
    with open(stats) as f:
        st = json.load(f)
    return json.loads(line)["tokens"], st, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=os.path.join(ROOT, ".device", "models"))
    ap.add_argument("--kvcc-run", default=os.path.join(ROOT, "build", "bin", "kvcc-run"))
    ap.add_argument("--out", default=os.environ.get("OUT", "device-out"))
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke test of this script on CPU artifacts")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    report, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, _block, *_flags) in MODELS.items():
            art = os.path.join(a.models, name)
            if not os.path.isfile(os.path.join(art, "model.so")):
                continue
            hf = os.path.join(tmp, name)
            try:
                subprocess.run([sys.executable, os.path.join(ROOT, "python", "make_tiny_model.py"), "--out", hf]
                               + args, check=True, stdout=subprocess.DEVNULL)
                eager, st_e, _ = run(a.kvcc_run, art, hf, a.tokens, False, os.path.join(tmp, "e.json"), a.device)
                graph, st_g, _ = run(a.kvcc_run, art, hf, a.tokens, True, os.path.join(tmp, "g.json"), a.device)
            except Exception as e:  # keep going: one model must not hide the others
                print("%s: FAIL: %s" % (name, e), flush=True)
                report.append({"model": name, "error": str(e)})
                ok = False
                continue
            g = st_g.get("cuda_graphs", {})
            same = eager == graph
            row = dict(model=name, tokens=a.tokens, same_tokens=same,
                       first_difference=None if same else next(
                           (i for i, (x, y) in enumerate(zip(eager, graph)) if x != y), min(len(eager), len(graph))),
                       eager_decode_tok_s=st_e["decode_tokens_per_second"],
                       graph_decode_tok_s=st_g["decode_tokens_per_second"],
                       eager_prefill_tok_s=st_e["prefill_tokens_per_second"], cuda_graphs=g)
            report.append(row)
            good = same and (a.device == "cpu" or (g.get("enabled") and g.get("replayed", 0) > 0))
            ok &= bool(good)
            print("%s: %d greedy tokens: decode %.0f tok/s launch by launch, %.0f tok/s with CUDA graphs (%.2fx); "
                  "graphs captured %s, replayed %s; tokens %s%s"
                  % (name, a.tokens, row["eager_decode_tok_s"], row["graph_decode_tok_s"],
                     row["graph_decode_tok_s"] / max(row["eager_decode_tok_s"], 1e-9), g.get("captured"),
                     g.get("replayed"), "identical" if same else "DIFFER at %d" % row["first_difference"],
                     "" if g.get("enabled") else " (graphs given up: %s)" % g.get("disabled_because")),
                  flush=True)
            shutil.rmtree(hf, ignore_errors=True)
    with open(os.path.join(a.out, "executor_graphs.json"), "w") as f:
        json.dump(report, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
