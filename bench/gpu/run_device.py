#!/usr/bin/env python3
"""kvcc's CUDA attention kernels on the GPU machine: correctness and speed.

Runs ON THE DEVICE (PyTorch 2.11, no network, no compiler): loads
.device/libkvcc_cuda_runtime.so (RTLD_GLOBAL), calls kvcc_cuda_init(0), loads
the kernels that bench/gpu/make_kernels.py built here (.device/kernels/*.so,
described by index.json) and calls `kvcc_<id>(void **args)` with MLIR strided
memref descriptors of torch CUDA tensors.

Phases (each checks the time budget; results.json is rewritten after every
configuration, so a run cut short still leaves numbers):
  1. ceilings       device copy bandwidth (clone of 2 GiB: 2 x bytes / time)
                    and f16/bf16 GEMM TFLOP/s (torch.mm 8192^3), same run
  2. correctness    every "correctness" module: fresh seeded inputs,
                    NaN-poisoned pool and output, shuffled non-contiguous
                    block tables, a ragged batch (full prefills, chunked
                    prefills over a cached prefix, decode tokens: one split)
                    and a decode step (the module's split plan); float64
                    reference from positions; append checked in the pool
  3. decode         batch 64 x context 4096, 32/8 heads, d128, page 16, f16,
                    num_splits 1..32 and the per-call plan; peers: SDPA
                    (enable_gqa, each backend),
                    FlexAttention (compiled) on dense K/V and with a block mask
                    built from page ownership over the page pool
  4. prefill        causal, 16k tokens (16 x 1024 and 1 x 16384; 32/8 heads,
                    d128) through the same kernel (no tensor cores yet);
                    peers: SDPA flash (KV heads repeated if flash has no GQA),
                    SDPA default with enable_gqa, FlexAttention causal mask
  5. sweep          batch 1..256 x context 512..32k (page 16, GQA 4), page
                    sizes 1/16/64/256, GQA ratios 1/4/8; kvcc with splits 1
                    and 16 and the per-call plan, and SDPA on the same shapes
Timing: CUDA events around each call, warm-up, median of N; kvcc calls are
synchronous and allocate their split workspaces per call, so the call time
includes host overhead; the kernels' own time comes from the profiler (CUPTI
sees the driver-API launches) and is what GB/s and TFLOP/s use.

    python3 bench/gpu/run_device.py [--out DIR] [--budget S] [--dry-run]
        [--phases ceilings,correctness,decode,prefill,sweep] [--no-flex]

--phases profile makes one call of each kernel Nsight Compute should see (kvcc's
prefill and decode next to SDPA's); bench/gpu/profile_device.sh runs it under ncu.

--dry-run needs neither torch nor a GPU: checks the index, loads the runtime
and kernels with ctypes (the driver is absent, so the error is expected),
builds every descriptor from numpy stand-ins and prints the plan and budget.
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time
import traceback

from make_kernels import split_tag  # the module ids make_kernels.py wrote

T0 = time.time()
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def log(*a):
    print("[%6.1fs]" % (time.time() - T0), *a, flush=True)


# ----------------------------------------------------------------------------
# Plan: every configuration the run will try, in priority order per phase.
# ----------------------------------------------------------------------------
MAIN = dict(batch=64, context=4096, q_heads=32, kv_heads=8, head_dim=128,
            block_size=16, dtype="f16")
KV_CAP_BYTES = 8 << 30  # K+V bytes of one sweep point (pool + dense copies ~3x)
SWEEP_BATCH = (1, 4, 16, 64, 256)
SWEEP_CONTEXT = (512, 2048, 8192, 32768)
PREFILL = [dict(name="prefill_16x1024", seqs=16, tokens=1024),
           dict(name="prefill_1x4096", seqs=1, tokens=4096),
           dict(name="prefill_1x16384", seqs=1, tokens=16384)]
PREFILL_SPLITS = (16, 32, 1)
MAX_CALL_S = 3.0  # no single kvcc call predicted longer than this is launched
DTYPE_BYTES = dict(f16=2, bf16=2, f32=4)


def module_id(qh, kvh, d, bs, dtype, splits, prefix):
    """splits 0: the module that plans its splits per call."""
    return "%s_q%dkv%d_d%d_b%d_%s_%s" % (prefix, qh, kvh, d, bs, dtype, split_tag(splits))


def planned_splits(batch, kv_heads, sms, max_splits=32):
    """What a per-call plan (kvc.paged_attention max_splits) picks for a decode
    step: the most splits that keep batch x kv_heads x splits CTAs within two per
    SM (AttentionToGPU.cpp, kSplitCTAsPerSM)."""
    return min(max_splits, max(1, 2 * sms // max(1, batch * kv_heads)))


def split_label(splits):
    return "auto" if splits == 0 else str(splits)


def decode_module(kvh=8, bs=16, dtype="f16", splits=1):
    prefix = "d" if (kvh == 8 and bs == 16) else "w"
    return module_id(32, kvh, 128, bs, dtype, splits, prefix)


def sweep_ids(p):
    """The modules a sweep point times: splits 1, 16 and the per-call plan, and
    the flash-decoding kernel where a group decodes on tensor cores (notc, one
    split and the plan)."""
    ids = [decode_module(p["kv_heads"], p["block_size"], "f16", s) for s in (1, 16, 0)]
    return ids + [decode_module(p["kv_heads"], p["block_size"], "f16", s) + "_notc"
                  for s in (1, 0)]


def sweep_points():
    pts = []
    seen = set()

    def add(slice_, batch, ctx, kvh=8, bs=16):
        key = (batch, ctx, kvh, bs)
        if key in seen:
            return
        kv_bytes = 2 * batch * ctx * kvh * 128 * 2
        if kv_bytes > KV_CAP_BYTES:
            return
        seen.add(key)
        pts.append(dict(slice=slice_, batch=batch, context=ctx, kv_heads=kvh,
                        block_size=bs, kv_bytes=kv_bytes))
    for bs in (1, 16, 64, 256):
        add("page", 64, 4096, bs=bs)
    for kvh in (32, 8, 4):
        add("gqa", 64, 4096, kvh=kvh)
    for ctx in SWEEP_CONTEXT:
        for b in SWEEP_BATCH:
            add("batch_context", b, ctx)
    for bs in (1, 16, 64, 256):
        add("page", 4, 16384, bs=bs)
    for kvh in (32, 8, 4):
        add("gqa", 4, 16384, kvh=kvh)
    return pts


# ----------------------------------------------------------------------------
# Memref descriptors and the ctypes side (no torch needed).
# ----------------------------------------------------------------------------
_DESC_TYPES = {}


def desc_type(rank):
    if rank not in _DESC_TYPES:
        class Desc(ctypes.Structure):
            _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                        ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
                        ("strides", ctypes.c_int64 * rank)]
        _DESC_TYPES[rank] = Desc
    return _DESC_TYPES[rank]


def descriptor(ptr, sizes, strides):
    d = desc_type(len(sizes))()
    d.allocated = d.aligned = ptr
    d.offset = 0
    for i, (s, st) in enumerate(zip(sizes, strides)):
        d.sizes[i] = int(s)
        d.strides[i] = int(st)
    return d


class Runtime:
    def __init__(self, path, init=True):
        self.lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        self.lib.kvcc_cuda_last_error.restype = ctypes.c_char_p
        self.lib.kvcc_cuda_init.argtypes = [ctypes.c_int]
        self.init_rc = self.lib.kvcc_cuda_init(0) if init else None

    def error(self):
        e = self.lib.kvcc_cuda_last_error()
        return e.decode() if e else None

    def clear(self):
        self.lib.kvcc_cuda_clear_error()


class Kernel:
    def __init__(self, entry, kdir, runtime):
        self.entry = entry
        self.runtime = runtime
        self.lib = ctypes.CDLL(os.path.join(kdir, entry["file"]), mode=ctypes.RTLD_LOCAL)
        self.fn = getattr(self.lib, entry["symbol"])
        self.fn.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        self.fn.restype = None
        self.roles = [a["role"] for a in entry["args"]]

    def pack(self, descs):
        """descs: role -> descriptor; returns the void*[] (keeps descs alive)."""
        ordered = [descs[r] for r in self.roles]
        arr = (ctypes.c_void_p * len(ordered))(*[ctypes.addressof(d) for d in ordered])
        return arr, ordered

    def call_packed(self, packed):
        self.fn(packed[0])
        err = self.runtime.error()
        if err:
            self.runtime.clear()
            raise RuntimeError("kvcc runtime: " + err)


def load_index(kdir):
    with open(os.path.join(kdir, "index.json")) as f:
        return json.load(f)


def check_index(index, kdir):
    problems = []
    roles_needed = {"attn": {"query", "kv_cache", "block_tables", "context_lens",
                             "query_start", "output"}}
    roles_needed["append_attn"] = roles_needed["attn"] | {"new_keys", "new_values", "slots"}
    roles_needed["rope_append_attn"] = roles_needed["append_attn"] | {"positions"}
    for m in index["modules"]:
        if m["status"] != "ok":
            continue
        if not os.path.exists(os.path.join(kdir, m["file"])):
            problems.append("%s: missing %s" % (m["id"], m["file"]))
        roles = [a["role"] for a in m["args"]]
        if set(roles) != roles_needed[m["kind"]] or len(set(roles)) != len(roles):
            problems.append("%s: roles %s" % (m["id"], roles))
        if roles[-1] != "output":
            problems.append("%s: the output is not the trailing argument" % m["id"])
    return problems


# ----------------------------------------------------------------------------
# Results: rewritten after every configuration.
# ----------------------------------------------------------------------------
class Results:
    def __init__(self, out):
        self.out = out
        self.data = dict(started=time.strftime("%Y-%m-%d %H:%M:%S"), env={}, ceilings={},
                         correctness=[], decode=[], prefill=[], sweep=[], skipped=[],
                         errors=[])

    def save(self):
        path = os.path.join(self.out, "results.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1, default=str)
        os.replace(tmp, path)

    def add(self, key, item):
        self.data[key].append(item)
        self.save()


def fmt(x, spec="%.3g"):
    return "-" if x is None else (spec % x)


def write_markdown(res):
    d = res.data
    L = ["# kvcc CUDA kernels on %s" % d["env"].get("device", "?"), "",
         "started %s; torch %s; seed %s; budget %s s, used %.0f s" % (
             d["started"], d["env"].get("torch"), d["env"].get("seed"),
             d["env"].get("budget_s"), time.time() - T0), ""]
    c = d["ceilings"]
    L += ["## Ceilings (measured in this run)", "",
          "| what | value |", "| --- | --- |",
          "| device copy (clone of 2 GiB, read+write) | %s GB/s |" % fmt(c.get("copy_GBps"), "%.0f"),
          "| f16 GEMM 8192^3 (torch.mm) | %s TFLOP/s |" % fmt(c.get("gemm_f16_TFLOPs"), "%.0f"),
          "| bf16 GEMM 8192^3 (torch.mm) | %s TFLOP/s |" % fmt(c.get("gemm_bf16_TFLOPs"), "%.0f"), ""]
    if d["correctness"]:
        npass = sum(1 for r in d["correctness"] if r.get("pass"))
        L += ["## Correctness (%d/%d pass)" % (npass, len(d["correctness"])), "",
              "| module | step | splits | seed | max rel err | norm rel err | rounding floor | tol | append | NaN | pass |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in d["correctness"]:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["id"], r.get("step", "-"), r.get("splits", 1), r.get("seed"), fmt(r.get("max_rel_err")), fmt(r.get("norm_rel_err")),
                fmt(r.get("rounding_floor")), fmt(r.get("tol")), r.get("append", "-"),
                r.get("nan_outputs", "-"),
                "PASS" if r.get("pass") else ("not run (%s)" % r["status"] if r.get("status")
                                              else "FAIL " + str(r.get("error", ""))[:80])))
        L.append("")

    def perf_table(title, rows, unit):
        if not rows:
            return
        L.extend(["## " + title, "",
                  "| config | kvcc kernel ms | kvcc call ms | %s | ceiling | fraction | peers (ms) | kvcc/best peer | err | pass |" % unit,
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"])
        for r in rows:
            peers = r.get("peers", {})
            pk = ", ".join("%s %s" % (k, fmt(v.get("ms"))) for k, v in peers.items() if v.get("ms"))
            pf = ", ".join("%s failed" % k for k, v in peers.items() if v.get("error"))
            best = min([v["ms"] for v in peers.values() if v.get("ms")] or [None]) if peers else None
            kms = r.get("kernel_ms") or r.get("call_ms")
            ratio = (kms / best) if (kms and best) else None
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["config"], fmt(r.get("kernel_ms")), fmt(r.get("call_ms")),
                fmt(r.get("rate"), "%.1f"), fmt(r.get("ceiling"), "%.0f"),
                fmt(r.get("fraction"), "%.2f"), "; ".join(x for x in (pk, pf) if x) or "-",
                fmt(ratio, "%.2f"), fmt(r.get("max_rel_err")),
                "-" if r.get("pass") is None else ("PASS" if r["pass"] else "FAIL")))
        L.append("")
    perf_table("Decode (GB/s of K/V + q/out over kernel time; ceiling: copy)", d["decode"], "GB/s")
    perf_table("Prefill (TFLOP/s over kernel time; ceiling: f16 GEMM)", d["prefill"], "TFLOP/s")
    perf_table("Decode sweep (GB/s; ceiling: copy)", d["sweep"], "GB/s")
    if d["skipped"]:
        L += ["## Skipped", ""] + ["- " + s for s in d["skipped"]] + [""]
    if d["errors"]:
        L += ["## Errors", ""] + ["- " + s.replace("\n", " ")[:300] for s in d["errors"]] + [""]
    L += ["kvcc call ms includes the host code's per-call stream creation, split-workspace "
          "cuMemAlloc/cuMemFree and the output copy; kernel ms is the sum of the kvc_* kernels "
          "of one call (CUPTI via torch.profiler). Ratios use kernel ms (call ms when the "
          "profiler saw no kernel)."]
    with open(os.path.join(res.out, "results.md"), "w") as f:
        f.write("\n".join(L) + "\n")


# ----------------------------------------------------------------------------
# Dry run: no torch, no GPU.
# ----------------------------------------------------------------------------
def dry_run(args, index, kdir):
    import numpy as np
    problems = check_index(index, kdir)
    mods = [m for m in index["modules"] if m["status"] == "ok"]
    log("index: %d modules ok, %d not (%s); problems: %s" % (
        len(mods), len(index["modules"]) - len(mods),
        ", ".join("%s=%s" % (m["id"], m["status"]) for m in index["modules"] if m["status"] != "ok"),
        problems or "none"))
    rt = Runtime(args.runtime)
    log("runtime loaded; kvcc_cuda_init(0) = %s (%s)" % (rt.init_rc, rt.error()))
    kernels = {m["id"]: Kernel(m, kdir, rt) for m in mods}
    log("loaded %d kernel libraries, every symbol resolved" % len(kernels))
    np_dtype = dict(f16=np.float16, bf16=np.uint16, f32=np.float32, i32=np.int32, i64=np.int64)
    seqs = index["correctness_sequences"]

    def resolve(shape, sym):
        return [sym[s] if isinstance(s, str) else s for s in shape]
    for m in mods:
        if m["purpose"] == "correctness":
            b = m["block_size"]
            N = sum(n for _, n in seqs)
            M = max(-(-c // b) for c, _ in seqs)
            P = sum(-(-c // b) for c, _ in seqs) + 7
            B = len(seqs)
        else:
            b = m["block_size"]
            B, N, M = MAIN["batch"], MAIN["batch"], -(-MAIN["context"] // b)
            P = B * M + 7
        sym = {"N": N, "B": B, "M": M, "P": P, "B+1": B + 1}
        arrays, descs = [], {}
        for a in m["args"]:
            arr = np.zeros(resolve(a["shape"], sym), dtype=np_dtype[a["dtype"]])
            arrays.append(arr)
            descs[a["role"]] = descriptor(arr.ctypes.data, arr.shape,
                                          [s // arr.itemsize for s in arr.strides])
        packed = kernels[m["id"]].pack(descs)
        assert len(packed[1]) == len(m["args"])
        for a, d in zip(m["args"], packed[1]):
            assert list(d.sizes) == resolve(a["shape"], sym), (m["id"], a["name"])
    log("descriptors built from numpy stand-ins for all %d modules (not called)" % len(mods))

    print("\nPlan")
    corr = [m for m in mods if m["purpose"] == "correctness"]
    print("  correctness: %d modules x batch %s (N=%d tokens)" % (
        len(corr), seqs, sum(n for _, n in seqs)))
    for m in corr:
        print("    %-38s q%d kv%d d%d page %d %s splits %s window %d cap %g %s %s %s" % (
            m["id"], m["q_heads"], m["kv_heads"], m["head_dim"], m["block_size"],
            m["dtype"] + ("" if m.get("cache_dtype", m["dtype"]) == m["dtype"] else
                          " (%s cache)" % m["cache_dtype"]),
            split_label(m["splits"]), m["window"], m["softcap"], "causal" if m["causal"] else "full",
            m["kind"], m["layout"]))
    main_bytes = 2 * MAIN["batch"] * MAIN["context"] * MAIN["kv_heads"] * 128 * 2
    print("  decode main: batch %d x ctx %d, 32/8 heads, d128, page 16, f16: K/V %.2f GB; "
          "splits %s; peers sdpa(enable_gqa, default/flash/efficient/cudnn), flex dense, flex paged"
          % (MAIN["batch"], MAIN["context"], main_bytes / 1e9,
             [split_label(s) for s in (1, 2, 4, 8, 16, 32, 0) if decode_module(splits=s) in kernels]))
    for p in PREFILL:
        fl = 2 * 32 * 128 * p["seqs"] * p["tokens"] * (p["tokens"] + 1)
        print("  %s: causal, %.2f TFLOP, splits %s (each only if predicted <= %.0f s a call); "
              "peers sdpa flash, sdpa gqa, flex causal" % (p["name"], fl / 1e12, PREFILL_SPLITS, MAX_CALL_S))
    pts = sweep_points()
    print("  sweep: %d points (K/V cap %.0f GiB), kvcc splits 1, 16 and auto + sdpa each:" % (
        len(pts), KV_CAP_BYTES / 2**30))
    for p in pts:
        # (notc modules exist only where a group decodes on tensor cores)
        missing = [x for x in sweep_ids(p) if x not in kernels and not x.endswith("_notc")]
        print("    %-13s batch %3d ctx %5d kv %2d page %3d  K/V %6.3f GB %s" % (
            p["slice"], p["batch"], p["context"], p["kv_heads"], p["block_size"],
            p["kv_bytes"] / 1e9, ("MISSING " + ",".join(missing)) if missing else ""))
    print("\nTime budget (s, deadline-checked before every item): total %d" % args.budget)
    for k, v in phase_budget(args.budget, args.phases.split(",")).items():
        print("  %-12s until t=%4.0f" % (k, v))
    return 0 if not problems else 1


# Shares of the budget (percent when the five default phases run); profile runs alone
# under Nsight Compute (profile_device.sh), so its share is the whole run's.
PHASE_SHARES = dict(ceilings=6, correctness=10, decode=26, prefill=20, sweep=33, profile=95)
REPORT_SHARE = 5


def phase_budget(total, phases):
    """Deadlines (seconds since start) of the phases run, in their order: each gets its
    share of the budget, renormalized over the phases chosen (the five default phases
    end at 6/16/42/62/95 % of it; `--phases ceilings,correctness,prefill` gives prefill
    everything the decode and sweep shares would have had), the last 5 % for reports."""
    scale = total / (sum(PHASE_SHARES[p] for p in phases) + REPORT_SHARE)
    deadlines, done = {}, 0
    for p in phases:
        done += PHASE_SHARES[p]
        deadlines[p] = done * scale
    return deadlines


# ----------------------------------------------------------------------------
# The GPU run.
# ----------------------------------------------------------------------------
def gpu_run(args, index, kdir):
    import torch
    res = Results(args.out)
    dev = torch.device("cuda")
    torch.cuda.init()
    props = torch.cuda.get_device_properties(0)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    res.data["env"] = dict(device=props.name, sms=props.multi_processor_count,
                           memory_GiB=round(props.total_memory / 2**30, 1),
                           l2_MB=round(getattr(props, "L2_cache_size", 0) / 1e6, 1),
                           torch=torch.__version__, cuda=torch.version.cuda, seed=seed,
                           budget_s=args.budget, kvcc_commit=index.get("kvcc_commit"),
                           gpu_arch=index.get("gpu_arch"))
    log("device %s, %d SMs, %.0f GiB, torch %s, seed %d" % (
        props.name, props.multi_processor_count, props.total_memory / 2**30,
        torch.__version__, seed))
    rt = Runtime(args.runtime)
    if rt.init_rc != 0:
        raise SystemExit("kvcc_cuda_init(0) failed: %s" % rt.error())
    kernels = {}
    for m in index["modules"]:
        if m["status"] != "ok":
            continue
        try:
            kernels[m["id"]] = Kernel(m, kdir, rt)
            err = rt.error()
            if err:
                rt.clear()
                raise RuntimeError(err)
        except Exception as e:
            res.data["errors"].append("load %s: %s" % (m["id"], e))
    log("loaded %d kernel modules" % len(kernels))
    res.save()
    deadlines = phase_budget(args.budget, args.phases.split(","))
    TORCH_DT = dict(f16=torch.float16, bf16=torch.bfloat16, f32=torch.float32)
    L2 = getattr(props, "L2_cache_size", 50 << 20) or (50 << 20)
    state = dict(seed_counter=0)

    def left(phase):
        return deadlines[phase] - (time.time() - T0)

    def new_gen():
        state["seed_counter"] += 1
        s = seed * 1000003 + state["seed_counter"]
        g = torch.Generator(device=dev)
        g.manual_seed(s)
        gc = torch.Generator()
        gc.manual_seed(s)
        return g, gc, s

    def tdesc(t):
        assert t.stride(-1) == 1, "inner dimension must be contiguous"
        return descriptor(t.data_ptr(), t.shape, t.stride())

    # -- timing -------------------------------------------------------------
    def time_events(fn, warmup, iters):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            ts.append((s, e))
        torch.cuda.synchronize()
        ms = [s.elapsed_time(e) for s, e in ts]
        return dict(ms=statistics.median(ms), min_ms=min(ms), iters=iters)

    def adaptive(fn, target_s=0.4, max_iters=50, min_iters=3):
        """One probe call, then warm-up + median of N chosen to fit target_s."""
        torch.cuda.synchronize()
        t = time.time()
        fn()
        torch.cuda.synchronize()
        probe = time.time() - t
        iters = int(max(min_iters, min(max_iters, target_s / max(probe, 1e-5))))
        warm = 1 if probe > 0.05 else 3
        r = time_events(fn, warm, iters)
        r["probe_s"] = probe
        return r

    def kernel_ms(fn, iters, prefix="kvc_"):
        """Sum of the kvc_* kernels of one call (median over calls), by CUPTI."""
        try:
            from kernel_trace import kernel_events  # imports torch: not at module load (--dry-run)
            ks = [e for e in kernel_events(fn, iters) if str(e.get("name", "")).startswith(prefix)]
            if not ks:
                return None, None
            names = sorted(set(e["name"] for e in ks))
            per_call = len(ks) // iters if len(ks) % iters == 0 else None
            if per_call:
                sums = [sum(e["dur"] for e in ks[i * per_call:(i + 1) * per_call]) / 1000.0
                        for i in range(iters)]
                return statistics.median(sums), names
            return sum(e["dur"] for e in ks) / 1000.0 / iters, names
        except Exception as e:  # the profiler is a measurement aid, not a requirement
            res.data["errors"].append("profiler: %r" % e)
            return None, None

    # -- data -----------------------------------------------------------------
    def uniform(shape, g, dt):
        """U(-1, 1) in storage type dt, drawn in float32 chunks (bounded memory)."""
        out = torch.empty(shape, dtype=dt, device=dev)
        flat = out.view(-1)
        step = 1 << 28
        for i in range(0, flat.numel(), step):
            j = min(flat.numel(), i + step)
            flat[i:j] = torch.rand(j - i, generator=g, device=dev).mul_(2).sub_(1)
        return out

    def build_case(m, seqs, rotations=1, fill_all=False):
        """Inputs of module m for sequences [(context, new)], on the GPU.

        K/V are generated per position (kflat/vflat: [sum(context), H, D], the
        reference's source); the pool receives the cached prefix through
        shuffled block tables; new tokens are appended by the kernel (append
        kinds) or written here (attention-only kinds). `rotations` copies of the
        pool under different pages defeat the L2 cache when timing small cases."""
        g, gc, s = new_gen()
        dt = TORCH_DT[m["dtype"]]
        # The pool's type; kflat/vflat hold what the pool holds (rounded to it).
        cdt = TORCH_DT[m.get("cache_dtype", m["dtype"])]
        bs, H, D, Hq = m["block_size"], m["kv_heads"], m["head_dim"], m["q_heads"]
        append = m["kind"] != "attn"
        ctxs = [c for c, _ in seqs]
        news = [n for _, n in seqs]
        pages = [-(-c // bs) for c in ctxs]
        maxp, totp = max(pages), sum(pages)
        poolp = totp * rotations + 7
        perm = torch.randperm(poolp, generator=gc).to(torch.int32)
        tables = []
        nxt = 0
        for r in range(rotations):
            t = torch.zeros(len(seqs), maxp, dtype=torch.int32)
            for i, p in enumerate(pages):
                t[i, :p] = perm[nxt:nxt + p]
                nxt += p
            tables.append(t.to(dev))
        head_major = m["layout"] == "head_major"
        shape = [poolp, 2, H, bs, D] if head_major else [poolp, 2, bs, H, D]
        pool = torch.full(shape, float("nan"), dtype=cdt, device=dev)
        tot = sum(ctxs)
        kflat = uniform((tot, H, D), g, dt)
        vflat = uniform((tot, H, D), g, dt)
        N = sum(news)
        q = uniform((N, Hq, D), g, dt)
        # Positions, slots of every cached / new token.
        seq_of = torch.repeat_interleave(torch.arange(len(seqs)), torch.tensor(ctxs))
        cu = [0]
        for c in ctxs:
            cu.append(cu[-1] + c)
        pos = torch.arange(tot) - torch.tensor(cu[:-1]).repeat_interleave(torch.tensor(ctxs))
        prefix = torch.tensor([c - n for c, n in seqs]).repeat_interleave(torch.tensor(ctxs))
        is_new = pos >= prefix
        seq_d, pos_d = seq_of.to(dev), pos.to(dev)
        writes = torch.ones_like(is_new) if (fill_all or not append) else ~is_new
        w = writes.to(dev)
        for t in tables:
            page = t[seq_d[w], (pos_d[w] // bs)].long()
            off = (pos_d[w] % bs).long()
            if head_major:
                pool[page, 0, :, off] = kflat[w].to(cdt)
                pool[page, 1, :, off] = vflat[w].to(cdt)
            else:
                pool[page, 0, off] = kflat[w].to(cdt)
                pool[page, 1, off] = vflat[w].to(cdt)
        case = dict(m=m, seqs=seqs, q=q, pool=pool, tables=tables, kflat=kflat, vflat=vflat,
                    cu=cu, seed=s, N=N,
                    lens=torch.tensor(ctxs, dtype=torch.int32, device=dev),
                    starts=torch.tensor([0] + list(_cumsum(news)), dtype=torch.int32, device=dev),
                    out=torch.full((N, Hq, D), float("nan"), dtype=dt, device=dev))
        if append:
            nd = is_new.to(dev)
            t0 = tables[0]
            page = t0[seq_d[nd], pos_d[nd] // bs].long()
            case["slots"] = (page * bs + pos_d[nd] % bs).to(torch.int64).contiguous()
            case["k"] = kflat[nd].contiguous()
            case["v"] = vflat[nd].contiguous()
            case["positions"] = pos_d[nd].to(torch.int64).contiguous()
            case["new_rows"] = nd
            if m["kind"] == "rope_append_attn":
                # Raw k goes in; the reference (and the pool) see rope(k) rounded.
                raw = uniform((N, H, D), g, dt)
                case["k"] = raw
                kr = rope_ref(raw.double(), case["positions"], m["rope"]).to(dt)
                kflat[nd] = kr
                case["q_raw"] = q
                case["q"] = q  # the kernel ropes q itself
                case["q_ref"] = rope_ref(q.double(), case["positions"], m["rope"]).to(dt)
        return case

    def rope_ref(x, positions, r):
        """float64 rope of x [N, heads, D] at positions [N] (kvc.rope's definition)."""
        rd, theta, style = r["rotary_dim"], r["theta"], r["style"]
        i = torch.arange(rd // 2, dtype=torch.float64, device=x.device)
        ang = positions.double()[:, None] * theta ** (-2.0 * i / rd)  # [N, rd/2]
        c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
        y = x.clone()
        if style == "neox":
            a, b = x[..., :rd // 2], x[..., rd // 2:rd]
            y[..., :rd // 2] = a * c - b * s
            y[..., rd // 2:rd] = b * c + a * s
        else:
            a, b = x[..., 0:rd:2], x[..., 1:rd:2]
            y[..., 0:rd:2] = a * c - b * s
            y[..., 1:rd:2] = b * c + a * s
        return y

    def descs_for(case, rot=0):
        d = dict(query=tdesc(case["q"]), kv_cache=tdesc(case["pool"]),
                 block_tables=tdesc(case["tables"][rot]), context_lens=tdesc(case["lens"]),
                 query_start=tdesc(case["starts"]), output=tdesc(case["out"]))
        if "slots" in case:
            d.update(new_keys=tdesc(case["k"]), new_values=tdesc(case["v"]),
                     slots=tdesc(case["slots"]))
        if "positions" in case:
            d["positions"] = tdesc(case["positions"])
        return d

    def reference(case, seq_ids=None, max_rows=None, gen=None):
        """float64 attention from positions; returns (rows, ref [R, Hq, D],
        scale [R, Hq]): a row's scale is max_d sum_j p_j |v_jd| / sum_j p_j,
        the magnitude its rounding errors grow with (compare)."""
        m = case["m"]
        H, D, Hq = m["kv_heads"], m["head_dim"], m["q_heads"]
        G = Hq // H
        qsrc = case.get("q_ref", case["q"])
        rows_all, refs, scales = [], [], []
        start = 0
        for i, (c, n) in enumerate(case["seqs"]):
            if seq_ids is not None and i not in seq_ids:
                start += n
                continue
            t_idx = torch.arange(n, device=dev)
            if max_rows is not None and n > max_rows:
                perm = torch.randperm(n, device=dev, generator=gen)[:max_rows - 2]
                t_idx = torch.unique(torch.cat([perm, torch.tensor([0, n - 1], device=dev)]))
            # As the pool holds them (rounded once to the cache's type).
            cdt = case["pool"].dtype
            K = case["kflat"][case["cu"][i]:case["cu"][i + 1]].to(cdt).double()  # [c, H, D]
            V = case["vflat"][case["cu"][i]:case["cu"][i + 1]].to(cdt).double()
            chunk = max(1, int(2**27 // (Hq * c)))
            for j0 in range(0, len(t_idx), chunk):
                tt = t_idx[j0:j0 + chunk]
                pos = (c - n) + tt  # [r]
                qq = qsrc[start + tt].double().view(-1, H, G, D) * m["scale"]
                sc = torch.einsum("rhgd,jhd->rhgj", qq, K)
                if m["softcap"] > 0:
                    sc = m["softcap"] * torch.tanh(sc / m["softcap"])
                j = torch.arange(c, device=dev)
                hi = (pos + 1) if m["causal"] else torch.full_like(pos, c)
                lo = (pos - m["window"] + 1).clamp(min=0) if m["window"] else torch.zeros_like(pos)
                vis = (j[None, :] < hi[:, None]) & (j[None, :] >= lo[:, None])
                sc = sc.masked_fill(~vis[:, None, None, :], float("-inf"))
                p = torch.softmax(sc, dim=-1)
                o = torch.einsum("rhgj,jhd->rhgd", p, V).reshape(-1, Hq, D)
                mag = torch.einsum("rhgj,jhd->rhgd", p, V.abs()).reshape(-1, Hq, D)
                rows_all.append(start + tt)
                refs.append(o)
                scales.append(mag.amax(dim=-1))
            start += n
        return torch.cat(rows_all), torch.cat(refs), torch.cat(scales)

    def compare(out, rows, ref, scale, m):
        """Output of module m against the float64 reference. The tolerance is
        that of the narrower of the model's and the cache's types: with a
        16-bit cache the tensor-core prefill kernel rounds Q and P to it.
        max_rel_err: the largest over (token, head) rows of the row's largest
        error over its own scale (reference), as kvcc_ref.kernel_cases does
        for the emulator; against the largest output of the whole case (a
        short row's) a long row's error would pass twenty times looser."""
        dtype = m["dtype"]
        narrow = min(dtype, m.get("cache_dtype", dtype), key=DTYPE_BYTES.get)
        got = out[rows].double()
        nan = int(torch.isnan(got).sum())
        err = (got - ref).abs()
        mx = float(ref.abs().max())
        # A row that sees no key has output 0 and scale 0: judged absolutely.
        row_scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        max_rel = float((err.amax(dim=-1) / row_scale).max()) if nan == 0 else float("nan")
        norm_rel = float(err.norm() / ref.norm()) if nan == 0 else float("nan")
        floor = float((ref.to(TORCH_DT[dtype]).double() - ref).abs().max()) / mx
        # The brief's 2e-3 for 16-bit storage; bf16's own output rounding
        # (unit roundoff 2^-8 = 3.9e-3) is above it, so bf16 gets 2e-3 + 2^-8.
        tol = dict(f16=2e-3, bf16=2e-3 + 2.0 ** -8, f32=1e-5)[narrow]
        return dict(max_rel_err=max_rel, norm_rel_err=norm_rel, rounding_floor=floor,
                    tol=tol, nan_outputs=nan, pass_numerics=(nan == 0 and max_rel <= tol))

    def run_kvcc(kernel, case, rot=0):
        packed = kernel.pack(descs_for(case, rot))
        return lambda: kernel.call_packed(packed)

    # -- phase 1: ceilings ------------------------------------------------------
    def ceilings():
        c = res.data["ceilings"]
        g, _, _ = new_gen()
        x = torch.rand(1 << 30, generator=g, device=dev).to(torch.float16)  # 2 GiB
        r = time_events(lambda: x.clone(), 2, 10)
        c["copy_GBps"] = 2 * x.numel() * 2 / (r["ms"] / 1e3) / 1e9
        c["copy_ms"] = r["ms"]
        del x
        torch.cuda.empty_cache()
        n = 8192
        for name, dt in (("f16", torch.float16), ("bf16", torch.bfloat16)):
            a = torch.rand(n, n, generator=g, device=dev).to(dt) - 0.5
            b = torch.rand(n, n, generator=g, device=dev).to(dt) - 0.5
            r = time_events(lambda: torch.mm(a, b), 3, 10)
            c["gemm_%s_TFLOPs" % name] = 2 * n ** 3 / (r["ms"] / 1e3) / 1e12
        del a, b
        torch.cuda.empty_cache()
        log("ceilings: copy %.0f GB/s, f16 GEMM %.0f TFLOP/s, bf16 GEMM %.0f TFLOP/s" % (
            c["copy_GBps"], c["gemm_f16_TFLOPs"], c["gemm_bf16_TFLOPs"]))
        res.save()

    # -- phase 2: correctness --------------------------------------------------
    def correctness():
        cases = [("ragged", [tuple(s) for s in index["correctness_sequences"]])]
        if index.get("correctness_decode_sequences"):
            cases.append(("decode", [tuple(s) for s in index["correctness_decode_sequences"]]))
        for m in index["modules"]:
            if m["purpose"] != "correctness":
                continue
            if m["status"] != "ok":
                res.add("correctness", dict(id=m["id"], status=m["status"],
                                            error=m.get("error", "")[:200].split("\n")[0]))
                continue
            if left("correctness") < 0:
                res.data["skipped"].append("correctness %s: out of time" % m["id"])
                continue
            for step, seqs in cases:
                correctness_case(m, step, seqs)

    def correctness_case(m, step, seqs):
        rec = dict(id=m["id"], step=step)
        if step == "decode" and m["splits"] != 1:
            rec["splits"] = m["splits"] or planned_splits(len(seqs), m["kv_heads"],
                                                          props.multi_processor_count)
        try:
            case = build_case(m, seqs)
            rec["seed"] = case["seed"]
            nan_before = int(torch.isnan(case["pool"]).sum())
            run_kvcc(kernels[m["id"]], case)()
            torch.cuda.synchronize()
            rows, ref, scale = reference(case)
            rec.update(compare(case["out"], rows, ref, scale, m))
            rec["pass"] = rec.pop("pass_numerics")
            if "slots" in case:
                bs = m["block_size"]
                page, off = case["slots"] // bs, case["slots"] % bs
                if m["layout"] == "head_major":
                    got_k = case["pool"][page, 0, :, off]
                    got_v = case["pool"][page, 1, :, off]
                else:
                    got_k, got_v = case["pool"][page, 0, off], case["pool"][page, 1, off]
                want_k = case["kflat"][case["new_rows"]].to(case["pool"].dtype)
                want_v = case["vflat"][case["new_rows"]].to(case["pool"].dtype)
                ek = float((got_k.double() - want_k.double()).abs().max())
                ev = float((got_v.double() - want_v.double()).abs().max())
                ok = (ev == 0 and (ek == 0 if m["kind"] == "append_attn" else
                                   ek <= 2 * 2.0 ** -8 * float(want_k.double().abs().max())))
                nan_after = int(torch.isnan(case["pool"]).sum())
                written = case["k"].numel() * 2
                stray = nan_before - nan_after - written
                rec["append"] = "ok" if ok and stray == 0 else "k %.2g v %.2g stray %d" % (ek, ev, stray)
                rec["pass"] = rec["pass"] and ok and stray == 0
            log("correctness %-38s %-6s seed %d maxrel %.2e (tol %.1e) %s" % (
                m["id"], step, rec["seed"], rec["max_rel_err"], rec["tol"],
                "PASS" if rec["pass"] else "FAIL"))
        except Exception as e:
            rec.update(error=repr(e))
            rec["pass"] = False
            log("correctness %s %s: ERROR %r" % (m["id"], step, e))
            res.data["errors"].append("correctness %s %s: %s" % (m["id"], step, traceback.format_exc()[-800:]))
        res.add("correctness", rec)
        torch.cuda.empty_cache()

    # -- helpers shared by the timed phases ---------------------------------------
    def decode_bytes(case):
        m = case["m"]
        b = DTYPE_BYTES[m["dtype"]]
        kv = 2 * sum(c for c, _ in case["seqs"]) * m["kv_heads"] * m["head_dim"] * b
        qo = 2 * case["N"] * m["q_heads"] * m["head_dim"] * b
        return kv + qo

    def prefill_flops(case):
        m = case["m"]
        vis = 0
        for c, n in case["seqs"]:
            # query t of the chunk sees (c - n + t + 1) keys
            vis += n * (c - n) + n * (n + 1) // 2
        return 4 * vis * m["q_heads"] * m["head_dim"]

    def recheck(case, seq_ids, max_rows):
        rows, ref, scale = reference(case, seq_ids=seq_ids, max_rows=max_rows)
        r = compare(case["out"], rows, ref, scale, case["m"])
        return r

    def time_kvcc(m_id, case, target_s, rotations):
        kern = kernels[m_id]
        fns = [run_kvcc(kern, case, r) for r in range(rotations)]
        state_i = [0]

        def fn():
            fns[state_i[0] % len(fns)]()
            state_i[0] += 1
        t = adaptive(fn, target_s=target_s)
        kms, names = kernel_ms(fn, min(10, max(3, t["iters"])))
        # re-check the output of a fresh call on poisoned output
        case["out"].fill_(float("nan"))
        fns[0]()
        torch.cuda.synchronize()
        return dict(call_ms=t["ms"], call_min_ms=t["min_ms"], iters=t["iters"],
                    kernel_ms=kms, kernels=names, probe_s=t["probe_s"])

    def dense_kv(case):
        """K/V gathered once per position (not timed): [B, H, ctx, D] (uniform ctx)."""
        m = case["m"]
        B = len(case["seqs"])
        c = case["seqs"][0][0]
        k = case["kflat"].view(B, c, m["kv_heads"], m["head_dim"]).transpose(1, 2).contiguous()
        v = case["vflat"].view(B, c, m["kv_heads"], m["head_dim"]).transpose(1, 2).contiguous()
        return k, v

    def peer(name, fn, case, rows_check, out_to_rows, target_s=0.3):
        """Times a peer; checks its output against the same reference rows."""
        try:
            out = fn()
            torch.cuda.synchronize()
            rec = {}
            if rows_check is not None:
                rows, ref = rows_check
                got = out_to_rows(out)[rows].double()
                rec["max_rel_err"] = float((got - ref).abs().max() / ref.abs().max())
            t = adaptive(fn, target_s=target_s)
            rec.update(ms=t["ms"], iters=t["iters"])
            return rec
        except Exception as e:
            msg = "%s: %s" % (type(e).__name__, str(e).split("\n")[0][:200])
            res.data["errors"].append("peer %s on %s: %s" % (name, case["m"]["id"], msg))
            return dict(error=msg)

    state["flex"] = None

    def flex():
        if args.no_flex:
            return None
        if state["flex"] is None:
            from torch.nn.attention.flex_attention import flex_attention, create_block_mask
            state["flex"] = (torch.compile(flex_attention), create_block_mask)
        return state["flex"]

    def sdpa_backends():
        from torch.nn.attention import sdpa_kernel, SDPBackend
        return sdpa_kernel, SDPBackend

    # -- phase 3: decode -----------------------------------------------------------
    def decode_peers(case, rows_check, full=True):
        m = case["m"]
        F = torch.nn.functional
        B = len(case["seqs"])
        k, v = dense_kv(case)
        qd = case["q"].view(B, 1, m["q_heads"], m["head_dim"]).transpose(1, 2)  # [B,Hq,1,D]

        def to_rows(o):  # [B, Hq, 1, D] -> [N, Hq, D]
            return o.transpose(1, 2).reshape(B, m["q_heads"], m["head_dim"])
        peers = {}
        peers["sdpa_gqa"] = peer("sdpa_gqa", lambda: F.scaled_dot_product_attention(
            qd, k, v, scale=m["scale"], enable_gqa=True), case, rows_check, to_rows)
        if full:
            sdpa_kernel, SDPBackend = sdpa_backends()
            for bname in ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"):
                be = getattr(SDPBackend, bname, None)
                if be is None:
                    continue

                def f(be=be):
                    with sdpa_kernel(be):
                        return F.scaled_dot_product_attention(qd, k, v, scale=m["scale"],
                                                              enable_gqa=True)
                peers["sdpa_%s" % bname.split("_")[0].lower()] = peer(
                    "sdpa_" + bname, f, case, rows_check, to_rows)
        # FlexAttention only on the main shape: every new shape recompiles.
        if full and flex() is not None and left("decode") > 60:
            fa, cbm = flex()
            peers["flex_dense"] = peer("flex_dense", lambda: fa(
                qd, k, v, scale=m["scale"], enable_gqa=True), case, rows_check, to_rows)
            if left("decode") > 60:
                peers["flex_paged"] = flex_paged(case, rows_check)
        del k, v
        return peers

    def flex_paged(case, rows_check):
        """FlexAttention over the page pool: K/V split into slot-major pools
        [1, H, P*bs, D] (same shuffled pages; layout converted once, not timed)
        and a block mask from page ownership: slot s is visible to the query of
        sequence b iff its page belongs to b and its position <= the query's."""
        try:
            fa, cbm = flex()
            m = case["m"]
            bs, H, D, Hq = m["block_size"], m["kv_heads"], m["head_dim"], m["q_heads"]
            pool = case["pool"]
            P = pool.shape[0]
            ks = pool[:, 0].reshape(P * bs, H, D).transpose(0, 1).unsqueeze(0).contiguous()
            vs = pool[:, 1].reshape(P * bs, H, D).transpose(0, 1).unsqueeze(0).contiguous()
            owner = torch.full((P,), -1, dtype=torch.int32, device=dev)
            lpage = torch.zeros(P, dtype=torch.int32, device=dev)
            t = case["tables"][0]
            for i, (c, n) in enumerate(case["seqs"]):
                np_ = -(-c // bs)
                owner[t[i, :np_].long()] = i
                lpage[t[i, :np_].long()] = torch.arange(np_, dtype=torch.int32, device=dev)
            starts = case["starts"].long()
            q_seq = torch.repeat_interleave(torch.arange(len(case["seqs"]), device=dev),
                                            starts[1:] - starts[:-1])
            q_pos = torch.cat([torch.arange(c - n, c, device=dev) for c, n in case["seqs"]])
            # NaN-poisoned slots must not reach the softmax: zero them in the
            # flex pools (flex multiplies masked scores by 0 only after exp).
            ks = torch.nan_to_num(ks, nan=0.0)
            vs = torch.nan_to_num(vs, nan=0.0)

            def mask_mod(b, h, q_idx, kv_idx):
                pg = kv_idx // bs
                return (owner[pg] == q_seq[q_idx]) & (lpage[pg] * bs + kv_idx % bs <= q_pos[q_idx])
            N = case["N"]
            bm = cbm(mask_mod, B=None, H=None, Q_LEN=N, KV_LEN=P * bs, device=dev)
            qf = case["q"].transpose(0, 1).unsqueeze(0)  # [1, Hq, N, D]
            r = peer("flex_paged", lambda: fa(qf, ks, vs, block_mask=bm, scale=m["scale"],
                                              enable_gqa=True),
                     case, rows_check, lambda o: o[0].transpose(0, 1))
            r["note"] = "slot-major K/V pools, ownership mask (dense over shuffled 16-token pages)"
            return r
        except Exception as e:
            msg = "%s: %s" % (type(e).__name__, str(e).split("\n")[0][:200])
            res.data["errors"].append("peer flex_paged: " + msg)
            return dict(error=msg)

    def bench_decode(key, m_ids, batch, ctx, label, full_peers, phase, extra=None):
        ms = [x for x in m_ids if x in kernels]
        if not ms:
            res.data["skipped"].append("%s: no module among %s" % (label, m_ids))
            return
        m0 = kernels[ms[0]].entry
        kv_bytes = 2 * batch * ctx * m0["kv_heads"] * m0["head_dim"] * DTYPE_BYTES[m0["dtype"]]
        rotations = int(min(128, max(1, math.ceil(4 * L2 / kv_bytes))))
        case = build_case(m0, [(ctx, 1)] * batch, rotations=rotations)
        nbytes = decode_bytes(case)
        check_ids = sorted(set([0, batch - 1, batch // 2]))
        rows, ref, scale = reference(case, seq_ids=check_ids)
        ceiling = res.data["ceilings"].get("copy_GBps")
        peers = decode_peers(case, (rows, ref), full=full_peers) if left(phase) > 5 else {}
        for mid in ms:
            if left(phase) < 0:
                res.data["skipped"].append("%s %s: out of time" % (label, mid))
                continue
            # the id after its dtype: s1, sauto, s1_notc, ...
            variant = mid.split("_%s_" % m0["dtype"], 1)[-1]
            rec = dict(config="%s %s" % (label, variant), variant=variant, module=mid, batch=batch,
                       context=ctx, kv_heads=m0["kv_heads"], block_size=m0["block_size"],
                       splits=kernels[mid].entry["splits"], bytes=nbytes, rotations=rotations,
                       seed=case["seed"], peers=peers)
            if rec["splits"] == 0:
                rec["planned_splits"] = planned_splits(batch, m0["kv_heads"],
                                                       props.multi_processor_count)
            if extra:
                rec.update(extra)
            try:
                # all modules of one group share q/k/v shapes and the cache type
                t = time_kvcc(mid, case, 0.4, rotations)
                rec.update(t)
                chk = compare(case["out"], rows, ref, scale, m0)
                rec.update(max_rel_err=chk["max_rel_err"])
                rec["pass"] = chk["pass_numerics"]
                ms_used = t["kernel_ms"] or t["call_ms"]
                rec["rate"] = nbytes / (ms_used / 1e3) / 1e9
                rec["rate_call"] = nbytes / (t["call_ms"] / 1e3) / 1e9
                rec["ceiling"] = ceiling
                rec["fraction"] = rec["rate"] / ceiling if ceiling else None
                log("%s %-28s kernel %s ms call %.3f ms  %.0f GB/s  err %.1e %s | %s" % (
                    label, mid, fmt(t["kernel_ms"]), t["call_ms"], rec["rate"],
                    chk["max_rel_err"], "PASS" if rec["pass"] else "FAIL",
                    ", ".join("%s %s" % (k, fmt(v.get("ms"))) for k, v in peers.items())))
            except Exception as e:
                rec["error"] = repr(e)
                rec["pass"] = False
                log("%s %s: ERROR %r" % (label, mid, e))
                res.data["errors"].append("%s %s: %s" % (label, mid, traceback.format_exc()[-800:]))
            res.add(key, rec)
        del case
        torch.cuda.empty_cache()

    def decode():
        ids = [decode_module(splits=s) for s in (1, 2, 4, 8, 16, 32, 0)] + \
              [decode_module(dtype="bf16", splits=1)]
        f16 = [i for i in ids if "_f16_" in i]
        bench_decode("decode", f16, MAIN["batch"], MAIN["context"], "decode b64 c4096", True, "decode")
        if left("decode") > 10:
            bench_decode("decode", [decode_module(dtype="bf16", splits=1)], MAIN["batch"],
                         MAIN["context"], "decode b64 c4096 bf16", False, "decode")

    # -- phase 4: prefill ------------------------------------------------------------
    def prefill():
        F = torch.nn.functional
        sdpa_kernel, SDPBackend = sdpa_backends()
        ceiling = res.data["ceilings"].get("gemm_f16_TFLOPs")
        measured = {}  # (sequences, splits) -> (tokens, seconds per call)
        for p in PREFILL:
            if left("prefill") < 10:
                res.data["skipped"].append("%s: out of time" % p["name"])
                continue
            m0 = kernels[decode_module(splits=1)].entry
            case = build_case(m0, [(p["tokens"], p["tokens"])] * p["seqs"])
            flops = prefill_flops(case)
            gen = torch.Generator(device=dev)
            gen.manual_seed(case["seed"])
            rows, ref, scale = reference(case, max_rows=256, gen=gen)
            B, n, Hq, H, D = p["seqs"], p["tokens"], 32, 8, 128
            qd = case["q"].view(B, n, Hq, D).transpose(1, 2)
            k, v = dense_kv(case)

            def to_rows(o):
                return o.transpose(1, 2).reshape(B * n, Hq, D)
            peers = {}
            peers["sdpa_gqa"] = peer("sdpa_gqa", lambda: F.scaled_dot_product_attention(
                qd, k, v, is_causal=True, scale=m0["scale"], enable_gqa=True), case, (rows, ref), to_rows)

            # Flash: with enable_gqa if this torch's flash takes it, else with the
            # KV heads repeated once (not timed) -- said so in the results.
            kr = vr = None
            try:
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    F.scaled_dot_product_attention(qd[:, :, :128], k[:, :, :128], v[:, :, :128],
                                                   is_causal=True, scale=m0["scale"], enable_gqa=True)
            except RuntimeError:
                kr, vr = k.repeat_interleave(Hq // H, 1), v.repeat_interleave(Hq // H, 1)

            def flash():
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    if kr is None:
                        return F.scaled_dot_product_attention(qd, k, v, is_causal=True,
                                                              scale=m0["scale"], enable_gqa=True)
                    return F.scaled_dot_product_attention(qd, kr, vr, is_causal=True, scale=m0["scale"])
            peers["sdpa_flash"] = peer("sdpa_flash", flash, case, (rows, ref), to_rows)
            if kr is not None:
                peers["sdpa_flash"]["note"] = ("flash rejected enable_gqa: KV heads repeated "
                                               "once, not timed")
            if flex() is not None and left("prefill") > 90:
                fa, cbm = flex()
                try:
                    bm = cbm(lambda b, h, qi, ki: qi >= ki, B=None, H=None, Q_LEN=n, KV_LEN=n, device=dev)
                    peers["flex_causal"] = peer("flex_causal", lambda: fa(
                        qd, k, v, block_mask=bm, scale=m0["scale"], enable_gqa=True), case, (rows, ref), to_rows)
                except Exception as e:
                    peers["flex_causal"] = dict(error=repr(e)[:200])
            del k, v, kr, vr
            # Every split count, then at one split the unswizzled kernel and
            # the other prefill tiles (A/B).
            variants = [(s, decode_module(splits=s), "") for s in PREFILL_SPLITS]
            variants.append((1, decode_module(splits=1) + "_noswizzle", " noswizzle"))
            variants.append((1, decode_module(splits=1) + "_lazy", " lazy rescale"))
            tiled = decode_module(splits=1) + "_tile"
            variants += [(1, mid, " tile" + mid[len(tiled):])
                         for mid in sorted(kernels) if mid.startswith(tiled)]
            # The warpgroup-MMA kernel (sm_90a), its default tile first.
            wgmma = decode_module(splits=1) + "_wgmma"
            variants += [(1, mid, " wgmma" + mid[len(wgmma):].replace("_", " "))
                         for mid in sorted(kernels) if mid.startswith(wgmma)]
            for s, mid, tag in variants:
                if mid not in kernels:
                    continue
                # Predict from the smaller prefill of the same batch and splits
                # (same CTA count; work grows with tokens^2). A 1 x 16384 with
                # one split would run ~10 s or more a call: never unpredicted.
                pred = None
                if (B, s, tag) in measured:
                    n0, t0 = measured[(B, s, tag)]
                    pred = t0 * (n / n0) ** 2
                if pred is None and n > 4096:
                    res.data["skipped"].append("%s splits %d: no smaller run to predict from" % (p["name"], s))
                    continue
                if pred is not None and (pred > MAX_CALL_S or pred * 12 > left("prefill")):
                    res.data["skipped"].append("%s splits %d: predicted %.2f s a call, %.0f s left" % (
                        p["name"], s, pred, left("prefill")))
                    log("prefill %s splits %d: skipped, predicted %.2f s a call" % (p["name"], s, pred))
                    continue
                rec = dict(config="%s s%d%s" % (p["name"], s, tag), module=mid, seqs=B, tokens=n,
                           splits=s, flops=flops, seed=case["seed"], peers=peers)
                try:
                    t = time_kvcc(mid, case, 0.5, 1)
                    rec.update(t)
                    chk = compare(case["out"], rows, ref, scale, case["m"])
                    rec.update(max_rel_err=chk["max_rel_err"])
                    rec["pass"] = chk["pass_numerics"]
                    used = t["kernel_ms"] or t["call_ms"]
                    rec["rate"] = flops / (used / 1e3) / 1e12
                    rec["ceiling"] = ceiling
                    rec["fraction"] = rec["rate"] / ceiling if ceiling else None
                    measured[(B, s, tag)] = (n, t["call_ms"] / 1e3)
                    log("prefill %-18s s%-2d%s kernel %s ms call %.1f ms %.1f TFLOP/s err %.1e %s | %s" % (
                        p["name"], s, tag, fmt(t["kernel_ms"]), t["call_ms"], rec["rate"],
                        chk["max_rel_err"], "PASS" if rec["pass"] else "FAIL",
                        ", ".join("%s %s" % (k2, fmt(v2.get("ms"))) for k2, v2 in peers.items())))
                except Exception as e:
                    rec["error"] = repr(e)
                    rec["pass"] = False
                    res.data["errors"].append("prefill %s: %s" % (rec["config"], traceback.format_exc()[-800:]))
                res.add("prefill", rec)
            del case
            torch.cuda.empty_cache()

    # -- phase 5: sweep ----------------------------------------------------------
    def sweep():
        for p in sweep_points():
            if left("sweep") < 8:
                res.data["skipped"].append("sweep %s b%d c%d kv%d page%d: out of time" % (
                    p["slice"], p["batch"], p["context"], p["kv_heads"], p["block_size"]))
                continue
            ids = sweep_ids(p)
            label = "sweep %s b%d c%d kv%d p%d" % (p["slice"], p["batch"], p["context"],
                                                  p["kv_heads"], p["block_size"])
            try:
                bench_decode("sweep", ids, p["batch"], p["context"], label, False, "sweep",
                             extra=dict(slice=p["slice"]))
            except Exception as e:
                res.data["errors"].append("%s: %s" % (label, traceback.format_exc()[-800:]))
                log("%s: ERROR %r" % (label, e))
                torch.cuda.empty_cache()

    # -- profile (bench/gpu/profile_device.sh runs this phase alone under ncu) -----
    def profile():
        """One call of each kernel Nsight Compute should see, next to its peer:
        kvcc's prefill (1 x 16384, causal) and SDPA's flash backend; kvcc's decode
        at the benchmark shape (GQA 4) and at GQA 8 with and without the
        tensor-core decode instance, and SDPA's default backend on the GQA 4
        shape. No timing and no check here (run the other phases for those)."""
        F = torch.nn.functional
        sdpa_kernel, SDPBackend = sdpa_backends()
        if decode_module(splits=1) not in kernels:
            log("profile: no module %s" % decode_module(splits=1))
            return
        m0 = kernels[decode_module(splits=1)].entry
        n = 16384
        case = build_case(m0, [(n, n)])
        qd = case["q"].view(1, n, 32, 128).transpose(1, 2)
        k, v = dense_kv(case)
        run_kvcc(kernels[decode_module(splits=1)], case)()
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            F.scaled_dot_product_attention(qd, k.repeat_interleave(4, 1), v.repeat_interleave(4, 1),
                                           is_causal=True, scale=m0["scale"])
        torch.cuda.synchronize()
        log("profile: prefill 1x%d (kvcc, SDPA flash)" % n)
        del case, k, v, qd
        for mid in (decode_module(splits=1), decode_module(4), decode_module(4) + "_notc"):
            if mid not in kernels:
                log("profile: no module %s" % mid)
                continue
            m = kernels[mid].entry
            case = build_case(m, [(MAIN["context"], 1)] * MAIN["batch"])
            run_kvcc(kernels[mid], case)()
            if mid == decode_module(splits=1):
                B, H, D = MAIN["batch"], m["kv_heads"], m["head_dim"]
                kd, vd = dense_kv(case)
                F.scaled_dot_product_attention(case["q"].view(B, 1, -1, D).transpose(1, 2), kd, vd,
                                               scale=m["scale"], enable_gqa=True)
                del kd, vd
            torch.cuda.synchronize()
            log("profile: decode b%d c%d %s" % (MAIN["batch"], MAIN["context"], mid))
            del case
        torch.cuda.empty_cache()

    phases = dict(ceilings=ceilings, correctness=correctness, decode=decode, prefill=prefill,
                  sweep=sweep, profile=profile)
    for name in args.phases.split(","):
        log("== phase %s (deadline t=%.0f s)" % (name, deadlines[name]))
        try:
            phases[name]()
        except Exception as e:
            res.data["errors"].append("phase %s: %s" % (name, traceback.format_exc()[-1500:]))
            log("phase %s: ERROR %r" % (name, e))
        res.save()
        write_markdown(res)
    plot(res)
    write_markdown(res)
    res.data["finished_s"] = time.time() - T0
    res.save()
    c = res.data["correctness"]
    bad = [r["id"] for r in c if r.get("pass") is False]
    bad += [r["config"] for k in ("decode", "prefill", "sweep") for r in res.data[k]
            if r.get("pass") is False]
    log("done in %.0f s: %d correctness configs (%d failed), %d decode, %d prefill, %d sweep rows" % (
        time.time() - T0, len(c), len(bad), len(res.data["decode"]), len(res.data["prefill"]),
        len(res.data["sweep"])))
    with open(os.path.join(res.out, "results.md")) as f:
        print(f.read(), flush=True)
    return 1 if bad else 0


def _cumsum(xs):
    s = 0
    for x in xs:
        s += x
        yield s


def plot(res):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        log("matplotlib missing: no plot")
        return
    rows = [r for r in res.data["sweep"] if r.get("rate") and r.get("slice") == "batch_context"]
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    ax = axes[0]
    for s in sorted(set(r["splits"] for r in rows)):
        for b in sorted(set(r["batch"] for r in rows)):
            pts = sorted((r["context"], r["rate"]) for r in rows if r["batch"] == b and r["splits"] == s)
            if pts:
                ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o",
                        linestyle="-" if s == 1 else "--",
                        label="batch %d, splits %s" % (b, split_label(s)))
    ceil = res.data["ceilings"].get("copy_GBps")
    if ceil:
        ax.axhline(ceil, color="k", linestyle=":", label="copy ceiling")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context")
    ax.set_ylabel("GB/s (kernel time)")
    ax.set_title("kvcc decode, 32/8 heads, d128, page 16, f16")
    ax.legend(fontsize=6)
    ax = axes[1]
    other = [r for r in res.data["sweep"] if r.get("rate") and r.get("slice") in ("page", "gqa")]
    labels = ["%s b%d c%d kv%d p%d %s" % (r["slice"], r["batch"], r["context"], r["kv_heads"],
                                         r["block_size"],
                                         r.get("variant") or "s" + split_label(r["splits"]))
              for r in other]
    ax.barh(range(len(other)), [r["rate"] for r in other])
    ax.set_yticks(range(len(other)))
    ax.set_yticklabels(labels, fontsize=6)
    if ceil:
        ax.axvline(ceil, color="k", linestyle=":")
    ax.set_xlabel("GB/s")
    ax.set_title("page size and GQA ratio")
    fig.tight_layout()
    fig.savefig(os.path.join(res.out, "decode_bandwidth.png"), dpi=110)
    log("wrote decode_bandwidth.png")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "device-out"))
    ap.add_argument("--kernels", default=os.path.join(ROOT, ".device", "kernels"))
    ap.add_argument("--runtime", default=os.path.join(ROOT, ".device", "libkvcc_cuda_runtime.so"))
    ap.add_argument("--budget", type=float, default=500.0, help="seconds for the whole run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--phases", default="ceilings,correctness,decode,prefill,sweep")
    ap.add_argument("--no-flex", action="store_true", help="skip FlexAttention (torch.compile)")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    unknown = [p for p in args.phases.split(",") if p not in PHASE_SHARES]
    if unknown:
        ap.error("unknown phase(s) %s; known: %s" % (",".join(unknown), ",".join(PHASE_SHARES)))
    index = load_index(args.kernels)
    if args.dry_run:
        return dry_run(args, index, args.kernels)
    os.makedirs(args.out, exist_ok=True)
    return gpu_run(args, index, args.kernels)


if __name__ == "__main__":
    sys.exit(main())
