"""Hostile input, every command: exit 0, or one ``actlab: error:`` line and exit 2; never a traceback.

Hypothesis draws command lines from pools of valid, odd and broken tokens (bounded
examples, derandomised so CI sees the same ones; ``ACTLAB_HOSTILE_EXAMPLES=500`` explores
more, with random examples). Runs stay tiny: every claim gets ``--set`` sizes that finish in well under a
second, hostile values are drawn after them (so they override), and integer values are
small, invalid, or beyond 64 bits, never a valid size that would take minutes.

Known crashes outside cli.py and base.py are kept out of the pools and listed in
``KNOWN`` with their reproduction, so the suite guards what is fixed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import tempfile
import typing
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from actlab.activations import names as activation_names
from actlab.claims import claim_names, load_claim
from actlab.cli.main import main

EXAMPLES = int(os.environ.get("ACTLAB_HOSTILE_EXAMPLES", "50"))
EXPLORE = "ACTLAB_HOSTILE_EXAMPLES" in os.environ  # random examples, not CI's fixed ones
# No shrinking: a failure's message carries its command line, and shrinking reruns claims.
HOSTILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=not EXPLORE, database=None,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECONDS_PER_CALL = 20  # a call that takes longer is a bug in the pools (an unbounded size), not a pass

#: Sizes that make each claim finish in well under a second (workers=1: no process pool).
TINY: dict[str, list[str]] = {
    "vanishing": ["depth=2", "width=4", "batch=4", "seeds=1", "inits=default"],
    "sign-coherence": ["depth=1", "width=4", "in_features=4", "trials=1", "batches=1,2"],
    "zigzag": ["parts=linear", "workers=1", "dims=2", "samples=8", "max_steps=50", "sgd_epochs=1",
               "trajectory_steps=3", "seeds=1", "train_steps=2", "width=4", "lr_grid=0.1", "eval_every=1",
               "batch_size=8"],
    "dead-relu": ["dataset=mnist1d", "workers=1", "steps=2", "width=4", "depth=1", "lrs=0.1", "bias_inits=0",
                  "seeds=1", "train_examples=64", "test_examples=32"],
    "convergence": ["dataset=mnist1d", "workers=1", "max_steps=2", "eval_every=1", "eval_examples=16", "width=4",
                    "depth=1", "lr_grid=0.1", "seeds=1", "train_examples=64", "test_examples=32"],
    "saturation": ["dataset=mnist1d", "workers=1", "depth=1", "width=4", "steps=2", "probes=2", "probe_examples=8",
                   "train_examples=64"],
    "cost": ["sizes=100", "min_run_time=0.001", "rounds=1", "warmup=0", "train_widths=4", "train_batch=4",
             "train_min_run_time=0.001", "activations=relu,tanh"],
}

#: Crashes found by this suite in code outside cli.py/base.py, reported, kept out of the pools.
KNOWN = {
    "absurd but 64-bit sizes": "actlab run vanishing --set width=9223372036854775807 -> RuntimeError "
                               "(Storage size calculation overflowed); likewise depth/width/batch/samples of "
                               "every claim, and workers=2**62 -> OverflowError in ProcessPoolExecutor",
    "maxout with a huge k": "actlab verify maxout:k=100000 -> RuntimeError (DefaultCPUAllocator: can't allocate "
                            "13 GB); actlab show maxout:k=1000000 is killed by the kernel (out of memory)",
}

# --- token pools -----------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
ODD = ["", " ", "-", "--", "=", ",", ",,", ";", "a=b", "nan", "inf", "-inf", "1e309", "-1", "0", "0x10", "1_0",
       "\u0661", "True", "None", "\u00e9", "\u540d\u524d", "x" * 300, "99999999999999999999999999999"]
INTS = st.integers(-3, 4).map(str) | st.sampled_from(
    ["99999999999999999999999999999", "-99999999999999999999999999999", "1.5", "1e3", "", "x", " 2 ", "nan"])
FLOATS = st.sampled_from(["-1", "0", "0.001", "0.01", "1e-12", "nan", "inf", "-inf", "1e309", "", "x", "1,2", "2"])
WORDS = ["cpu", "cuda", "cuda:7", "meta", "mnist", "mnist1d", "fashion-mnist", "spiral", "default", "he", "xavier",
         "lecun", "linear", "factorial", "sigmoid", "uniform", "float32", "float64", "float16", "mse",
         "cross_entropy", "mlp", "cnn", "relu", "tanh", "maxout", "gelu", "swish", "sigmod"]
ACTIVATION_TOKENS = [*activation_names(), "SWISH", "Leaky_ReLU", "sigmod", "elu:alpha=0.5", "elu:alpha=-1",
                     "elu:alpha=nan", "maxout:k=3", "maxout:k=1", "maxout:k=99999999999999999999999",
                     "elu:beta=2", "relu:", ":", "elu:alpha", "elu:=1", "prelu:init=0.1", "gelu:approximate=tanh"]
STRINGS = st.sampled_from(WORDS + ODD) | TEXT
NO_POOL = st.sampled_from(["-1", "1", "x", "1.5", "99999999999999999999", ""])


def value_strategy(annotation) -> st.SearchStrategy[str]:
    """Hostile text for a config field of this type."""
    origin = typing.get_origin(annotation)
    if origin in (tuple, typing.Sequence) or annotation is tuple:
        (item, *_) = [a for a in typing.get_args(annotation) if a is not Ellipsis] or [str]
        return st.lists(value_strategy(item), max_size=3).map(",".join) | st.sampled_from(ODD)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return st.just("none") | value_strategy(inner[0])
    if annotation is int:
        return INTS
    if annotation is float:
        return FLOATS
    if annotation is bool:
        return st.sampled_from(["true", "false", "1", "yes", "maybe", ""])
    return STRINGS


def set_options(claim: str) -> st.SearchStrategy[list[str]]:
    """0-3 ``--set key=value`` options for a claim: its own keys with hostile values, or odd keys."""
    config = load_claim(claim).Config
    hints = typing.get_type_hints(config)
    # Process pools take seconds to start: workers is 1 or invalid, never a pool.
    own = [st.tuples(st.just(f.name), NO_POOL if f.name == "workers" else value_strategy(hints[f.name]))
           for f in fields(config)]
    odd = st.tuples(st.sampled_from(["nope", "", "seed ", "Depth", "x-y", "=", "workers"]), STRINGS)
    pair = st.one_of(*own, odd).map(lambda kv: f"--set={kv[0]}={kv[1]}")
    return st.lists(pair | st.sampled_from(["--set=noequals", "--set="]), max_size=3)


def common_options(data_dirs: list[str]) -> st.SearchStrategy[list[str]]:
    """The options `run` and `sweep` share, each present or not."""
    return st.fixed_dictionaries({}, optional={
        "--seed": INTS,
        "--device": st.sampled_from(["cpu", "cuda", "cuda:7", "tpu", "", "meta", "cpu:0"]),
        "--activations": st.lists(st.sampled_from(ACTIVATION_TOKENS), max_size=3).map(",".join),
        "--dataset": st.sampled_from(["mnist", "mnist1d", "fashion", "spiral", "imagenet", ""]),
        "--data-dir": st.sampled_from(data_dirs),
    }).map(lambda d: [tok for k, v in d.items() for tok in (k, v)])


# --- harness ---------------------------------------------------------------------------


class _TooSlow(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise _TooSlow(f"took over {seconds}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def call(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``actlab argv`` in this process, in ``cwd``: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    threads, here = torch.get_num_threads(), os.getcwd()
    os.chdir(cwd)
    try:
        with _time_limit(SECONDS_PER_CALL), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # --help and --version exit through argparse
                code = exc.code if isinstance(exc.code, int) else 0
    except _TooSlow as exc:
        raise AssertionError(f"{exc}: actlab {' '.join(argv)}") from None
    finally:
        os.chdir(here)
        torch.set_num_threads(threads)  # --threads N must not leak into the next example
    return code, out.getvalue(), err.getvalue()


def assert_clean(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    code, out, err = call(argv, cwd)
    shown = " ".join(argv)
    assert "Traceback" not in err and "Traceback" not in out, f"actlab {shown}\n{err}"
    assert code in (0, 2), f"exit {code}: actlab {shown}\n{err}"
    if code == 2 and argv[0] != "--help":
        errors = [line for line in err.splitlines() if line.startswith("actlab: error: ")]
        assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], f"actlab {shown}\n{err}"
    return code, out, err


@pytest.fixture(scope="module")
def place(tmp_path_factory, real_data):
    """Folders the pools point at: a blocker file, an empty folder, damaged data, a results folder."""
    data_dir = real_data
    root = tmp_path_factory.mktemp("hostile")
    (root / "blocker").write_text("a file, not a folder")
    (root / "empty").mkdir()
    damaged = root / "damaged-data"
    shutil.copytree(data_dir / "mnist", damaged / "mnist")
    images = damaged / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:1000])
    results = root / "results"
    code, _, err = call(["run", "vanishing", "--no-plots", "--no-progress", "--out", str(results),
                         *[f"--set={s}" for s in TINY["vanishing"]]], root)
    assert code == 0, err
    code, _, err = call(["run", "zigzag", "--no-plots", "--no-progress", "--out", str(results),
                         *[f"--set={s}" for s in TINY["zigzag"]]], root)
    assert code == 0, err
    path = results / "zigzag" / "result.json"
    path.write_text(path.read_text()[:200])  # truncated
    return root


def data_dirs(place: Path) -> list[str]:
    return [str(place / "nowhere"), str(place / "blocker"), str(place / "empty"), str(place / "damaged-data"),
            os.environ.get("ACTLAB_DATA_DIR", ""), ""]


# --- one test per command ---------------------------------------------------------------


@HOSTILE
@given(extra=st.lists(st.sampled_from(["--json", "--help", "-x", "extra", "--json=1", "--version"]), max_size=2))
def test_list(extra, place):
    assert_clean(["list", *extra], place)


@HOSTILE
@given(names=st.lists(st.sampled_from(ACTIVATION_TOKENS) | TEXT, max_size=3),
       out=st.sampled_from(["f.png", "sub/dir/f.png", "f.jpg", "blocker/f.png", "", "F.PNG", "empty"]),
       span=st.none() | st.tuples(FLOATS, FLOATS))
def test_show(names, out, span, place):
    with tempfile.TemporaryDirectory(dir=place) as cwd:
        shutil.copy(place / "blocker", Path(cwd) / "blocker")
        argv = ["show", *names, "--out", out, *(["--range", *span] if span else [])]
        assert_clean(argv, Path(cwd))


@settings(HOSTILE, max_examples=min(EXAMPLES, 25))  # a valid name costs about a second of checks
@given(names=st.lists(st.sampled_from(ACTIVATION_TOKENS) | TEXT, min_size=1, max_size=2))
def test_verify(names, place):
    assert_clean(["verify", *names], place)


@HOSTILE
@given(data=st.data())
def test_run(data, place):
    claim = data.draw(st.sampled_from([*claim_names(), "all", "ALL", "Vanishing", "sign_coherence", "nope", ""]))
    argv = ["run", claim, "--no-plots", "--no-progress"]
    try:
        module = load_claim(claim)
    except ValueError:
        module = None
    if module is not None:
        argv += [f"--set={s}" for s in TINY[module.NAME]] + data.draw(set_options(module.NAME))
    argv += data.draw(common_options(data_dirs(place)))
    argv += data.draw(st.lists(st.sampled_from(["--quick", "--threads=0", "--threads=1", "--threads=-2",
                                                "--threads=x", "--seeds=2", "--seeds=x", "--no-plots"]), max_size=2))
    if module is None and claim.lower() == "all":
        argv += ["--device", "tpu"]  # last, so it wins: every config is checked first, exit 2 before any run
    with tempfile.TemporaryDirectory(dir=place) as cwd:
        out = data.draw(st.sampled_from(["out", "blocker/out", ""]))
        shutil.copy(place / "blocker", Path(cwd) / "blocker")
        assert_clean([*argv, "--out", out], Path(cwd))


@HOSTILE
@given(data=st.data())
def test_sweep(data, place):
    claim = data.draw(st.sampled_from([*claim_names(), "all", "nope", ""]))
    argv = ["sweep", claim, "--no-progress"]
    try:
        module = load_claim(claim)
    except ValueError:
        module = None
    if module is not None:
        argv += [f"--set={s}" for s in TINY[module.NAME] if not s.startswith("workers=")]
        argv += [s for s in data.draw(set_options(module.NAME)) if not s.startswith("--set=workers=")]
        config = module.Config
        hints = typing.get_type_hints(config)
        keys = st.sampled_from([f.name for f in fields(config)] + ["seed", "workers", "nope", ""])
        key = data.draw(keys)
        grid = data.draw(st.lists(value_strategy(hints.get(key, str)), max_size=3).map(",".join)
                         | st.sampled_from(["", ",", ";", "1;2"]))
        argv += data.draw(st.sampled_from([[], [], ["--grid", f"{key}={grid}"], ["--grid", key]]))
    argv += data.draw(common_options(data_dirs(place)))
    argv += data.draw(st.fixed_dictionaries({}, optional={
        "--seeds": st.sampled_from(["-1", "0", "1", "3", "x", "99999999999999999999"]),
        "--workers": st.sampled_from(["-1", "0", "1", "2", "x"]),
        "--backend": st.sampled_from(["local", "spark", ""]),
        "--ray-address": st.sampled_from(["x", ""]),
    }).map(lambda d: [tok for k, v in d.items() for tok in (k, v)]))
    argv += data.draw(st.lists(st.sampled_from(["--quick", "--seed=3"]), max_size=1))
    with tempfile.TemporaryDirectory(dir=place) as cwd:
        out = data.draw(st.sampled_from(["out", "blocker/out"]))
        shutil.copy(place / "blocker", Path(cwd) / "blocker")
        assert_clean([*argv, "--out", out], Path(cwd))


@HOSTILE
@given(folder=st.sampled_from(["results", "empty", "nowhere", "blocker", "damaged-data", "", "."]))
def test_report(folder, place):
    with tempfile.TemporaryDirectory(dir=place) as cwd:
        target = str(place / folder) if folder not in ("", ".") else folder
        if folder == "results":  # report writes into the folder: a copy per example
            shutil.copytree(place / "results", Path(cwd) / "results")
            target = str(Path(cwd) / "results")
        assert_clean(["report", target], Path(cwd))


# --- the damaged files are named -----------------------------------------------------------


def test_a_truncated_data_file_is_named(place, tmp_path):
    argv = ["run", "convergence", "--no-plots", "--no-progress", "--out", str(tmp_path), "--dataset", "mnist",
            "--data-dir", str(place / "damaged-data"), *[f"--set={s}" for s in TINY["convergence"][1:]]]
    code, _, err = assert_clean(argv, tmp_path)
    assert code == 2 and "train-images-idx3-ubyte.gz" in err


def test_a_truncated_result_file_is_named(place, tmp_path):
    shutil.copytree(place / "results", tmp_path / "results")
    code, _, err = assert_clean(["report", str(tmp_path / "results")], tmp_path)
    assert code == 0
    assert str(tmp_path / "results" / "zigzag" / "result.json") in err and "not valid JSON" in err


@pytest.mark.parametrize("argv,message", [
    # beyond 64 bits: PyTorch failed deep inside ("Overflow when unpacking long long") before base.check_int caught it
    (["run", "vanishing", "--set=width=99999999999999999999"], "width=99999999999999999999 is out of range"),
    (["run", "sign-coherence", "--seed", "99999999999999999999"], "seed=99999999999999999999 is out of range"),
    # a setting only the run can check against the data: was a ValueError traceback from dead_relu.run
    (["run", "dead-relu", "--set=batch_size=5000"], "batch_size=5000 is larger than the 64 training examples"),
    (["run", "convergence", "--set=train_examples=5000"], "more than the 4000 examples of mnist1d"),
])
def test_found_by_this_suite(argv, message, tmp_path):
    claim = argv[1]
    base = [f"--set={s}" for s in TINY[claim]]
    code, _, err = assert_clean([*argv[:2], "--no-plots", "--no-progress", "--out", str(tmp_path), *base, *argv[2:]],
                                tmp_path)
    assert code == 2 and message in err


def test_a_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    import errno

    import actlab.verdicts.result

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as the kernel says it: no file name

    monkeypatch.setattr(actlab.verdicts.result.os, "fsync", full)
    argv = ["run", "vanishing", "--no-plots", "--no-progress", "--out", str(tmp_path), *[f"--set={s}" for s in TINY["vanishing"]]]
    code, _, err = assert_clean(argv, tmp_path)
    assert code == 2 and "No space left on device" in err and "result.json" in err  # the file is named
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no half-written claim folder


def test_json_output_stays_json(place):
    code, out, _ = assert_clean(["list", "--json"], place)
    assert code == 0 and isinstance(json.loads(out), list)


# --- one bound per setting, the same in every command (issue 14, item 11) ------------------------


@pytest.mark.parametrize("argv,message", [
    (["run", "vanishing", "--threads", "100000"], "--threads 100000 must be from 1 to 1024"),
    (["sweep", "vanishing", "--workers", "100000"], "--workers 100000 must be from 0 to 512"),
    (["run", "cost", "--set=min_run_time=1e23"], "min_run_time=1e+23 must be <= 3600"),
    (["run", "cost", "--set=block_time=1e23"], "block_time=1e+23 must be <= 3600"),
    (["run", "cost", "--set=train_min_run_time=1e23"], "train_min_run_time=1e+23 must be <= 3600"),
    (["run", "cost", "--set=threads=100000"], "threads=100000 must be <= 1024"),
    (["run", "vanishing", "--set=depth=\u0661\u0662"], "depth='\u0661\u0662' must be written with the digits 0-9"),
    (["run", "vanishing", "--seed", "\u0661\u0662"], "must be written with the digits 0-9"),
    (["run", "cost", "--set=min_run_time=\u0661"], "must be written with the digits 0-9"),
    (["run", "sign-coherence", "--seed", "-5"], "seed=-5 must be >= 0"),
    (["run", "vanishing", "--seed", "-5"], "seed=-5 must be >= 0"),
    (["show", "elu:alpha=1e300"], "alpha=1e+300 is invalid: it must be from 1e-4 to 1e4"),
    (["show", "softplus:beta=1e-300"], "beta=1e-300 is invalid: it must be from 1e-4 to 1e4"),
    (["verify", "softplus:threshold=1e300"], "threshold=1e+300 is invalid: it must be <= 80"),
    (["show", "elu:alpha=\u0661"], "must be written with the digits 0-9"),
])
def test_one_bound_per_setting(argv, message, tmp_path):
    if argv[0] in ("run", "sweep"):
        claim = argv[1]
        argv = [*argv[:2], "--no-progress", "--out", str(tmp_path / "out"), *[f"--set={s}" for s in TINY[claim]],
                *argv[2:]]
        if argv[0] == "run":
            argv.append("--no-plots")
    else:
        argv = [*argv, "--out", str(tmp_path / "f.png")] if argv[0] == "show" else argv
    code, _, err = assert_clean(argv, tmp_path)
    assert code == 2 and message in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "f.png").exists()


# --- a broken plugin (issue 14, item 14) -------------------------------------------------------------


def test_a_broken_plugin_is_one_warning_line_and_skipped(tmp_path):
    """An installed package whose `actlab.activations` entry point raises: every command still works."""
    import subprocess
    import sys

    site = tmp_path / "site"
    (site / "brokenplug-1.0.dist-info").mkdir(parents=True)
    (site / "brokenplug-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (site / "brokenplug-1.0.dist-info" / "entry_points.txt").write_text(
        "[actlab.activations]\nsquare = brokenplug_mod:register\n")
    (site / "brokenplug_mod.py").write_text("def register():\n    raise RuntimeError('this plugin is broken')\n")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(site), os.environ.get("PYTHONPATH", "")])}

    def actlab(*args):
        return subprocess.run([sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True,
                              timeout=120, env=env, cwd=tmp_path)

    warning = ("actlab: warning: activation plugin 'square' of the package 'brokenplug' failed to load "
               "(RuntimeError: this plugin is broken); going on without it")
    listed = actlab("list")
    assert listed.returncode == 0 and listed.stderr.strip().splitlines() == [warning], listed.stderr
    assert "relu" in listed.stdout
    shown = actlab("show", "relu", "--out", str(tmp_path / "relu.png"))
    assert shown.returncode == 0 and shown.stderr.strip().splitlines() == [warning]
    version = actlab("--version")  # nothing looked up: the plugin is not even loaded
    assert version.returncode == 0 and version.stderr == ""


# --- issue 21 ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv,what", [
    (["run", "vanishing", "--set", "width=65536", "--set", "depth=2"], "an MLP of 2 layer(s) of width 65536"),
    (["run", "sign-coherence", "--set", "width=65536", "--set", "in_features=65536"], "width 65536 on 65536 inputs"),
    (["run", "cost", "--set", "sizes=1073741824"], "six tensors of 1,073,741,824 elements"),
    (["sweep", "vanishing", "--grid", "width=4,65536", "--set", "depth=2"], "width 65536"),
])
def test_settings_that_cannot_fit_in_memory_are_refused_before_any_work(argv, what, tmp_path):
    """Item 10: these used to end in torch's allocator traceback (or the OOM killer)."""
    code, _, err = assert_clean([*argv, "--no-progress", "--out", str(tmp_path / "out")], tmp_path)
    assert code == 2 and what in err and "need at least" in err and "this machine has" in err, err
    assert not (tmp_path / "out").exists()


def test_an_allocation_that_fails_anyway_is_one_line_with_the_machines_memory(tmp_path, monkeypatch):
    import actlab.claims.vanishing as vanishing

    def fail(config, progress=None):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 17179869184 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(vanishing, "run", fail)
    argv = ["run", "vanishing", "--no-plots", "--no-progress", "--out", str(tmp_path), *[f"--set={s}" for s in TINY["vanishing"]]]
    code, _, err = assert_clean(argv, tmp_path)
    assert code == 2 and "vanishing: out of memory; these settings need at least" in err and "this machine has" in err


def test_the_rebuild_hint_is_shell_quoted(tmp_path):
    """Item 14: pasting the hint for --out "x $(touch pwned)" ran touch."""
    import shlex

    out = tmp_path / "x $(touch pwned)"
    argv = ["run", "vanishing", "--no-plots", "--no-progress", "--out", str(out), *[f"--set={s}" for s in TINY["vanishing"]]]
    code, stdout, _ = assert_clean(argv, tmp_path)
    assert code == 0 and f"`actlab report {shlex.quote(str(out))}` rebuilds it" in stdout


def test_a_full_disk_while_drawing_figures_names_the_folder(tmp_path, monkeypatch):
    """Item 16: matplotlib's ENOSPC names no file; the message names where actlab was writing."""
    import errno

    import actlab.plots

    def full(result, folder, progress=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(actlab.plots, "plot_result", full)
    argv = ["run", "vanishing", "--no-progress", "--out", str(tmp_path), *[f"--set={s}" for s in TINY["vanishing"]]]
    code, _, err = assert_clean(argv, tmp_path)
    assert code == 2 and f"cannot write or read {tmp_path / 'vanishing' / '*.png'}: No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary folder, no lock left
