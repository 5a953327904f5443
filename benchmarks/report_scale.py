"""`actlab report` on a results folder with many result folders: time, peak memory, page size.

Budget (DESIGN.md): `actlab report` on 10,000 runs takes seconds, with bounded memory.
Issue 21 measured the report before the fix at 347 s, 2.78 GB and a 290 MB page for 10,000
folders (235 MB of JSON). This makes a folder of N result folders (copies of the committed
quick `cost` result, about 21 KB each: one folder named `cost`, the others `cost-run-NNNNN`,
as a user who copies runs side by side has them), runs the real command in a fresh process
for each N, and reads its wall time and peak resident memory (`wait4`'s ru_maxrss).

    python benchmarks/report_scale.py [--sizes 100,1000,10000] [--keep DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "results" / "quick" / "cost" / "result.json"


def make_folder(folder: Path, n: int) -> int:
    """``folder`` with ``n`` result folders; the bytes of JSON written."""
    data = SOURCE.read_bytes()
    for i in range(n):
        sub = folder / ("cost" if i == 0 else f"cost-run-{i:05d}")
        sub.mkdir(parents=True)
        (sub / "result.json").write_bytes(data)
    return n * len(data)


def measure(folder: Path) -> tuple[float, float, float, int, int]:
    """(wall seconds, CPU seconds, peak MB, page bytes, exit code) of `actlab report folder` in a new process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "actlab.cli", "report", str(folder)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    page = folder / "report.html"
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, page.stat().st_size if page.exists() else 0,
            os.waitstatus_to_exitcode(status))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--keep", help="make the folders under this path and keep them")
    parser.add_argument("--markdown", help="write the table (with machine and load) to this file")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="actlab-report-scale-"))
    rows = []
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            folder = base / f"n{n}"
            if folder.exists():
                shutil.rmtree(folder)
            json_mb = make_folder(folder, n) / 2**20
            load = os.getloadavg()[0]
            wall, cpu, peak, page, code = measure(folder)
            rows.append((n, json_mb, wall, cpu, peak, page / 2**20, code, load))
            print(f"{n:>6} folders ({json_mb:6.0f} MB JSON): {wall:6.1f} s ({cpu:.1f} s CPU), peak {peak:6.0f} MB, "
                  f"report.html {page / 2**20:5.2f} MB, exit {code}, load {load:.1f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if args.markdown:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
        lines = ["# `actlab report` at scale", "",
                 f"Measured by `python benchmarks/report_scale.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
                 f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}. "
                 "The machine was shared with other work while it ran (load average in the last column: "
                 "timings are disturbed, upward). Each folder holds N copies of the quick `cost` "
                 "result (one folder `cost`, the others `cost-run-NNNNN`); the report gives `cost` its "
                 "section and lists every run in the All runs table (at most 500 rows, totals over all).", "",
                 "Before the fix (issue 21): 10,000 folders, 347 s, 2.78 GB, a 290 MB page.", "",
                 "CPU time (user + system) is the number load disturbs least; the peak memory is mostly "
                 "the interpreter with torch and scipy imported, and stays flat with N.", "",
                 "| Folders | JSON (MB) | Wall time (s) | CPU time (s) | Peak memory (MB) | report.html (MB) | Exit "
                 "| Load avg |",
                 "|--:|--:|--:|--:|--:|--:|--:|--:|"]
        lines += [f"| {n:,} | {j:.0f} | {w:.1f} | {u:.1f} | {p:.0f} | {s:.2f} | {c} | {ld:.1f} |"
                  for n, j, w, u, p, s, c, ld in rows]
        Path(args.markdown).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
