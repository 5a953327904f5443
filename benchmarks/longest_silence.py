"""The longest silence of an ``actlab`` command: how long the user waits without a new line.

    python benchmarks/longest_silence.py                      # actlab run all --quick into a temp folder
    python benchmarks/longest_silence.py -- run vanishing --quick --out /tmp/x

Runs the command with its stdout and stderr piped (so progress comes as whole lines, as in a
CI log), stamps every line as it arrives, and prints the five longest gaps between lines (the
first counted from the start) with the line that ended each, then the total time. DESIGN.md:
progress never goes silent for more than 2 s. A loaded machine stretches every gap; say so
when you quote a number.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1:] if "--" in argv else None
    with tempfile.TemporaryDirectory(prefix="actlab-silence-") as tmp:
        if args is None:
            args = ["run", "all", "--quick", "--out", str(Path(tmp) / "results")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "actlab", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, bufsize=1)
        lines: list[tuple[float, str, str]] = []
        lock = threading.Lock()

        def read(stream, name: str) -> None:
            for line in stream:
                with lock:
                    lines.append((time.monotonic() - start, name, line.rstrip("\n")))

        readers = [threading.Thread(target=read, args=(proc.stdout, "out")),
                   threading.Thread(target=read, args=(proc.stderr, "err"))]
        for r in readers:
            r.start()
        code = proc.wait()
        for r in readers:
            r.join()
        total = time.monotonic() - start
    lines.sort()
    gaps, last = [], 0.0
    for t, name, text in lines:
        gaps.append((t - last, t, name, text))
        last = t
    gaps.append((total - last, total, "-", "(exit)"))
    print(f"actlab {' '.join(args)}: exit {code}, {len(lines)} lines in {total:.1f} s")
    print("longest silences (seconds, at, stream, the line that ended it):")
    for gap, t, name, text in sorted(gaps, reverse=True)[:5]:
        print(f"  {gap:6.2f}  at {t:7.1f}  {name}  {text[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
