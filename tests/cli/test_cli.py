"""The `actlab` command as a user runs it: list, show, verify, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from actlab.activations import names
from actlab.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess, to see stderr and the exit code."""
    return subprocess.run([sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True, timeout=120)


def test_list_table_has_every_activation(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in names():
        assert f"\n{name}" in out
    assert "zero-centred" in out and "max|f'|" in out


def test_list_json_is_machine_readable(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == set(names())
    assert by_name["sigmoid"]["max_abs_derivative"] == 0.25
    assert by_name["relu"]["output_range"] == [0.0, "inf"]
    assert by_name["maxout"]["params"] == {"k": 2}
    assert by_name["silu"]["aliases"] == ["swish"]


def test_show_writes_a_png(tmp_path):
    out = tmp_path / "sub" / "f.png"
    assert main(["show", "sigmoid", "tanh", "relu", "elu:alpha=0.5", "maxout:k=3", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    import matplotlib.image as mpimg

    h, w = mpimg.imread(out).shape[:2]
    assert w > 1000 and h > 350  # two readable panels side by side


@pytest.mark.parametrize(
    "args,message",
    [(["show", "sigmod"], "unknown activation 'sigmod'; did you mean sigmoid"),
     (["show", "elu:alpha=-1"], "alpha=-1.0 is invalid"),
     (["show", "maxout:k=1"], "k=1 is invalid"),
     (["show", "elu:beta=2"], "no parameter 'beta'"),
     (["show", "relu", "--out", "x.jpg"], "ending in .png"),
     (["show", "relu", "--range", "3", "1"], "first value must be smaller"),
     (["run", "nonsense"], "unknown claim 'nonsense'"),
     (["verify", "nope"], "unknown activation 'nope'"),
     (["frobnicate"], "invalid choice")],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, message, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("actlab: error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_unwritable_out_is_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_cli("show", "relu", "--out", str(blocker / "x.png"))
    assert proc.returncode == 2 and f"{blocker} is a file, not a folder" in proc.stderr


def test_verify_command_checks_the_zoo(capsys):
    assert main(["verify", "sigmoid", "swish", "maxout:k=3"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 activations match" in out


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("actlab")
    assert exe is not None, "pip install -e . should install the actlab command"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("actlab ")


def test_run_set_help_lists_settings_with_defaults(capsys, tmp_path):
    assert main(["run", "saturation", "--set", "help", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("    ")}
    assert "1000 (--quick: 150)" in lines["width"] and "300" in lines["probe_examples"]
    assert not (tmp_path / "o").exists()  # listing settings runs nothing


@pytest.mark.parametrize("args", [["report", "{tmp}"], ["sweep", "vanishing", "--seeds", "0", "--out", "{tmp}"]])
def test_commands_in_their_own_modules_give_one_line_errors_under_python_m(tmp_path, args):
    # `python -m actlab.cli` runs cli.py as __main__; report and sweep live in cli_report / cli_sweep,
    # and their UsageError must still be caught (one line, exit 2, no traceback).
    proc = subprocess.run([sys.executable, "-m", "actlab.cli", *[a.format(tmp=tmp_path) for a in args]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("actlab: error:") and "Traceback" not in proc.stderr
