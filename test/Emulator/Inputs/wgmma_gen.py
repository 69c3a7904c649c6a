"""Writes wgmma.mlir (wgmma.test's kernels) to stdout:
python3 wgmma_gen.py > wgmma.mlir. The generated file is committed."""
# n = 128 (V in two 64-column atoms, LBO apart), k = 32 (two k-steps a
# chain: 32 bytes on in the K-major rows, 16 rows on in V).
N, K = 128, 32
W = N // 2
acc = "!llvm.struct<(" + ", ".join(["f32"] * W) + ")>"
def rs_asm(n, trans):
    d = ", ".join(f"${i}" for i in range(n // 2)); a = n // 2
    return ("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\nwgmma.mma_async.sync.aligned.m64n%dk16.f32.f16.f16 {%s}, {$%d, $%d, $%d, $%d}, $%d, p, 1, 1, %s;\n}\n"
            % (n, d, a, a + 1, a + 2, a + 3, a + 4, "1" if trans else "0"))
def mlir_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\0A") + '"'
rs_cons = ",".join(["=f"] * W) + ",r,r,r,r,l," + ",".join(str(i) for i in range(W))
fence_cons = ",".join(["=f"] * W) + "," + ",".join(str(i) for i in range(W))
KBITS = (1 << 62) | (64 << 32) | (1 << 16)
VBITS = (1 << 62) | (64 << 32) | ((K * 128 // 16) << 16)
IMG = 32768
TYPES = f"memref<{IMG}xi8>", "memref<128x8xi32>", f"memref<128x{W}xf32>"
SIG = ", ".join(f"%{n}: {t}" for n, t in zip(("img", "afrag", "out"), TYPES))
ARGS = ", ".join(f"%{n} : {t}" for n, t in zip(("img", "afrag", "out"), TYPES))

def kernel(name, fence=True, race=False, early=False, late_a=False, proxy_fence=True,
           copy_race=False, unpublished_copy=False, split_desc=False, late_proxy_fence=False):
    L = []
    e = L.append
    e(f"    gpu.func @{name}({SIG}) kernel {{")
    e("      %c0 = arith.constant 0 : index")
    e("      %c128 = arith.constant 128 : index")
    e("      %c1024 = arith.constant 1024 : index")
    e(f"      %cimg = arith.constant {IMG} : index")
    e("      %tid = gpu.thread_id x")
    e("      %buf = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>")
    e("      %p = memref.extract_aligned_pointer_as_index %buf : memref<?xi8, #gpu.address_space<workgroup>> -> index")
    e("      %rem = arith.remui %p, %c1024 : index")
    e("      %pad1 = arith.subi %c1024, %rem : index")
    e("      %pad = arith.remui %pad1, %c1024 : index")
    e("      scf.for %i = %tid to %cimg step %c128 {")
    e(f"        %v = memref.load %img[%i] : {TYPES[0]}")
    e("        %j = arith.addi %i, %pad : index")
    e("        memref.store %v, %buf[%j] : memref<?xi8, #gpu.address_space<workgroup>>")
    e("      }")
    fence_proxy = "      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}"
    if proxy_fence and not late_proxy_fence:
        e(fence_proxy)
    e("      gpu.barrier")
    if late_proxy_fence:  # after the barrier: other warps' MMAs may read first
        e(fence_proxy)
    def copy_b(token):
        # Each thread copies 16 bytes of B's image over themselves (the same
        # bytes: only the async-access order can tell this is wrong).
        e("      %c16 = arith.constant 16 : index")
        e("      %cB = arith.constant 8192 : index")
        e("      %lo = arith.muli %tid, %c16 : index")
        e("      %src = arith.addi %lo, %cB : index")
        e("      %dst = arith.addi %src, %pad : index")
        e(f"      %{token} = nvgpu.device_async_copy %img[%src], %buf[%dst], 16 : {TYPES[0]} to memref<?xi8, #gpu.address_space<workgroup>>")
        e(f"      %{token}g = nvgpu.device_async_create_group %{token}")
    if unpublished_copy:
        # The copy lands and is fenced, but no barrier publishes it to the
        # other warps before their MMAs read it.
        copy_b("cp")
        e("      nvgpu.device_async_wait %cpg {numGroups = 0 : i32}")
        e("      nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}")
    e("      %base = arith.addi %p, %pad : index")
    e("      %base64 = arith.index_cast %base : index to i64")
    e("      %c4 = arith.constant 4 : i64")
    e("      %enc = arith.shrui %base64, %c4 : i64")
    e(f"      %kbits = arith.constant {KBITS} : i64")
    e(f"      %vbits = arith.constant {VBITS} : i64")
    e("      %oB = arith.constant 512 : i64")   # B at byte 8192
    e("      %oV = arith.constant 1536 : i64")  # V at byte 24576
    e("      %descA = arith.addi %enc, %kbits : i64")
    e("      %eB = arith.addi %enc, %oB : i64")
    e("      %descB = arith.addi %eB, %kbits : i64")
    b_desc = "%descB"
    if split_desc:
        # Warps 2 and 3 name B 1024 bytes further on than warps 0 and 1.
        e("      %c64i = arith.constant 64 : index")
        e("      %half = arith.divui %tid, %c64i : index")
        e("      %half64 = arith.index_cast %half : index to i64")
        e("      %c64 = arith.constant 64 : i64")
        e("      %shift = arith.muli %half64, %c64 : i64")
        e("      %descB2 = arith.addi %descB, %shift : i64")
        b_desc = "%descB2"
    e("      %eV = arith.addi %enc, %oV : i64")
    e("      %descV = arith.addi %eV, %vbits : i64")
    # The second k-step: 32 bytes on along K-major rows, 16 rows of 128
    # bytes on in V.
    e("      %kstep = arith.constant 2 : i64")
    e("      %vstep = arith.constant 128 : i64")
    e("      %descA1 = arith.addi %descA, %kstep : i64")
    e(f"      %descB1 = arith.addi {b_desc}, %kstep : i64")
    e("      %descV1 = arith.addi %descV, %vstep : i64")
    def load_a():
        for k in range(8):
            e(f"      %ck{k} = arith.constant {k} : index")
            e(f"      %a{k} = memref.load %afrag[%tid, %ck{k}] : {TYPES[1]}")
    if not late_a:
        load_a()
    e(f"      %u = llvm.mlir.undef : {acc}")
    if fence:
        e("      nvvm.wgmma.fence.aligned")
    if late_a:  # A's registers written after the fence
        load_a()
    e(f"      %d0s = nvvm.wgmma.mma_async %descA, {b_desc}, %u, <m = 64, n = {N}, k = 16>, D[<f32>, <zero>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : {acc} -> {acc}")
    e(f"      %d = nvvm.wgmma.mma_async %descA1, %descB1, %d0s, <m = 64, n = {N}, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <row>], B[<f16>, <one>, <col>] : {acc} -> {acc}")
    for i in range(W):
        e(f"      %d{i} = llvm.extractvalue %d[{i}] : {acc}")
    ds = ", ".join(f"%d{i}" for i in range(W))
    fs = ", ".join(["f32"] * W)
    e(f"      %r0 = llvm.inline_asm has_side_effects {mlir_str(rs_asm(N, True))}, {mlir_str(rs_cons)} "
             f"%a0, %a1, %a2, %a3, %descV, {ds} : (i32, i32, i32, i32, i64, {fs}) -> {acc}")
    for i in range(W):
        e(f"      %e{i} = llvm.extractvalue %r0[{i}] : {acc}")
    es = ", ".join(f"%e{i}" for i in range(W))
    e(f"      %r = llvm.inline_asm has_side_effects {mlir_str(rs_asm(N, True))}, {mlir_str(rs_cons)} "
             f"%a4, %a5, %a6, %a7, %descV1, {es} : (i32, i32, i32, i32, i64, {fs}) -> {acc}")
    e("      nvvm.wgmma.commit.group.sync.aligned")
    if race:
        # Every warp reads B: bump a byte of it after the issue (each warp
        # then sees a change, whatever the interleaving).
        e("      %one = arith.constant 1 : i8")
        e("      %cB = arith.constant 8192 : index")
        e("      %hit = arith.addi %pad, %cB : index")
        e("      %old = memref.load %buf[%hit] : memref<?xi8, #gpu.address_space<workgroup>>")
        e("      %new = arith.addi %old, %one : i8")
        e("      memref.store %new, %buf[%hit] : memref<?xi8, #gpu.address_space<workgroup>>")
    if copy_race:
        # A copy into B while the MMAs that read it are in flight.
        copy_b("cp")
    res = "%r"
    if early:
        for i in range(W):
            e(f"      %x{i} = llvm.extractvalue %r[{i}] : {acc}")
    e("      nvvm.wgmma.wait.group.sync.aligned 0")
    if copy_race:
        e("      nvgpu.device_async_wait %cpg {numGroups = 0 : i32}")
    if not early:
        for i in range(W):
            e(f"      %x{i} = llvm.extractvalue %r[{i}] : {acc}")
        xs = ", ".join(f"%x{i}" for i in range(W))
        e(f"      %f = llvm.inline_asm has_side_effects \"// wgmma accumulators settled\", {mlir_str(fence_cons)} {xs} : ({', '.join(['f32'] * W)}) -> {acc}")
        for i in range(W):
            e(f"      %y{i} = llvm.extractvalue %f[{i}] : {acc}")
    for i in range(W):
        e(f"      %ci{i} = arith.constant {i} : index")
        e(f"      memref.store %{'x' if early else 'y'}{i}, %out[%tid, %ci{i}] : {TYPES[2]}")
    e("      gpu.return")
    e("    }")
    return "\n".join(L)

out = []
out.append("// wgmma in the GPU emulator (wgmma.test): D = A·B (both by shared-memory")
out.append("// descriptor, K-major, 128-byte swizzle; n = 128, k = 32: two MMAs a chain),")
out.append("// then D += A2·V (A2 in registers, V N-major by descriptor in two 64-column")
out.append("// atoms), chained without a wait, for one warpgroup; the")
out.append("// operand images and A2's fragments come from wgmma_check.py. Written by")
out.append("// wgmma_gen.py (do not edit by hand); the variants break one rule each.")
out.append("module attributes {gpu.container_module} {")
VARIANTS = {"wgmma": {}, "no_fence": {"fence": False}, "race": {"race": True},
            "early": {"early": True}, "late_a": {"late_a": True},
            "no_proxy_fence": {"proxy_fence": False}, "copy_race": {"copy_race": True},
            "unpublished_copy": {"unpublished_copy": True}, "split_desc": {"split_desc": True},
            "late_proxy_fence": {"late_proxy_fence": True}}
for name in VARIANTS:
    out.append(f"  func.func @{name}({SIG}) {{")
    out.append("    %c1 = arith.constant 1 : index")
    out.append("    %c128 = arith.constant 128 : index")
    out.append(f"    %smem = arith.constant {IMG + 1024} : i32")
    out.append(f"    gpu.launch_func @k::@{name} blocks in (%c1, %c1, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %smem args({ARGS})")
    out.append("    return")
    out.append("  }")
out.append("  gpu.module @k {")
for name, flags in VARIANTS.items():
    out.append(kernel(name, **flags))
out.append("  }")
out.append("}")
print("\n".join(out))
