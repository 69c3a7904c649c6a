"""bench/gpu/sass_profile.py's parsing of ptxas and cuobjdump output (no CUDA tools
needed: the texts are the tools' formats, cut down).

Run: python3 -m unittest discover -s python/tests
"""

import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "gpu"))

import sass_profile  # noqa: E402

# cuobjdump -sass: an address comment, an optional predicate, the opcode with its
# modifiers, operands, then the encoding; the encoding's second half on its own line.
SASS = """
        code for sm_90
                Function : kvc_prefill_attention
        /*0000*/                   LDC R1, c[0x0][0x28] ;                    /* 0x00000a00ff017b82 */
                                                                             /* 0x000fe20000000800 */
        /*0010*/                   S2R R0, SR_TID.X ;                        /* 0x0000000000007919 */
        /*0020*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;             /* 0x0000000000007b1d */
        /*0030*/                   HMMA.16816.F32 R4, R8, R12, R4 ;          /* 0x0000000c0804723c */
        /*0040*/                   LDSM.16.M88.4 R8, [R2+UR4] ;              /* 0x000000040208783b */
        /*0050*/              @!P0 BRA 0x70 ;                                /* 0x0000000000048947 */
        /*0060*/                   FFMA R4, R4, R5, -R6 ;                    /* 0x0000000504047223 */
        /*0070*/                   MUFU.EX2 R4, R4 ;                         /* 0x0000000004047308 */
        /*0080*/               @P1 BRA 0x20 ;                                /* 0xffffff9c00541947 */
        /*0090*/                   EXIT ;                                    /* 0x000000000000794d */
        /*00a0*/                   BRA 0xa0;                                 /* 0xfffffffc00fc7947 */
"""

PTXAS = """ptxas info    : Compiling entry function 'kvc_prefill_attention' for 'sm_90'
ptxas info    : Function properties for kvc_prefill_attention
    64 bytes stack frame, 60 bytes spill stores, 56 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 1 bytes smem
"""


class SassProfileTest(unittest.TestCase):
    def test_parse_keeps_instructions_only(self):
        ins = sass_profile.parse_sass(SASS)
        self.assertEqual([op for _, op, _, _ in ins],
                         ["LDC", "S2R", "BAR", "HMMA", "LDSM", "BRA", "FFMA", "MUFU", "BRA",
                          "EXIT", "BRA"])
        self.assertEqual(ins[3][0], 0x30)
        self.assertEqual(ins[3][2], ".16816.F32")

    def test_loops_are_backward_branches_not_the_end_padding(self):
        ins = sass_profile.parse_sass(SASS)
        # 0x50 branches forward (an if), 0xa0 to itself (padding); 0x80 closes a loop.
        self.assertEqual(sass_profile.loops_of(ins), [(0x20, 0x80)])

    def test_loop_profile_counts_every_path(self):
        ins = sass_profile.parse_sass(SASS)
        ops, families = sass_profile.profile_range(ins, 0x20, 0x80)
        self.assertEqual(sum(ops.values()), 7)
        self.assertEqual(families["mma"], 1)
        self.assertEqual(families["ldmatrix"], 1)
        self.assertEqual(families["barrier"], 1)
        self.assertEqual(families["mufu"], 1)
        self.assertEqual(families["fp32"], 1)
        self.assertEqual(families["other"], 2)  # the two branches

    def test_branch_skipped_is_what_a_forward_branch_jumps_over(self):
        ins = sass_profile.parse_sass(SASS)
        self.assertEqual(ins[5][3], "@!P0 0x70")  # the guard leads the operands
        # 0x50 jumps over 0x60 only: the loop's 7 instructions, 6 on every iteration.
        self.assertEqual(sass_profile.branch_skipped(ins, 0x20, 0x80), {0x60})

    def test_ptxas_info(self):
        info = sass_profile.ptxas_info(PTXAS)
        self.assertEqual(info, dict(registers=255, spill_stores=60, spill_loads=56,
                                    static_smem=1))
        self.assertEqual(sass_profile.ptxas_info("")["registers"], None)


if __name__ == "__main__":
    unittest.main()
