"""bench/gpu/ncu_summary.py on a cut-down Nsight Compute raw-page CSV (no ncu needed).

Run: python3 -m unittest discover -s python/tests
"""

import os
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "gpu"))

import ncu_summary  # noqa: E402

# `ncu --import R --csv --page raw`: a header, a units row, then a row a kernel;
# numbers may carry thousands separators.
RAW = '''"ID","Kernel Name","Grid Size","gpu__time_duration.sum","smsp__issue_active.avg.pct_of_peak_sustained_active","sm__warps_active.avg.pct_of_peak_sustained_active","launch__registers_per_thread","smsp__inst_executed.sum","sm__inst_executed_pipe_tensor_op_hmma.sum","sm__inst_executed_pipe_tensor.sum","sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active","smsp__average_warp_issue_stalled_barrier_per_issue_active.ratio","smsp__average_warp_issue_stalled_long_scoreboard_per_issue_active.ratio","smsp__average_warp_issue_stalled_math_pipe_throttle_per_issue_active.ratio","smsp__average_warp_issue_stalled_wait_per_issue_active.ratio","smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio","smsp__average_warps_issue_stalled_selected_per_issue_active.ratio"
"","","","msecond","%","%","register/thread","inst","inst","inst","%","ratio","ratio","ratio","ratio","ratio","ratio"
"0","kvc_prefill_attention","(8, 560, 1)","8.43","61.5","24.9","255","1,000,000","150,000","160,000","40.2","0.30","0.10","1.20","0.50","0.40","1.00"
"1","void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4>>(Flash_fwd_params)","(128, 1, 32)","6.51","n/a","","","","","","","","","","","",""
'''


class NcuSummaryTest(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(fd, "w") as f:
            f.write(RAW)

    def tearDown(self):
        os.unlink(self.path)

    def test_rows(self):
        units, rows = ncu_summary.read_rows(self.path)
        self.assertEqual(units["gpu__time_duration.sum"], "msecond")
        lines = ncu_summary.summarize(units, rows).splitlines()
        self.assertEqual(len(lines), 4)
        kvcc = lines[2].split(" | ")
        # 8.43 ms in µs; 1,000,000 instructions over the aggregate tensor count
        self.assertIn("8430.0", kvcc)
        self.assertIn("6.25", kvcc)
        self.assertIn("40.2", kvcc)
        # both metric spellings (warp_ / warps_); "selected" (issuing) is no stall
        self.assertTrue(lines[2].rstrip(" |").endswith(
            "math_pipe_throttle 1.2, wait 0.5, short_scoreboard 0.4"))
        self.assertNotIn("selected", lines[2])
        # a kernel with no metrics: its name, the rest '-'
        flash = lines[3]
        self.assertIn("flash_fwd_kernel", flash)
        self.assertIn("| 6510.0 |", flash)
        self.assertTrue(flash.rstrip(" |").endswith("-"))


if __name__ == "__main__":
    unittest.main()
