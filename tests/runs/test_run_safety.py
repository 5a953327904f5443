"""`actlab run` never loses what it did not write (issue 14, items 1-6 and 21; issue 11, item 4).

Each data-loss case runs the real command in a subprocess against a folder holding a
user's file, and checks the file is still there, byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actlab.cli.main import main
from actlab.runs.folders import MARKER, claim_lock

SRC = str(Path(__file__).resolve().parents[2] / "src")
# vanishing at a size that runs in well under a second
TINY = ["--set", "depth=2", "--set", "width=4", "--set", "batch=4", "--set", "seeds=1", "--set", "inits=default",
        "--no-plots", "--no-progress"]


def actlab(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command, in a subprocess, with this checkout's code."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("actlab: error: "), proc.stderr
    return lines[0]


def test_a_users_folder_named_like_the_claim_survives(tmp_path):
    mine = tmp_path / "mine"
    (mine / "vanishing" / "sub").mkdir(parents=True)
    (mine / "vanishing" / "important.txt").write_text("x\n")
    (mine / "vanishing" / "sub" / "thesis.tex").write_text("y\n")
    proc = actlab("run", "vanishing", *TINY, "--out", str(mine))
    line = one_error_line(proc)
    assert f"{mine / 'vanishing'} exists and actlab did not write it" in line and "another --out" in line
    assert (mine / "vanishing" / "important.txt").read_text() == "x\n"
    assert (mine / "vanishing" / "sub" / "thesis.tex").read_text() == "y\n"
    assert sorted(p.name for p in mine.iterdir()) == ["vanishing"]  # nothing written beside it either


def test_a_users_file_named_like_the_claim_survives(tmp_path):
    (tmp_path / "vanishing").write_text("my notes\n")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert f"{tmp_path / 'vanishing'} is a file that actlab did not write" in line
    assert (tmp_path / "vanishing").read_text() == "my notes\n"


def test_a_users_report_html_survives(tmp_path):
    (tmp_path / "report.html").write_text("<html>my report</html>")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert f"{tmp_path / 'report.html'} was not written by actlab" in line and "--no-report" in line
    assert not (tmp_path / "vanishing").exists()  # refused before any work
    assert actlab("run", "vanishing", *TINY, "--out", str(tmp_path), "--no-report").returncode == 0
    assert (tmp_path / "report.html").read_text() == "<html>my report</html>"


def test_actlab_replaces_its_own_folder_but_not_a_file_added_to_it(tmp_path):
    assert main(["run", "vanishing", *TINY, "--seed", "1", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "vanishing"
    marker = json.loads((folder / MARKER).read_text())
    assert marker["experiment"] == "vanishing" and marker["files"] == ["result.json"]
    assert main(["run", "vanishing", *TINY, "--seed", "2", "--out", str(tmp_path)]) == 0
    assert json.loads((folder / "result.json").read_text())["config"]["seed"] == 2
    (folder / "notes.txt").write_text("mine\n")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--seed", "3", "--out", str(tmp_path)))
    assert f"{folder} holds files actlab did not write (notes.txt)" in line
    assert (folder / "notes.txt").read_text() == "mine\n"
    assert json.loads((folder / "result.json").read_text())["config"]["seed"] == 2


def test_a_folder_from_before_the_marker_is_still_actlabs(tmp_path):
    assert main(["run", "vanishing", *TINY, "--out", str(tmp_path)]) == 0
    (tmp_path / "vanishing" / MARKER).unlink()  # as older actlab versions left it
    assert main(["run", "vanishing", *TINY, "--seed", "4", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "vanishing" / "result.json").read_text())["config"]["seed"] == 4


def test_a_run_never_touches_a_sweep_folder(tmp_path):
    sweep = actlab("sweep", "vanishing", "--seeds", "2", "--workers", "1", "--no-progress", "--out", str(tmp_path),
                   *[a for a in TINY if a not in ("--no-plots", "--no-progress")])
    assert sweep.returncode == 0, sweep.stderr
    folder = tmp_path / "vanishing"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert folder / "sweep.json" in before and folder / "aggregate.json" in before
    for out in (tmp_path, folder):
        line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(out)))
        assert "is a sweep's folder (it holds sweep.json)" in line and "another --out" in line
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    with claim_lock(tmp_path, "vanishing"):
        line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert f"another actlab run (pid {os.getpid()}) is writing {tmp_path / 'vanishing'}" in line
    assert not (tmp_path / "vanishing").exists()


def test_concurrent_runs_never_write_at_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-m", "actlab.cli", "run", "vanishing", *TINY, "--seed", str(i),
                               "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for i in range(4)]
    outcomes = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    wrote = [i for i, (rc, _, _) in enumerate(outcomes) if rc == 0]
    assert wrote, outcomes
    for rc, _, err in outcomes:
        assert rc == 0 or (rc == 2 and "another actlab run (pid" in err), err
    seed = json.loads((tmp_path / "vanishing" / "result.json").read_text())["config"]["seed"]
    assert seed in wrote
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".vanishing.") and p.is_dir()) == []


def test_stale_temporary_folders_actlab_marked_are_cleaned_and_nothing_else(tmp_path):
    from actlab.runs.folders import TEMP_MARK, _make_temp

    stale = [_make_temp(tmp_path, "vanishing", "tmp"), _make_temp(tmp_path, "vanishing", "old")]
    for folder in stale:
        (folder / "x").mkdir(parents=True)
        (folder / "x" / "result.json").write_text("{}")
    # issue 21, item 4: a user's hidden folders named like actlab's temporary ones, old and new style
    kept = [tmp_path / ".vanishing.notes", tmp_path / ".vanishing.k2j4_x9a.txt", tmp_path / ".zigzag.k2j4_x9a",
            tmp_path / ".vanishing.abcdefgh", tmp_path / ".vanishing.old.abcd1234",
            tmp_path / ".vanishing.actlab-tmp.abcdefgh", tmp_path / ".vanishing.actlab-old.abcd1234"]
    kept[0].mkdir()
    kept[1].write_text("mine")
    for folder in (kept[2], *kept[3:]):
        folder.mkdir()
        (folder / "thesis.tex").write_text("mine\n")
    (kept[-1] / TEMP_MARK).write_text("not actlab's words\n")  # a mark file that actlab did not write
    assert actlab("run", "vanishing", *TINY, "--out", str(tmp_path)).returncode == 0
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert all((p / "thesis.tex").read_text() == "mine\n" for p in (kept[2], *kept[3:]))


def test_a_link_at_the_lock_path_is_never_followed(tmp_path):
    """Issue 21, item 1: `ln -s victim D/.NAME.lock` used to truncate the victim to a pid."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".vanishing.lock").symlink_to(victim)
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(out)))
    assert f"{out / '.vanishing.lock'} is a link, not actlab's lock" in line
    assert victim.read_text() == "precious\n" and (out / ".vanishing.lock").is_symlink()
    assert not (out / "vanishing").exists()


def test_a_link_at_a_sweeps_lock_path_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "out" / "vanishing").mkdir(parents=True)
    (tmp_path / "out" / "vanishing" / ".lock").symlink_to(victim)
    proc = actlab("sweep", "vanishing", "--seeds", "1", "--workers", "1", "--no-progress", "--out",
                  str(tmp_path / "out"), *[a for a in TINY if a not in ("--no-plots", "--no-progress")])
    line = one_error_line(proc)
    assert "is a link, not actlab's lock" in line
    assert victim.read_text() == "precious\n"


def test_a_users_file_at_the_lock_path_survives_and_no_lock_is_left(tmp_path):
    """Issue 21, item 5: the user's D/.NAME.lock stays byte for byte; actlab's own lock goes away."""
    (tmp_path / ".vanishing.lock").write_text("my lock notes\n")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert "is a file actlab did not make, not actlab's lock" in line
    assert (tmp_path / ".vanishing.lock").read_text() == "my lock notes\n"
    other = tmp_path / "other"
    assert actlab("run", "vanishing", *TINY, "--out", str(other)).returncode == 0
    assert sorted(p.name for p in other.iterdir()) == ["report.html", "vanishing"]  # no .lock, no temp folder
    sweep = actlab("sweep", "vanishing", "--seeds", "1", "--workers", "1", "--no-progress", "--out",
                   str(tmp_path / "sweep"), *[a for a in TINY if a not in ("--no-plots", "--no-progress")])
    assert sweep.returncode == 0, sweep.stderr
    assert not (tmp_path / "sweep" / "vanishing" / ".lock").exists()


def test_a_stale_lock_of_a_killed_run_is_reused(tmp_path):
    from actlab.runs.folders import LOCK_TAG

    (tmp_path / ".vanishing.lock").write_text(f"{LOCK_TAG}999999\n")  # what a SIGKILLed run leaves
    assert actlab("run", "vanishing", *TINY, "--out", str(tmp_path)).returncode == 0
    assert not (tmp_path / ".vanishing.lock").exists()


def test_the_lock_stays_exclusive_while_holders_remove_it(tmp_path):
    """Removing the lock file at the end must not let two holders in at once (the race it closes)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        spans = [s for spans in pool.map(_hold_repeatedly, [str(tmp_path)] * 4) for s in spans]
    assert len(spans) >= 4
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two processes held the lock at once"
    assert not (tmp_path / ".vanishing.lock").exists()


def _hold_repeatedly(out_root: str) -> list[tuple[float, float]]:
    from actlab.runs.folders import FolderError

    spans = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            with claim_lock(out_root, "vanishing"):
                start = time.monotonic()
                time.sleep(0.002)
                spans.append((start, time.monotonic()))
        except FolderError:
            pass
    return spans


def test_a_copied_results_folder_with_the_users_figure_survives(tmp_path):
    """Issue 21, item 2: a copy of docs/results/quick/NAME (no marker) plus the user's PNG."""
    import shutil

    docs = Path(__file__).resolve().parents[2] / "docs" / "results" / "quick" / "vanishing"
    assert (docs / MARKER).is_file()  # committed results carry the marker
    legacy = tmp_path / "vanishing"
    legacy.mkdir()
    shutil.copy(docs / "result.json", legacy / "result.json")
    (legacy / "mine.png").write_bytes(b"\x89PNG my figure")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert "holds files actlab did not write (mine.png)" in line and f"no {MARKER}" in line
    assert (legacy / "mine.png").read_bytes() == b"\x89PNG my figure"
    shutil.copy(docs / MARKER, legacy / MARKER)  # with the committed marker: mine.png is still not listed
    one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path)))
    assert (legacy / "mine.png").read_bytes() == b"\x89PNG my figure"


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_results_follow_the_users_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        assert main(["run", "vanishing", *TINY, "--out", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    folder = tmp_path / "vanishing"
    assert stat.S_IMODE(folder.stat().st_mode) == dir_mode
    for name in ("result.json", MARKER):
        assert stat.S_IMODE((folder / name).stat().st_mode) == file_mode, name


def test_out_naming_a_file_says_so(tmp_path):
    (tmp_path / "afile").write_text("x")
    line = one_error_line(actlab("run", "vanishing", *TINY, "--out", str(tmp_path / "afile")))
    assert f"{tmp_path / 'afile'} is a file, not a folder" in line
    assert (tmp_path / "afile").read_text() == "x"


def test_a_full_disk_names_the_file(tmp_path, monkeypatch, capsys):
    import actlab.verdicts.result as result_mod

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(result_mod.os, "fsync", full)
    assert main(["run", "vanishing", *TINY, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("actlab: error: cannot write or read ") and "No space left on device" in err
    assert str(tmp_path / ".vanishing.") in err or str(tmp_path / "vanishing") in err
    assert not (tmp_path / "vanishing").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # no temporary folder left


def test_a_closed_pipe_is_not_an_error():
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "actlab.cli", "list", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"["
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def test_run_claim_help_lists_its_settings_with_meanings(capsys):
    assert main(["run", "zigzag", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--quick" in out  # the generic help first
    for name, meaning in [("parts", "which parts to run"), ("inputs", "all-positive input distribution"),
                          ("sgd_lr_scale", "per-example SGD's lr")]:
        (line,) = [ln for ln in out.splitlines() if ln.strip().startswith(name + " ")]
        assert meaning in line, line
    assert main(["run", "saturation", "--set", "help"]) == 0
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith("probes ")]
    assert "30 (--quick: 24)" in line and "activations are measured" in line


def test_every_setting_of_every_claim_has_a_meaning():
    from actlab.claims import claim_names, load_claim
    from actlab.cli.settings_help import field_help

    for name in claim_names():
        missing = [k for k, v in field_help(load_claim(name)).items() if not v]
        assert not missing, f"{name}: no meaning for {missing} (add it to the Config docstring's Args)"


@pytest.mark.needs_data
def test_ctrl_c_during_a_parallel_run_stops_within_two_seconds(tmp_path):
    """dead-relu trains in worker processes; Ctrl-C while the queue is long stops at once."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = ["run", "dead-relu", "--quick", "--set", "workers=2", "--set", "steps=400", "--set", "train_examples=2000",
            "--set", "lrs=0.01,0.1,0.3,1", "--set", "seeds=4", "--no-plots", "--out", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "actlab.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line, started = "", time.monotonic()
        # the pool runs: steps counted (a percent above 0), dozens of tasks queued. The progress
        # line says "training" from the start, and (issue 18) repeats itself every second, so
        # the word alone would come while the workers still start up.
        while not re.search(r" ([1-9]\d*)% (training|choosing rates)", line):
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "the run ended before it trained"
            assert time.monotonic() - started < 120
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        rc = proc.wait(timeout=60)
        latency = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert rc == 130, err
    assert "actlab: interrupted" in err and "Traceback" not in err
    assert latency < 2.0, f"took {latency:.1f}s to stop"
    assert not (tmp_path / "dead-relu").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def _write_in_a_process(out_root: str, seed: int) -> str:
    from actlab.cli.run import write_claim_folder as _write_claim
    from actlab.runs.folders import FolderError
    from actlab.verdicts.result import Result, Verdict

    result = Result(experiment="vanishing", config={"seed": seed}, metrics={"x": [seed] * 20000},
                    verdict=Verdict("holds", f"seed {seed}"), env={}, elapsed_s=0.0)
    try:
        for _ in range(5):
            _write_claim(result, Path(out_root), plot=False)
    except FolderError as exc:
        return str(exc)
    return "ok"


def test_write_claim_from_four_processes_never_loses_or_litters(tmp_path):
    import multiprocessing

    # fork: the test process has imported torch already, so the four start at once
    with multiprocessing.get_context("fork").Pool(4) as pool:
        outcomes = pool.starmap(_write_in_a_process, [(str(tmp_path), i) for i in range(4)])
    assert "ok" in outcomes
    for outcome in outcomes:
        assert outcome == "ok" or "another actlab run (pid " in outcome, outcome
    result = json.loads((tmp_path / "vanishing" / "result.json").read_text())
    assert result["config"]["seed"] in [i for i, o in enumerate(outcomes) if o == "ok"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vanishing"]  # no lock file left (issue 21, item 5)


@pytest.mark.parametrize("how, code", [("ctrl-c to the group", 130), ("ctrl-c to the process", 130),
                                       ("sigterm", 143)])
@pytest.mark.parametrize("delay", [0.2, 1.0])
def test_stopping_an_early_parallel_sweep_is_fast_one_line_and_leaves_nothing(tmp_path, how, code, delay):
    """Issue 21, item 12: Ctrl-C early in `sweep --workers 2` took 3-8 s with a multiprocessing
    traceback (SemLock._rebuild, forkserver); SIGTERM left the fork server and resource tracker
    behind for 10-20 s with a leaked-semaphore warning."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    sizes = [a for a in TINY if a not in ("--no-plots", "--no-progress")]
    proc = subprocess.Popen([sys.executable, "-m", "actlab.cli", "sweep", "vanishing", "--seeds", "8", "--workers", "2",
                             "--no-progress", "--out", str(tmp_path), *sizes], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "vanishing" / "sweep.json").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep never started"
            time.sleep(0.01)
        time.sleep(delay)  # the pool is starting: fork server, workers unpickling their tasks
        sent = time.monotonic()
        if how == "ctrl-c to the group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT if how == "ctrl-c to the process" else signal.SIGTERM)
        rc = proc.wait(timeout=30)
        latency = time.monotonic() - sent
        time.sleep(1.0)
        ps = subprocess.run(["ps", "-o", "stat=", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    finally:
        if proc.poll() is None:
            proc.kill()
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()
    if rc == 0:
        pytest.skip("the sweep finished before the signal came")
    assert rc == code, err
    assert err.strip().splitlines() == [f"actlab: sweep stopped; finished runs are kept in {tmp_path / 'vanishing'}: "
                                        "rerun the same command to go on"], err
    assert latency < 2.0, f"took {latency:.1f}s to stop"
    assert [s for s in ps if not s.startswith("Z")] == [], ps  # no fork server, worker or resource tracker left


def test_a_failed_ray_join_keeps_rays_cpp_log_lines_off_stderr(tmp_path):
    """Issue 21, item 16: gcs_client.cc lines and "Source Location Trace" leaked beside the one-line error."""
    fake = tmp_path / "fake_ray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text(
        "import os\n"
        "def is_initialized():\n    return False\n"
        "def init(**kwargs):\n"
        "    os.write(2, b'[2026-12-07 03:00:00,000 E 1 1] gcs_client.cc:102: Failed to connect to GCS\\n'\n"
        "                b'*** SIGABRT received *** Source Location Trace\\n')\n"
        "    raise ConnectionError('could not connect to the GCS at 127.0.0.1:' + os.environ['PORT'])\n")
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    env = {**os.environ, "PORT": str(port),
           "PYTHONPATH": os.pathsep.join([str(fake), SRC, os.environ.get("PYTHONPATH", "")])}
    sizes = [a for a in TINY if a not in ("--no-plots", "--no-progress")]
    try:
        proc = subprocess.run([sys.executable, "-m", "actlab.cli", "sweep", "vanishing", "--seeds", "1", "--backend",
                               "ray", "--ray-address", f"127.0.0.1:{port}", "--no-progress", "--out", str(tmp_path / "o"),
                               *sizes], capture_output=True, text=True, timeout=120, env=env)
    finally:
        server.close()
    line = one_error_line(proc)
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}: could not connect to the GCS" in line
    assert "gcs_client.cc" not in proc.stderr and "Source Location Trace" not in proc.stderr
