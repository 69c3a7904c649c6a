"""Float64 numpy reference forward pass for llama / mistral / qwen2 checkpoints.

Written from the architecture definitions with Hugging Face semantics, without a KV
cache: every call recomputes the whole sequence. This is the "full recomputation" side of
the seed experiment: the compiled, cached path must produce the same greedy tokens.

    x = embed[tokens]
    per layer:  h = rmsnorm(x); q,k,v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
                q,k = rope(q), rope(k)            (NEOX / rotate_half style)
                x = x + attention(q, k, v) Wo^T   (causal, GQA, optional window)
                x = x + (silu(rmsnorm(x) Wg^T) * (rmsnorm(x) Wu^T)) Wd^T
    logits = rmsnorm(x) W_lm^T   (W_lm = embed when tie_word_embeddings)
"""

import json
import os

import numpy as np

from . import safetensors_io


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_cos_sin(positions, rotary_dim, theta):
    """cos, sin of shape [T, rotary_dim]; frequency i (of rotary_dim/2) is duplicated into
    both halves, matching HF's cat((freqs, freqs)) layout."""
    inv_freq = theta ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    return np.cos(angles), np.sin(angles)


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rope(x, positions, theta, rotary_dim=None):
    """NEOX-style rotary embedding of x [T, heads, head_dim] at the given positions; the
    first rotary_dim (default: all) channels rotate, the rest pass through."""
    d = x.shape[-1] if rotary_dim is None else rotary_dim
    cos, sin = rope_cos_sin(positions, d, theta)
    cos, sin = cos[:, None, :], sin[:, None, :]
    rot, rest = x[..., :d], x[..., d:]
    return np.concatenate([rot * cos + rotate_half(rot) * sin, rest], axis=-1)


def attention_mask(q_positions, k_positions, causal=True, sliding_window=None):
    """Boolean [T, S]: key j visible from query i. Causal: k <= q. Window w (HF):
    q - w < k, i.e. a query sees itself and the w-1 keys before it."""
    q = np.asarray(q_positions)[:, None]
    k = np.asarray(k_positions)[None, :]
    visible = np.ones((q.shape[0], k.shape[1]), dtype=bool)
    if causal:
        visible &= k <= q
    if sliding_window is not None:
        visible &= k > q - sliding_window
    return visible


def attention(q, k, v, q_positions, k_positions, scale, causal=True, sliding_window=None,
              softcap=None):
    """Grouped-query attention. q [T, Hq, D], k/v [S, Hkv, D] -> [T, Hq, D].

    Query head h reads KV head h // (Hq / Hkv): consecutive query heads share a KV head,
    as in HF's repeat_kv."""
    hq, hkv = q.shape[1], k.shape[1]
    if hq % hkv:
        raise ValueError(f"query heads {hq} not divisible by kv heads {hkv}")
    group = hq // hkv
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, k) * scale
    if softcap:
        scores = softcap * np.tanh(scores / softcap)
    mask = attention_mask(q_positions, k_positions, causal, sliding_window)
    scores = np.where(mask[None], scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("hts,shd->thd", p, v)


def layer_windows(config):
    """Sliding window (or None) of each layer, from the config as HF interprets it."""
    n = config["num_hidden_layers"]
    arch = config.get("model_type")
    window = config.get("sliding_window")
    if arch == "qwen2" and not config.get("use_sliding_window", False):
        window = None  # Qwen2Config drops the window unless use_sliding_window is set
    if window is None:
        return [None] * n
    if config.get("layer_types"):
        return [window if t == "sliding_attention" else None for t in config["layer_types"]]
    if arch == "mistral":
        return [window] * n
    if arch == "qwen2":
        first = config.get("max_window_layers", n)
        return [window if i >= first else None for i in range(n)]
    return [None] * n


SUPPORTED = ("llama", "mistral", "qwen2")


def round_to_dtype(x, dtype):
    """x as a buffer of `dtype` ("f32", "f16" or "bf16") holds it: rounded to
    nearest even from float32, as the compiled append and kvcc-run's weight
    arena do, and widened back to float64 (the reference then computes exactly
    as before)."""
    x32 = np.asarray(x, dtype=np.float32)
    if dtype == "f32":
        return x32.astype(np.float64)
    if dtype == "f16":
        return x32.astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        return safetensors_io.bf16_bits_to_float32(
            safetensors_io.float32_to_bf16_bits(x32)).astype(np.float64)
    raise ValueError(f"dtype {dtype!r}")


class ReferenceModel:
    """Loads a HF directory once (weights as float64) and runs full forward passes.

    With `cache_dtype`, keys and values are rounded as a KV cache of that type
    stores them (round_to_dtype): the reference of a model compiled with
    --kv-cache-dtype, everything else in float64. With `weights_dtype` the
    weights are rounded as `kvcc compile --dtype` stores them; the activations
    stay float64, so the difference to the compiled model is the rounding of
    its activations alone."""

    def __init__(self, model_dir, cache_dtype=None, weights_dtype=None):
        self.cache_dtype = cache_dtype
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.config = c = json.load(f)
        if c.get("model_type") not in SUPPORTED:
            raise NotImplementedError(f"model_type {c.get('model_type')!r}")
        if c.get("rope_scaling"):
            raise NotImplementedError(f"rope_scaling {c['rope_scaling']!r}")
        self.weights = self._load_weights(model_dir)
        if weights_dtype:
            self.weights = {k: round_to_dtype(v, weights_dtype) for k, v in self.weights.items()}
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads") or self.heads
        self.head_dim = c.get("head_dim") or self.hidden // self.heads
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.layers = c["num_hidden_layers"]
        self.windows = layer_windows(c)
        self.lm_head = self.weights.get("lm_head.weight")
        if self.lm_head is None or c.get("tie_word_embeddings", False):
            self.lm_head = self.weights["model.embed_tokens.weight"]

    @staticmethod
    def _load_weights(model_dir):
        single = os.path.join(model_dir, "model.safetensors")
        if os.path.exists(single):
            return safetensors_io.load_file(single, as_dtype=np.float64)
        # Sharded checkpoint: model.safetensors.index.json maps tensor -> shard file.
        with open(os.path.join(model_dir, "model.safetensors.index.json"),
                  encoding="utf-8") as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for shard in shards:
            weights.update(safetensors_io.load_file(os.path.join(model_dir, shard),
                                                    as_dtype=np.float64))
        return weights

    def _linear(self, x, name, bias_required=False):
        y = x @ self.weights[name + ".weight"].T
        bias = self.weights.get(name + ".bias")
        if bias is None and bias_required:
            raise KeyError(f"{name}.bias missing")
        return y if bias is None else y + bias

    def forward(self, token_ids):
        """Logits [T, vocab] (float64) of every position of token_ids."""
        ids = np.asarray(token_ids, dtype=np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise ValueError("token_ids must be a non-empty 1-D sequence")
        w = self.weights
        T = ids.size
        positions = np.arange(T)
        x = w["model.embed_tokens.weight"][ids]
        qkv_bias = self.config["model_type"] == "qwen2"
        for i in range(self.layers):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = self._linear(h, p + "self_attn.q_proj", qkv_bias)
            k = self._linear(h, p + "self_attn.k_proj", qkv_bias)
            v = self._linear(h, p + "self_attn.v_proj", qkv_bias)
            q = apply_rope(q.reshape(T, self.heads, self.head_dim), positions, self.theta)
            k = apply_rope(k.reshape(T, self.kv_heads, self.head_dim), positions, self.theta)
            v = v.reshape(T, self.kv_heads, self.head_dim)
            if self.cache_dtype:
                k, v = round_to_dtype(k, self.cache_dtype), round_to_dtype(v, self.cache_dtype)
            a = attention(q, k, v, positions, positions, 1.0 / np.sqrt(self.head_dim),
                          causal=True, sliding_window=self.windows[i])
            x = x + self._linear(a.reshape(T, self.heads * self.head_dim),
                                 p + "self_attn.o_proj")
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            gate = self._linear(h, p + "mlp.gate_proj")
            up = self._linear(h, p + "mlp.up_proj")
            x = x + self._linear(silu(gate) * up, p + "mlp.down_proj")
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        return x @ self.lm_head.T

    def greedy_generate(self, prompt_ids, n, stop_at_eos=False):
        """n greedy tokens after prompt_ids, recomputing the full sequence every step."""
        return self.greedy_with_margins(prompt_ids, n, stop_at_eos)[0]

    def greedy_with_margins(self, prompt_ids, n, stop_at_eos=False):
        """(tokens, margins): margins[i] is top1 - top2 logit at step i. A lower-precision
        implementation can only be expected to reproduce a token whose margin exceeds its
        logit error; compare tokens up to the first step with a near-tie."""
        ids = [int(t) for t in prompt_ids]
        eos = self.config.get("eos_token_id")
        eos = set(eos if isinstance(eos, list) else [eos])
        out, margins = [], []
        for _ in range(n):
            last = self.forward(ids)[-1]
            top2 = np.partition(last, -2)[-2:]
            nxt = int(np.argmax(last))
            out.append(nxt)
            margins.append(float(top2[1] - top2[0]))
            ids.append(nxt)
            if stop_at_eos and nxt in eos:
                break
        return out, margins


def _model(model):
    return model if isinstance(model, ReferenceModel) else ReferenceModel(model)


def forward(model_dir, token_ids):
    """Logits [T, vocab] in float64. model_dir may also be a loaded ReferenceModel."""
    return _model(model_dir).forward(token_ids)


def greedy_generate(model_dir, prompt_ids, n, stop_at_eos=False):
    return _model(model_dir).greedy_generate(prompt_ids, n, stop_at_eos)
