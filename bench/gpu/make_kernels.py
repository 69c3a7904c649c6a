#!/usr/bin/env python3
"""Builds the CUDA kernels that bench/gpu/run_device.py runs on the GPU machine.

Runs HERE (where kvcc is built), never on the device: the compiler is not
installed there. Writes MLIR modules of kvc ops, compiles each with

    build/bin/kvcc build M.mlir --target=cuda --gpu-arch=sm_90 -o M.so

into .device/kernels/, writes .device/kernels/index.json (module, function,
argument order and roles, static parameters) and copies the runtime
(build/lib/libkvcc_cuda_runtime.so) to .device/. `.device/` is listed in
.git/info/exclude (not .gitignore) so the device tool carries it only when a
call names it in `carry`.

    python3 bench/gpu/make_kernels.py [--arch sm_90] [--only REGEX] [--list]
                                      [--models | --models-only]

--models also compiles whole models with `kvcc compile --target=cuda` into
.device/models/NAME/ (model.so + manifest.json; bench/gpu/check_model_device.py
checks them against transformers on the device): a SmolLM2-135M-shaped llama
(30 layers, 576 hidden, 9/3 heads, d64, vocab 49152, tied), a qwen2 (q/k/v
bias, page 3) and a mistral (sliding window 8, page 1). Their Hugging Face
directories are written to a temporary directory (random weights; only the
geometry matters to the artifact) and removed.

Module families (index.json "purpose"):
  correctness  the CPU numerics grid on the GPU (GQA 1/2/4/8, MQA, head_dim
               64/128/256, pages 1/3/16/64/256, windows, soft-cap, splits,
               f16/bf16/f32, token- and head-major, append+attention in one
               function, attention only, rope+append+attention)
  decode       batch 64 x context 4096, 32/8 heads, d128, page 16, f16:
               num_splits 1, 2, 4, 8 (and 16, 32 for small batches / prefill),
               and "sauto", the per-call plan of a model's step (max_splits)
  sweep        page sizes 1/16/64/256 and GQA ratios 1/4/8 (splits 1, 16 and
               the per-call plan);
               shapes are dynamic in batch and context, so one module per
               (heads, head_dim, page, splits, dtype) serves every size
  prefill      uses the decode modules (causal, 32/8, d128): multi-token
               chunks go to the tensor-core prefill kernel in the same module
  prefill_ab   the same module built with other prefill-kernel options: no
               shared-memory swizzle, the tiles of PREFILL_TILES
               (--gpu-prefill-tile) and the lazy O rescale
               (--gpu-prefill-lazy-rescale), timed next to the default
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KVCC = os.path.join(ROOT, "build", "bin", "kvcc")
KVCC_RUN = os.path.join(ROOT, "build", "bin", "kvcc-run")
RUNTIME = os.path.join(ROOT, "build", "lib", "libkvcc_cuda_runtime.so")
DEVICE = os.path.join(ROOT, ".device")
KERNELS = os.path.join(DEVICE, "kernels")
SIZE_LIMIT = 64 << 20  # the device tool's working-tree limit (all carried paths)

# The 7 + 2 sequences of the correctness batch: (context after the step, new
# tokens). Full prefills, decode tokens, chunked prefills over a cached
# prefix, a one-token sequence, contexts longer than one 256-token page.
CORRECTNESS_SEQS = [(37, 37), (50, 1), (70, 13), (1, 1), (300, 1), (9, 4),
                    (260, 260), (1500, 1), (700, 64)]
# A decode step of the same modules (one new token a sequence): where a split
# plan applies (a call with a prefill chunk runs one split).
CORRECTNESS_DECODE_SEQS = [(1, 1), (37, 1), (300, 1), (1500, 1), (5000, 1)]


def cfg(ident, purpose, qh, kvh, d, bs, dtype="f16", window=0, splits=0,
        softcap=0.0, causal=True, kind="append_attn", layout="token_major",
        rope=None, cache_dtype=None, flags=()):
    """dtype: q, k, v and the output; cache_dtype (default: dtype) the pool's,
    as an f32 model compiled with --kv-cache-dtype=f16 has them; splits: N >= 2
    a fixed num_splits, 1 never split (--gpu-max-splits=1), 0 a plan per call
    (max_splits, as a model's step function has it); flags: extra `kvcc build`
    options."""
    if splits == 1:
        flags = list(flags) + ["--gpu-max-splits=1"]
    return dict(id=ident, purpose=purpose, q_heads=qh, kv_heads=kvh,
                head_dim=d, block_size=bs, dtype=dtype,
                cache_dtype=cache_dtype or dtype, flags=list(flags), window=window,
                splits=splits, softcap=softcap, causal=causal, kind=kind,
                layout=layout, rope=rope, scale=1.0 / math.sqrt(d))


def correctness_grid():
    g = []
    add = lambda ident, *a, **k: g.append(cfg(ident, "correctness", *a, **k))
    # GQA ratios 1, 2, 4, 8 and MQA, head_dim 64, across page sizes.
    add("c_mha_d64_b16", 4, 4, 64, 16)
    add("c_gqa2_d64_b3", 8, 4, 64, 3, dtype="bf16")
    add("c_gqa4_d64_b1", 8, 2, 64, 1)
    add("c_gqa8_d64_b64", 16, 2, 64, 64, dtype="bf16")
    add("c_mqa_d64_b256", 8, 1, 64, 256)
    # head_dim 128 (and 256).
    add("c_gqa4_d128_b16", 8, 2, 128, 16, dtype="bf16")
    add("c_mqa_d128_b3", 4, 1, 128, 3)
    add("c_mqa16_d128_b16", 16, 1, 128, 16, dtype="bf16")
    add("c_gqa8_d256_b16", 8, 1, 256, 16)
    # Sliding window, soft-cap, split-KV and their mix; non-causal.
    add("c_win8_d64_b16", 8, 2, 64, 16, window=8)
    add("c_win40_s3_d64_b3", 8, 2, 64, 3, window=40, splits=3, dtype="bf16")
    add("c_s5_d64_b1", 4, 4, 64, 1, splits=5)
    add("c_cap5_s4_d128_b64", 8, 1, 128, 64, splits=4, softcap=5.0, dtype="bf16")
    add("c_full_d64_b16", 9, 3, 64, 16, causal=False)
    add("c_s2_d64_b16", 8, 2, 64, 16, splits=2)
    add("c_win30_d128_b256", 8, 8, 128, 256, window=30)
    add("c_cap30_win100_s8_d128_b64", 32, 4, 128, 64, window=100, splits=8,
        softcap=30.0)
    add("c_headmajor_s2_d128_b16", 8, 2, 128, 16, splits=2, layout="head_major")
    add("c_f32_d64_b16", 8, 2, 64, 16, dtype="f32", splits=2)
    # An f32 model over half-precision caches (kvcc compile --kv-cache-dtype):
    # the append rounds, the decode kernel widens, the tensor-core prefill
    # kernel rounds the f32 queries while staging them (GQA 3, SmolLM2's).
    add("c_f32q_f16cache_gqa3_d64_b16", 9, 3, 64, 16, dtype="f32", cache_dtype="f16")
    add("c_f32q_f16cache_s4_d128_b1", 8, 2, 128, 1, dtype="f32", cache_dtype="f16", splits=4)
    add("c_f32q_bf16cache_d64_b3", 8, 2, 64, 3, dtype="f32", cache_dtype="bf16")
    # Attention only (the cache already holds every token), bench shapes.
    add("c_attn_q32kv8_d128_b16_s4", 32, 8, 128, 16, splits=4, kind="attn")
    add("c_attn_q32kv8_d128_b16_s1_bf16", 32, 8, 128, 16, dtype="bf16", kind="attn")
    add("c_attn_q32kv32_d128_b1_s16", 32, 32, 128, 1, splits=16, kind="attn")
    # rope + append + attention (test/Target/Inputs/gqa_decode_layer.mlir).
    add("c_rope_neox_q32kv8_d128_b16_s4", 32, 8, 128, 16, splits=4,
        kind="rope_append_attn", rope=dict(style="neox", rotary_dim=128, theta=5.0e5))
    add("c_rope_gptj_partial_d64_b3", 8, 2, 64, 3, dtype="bf16",
        kind="rope_append_attn", rope=dict(style="gptj", rotary_dim=32, theta=1.0e4))
    # Prefill tiles other than the default (kvcc --gpu-prefill-tile; the
    # default at d128, 128x32, is in every d128 module above): one or two
    # 16-row MMA tiles a warp, dynamic shared memory above 48 KiB.
    add("c_tile64x32_gqa4_d128_b16", 8, 2, 128, 16, flags=["--gpu-prefill-tile=64x32"])
    add("c_tile64x64_win40_d128_b3_bf16", 8, 2, 128, 3, window=40, dtype="bf16",
        flags=["--gpu-prefill-tile=64x64"])
    add("c_tile128x64_gqa3_d64_b1_bf16", 9, 3, 64, 1, dtype="bf16",
        flags=["--gpu-prefill-tile=128x64"])
    add("c_tile128x16_cap5_d128_b64", 8, 1, 128, 64, softcap=5.0,
        flags=["--gpu-prefill-tile=128x16"])
    # The prefill kernel's lazy O rescale (kvcc --gpu-prefill-lazy-rescale, an
    # A/B option): weights up to 2^8 between rescales, the same output.
    add("c_lazy_gqa4_d128_b16", 8, 2, 128, 16, flags=["--gpu-prefill-lazy-rescale"])
    add("c_lazy_cap30_win40_d64_b3_bf16", 8, 2, 64, 3, window=40, softcap=30.0, dtype="bf16",
        flags=["--gpu-prefill-lazy-rescale"])
    # The prefill kernel on Hopper's warpgroup MMA (kvcc --gpu-prefill-wgmma,
    # built for sm_90a): the default 128x128 tile (two warpgroups), one
    # warpgroup of 64 rows, an f32 query staged into an f16 cache's tile,
    # no causal mask; P·V overlapped with the next softmax (the default) and
    # not (--gpu-prefill-wgmma-overlap=false).
    add("c_wgmma_gqa4_d128_b16", 8, 2, 128, 16, flags=["--gpu-prefill-wgmma"])
    add("c_wgmma_serial_gqa4_d128_b16", 8, 2, 128, 16,
        flags=["--gpu-prefill-wgmma", "--gpu-prefill-wgmma-overlap=false"])
    add("c_wgmma_tile64x64_cap30_win100_d64_b3_bf16", 8, 2, 64, 3, window=100, softcap=30.0,
        dtype="bf16", flags=["--gpu-prefill-wgmma", "--gpu-prefill-tile=64x64"])
    # 64x64 at head_dim 128: one warpgroup, 97.5 KiB of shared memory and 168
    # registers, so two CTAs share an SM (bench_modules says why).
    add("c_wgmma_tile64x64_gqa4_d128_b16", 8, 2, 128, 16,
        flags=["--gpu-prefill-wgmma", "--gpu-prefill-tile=64x64"])
    add("c_wgmma_f32q_f16cache_gqa3_d128_b1", 9, 3, 128, 1, dtype="f32", cache_dtype="f16",
        flags=["--gpu-prefill-wgmma"])
    add("c_wgmma_full_gqa8_d64_b256", 16, 2, 64, 256, causal=False,
        flags=["--gpu-prefill-wgmma", "--gpu-prefill-tile=128x64"])
    # ... with the lazy O rescale (its branch between the wait for P·V and
    # the next tile's MMAs), a window and page 3. The windows of these two
    # span more than one K/V tile of a row tile (a window of 40 never did).
    add("c_wgmma_lazy_win200_gqa4_d128_b3", 8, 2, 128, 3, window=200,
        flags=["--gpu-prefill-wgmma", "--gpu-prefill-lazy-rescale"])
    # GQA groups of 5+ heads decode on tensor cores (kvc_decode_mma_attention),
    # split or not: a module that never splits runs one CTA per (KV head,
    # sequence); with splits each CTA takes its share of the keys in whole
    # 64-key tiles and a call of several leaves partials for the combine (the
    # correctness "decode" step's 1-token context leaves all splits but one
    # empty). 6 heads (a group that does not fill the 8 rows of an MMA quad's
    # half), 16 heads at d64 with a soft-cap on pages of 1, windows over pages
    # of 3.
    add("c_tc_gqa8_d128_b16_s1", 32, 4, 128, 16, splits=1)
    add("c_tc_gqa6_win50_d128_b3_s1_bf16", 12, 2, 128, 3, window=50, splits=1, dtype="bf16")
    add("c_tc_gqa16_cap20_d64_b1_s1", 32, 2, 64, 1, softcap=20.0, splits=1)
    add("c_tc_gqa8_s4_d128_b16", 32, 4, 128, 16, splits=4)
    add("c_tc_gqa6_win70_s3_d128_b3_bf16", 12, 2, 128, 3, window=70, splits=3, dtype="bf16")
    # 32 heads: rows in two warps; no flash-decoding kernel, whose 66 KiB
    # merge buffer would reject this group, with or without a split plan.
    add("c_tc_mqa32_d128_b16_s1", 32, 1, 128, 16, splits=1)
    add("c_tc_mqa32_d128_b16_sauto", 32, 1, 128, 16)
    # Expected to be rejected (32 query heads per KV head x d256: no
    # tensor-core kernel at d256, and the flash-decoding kernel would need
    # 132 KiB of shared memory, above its 48 KiB): recorded, not fatal.
    add("c_mqa32_d256_b16_expect_reject", 32, 1, 256, 16)
    return g


# Non-default prefill tiles timed by run_device.py's prefill phase.
PREFILL_TILES = ("64x32", "64x64", "128x16", "128x64")


def split_tag(splits):
    """A module id's split suffix: s1, s16, ... or sauto (a plan per call)."""
    return "sauto" if splits == 0 else "s%d" % splits


def bench_modules():
    g = []
    # The decode benchmark shape, every split count and the per-call plan
    # (prefill uses 1, 16, 32).
    for s in (1, 2, 4, 8, 16, 32, 0):
        g.append(cfg("d_q32kv8_d128_b16_f16_" + split_tag(s), "decode", 32, 8, 128, 16,
                     splits=s, kind="attn"))
    g.append(cfg("d_q32kv8_d128_b16_bf16_s1", "decode", 32, 8, 128, 16,
                 dtype="bf16", splits=1, kind="attn"))
    # The prefill kernel without its shared-memory swizzle: what it buys,
    # measured next to d_q32kv8_d128_b16_f16_s1 in the prefill phase.
    g.append(cfg("d_q32kv8_d128_b16_f16_s1_noswizzle", "prefill_ab", 32, 8, 128, 16,
                 splits=1, kind="attn", flags=["--gpu-swizzle-shared-memory=false"]))
    # Prefill tiles (kvcc --gpu-prefill-tile) against the default 128x32, same
    # phase: 64x32 (one MMA tile a warp, 48 KiB, the default until 128 rows,
    # which reuse each K/V fragment for two MMA tiles, measured faster);
    # 64x64 halves the barriers and softmax passes; 128x16 fits 48 KiB;
    # 128x64 is FlashAttention-2's tile (ptxas: 60 bytes of spills at 255
    # registers, 96 KiB: one CTA an SM).
    for tile in PREFILL_TILES:
        g.append(cfg("d_q32kv8_d128_b16_f16_s1_tile" + tile, "prefill_ab", 32, 8, 128, 16,
                     splits=1, kind="attn", flags=["--gpu-prefill-tile=" + tile]))
    # The lazy O rescale (most K/V tiles skip the 128 multiplies a lane of
    # the O rescale), default tile.
    g.append(cfg("d_q32kv8_d128_b16_f16_s1_lazy", "prefill_ab", 32, 8, 128, 16,
                 splits=1, kind="attn", flags=["--gpu-prefill-lazy-rescale"]))
    # The prefill kernel on warpgroup MMA (sm_90a; --gpu-prefill-wgmma):
    # 128x128 (two warpgroups, the default), 64x128 (one) and 128x64, and
    # the default tile without the P·V / softmax overlap. 64x64 is the one
    # that fits two CTAs an SM (97.5 KiB of shared memory, 168 registers x
    # 128 threads; the others are held to one by shared memory or
    # registers): two warpgroups that never wait at each other's barriers,
    # so one's softmax can run beside the other's MMAs (the ping-pong
    # FlashAttention-3 schedules by hand), at 497 instructions a warp per
    # 64-key tile (SASS) against 661 per 128 keys for 128x128.
    for tile in ("", "64x128", "128x64", "64x64"):
        g.append(cfg("d_q32kv8_d128_b16_f16_s1_wgmma" + ("_tile" + tile if tile else ""),
                     "prefill_ab", 32, 8, 128, 16, splits=1, kind="attn",
                     flags=["--gpu-prefill-wgmma"] + (["--gpu-prefill-tile=" + tile] if tile else [])))
    g.append(cfg("d_q32kv8_d128_b16_f16_s1_wgmma_serial", "prefill_ab", 32, 8, 128, 16,
                 splits=1, kind="attn",
                 flags=["--gpu-prefill-wgmma", "--gpu-prefill-wgmma-overlap=false"]))
    # ... and with the lazy O rescale: the 64 multiplies a lane of O's rescale
    # sit between the wait for P·V and the next tile's MMAs, where the tensor
    # cores idle; most tiles skip them (SASS: 661 -> 605 instructions a warp
    # and tile outside the loop's branches).
    g.append(cfg("d_q32kv8_d128_b16_f16_s1_wgmma_lazy", "prefill_ab", 32, 8, 128, 16,
                 splits=1, kind="attn",
                 flags=["--gpu-prefill-wgmma", "--gpu-prefill-lazy-rescale"]))
    # Page-size sweep (GQA 4) and GQA sweep (page 16): splits 1 and 16, and
    # the per-call plan.
    for bs in (1, 64, 256):
        for s in (1, 16, 0):
            g.append(cfg("w_q32kv8_d128_b%d_f16_%s" % (bs, split_tag(s)), "sweep", 32, 8,
                         128, bs, splits=s, kind="attn"))
    for kvh in (32, 4):
        for s in (1, 16, 0):
            g.append(cfg("w_q32kv%d_d128_b16_f16_%s" % (kvh, split_tag(s)), "sweep", 32,
                         kvh, 128, 16, splits=s, kind="attn"))
    # GQA 8 without the tensor-core decode (the flash-decoding kernel, as
    # before it), at one split and with the per-call plan (small batches
    # split): the A/B of kvc_decode_mma_attention.
    for s in (1, 0):
        g.append(cfg("w_q32kv4_d128_b16_f16_%s_notc" % split_tag(s), "sweep", 32, 4, 128, 16,
                     splits=s, kind="attn", flags=["--gpu-decode-tensor-cores=false"]))
    return g


def wgmma_arch(arch):
    """The target of a --gpu-prefill-wgmma module: wgmma is sm_90a's (an sm_90a
    cubin runs on the H100 and H200)."""
    return "sm_90a" if arch.startswith("sm_90") else arch


def tensor(shape, t):
    return "tensor<" + "x".join(str(x) for x in shape) + "x" + t + ">"


def module_text(c):
    """One public function named after the module id (unique symbols)."""
    t, d = c["dtype"], c["head_dim"]
    q = tensor(["?", c["q_heads"], d], t)
    kv = tensor(["?", c["kv_heads"], d], t)
    layout = ", head_major" if c["layout"] == "head_major" else ""
    cache = "!kvc.paged_cache<%d, %d, %d, %s%s>" % (
        c["block_size"], c["kv_heads"], d, c["cache_dtype"], layout)
    attrs = ["scale = %.9e : f32" % c["scale"]]
    if c["causal"]:
        attrs.append("causal")
    if c["window"]:
        attrs.append("sliding_window = %d" % c["window"])
    if c["softcap"] > 0:
        attrs.append("softcap = %.9e : f32" % c["softcap"])
    if c["splits"] > 1:
        attrs.append("num_splits = %d" % c["splits"])
    attn_tail = ("context_lens(%%lens) query_start(%%starts) {%s} : %s, %s, "
                 "tensor<?x?xi32>, tensor<?xi32>, tensor<?xi32> -> %s"
                 % (", ".join(attrs), q, cache, q))
    fn = c["id"]
    kind = c["kind"]
    if kind == "attn":
        sig = ("%%q: %s, %%cache: %s, %%bt: tensor<?x?xi32>, %%lens: tensor<?xi32>, "
               "%%starts: tensor<?xi32>" % (q, cache))
        body = "  %%o = kvc.paged_attention %%q, %%cache[%%bt] %s\n" % attn_tail
    else:
        pos = ", %pos: tensor<?xi64>" if kind == "rope_append_attn" else ""
        sig = ("%%q: %s, %%k: %s, %%v: %s, %%slots: tensor<?xi64>%s, %%cache: %s, "
               "%%bt: tensor<?x?xi32>, %%lens: tensor<?xi32>, %%starts: tensor<?xi32>"
               % (q, kv, kv, pos, cache))
        body, qn, kn = "", "%q", "%k"
        if kind == "rope_append_attn":
            r = c["rope"]
            ra = "{rotary_dim = %d, theta = %.9e : f64}" % (r["rotary_dim"], r["theta"])
            body += ("  %%qr = kvc.rope %s %%q, %%pos %s : %s, tensor<?xi64> -> %s\n"
                     % (r["style"], ra, q, q))
            body += ("  %%kr = kvc.rope %s %%k, %%pos %s : %s, tensor<?xi64> -> %s\n"
                     % (r["style"], ra, kv, kv))
            qn, kn = "%qr", "%kr"
        body += ("  kvc.append %s, %%v into %%cache[%%slots] : %s, %s, tensor<?xi64> "
                 "into %s\n" % (kn, kv, kv, cache))
        body += "  %%o = kvc.paged_attention %s, %%cache[%%bt] %s\n" % (qn, attn_tail)
    return ("func.func @%s(%s) -> %s {\n%s  return %%o : %s\n}\n"
            % (fn, sig, q, body, q))


def arg_list(c):
    """Argument order and roles of kvcc_<id>(void **args); shapes use the
    symbols N (tokens of the step), B (sequences), P (pool pages) and M (block
    table width); the result is the trailing out-parameter."""
    t, d, hq, hk, bs = (c["dtype"], c["head_dim"], c["q_heads"], c["kv_heads"],
                        c["block_size"])
    cache_shape = (["P", 2, hk, bs, d] if c["layout"] == "head_major"
                   else ["P", 2, bs, hk, d])
    q = dict(name="q", role="query", dtype=t, shape=["N", hq, d])
    cache = dict(name="cache", role="kv_cache", dtype=c["cache_dtype"], shape=cache_shape)
    tail = [dict(name="block_tables", role="block_tables", dtype="i32", shape=["B", "M"]),
            dict(name="context_lens", role="context_lens", dtype="i32", shape=["B"]),
            dict(name="query_start", role="query_start", dtype="i32", shape=["B+1"])]
    out = dict(name="out", role="output", dtype=t, shape=["N", hq, d])
    if c["kind"] == "attn":
        return [q, cache] + tail + [out]
    args = [q, dict(name="k", role="new_keys", dtype=t, shape=["N", hk, d]),
            dict(name="v", role="new_values", dtype=t, shape=["N", hk, d]),
            dict(name="slots", role="slots", dtype="i64", shape=["N"])]
    if c["kind"] == "rope_append_attn":
        args.append(dict(name="positions", role="positions", dtype="i64", shape=["N"]))
    return args + [cache] + tail + [out]


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:
        return "unknown"


def ensure_excluded():
    path = os.path.join(ROOT, ".git", "info", "exclude")
    if not os.path.isdir(os.path.dirname(path)):
        return
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    if "/.device/" not in lines:
        with open(path, "a") as f:
            f.write("/.device/\n")
        print("added /.device/ to .git/info/exclude")


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(dirpath, f))
    return total


# name -> (make_tiny_model.py arguments, kvcc block size)
SMOLLM2_SHAPE = ["--arch", "llama", "--layers", "30", "--hidden", "576", "--heads", "9",
                 "--kv-heads", "3", "--head-dim", "64", "--ffn", "1536", "--vocab", "49152",
                 "--tied", "--rope-theta", "100000"]
# name: (make_tiny_model.py arguments, block size[, extra kvcc compile flags])
MODELS = {
    "smollm2-shaped": (SMOLLM2_SHAPE, 16),
    # The same model over an f16 KV cache: half the cache bytes, and prefill
    # chunks on the tensor-core kernel.
    "smollm2-shaped-f16kv": (SMOLLM2_SHAPE, 16, ["--kv-cache-dtype=f16"]),
    # An f16 model (weights, activations, cache): half the weight bytes a
    # decode step reads, the GEMMs on tensor cores through cublasGemmEx.
    "smollm2-shaped-f16": (SMOLLM2_SHAPE, 16, ["--dtype=f16"]),
    # The same with one CTA per (sequence, KV head): what the per-call split
    # plan of its decode steps buys (3 KV heads fill 3 of 132 SMs at batch 1).
    "smollm2-shaped-f16-nosplit": (SMOLLM2_SHAPE, 16, ["--dtype=f16", "--gpu-max-splits=1"]),
    "tiny-qwen2": (["--arch", "qwen2", "--layers", "3", "--hidden", "128", "--heads", "8",
                    "--kv-heads", "2", "--head-dim", "16", "--ffn", "256", "--vocab", "512"], 3),
    "tiny-mistral": (["--arch", "mistral", "--layers", "2", "--hidden", "128", "--heads", "4",
                      "--kv-heads", "1", "--head-dim", "32", "--ffn", "256", "--vocab", "512",
                      "--sliding-window", "8"], 1),
}


# The greedy run executor_graphs_device.py makes on the GPU (kvcc-run arguments after
# the artifact and the weights); build_models makes it here on the CPU artifact of the
# same model, so the device compares the CUDA path's tokens with the CPU path's.
GREEDY_RUN = ["--prompt", "The history of the printing press", "--max-tokens", "128",
              "--ignore-eos", "--temperature", "0", "--print-tokens", "--quiet"]


def greedy_tokens(kvcc_run, art, hf, device, extra=()):
    """The token ids of GREEDY_RUN (kvcc-run --print-tokens) on `device`."""
    p = subprocess.run([kvcc_run, art, "--weights", hf, "--device=" + device] + GREEDY_RUN
                       + list(extra), capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("kvcc-run --device=%s failed (%d): %s" % (
            device, p.returncode, (p.stderr or p.stdout).strip()[-1500:]))
    line = [l for l in p.stdout.splitlines() if l.startswith("{\"prompt_tokens\"")][-1]
    return json.loads(line)["tokens"]


def cpu_reference_tokens(hf, block, flags, out_dir):
    """Compiles the model for the CPU (the GPU-only flags dropped) and writes the
    greedy tokens of GREEDY_RUN to out_dir/cpu_tokens.json."""
    import tempfile
    with tempfile.TemporaryDirectory() as art:
        p = subprocess.run([KVCC, "compile", hf, "--target=cpu", "--block-size=%d" % block, "-o", art]
                           + [f for f in flags if not f.startswith("--gpu-")],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("CPU compile failed: " + (p.stderr or p.stdout).strip()[-1500:])
        tokens = greedy_tokens(KVCC_RUN, art, hf, "cpu")
    with open(os.path.join(out_dir, "cpu_tokens.json"), "w") as f:
        json.dump(dict(run=GREEDY_RUN, tokens=tokens), f)


def build_models(arch):
    import tempfile
    out_root = os.path.join(DEVICE, "models")
    shutil.rmtree(out_root, ignore_errors=True)
    os.makedirs(out_root)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, block, *flags) in MODELS.items():
            hf = os.path.join(tmp, name)
            subprocess.run([sys.executable, os.path.join(ROOT, "python", "make_tiny_model.py"),
                            "--out", hf] + args, check=True, stdout=subprocess.DEVNULL)
            t0 = time.time()
            p = subprocess.run([KVCC, "compile", hf, "--target=cuda", "--gpu-arch=" + arch,
                                "--block-size=%d" % block, "-o", os.path.join(out_root, name)]
                               + (flags[0] if flags else []),
                               capture_output=True, text=True)
            print("model %-16s %s %5.1fs" % (name, "ok" if p.returncode == 0 else "FAILED",
                                            time.time() - t0), flush=True)
            if p.returncode != 0:
                print("   " + (p.stderr or p.stdout).strip()[-2000:], flush=True)
                failed += 1
            else:
                t0 = time.time()
                try:
                    cpu_reference_tokens(hf, block, flags[0] if flags else [],
                                         os.path.join(out_root, name))
                    print("model %-16s cpu greedy tokens %5.1fs" % (name, time.time() - t0),
                          flush=True)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    print("model %-16s cpu greedy tokens FAILED: %s" % (name, e), flush=True)
                    failed += 1
            shutil.rmtree(hf)
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--only", default=None, help="regex on module ids")
    ap.add_argument("--list", action="store_true", help="print the modules, build nothing")
    ap.add_argument("--models", action="store_true", help="also compile whole models (.device/models)")
    ap.add_argument("--models-only", action="store_true", help="compile whole models only")
    a = ap.parse_args()
    if a.models or a.models_only:
        for tool in (KVCC, KVCC_RUN, RUNTIME):
            if not os.path.exists(tool):
                sys.exit("make_kernels: missing %s (run ./scripts/build.sh first)" % tool)
        ensure_excluded()
        os.makedirs(DEVICE, exist_ok=True)
        shutil.copy2(RUNTIME, os.path.join(DEVICE, "libkvcc_cuda_runtime.so"))
        if build_models(a.arch):
            return 1
        if a.models_only:
            return 0

    mods = correctness_grid() + bench_modules()
    if a.only:
        mods = [m for m in mods if re.search(a.only, m["id"])]
    if a.list:
        for m in mods:
            print(m["purpose"], m["id"])
        return 0
    for tool in (KVCC, RUNTIME):
        if not os.path.exists(tool):
            sys.exit("make_kernels: missing %s (run ./scripts/build.sh first)" % tool)
    ensure_excluded()
    shutil.rmtree(KERNELS, ignore_errors=True)
    os.makedirs(KERNELS)
    shutil.copy2(RUNTIME, os.path.join(DEVICE, "libkvcc_cuda_runtime.so"))

    index = dict(version=1, gpu_arch=a.arch, kvcc_commit=git_rev(),
                 runtime="libkvcc_cuda_runtime.so", created=time.strftime("%Y-%m-%d %H:%M:%S"),
                 correctness_sequences=CORRECTNESS_SEQS,
                 correctness_decode_sequences=CORRECTNESS_DECODE_SEQS, modules=[])
    t_all = time.time()
    ok = failed = 0
    for m in mods:
        mlir = os.path.join(KERNELS, m["id"] + ".mlir")
        so = os.path.join(KERNELS, m["id"] + ".so")
        with open(mlir, "w") as f:
            f.write(module_text(m))
        t0 = time.time()
        arch = wgmma_arch(a.arch) if "--gpu-prefill-wgmma" in m.get("flags", []) else a.arch
        p = subprocess.run([KVCC, "build", mlir, "--target=cuda", "--gpu-arch=" + arch,
                            "-o", so] + m.get("flags", []), capture_output=True, text=True)
        dt = time.time() - t0
        entry = dict(m, file=os.path.basename(so), mlir=os.path.basename(mlir),
                     function=m["id"], symbol="kvcc_" + m["id"], args=arg_list(m),
                     compile_s=round(dt, 2))
        expect_reject = m["id"].endswith("_expect_reject")
        if p.returncode == 0 and os.path.exists(so):
            entry["status"] = "ok"
            entry["bytes"] = os.path.getsize(so)
            ok += 1
            if expect_reject:
                print("note: %s compiled although a rejection was expected" % m["id"])
        else:
            entry["status"] = "expected_reject" if expect_reject else "failed"
            entry["error"] = (p.stderr or p.stdout).strip()[-2000:]
            if not expect_reject:
                failed += 1
        print("%-40s %-15s %5.2fs %8s" % (m["id"], entry["status"], dt,
                                          entry.get("bytes", "-")), flush=True)
        if entry["status"] == "failed":
            print("   " + entry["error"].replace("\n", "\n   "), flush=True)
        index["modules"].append(entry)
    with open(os.path.join(KERNELS, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    total = du(DEVICE)
    print("make_kernels: %d modules compiled, %d failed, %d expected rejections, "
          "%.1f s; .device/ holds %.2f MiB"
          % (ok, failed, len(mods) - ok - failed, time.time() - t_all, total / 2**20))
    carried = total + du(os.path.join(ROOT, "build", "bin")) + du(os.path.join(ROOT, "build", "lib"))
    print("make_kernels: .device + build/bin + build/lib = %.1f MiB (device tool limit "
          "64 MiB with the working tree)" % (carried / 2**20))
    if carried > SIZE_LIMIT * 0.75:
        print("WARNING: the carried paths approach the 64 MiB limit")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
