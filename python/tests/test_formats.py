"""File formats written by kvcc_ref: safetensors, tokenizer.json / tokenizer_config.json,
the tiny model directory, and the two CLIs.

Run: python3 -m unittest discover -s python/tests
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PYTHON_DIR)

from kvcc_ref import reference, safetensors_io, tiny_model, tokenizer  # noqa: E402


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kvcc_ref_test_")
        self.addCleanup(shutil.rmtree, self.tmp, True)


class SafetensorsTest(TempDirTest):
    def test_round_trip_and_header_layout(self):
        rng = np.random.default_rng(0)
        tensors = {
            "a.weight": rng.normal(size=(3, 5)).astype(np.float32),
            "b": rng.normal(size=(7,)).astype(np.float16),
            "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
            "scalar": np.array(2.5, dtype=np.float32),
        }
        path = os.path.join(self.tmp, "t.safetensors")
        safetensors_io.save_file(tensors, path, metadata={"format": "pt"})
        back = safetensors_io.load_file(path)
        self.assertEqual(set(back), set(tensors))
        for name, array in tensors.items():
            self.assertEqual(back[name].dtype, array.dtype, name)
            np.testing.assert_array_equal(back[name], array, err_msg=name)
        self.assertEqual(safetensors_io.load_metadata(path), {"format": "pt"})

        with open(path, "rb") as f:
            raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(raw[8:8 + n])
        self.assertEqual(header["__metadata__"], {"format": "pt"})
        self.assertEqual(header["a.weight"]["dtype"], "F32")
        self.assertEqual(header["a.weight"]["shape"], [3, 5])
        self.assertEqual(header["scalar"]["shape"], [])
        begin, end = header["b"]["data_offsets"]
        self.assertEqual(begin % 8, 0)
        np.testing.assert_array_equal(
            np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f2"), tensors["b"])
        data_end = max(v["data_offsets"][1] for k, v in header.items()
                       if k != "__metadata__")
        self.assertTrue(0 <= len(raw) - (8 + n + data_end) < 8)  # at most alignment pad

    def test_bf16_rounds_to_nearest_even(self):
        ulp = 2.0 ** -7  # bf16 spacing just above 1.0
        x = np.array([1.0, 1 + ulp / 2, 1 + 1.5 * ulp, 1 + ulp / 2 + 2.0 ** -20, -2.5,
                      np.inf, -np.inf, np.finfo(np.float32).max, np.nan], dtype=np.float32)
        bits = safetensors_io.float32_to_bf16_bits(x)
        self.assertEqual([hex(b) for b in bits[:7]],
                         ["0x3f80", "0x3f80", "0x3f82", "0x3f81", "0xc020", "0x7f80",
                          "0xff80"])
        self.assertEqual(bits[7], 0x7F80)  # rounds past the largest bf16 to infinity
        self.assertTrue(np.isnan(safetensors_io.bf16_bits_to_float32(bits[8:])[0]))

        rng = np.random.default_rng(1)
        values = rng.normal(size=(64, 32)).astype(np.float32)
        path = os.path.join(self.tmp, "b.safetensors")
        safetensors_io.save_file({"w": values, "i": np.arange(4, dtype=np.int32)}, path,
                                 dtype="BF16")
        back = safetensors_io.load_file(path, as_dtype=np.float64)
        self.assertEqual(back["w"].dtype, np.float64)
        self.assertEqual(back["i"].dtype, np.int32)  # integers are never converted
        rel = np.abs(back["w"] - values) / np.abs(values)
        self.assertLessEqual(rel.max(), 2.0 ** -8)
        self.assertEqual(safetensors_io.read_header(path)[0]["w"]["dtype"], "BF16")

    def test_f16_conversion_on_write(self):
        values = np.linspace(-3, 3, 11).astype(np.float32)
        path = os.path.join(self.tmp, "h.safetensors")
        safetensors_io.save_file({"w": values}, path, dtype="F16")
        back = safetensors_io.load_file(path)["w"]
        self.assertEqual(back.dtype, np.float16)
        np.testing.assert_array_equal(back, values.astype(np.float16))


class TokenizerTest(TempDirTest):
    def test_tokenizer_files_are_consistent(self):
        tiny_model.write_tiny_model(self.tmp, "llama", 0, vocab=300)
        with open(os.path.join(self.tmp, "tokenizer.json"), encoding="utf-8") as f:
            tok = json.load(f)
        with open(os.path.join(self.tmp, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        with open(os.path.join(self.tmp, "tokenizer_config.json"), encoding="utf-8") as f:
            tok_config = json.load(f)
        model = tok["model"]
        self.assertEqual(model["type"], "BPE")
        self.assertEqual(tok["pre_tokenizer"]["type"], "ByteLevel")
        self.assertFalse(tok["pre_tokenizer"]["add_prefix_space"])
        self.assertTrue(tok["pre_tokenizer"]["use_regex"])
        self.assertEqual(tok["decoder"]["type"], "ByteLevel")
        vocab = model["vocab"]
        self.assertEqual(len(vocab), config["vocab_size"])
        self.assertEqual(sorted(vocab.values()), list(range(config["vocab_size"])))
        byte_symbols = tokenizer.bytes_to_unicode()
        for b in range(256):
            self.assertEqual(vocab[byte_symbols[b]], b)
        for merge in model["merges"]:
            a, b = merge.split(" ")
            self.assertIn(a, vocab)
            self.assertIn(b, vocab)
            self.assertIn(a + b, vocab)
        specials = {t["content"]: t["id"] for t in tok["added_tokens"]}
        self.assertEqual(set(specials), set(tokenizer.SPECIAL_TOKENS))
        self.assertTrue(all(t["special"] for t in tok["added_tokens"]))
        for content, i in specials.items():
            self.assertEqual(vocab[content], i)
        self.assertEqual(config["bos_token_id"], specials[tok_config["bos_token"]])
        self.assertEqual(config["eos_token_id"], specials[tok_config["eos_token"]])
        self.assertIn("<|im_start|>", tok_config["chat_template"])
        self.assertIn("add_generation_prompt", tok_config["chat_template"])

    def test_encode_decode(self):
        tok = tokenizer.ByteLevelBPE(tokenizer.build_tokenizer_json(300))
        for word in (" the", " and", "The"):
            self.assertEqual(len(tok.encode(word)), 1, word)
        text = "Hello, the world!  Ünïcödé 中文\n\n<|im_start|>user\nhi<|im_end|>"
        ids = tok.encode(text)
        self.assertEqual(tok.decode(ids), text)
        self.assertIn(tok.vocab["<|im_start|>"], ids)
        self.assertLess(len(tok.encode("the cache and the model")),
                        len("the cache and the model".encode("utf-8")))
        self.assertEqual(tok.decode(ids, skip_special=True),
                         "Hello, the world!  Ünïcödé 中文\n\nuser\nhi")

    def test_any_vocab_size_is_exact(self):
        for size in (259, 300, 700):
            tok = tokenizer.build_tokenizer_json(size)
            self.assertEqual(len(tok["model"]["vocab"]), size)
            ids = [t["id"] for t in tok["added_tokens"]]
            self.assertEqual(ids, list(range(size - len(ids), size)))
        with self.assertRaises(ValueError):
            tokenizer.build_tokenizer_json(258)


class TinyModelTest(TempDirTest):
    def expected_names(self, layers, qwen2, tied):
        names = {"model.embed_tokens.weight", "model.norm.weight"}
        if not tied:
            names.add("lm_head.weight")
        for i in range(layers):
            p = f"model.layers.{i}."
            names |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
            names |= {p + f"self_attn.{x}_proj.weight" for x in "qkvo"}
            names |= {p + f"mlp.{x}_proj.weight" for x in ("gate", "up", "down")}
            if qwen2:
                names |= {p + f"self_attn.{x}_proj.bias" for x in "qkv"}
        return names

    def test_tensor_names_shapes_and_config(self):
        for arch, tied in (("llama", False), ("mistral", False), ("qwen2", True)):
            out = os.path.join(self.tmp, arch)
            config = tiny_model.write_tiny_model(out, arch, 3, layers=3, hidden=48, heads=6,
                                                 kv_heads=2, head_dim=8, ffn=96, vocab=320,
                                                 tied=tied)
            w = safetensors_io.load_file(os.path.join(out, "model.safetensors"))
            self.assertEqual(set(w), self.expected_names(3, arch == "qwen2", tied))
            self.assertTrue(all(a.dtype == np.float32 for a in w.values()))
            self.assertEqual(w["model.embed_tokens.weight"].shape, (320, 48))
            self.assertEqual(w["model.layers.0.self_attn.q_proj.weight"].shape, (48, 48))
            self.assertEqual(w["model.layers.0.self_attn.k_proj.weight"].shape, (16, 48))
            self.assertEqual(w["model.layers.2.self_attn.o_proj.weight"].shape, (48, 48))
            self.assertEqual(w["model.layers.1.mlp.down_proj.weight"].shape, (48, 96))
            with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
                self.assertEqual(json.load(f), config)
            self.assertEqual(config["model_type"], arch)
            self.assertEqual(config["architectures"], [tiny_model.ARCHS[arch]])
            self.assertEqual(config["tie_word_embeddings"], tied)
            self.assertEqual(config["torch_dtype"], "float32")
            self.assertEqual(config["num_key_value_heads"], 2)
            self.assertEqual("sliding_window" in config, arch != "llama")
            self.assertEqual(config.get("use_sliding_window"),
                             False if arch == "qwen2" else None)

    def test_same_seed_same_weights(self):
        a, b, c = (os.path.join(self.tmp, n) for n in "abc")
        tiny_model.write_tiny_model(a, "llama", 5)
        tiny_model.write_tiny_model(b, "llama", 5)
        tiny_model.write_tiny_model(c, "llama", 6)
        read = []
        for d in (a, b, c):
            with open(os.path.join(d, "model.safetensors"), "rb") as f:
                read.append(f.read())
        self.assertEqual(read[0], read[1])
        self.assertNotEqual(read[0], read[2])


class CliTest(TempDirTest):
    def run_py(self, *args):
        done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              check=True)
        return json.loads(done.stdout)

    def test_make_then_forward(self):
        out = os.path.join(self.tmp, "m")
        made = self.run_py(os.path.join(PYTHON_DIR, "make_tiny_model.py"), "--arch",
                           "mistral", "--out", out, "--seed", "2", "--layers", "1",
                           "--sliding-window", "4", "--tied")
        self.assertEqual(made["config"]["sliding_window"], 4)
        self.assertTrue(made["config"]["tie_word_embeddings"])
        script = os.path.join(PYTHON_DIR, "reference_forward.py")
        npy = os.path.join(self.tmp, "logits.npy")
        summary = self.run_py(script, out, "--tokens", "1,2,3,40", "--out", npy)
        logits = reference.forward(out, [1, 2, 3, 40])
        np.testing.assert_array_equal(np.load(npy), logits)
        self.assertEqual(summary["shape"], [4, 300])
        self.assertEqual(summary["argmax"], logits.argmax(axis=-1).tolist())
        gen = self.run_py(script, out, "--tokens", "1,2,3", "--greedy", "5")
        self.assertEqual(gen["generated"], reference.greedy_generate(out, [1, 2, 3], 5))
        text = self.run_py(script, out, "--text", "the cache", "--greedy", "2")
        self.assertEqual(len(text["generated"]), 2)
        self.assertIn("generated_text", text)


if __name__ == "__main__":
    unittest.main()
