"""A small byte-level BPE tokenizer in the Hugging Face tokenizer.json format.

Used to give the tiny test models a real tokenizer.json (so the runtime's tokenizer is
exercised on the same format a real checkpoint ships) and to encode/decode in Python
scripts. Vocabulary layout of the files written here:

    ids 0..255      the GPT-2 byte-to-unicode symbol of byte value id
    next            one token per learned merge, in merge order
    next            <|endoftext|>, <|im_start|>, <|im_end|> (added tokens, special)
    rest            <|reserved_N|> fillers, only if the corpus ran out of merges

The Python encoder implements the GPT-2 ByteLevel pre-tokenizer (use_regex=true) with one
approximation: Python's `re` has no \\p{L} / \\p{N}, so letters are [^\\W\\d_] and numbers
\\d. For ASCII and most Latin text this splits identically.
"""

import json
import re

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# GPT-2's pre-tokenization pattern with \p{L} -> [^\W\d_] and \p{N} -> \d.
_PRETOKENIZE = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")

# Training text for the merges: plain English, so that " the", " and", "ing" etc. merge.
CORPUS = """
The cache holds the keys and the values of every token that the model has already seen.
When a new token arrives, the model computes its query, key and value, appends the key and
the value to the cache, and attends over everything that is in the cache. This is why the
second phase of generation is so much cheaper than the first: the model does not have to
recompute the past. In the first phase the prompt is processed in one pass, and the work is
dominated by large matrix products. In the second phase one token is processed at a time,
and the work is dominated by reading the weights and the cache from memory.
There was once a small village at the edge of a forest. The people of the village were
farmers, and in the morning they would walk to the fields and in the evening they would walk
back to their houses. One day a traveller came to the village and asked for something to eat.
The farmers gave him bread and water, and he thanked them and told them a story about the
sea, which none of them had ever seen. They listened until the night was dark and the fire
was low, and then they went to sleep thinking about the water and the waves and the ships.
Hello, how are you today? I am fine, thank you. What would you like to do this afternoon?
We could go for a walk, or we could read a book, or we could write a letter to our friends.
The quick brown fox jumps over the lazy dog. The number of the day is 42, and the year is 2024.
"""


def bytes_to_unicode():
    """GPT-2's reversible map byte value -> printable unicode character."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    codes = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, codes)))


_BYTE_TO_SYMBOL = bytes_to_unicode()
_SYMBOL_TO_BYTE = {s: b for b, s in _BYTE_TO_SYMBOL.items()}


def _to_symbols(text):
    return "".join(_BYTE_TO_SYMBOL[b] for b in text.encode("utf-8"))


def learn_merges(text, num_merges):
    """Plain BPE training over pre-tokenized words; ties broken by the pair itself so the
    result is deterministic. Stops early when every word is a single symbol."""
    counts = {}
    for word in _PRETOKENIZE.findall(text):
        key = tuple(_to_symbols(word))
        counts[key] = counts.get(key, 0) + 1
    words = list(counts.items())
    merges = []
    while len(merges) < num_merges:
        pairs = {}
        for symbols, freq in words:
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] = pairs.get(pair, 0) + freq
        if not pairs:
            break
        # Pairs seen once still merge (the most frequent first), so that a larger
        # vocab_size keeps learning whole words until every word is one token.
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        joined = best[0] + best[1]
        new_words = []
        for symbols, freq in words:
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            new_words.append((tuple(out), freq))
        words = new_words
    return merges


def build_tokenizer_json(vocab_size, corpus=CORPUS):
    """The tokenizer.json dict for a byte-level BPE with exactly `vocab_size` entries."""
    fixed = 256 + len(SPECIAL_TOKENS)
    if vocab_size < fixed:
        raise ValueError(f"vocab_size {vocab_size} < {fixed} (256 bytes + specials)")
    merges = learn_merges(corpus, vocab_size - fixed)
    vocab = {_BYTE_TO_SYMBOL[b]: b for b in range(256)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    specials = SPECIAL_TOKENS + [f"<|reserved_{i}|>"
                                 for i in range(vocab_size - fixed - len(merges))]
    added = []
    for content in specials:
        added.append({"id": len(vocab), "content": content, "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": False, "special": True})
        vocab[content] = len(vocab)
    assert len(vocab) == vocab_size
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": dict(byte_level),
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None,
            "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            # "a b" strings: accepted by every tokenizers version (the [a, b] list form
            # only by >= 0.20). Byte-level symbols never contain a space.
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def build_tokenizer_config(tokenizer_json, max_length=512):
    """tokenizer_config.json: ChatML template, bos <|endoftext|>, eos <|im_end|>."""
    decoder = {str(t["id"]): {k: t[k] for k in
                              ("content", "lstrip", "normalized", "rstrip", "single_word",
                               "special")}
               for t in tokenizer_json["added_tokens"]}
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": "<|endoftext|>",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "chat_template": CHATML_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_length,
        "tokenizer_class": "GPT2Tokenizer",
    }


class ByteLevelBPE:
    """Encoder/decoder for a tokenizer.json of the byte-level BPE kind."""

    def __init__(self, tokenizer_json):
        model = tokenizer_json["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"not a BPE tokenizer: {model.get('type')}")
        self.vocab = dict(model["vocab"])
        for t in tokenizer_json.get("added_tokens", []):
            self.vocab.setdefault(t["content"], t["id"])
        self.id_to_token = {i: s for s, i in self.vocab.items()}
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)
                  for m in model["merges"]]
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.specials = {t["content"] for t in tokenizer_json.get("added_tokens", [])}
        # Longest first, so that one special that prefixes another cannot shadow it.
        alternatives = sorted(self.specials, key=len, reverse=True)
        self._special_re = (re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
                            if alternatives else None)

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def _bpe(self, symbols):
        symbols = list(symbols)
        while len(symbols) > 1:
            ranked = [(self.ranks.get(p, None), i)
                      for i, p in enumerate(zip(symbols, symbols[1:]))]
            ranked = [(r, i) for r, i in ranked if r is not None]
            if not ranked:
                break
            best = min(ranked)[0]
            out, i = [], 0
            while i < len(symbols):
                if (i + 1 < len(symbols)
                        and self.ranks.get((symbols[i], symbols[i + 1])) == best):
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        return symbols

    def encode(self, text, allow_special=True):
        pieces = (self._special_re.split(text) if allow_special and self._special_re
                  else [text])
        ids = []
        for piece in pieces:
            if not piece:
                continue
            if allow_special and piece in self.specials:
                ids.append(self.vocab[piece])
                continue
            for word in _PRETOKENIZE.findall(piece):
                ids.extend(self.vocab[s] for s in self._bpe(_to_symbols(word)))
        return ids

    def decode(self, ids, skip_special=False):
        out = bytearray()
        for i in ids:
            token = self.id_to_token[int(i)]
            if token in self.specials:
                if not skip_special:
                    out += token.encode("utf-8")
            else:
                out += bytes(_SYMBOL_TO_BYTE[c] for c in token)
        return out.decode("utf-8", errors="replace")
