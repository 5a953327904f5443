"""``--plugin FILE``: the user's own activation in ``actlab run`` (with two spawned workers),
``actlab verify`` and ``actlab compare``; one-line errors for a missing file, a file that
raises, a file that registers nothing, and an activation whose declarations are wrong."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from actlab.activations import REGISTRY
from actlab.activations.plugins import _LOADED
from actlab.cli import main
from actlab.verdicts.result import load_result

GOOD = """
import os
from pathlib import Path

from actlab.activations import get, register_activation

loads = Path(__file__).parent / "loads"
loads.mkdir(exist_ok=True)
(loads / str(os.getpid())).write_text("")  # which processes ran this file

register_activation("{name}", lambda x: x.relu(), {derivative}, get("relu").properties)
"""


def _plugin(tmp_path: Path, name: str, derivative: str = "lambda x: (x > 0).to(x.dtype)") -> Path:
    path = tmp_path / "my_acts.py"
    path.write_text(textwrap.dedent(GOOD.format(name=name, derivative=derivative)))
    return path


@pytest.fixture(autouse=True)
def forget_plugins():
    """Each test loads its own file: unregister what it added, and forget the file."""
    before = set(REGISTRY.names())
    yield
    for name in set(REGISTRY.names()) - before:
        REGISTRY.unregister(name)
    _LOADED.clear()


@pytest.mark.needs_data
def test_run_loads_the_plugin_in_the_parent_and_in_two_spawned_workers(tmp_path):
    plugin = _plugin(tmp_path, "mine")
    out = tmp_path / "res"
    code = main(["run", "saturation", "--plugin", str(plugin), "--activations", "mine", "--seeds", "2",
                 "--set", "width=4", "--set", "steps=4", "--set", "probes=2", "--set", "train_examples=100",
                 "--set", "probe_examples=50", "--set", "batch_size=50", "--set", "workers=2",
                 "--out", str(out), "--no-progress", "--no-plots", "--no-report"])
    assert code == 0
    assert load_result(out / "saturation").config["activations"] == ["mine", "relu"]  # relu: the baseline, measured too
    pids = {int(p.name) for p in (tmp_path / "loads").iterdir()}
    assert os.getpid() in pids
    assert len(pids - {os.getpid()}) == 2, pids  # both workers (spawned: a fresh interpreter) ran the file


def test_verify_checks_the_plugins_activations(tmp_path, capsys):
    assert main(["verify", "--plugin", str(_plugin(tmp_path, "mine")), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["mine", "ok"]
    assert "1 of 1 activations match" in out


def test_the_documented_example_plugin_verifies(capsys):
    example = Path(__file__).resolve().parents[2] / "examples" / "my_acts.py"
    assert main(["verify", "--plugin", str(example), "--no-progress"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["mine", "ok"]


def test_a_wrong_declared_derivative_fails_verify_and_compare_refuses(tmp_path, capsys):
    plugin = _plugin(tmp_path, "wrong", derivative="lambda x: 2.0 * (x > 0).to(x.dtype)")
    assert main(["verify", "--plugin", str(plugin), "wrong", "--no-progress"]) == 1
    capsys.readouterr()
    out = tmp_path / "res"
    assert main(["compare", "wrong,relu", "--plugin", str(plugin), "--quick", "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("actlab: error: wrong does not match its declarations") and "\n" not in err
    assert not any(p.name != ".actlab-write-test" and not p.name.startswith(".") for p in out.iterdir())


@pytest.mark.parametrize("body, words", [
    (None, "no such file"),
    ("raise RuntimeError('boom')", "the file raised RuntimeError: boom"),
    ("x = 1", "the file registered no activation"),
    ("import sys\nsys.exit(3)", "the file called exit(3)"),
])
def test_bad_plugin_files_are_one_line_errors(tmp_path, capsys, body, words):
    path = tmp_path / "p.py"
    if body is not None:
        path.write_text(body)
    for argv in (["run", "vanishing", "--activations", "relu"], ["verify"], ["compare", "relu,tanh"]):
        code = main([*argv, "--plugin", str(path), "--out", str(tmp_path / "r"), "--no-progress"]
                    if argv[0] != "verify" else [*argv, "--plugin", str(path), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2, (argv, err)
        assert err == f"actlab: error: --plugin {path}: {words}" or (
            err.startswith(f"actlab: error: --plugin {path}: {words}") and "\n" not in err), err
