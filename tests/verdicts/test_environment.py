"""result.json's env says which vector instruction set PyTorch's CPU kernels used (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from actlab.verdicts.result import environment

SRC = Path(__file__).resolve().parents[2] / "src"


def test_env_records_the_cpu_capability():
    assert environment("cpu")["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_env_follows_aten_cpu_capability():
    # PyTorch honours ATEN_CPU_CAPABILITY; the provenance must show the lowered set, not the host's best.
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", "from actlab.verdicts.result import environment; "
                          "print(environment('cpu')['cpu_capability'])"],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert out.strip() == "DEFAULT"
