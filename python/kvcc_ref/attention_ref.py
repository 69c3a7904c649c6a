"""Float64 reference for kvc.paged_attention over a ragged batch, plus helpers to build
paged caches, for numerics checks of the compiled kernels (CPU and GPU).

Conventions (the ones kvc.paged_attention uses):
  q               [total_q, q_heads, head_dim]; sequence s owns rows
                  query_start_loc[s] : query_start_loc[s+1]
  k_cache/v_cache [num_blocks, block_size, kv_heads, head_dim]
  block_tables    [num_seqs, max_blocks_per_seq] int; token j of sequence s lives in
                  page block_tables[s, j // block_size] at offset j % block_size
  context_lens    [num_seqs]: tokens in the cache for s, the new ones included
  The q_len queries of s are the LAST q_len positions of its context: query i has
  position context_len - q_len + i (decode: q_len 1, prefill chunk: q_len > 1).
  Masks: causal -> key j visible iff j <= position; sliding_window w -> also
  j > position - w (HF semantics). softcap c -> scores = c * tanh(scale*qk / c).
  Query head h reads KV head h // (q_heads / kv_heads).
"""

import numpy as np


def gather_pages(cache, block_table, context_len):
    """Dense [context_len, kv_heads, head_dim] view of one sequence's pages."""
    block_size = cache.shape[1]
    j = np.arange(context_len)
    blocks = np.asarray(block_table)[j // block_size]
    return cache[blocks, j % block_size]


def paged_attention_reference(q, k_cache, v_cache, block_tables, context_lens,
                              query_start_loc, scale, causal=True, sliding_window=None,
                              softcap=None, return_lse=False, return_magnitude=False):
    """Attention output [total_q, q_heads, head_dim] in float64 (and, with return_lse,
    the natural-log log-sum-exp of the scaled, capped scores, [total_q, q_heads]; with
    return_magnitude, the same weights applied to |V|, sum_j p_j |v_j| / sum_j p_j,
    the scale each output's rounding errors grow with, [total_q, q_heads, head_dim]).

    A query with no visible key (possible only without causal masking and a window that
    excludes everything) gets output 0 and lse -inf.
    """
    q = np.asarray(q, dtype=np.float64)
    total_q, hq, d = q.shape
    hkv = k_cache.shape[2]
    if hq % hkv:
        raise ValueError(f"q_heads {hq} not divisible by kv_heads {hkv}")
    if sliding_window is not None and sliding_window < 1:
        raise ValueError(f"sliding_window {sliding_window} < 1")
    group = hq // hkv
    starts = np.asarray(query_start_loc)
    if starts[-1] != total_q:
        raise ValueError(f"query_start_loc ends at {starts[-1]}, q has {total_q} rows")
    out = np.zeros((total_q, hq, d))
    magnitude = np.zeros((total_q, hq, d)) if return_magnitude else None
    lse = np.full((total_q, hq), -np.inf)
    for s, ctx in enumerate(np.asarray(context_lens)):
        ctx = int(ctx)
        lo, hi = int(starts[s]), int(starts[s + 1])
        q_len = hi - lo
        if q_len == 0:
            continue
        if q_len > ctx:
            raise ValueError(f"sequence {s}: {q_len} queries but context {ctx}")
        k = gather_pages(k_cache, block_tables[s], ctx).astype(np.float64)
        v = gather_pages(v_cache, block_tables[s], ctx).astype(np.float64)
        # [q_len, hkv, group, d] x [ctx, hkv, d] -> [hkv, group, q_len, ctx]
        qs = q[lo:hi].reshape(q_len, hkv, group, d)
        scores = np.einsum("tkgd,skd->kgts", qs, k) * scale
        if softcap:
            scores = softcap * np.tanh(scores / softcap)
        pos = ctx - q_len + np.arange(q_len)[:, None]
        j = np.arange(ctx)[None, :]
        visible = np.ones((q_len, ctx), dtype=bool)
        if causal:
            visible &= j <= pos
        if sliding_window is not None:
            visible &= j > pos - sliding_window
        scores = np.where(visible, scores, -np.inf)
        m = scores.max(axis=-1, keepdims=True)
        m_safe = np.where(np.isfinite(m), m, 0.0)
        p = np.exp(scores - m_safe)
        total = p.sum(axis=-1, keepdims=True)
        weights = p / np.where(total > 0, total, 1.0)
        o = np.einsum("kgts,skd->tkgd", weights, v)
        out[lo:hi] = o.reshape(q_len, hq, d)
        if return_magnitude:
            mag = np.einsum("kgts,skd->tkgd", weights, np.abs(v))
            magnitude[lo:hi] = mag.reshape(q_len, hq, d)
        with np.errstate(divide="ignore"):
            l = (np.log(total) + m_safe)[..., 0]  # [hkv, group, q_len]
        lse[lo:hi] = l.transpose(2, 0, 1).reshape(q_len, hq)
    results = (out,) + ((lse,) if return_lse else ()) + ((magnitude,) if return_magnitude else ())
    return results if len(results) > 1 else out


def dense_attention_reference(q, k, v, scale, causal=True, sliding_window=None,
                              softcap=None):
    """kvc.attention semantics for one sequence: q [q_len, Hq, D], k/v [ctx, Hkv, D];
    the queries are the last q_len positions of the context."""
    ctx = k.shape[0]
    table = np.arange(ctx)[None, :]
    return paged_attention_reference(q, k[:, None], v[:, None], table, [ctx],
                                     [0, q.shape[0]], scale, causal, sliding_window,
                                     softcap)


def build_paged_cache(keys, values, block_size, num_blocks=None, rng=None,
                      poison=np.nan, max_blocks_per_seq=None):
    """Scatter per-sequence dense K/V ([ctx_s, kv_heads, head_dim] each) into a page pool,
    pages assigned in a random order so that a kernel ignoring the block table fails.

    Every slot no sequence owns (whole spare pages, and the tail of each sequence's last
    page) holds `poison` (NaN by default), so a kernel that reads past a context shows
    it. Unused block-table entries point at a spare page when one exists (num_blocks
    defaults to one more than needed), else at page 0.
    The caches keep the dtype of `keys` (float32 for non-float input).

    Returns (k_cache, v_cache, block_tables [num_seqs, max_blocks] int32,
    context_lens int32).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    ctx = [int(k.shape[0]) for k in keys]
    pages = [-(-c // block_size) for c in ctx]
    need = sum(pages)
    num_blocks = need + 1 if num_blocks is None else num_blocks
    if num_blocks < need:
        raise ValueError(f"{need} pages needed, pool has {num_blocks}")
    width = max(pages + [1]) if max_blocks_per_seq is None else max_blocks_per_seq
    _, hkv, d = keys[0].shape
    dtype = keys[0].dtype if keys[0].dtype.kind == "f" else np.dtype(np.float32)
    k_cache = np.full((num_blocks, block_size, hkv, d), poison, dtype=dtype)
    v_cache = np.full((num_blocks, block_size, hkv, d), poison, dtype=dtype)
    order = rng.permutation(num_blocks)
    filler = order[need] if num_blocks > need else 0
    tables = np.full((len(keys), width), filler, dtype=np.int32)
    used = 0
    for s, (k, v) in enumerate(zip(keys, values)):
        for b in range(pages[s]):
            page = order[used]
            used += 1
            tables[s, b] = page
            rows = slice(b * block_size, min((b + 1) * block_size, ctx[s]))
            n = rows.stop - rows.start
            k_cache[page, :n] = k[rows]
            v_cache[page, :n] = v[rows]
    return k_cache, v_cache, tables, np.asarray(ctx, dtype=np.int32)


def slot_mapping(block_table, positions, block_size):
    """Cache slot (page * block_size + offset) of each token position, as kvc.append
    takes them."""
    positions = np.asarray(positions)
    return np.asarray(block_table)[positions // block_size] * block_size + positions % block_size
