#!/usr/bin/env bash
# Fuzzes every reader of untrusted input with libFuzzer (ASan + UBSan): GGUF (through the
# executor's loaders and tokenizer), safetensors, JSON (config.json, manifests), the Hugging
# Face tokenizer.json, Jinja chat templates and .npy. Builds them with clang in build-fuzz/
# (runtime and readers only: no MLIR), seeds each corpus from real files
# (test/fuzz/make_seeds.py), and runs each fuzzer for SECONDS (default 60) on one core.
# Crashes land in build-fuzz/findings/<Fuzzer>/; a finding becomes a unit test. Not part of
# scripts/test.sh: a fuzzer's reach depends on how long it runs.
#
# Usage: scripts/fuzz.sh [SECONDS] [FUZZER...]   (FUZZER: GGUF SafeTensors Json
#        TokenizerJson ChatTemplate Npy; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
fuzzers=("$@")
[ ${#fuzzers[@]} -gt 0 ] || fuzzers=(GGUF SafeTensors Json TokenizerJson ChatTemplate Npy)

./scripts/install-deps.sh >/dev/null
# libFuzzer and the sanitizer runtimes of clang 22 (install-deps brings clang-22 itself).
if ! dpkg-query -W -f='${Status}' libclang-rt-22-dev 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends libclang-rt-22-dev
fi

flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -G Ninja -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DKVCC_ENABLE_COMPILER=OFF -DKVCC_BUILD_FUZZERS=ON -DBUILD_TESTING=OFF >/dev/null
fi
ninja -C build-fuzz "${fuzzers[@]/#/kvcc-fuzz-}"

seeds=build-fuzz/seeds
rm -rf "$seeds" && python3 test/fuzz/make_seeds.py "$seeds"
status=0
for f in "${fuzzers[@]}"; do
  corpus=build-fuzz/corpus/$f findings=build-fuzz/findings/$f
  mkdir -p "$corpus" "$findings"
  echo "=== $f: ${seconds}s"
  # -rss_limit_mb: a reader must not allocate what the file only claims to hold.
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build-fuzz/bin/kvcc-fuzz-$f" "$corpus" "$seeds/$f" -max_total_time="$seconds" \
      -max_len=262144 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" \
      -print_final_stats=1 2>"build-fuzz/$f.log"; then
    status=1
    echo "$f: FOUND A PROBLEM (build-fuzz/$f.log, input in $findings/)"
    grep -m3 -E "ERROR|runtime error|SUMMARY" "build-fuzz/$f.log" || true
  fi
  grep -E "stat::number_of_executed_units|cov:" "build-fuzz/$f.log" | tail -2 || true
done
exit $status
