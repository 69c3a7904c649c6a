"""Tiny random decoder-only models in Hugging Face layout (llama, mistral, qwen2).

write_tiny_model(out_dir, arch, seed, ...) writes
    config.json, generation_config.json, model.safetensors (fp32, HF tensor names),
    tokenizer.json (byte-level BPE), tokenizer_config.json (ChatML template)

Weight scales. Every projection has std gain/sqrt(fan_in), so after an RMSNorm (unit RMS
input) each projection's output has RMS ~gain and the residual stream stays O(1)
(embedding RMS ~0.13, each block adds ~1-2). Choices that keep greedy decoding from
collapsing onto one repeated token, checked over many seeds:
  * q/k gain 1.5: attention scores have std ~2, so attention is selective rather than a
    uniform average (which would also hide masking bugs in whatever is compared with it);
  * o_proj/down_proj gain 2 and a small embedding: the blocks, which see the context,
    dominate the residual stream rather than the current token's embedding;
  * tied models: the final norm weight has random signs (see make_weights).
The LM head (or tied embedding) gives logits with std ~4, so the top two logits are
usually ~1 apart; near-ties still occur, see ReferenceModel.greedy_with_margins.
"""

import json
import os

import numpy as np

from . import safetensors_io, tokenizer

ARCHS = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
}


def make_config(arch, layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16, ffn=128,
                vocab=300, sliding_window=8, tied=False, bos_token_id=None,
                eos_token_id=None, rope_theta=10000.0, max_positions=512):
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {sorted(ARCHS)}")
    if heads % kv_heads:
        raise ValueError(f"heads {heads} not divisible by kv_heads {kv_heads}")
    if head_dim % 2:
        raise ValueError(f"head_dim {head_dim} must be even for rotary embedding")
    config = {
        "architectures": [ARCHS[arch]],
        "model_type": arch,
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "hidden_act": "silu",
        "rope_theta": float(rope_theta),
        "rope_scaling": None,
        "rms_norm_eps": 1e-6,
        "max_position_embeddings": max_positions,
        "tie_word_embeddings": bool(tied),
        "torch_dtype": "float32",
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
    }
    if arch == "llama":
        config.update(attention_bias=False, mlp_bias=False, pretraining_tp=1)
    elif arch == "mistral":
        config["sliding_window"] = sliding_window
    elif arch == "qwen2":
        # As in real Qwen2 configs: a window size is present but switched off, and a
        # reader must look at use_sliding_window before applying it.
        config.update(use_sliding_window=False, sliding_window=sliding_window,
                      max_window_layers=layers)
    return config


def make_weights(config, seed):
    """Random fp32 weights for `config`, keyed by HF tensor name."""
    rng = np.random.default_rng(seed)
    hidden = config["hidden_size"]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim, ffn = config["head_dim"], config["intermediate_size"]
    vocab = config["vocab_size"]

    def linear(out_features, in_features, gain=1.0):
        # HF nn.Linear layout: [out, in], y = x @ W.T
        return rng.normal(0.0, gain / np.sqrt(in_features), (out_features, in_features))

    def norm_weight():
        return 1.0 + 0.1 * rng.normal(size=hidden)

    w = {"model.embed_tokens.weight": rng.normal(0.0, 1.0 / np.sqrt(hidden), (vocab, hidden))}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm_weight()
        w[p + "self_attn.q_proj.weight"] = linear(heads * head_dim, hidden, 1.5)
        w[p + "self_attn.k_proj.weight"] = linear(kv_heads * head_dim, hidden, 1.5)
        w[p + "self_attn.v_proj.weight"] = linear(kv_heads * head_dim, hidden)
        if config["model_type"] == "qwen2":
            w[p + "self_attn.q_proj.bias"] = 0.2 * rng.normal(size=heads * head_dim)
            w[p + "self_attn.k_proj.bias"] = 0.2 * rng.normal(size=kv_heads * head_dim)
            w[p + "self_attn.v_proj.bias"] = 0.2 * rng.normal(size=kv_heads * head_dim)
        w[p + "self_attn.o_proj.weight"] = linear(hidden, heads * head_dim, 2.0)
        w[p + "post_attention_layernorm.weight"] = norm_weight()
        w[p + "mlp.gate_proj.weight"] = linear(ffn, hidden)
        w[p + "mlp.up_proj.weight"] = linear(ffn, hidden)
        w[p + "mlp.down_proj.weight"] = linear(hidden, ffn, 2.0)
    if config["tie_word_embeddings"]:
        # Logits are sum_d w_d norm(x)_d e_jd. The current token's own embedding is part
        # of x, so with w_d > 0 its logit carries a bias sum_d w_d e_td^2 > 0 and random
        # tied models fall into repeating one token. Random signs make that bias average
        # to zero; magnitude 4 gives logits std ~4 like the untied head (|e_j| ~ 1).
        signs = np.where(rng.random(hidden) < 0.5, -1.0, 1.0)
        w["model.norm.weight"] = 4.0 * signs * norm_weight()
    else:
        w["model.norm.weight"] = norm_weight()
        w["lm_head.weight"] = linear(vocab, hidden, 4.0)
    return {k: v.astype(np.float32) for k, v in w.items()}


def add_shape_arguments(parser):
    """The command-line options of make_config's geometry (--layers, --hidden, --heads,
    --kv-heads, --head-dim, --ffn, --vocab, --sliding-window, --rope-theta, --tied),
    with make_config's defaults; shape_from_args turns them into its keywords."""
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--ffn", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=300)
    parser.add_argument("--sliding-window", type=int, default=8,
                        help="mistral: attention window; qwen2: written but disabled")
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--tied", action="store_true", help="tie lm_head to the embedding")


def shape_from_args(args):
    """make_config's keywords from the options add_shape_arguments added."""
    return dict(layers=args.layers, hidden=args.hidden, heads=args.heads,
                kv_heads=args.kv_heads, head_dim=args.head_dim, ffn=args.ffn,
                vocab=args.vocab, sliding_window=args.sliding_window, tied=args.tied,
                rope_theta=args.rope_theta)


def write_tiny_model(out_dir, arch="llama", seed=0, **dims):
    """Write a complete HF-style model directory; returns the config dict.

    dims: keyword arguments of make_config (layers, hidden, heads, kv_heads, head_dim,
    ffn, vocab, sliding_window, tied, rope_theta, max_positions).
    """
    os.makedirs(out_dir, exist_ok=True)
    vocab = dims.get("vocab", 300)
    tok = tokenizer.build_tokenizer_json(vocab)
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    config = make_config(arch, bos_token_id=ids["<|endoftext|>"],
                         eos_token_id=ids["<|im_end|>"], **dims)
    weights = make_weights(config, seed)

    def dump(name, obj):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")

    dump("config.json", config)
    dump("generation_config.json", {
        "bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"],
        "do_sample": False})
    dump("tokenizer.json", tok)
    dump("tokenizer_config.json", tokenizer.build_tokenizer_config(
        tok, config["max_position_embeddings"]))
    safetensors_io.save_file(weights, os.path.join(out_dir, "model.safetensors"),
                             metadata={"format": "pt", "kvcc_seed": str(seed)})
    return config
