#!/usr/bin/env python3
"""Static SASS profile of kvcc's GPU kernels, without a GPU.

    python3 bench/gpu/sass_profile.py MODULE.mlir|MODEL_DIR|MODEL.gguf [--arch sm_90]
                                      [--kernel REGEX] [--json OUT] [-- KVCC_FLAGS...]

Compiles MODULE.mlir with `build/bin/kvcc build --target=cuda --emit=ptx` (a model, a
Hugging Face directory or a GGUF file, with `kvcc compile`: every kernel of its step
function), assembles
each kernel with ptxas (registers, spills, shared memory), disassembles the cubin with
cuobjdump and reports every loop (a backward branch and the code it jumps back over):
its static instruction count and the instruction families that decide a kernel's speed
(tensor-core MMAs, ldmatrix, cp.async, global and shared loads, barriers, MUFU, float
and integer ALU). The counts are static: every path of the loop body, each instruction
once (a branch's two arms both count). They are what the prefill and decode kernels'
inner loops cost in issue slots before any measurement, and what a change to a kernel
moves; docs/performance.md quotes them with the command that gave them.

cuobjdump (and the nvdisasm it runs) come with the CUDA toolkit; where the toolkit has
neither (this project's build machine has ptxas only), the script fetches NVIDIA's
`nvidia-cuda-cuobjdump` and `nvidia-cuda-nvdisasm` wheels from PyPI and unpacks the
two binaries into build/tools/ once (KVCC_CUOBJDUMP names another cuobjdump).
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "build", "tools", "cuda-binutils")

# Instruction families reported per loop (SASS opcode before the first dot).
FAMILIES = [
    ("mma", ("HMMA", "HGMMA", "IMMA")),
    ("ldmatrix", ("LDSM",)),
    ("cp.async", ("LDGSTS",)),
    ("ld.global", ("LDG",)),
    ("st.global", ("STG",)),
    ("ld.shared", ("LDS",)),
    ("st.shared", ("STS",)),
    ("local", ("LDL", "STL")),  # spills, or local arrays (libdevice sinf's slow path)
    ("barrier", ("BAR",)),
    ("shuffle", ("SHFL",)),
    ("mufu", ("MUFU",)),
    ("fp32", ("FFMA", "FMUL", "FADD", "FMNMX", "FSEL", "FSETP", "FCHK")),
    ("convert", ("F2FP", "F2F", "I2F", "F2I", "HADD2", "HMUL2", "HFMA2")),
    ("int", ("IMAD", "IADD3", "LOP3", "LEA", "SHF", "ISETP", "SEL", "IABS", "VIADD",
             "PRMT", "IMNMX", "MOV", "UIADD3", "ULOP3", "USHF", "UISETP", "UMOV",
             "ULEA", "UIMAD", "USEL", "PLOP3", "P2R", "R2P", "S2R", "S2UR", "CS2R")),
]
FAMILY_OF = {op: name for name, ops in FAMILIES for op in ops}

INSTRUCTION = re.compile(
    r"^\s*/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_]*)((?:\.[A-Z0-9_]+)*)\s*([^;]*);")


def fail(message):
    print("sass_profile: " + message, file=sys.stderr)
    sys.exit(1)


def fetch_wheel_binary(package, binary):
    """`binary` from NVIDIA's PyPI wheel `package`, unpacked into build/tools once."""
    target = os.path.join(TOOLS, binary)
    if os.access(target, os.X_OK):
        return target
    os.makedirs(TOOLS, exist_ok=True)
    print("sass_profile: fetching %s (PyPI %s) into %s" % (binary, package, TOOLS),
          file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             package, "-d", tmp], capture_output=True, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if fetched.returncode != 0 or not wheels:
            fail("no %s on PATH and the %s wheel could not be fetched:\n%s" % (
                binary, package, fetched.stderr[-800:]))
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z:
            members = [m for m in z.namelist() if m.endswith("/bin/" + binary)]
            if not members:
                fail("the %s wheel holds no %s" % (package, binary))
            with z.open(members[0]) as src, open(target + ".part", "wb") as dst:
                shutil.copyfileobj(src, dst)
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)
    return target


def find_cuobjdump():
    """cuobjdump (and the nvdisasm it runs): KVCC_CUOBJDUMP, PATH, or NVIDIA's PyPI
    wheels under build/tools. Returns the binary and the environment to run it in."""
    env = dict(os.environ)
    named = os.environ.get("KVCC_CUOBJDUMP")
    if named:
        if not os.access(named, os.X_OK):
            fail("KVCC_CUOBJDUMP=%s is not an executable" % named)
        return named, env
    on_path = shutil.which("cuobjdump")
    if on_path and shutil.which("nvdisasm"):
        return on_path, env
    cuobjdump = fetch_wheel_binary("nvidia-cuda-cuobjdump", "cuobjdump")
    env["NVDISASM_PATH"] = os.path.dirname(fetch_wheel_binary("nvidia-cuda-nvdisasm", "nvdisasm"))
    return cuobjdump, env


def run(cmd, what, env=None):
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        fail("%s failed (%s):\n%s" % (what, " ".join(cmd), (done.stderr or done.stdout)[-2000:]))
    return done.stdout + done.stderr


def compile_kernels(kvcc, source, arch, flags, tmp):
    """PTX files (one a kernel) of a kvc module or a whole model, into tmp."""
    if source.endswith(".mlir"):
        run([kvcc, "build", source, "--target=cuda", "--emit=ptx", "--gpu-arch=" + arch,
             "-o", tmp] + flags, "kvcc build")
        return
    # kvcc compile prints every kernel module's PTX after a "// kernel module @NAME" line.
    text = run([kvcc, "compile", source, "--target=cuda", "--emit=ptx", "--gpu-arch=" + arch]
               + flags, "kvcc compile")
    parts = re.split(r"^// kernel module @(\S+)\n", text, flags=re.M)
    if len(parts) < 3:
        fail("kvcc compile %s printed no kernel modules" % source)
    for name, ptx in zip(parts[1::2], parts[2::2]):
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            fail("unexpected kernel module name %r" % name)
        with open(os.path.join(tmp, name + ".ptx"), "w") as f:
            f.write(ptx)


def ptxas_info(text):
    info = {}
    m = re.search(r"Used (\d+) registers", text)
    info["registers"] = int(m.group(1)) if m else None
    m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", text)
    info["spill_stores"], info["spill_loads"] = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    m = re.search(r"(\d+) bytes smem", text)
    info["static_smem"] = int(m.group(1)) if m else 0
    return info


def parse_sass(text):
    """[(address, opcode, modifiers, operands)] in address order; a guarded
    instruction's operands start with its guard (`@!P0 BRA P1, 0x4ab0` has
    operands `@!P0 P1, 0x4ab0`)."""
    out = []
    for line in text.splitlines():
        m = INSTRUCTION.match(line)
        if m:
            guard = m.group(2).strip() + " " if m.group(2) else ""
            out.append((int(m.group(1), 16), m.group(3), m.group(4), (guard + m.group(5)).strip()))
    return out


def branch_target(operands):
    m = re.search(r"(?:^|[\s,])(?:0x)?([0-9a-f]+)\s*$", operands.strip())
    return int(m.group(1), 16) if m else None


def loops_of(instructions):
    """Loops as (start, end) addresses: a branch back to a lower address."""
    loops = []
    for address, op, _, operands in instructions:
        if op != "BRA":
            continue
        target = branch_target(operands)
        if target is not None and target < address:  # not the `BRA .` that pads a kernel's end
            loops.append((target, address))
    return sorted(set(loops))


def branch_skipped(instructions, start, end):
    """Addresses of a loop's body that a forward branch inside it jumps over
    (an if's then or else): what is left runs on every iteration. The masked
    tiles' compares and selects, for one, are counted in the loop but run on
    a few tiles only."""
    skipped = set()
    for address, op, _, operands in instructions:
        if op != "BRA" or not start <= address < end:
            continue
        target = branch_target(operands)
        if target is not None and address < target <= end:
            skipped.update(a for a, _, _, _ in instructions if address < a < target)
    return skipped


def profile_range(instructions, start, end):
    ops = collections.Counter()
    families = collections.Counter()
    for address, op, _, _ in instructions:
        if start <= address <= end:
            ops[op] += 1
            families[FAMILY_OF.get(op, "other")] += 1
    return ops, families


def main():
    argv = sys.argv[1:]
    if argv == ["--fetch-tools"]:
        # scripts/install-deps.sh: cuobjdump and nvdisasm for the lit tests that read SASS.
        print(find_cuobjdump()[0])
        return
    flags = []
    if "--" in argv:
        flags = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("module", help="a kvc MLIR module (bench/gpu/make_kernels.py writes them), "
                    "or a model (a Hugging Face directory or a GGUF file)")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--kernel", default="", help="only kernels whose name matches this regex")
    ap.add_argument("--json", help="also write the profile here")
    args = ap.parse_args(argv)
    if not os.path.exists(args.module):
        fail("no module or model at %s" % args.module)
    kvcc = os.path.join(ROOT, "build", "bin", "kvcc")
    if not os.access(kvcc, os.X_OK):
        fail("no %s: build kvcc first (scripts/build.sh)" % kvcc)
    if not shutil.which("ptxas"):
        fail("no ptxas on PATH (the CUDA toolkit's)")
    cuobjdump, cuobjdump_env = find_cuobjdump()
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        compile_kernels(kvcc, args.module, args.arch, flags, tmp)
        for name in sorted(os.listdir(tmp)):
            kernel = name[:-len(".ptx")]
            if not name.endswith(".ptx") or not re.search(args.kernel, kernel):
                continue
            cubin = os.path.join(tmp, kernel + ".cubin")
            info = ptxas_info(run(["ptxas", "-arch=" + args.arch, "-v", os.path.join(tmp, name),
                                   "-o", cubin], "ptxas " + kernel))
            instructions = parse_sass(run([cuobjdump, "-sass", cubin], "cuobjdump " + kernel,
                                          cuobjdump_env))
            entry = dict(kernel=kernel, instructions=len(instructions), loops=[], **info)
            for start, end in loops_of(instructions):
                ops, families = profile_range(instructions, start, end)
                skipped = branch_skipped(instructions, start, end)
                entry["loops"].append(dict(start=start, end=end, instructions=sum(ops.values()),
                                           every_iteration=sum(ops.values()) - len(skipped),
                                           families=dict(families), opcodes=dict(ops)))
            report.append(entry)
    for e in report:
        print("%s (%s): %d registers, spills %d/%d bytes, %d bytes static smem, %d instructions" % (
            e["kernel"], args.arch, e["registers"] or 0, e["spill_stores"], e["spill_loads"],
            e["static_smem"], e["instructions"]))
        for lp in e["loops"]:
            fam = lp["families"]
            mma = fam.get("mma", 0)
            per = " (%.1f a MMA)" % (lp["instructions"] / mma) if mma else ""
            branches = ""
            if lp["every_iteration"] != lp["instructions"]:
                branches = ", %d outside its branches" % lp["every_iteration"]
            print("  loop 0x%04x-0x%04x: %d instructions%s%s" % (lp["start"], lp["end"],
                                                                 lp["instructions"], per, branches))
            print("    " + ", ".join("%s %d" % (name, fam[name])
                                     for name, _ in FAMILIES + [("other", ())] if fam.get(name)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(module=args.module, arch=args.arch, flags=flags, kernels=report), f,
                      indent=1)


if __name__ == "__main__":
    main()
