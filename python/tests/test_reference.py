"""Self-consistency of the float64 references: the model forward pass (causality, GQA,
rotary embedding, sliding window) and the paged attention reference.

Run: python3 -m unittest discover -s python/tests
"""

import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kvcc_ref import attention_ref, reference, tiny_model  # noqa: E402

_TMP = None


def setUpModule():
    global _TMP
    _TMP = tempfile.mkdtemp(prefix="kvcc_ref_test_")


def tearDownModule():
    shutil.rmtree(_TMP, ignore_errors=True)


def make_model(name, arch, seed=0, **dims):
    out = os.path.join(_TMP, name)
    if not os.path.exists(out):
        tiny_model.write_tiny_model(out, arch, seed, **dims)
    return reference.ReferenceModel(out)


def mha_loops(q, k, v, scale, q_pos, k_pos, window=None):
    """Multi-head attention written out with loops, one query and one head at a time.
    q [T, H, D], k/v [S, H, D] with the same H."""
    T, H, _ = q.shape
    out = np.zeros_like(q)
    for h in range(H):
        for t in range(T):
            keys = [s for s in range(k.shape[0]) if k_pos[s] <= q_pos[t]
                    and (window is None or k_pos[s] > q_pos[t] - window)]
            scores = np.array([q[t, h] @ k[s, h] * scale for s in keys])
            p = np.exp(scores - scores.max())
            p /= p.sum()
            out[t, h] = sum(pi * v[s, h] for pi, s in zip(p, keys))
    return out


class ModelForwardTest(unittest.TestCase):
    def test_prefix_logits_equal_first_rows(self):
        rng = np.random.default_rng(1)
        for arch in tiny_model.ARCHS:
            model = make_model(arch, arch)
            ids = rng.integers(0, model.config["vocab_size"], 20)
            full = model.forward(ids)
            self.assertEqual(full.shape, (20, model.config["vocab_size"]))
            self.assertTrue(np.all(np.isfinite(full)))
            for n in (1, 7, 13):
                np.testing.assert_allclose(model.forward(ids[:n]), full[:n], rtol=0,
                                           atol=1e-10, err_msg=f"{arch} prefix {n}")

    def test_logits_are_order_one_and_not_degenerate(self):
        for arch in tiny_model.ARCHS:
            model = make_model(arch, arch)
            logits = model.forward(np.arange(3, 40))
            self.assertTrue(1.0 < logits.std() < 10.0, f"{arch}: std {logits.std()}")
            # Different positions prefer different tokens.
            self.assertGreater(len(set(logits.argmax(axis=-1))), 10)

    def test_greedy_does_not_collapse(self):
        for arch in tiny_model.ARCHS:
            for tied in (False, True):
                model = make_model(f"{arch}-tied{tied}", arch, tied=tied)
                tokens = model.greedy_generate([5, 80, 120, 7], 24)
                self.assertEqual(len(tokens), 24)
                self.assertGreaterEqual(len(set(tokens)), 8, f"{arch} tied={tied}: {tokens}")
                self.assertGreaterEqual(len(set(tokens[12:])), 3, f"{arch} tied={tied}")

    def test_greedy_matches_argmax_of_full_forward(self):
        model = make_model("llama", "llama")
        prompt = [10, 20, 30]
        tokens, margins = model.greedy_with_margins(prompt, 6)
        logits = model.forward(prompt + tokens)
        np.testing.assert_array_equal(logits[len(prompt) - 1:-1].argmax(axis=-1), tokens)
        self.assertTrue(all(m >= 0 for m in margins))

    def test_tied_model_uses_embedding_as_lm_head(self):
        model = make_model("llama-tiedTrue", "llama", tied=True)
        self.assertNotIn("lm_head.weight", model.weights)
        self.assertIs(model.lm_head, model.weights["model.embed_tokens.weight"])


class RopeTest(unittest.TestCase):
    def test_position_zero_is_identity(self):
        x = np.random.default_rng(0).normal(size=(1, 3, 16))
        np.testing.assert_array_equal(reference.apply_rope(x, [0], 10000.0), x)

    def test_matches_pairwise_rotation(self):
        # NEOX style rotates channel pairs (i, i + d/2) by angle pos * theta^(-2i/d).
        rng = np.random.default_rng(1)
        d, theta = 16, 500.0
        x = rng.normal(size=(4, 2, d))
        pos = np.array([0, 1, 5, 77])
        got = reference.apply_rope(x, pos, theta)
        want = np.empty_like(x)
        for t in range(4):
            for i in range(d // 2):
                a = pos[t] * theta ** (-2.0 * i / d)
                x1, x2 = x[t, :, i], x[t, :, i + d // 2]
                want[t, :, i] = x1 * np.cos(a) - x2 * np.sin(a)
                want[t, :, i + d // 2] = x2 * np.cos(a) + x1 * np.sin(a)
        np.testing.assert_allclose(got, want, atol=1e-12)

    def test_scores_depend_on_relative_position_only(self):
        rng = np.random.default_rng(2)
        q, k = rng.normal(size=(1, 1, 16)), rng.normal(size=(1, 1, 16))

        def score(m, n):
            return float(np.sum(reference.apply_rope(q, [m], 1e4)
                                * reference.apply_rope(k, [n], 1e4)))
        self.assertAlmostEqual(score(7, 3), score(104, 100), places=9)
        self.assertAlmostEqual(score(3, 3), float(np.sum(q * k)), places=9)

    def test_partial_rotary_passes_tail_through(self):
        x = np.random.default_rng(3).normal(size=(2, 1, 16))
        y = reference.apply_rope(x, [3, 9], 1e4, rotary_dim=8)
        np.testing.assert_array_equal(y[..., 8:], x[..., 8:])
        self.assertFalse(np.allclose(y[..., :8], x[..., :8]))


class GroupedQueryAttentionTest(unittest.TestCase):
    def test_kv_heads_equal_heads_is_mha(self):
        rng = np.random.default_rng(4)
        q, k, v = (rng.normal(size=(9, 4, 8)) for _ in range(3))
        pos = np.arange(9)
        got = reference.attention(q, k, v, pos, pos, 0.3)
        np.testing.assert_allclose(got, mha_loops(q, k, v, 0.3, pos, pos), atol=1e-12)

    def test_gqa_shares_kv_head_among_consecutive_query_heads(self):
        rng = np.random.default_rng(5)
        hq, d = 8, 8
        for hkv in (8, 4, 2, 1):
            q = rng.normal(size=(6, hq, d))
            k, v = rng.normal(size=(6, hkv, d)), rng.normal(size=(6, hkv, d))
            pos = np.arange(6)
            mapping = [h // (hq // hkv) for h in range(hq)]
            want = mha_loops(q, k[:, mapping], v[:, mapping], 0.25, pos, pos)
            got = reference.attention(q, k, v, pos, pos, 0.25)
            np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"kv_heads {hkv}")

    def test_rejects_indivisible_heads(self):
        q, k = np.zeros((1, 3, 4)), np.zeros((1, 2, 4))
        with self.assertRaises(ValueError):
            reference.attention(q, k, k, [0], [0], 1.0)


class SlidingWindowTest(unittest.TestCase):
    def test_mask(self):
        got = reference.attention_mask(np.arange(6), np.arange(6), True, 3)
        want = np.array([[1 if i - 3 < j <= i else 0 for j in range(6)] for i in range(6)])
        np.testing.assert_array_equal(got, want.astype(bool))
        self.assertEqual(got.sum(axis=1).tolist(), [1, 2, 3, 3, 3, 3])

    def test_attention_with_window_matches_loops(self):
        rng = np.random.default_rng(6)
        q, k, v = (rng.normal(size=(10, 2, 8)) for _ in range(3))
        pos = np.arange(10)
        got = reference.attention(q, k, v, pos, pos, 0.4, sliding_window=4)
        np.testing.assert_allclose(got, mha_loops(q, k, v, 0.4, pos, pos, window=4),
                                   atol=1e-12)

    def test_one_layer_mistral_ignores_tokens_outside_window(self):
        w, i = 4, 11
        model = make_model("mistral-1layer", "mistral", layers=1, sliding_window=w)
        self.assertEqual(model.windows, [w])
        ids = np.random.default_rng(7).integers(0, 256, i + 1)
        base = model.forward(ids)[i]
        outside, inside = ids.copy(), ids.copy()
        outside[i - w] = (ids[i - w] + 1) % 256       # first key the query cannot see
        inside[i - w + 1] = (ids[i - w + 1] + 1) % 256  # oldest key it still sees
        np.testing.assert_allclose(model.forward(outside)[i], base, atol=1e-12)
        self.assertGreater(np.abs(model.forward(inside)[i] - base).max(), 1e-6)
        # Without a window (llama) the same change is visible.
        llama = make_model("llama-1layer", "llama", layers=1)
        self.assertGreater(np.abs(llama.forward(outside)[i] - llama.forward(ids)[i]).max(),
                           1e-6)

    def test_window_per_layer_from_config(self):
        self.assertEqual(make_model("mistral", "mistral").windows, [8, 8])
        self.assertEqual(make_model("llama", "llama").windows, [None, None])
        # qwen2 writes sliding_window but use_sliding_window false switches it off.
        qwen = make_model("qwen2", "qwen2")
        self.assertEqual(qwen.config["sliding_window"], 8)
        self.assertEqual(qwen.windows, [None, None])
        cfg = dict(qwen.config, use_sliding_window=True, max_window_layers=1)
        self.assertEqual(reference.layer_windows(cfg), [None, 8])


class PagedAttentionTest(unittest.TestCase):
    # (context_len, q_len): decode, whole prefill, chunked prefill, single token.
    SEQS = [(1, 1), (7, 7), (20, 1), (33, 5), (16, 16), (50, 1)]

    def _check(self, hq, hkv, d, block_size, window, softcap, seed):
        rng = np.random.default_rng(seed)
        keys = [rng.normal(size=(c, hkv, d)) for c, _ in self.SEQS]
        values = [rng.normal(size=(c, hkv, d)) for c, _ in self.SEQS]
        k_cache, v_cache, tables, ctx = attention_ref.build_paged_cache(
            keys, values, block_size, num_blocks=None, rng=rng)
        q_lens = [ql for _, ql in self.SEQS]
        starts = np.concatenate([[0], np.cumsum(q_lens)])
        q = rng.normal(size=(starts[-1], hq, d))
        scale = 1.0 / np.sqrt(d)
        got, lse = attention_ref.paged_attention_reference(
            q, k_cache, v_cache, tables, ctx, starts, scale, True, window, softcap,
            return_lse=True)
        self.assertTrue(np.all(np.isfinite(got)), "poisoned slots leaked into the output")
        for s, (c, ql) in enumerate(self.SEQS):
            qs = q[starts[s]:starts[s + 1]]
            pos_q = np.arange(c - ql, c)
            want = reference.attention(qs, keys[s], values[s], pos_q, np.arange(c), scale,
                                       True, window, softcap)
            np.testing.assert_allclose(got[starts[s]:starts[s + 1]], want, atol=1e-12,
                                       err_msg=f"seq {s} bs {block_size} hkv {hkv}")
            # lse of the last query of the sequence, directly.
            kk = np.repeat(keys[s], hq // hkv, axis=1)
            sc = np.einsum("hd,shd->hs", qs[-1], kk) * scale
            if softcap:
                sc = softcap * np.tanh(sc / softcap)
            lo = 0 if window is None else max(0, c - window)
            want_lse = np.log(np.exp(sc[:, lo:]).sum(axis=-1))
            np.testing.assert_allclose(lse[starts[s + 1] - 1], want_lse, atol=1e-12)

    def test_shuffled_pages_equal_dense(self):
        case = 0
        for block_size in (1, 3, 16, 64):
            for hq, hkv in ((4, 4), (8, 4), (8, 2), (8, 1)):
                for window, softcap in ((None, None), (5, None), (None, 3.0)):
                    case += 1
                    self._check(hq, hkv, 16, block_size, window, softcap, seed=case)

    def test_block_table_is_actually_shuffled(self):
        rng = np.random.default_rng(0)
        keys = [rng.normal(size=(40, 1, 4))]
        _, _, tables, _ = attention_ref.build_paged_cache(keys, keys, 4, rng=rng)
        self.assertNotEqual(tables[0].tolist(), sorted(tables[0].tolist()))

    def test_dense_wrapper_and_slot_mapping(self):
        rng = np.random.default_rng(9)
        q, k, v = rng.normal(size=(3, 4, 8)), rng.normal(size=(10, 2, 8)), \
            rng.normal(size=(10, 2, 8))
        got = attention_ref.dense_attention_reference(q, k, v, 0.5)
        want = reference.attention(q, k, v, np.arange(7, 10), np.arange(10), 0.5)
        np.testing.assert_allclose(got, want, atol=1e-12)
        slots = attention_ref.slot_mapping([5, 2], [0, 3, 4, 7], 4)
        self.assertEqual(slots.tolist(), [20, 23, 8, 11])

    def test_rejects_bad_arguments(self):
        k = np.zeros((2, 4, 2, 8))
        with self.assertRaises(ValueError):  # 3 query heads over 2 KV heads
            attention_ref.paged_attention_reference(np.zeros((1, 3, 8)), k, k, [[0]], [1],
                                                    [0, 1], 1.0)
        with self.assertRaises(ValueError):  # window < 1
            attention_ref.paged_attention_reference(np.zeros((1, 2, 8)), k, k, [[0]], [1],
                                                    [0, 1], 1.0, sliding_window=0)


if __name__ == "__main__":
    unittest.main()
