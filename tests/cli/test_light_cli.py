"""The light CLI: `actlab --help`, `--version` and every subcommand's `--help` import no torch,
and `python -m actlab` is the command (DESIGN.md: `actlab --help` under 1 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Runs the command in a fresh interpreter, then reports which heavy modules it loaded.
PROBE = """
import sys
from actlab.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # argparse's --help and --version exit
    code = exc.code
sys.stdout.flush()
heavy = sorted(m for m in ("torch", "numpy", "matplotlib", "scipy") if m in sys.modules)
print("HEAVY:" + ",".join(heavy) + f" CODE:{code}", file=sys.stderr)
"""

HELPS = [["--help"], ["--version"], ["run", "--help"], ["list", "--help"], ["show", "--help"],
         ["verify", "--help"], ["report", "--help"], ["sweep", "--help"], []]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("argv", HELPS, ids=lambda a: " ".join(a) or "(no command)")
def test_help_and_version_import_no_torch(argv):
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=_env(),
                          timeout=120)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY:"), proc.stderr
    heavy, code = last[len("HEAVY:"):].split(" CODE:")
    assert heavy == "", f"`actlab {' '.join(argv)}` imported {heavy}"
    assert code in ("0", "None", "2"), proc.stderr  # 2: no command, help printed
    assert "actlab" in proc.stdout


def test_the_probe_sees_torch_when_a_command_loads_it():
    # The check above can fail: `actlab list` needs the zoo, hence torch.
    proc = subprocess.run([sys.executable, "-c", PROBE, "list", "--json"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert "HEAVY:" in proc.stderr and "torch" in proc.stderr.strip().splitlines()[-1]


def test_python_dash_m_actlab_is_the_command():
    from actlab import __version__

    proc = subprocess.run([sys.executable, "-m", "actlab", "--version"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"actlab {__version__}"
    proc = subprocess.run([sys.executable, "-m", "actlab", "run", "--help"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "sign-coherence" in proc.stdout and "convergence" in proc.stdout  # the claims, listed


def test_the_package_still_offers_its_public_names():
    import actlab

    assert callable(actlab.get) and actlab.Monitor.__name__ == "Monitor"
    assert set(actlab.__all__) <= set(dir(actlab))
    with pytest.raises(AttributeError):
        actlab.no_such_name  # noqa: B018
