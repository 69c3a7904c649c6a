#!/usr/bin/env python3
"""Write a tiny random llama / mistral / qwen2 model directory in Hugging Face layout.

  python3 python/make_tiny_model.py --arch mistral --out /tmp/tiny-mistral --seed 1
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kvcc_ref.tiny_model import ARCHS, write_tiny_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=16)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=300)
    ap.add_argument("--sliding-window", type=int, default=8,
                    help="mistral: attention window; qwen2: written but disabled")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--tied", action="store_true", help="tie lm_head to the embedding")
    a = ap.parse_args()
    config = write_tiny_model(
        a.out, a.arch, a.seed, layers=a.layers, hidden=a.hidden, heads=a.heads,
        kv_heads=a.kv_heads, head_dim=a.head_dim, ffn=a.ffn, vocab=a.vocab,
        sliding_window=a.sliding_window, tied=a.tied, rope_theta=a.rope_theta)
    print(json.dumps({"out": os.path.abspath(a.out), "config": config}))


if __name__ == "__main__":
    main()
