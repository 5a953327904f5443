"""Sweeps: plans, aggregates against a hand computation, backends that agree, and resume.

The expensive parts (worker processes, Ray) are shared through module fixtures; the
fake claim in ``sweep_fake_claim.py`` is instant and misbehaves on cue.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_fake_claim as fake
from scipy import stats as sps

from actlab.claims import load_claim
from actlab.cli.main import main
from actlab.runs import sweep as sweep_mod
from actlab.runs.sweep import (
    SweepError,
    aggregate_sweep,
    flatten_metrics,
    parse_grid_values,
    plan_sweep,
    run_sweep,
)
from actlab.training.settings import make_config
from actlab.verdicts.result import load_result

VANISHING = load_claim("vanishing")
# About 0.2 s a run: long enough for the kill test to land mid-sweep.
SMALL = {"width": "64", "batch": "64", "seeds": "1", "inits": "default,he"}
TINY = {"depth": "2", "width": "6", "batch": "6", "seeds": "1", "activations": "sigmoid,relu", "inits": "default,he"}


def small_plan():
    """12 runs of a small vanishing sweep: depth 16 and 24 x 6 seeds."""
    return plan_sweep(VANISHING, make_config(VANISHING.Config, None, SMALL), seeds=6, grid={"depth": "16,24"})


def fake_plan(seeds: int = 4, **settings):
    return plan_sweep(fake, fake.Config(**settings), seeds=seeds)


def result_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("runs/*/result.json"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small vanishing sweep, local backend, 2 workers: (folder, aggregate)."""
    out = tmp_path_factory.mktemp("reference")
    report = run_sweep(small_plan(), out, workers=2)
    assert report.done == 12 and not report.failed
    return out / "vanishing", report.aggregate


@pytest.fixture(scope="module")
def fake_done(tmp_path_factory):
    """A finished fake sweep (4 seeds, seed 1 diverges): its folder, to copy."""
    out = tmp_path_factory.mktemp("fake")
    report = run_sweep(fake_plan(nan_seed=1), out, workers=2)
    assert report.done == 4 and not report.failed
    return out / fake.NAME


# --- the plan ------------------------------------------------------------------------


def test_plan_ids_seeds_and_grid():
    plan = small_plan()
    assert len(plan.runs) == 12 and len({r.run_id for r in plan.runs}) == 12
    assert [r.seed for r in plan.runs[:6]] == [0, 1, 2, 3, 4, 5]
    assert [r.point for r in plan.runs[::6]] == [{"depth": 16}, {"depth": 24}]
    assert plan.grid == {"depth": [16, 24]}
    assert all(r.config.depth == r.point["depth"] and r.config.inits == ("default", "he") for r in plan.runs)
    assert [r.run_id for r in small_plan().runs] == [r.run_id for r in plan.runs]  # stable
    assert plan.runs[0].run_id.startswith("s0-")
    # A claim that averages `seeds` seeds itself: runs use disjoint seeds (stride 3).
    strided = plan_sweep(VANISHING, make_config(VANISHING.Config, None, {**TINY, "seeds": "3", "seed": "5"}), seeds=3)
    assert [r.seed for r in strided.runs] == [5, 8, 11]
    # workers=1 where the claim has the setting.
    assert {r.config.workers for r in fake_plan().runs} == {1}


def test_grid_values_parse_by_field_type():
    assert parse_grid_values("relu,tanh", tuple[str, ...], "activations") == [("relu",), ("tanh",)]
    assert parse_grid_values("relu,tanh;sigmoid", tuple[str, ...], "activations") == [("relu", "tanh"), ("sigmoid",)]
    assert parse_grid_values("0.1, 1e-3", float, "lr") == [0.1, 0.001]
    plan = plan_sweep(VANISHING, make_config(VANISHING.Config, None, TINY), grid={"activations": "swish,TANH"})
    # canonical names, and the baseline (relu) measured beside each: the per-activation ratios need it
    assert plan.grid == {"activations": [("silu", "relu"), ("tanh", "relu")]}


@pytest.mark.parametrize("grid,seeds,message", [
    ({"seed": "1,2"}, 1, "use --seeds and --seed"),
    ({"workers": "1,2"}, 1, "use --workers"),
    ({"nope": "1"}, 1, "no setting 'nope'"),
    ({"depth": "2,x"}, 1, "must be an integer"),
    ({"depth": "2,-1"}, 1, "depth=-1 must be >= 1"),
    ({"activations": "swish,silu"}, 1, "give the same config"),
    ({"depth": ","}, 1, "has no values"),
    ({}, 0, "seeds=0"),
])
def test_bad_plans_are_value_errors(grid, seeds, message):
    with pytest.raises(ValueError, match=message):
        plan_sweep(VANISHING, make_config(VANISHING.Config, None, TINY), seeds=seeds, grid=grid)


# --- the aggregate, by hand -------------------------------------------------------------


def test_flatten_metrics():
    flat = flatten_metrics({"a": {"b": [1, [2, 3]], "c": None}, "d": "nan"})
    assert flat == {"a.b[0]": 1, "a.b[1][0]": 2, "a.b[1][1]": 3, "a.c": None, "d": "nan"}


def test_aggregate_matches_a_hand_computation(fake_done):
    agg = aggregate_sweep(fake_done)
    assert agg["complete"] and agg["runs_expected"] == agg["runs_found"] == 4
    (point,) = agg["points"]
    assert point["seeds"] == [0, 1, 2, 3] and point["verdicts"] == {"holds": 2, "inconclusive": 2}
    m = point["metrics"]

    def check(key, values, n_nonfinite=0, n_missing=0):
        finite = [v for v in values if v is not None and math.isfinite(v)]
        mean = sum(finite) / len(finite)
        half = sps.t.ppf(0.975, len(finite) - 1) * sps.tstd(finite) / math.sqrt(len(finite))
        got = m[key]
        assert got["n"] == len(finite) and got["n_nonfinite"] == n_nonfinite and got["n_missing"] == n_missing
        assert got["mean"] == pytest.approx(mean, rel=1e-12)
        # stats.py's t table has 3 decimals: 1e-3 relative on the half-width.
        assert got["ci95_high"] - mean == pytest.approx(half, rel=1e-3)
        assert mean - got["ci95_low"] == pytest.approx(half, rel=1e-3)

    check("value", [0, 1, 2, 3])
    check("curve[1]", [0, 1, 4, 9])
    # Seed 1 diverged: NaN loss and inf peak are recorded, counted and named, never averaged.
    check("nested.loss", [1.0, math.nan, 1 / 3, 1 / 4], n_nonfinite=1)
    check("nested.peak", [0.0, math.inf, 2.0, 3.0], n_nonfinite=1)
    check("steps", [None, 10, 20, 30], n_missing=1)
    assert m["workers_seen"]["mean"] == 1  # every run ran with workers=1
    assert "reached" not in m and "label" not in m  # booleans and strings are not averaged
    (diverged,) = [r for r in point["runs"] if r.startswith("s1-")]
    assert point["nonfinite"] == {diverged: ["nested.loss", "nested.peak"]}
    stored = load_result(fake_done / "runs" / diverged / "result.json")
    assert stored.metrics["nested"] == {"loss": "nan", "peak": "inf"}  # the run file records it


def test_a_diverging_training_run_is_recorded_not_averaged(tmp_path):
    """relu at lr 1e5 diverges mid-training: its run file says NaN; the aggregate counts it and averages the rest."""
    args = ["--set=dataset=mnist1d", "--set=max_steps=20", "--set=eval_every=5", "--set=eval_examples=64",
            "--set=width=8", "--set=depth=1", "--set=seeds=1", "--set=train_examples=256", "--set=test_examples=64",
            "--set=depths=", "--set=lr_grid_extensions=0"]
    assert main(["sweep", "convergence", "--out", str(tmp_path), "--seeds", "2", "--workers", "2", "--no-progress",
                 "--activations", "relu,tanh", "--grid", "lr_grid=0.1,100000", *args]) == 0
    folder = tmp_path / "convergence"
    agg = json.loads((folder / "aggregate.json").read_text())
    calm, wild = agg["points"]
    assert calm["nonfinite"] == {} and calm["metrics"]["test_error.mlp1.relu.per_seed[0]"]["n"] == 2
    assert sorted(wild["nonfinite"]) == sorted(wild["runs"])
    for keys in wild["nonfinite"].values():  # the diverged relu run's final training error
        # the diverged relu run's final training error, in the headline MLP and in the paper-init arm
        assert keys and all(k.startswith("lr_search_final_error.mlp1") and k.endswith(".relu.100000") for k in keys), keys
    # convergence leaves a diverged run out of its test error (None, named in the verdict), so none is averaged
    assert "test_error.mlp1.relu.per_seed[0]" not in wild["metrics"]
    # the other activation still counts (tanh at 1e5 trains on one seed; the other never leaves chance)
    assert wild["metrics"]["test_error.mlp1.tanh.per_seed[0]"]["n"] >= 1
    for rid in wild["runs"]:
        result = load_result(folder / "runs" / rid / "result.json")
        assert result.metrics["lr_search_final_error"]["mlp1"]["relu"]["100000"] == "nan"
        assert result.metrics["test_error"]["mlp1"]["relu"]["per_seed"] == [None]
        assert "diverged" in result.metrics["degenerate"][0]["why"]


# --- backends and worker counts agree -------------------------------------------------------


def test_one_worker_gives_the_same_aggregate(reference, tmp_path):
    report = run_sweep(small_plan(), tmp_path, workers=1)
    assert report.workers == 1 and report.done == 12
    assert report.aggregate == reference[1]
    assert json.loads((tmp_path / "vanishing" / "aggregate.json").read_text()) == reference[1]


def test_ray_backend_gives_the_same_aggregate(reference, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'actlab[ray]')")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        report = run_sweep(small_plan(), tmp_path, backend="ray")
    finally:
        ray.shutdown()
    assert report.backend == "ray" and report.workers == 2 and report.done == 12
    assert report.aggregate == reference[1]


def test_ray_missing_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code = main(["sweep", "vanishing", "--backend", "ray", "--out", str(tmp_path), "--no-progress",
                 *[f"--set={k}={v}" for k, v in TINY.items()]])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install 'actlab[ray]'" in err


# --- resume --------------------------------------------------------------------------------

def sweep_command(out: Path) -> list[str]:
    """``small_plan()`` on the command line."""
    return [sys.executable, "-m", "actlab.cli", "sweep", "vanishing", "--seeds", "6", "--workers", "2",
            "--grid", "depth=16,24", "--out", str(out), "--no-progress",
            *[f"--set={k}={v}" for k, v in SMALL.items()]]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_killed_mid_sweep_then_resumed(sig, reference, tmp_path):
    """Signal the whole process group once some runs are written; the rerun finishes the rest."""
    folder = tmp_path / "killed" / "vanishing"
    proc = subprocess.Popen(sweep_command(tmp_path / "killed"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not result_files(folder) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, sig)  # what a terminal does on Ctrl-C: the signal goes to the whole group
    _, err = proc.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    else:
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert "rerun the same command to go on" in err
    before = {p: p.read_bytes() for p in result_files(folder)}
    assert 0 < len(before) < 12, f"{len(before)} runs finished before the kill"
    assert not (folder / "aggregate.json").exists()

    resumed = subprocess.run(sweep_command(tmp_path / "killed"), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{12 - len(before)} now, {len(before)} reused" in resumed.stdout
    manifest = json.loads((folder / "sweep.json").read_text())
    ids = [r["id"] for r in manifest["runs"]]
    assert sorted(p.parent.name for p in result_files(folder)) == sorted(ids)  # each run exactly once
    assert all(p.read_bytes() == data for p, data in before.items())  # finished runs untouched
    assert not list(folder.rglob("*.tmp"))
    assert json.loads((folder / "aggregate.json").read_text()) == reference[1]


def live_processes_in_group(pgid: int) -> list[int]:
    """Processes (zombies aside) whose process group is ``pgid``, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to list the workers")
def test_workers_end_when_the_driver_is_killed_alone(tmp_path):
    """SIGKILL of the driver only (no Ctrl-C, no process group): its workers notice and exit."""
    proc = subprocess.Popen(sweep_command(tmp_path), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not result_files(tmp_path / "vanishing") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    helpers = [pid for pid in live_processes_in_group(proc.pid) if pid != proc.pid]
    assert len(helpers) >= 2, "expected the fork server and workers"
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while live_processes_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live_processes_in_group(proc.pid) == []


def test_damaged_and_half_written_files_are_named_and_redone(fake_done, tmp_path):
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    runs = sorted(p.parent for p in result_files(folder))
    truncated, not_a_result, other_config, kept = runs
    text = (truncated / "result.json").read_text()
    (truncated / "result.json").write_text(text[: len(text) // 2])
    (not_a_result / "result.json").write_text('{"experiment": "fake-sweep"}')
    shutil.copy(kept / "result.json", other_config / "result.json")
    (kept / ".result.json.x1y2z3w4.tmp").write_text('{"half": ')  # a write cut short
    notes: list[str] = []
    report = run_sweep(fake_plan(nan_seed=1), tmp_path, workers=2, note=notes.append)
    assert report.reused == 1 and report.done == 3
    assert len(notes) == 3 and all("redoing that run" in n for n in notes)
    for run, why in ((truncated, "not valid JSON"), (not_a_result, "missing"), (other_config, "another run")):
        (note,) = [n for n in notes if str(run / "result.json") in n]
        assert why in note
    assert not list(folder.rglob("*.tmp"))
    assert report.aggregate == aggregate_sweep(fake_done)


def test_aggregate_names_a_damaged_run_file(fake_done, tmp_path):
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    victim = result_files(folder)[0]
    victim.write_bytes(victim.read_bytes()[:100])
    agg = aggregate_sweep(folder)
    (point,) = agg["points"]
    assert not agg["complete"] and agg["runs_found"] == 3
    assert point["missing"] == [victim.parent.name]
    assert "not valid JSON" in point["invalid"][victim.parent.name]
    assert point["metrics"]["value"]["n_missing"] == 1


def test_a_dying_worker_fails_only_its_run(tmp_path):
    """Seed 2 kills its worker every time: it alone fails; the runs beside it are retried."""
    plan = fake_plan(seeds=5, crash_seed=2, raise_seed=4, sleep=0.3)
    report = run_sweep(plan, tmp_path, workers=2)
    by_seed = {r.seed: r.run_id for r in plan.runs}
    assert set(report.failed) == {by_seed[2], by_seed[4]}
    assert "worker process died" in report.failed[by_seed[2]]
    assert "RuntimeError: seed 4 raises on purpose" in report.failed[by_seed[4]]
    folder = tmp_path / fake.NAME
    assert sorted(p.parent.name for p in result_files(folder)) == sorted(by_seed[s] for s in (0, 1, 3))
    error = json.loads((folder / "runs" / by_seed[4] / "error.json").read_text())
    assert error["type"] == "RuntimeError" and "Traceback" in error["traceback"]
    assert report.aggregate["runs_found"] == 3 and not report.aggregate["complete"]
    # A rerun redoes only the two failed runs.
    again = run_sweep(plan, tmp_path, workers=2)
    assert again.reused == 3 and set(again.failed) == set(report.failed)


def test_a_different_sweep_in_the_folder_is_an_error(fake_done, tmp_path):
    shutil.copytree(fake_done, tmp_path / fake.NAME)
    with pytest.raises(SweepError, match=r"different sweep \(seeds: 4 there, 5 here\).*another --out"):
        run_sweep(fake_plan(seeds=5, nan_seed=1), tmp_path)
    with pytest.raises(SweepError, match=r"sweep \(scale=1.0 there, 2.0 here\)"):
        run_sweep(fake_plan(seeds=4, nan_seed=1, scale=2.0), tmp_path)
    (tmp_path / fake.NAME / "sweep.json").write_text('{"runs": [')
    with pytest.raises(SweepError, match="corrupt sweep manifest"):
        run_sweep(fake_plan(nan_seed=1), tmp_path)


def test_two_sweeps_never_share_a_folder(fake_done, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    with open(folder / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.truncate(0)
        held.write("actlab lock, pid 4242\n")  # folders.LOCK_TAG
        held.flush()
        with pytest.raises(SweepError, match=r"another actlab sweep \(pid 4242\) is running"):
            run_sweep(fake_plan(nan_seed=1), tmp_path)


def test_a_full_disk_stops_the_sweep_and_keeps_what_is_done(fake_done, tmp_path, monkeypatch):
    writes = []
    real = sweep_mod.write_json_atomic

    def fill_up(obj, path):
        if len(writes) == 3:  # the manifest, two runs, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        writes.append(path)
        return real(obj, path)

    monkeypatch.setattr(sweep_mod, "write_json_atomic", fill_up)
    with pytest.raises(SweepError, match="No space left on device; the 2 finished runs are kept"):
        run_sweep(fake_plan(nan_seed=1), tmp_path, workers=1)
    assert len(result_files(tmp_path / fake.NAME)) == 2
    monkeypatch.setattr(sweep_mod, "write_json_atomic", real)
    report = run_sweep(fake_plan(nan_seed=1), tmp_path, workers=1)
    assert (report.reused, report.done) == (2, 2)
    assert report.aggregate == aggregate_sweep(fake_done)


# --- the command --------------------------------------------------------------------------


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("actlab: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("args,message", [
    (["all"], "a sweep is of one claim"),
    (["vanishing", "--grid", "depth"], "must look like KEY=V1,V2"),
    (["vanishing", "--grid", "depth=2", "--grid", "depth=3"], "given twice"),
    (["vanishing", "--set", "workers=2"], "use --workers"),
    (["vanishing", "--workers", "-1"], "--workers -1 must be from 0 to 512"),
    (["vanishing", "--workers", "100000"], "--workers 100000 must be from 0 to 512"),
    (["vanishing", "--seed", "\u0661\u0662"], "must be written with the digits 0-9"),
    (["vanishing", "--set", "depth=\u0661\u0662"], "must be written with the digits 0-9"),
    (["vanishing", "--ray-address", "auto"], "goes with --backend ray"),
    (["vanishing", "--seeds", "0"], "--seeds 0 must be from 1 to 100000"),
    (["vanishing", "--dataset", "mnist"], "has no --dataset option"),
    (["vanishing", "--backend", "spark"], "invalid choice"),
])
def test_sweep_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys):
    assert main(["sweep", *args, "--out", str(tmp_path), "--no-progress"]) == 2
    assert message in one_error_line(capsys)
    assert not list(tmp_path.iterdir())  # nothing written


def test_sweep_into_an_unwritable_folder_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["sweep", "vanishing", "--out", str(blocker / "x"), "--no-progress"]) == 2
    assert f"cannot write to {blocker / 'x'}: {blocker} is a file, not a folder" in one_error_line(capsys)


def test_sweep_of_a_claim_whose_data_file_is_damaged_names_it(data_dir, tmp_path, capsys):
    bad = tmp_path / "data"
    shutil.copytree(data_dir / "mnist", bad / "mnist")
    labels = next((bad / "mnist").glob("t10k-labels*"))
    labels.write_bytes(labels.read_bytes()[:500])
    code = main(["sweep", "convergence", "--dataset", "mnist", "--data-dir", str(bad), "--seeds", "2",
                 "--workers", "1", "--out", str(tmp_path / "out"), "--no-progress", "--activations", "relu",
                 "--set", "seeds=1", "--set", "max_steps=1", "--set", "lr_grid=0.1"])
    line = one_error_line(capsys)
    assert code == 2 and labels.name in line


def test_sweep_command_end_to_end(fake_done, tmp_path, capsys):
    """The command's own output: one line per grid point; a rerun reuses every run."""
    args = ["sweep", "vanishing", "--out", str(tmp_path), "--no-progress", "--seeds", "2", "--workers", "1",
            "--grid", "activations=sigmoid;relu,tanh", *[f"--set={k}={v}" for k, v in TINY.items()
                                                       if k != "activations"]]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 of 4 runs finished (4 now, 0 reused" in out
    # the baseline (relu) is measured beside each point's activations
    assert "    activations=sigmoid,relu: " in out and "    activations=relu,tanh: " in out
    assert main(args) == 0
    assert "(0 now, 4 reused" in capsys.readouterr().out
    agg = json.loads((tmp_path / "vanishing" / "aggregate.json").read_text())
    assert [p["point"] for p in agg["points"]] == [{"activations": ["sigmoid", "relu"]}, {"activations": ["relu", "tanh"]}]


def test_manifest_records_every_run(reference):
    folder, agg = reference
    manifest = json.loads((folder / "sweep.json").read_text())
    assert manifest["experiment"] == "vanishing" and manifest["seeds"] == 6
    assert manifest["grid"] == {"depth": [16, 24]} and len(manifest["runs"]) == 12
    for entry in manifest["runs"]:
        config = VANISHING.Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in entry["config"].items()})
        assert sweep_mod.run_id("vanishing", config) == entry["id"]
        assert dataclasses.asdict(config)["seed"] == entry["seed"]
    assert [p["point"] for p in agg["points"]] == [{"depth": 16}, {"depth": 24}]


# --- hostile files and dead workers (issue 14, items 4, 9, 10, 20) ----------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_resume_notes_and_redoes_every_invalid_run_file(fake_done, tmp_path):
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    runs = sorted(p.parent for p in result_files(folder))
    good = json.loads((runs[0] / "result.json").read_text())
    damage = {
        runs[0]: b"\xff\xfe not utf-8",
        runs[1]: json.dumps({**good, "verdict": {**good["verdict"], "evidence": 5}}).encode(),
        runs[2]: json.dumps({**good, "elapsed_s": "abc"}).encode(),
        runs[3]: ('{"experiment": ' + nested(5000) + "}").encode(),
    }
    for run, body in damage.items():
        (run / "result.json").write_bytes(body)
    notes: list[str] = []
    report = run_sweep(fake_plan(nan_seed=1), tmp_path, workers=1, note=notes.append)
    assert report.reused == 0 and report.done == 4 and not report.failed
    assert len(notes) == 4 and all("redoing that run" in n for n in notes)
    for run in runs:
        assert any(str(run / "result.json") in n for n in notes)
    assert report.aggregate == aggregate_sweep(fake_done)


def test_aggregate_and_manifest_nested_too_deep_are_named(fake_done, tmp_path):
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    victim = result_files(folder)[0]
    victim.write_text(nested(5000))
    agg = aggregate_sweep(folder)
    assert str(victim) in agg["points"][0]["invalid"][victim.parent.name]
    (folder / "sweep.json").write_text('{"runs": ' + nested(5000) + "}")
    with pytest.raises(SweepError, match=r"sweep\.json: unreadable or corrupt sweep manifest \(nested too deep"):
        run_sweep(fake_plan(nan_seed=1), tmp_path, workers=1)


def test_resume_keeps_the_users_tmp_files(fake_done, tmp_path):
    folder = tmp_path / fake.NAME
    shutil.copytree(fake_done, folder)
    run = result_files(folder)[0].parent
    users = [folder / ".notes.tmp", run / ".draft.tmp", folder / ".result.json.draft.tmp"]
    for path in users:
        path.write_text("mine")
    ours = run / ".result.json.ab_cd123.tmp"
    ours.write_text('{"half": ')
    run_sweep(fake_plan(nan_seed=1), tmp_path, workers=1)
    assert all(p.read_text() == "mine" for p in users)
    assert not ours.exists()


def test_dead_workers_are_counted_in_the_summary(tmp_path, monkeypatch, capsys):
    """Seed 0 kills its worker once seed 1 has started beside it: both are retried, and the summary says so.

    The two meet in a folder, so seed 1 is surely in flight. The death is noticed at once,
    while seed 1 still sleeps, only because the local backend wakes the pool's manager after
    each submit (without that, CPython saw it after seed 1 ended, about 1 run in 6).
    """
    import actlab.claims as experiments

    real = experiments.load_claim
    monkeypatch.setattr(experiments, "load_claim", lambda name: fake if name == fake.NAME else real(name))
    meet = tmp_path / "meet"
    meet.mkdir()
    code = main(["sweep", fake.NAME, "--seeds", "4", "--workers", "2", "--out", str(tmp_path / "out"), "--no-progress",
                 "--set", "crash_seed=0", "--set", "sleep=2", "--set", f"meet={meet}"])
    out = capsys.readouterr().out
    assert code == 1, out
    (line,) = [ln for ln in out.splitlines() if "retried because a worker process died" in ln] or [out]
    assert line.strip() == "2 run(s) retried because a worker process died while they ran (killed or out of memory?); " \
                           "1 finished on the retry", out
    assert "worker process died while running it alone" in out


class _LateDeathBackend:
    """A local-like backend whose seed 0 always kills its worker, noticed only after seed 1 has ended.

    What CPython's pool does when the death is seen late: seed 1's result arrives first, then
    the next submit finds the pool broken, and seed 0, now the only run in flight, fails.
    """

    crash_takes_all = True
    slots = 2

    def __init__(self):
        self.broken = False
        self.waits = 0

    def submit(self, module_name, config):
        if self.broken:
            raise sweep_mod.WorkerLost("a worker process died (scripted)")
        return type("Handle", (), {"config": config})()

    def wait(self, handles):
        self.waits += 1
        if self.waits == 1:  # seed 1 ends first; seed 0's worker has died meanwhile
            self.broken = True
            return [h for h in handles if h.config.seed == 1]
        return list(handles)

    def outcome(self, handle):
        if handle.config.seed == 0:
            raise sweep_mod.WorkerLost("a worker process died (scripted)")
        return {"status": "ok", "result": fake.run(handle.config).to_dict()}

    def restart(self):
        self.broken = False

    def close(self, cancel=False, handles=()):
        pass


def test_a_death_noticed_after_a_sibling_ended_is_retried_not_blamed(tmp_path, monkeypatch):
    """Seed 0 ran beside seed 1 when its worker died: it is a suspect, retried alone, and only then failed."""
    monkeypatch.setattr(sweep_mod, "start_backend", lambda *args: _LateDeathBackend())
    plan = fake_plan(seeds=4)
    report = run_sweep(plan, tmp_path, workers=2)
    by_seed = {r.seed: r.run_id for r in plan.runs}
    assert list(report.retried) == [by_seed[0]]
    assert list(report.failed) == [by_seed[0]] and "while running it alone" in report.failed[by_seed[0]]
    assert report.done == 3


def test_an_unreachable_ray_cluster_fails_at_once(tmp_path, capsys):
    pytest.importorskip("ray", reason="needs the ray extra: pip install 'actlab[ray]'")
    started = time.monotonic()
    code = main(["sweep", "vanishing", "--backend", "ray", "--ray-address", "127.0.0.1:1", "--out", str(tmp_path),
                 "--no-progress", *[f"--set={k}={v}" for k, v in TINY.items()]])
    assert code == 2 and "cannot reach the Ray cluster at 127.0.0.1:1 (" in one_error_line(capsys)
    assert time.monotonic() - started < 30


def test_a_silent_ray_address_fails_within_the_time_limit(tmp_path):
    """A port that accepts and never answers: Ray would wait forever; ACTLAB_RAY_TIMEOUT bounds it."""
    pytest.importorskip("ray", reason="needs the ray extra: pip install 'actlab[ray]'")
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        env = {**os.environ, "ACTLAB_RAY_TIMEOUT": "4",
               "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + os.environ.get(
                   "PYTHONPATH", "")}
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "actlab.cli", "sweep", "vanishing", "--backend", "ray",
                               "--ray-address", address, "--out", str(tmp_path), "--no-progress",
                               *[f"--set={k}={v}" for k, v in TINY.items()]],
                              capture_output=True, text=True, timeout=120, env=env)
        took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    assert f"actlab: error: cannot reach the Ray cluster at {address}: no answer within 4s" in proc.stderr
    assert took < 60


def test_sweep_files_follow_the_umask(tmp_path):
    import stat

    old = os.umask(0o027)
    try:
        run_sweep(fake_plan(seeds=2), tmp_path, workers=1)
    finally:
        os.umask(old)
    folder = tmp_path / fake.NAME
    for path in (folder / "sweep.json", folder / "aggregate.json", *result_files(folder)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_a_sweep_never_writes_into_a_runs_claim_folder(tmp_path, capsys):
    assert main(["run", "vanishing", "--no-plots", "--no-progress", "--no-report", "--out", str(tmp_path),
                 *[f"--set={k}={v}" for k, v in TINY.items()]]) == 0
    before = sorted(p.name for p in (tmp_path / "vanishing").iterdir())
    assert main(["sweep", "vanishing", "--out", str(tmp_path), "--no-progress", "--workers", "1",
                 *[f"--set={k}={v}" for k, v in TINY.items()]]) == 2
    assert "holds the result of `actlab run vanishing`, not a sweep" in one_error_line(capsys)
    assert sorted(p.name for p in (tmp_path / "vanishing").iterdir()) == before
