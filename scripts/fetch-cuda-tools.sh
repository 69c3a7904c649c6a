#!/usr/bin/env bash
# Prints the root of a CUDA toolkit that `kvcc compile --target=cuda` can use: one holding
# bin/ptxas, bin/fatbinary and nvvm/libdevice/libdevice.10.bc (what MLIR's NVVM target runs
# and links). An installed toolkit wins ($CUDA_HOME, ptxas on PATH, /usr/local/cuda); on a
# machine without one (a fresh Debian, which packages no CUDA 12+ toolkit), the three files
# come from NVIDIA's PyPI wheels nvidia-cuda-nvcc and nvidia-nvvm, unpacked once into
# $KVCC_CACHE/cuda-toolkit (default ~/.cache/kvcc), where the kvcc driver also looks.
#
# --cublas also makes sure kvcc-run can open cuBLAS 13 (the model's GEMMs on a GPU): from
# the loader's path or the toolkit, else PyPI's nvidia-cublas (a 420 MB download) into
# $KVCC_CACHE/cuda-toolkit/lib64, where the runtime looks last. Only a GPU run needs it.
#
# Usage: scripts/fetch-cuda-tools.sh [--fetch] [--cublas]   (--fetch: ignore installed toolkits)
set -euo pipefail

version=13.0.88          # CUDA 13.0: ptxas knows sm_80 … sm_120 and PTX 8.0 (what kvcc emits)
cublas_version=13.0.2.14 # CUDA 13.0's cuBLAS (drivers 580+, like the cubins ptxas 13.0 makes)
cache=${KVCC_CACHE:-$HOME/.cache/kvcc}
fetched="$cache/cuda-toolkit"
tools=(bin/ptxas bin/fatbinary nvvm/libdevice/libdevice.10.bc)
cublas=(lib64/libcublas.so.13 lib64/libcublasLt.so.13)

ignore_installed=0 want_cublas=0
for arg in "$@"; do
  case $arg in
    --fetch) ignore_installed=1 ;;
    --cublas) want_cublas=1 ;;
    *) echo "fetch-cuda-tools: unknown option '$arg' (known: --fetch, --cublas)" >&2; exit 2 ;;
  esac
done

has_tools() { # has_tools ROOT: the three files are there and ptxas runs
  local root=$1 f
  [ -n "$root" ] || return 1
  for f in "${tools[@]}"; do [ -s "$root/$f" ] || return 1; done
  "$root/bin/ptxas" --version >/dev/null 2>&1
}

# unpack DIR SPEC... : pip-downloads the wheels SPEC... and copies from them, into
# DIR/root/PATH, every PATH named in $want (a wheel keeps the toolkit's layout under
# nvidia/cu13/, with lib/ for the toolkit's lib64/); fails naming a PATH no wheel holds.
unpack() {
  local dir=$1; shift
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$dir/wheels" "$@" >&2
  python3 -c '
import os, shutil, sys, zipfile
dir, want = sys.argv[1], sys.argv[2:]
found = set()
for wheel in sorted(os.listdir(os.path.join(dir, "wheels"))):
    with zipfile.ZipFile(os.path.join(dir, "wheels", wheel)) as z:
        for member in z.namelist():
            for path in want:
                in_wheel = "lib/" + path[len("lib64/"):] if path.startswith("lib64/") else path
                if member.endswith("/" + in_wheel) and path not in found:
                    target = os.path.join(dir, "root", path)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with z.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    os.chmod(target, 0o755 if path.startswith("bin/") else 0o644)
                    found.add(path)
missing = [p for p in want if p not in found]
if missing:
    sys.exit("fetch-cuda-tools: the wheels hold no " + ", ".join(missing))
' "$dir" "${want[@]}"
  rm -rf "$dir/wheels"
}

root=""
if [ $ignore_installed = 0 ]; then
  candidates=("${CUDA_HOME:-}" "${CUDA_ROOT:-}" "${CUDA_PATH:-}")
  if ptxas=$(command -v ptxas 2>/dev/null); then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$ptxas")")")")
  fi
  candidates+=(/usr/local/cuda)
  for candidate in "${candidates[@]}"; do
    if has_tools "$candidate"; then root=$candidate; break; fi
  done
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/cuda-toolkit.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -z "$root" ]; then
  if ! has_tools "$fetched" || [ "$(cat "$fetched/VERSION" 2>/dev/null)" != "$version" ]; then
    echo "fetch-cuda-tools: no CUDA toolkit installed; fetching ptxas, fatbinary and libdevice" \
      "(PyPI nvidia-cuda-nvcc and nvidia-nvvm $version) into $fetched" >&2
    want=("${tools[@]}")
    unpack "$tmp" "nvidia-cuda-nvcc==$version" "nvidia-nvvm==$version"
    echo "$version" >"$tmp/root/VERSION"
    has_tools "$tmp/root" || { echo "fetch-cuda-tools: the fetched ptxas does not run" >&2; exit 1; }
    rm -rf "$fetched"
    mv "$tmp/root" "$fetched"
  fi
  root=$fetched
fi

if [ $want_cublas = 1 ] && [ ! -s "$root/lib64/libcublas.so.13" ] \
    && ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13 ' \
    && [ "$(cat "$fetched/lib64/CUBLAS_VERSION" 2>/dev/null)" != "$cublas_version" ]; then
  echo "fetch-cuda-tools: no cuBLAS 13 found; fetching PyPI nvidia-cublas $cublas_version" \
    "(420 MB) into $fetched/lib64" >&2
  want=("${cublas[@]}")
  unpack "$tmp" "nvidia-cublas==$cublas_version"
  echo "$cublas_version" >"$tmp/root/lib64/CUBLAS_VERSION"
  mkdir -p "$fetched"
  rm -rf "$fetched/lib64"
  mv "$tmp/root/lib64" "$fetched/lib64"
fi
echo "$root"
