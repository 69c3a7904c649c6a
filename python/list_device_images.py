#!/usr/bin/env python3
"""Lists the device images a CUDA artifact (model.so, or a `kvcc build` library) embeds.

MLIR's gpu-module-to-binary puts one fatbin per gpu.module into the host library as a
plain constant (no .nv_fatbin section, so `cuobjdump model.so` finds no device code).
This finds each fatbin by its header (magic 0xBA55ED50, version, header size, payload
size), writes it out and asks cuobjdump what it holds. A GPU newer than the compiled
arch can run the artifact only if every fatbin carries the PTX next to the cubin (the
driver JIT-compiles it), so the exit status is non-zero when one lacks either.

Usage: list_device_images.py --cuobjdump CUOBJDUMP LIBRARY.so
Prints one line per fatbin ("fatbin 3: ELF sm_90, PTX sm_90") and a summary.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile

MAGIC = struct.pack("<I", 0xBA55ED50)


def fatbins(data):
    """The fatbins in `data`, each as bytes: a 16-byte header (magic, version 1, header
    size 16, payload size u64) and the payload. A magic number without that header is
    not one (host code may hold the four bytes); a header whose payload runs past the
    end of the file is an error."""
    found, at = [], data.find(MAGIC)
    while at >= 0:
        if at + 16 <= len(data):
            version, header, payload = struct.unpack_from("<HHQ", data, at + 4)
            if version == 1 and header == 16:
                end = at + header + payload
                if end > len(data):
                    raise ValueError("the fatbin at offset %d claims %d bytes, %d past the end "
                                     "of the file" % (at, header + payload, end - len(data)))
                found.append(data[at:end])
                at = data.find(MAGIC, end)
                continue
        at = data.find(MAGIC, at + 4)
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuobjdump", required=True)
    p.add_argument("library")
    a = p.parse_args()
    try:
        with open(a.library, "rb") as f:
            blobs = fatbins(f.read())
    except (OSError, ValueError) as e:
        print("%s: %s" % (a.library, e), file=sys.stderr)
        return 1
    if not blobs:
        print("%s: no fatbin" % a.library, file=sys.stderr)
        return 1
    incomplete = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, blob in enumerate(blobs):
            path = os.path.join(tmp, "image%d.fatbin" % i)
            with open(path, "wb") as f:
                f.write(blob)
            try:
                listed = subprocess.run([a.cuobjdump, "-lelf", "-lptx", path],
                                        capture_output=True, text=True)
            except OSError as e:
                print("cannot run %s: %s" % (a.cuobjdump, e), file=sys.stderr)
                return 1
            if listed.returncode != 0:
                print("%s: cuobjdump failed on fatbin %d: %s"
                      % (a.library, i, listed.stderr.strip()), file=sys.stderr)
                return 1
            # "ELF file    1: image0.1.sm_90.cubin", "PTX file    1: image0.1.sm_90.ptx"
            images = re.findall(r"^(ELF|PTX) file\s+\d+:\s+\S*?\.(sm_\w+)\.(?:cubin|ptx)$",
                                listed.stdout, re.M)
            kinds = {kind for kind, _ in images}
            incomplete += int(kinds != {"ELF", "PTX"})
            print("fatbin %d: %s" % (i, ", ".join("%s %s" % im for im in images) or "empty"))
    print("%d fatbins, %d without both a cubin and PTX" % (len(blobs), incomplete))
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
