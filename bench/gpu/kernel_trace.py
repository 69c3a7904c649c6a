"""The GPU kernels a piece of host code launches, as CUPTI sees them
(torch.profiler): shared by run_device.py (the kvc_* kernels of one call)
and check_model_device.py (every kernel of a decode step)."""
import json
import os
import tempfile

import torch


def kernel_events(fn, iters):
    """Runs fn() `iters` times under the profiler; the kernel events (Chrome
    trace dicts with name, ts and dur in microseconds), in launch order."""
    from torch.profiler import profile, ProfilerActivity
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(iters):
            fn()
        torch.cuda.synchronize()
    path = os.path.join(tempfile.gettempdir(), "kvcc_kernel_trace_%d.json" % os.getpid())
    prof.export_chrome_trace(path)
    try:
        with open(path) as f:
            events = json.load(f).get("traceEvents", [])
    finally:
        os.remove(path)
    return sorted((e for e in events if str(e.get("cat", "")).lower() == "kernel"), key=lambda e: e["ts"])
