"""Run a kvcc CPU artifact (DIR/model.so + manifest.json) from Python via ctypes.

An independent harness for the compiled model: it binds weights from a Hugging
Face directory in the manifest's layout, keeps its own paged KV cache and calls
`kvcc_step` exactly as include/kvcc/Runtime/ModelABI.h specifies. The tests use
it to compare compiled logits with the float64 reference, without the C++
executor in the loop.
"""
import ctypes
import json
import os

import numpy as np

from . import safetensors_io
from .safetensors_io import load_file

# Canonical weight names (ModelSource) -> Hugging Face tensor names.
_HF_NAMES = {
    "embed": "model.embed_tokens.weight", "final_norm": "model.norm.weight",
    "lm_head": "lm_head.weight",
}
_HF_LAYER = {
    "attn_norm": "input_layernorm.weight", "wq": "self_attn.q_proj.weight",
    "wk": "self_attn.k_proj.weight", "wv": "self_attn.v_proj.weight",
    "bq": "self_attn.q_proj.bias", "bk": "self_attn.k_proj.bias",
    "bv": "self_attn.v_proj.bias", "wo": "self_attn.o_proj.weight",
    "mlp_norm": "post_attention_layernorm.weight", "w_gate": "mlp.gate_proj.weight",
    "w_up": "mlp.up_proj.weight", "w_down": "mlp.down_proj.weight",
}


def hf_name(canonical):
    if canonical in _HF_NAMES:
        return _HF_NAMES[canonical]
    _, layer, rest = canonical.split(".", 2)
    return "model.layers.%s.%s" % (layer, _HF_LAYER[rest])


def _descriptor(array):
    """MLIR's strided memref descriptor for a C-contiguous numpy array."""
    rank = array.ndim
    fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
              ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * rank),
              ("strides", ctypes.c_int64 * rank)]
    desc_type = type("MemRef%d" % rank, (ctypes.Structure,), {"_fields_": fields})
    ptr = array.ctypes.data
    strides = [s // array.itemsize for s in array.strides]
    return desc_type(ptr, ptr, 0, (ctypes.c_int64 * rank)(*array.shape),
                     (ctypes.c_int64 * rank)(*strides))


def schedule_step(seqs, block, take_page):
    """The arguments of ModelABI.h for one ragged step, as lists: tokens,
    positions, slots, query_start, context_lens, logit_rows and the block
    table rows (padded with page 0). seqs: dicts with 'pages' (grown with
    take_page()), 'len' (cached tokens, updated) and 'new' (token ids)."""
    tokens, positions, slots, starts, lens, rows = [], [], [], [0], [], []
    for s in seqs:
        for i, tok in enumerate(s["new"]):
            pos = s["len"] + i
            while pos // block >= len(s["pages"]):
                s["pages"].append(take_page())
            tokens.append(tok)
            positions.append(pos)
            slots.append(s["pages"][pos // block] * block + pos % block)
        s["len"] += len(s["new"])
        starts.append(starts[-1] + len(s["new"]))
        lens.append(s["len"])
        rows.append(starts[-1] - 1)
    width = max(len(s["pages"]) for s in seqs)
    tables = [s["pages"] + [0] * (width - len(s["pages"])) for s in seqs]
    return tokens, positions, slots, starts, lens, rows, tables


class Artifact:
    def __init__(self, artifact_dir, hf_dir, num_pages=256):
        with open(os.path.join(artifact_dir, "manifest.json")) as f:
            self.manifest = json.load(f)
        self._open(artifact_dir)
        tensors = load_file(os.path.join(hf_dir, "model.safetensors"))
        # The arena in the manifest's weights_dtype, rounded to nearest even
        # from float32 as kvcc-run's WeightArena does (bf16: raw bits).
        wdt = self.manifest["weights_dtype"]
        self.weights = np.zeros(self.manifest["weights_size"],
                                dtype={"f32": np.float32, "f16": np.float16, "bf16": np.uint16}[wdt])
        for w in self.manifest["weights"]:
            data = np.asarray(tensors[hf_name(w["name"])], dtype=np.float32)
            assert list(data.shape) == w["shape"], (w["name"], data.shape)
            flat = data.ravel()
            if wdt == "bf16":
                flat = safetensors_io.float32_to_bf16_bits(flat)
            self.weights[w["offset"]:w["offset"] + data.size] = flat
        c = self.manifest["cache"]
        self.block = c["block_size"]
        # Pages start as quiet NaNs of the cache's dtype (bf16: raw bits, numpy
        # has no bf16), so a read of an unwritten slot shows in the logits.
        dtype, nan = {"f32": (np.float32, np.nan), "f16": (np.float16, np.nan),
                      "bf16": (np.uint16, 0x7FC0)}[c["dtype"]]
        self.caches = [np.full((num_pages, 2, c["block_size"], c["kv_heads"], c["head_dim"]),
                               nan, dtype=dtype) for _ in range(c["layers"])]
        self.vocab = self.manifest["model"]["vocabSize"]
        self.free_pages = list(range(num_pages))

    def _open(self, artifact_dir):
        self.lib = ctypes.CDLL(os.path.join(artifact_dir, "model.so"))
        self.step_fn = self.lib.kvcc_step
        self.step_fn.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        self.step_fn.restype = None

    def _call(self, arrays):
        """Runs one step on ModelABI.h's arguments (numpy arrays, updated in place)."""
        descs = [_descriptor(a) for a in arrays]
        args = (ctypes.c_void_p * len(descs))(*[ctypes.addressof(d) for d in descs])
        self.step_fn(args)

    def step(self, seqs):
        """seqs: list of dicts with 'pages' (list, grown here), 'len' (tokens
        cached so far, updated) and 'new' (token ids). Returns logits [B, vocab];
        the model's greedy picks and their logits are left in last_greedy."""
        tokens, positions, slots, starts, lens, rows, table_rows = schedule_step(
            seqs, self.block, lambda: self.free_pages.pop(0))
        tables = np.array(table_rows, dtype=np.int32)
        arrays = [np.array(tokens, np.int32), np.array(positions, np.int64),
                  np.array(slots, np.int64), np.array(starts, np.int32),
                  np.array(lens, np.int32), tables, np.array(rows, np.int64), self.weights]
        arrays += self.caches
        logits = np.full((len(seqs), self.vocab), np.nan, dtype=np.float32)
        greedy = np.full(len(seqs), -1, dtype=np.int32)
        greedy_logit = np.full(len(seqs), np.nan, dtype=np.float32)
        arrays += [logits, greedy, greedy_logit]
        self._call(arrays)
        # The model's own argmax of each row (ModelABI.h outputs 9+L, 10+L).
        self.last_greedy = (greedy, greedy_logit)
        return logits
