#!/usr/bin/env python3
"""On the GPU machine: CUDA model.so artifacts against transformers.

For each artifact under .device/models/ (compiled HERE by
`python3 bench/gpu/make_kernels.py --models`, from a Hugging Face layout, so
RoPE is the neox form transformers uses), this script builds the matching
transformers model with random weights ON THE DEVICE (the geometry comes from
manifest.json's "model"), binds its weights into the artifact's flat arena on
the GPU and calls kvcc_step through ctypes exactly as ModelABI.h specifies,
with its own paged KV cache (NaN-poisoned, pages shuffled):

  logits  ragged steps (a prefill, a chunked prefill over a cached prefix,
          decode tokens of three sequences, a 300-token context) against the
          float64 transformers forward of each full sequence: relative error
          (max |diff| / max |ref|) <= --tolerance (f32 model; cuBLAS in f32);
          a --dtype=f16|bf16 model against the float64 forward of its own
          rounded weights, <= 1e-2 (f16, the issue's bound) or 8e-2 (bf16),
          next to transformers running the same model in that dtype;
  greedy  --greedy tokens decoded through the artifact against greedy decoding
          with the float64 reference (the first divergence is reported with
          the reference's top-2 margin there: random models have near ties);
  timing  decode steps (batch 1 and 16 at a 512-token context), ms per step
          and tokens/s, next to transformers' own decode step in the
          model's dtype (its
          default attention, DynamicCache cropped back after each step)
          measured in the same run;
  graphs  the same decode steps as the executor runs them (inside
          kvcc_cuda_begin_step / end_step, arguments in fixed device buffers,
          block tables padded to a fixed width), launch by launch and replayed
          from one CUDA graph (kvcc_cuda_begin_capture, as kvcc-run
          --cuda-graphs): the logits of the two over 24 steps on two copies of
          one cache (max |diff|, expected 0), and ms per step of each.

    python3 bench/gpu/check_model_device.py [--models .device/models] [--out DIR]

Exit 0 when every logits check passes. Results: DIR/model_check.json.
"""
import argparse
import copy
import ctypes
import json
import os
import sys
import time

import torch

from kernel_trace import kernel_events

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
from kvcc_ref.artifact import hf_name, schedule_step  # noqa: E402


def hf_model(spec, seed):
    import transformers as tf
    common = dict(vocab_size=spec["vocabSize"], hidden_size=spec["hiddenSize"],
                  intermediate_size=spec["intermediateSize"], num_hidden_layers=spec["numLayers"],
                  num_attention_heads=spec["numHeads"], num_key_value_heads=spec["numKVHeads"],
                  head_dim=spec["headDim"], max_position_embeddings=spec["maxContext"],
                  rms_norm_eps=spec["rmsEps"], rope_theta=spec["ropeTheta"], hidden_act="silu",
                  tie_word_embeddings=spec["tiedEmbeddings"], attention_dropout=0.0)
    arch = spec["arch"]
    if arch == "llama":
        cfg = tf.LlamaConfig(attention_bias=False, mlp_bias=False, **common)
        cls = tf.LlamaForCausalLM
    elif arch == "mistral":
        cfg = tf.MistralConfig(sliding_window=spec["slidingWindow"], **common)
        cls = tf.MistralForCausalLM
    elif arch == "qwen2":
        cfg = tf.Qwen2Config(use_sliding_window=False, **common)
        cls = tf.Qwen2ForCausalLM
    else:
        raise SystemExit("unknown arch " + arch)
    # transformers 5 keeps RoPE settings in rope_parameters; 4.x in rope_theta.
    rp = getattr(cfg, "rope_parameters", None)
    if isinstance(rp, dict):
        rp["rope_theta"] = spec["ropeTheta"]
    print("transformers %s %s: rope_theta %s" % (tf.__version__, cls.__name__,
          rp.get("rope_theta") if isinstance(rp, dict) else getattr(cfg, "rope_theta", None)), flush=True)
    torch.manual_seed(seed)
    model = cls(cfg).to(device="cuda", dtype=torch.float32).eval()
    with torch.no_grad():  # norms of 1 would hide a mixed-up norm weight
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    return model


def descriptor(t):
    rank = t.dim()
    fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p), ("offset", ctypes.c_int64),
              ("sizes", ctypes.c_int64 * rank), ("strides", ctypes.c_int64 * rank)]
    cls = type("MemRef%d" % rank, (ctypes.Structure,), {"_fields_": fields})
    return cls(t.data_ptr(), t.data_ptr(), 0, (ctypes.c_int64 * rank)(*t.shape),
               (ctypes.c_int64 * rank)(*t.stride()))


TORCH_DTYPES = dict(f32=torch.float32, f16=torch.float16, bf16=torch.bfloat16)
# The bound for f16; bf16 keeps 3 fewer mantissa bits (8x the unit
# roundoff), as python/check_compiled_model.py does.
HALF_TOLERANCE = dict(f16=1e-2, bf16=8e-2)


class CudaArtifact:
    def __init__(self, art_dir, runtime, model, num_pages, seed):
        with open(os.path.join(art_dir, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.rt = runtime
        self.lib = ctypes.CDLL(os.path.join(art_dir, "model.so"))
        err = self.rt.kvcc_cuda_last_error()
        if err:
            raise RuntimeError("loading the kernels: " + err.decode())
        self.step_fn = self.lib.kvcc_step
        self.step_fn.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        sd = model.state_dict()
        # The arena in weights_dtype (kvcc compile --dtype), rounded to nearest
        # even from f32 as kvcc-run's WeightArena does.
        self.weights_dtype = self.manifest["weights_dtype"]
        self.weights = torch.zeros(self.manifest["weights_size"], dtype=TORCH_DTYPES[self.weights_dtype],
                                   device="cuda")
        for w in self.manifest["weights"]:
            t = sd[hf_name(w["name"])].float().flatten().to(self.weights.dtype)
            assert list(sd[hf_name(w["name"])].shape) == w["shape"], w["name"]
            self.weights[w["offset"]:w["offset"] + t.numel()] = t
        c = self.manifest["cache"]
        self.block = c["block_size"]
        self.cache_dtype = c["dtype"]
        dt = TORCH_DTYPES[c["dtype"]]
        self.caches = [torch.full((num_pages, 2, self.block, c["kv_heads"], c["head_dim"]), float("nan"),
                                  dtype=dt, device="cuda") for _ in range(c["layers"])]
        self.vocab = self.manifest["model"]["vocabSize"]
        g = torch.Generator().manual_seed(seed)
        self.free = torch.randperm(num_pages, generator=g).tolist()

    def step(self, seqs):
        tokens, positions, slots, starts, lens, rows, tables = schedule_step(
            seqs, self.block, self.free.pop)
        tables = torch.tensor(tables, dtype=torch.int32)
        dev = lambda v, dt: torch.tensor(v, dtype=dt, device="cuda")  # noqa: E731
        arrays = [dev(tokens, torch.int32), dev(positions, torch.int64), dev(slots, torch.int64),
                  dev(starts, torch.int32), dev(lens, torch.int32), tables.cuda(), dev(rows, torch.int64),
                  self.weights] + self.caches
        logits = torch.full((len(seqs), self.vocab), float("nan"), device="cuda")
        greedy = torch.full((len(seqs),), -1, dtype=torch.int32, device="cuda")
        greedy_logit = torch.full((len(seqs),), float("nan"), device="cuda")
        arrays += [logits, greedy, greedy_logit]
        torch.cuda.synchronize()
        descs = [descriptor(a) for a in arrays]
        args = (ctypes.c_void_p * len(descs))(*[ctypes.addressof(d) for d in descs])
        self.step_fn(args)
        torch.cuda.synchronize()
        err = self.rt.kvcc_cuda_last_error()
        if err:
            raise RuntimeError("kvcc_step: " + err.decode())
        # kvc_argmax's picks must be torch's argmax (first maximum) of the
        # logits the same step wrote, bit for bit.
        want = logits.argmax(dim=1).int()
        if not torch.equal(greedy, want) or not torch.equal(greedy_logit, logits.gather(1, want.long()[:, None])[:, 0]):
            raise RuntimeError("kvc_argmax: picks %s, torch.argmax %s" % (greedy.tolist(), want.tolist()))
        self.last_greedy = greedy
        return logits


def new_seq():
    return {"pages": [], "len": 0, "new": [], "all": []}


def check_model(name, art_dir, runtime, args, report):
    with open(os.path.join(art_dir, "manifest.json")) as f:
        spec = json.load(f)["model"]
    model = hf_model(spec, args.seed)
    art = CudaArtifact(art_dir, runtime, model, num_pages=args.pages, seed=args.seed)
    wdt = art.weights_dtype
    # A 16-bit model is checked against the float64 forward pass of its own
    # rounded weights; transformers runs the same model in that dtype as the
    # peer (its logits error against the same reference is reported too).
    ref = copy.deepcopy(model).to(TORCH_DTYPES[wdt]).double()
    peer = model if wdt == "f32" else copy.deepcopy(model).to(TORCH_DTYPES[wdt])
    vocab = art.vocab
    g = torch.Generator().manual_seed(args.seed)
    rand = lambda n: torch.randint(0, vocab, (n,), generator=g).tolist()  # noqa: E731

    @torch.no_grad()
    def ref_last(tokens):
        return ref(torch.tensor([tokens], device="cuda")).logits[0, -1]

    out = {"model": name, "spec": spec}
    # Logits over ragged steps.
    prompts = [rand(23), rand(5), rand(11), rand(300)]
    seqs = [new_seq() for _ in prompts]
    plan = [[(0, prompts[0]), (1, prompts[1][:3]), (3, prompts[3])],
            [(1, prompts[1][3:]), (0, rand(1)), (2, prompts[2])]]
    plan += [[(s, rand(1)) for s in (2, 0, 3, 1)] for _ in range(6)]
    worst, peer_worst = 0.0, 0.0
    for step in plan:
        batch = []
        for sid, toks in step:
            seqs[sid]["new"] = toks
            seqs[sid]["all"] += toks
            batch.append(seqs[sid])
        logits = art.step(batch).double()
        for row, (sid, _) in enumerate(step):
            expect = ref_last(seqs[sid]["all"])
            err = float((logits[row] - expect).abs().max() / expect.abs().max())
            worst = max(worst, err) if err == err else float("inf")
            if wdt != "f32":
                with torch.no_grad():
                    theirs = peer(torch.tensor([seqs[sid]["all"]], device="cuda")).logits[0, -1].double()
                peer_worst = max(peer_worst, float((theirs - expect).abs().max() / expect.abs().max()))
    # A 16-bit cache rounds every key and value (and the tensor-core prefill
    # kernel the queries and probabilities): the f16 bound of the issue.
    tol = args.tolerance if art.cache_dtype == "f32" else max(args.tolerance, 1e-2)
    if wdt != "f32":
        tol = max(tol, HALF_TOLERANCE[wdt])
    out.update(cache_dtype=art.cache_dtype, weights_dtype=wdt, logits_worst_rel_err=worst,
               logits_ok=worst <= tol, tolerance=tol)
    if wdt != "f32":
        out["transformers_%s_worst_rel_err" % wdt] = peer_worst
    print("%s: logits over %d ragged steps (%s weights, %s cache): worst relative error %.3g (tolerance %g) %s%s"
          % (name, len(plan), wdt, art.cache_dtype, worst, tol, "OK" if out["logits_ok"] else "FAIL",
             "" if wdt == "f32" else "; transformers in %s: %.3g" % (wdt, peer_worst)),
          flush=True)

    # Greedy decoding: artifact vs float64 reference.
    s = new_seq()
    prompt = rand(12)
    s["new"], toks, ref_toks = prompt, [], []
    for _ in range(args.greedy):
        art.step([s])
        toks.append(int(art.last_greedy[0]))  # the model's own argmax, on the GPU
        s["new"] = [toks[-1]]
    context = list(prompt)
    first_diff, margin = None, None
    for i in range(args.greedy):
        l = ref_last(context)
        top = torch.topk(l, 2)
        ref_toks.append(int(top.indices[0]))
        if first_diff is None and ref_toks[-1] != toks[i]:
            first_diff, margin = i, float(top.values[0] - top.values[1])
        context.append(toks[i])  # follow the artifact's tokens to compare step by step
    out.update(greedy_tokens=toks, greedy_ref=ref_toks, greedy_first_divergence=first_diff,
               greedy_margin_at_divergence=margin)
    print("%s: greedy %d tokens: %s" % (name, args.greedy, "identical to the float64 reference"
          if first_diff is None else "first divergence at %d (reference top-2 margin %.3g)" % (first_diff, margin)),
          flush=True)

    # Decode timing, next to transformers' own decode step.
    if args.timing:
        out["timing"] = []
        for batch, ctx in ((1, 512), (16, 512)):
            # Room for the prompt and the 14 decode tokens after it (the tiny
            # models' pages hold 1 and 3 tokens).
            art2 = CudaArtifact(art_dir, runtime, model, num_pages=batch * ((ctx + 16) // art.block + 2),
                                seed=1)
            ss = [new_seq() for _ in range(batch)]
            for q in ss:
                q["new"] = rand(ctx)
            art2.step(ss)
            for q in ss:
                q["new"] = rand(1)
            for _ in range(3):
                art2.step(ss)
            n = 10
            t0 = time.perf_counter()
            for _ in range(n):
                art2.step(ss)
            kv_ms = (time.perf_counter() - t0) / n * 1e3
            with torch.no_grad():
                ids = torch.randint(0, vocab, (batch, ctx), device="cuda")
                o = peer(ids, use_cache=True)
                past, nxt = o.past_key_values, torch.randint(0, vocab, (batch, 1), device="cuda")

                def hf_step():  # one decode step, then back to the 512-token cache
                    peer(nxt, past_key_values=past, use_cache=True)
                    past.crop(ctx)
                try:
                    for _ in range(3):
                        hf_step()
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    for _ in range(n):
                        hf_step()
                    torch.cuda.synchronize()
                    hf_ms = (time.perf_counter() - t0) / n * 1e3
                except Exception as e:  # a sliding-window cache past its window cannot crop
                    print("%s: transformers' decode step not timed: %s" % (name, e), flush=True)
                    hf_ms = float("nan")
            row = dict(batch=batch, context=ctx, kvcc_ms_per_step=kv_ms, kvcc_tok_s=batch / kv_ms * 1e3,
                       transformers_ms_per_step=hf_ms)
            out["timing"].append(row)
            print("%s: decode batch %d at context %d: kvcc %.2f ms/step (%.0f tok/s), transformers %s "
                  "%.2f ms/step" % (name, batch, ctx, kv_ms, batch / kv_ms * 1e3, wdt, hf_ms),
                  flush=True)
            del art2
    if args.graphs:
        out["graphs"] = []
        for batch in (1, 16):
            row = graph_check(art_dir, runtime, model, batch, 512, args.seed)
            out["graphs"].append(row)
            print("%s: decode batch %d at context 512 in a step: launch by launch %.3f ms/step, CUDA graph "
                  "%.3f ms/step (%.2fx); logits max |diff| %.3g over %d steps %s"
                  % (name, batch, row["eager_ms_per_step"], row["graph_ms_per_step"],
                     row["eager_ms_per_step"] / row["graph_ms_per_step"], row["max_abs_diff"], row["steps"],
                     "OK" if row["ok"] else "FAIL"), flush=True)
            k = row.get("kernels")
            if k:
                print("%s: batch %d step from the graph: %.0f kernels, GPU busy %.0f us; heaviest: %s"
                      % (name, batch, k["kernels_per_step"], k["busy_us_per_step"],
                         "; ".join("%s x%.0f %.0f us" % r for r in k["top"][:6])), flush=True)
            out["logits_ok"] &= row["ok"]
    report.append(out)
    return out["logits_ok"]


class DecodeBuffers:
    """The arguments of decode steps at fixed device addresses (what the
    executor's graphs need): batch `batch`, block tables `width` pages wide."""

    def __init__(self, art, batch, width):
        cuda = lambda n, dt: torch.zeros(n, dtype=dt, device="cuda")  # noqa: E731
        self.art = art
        self.tokens, self.positions, self.slots = cuda(batch, torch.int32), cuda(batch, torch.int64), \
            cuda(batch, torch.int64)
        self.starts, self.lens = cuda(batch + 1, torch.int32), cuda(batch, torch.int32)
        self.tables, self.rows = torch.zeros(batch, width, dtype=torch.int32, device="cuda"), \
            cuda(batch, torch.int64)
        self.logits = torch.zeros(batch, art.vocab, device="cuda")
        self.greedy, self.greedy_logit = cuda(batch, torch.int32), cuda(batch, torch.float32)
        arrays = [self.tokens, self.positions, self.slots, self.starts, self.lens, self.tables, self.rows,
                  art.weights] + art.caches + [self.logits, self.greedy, self.greedy_logit]
        self.descs = [descriptor(a) for a in arrays]
        self.args = (ctypes.c_void_p * len(self.descs))(*[ctypes.addressof(d) for d in self.descs])
        self.width = width

    def fill(self, seqs):
        """Schedules one decode token per sequence into the buffers (queued on
        torch's stream, which kvcc_cuda_begin_step orders the step after)."""
        tokens, positions, slots, starts, lens, rows, tables = schedule_step(seqs, self.art.block,
                                                                              self.art.free.pop)
        tables = [t + [0] * (self.width - len(t)) for t in tables]
        for buf, v in ((self.tokens, tokens), (self.positions, positions), (self.slots, slots),
                       (self.starts, starts), (self.lens, lens), (self.rows, rows), (self.tables, tables)):
            buf.copy_(torch.tensor(v, dtype=buf.dtype), non_blocking=False)


def graph_check(art_dir, runtime, model, batch, ctx, seed, steps=24):
    """Decode steps launch by launch and from a CUDA graph, on two copies of
    one cache: equal logits, and the time of each."""
    rt = runtime
    rt.kvcc_cuda_begin_step.restype = ctypes.c_void_p
    g = torch.Generator().manual_seed(seed + batch)
    with open(os.path.join(art_dir, "manifest.json")) as f:
        block = json.load(f)["cache"]["block_size"]
    width = (ctx + steps + block - 1) // block + 1  # fixed, one page more than a sequence needs
    arts, bufs, seqss = [], [], []
    for _ in range(2):  # identical caches: same pages, same prefill
        a = CudaArtifact(art_dir, rt, model, num_pages=batch * (width + 2), seed=seed)
        ss = [new_seq() for _ in range(batch)]
        gp = torch.Generator().manual_seed(seed)
        for q in ss:
            q["new"] = torch.randint(0, a.vocab, (ctx,), generator=gp).tolist()
        a.step(ss)
        arts.append(a)
        seqss.append(ss)
        bufs.append(DecodeBuffers(a, batch, width))
    exec_ = ctypes.c_void_p()

    def run(i, graph):
        torch.cuda.synchronize()
        if not rt.kvcc_cuda_begin_step():
            raise RuntimeError("kvcc_cuda_begin_step: " + rt.kvcc_cuda_last_error().decode())
        try:
            if graph and not exec_.value:
                if rt.kvcc_cuda_begin_capture() == 0:
                    arts[i].step_fn(bufs[i].args)
                    rt.kvcc_cuda_end_capture(ctypes.byref(exec_))
            if graph:
                if exec_.value:
                    rt.kvcc_cuda_launch_graph(exec_)
            else:
                arts[i].step_fn(bufs[i].args)
        finally:
            # Closes the step (abandoning a capture left open) whatever failed.
            ended = rt.kvcc_cuda_end_step() == 0
        if not ended:
            err = rt.kvcc_cuda_last_error().decode()
            rt.kvcc_cuda_clear_error()  # the next model starts clean
            raise RuntimeError(("capturing or replaying the step: " if graph else "the step: ") + err)

    worst = 0.0
    for t in range(steps):
        new = torch.randint(0, arts[0].vocab, (batch,), generator=g).tolist()
        for i, graph in ((0, False), (1, True)):
            for q, tok in zip(seqss[i], new):
                q["new"] = [tok]
            bufs[i].fill(seqss[i])
            run(i, graph)
        worst = max(worst, float((bufs[0].logits - bufs[1].logits).abs().max()))
    # Timing: the same step again and again (positions do not move: the cache
    # row of the last token is rewritten), on the host as the executor does.
    times = {}
    for i, graph in ((0, False), (1, True)):
        for _ in range(3):
            run(i, graph)
        torch.cuda.synchronize()
        n = 50
        t0 = time.perf_counter()
        for _ in range(n):
            run(i, graph)
        times[graph] = (time.perf_counter() - t0) / n * 1e3
    kernels = profile_step(lambda: run(1, True))
    rt.kvcc_cuda_destroy_graph(exec_)
    ok = worst == worst and worst <= 1e-5
    return dict(batch=batch, context=ctx, steps=steps, max_abs_diff=worst, ok=ok,
                eager_ms_per_step=times[False], graph_ms_per_step=times[True], kernels=kernels)


def profile_step(step, iters=5):
    """Where a step's GPU time goes: every kernel of `iters` steps by CUPTI
    (torch.profiler), summed per name and divided by `iters`: [(name, calls,
    us)] heaviest first, and the busy time of a step. A measurement aid: None
    if the profiler fails."""
    try:
        by_name = {}
        for e in kernel_events(step, iters):
            calls, us = by_name.get(e["name"], (0, 0.0))
            by_name[e["name"]] = (calls + 1, us + e["dur"])
        top = sorted(((n[:80], c / iters, us / iters) for n, (c, us) in by_name.items()), key=lambda r: -r[2])
        return dict(busy_us_per_step=sum(r[2] for r in top), kernels_per_step=sum(r[1] for r in top),
                    top=top[:10])
    except Exception as e:  # noqa: BLE001
        print("profile_step: %r" % e, flush=True)
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=os.path.join(ROOT, ".device", "models"))
    ap.add_argument("--runtime", default=os.path.join(ROOT, ".device", "libkvcc_cuda_runtime.so"))
    ap.add_argument("--out", default=os.environ.get("OUT", "device-out"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pages", type=int, default=512)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--greedy", type=int, default=24)
    ap.add_argument("--no-timing", dest="timing", action="store_false")
    ap.add_argument("--no-graphs", dest="graphs", action="store_false")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.init()
    if not os.environ.get("KVCC_LIBCUBLAS"):
        # The cuBLAS torch loaded (a pip wheel's, off the loader's path) also
        # serves model.so's GEMMs: force it in, then point the runtime at it.
        torch.ones(8, 8, device="cuda") @ torch.ones(8, 8, device="cuda")
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "/libcublas.so" in line})
        if libs:
            os.environ["KVCC_LIBCUBLAS"] = libs[0]
    print("cuBLAS for model.so:", os.environ.get("KVCC_LIBCUBLAS", "(runtime search)"), flush=True)
    runtime = ctypes.CDLL(a.runtime, mode=ctypes.RTLD_GLOBAL)
    runtime.kvcc_cuda_last_error.restype = ctypes.c_char_p
    if runtime.kvcc_cuda_init(0) != 0:
        raise SystemExit("kvcc_cuda_init: " + runtime.kvcc_cuda_last_error().decode())
    runtime.kvcc_cuda_set_caching(1)  # as the executor runs model.so
    os.makedirs(a.out, exist_ok=True)
    report, ok = [], True
    # Small models first, then the f16 SmolLM2 shape (the end-to-end
    # f16 check), then the others; the report is rewritten after each model
    # so a run cut short by its time limit still leaves what it checked.
    order = sorted(os.listdir(a.models), key=lambda n: (not n.startswith("tiny"), not n.endswith("-f16"), n))
    for name in order:
        d = os.path.join(a.models, name)
        if not os.path.isfile(os.path.join(d, "model.so")):
            continue
        try:
            ok &= check_model(name, d, runtime, a, report)
        except Exception as e:  # keep going: one model's failure must not hide the others
            print("%s: FAIL: %s" % (name, e), flush=True)
            report.append({"model": name, "error": str(e)})
            ok = False
        with open(os.path.join(a.out, "model_check.json"), "w") as f:
            json.dump(report, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
