#!/usr/bin/env python3
"""What bounds each profiled kernel, from Nsight Compute's raw metrics.

    python3 bench/gpu/ncu_summary.py ncu_raw.csv     (ncu --import R --csv --page raw)

Prints a markdown table, a row a kernel: time, SM throughput, issue slots busy,
achieved occupancy, registers, executed instructions per tensor-core instruction,
the tensor pipe's use, and the three largest stall reasons (cycles a warp waits
per issued instruction, by reason). Metrics the report lacks print as '-': the
sections and metric names vary across ncu versions, so nothing here is required.
"""
import csv
import re
import sys

STALL = re.compile(r"^smsp__average_warp(?:s|_latency)?_issue_stalled_(\w+?)(?:_per_issue_active)?\.ratio$")
TENSOR_INST = re.compile(r"^(sm|smsp)__inst_executed_pipe_tensor\w*\.sum$")
TENSOR_UTIL = re.compile(r"tensor\w*\.avg\.pct_of_peak_sustained_active$")


def number(text):
    text = (text or "").replace(",", "").strip()
    try:
        return float(text)
    except ValueError:
        return None


def read_rows(path):
    """(metric units, rows as dicts) of a raw-page CSV: a header, a units row, a row a kernel."""
    with open(path, newline="") as f:
        table = [r for r in csv.reader(f) if r]
    if len(table) < 2:
        return {}, []
    header, units = table[0], table[1]
    return dict(zip(header, units)), [dict(zip(header, r)) for r in table[2:]]


def short_name(name):
    name = re.sub(r"\(.*", "", name or "?")
    name = re.sub(r"<.*", "", name)
    return name.split("::")[-1][:40]


def time_us(row, units):
    v = number(row.get("gpu__time_duration.sum"))
    if v is None:
        return None
    scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3,
             "second": 1e6, "s": 1e6}
    return v * scale.get(units.get("gpu__time_duration.sum", "nsecond"), 1e-3)


def summarize(units, rows):
    def fmt(v, spec="%.1f"):
        return "-" if v is None else spec % v

    out = ["| kernel | grid | µs | SM % | issue busy % | occupancy % | regs | instr / tensor instr "
           "| tensor pipe % | top stalls (cycles per issue) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        # ("selected" is the issuing state, about 1 cycle per issue: not a stall)
        stalls = sorted(((number(v), m.group(1)) for k, v in row.items()
                         for m in [STALL.match(k)]
                         if m and m.group(1) != "selected" and number(v)), reverse=True)
        # The tensor pipe's aggregate and its sub-pipes (hmma, ...) may all be
        # there: the largest is the aggregate, or the one sub-pipe in use.
        tensor_inst = max([number(v) or 0 for k, v in row.items() if TENSOR_INST.match(k)] or [0])
        inst = number(row.get("smsp__inst_executed.sum")) or number(row.get("sm__inst_executed.sum"))
        util = [number(v) for k, v in row.items() if TENSOR_UTIL.search(k) and number(v) is not None]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            short_name(row.get("Kernel Name")), row.get("Grid Size", "-"),
            fmt(time_us(row, units)),
            fmt(number(row.get("sm__throughput.avg.pct_of_peak_sustained_elapsed"))),
            fmt(number(row.get("smsp__issue_active.avg.pct_of_peak_sustained_active"))),
            fmt(number(row.get("sm__warps_active.avg.pct_of_peak_sustained_active"))),
            fmt(number(row.get("launch__registers_per_thread")), "%.0f"),
            fmt(inst / tensor_inst if inst and tensor_inst else None, "%.2f"),
            fmt(max(util) if util else None),
            ", ".join("%s %.1f" % (name, v) for v, name in stalls[:3]) or "-"))
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: ncu_summary.py NCU_RAW.csv")
    units, rows = read_rows(sys.argv[1])
    if not rows:
        raise SystemExit("%s: no kernel rows" % sys.argv[1])
    print(summarize(units, rows))


if __name__ == "__main__":
    main()
