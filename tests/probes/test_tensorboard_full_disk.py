"""Issue 21, item 13: the TensorBoard sink on a full disk is one warning line, and training goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = textwrap.dedent("""
    import errno, sys, time, warnings
    import torch
    from torch import nn
    from tensorboard.summary.writer import record_writer
    from actlab.probes import Monitor

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    record_writer.RecordWriter.write = full
    warnings.simplefilter("default")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, every=1, tensorboard=sys.argv[1]) as mon:
        for step in range(30):
            loss = model(torch.randn(16, 4)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            mon.step()
            time.sleep(0.02)  # the writer thread meets the full disk while training goes on
    print("trained", step + 1)
""")


def test_a_full_disk_under_the_tensorboard_sink_is_one_line(tmp_path):
    pytest.importorskip("tensorboard", reason="needs the tensorboard extra: pip install -e '.[tensorboard]'")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "tb")], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0 and "trained 30" in proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "actlab Monitor: writing to" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], proc.stderr
