"""Operands and the check of wgmma.test.

Writes the shared-memory image of the three wgmma operands, laid out as the
PTX ISA's canonical 128-byte-swizzle layouts say (restated here from the ISA,
apart from the emulator's model), and the register fragments of A2; then
checks that the kernel's D fragments hold A·B + A2·V.

  wgmma_check.py make DIR     DIR/{img,afrag,out}.npy and DIR/ref.npy
  wgmma_check.py check DIR    compares DIR/out/arg2.npy with DIR/ref.npy
"""
import sys

import numpy as np

M, N, K = 64, 128, 32
A_AT, B_AT, V_AT, IMAGE = 0, 8192, 24576, 32768
V_LBO = K * 128  # bytes between V's 64-column atoms


def k_major_128b(mn, k):
    """Byte of element (mn, k) in a K-major 128B-swizzle operand: rows of 128
    bytes, 8-row atoms of 1024 bytes, 16-byte chunk c of row r at c ^ (r % 8)."""
    return (mn // 8) * 1024 + (mn % 8) * 128 + (((k // 8) ^ (mn % 8)) * 16) + (k % 8) * 2


def mn_major_128b(k, n, lbo):
    """Byte of element (k, n) in an MN-major 128B-swizzle operand: 64 n a
    128-byte row, a row a k, 8-row atoms 1024 bytes apart, n-atoms LBO apart."""
    return (n // 64) * lbo + (k // 8) * 1024 + (k % 8) * 128 + ((((n % 64) // 8) ^ (k % 8)) * 16) + (n % 8) * 2


def make(d):
    rng = np.random.default_rng(7)
    a, b, a2, v = (rng.standard_normal(s).astype(np.float16) for s in ((M, K), (K, N), (M, K), (K, N)))
    image = np.zeros(IMAGE, np.uint8)

    def put(at, x):
        image[at:at + 2] = np.frombuffer(np.float16(x).tobytes(), np.uint8)

    for m in range(M):
        for k in range(K):
            put(A_AT + k_major_128b(m, k), a[m, k])
    for n in range(N):
        for k in range(K):
            put(B_AT + k_major_128b(n, k), b[k, n])
            put(V_AT + mn_major_128b(k, n, V_LBO), v[k, n])
    # A2's fragments, 4 registers a k-step of 16.
    frag = np.zeros((128, 4 * K // 16), np.uint32)
    for tid in range(128):
        q, lane = divmod(tid, 32)
        g, t = divmod(lane, 4)
        for r in range(4 * K // 16):
            ks, rr = divmod(r, 4)
            row, col = 16 * q + g + 8 * (rr % 2), 16 * ks + 2 * t + 8 * (rr // 2)
            lo, hi = (int(np.float16(a2[row, col + h]).view(np.uint16)) for h in (0, 1))
            frag[tid, r] = lo | (hi << 16)
    np.save(d + "/img.npy", image.view(np.int8))
    np.save(d + "/afrag.npy", frag.view(np.int32))
    np.save(d + "/out.npy", np.zeros((128, N // 2), np.float32))
    ref = a.astype(np.float64) @ b.astype(np.float64) + a2.astype(np.float64) @ v.astype(np.float64)
    np.save(d + "/ref.npy", ref)


def check(d):
    out, ref = np.load(d + "/out/arg2.npy"), np.load(d + "/ref.npy")
    got = np.full((M, N), np.nan)
    for tid in range(128):
        q, lane = divmod(tid, 32)
        g, t = divmod(lane, 4)
        for j in range(N // 8):
            for i in range(2):
                for h in range(2):
                    got[16 * q + g + 8 * i, 8 * j + 2 * t + h] = out[tid, 4 * j + 2 * i + h]
    err = np.abs(got - ref).max()
    if not err <= 1e-3 * max(1.0, np.abs(ref).max()):
        sys.exit(f"wgmma result differs from A·B + A2·V by up to {err}")
    print(f"wgmma matches A·B + A2·V (max error {err:.2e})")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
