#!/usr/bin/env bash
# Prints the root of the CUDA toolkit that `kvcc compile --target=cuda` uses: one holding
# bin/ptxas, bin/fatbinary and nvvm/libdevice/libdevice.10.bc (what MLIR's NVVM target runs
# and links). The search is the kvcc driver's (lib/Target/CUDATarget.cpp), in this order:
#   1. $CUDA_ROOT, $CUDA_HOME or $CUDA_PATH, the first one set (MLIR's order); it must be
#      complete: a named toolkit that lacks a file is an error, not a reason to look on;
#   2. the toolkit of the ptxas on PATH, then /usr/local/cuda;
#   3. $KVCC_CACHE/cuda-toolkit (default ~/.cache/kvcc): on a machine with none of these
#      (Debian 12 packages no CUDA 12+ toolkit), the three files are unpacked there once
#      from NVIDIA's PyPI wheels nvidia-cuda-nvcc and nvidia-nvvm.
#
# --cublas also makes sure kvcc-run can open cuBLAS (the model's GEMMs on a GPU) where
# lib/Runtime/CUDA/CublasMatmul.cpp looks: $KVCC_LIBCUBLAS, the loader's path, the toolkit
# of $CUDA_HOME / $CUDA_PATH, /usr/local/cuda; else PyPI's nvidia-cublas (a 420 MB download)
# into $KVCC_CACHE/cuda-toolkit/lib64, where the runtime looks last. Only a GPU run needs it.
#
# Usage: scripts/fetch-cuda-tools.sh [--fetch | --no-fetch] [--cublas]
#   --fetch: ignore installed toolkits;  --no-fetch: only look (exit 1 when none is found)
set -euo pipefail

version=13.0.88          # CUDA 13.0: ptxas knows sm_80 … sm_120 and PTX 8.0 (what kvcc emits)
cublas_version=13.0.2.14 # CUDA 13.0's cuBLAS (drivers 580+, like the cubins ptxas 13.0 makes)
cache=${KVCC_CACHE:-$HOME/.cache/kvcc}
fetched="$cache/cuda-toolkit"
tools=(bin/ptxas bin/fatbinary nvvm/libdevice/libdevice.10.bc)
cublas=(lib64/libcublas.so.13 lib64/libcublasLt.so.13)

mode=find want_cublas=0
for arg in "$@"; do
  case $arg in
    --fetch) mode=fetch ;;
    --no-fetch) mode=look ;;
    --cublas) want_cublas=1 ;;
    *) echo "fetch-cuda-tools: unknown option '$arg' (known: --fetch, --no-fetch, --cublas)" >&2
       exit 2 ;;
  esac
done

has_tools() { # has_tools ROOT: the three files are there and ptxas runs
  local root=$1 f
  [ -n "$root" ] || return 1
  for f in "${tools[@]}"; do [ -s "$root/$f" ] || return 1; done
  "$root/bin/ptxas" --version >/dev/null 2>&1
}

# The toolkit already on this machine, or nothing; exits when a named one is incomplete.
installed_toolkit() {
  local var
  for var in CUDA_ROOT CUDA_HOME CUDA_PATH; do
    [ -n "${!var:-}" ] || continue
    if has_tools "${!var}"; then echo "${!var}"; return 0; fi
    echo "fetch-cuda-tools: $var=${!var} is not a complete CUDA toolkit (it needs" \
      "${tools[*]}); fix or unset it" >&2
    exit 1
  done
  local ptxas candidate
  if ptxas=$(command -v ptxas 2>/dev/null); then
    candidate=$(dirname "$(dirname "$(readlink -f "$ptxas")")")
    if has_tools "$candidate"; then echo "$candidate"; return 0; fi
  fi
  if has_tools /usr/local/cuda; then echo /usr/local/cuda; fi
}

# fetch_files STAGE SPEC... -- PATH...: pip-downloads the wheels SPEC... and copies from
# them every PATH into STAGE/PATH (a wheel keeps the toolkit's layout under nvidia/cu13/,
# with lib/ for the toolkit's lib64/); fails naming a PATH no wheel holds.
fetch_files() {
  local stage=$1; shift
  local specs=()
  while [ "$1" != -- ]; do specs+=("$1"); shift; done
  shift
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$stage/wheels" "${specs[@]}" >&2
  python3 -c '
import os, shutil, sys, zipfile
stage, want = sys.argv[1], sys.argv[2:]
found = set()
for wheel in sorted(os.listdir(os.path.join(stage, "wheels"))):
    with zipfile.ZipFile(os.path.join(stage, "wheels", wheel)) as z:
        for member in z.namelist():
            for path in want:
                in_wheel = "lib/" + path[len("lib64/"):] if path.startswith("lib64/") else path
                if member.endswith("/" + in_wheel) and path not in found:
                    target = os.path.join(stage, path)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with z.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    os.chmod(target, 0o755 if path.startswith("bin/") else 0o644)
                    found.add(path)
missing = [p for p in want if p not in found]
if missing:
    sys.exit("fetch-cuda-tools: the wheels hold no " + ", ".join(missing))
' "$stage" "$@"
  rm -rf "$stage/wheels"
}

# A scratch folder in the cache (renamed into place only when complete, so an interrupted
# fetch leaves no half toolkit) and a lock, so two fetches never interleave.
begin_fetch() {
  mkdir -p "$cache"
  exec 9>"$cache/cuda-toolkit.lock"
  flock 9
  find "$cache" -maxdepth 1 -name 'cuda-toolkit.tmp.*' -exec rm -rf {} + # an earlier run's, killed
  stage=$(mktemp -d "$cache/cuda-toolkit.tmp.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  trap 'exit 1' INT TERM
}

cublas_found() { # where CublasMatmul.cpp's candidatePaths() would find a cuBLAS
  [ -n "${KVCC_LIBCUBLAS:-}" ] && return 0
  python3 -c '
import ctypes, sys
for name in ("libcublas.so.13", "libcublas.so.12", "libcublas.so"):
    try:
        ctypes.CDLL(name)
        sys.exit(0)
    except OSError:
        pass
sys.exit(1)' && return 0
  local root v
  for root in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [ -n "$root" ] || continue
    for v in 13 12; do [ -s "$root/lib64/libcublas.so.$v" ] && return 0; done
  done
  [ "$(cat "$fetched/lib64/CUBLAS_VERSION" 2>/dev/null)" = "$cublas_version" ]
}

fetched_tools_stale() {
  ! has_tools "$fetched" || [ "$(cat "$fetched/VERSION" 2>/dev/null)" != "$version" ]
}

root=""
[ $mode = fetch ] || root=$(installed_toolkit)
if [ -z "$root" ]; then
  if fetched_tools_stale; then
    if [ $mode = look ]; then
      echo "fetch-cuda-tools: no CUDA toolkit (run scripts/fetch-cuda-tools.sh)" >&2
      exit 1
    fi
    begin_fetch
  fi
  if fetched_tools_stale; then # still, once the lock is ours
    echo "fetch-cuda-tools: no CUDA toolkit installed; fetching ptxas, fatbinary and libdevice" \
      "(PyPI nvidia-cuda-nvcc and nvidia-nvvm $version) into $fetched" >&2
    fetch_files "$stage/root" "nvidia-cuda-nvcc==$version" "nvidia-nvvm==$version" -- "${tools[@]}"
    echo "$version" >"$stage/root/VERSION"
    has_tools "$stage/root" || { echo "fetch-cuda-tools: the fetched ptxas does not run" >&2; exit 1; }
    # A cuBLAS fetched before stays.
    [ -d "$fetched/lib64" ] && mv "$fetched/lib64" "$stage/root/lib64"
    rm -rf "$fetched"
    mv "$stage/root" "$fetched"
  fi
  root=$fetched
fi

if [ $want_cublas = 1 ] && ! cublas_found; then
  if [ $mode = look ]; then
    echo "fetch-cuda-tools: no cuBLAS (run scripts/fetch-cuda-tools.sh --cublas)" >&2
    exit 1
  fi
  [ -n "${stage:-}" ] || begin_fetch
fi
if [ $want_cublas = 1 ] && ! cublas_found; then # still, once the lock is ours
  echo "fetch-cuda-tools: no cuBLAS found; fetching PyPI nvidia-cublas $cublas_version" \
    "(420 MB) into $fetched/lib64" >&2
  fetch_files "$stage/cublas" "nvidia-cublas==$cublas_version" -- "${cublas[@]}"
  echo "$cublas_version" >"$stage/cublas/lib64/CUBLAS_VERSION"
  mkdir -p "$fetched"
  rm -rf "$fetched/lib64"
  mv "$stage/cublas/lib64" "$fetched/lib64"
fi
echo "$root"
