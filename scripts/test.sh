#!/usr/bin/env bash
# The README test command: installs what is needed, builds, and runs every test suite
# (lit: IR, tools and end to end; GoogleTest: one binary per component; Python references).
# Prints each suite's summary and exits non-zero if any suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh || exit 1
./scripts/build.sh || exit 1
# The real model for the end-to-end tests (cached outside the repo).
./scripts/fetch-model.sh >/dev/null || exit 1

status=0
# ptxas must judge every generated kernel here, GPU or not: without a toolkit the CUDA
# target tests would be UNSUPPORTED, so a failed fetch fails the run (after the rest).
if ! ./scripts/fetch-cuda-tools.sh >/dev/null; then
  echo "test: no CUDA toolkit (scripts/fetch-cuda-tools.sh failed): the ptxas tests cannot run"
  status=1
fi
echo "=== lit ==="
/usr/lib/llvm-22/bin/lit -sv build/test || status=1

echo "=== GoogleTest ==="
for t in build/bin/kvcc-*-tests; do
  echo "--- $(basename "$t")"
  "$t" --gtest_brief=1 || status=1
done

if [ -d python/tests ]; then
  echo "=== Python references ==="
  python3 -m unittest discover -s python/tests || status=1
fi

if [ $status = 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED"; fi
exit $status
