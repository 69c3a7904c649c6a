#!/usr/bin/env python3
"""Float64 reference forward pass / greedy generation of a Hugging Face model directory.

  python3 python/reference_forward.py DIR --tokens 1,2,3                 # summary JSON
  python3 python/reference_forward.py DIR --tokens 1,2,3 --out logits.npy
  python3 python/reference_forward.py DIR --text "Hello" --greedy 16     # uses tokenizer.json
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from kvcc_ref.reference import ReferenceModel  # noqa: E402
from kvcc_ref.tokenizer import ByteLevelBPE  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help="comma-separated token ids")
    src.add_argument("--text", help="prompt text, encoded with DIR/tokenizer.json")
    ap.add_argument("--out", help="save logits [T, vocab] (float64) as .npy")
    ap.add_argument("--greedy", type=int, metavar="N",
                    help="generate N tokens greedily (full recompute per step)")
    ap.add_argument("--top", type=int, default=5, help="top-k of the last row to print")
    a = ap.parse_args()

    tok_path = os.path.join(a.model_dir, "tokenizer.json")
    tok = None
    if os.path.exists(tok_path):
        try:
            tok = ByteLevelBPE.from_file(tok_path)
        except (ValueError, KeyError):  # not a byte-level BPE: token ids only
            tok = None
    if a.text is not None:
        if tok is None:
            ap.error(f"--text needs {tok_path}")
        ids = tok.encode(a.text)
    else:
        ids = [int(t) for t in a.tokens.split(",") if t.strip()]

    model = ReferenceModel(a.model_dir)
    result = {"tokens": ids}
    if a.greedy is not None:
        gen, margins = model.greedy_with_margins(ids, a.greedy)
        result["generated"] = gen
        result["margins"] = [round(m, 6) for m in margins]
        if tok is not None:
            result["generated_text"] = tok.decode(gen)
    else:
        logits = model.forward(ids)
        if a.out:
            np.save(a.out, logits)
            result["out"] = a.out
        last = logits[-1]
        top = np.argsort(-last)[:a.top]
        result.update(
            shape=list(logits.shape),
            argmax=[int(i) for i in logits.argmax(axis=-1)],
            last_top=[{"id": int(i), "logit": float(last[i])} for i in top])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
