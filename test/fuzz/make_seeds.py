#!/usr/bin/env python3
"""Seed corpora for the fuzzers in test/fuzz (scripts/fuzz.sh runs this).

Valid inputs get a fuzzer past the first checks of a format, so each corpus starts
from real files: a tiny llama and qwen2 in Hugging Face layout (python/kvcc_ref,
the same writer the tests use) and the same models written as GGUF (tokenizer in
the metadata, a chat template, weights in F32 and F16, and one tensor of each
quantized type kvcc dequantizes), plus chat templates and .npy arrays.

Hostile inputs sit beside them (hostile-*): chains and nesting far past every cap,
counts and sizes no file could hold. libFuzzer grows its inputs slowly, so it rarely
builds a 100,000-link chain by itself; the expression-chain stack overflow of the chat
templates was found this way, not by mutation.

Usage: make_seeds.py OUT_DIR   (writes OUT_DIR/<Fuzzer>/*)
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from kvcc_ref import safetensors_io  # noqa: E402
from kvcc_ref.artifact import hf_name  # noqa: E402
from kvcc_ref.tiny_model import write_tiny_model  # noqa: E402

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
TEMPLATES = [
    CHATML,
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content | trim }}"
    " [/INST]{% elif m.role == 'assistant' %}{{ m.content }}{{ eos_token }}{% else %}"
    "{{ raise_exception('unknown role ' ~ m.role) }}{% endif %}{% endfor %}",
    "{% set ns = namespace(n=0) %}{% macro say(x, y='!') %}{{ x|upper }}{{ y }}{% endmacro %}"
    "{% for m in messages[::-1] if m.content %}{% set ns.n = ns.n + loop.index %}"
    "{{ say(m.role) }}{{ m.content[:5] }}{{ '%d'|format(ns.n) if ns.n is number }}"
    "{% endfor %}{{ messages|length }} {{ [1, 2, 3]|join(',') }} {{ {'a': 1}.a }}"
    "{# comment #}{%- if not add_generation_prompt -%} end {%- endif -%}",
]

GGUF_STRING, GGUF_ARRAY = 8, 9
GGUF_SCALARS = {"u32": (4, "<I"), "i32": (5, "<i"), "f32": (6, "<f"), "bool": (7, "<?")}
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q4_1, GGML_Q8_0 = 0, 1, 2, 3, 8
# GGUF names of the canonical weights (lib/Frontend/ModelSource.cpp's table); the
# Hugging Face names come from kvcc_ref.artifact.hf_name.
GGUF_GLOBAL = {"embed": "token_embd.weight", "final_norm": "output_norm.weight",
               "lm_head": "output.weight"}
GGUF_LAYER = {
    "attn_norm": "attn_norm.weight", "wq": "attn_q.weight", "wk": "attn_k.weight",
    "wv": "attn_v.weight", "bq": "attn_q.bias", "bk": "attn_k.bias", "bv": "attn_v.bias",
    "wo": "attn_output.weight", "mlp_norm": "ffn_norm.weight", "w_gate": "ffn_gate.weight",
    "w_up": "ffn_up.weight", "w_down": "ffn_down.weight",
}


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(kind, value):
    if kind == "str":
        return struct.pack("<I", GGUF_STRING) + gguf_string(value)
    if kind == "str[]":
        return (struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, len(value))
                + b"".join(gguf_string(s) for s in value))
    if kind == "i32[]":
        return struct.pack("<IIQ", GGUF_ARRAY, 5, len(value)) + struct.pack("<%di" % len(value), *value)
    code, fmt = GGUF_SCALARS[kind]
    return struct.pack("<I", code) + struct.pack(fmt, value)


def write_gguf(path, metadata, tensors, alignment=32):
    """metadata: [(key, kind, value)]; tensors: [(name, dims ne[0] first, ggml type, bytes)]."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, kind, value in metadata:
        out += gguf_string(key) + gguf_value(kind, value)
    offset, data = 0, bytearray()
    for name, dims, ggml_type, payload in tensors:
        offset = (len(data) + alignment - 1) // alignment * alignment
        data += b"\0" * (offset - len(data)) + payload
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += struct.pack("<%dQ" % len(dims), *dims) + struct.pack("<IQ", ggml_type, offset)
    out += b"\0" * (-len(out) % alignment)
    with open(path, "wb") as f:
        f.write(out + data)


def gguf_from_hf(model_dir, path, arch, template):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    tok = json.load(open(os.path.join(model_dir, "tokenizer.json")))
    vocab = dict(tok["model"]["vocab"])
    for added in tok["added_tokens"]:
        vocab[added["content"]] = added["id"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {a["id"] for a in tok["added_tokens"] if a["special"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    p = arch + "."
    metadata = [
        ("general.architecture", "str", arch), ("general.alignment", "u32", 32),
        (p + "block_count", "u32", config["num_hidden_layers"]),
        (p + "embedding_length", "u32", config["hidden_size"]),
        (p + "attention.head_count", "u32", config["num_attention_heads"]),
        (p + "attention.head_count_kv", "u32", config["num_key_value_heads"]),
        (p + "attention.key_length", "u32", config["head_dim"]),
        (p + "feed_forward_length", "u32", config["intermediate_size"]),
        (p + "context_length", "u32", config["max_position_embeddings"]),
        (p + "attention.layer_norm_rms_epsilon", "f32", config["rms_norm_eps"]),
        (p + "rope.freq_base", "f32", config["rope_theta"]),
        ("tokenizer.ggml.model", "str", "gpt2"), ("tokenizer.ggml.pre", "str", "smollm"),
        ("tokenizer.ggml.tokens", "str[]", tokens), ("tokenizer.ggml.merges", "str[]", merges),
        ("tokenizer.ggml.token_type", "i32[]", [3 if i in special else 1 for i in range(len(tokens))]),
        ("tokenizer.ggml.bos_token_id", "u32", config["bos_token_id"]),
        ("tokenizer.ggml.eos_token_id", "u32", config["eos_token_id"]),
        ("tokenizer.ggml.add_bos_token", "bool", False),
        ("tokenizer.chat_template", "str", template),
    ]
    weights = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    names = dict(GGUF_GLOBAL)
    for layer in range(config["num_hidden_layers"]):
        names.update({"layers.%d.%s" % (layer, c): "blk.%d.%s" % (layer, g)
                      for c, g in GGUF_LAYER.items()})
    tensors = []
    for i, (canonical, gname) in enumerate(sorted(names.items())):
        w = weights.get(hf_name(canonical))
        if w is None:
            continue  # biases of a llama, lm_head of a tied model
        dims = list(reversed(w.shape))
        if w.ndim == 2 and i % 2:
            tensors.append((gname, dims, GGML_F16, w.astype(np.float16).tobytes()))
        else:
            tensors.append((gname, dims, GGML_F32, w.astype(np.float32).tobytes()))
    rng = np.random.default_rng(1)
    # One 64-element tensor of each quantized type (2 blocks of 32): bytes as stored,
    # with finite f16 scales.
    scale = np.float16(0.01).tobytes()
    q8 = b"".join(scale + rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(2))
    q4 = b"".join(scale + rng.integers(0, 256, 16, dtype=np.uint8).tobytes() for _ in range(2))
    q41 = b"".join(scale + scale + rng.integers(0, 256, 16, dtype=np.uint8).tobytes() for _ in range(2))
    tensors += [("extra.q8_0", [64], GGML_Q8_0, q8), ("extra.q4_0", [64], GGML_Q4_0, q4),
                ("extra.q4_1", [32, 2], GGML_Q4_1, q41)]
    write_gguf(path, metadata, tensors)


def write_hostile(dirs):
    def put(fuzzer, name, data):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(dirs[fuzzer], "hostile-" + name), mode) as f:
            f.write(data)

    for name, link in (("index", "[0]"), ("filter", "|string"), ("add", "+1"), ("attr", ".a"),
                       ("test", " is defined"), ("concat", " ~ 'x'")):
        put("ChatTemplate", "chain-" + name, "{{ messages" + link * 50000 + " }}")
    put("ChatTemplate", "nested-if", "{% if true %}" * 20000 + "x" + "{% endif %}" * 20000)
    put("ChatTemplate", "nested-parens", "{{ " + "(" * 100000 + "1" + ")" * 100000 + " }}")
    put("ChatTemplate", "nested-not", "{{ " + "not " * 100000 + "true }}")
    put("Json", "nested-arrays", "[" * 200000 + "]" * 200000)
    put("Json", "nested-objects", '{"a":' * 100000 + "1" + "}" * 100000)
    put("Json", "numbers", '[1e999999, -1e999999, 123456789012345678901234567890, -0, 1e-400]')
    put("Json", "strings", '["\\ud800", "\\udc00\\ud800", "\\u0000", "' + "\\" * 1000 + '"]')

    def key(name):
        return struct.pack("<Q", len(name)) + name.encode()

    header = b"GGUF" + struct.pack("<I", 3)
    nested = key("general.deep") + struct.pack("<I", GGUF_ARRAY)
    nested += struct.pack("<IQ", GGUF_ARRAY, 1) * 100000 + struct.pack("<IQI", 4, 1, 7)
    put("GGUF", "nested-arrays", header + struct.pack("<QQ", 0, 1) + nested)
    put("GGUF", "huge-counts", header + struct.pack("<QQ", 2**62, 2**62))
    put("GGUF", "huge-array", header + struct.pack("<QQ", 0, 1) + key("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, 2**40))
    put("GGUF", "huge-dims", header + struct.pack("<QQ", 1, 0) + key("token_embd.weight")
        + struct.pack("<I4QIQ", 4, 2**40, 2**40, 2**40, 2**40, GGML_F32, 0))
    put("SafeTensors", "huge-header", struct.pack("<Q", 2**62) + b"{}")
    put("SafeTensors", "huge-shape", (lambda h: struct.pack("<Q", len(h)) + h)(
        b'{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}') + b"\0" * 4)
    put("Npy", "huge-shape", b"\x93NUMPY\x01\x00" + struct.pack("<H", 70)
        + b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }".ljust(69)
        + b"\n")


def main():
    out = sys.argv[1]
    dirs = {name: os.path.join(out, name) for name in
            ("GGUF", "SafeTensors", "Json", "TokenizerJson", "ChatTemplate", "Npy")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    models = os.path.join(out, "models")
    for n, arch in enumerate(("llama", "qwen2")):
        model_dir = os.path.join(models, arch)
        write_tiny_model(model_dir, arch=arch, seed=n, layers=1, hidden=16, heads=2, kv_heads=1,
                         head_dim=8, ffn=32, vocab=300, max_positions=64)
        gguf_from_hf(model_dir, os.path.join(dirs["GGUF"], arch + ".gguf"), arch, TEMPLATES[n])
        with open(os.path.join(model_dir, "model.safetensors"), "rb") as src, \
                open(os.path.join(dirs["SafeTensors"], arch + ".safetensors"), "wb") as dst:
            dst.write(src.read())
        for name in ("config.json", "tokenizer_config.json", "generation_config.json"):
            with open(os.path.join(model_dir, name)) as src, \
                    open(os.path.join(dirs["Json"], arch + "-" + name), "w") as dst:
                dst.write(src.read())
        with open(os.path.join(model_dir, "tokenizer.json")) as src, \
                open(os.path.join(dirs["TokenizerJson"], arch + ".json"), "w") as dst:
            dst.write(src.read())
    for n, template in enumerate(TEMPLATES):
        with open(os.path.join(dirs["ChatTemplate"], "t%d.jinja" % n), "w") as f:
            f.write(template)
    for n, array in enumerate((np.arange(12, dtype=np.float32).reshape(3, 4),
                               np.arange(5, dtype=np.int64), np.ones((2, 2, 2), np.float16))):
        np.save(os.path.join(dirs["Npy"], "a%d.npy" % n), array)
    write_hostile(dirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
