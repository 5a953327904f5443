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


def test_a_result_names_the_commit_of_the_source_that_made_it():
    # issue 20: result.json records the rules it was judged by, i.e. the commit of the source
    import pytest

    root = SRC.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout: the commit is not known")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    env = environment("cpu")
    assert env["commit"] == head and isinstance(env["commit_dirty"], bool)


def test_the_report_shows_a_short_commit_and_says_when_the_source_had_local_changes():
    from actlab.report.section import env_text

    parts = env_text({"commit": "0123456789abcdef0123", "commit_dirty": True, "threads": 1}, "0.1.0")
    assert "commit 0123456789ab with local changes" in parts
    assert "commit 0123456789ab" in env_text({"commit": "0123456789abcdef0123", "commit_dirty": False}, "0.1.0")
