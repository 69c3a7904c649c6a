#!/usr/bin/env python3
"""Write a tiny random llama / mistral / qwen2 model directory in Hugging Face layout.

  python3 python/make_tiny_model.py --arch mistral --out /tmp/tiny-mistral --seed 1
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kvcc_ref.tiny_model import (ARCHS, add_shape_arguments, shape_from_args,  # noqa: E402
                                 write_tiny_model)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--seed", type=int, default=0)
    add_shape_arguments(ap)
    a = ap.parse_args()
    config = write_tiny_model(a.out, a.arch, a.seed, **shape_from_args(a))
    print(json.dumps({"out": os.path.abspath(a.out), "config": config}))


if __name__ == "__main__":
    main()
