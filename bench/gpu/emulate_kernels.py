#!/usr/bin/env python3
"""The correctness phase of run_device.py without a GPU: every "correctness"
module of make_kernels.py, lowered by kvcc-emulate exactly as `kvcc build
--target=cuda` lowers it (same --gpu-* flags), run by its GPU emulator on fresh
seeded inputs, and checked against the float64 reference (python/kvcc_ref/
kernel_cases.py) with run_device.py's tolerances.

It runs the same IR that becomes PTX (tensor-core MMAs, ldmatrix, cp.async,
shuffles, barriers, the split combine, the host-side split plan) with the
fragment layouts of the PTX ISA; it does not run ptxas or the NVVM lowering.

  python3 bench/gpu/emulate_kernels.py [--only REGEX] [--quick] [--sm-count N]
                                       [--banks] [--flag KVCC_FLAG ...]
  python3 bench/gpu/emulate_kernels.py --random N [--seed S]

--quick: a smaller ragged batch (what the test suite runs). --random N: N fresh
random configurations instead of the grid (GQA ratios 1-32, head dims 64-256,
pages 1-256, bf16/f16, windows, soft-caps, splits, prefill tiles, each on its own
random ragged batch and a decode step). --banks: also the shared-memory bank
model's totals per kernel and access kind (kvcc-emulate --bank-report: wavefronts
a phase, 1.00 when conflict-free). --flag: a lowering flag added to every module
(e.g. --flag=--gpu-swizzle-shared-memory=false). Exit status 1 if a case fails;
the table goes to stdout.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import make_kernels  # noqa: E402
from kvcc_ref import kernel_cases  # noqa: E402

# The smaller batch of --quick: a prefill chunk over a cached prefix, a full
# prefill past one 64-key tile, decode tokens (one at a 1-token context), a
# context longer than a 256-token page, and a chunk whose rows see three
# 128-key tiles (the wgmma kernels' K/V stages rotate, the lazy rescale
# skips).
QUICK_SEQS = [(70, 13), (1, 1), (300, 1), (66, 66), (9, 4), (300, 20)]
QUICK_DECODE_SEQS = [(1, 1), (37, 1), (300, 1)]


def random_grid(n, seed):
    """N random module configs (make_kernels.cfg) with their own batches."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = int(rng.choice([64, 64, 128, 128, 256]))
        groups = [1, 2, 3, 4, 6, 8] + ([16, 32] if d < 256 else [])
        g = int(rng.choice(groups))
        kvh = int(rng.choice([1, 2, 4] if g <= 8 else [1, 2]))
        bs = int(rng.choice([1, 2, 3, 5, 8, 16, 16, 32, 64, 100, 128, 256]))
        dtype = str(rng.choice(["f16", "bf16"]))
        window = int(rng.integers(1, 200)) if rng.random() < 0.3 else 0
        softcap = float(rng.choice([5.0, 20.0, 30.0])) if rng.random() < 0.3 else 0.0
        splits = int(rng.choice([0, 0, 1, 2, 3, 4, 8]))
        causal = bool(rng.random() < 0.85)
        flags = []
        if d <= 128 and rng.random() < 0.4:
            flags.append("--gpu-prefill-tile=" + str(rng.choice(make_kernels.PREFILL_TILES)))
        if rng.random() < 0.2:
            flags.append("--gpu-prefill-lazy-rescale")
        kind = str(rng.choice(["attn", "append_attn"]))
        layout = "head_major" if rng.random() < 0.2 else "token_major"
        ident = "r%d_q%dkv%d_d%d_b%d_%s" % (i, g * kvh, kvh, d, bs, dtype)
        m = make_kernels.cfg(ident, "random", g * kvh, kvh, d, bs, dtype=dtype, window=window,
                             splits=splits, softcap=softcap, causal=causal, kind=kind,
                             layout=layout, flags=flags)
        seqs = []
        for _ in range(int(rng.integers(1, 6))):
            ctx = int(rng.integers(1, 600))
            new = 1 if rng.random() < 0.4 else int(rng.integers(1, ctx + 1))
            seqs.append((ctx, new))
        decode = [(int(rng.integers(1, 2000)), 1) for _ in range(int(rng.integers(1, 5)))]
        out.append((m, [("ragged", seqs), ("decode", decode)]))
    return out


def emulator():
    return os.environ.get("KVCC_EMULATE", os.path.join(ROOT, "build", "bin", "kvcc-emulate"))


BANK_LINE = re.compile(r"^shared memory @(\S+) (\S+): (\d+) requests, (\d+) phases, "
                       r"(\d+) wavefronts")


def run_case(m, step, seqs, seed, sm_count, workdir, banks=False, extra_flags=()):
    case = kernel_cases.build_case(m, seqs, seed)
    src = os.path.join(workdir, m["id"] + ".mlir")
    with open(src, "w") as f:
        f.write(make_kernels.module_text(m))
    names = [a["name"] for a in make_kernels.arg_list(m)]
    paths = []
    for i, name in enumerate(names):
        p = os.path.join(workdir, "%s_%d.npy" % (name, i))
        np.save(p, case["arrays"][name])
        paths.append(p)
    out_dir = os.path.join(workdir, "out_" + m["id"] + "_" + step)
    cmd = [emulator(), src, "--entry=" + m["id"], "--out-dir=" + out_dir,
           "--sm-count=%d" % sm_count] + (["--bank-report"] if banks else []) + \
        list(m["flags"]) + list(extra_flags) + paths
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    rec = dict(id=m["id"], step=step, seed=seed, seconds=time.time() - t)
    if r.returncode != 0:
        rec.update({"pass": False, "error": (r.stderr or r.stdout).strip()})
        return rec
    out = np.load(os.path.join(out_dir, "arg%d.npy" % names.index("out")))
    pool = np.load(os.path.join(out_dir, "arg%d.npy" % names.index("cache")))
    rec.update(kernel_cases.compare(case, out, pool))
    rec["launches"] = r.stdout.strip().splitlines()[0]
    rec["banks"] = [(g[1], g[2], int(g[3]), int(g[4]), int(g[5]))
                    for g in (BANK_LINE.match(line) for line in r.stdout.splitlines()) if g]
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="module ids matching this regex")
    ap.add_argument("--quick", action="store_true", help="the smaller batches")
    ap.add_argument("--sm-count", type=int, default=132)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="N random configurations instead of the grid")
    ap.add_argument("--banks", action="store_true",
                    help="report the shared-memory bank model per kernel and access kind")
    ap.add_argument("--flag", action="append", default=[], metavar="KVCC_FLAG",
                    help="a lowering flag added to every module (repeatable)")
    args = ap.parse_args(argv)
    steps = [("ragged", QUICK_SEQS if args.quick else make_kernels.CORRECTNESS_SEQS),
             ("decode", QUICK_DECODE_SEQS if args.quick
              else make_kernels.CORRECTNESS_DECODE_SEQS)]
    if args.random:
        cases = random_grid(args.random, args.seed)
    else:
        cases = [(m, steps) for m in make_kernels.correctness_grid()
                 if not m["id"].endswith("_expect_reject")]
    cases = [(m, st) for m, st in cases if re.search(args.only, m["id"])]
    if not cases:
        print("no module matches --only %r" % args.only)
        return 1
    failures = total = 0
    banks = {}  # (kernel, kind) -> [requests, phases, wavefronts, worst case ratio]
    with tempfile.TemporaryDirectory(prefix="kvcc_emulate_") as workdir:
        for i, (m, mod_steps) in enumerate(cases):
            if args.random:
                print("%s: %s" % (m["id"], " ".join(
                    "%s=%s" % (k, m[k]) for k in ("window", "softcap", "splits", "causal",
                                                  "kind", "layout", "flags"))), flush=True)
            for j, (step, seqs) in enumerate(mod_steps):
                total += 1
                rec = run_case(m, step, seqs, args.seed + 2 * i + j, args.sm_count, workdir,
                               args.banks, args.flag)
                ok = rec["pass"]
                for kernel, kind, req, phases, waves in rec.get("banks", []):
                    b = banks.setdefault((kernel, kind), [0, 0, 0, 0.0])
                    b[0] += req
                    b[1] += phases
                    b[2] += waves
                    b[3] = max(b[3], waves / phases if phases else 0.0)
                failures += not ok
                if "error" in rec:
                    detail = "ERROR " + rec["error"].splitlines()[0][:300]
                else:
                    detail = "maxrel %.2e (tol %.1e)%s" % (
                        rec["max_rel_err"], rec["tol"],
                        "" if rec.get("append", "ok") == "ok" else " append " + rec["append"])
                print("%-36s %-6s %s %s  [%.1fs]" % (m["id"], step, "PASS" if ok else "FAIL",
                                                    detail, rec["seconds"]), flush=True)
                if "error" in rec and len(rec["error"].splitlines()) > 1:
                    print("    " + "\n    ".join(rec["error"].splitlines()[1:4]))
    if args.banks:
        print("shared-memory bank model, all cases (wavefronts a phase; 1.00: conflict-free):")
        for (kernel, kind), (req, phases, waves, worst) in sorted(banks.items()):
            print("  %-28s %-9s %10d requests %11d phases  %.2f a phase (worst case %.2f)" % (
                kernel, kind, req, phases, waves / phases if phases else 0.0, worst))
    print("%d/%d cases pass" % (total - failures, total))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
