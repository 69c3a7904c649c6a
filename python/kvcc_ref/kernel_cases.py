"""Inputs, float64 references and checks for one attention kernel module of
bench/gpu/make_kernels.py, in numpy: what bench/gpu/run_device.py does with torch
on the GPU, for the CPU-side GPU emulator (kvcc-emulate, bench/gpu/emulate_kernels.py).

A case is a module config `m` (make_kernels.cfg) and sequences [(context, new)]:
  - K/V of every position are U(-1, 1) in the module's dtype, rounded to the
    cache's; pages are assigned in a random order and every slot no sequence
    owns holds NaN, so a kernel that ignores the block table or reads past a
    context shows it;
  - append kinds pass the new tokens' K/V with their slots (whose pool entries
    start as NaN: the kernel must append before it reads); rope kinds pass the
    raw q/k and the reference ropes them;
  - the output starts as NaN, so a row the kernel does not write fails.

bf16 arrays are uint16 bit patterns (numpy has no bfloat16).
"""

import numpy as np

from . import attention_ref

DTYPE_BYTES = dict(f16=2, bf16=2, f32=4)


def to_bf16_bits(x):
    """float -> bfloat16 bits (uint16), round to nearest even (NaN stays NaN)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, np.uint16(0x7FC0), rounded)


def from_bf16_bits(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def store(x, dtype):
    """float64 values -> the storage array of dtype (bf16: bits)."""
    if dtype == "bf16":
        return to_bf16_bits(x)
    return np.asarray(x, dtype=dict(f16=np.float16, f32=np.float32)[dtype])


def values(a, dtype):
    """Storage array of dtype -> float64 values."""
    if dtype == "bf16":
        return from_bf16_bits(a).astype(np.float64)
    return np.asarray(a, dtype=np.float64)


def rope(x, positions, r):
    """float64 rope of x [N, heads, D] at positions [N] (kvc.rope): channel pairs
    (i, i + rotary_dim/2) for neox, (2i, 2i + 1) for gptj, rotated by
    position * theta^(-2i/rotary_dim); channels past rotary_dim pass through."""
    rd, theta = r["rotary_dim"], r["theta"]
    i = np.arange(rd // 2)
    first, second = (i, i + rd // 2) if r["style"] == "neox" else (2 * i, 2 * i + 1)
    angle = np.asarray(positions, dtype=np.float64)[:, None] * theta ** (-2.0 * i / rd)
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    y = x.copy()
    y[..., first] = x[..., first] * cos - x[..., second] * sin
    y[..., second] = x[..., second] * cos + x[..., first] * sin
    return y


def build_case(m, seqs, seed):
    """The entry function's arguments (in make_kernels.arg_list order) and what
    the checks need."""
    rng = np.random.default_rng(seed)
    dt, cdt = m["dtype"], m.get("cache_dtype", m["dtype"])
    bs, H, D, Hq = m["block_size"], m["kv_heads"], m["head_dim"], m["q_heads"]
    append = m["kind"] != "attn"
    ctxs = [c for c, _ in seqs]
    news = [n for _, n in seqs]
    N = sum(news)

    def uniform(shape):
        return values(store(rng.uniform(-1, 1, shape), dt), dt)

    # K/V as the pool holds them: rounded to the model's dtype, then the cache's.
    keys = [uniform((c, H, D)) for c in ctxs]
    vals = [uniform((c, H, D)) for c in ctxs]
    q = uniform((N, Hq, D))
    positions = np.concatenate([np.arange(c - n, c) for c, n in seqs]).astype(np.int64)
    k_new_raw = None
    if m["kind"] == "rope_append_attn":
        # The kernel ropes the raw new k; the pool then holds rope(k) rounded.
        k_new_raw = uniform((N, H, D))
        roped = values(store(rope(k_new_raw, positions, m["rope"]), cdt), cdt)
        row = 0
        for i, (c, n) in enumerate(seqs):
            keys[i][c - n:] = roped[row:row + n]
            row += n
    keys = [values(store(k, cdt), cdt) for k in keys]
    vals = [values(store(v, cdt), cdt) for v in vals]

    k_cache, v_cache, tables, lens = attention_ref.build_paged_cache(
        keys, vals, bs, num_blocks=sum(-(-c // bs) for c in ctxs) + 7, rng=rng)
    slots = None
    if append:
        # The new tokens' slots start as NaN: the kernel appends them.
        slots = np.concatenate([
            attention_ref.slot_mapping(tables[i], np.arange(c - n, c), bs)
            for i, (c, n) in enumerate(seqs)]).astype(np.int64)
        k_cache.reshape(-1, H, D)[slots] = np.nan
        v_cache.reshape(-1, H, D)[slots] = np.nan
    pool = np.stack([k_cache, v_cache], axis=1)  # [P, 2, bs, H, D]
    if m["layout"] == "head_major":
        pool = pool.transpose(0, 1, 3, 2, 4)  # [P, 2, H, bs, D]
    starts = np.concatenate([[0], np.cumsum(news)]).astype(np.int32)

    arrays = dict(q=store(q, dt), cache=np.ascontiguousarray(store(pool, cdt)),
                  block_tables=tables, context_lens=lens, query_start=starts,
                  out=np.ascontiguousarray(store(np.full((N, Hq, D), np.nan), dt)))
    if append:
        knew = np.concatenate([keys[i][c - n:] for i, (c, n) in enumerate(seqs)])
        vnew = np.concatenate([vals[i][c - n:] for i, (c, n) in enumerate(seqs)])
        arrays["k"] = store(k_new_raw if k_new_raw is not None else knew, dt)
        arrays["v"] = store(vnew, dt)
        arrays["slots"] = slots
        arrays["positions"] = positions
    q_ref = q
    if m["kind"] == "rope_append_attn":
        q_ref = values(store(rope(q, positions, m["rope"]), dt), dt)
    return dict(m=m, seqs=seqs, arrays=arrays, q_ref=q_ref, keys=keys, vals=vals,
                k_cache=k_cache, v_cache=v_cache, tables=tables, lens=lens, starts=starts,
                slots=slots)


def reference(case):
    """float64 attention output [N, Hq, D] from the cached K/V (as the pool holds
    them after the append), and each output's magnitude sum_j p_j |v_j| / sum_j p_j
    (the scale its rounding errors grow with), [N, Hq, D]."""
    m = case["m"]
    k_cache = case["k_cache"].copy()
    v_cache = case["v_cache"].copy()
    if case["slots"] is not None:
        H, D = m["kv_heads"], m["head_dim"]
        knew = np.concatenate([k[c - n:] for k, (c, n) in zip(case["keys"], case["seqs"])])
        vnew = np.concatenate([v[c - n:] for v, (c, n) in zip(case["vals"], case["seqs"])])
        k_cache.reshape(-1, H, D)[case["slots"]] = knew
        v_cache.reshape(-1, H, D)[case["slots"]] = vnew
    return attention_ref.paged_attention_reference(
        case["q_ref"], k_cache, v_cache, case["tables"], case["lens"], case["starts"],
        m["scale"], causal=m["causal"], sliding_window=m["window"] or None,
        softcap=m["softcap"] or None, return_magnitude=True)


def compare(case, out, pool):
    """The module's output and pool after the call against the reference, with
    run_device.py's tolerances: the narrower of the model's and the cache's
    types sets it (2e-3 for 16-bit storage, 2e-3 + 2^-8 for bf16, 1e-5 for
    f32), of each row's own scale: max_rel_err is the largest over (token,
    head) rows of max_d |out - ref| / max_d magnitude (reference(magnitude)).
    A long row's output is a small average of values of size 1; against the
    largest output of the whole module (a short row's) its error would pass
    twenty times looser. Returns a dict with 'pass'."""
    m = case["m"]
    dt, cdt = m["dtype"], m.get("cache_dtype", m["dtype"])
    narrow = min(dt, cdt, key=DTYPE_BYTES.get)
    ref, magnitude = reference(case)
    got = values(out, dt)
    nan = int(np.isnan(got).sum())
    # A row that sees no key has output 0 and magnitude 0: judged absolutely.
    scale = magnitude.max(axis=-1)
    scale = np.where(scale > 0, scale, 1.0)
    max_rel = float((np.abs(got - ref).max(axis=-1) / scale).max()) if nan == 0 else float("nan")
    tol = dict(f16=2e-3, bf16=2e-3 + 2.0 ** -8, f32=1e-5)[narrow]
    rec = dict(max_rel_err=max_rel, tol=tol, nan_outputs=nan,
               pass_=nan == 0 and max_rel <= tol)
    if case["slots"] is not None:
        # The appended rows, and no other slot written (the NaN count drops by
        # exactly the appended elements).
        H, D = m["kv_heads"], m["head_dim"]
        p = values(pool, cdt)
        if m["layout"] == "head_major":
            p = p.transpose(0, 1, 3, 2, 4)
        got_k = p[:, 0].reshape(-1, H, D)[case["slots"]]
        got_v = p[:, 1].reshape(-1, H, D)[case["slots"]]
        want_k = np.concatenate([k[c - n:] for k, (c, n) in zip(case["keys"], case["seqs"])])
        want_v = np.concatenate([v[c - n:] for v, (c, n) in zip(case["vals"], case["seqs"])])
        ek = float(np.abs(got_k - want_k).max())
        ev = float(np.abs(got_v - want_v).max())
        k_tol = 0 if m["kind"] == "append_attn" else 2 * 2.0 ** -8 * float(np.abs(want_k).max())
        before = int(np.isnan(values(case["arrays"]["cache"], cdt)).sum())
        stray = before - int(np.isnan(p).sum()) - 2 * want_k.size
        ok = ev == 0 and ek <= k_tol and stray == 0
        rec["append"] = "ok" if ok else "k %.2g v %.2g stray %d" % (ek, ev, stray)
        rec["pass_"] = rec["pass_"] and ok
    rec["pass"] = rec.pop("pass_")
    return rec
