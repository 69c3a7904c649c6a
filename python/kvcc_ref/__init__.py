"""kvcc_ref: numpy references for kvcc (stdlib + numpy only; no torch).

Modules:
  safetensors_io  read/write .safetensors by hand (F32/F16/BF16 and integer types)
  tokenizer       byte-level BPE tokenizer.json writer and encoder/decoder
  tiny_model      tiny random llama/mistral/qwen2 checkpoints in HF layout
  reference       float64 full-recompute forward pass and greedy generation
  attention_ref   float64 paged / dense attention over ragged batches
"""

from .attention_ref import (build_paged_cache, dense_attention_reference,
                            paged_attention_reference)
from .reference import ReferenceModel, forward, greedy_generate
from .tiny_model import write_tiny_model

__all__ = [
    "ReferenceModel", "build_paged_cache", "dense_attention_reference", "forward",
    "greedy_generate", "paged_attention_reference", "write_tiny_model",
]
