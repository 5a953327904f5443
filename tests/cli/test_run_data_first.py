"""Fail fast on data, and one claim's failure costs only that claim (issue 18, item 3)."""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from pathlib import Path

import pytest

import actlab.claims
from actlab.cli import main
from actlab.data.errors import DataError
from actlab.data.files import FILES, fetch_file
from actlab.runs.failures import FAILED_FILE, read_failures

#: Sizes at which these claims finish in about a second each (workers=1: no process pool).
TINY = ["depth=2", "width=4", "batch=4", "seeds=1", "inits=default", "in_features=4", "trials=1", "batches=1,2",
        "workers=1", "steps=2", "lrs=0.1", "adam_lrs=", "bias_inits=0", "train_examples=64", "test_examples=32"]


def _sets(items):
    return [f"--set={s}" for s in items]


@pytest.mark.parametrize("how", ["env", "option"])
def test_a_named_data_folder_that_does_not_exist_is_an_error_at_once(tmp_path, monkeypatch, capsys, how):
    missing = tmp_path / "nonexistent"
    argv = ["run", "all", "--quick", "--no-progress", "--out", str(tmp_path / "out")]
    if how == "env":
        monkeypatch.setenv("ACTLAB_DATA_DIR", str(missing))
    else:
        argv += ["--data-dir", str(missing)]
    started = time.monotonic()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert time.monotonic() - started < 30
    assert err.count("\n") == 1 and str(missing) in err and "does not exist" in err
    assert ("ACTLAB_DATA_DIR" if how == "env" else "--data-dir") in err
    # before anything else (in about a second: no torch, no claim is loaded): nothing was written
    assert not (tmp_path / "out").exists()


def test_the_check_loads_no_torch(tmp_path):
    import os
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[2] / "src"
    probe = ("import sys; from actlab.cli.main import main; code = main(sys.argv[1:]); "
             "print('torch' in sys.modules, code)")
    env = {**os.environ, "ACTLAB_DATA_DIR": str(tmp_path / "nonexistent"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", probe, "run", "all", "--quick", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.stdout.split() == ["False", "2"], proc.stdout + proc.stderr
    assert str(tmp_path / "nonexistent") in proc.stderr


def test_a_data_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ACTLAB_DATA_DIR", str(blocker))
    with pytest.raises(DataError, match=f"{blocker}.*is a file"):
        fetch_file(FILES["mnist"]["t10k-labels-idx1-ubyte.gz"])


def test_a_named_missing_folder_is_never_passed_over_for_the_cache(tmp_path, monkeypatch):
    # The issue: ACTLAB_DATA_DIR set to a missing folder went unnoticed until a claim, minutes in,
    # looked in the cache. The cache here holds the file; the named folder must still be an error.
    missing = tmp_path / "gone"
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=f"{missing}.*does not exist"):
        fetch_file(FILES["mnist"]["t10k-labels-idx1-ubyte.gz"], data_dir=missing)


def test_run_checks_every_claims_data_before_the_first_claim(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["run", "dead-relu", "--no-progress", "--no-plots", "--out", str(tmp_path / "out"), "--data-dir", str(empty),
            "--dataset", "mnist", *_sets(["workers=1", "steps=2"])]
    started = time.monotonic()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 30
    assert err.startswith("actlab: error: dead-relu: ") and err.count("\n") == 1
    assert "train-images-idx3-ubyte.gz" in err or "labels" in err
    assert not (tmp_path / "out" / "dead-relu").exists()


def test_when_one_claims_data_vanishes_mid_run_the_others_and_the_report_are_written(
        tmp_path, monkeypatch, capsys, data_dir):
    data = tmp_path / "data"
    shutil.copytree(data_dir / "mnist", data / "mnist")
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path / "cache"))  # nowhere else to find it
    monkeypatch.setenv("ACTLAB_OFFLINE", "1")
    monkeypatch.setattr(actlab.claims, "claim_names", lambda available_only=True: [
        "vanishing", "dead-relu", "sign-coherence"])
    vanishing = actlab.claims.load_claim("vanishing")
    real_run = vanishing.run

    def run_then_lose_the_data(config, progress):
        result = real_run(config, progress=progress)
        shutil.rmtree(data / "mnist")  # after the up-front check passed, before dead-relu reads it
        return result

    monkeypatch.setattr(vanishing, "run", run_then_lose_the_data)
    from actlab.data.mnist import clear_cache

    clear_cache()  # decoded files are cached per process; this run must read them
    out = tmp_path / "out"
    code = main(["run", "all", "--no-progress", "--no-plots", "--out", str(out), "--data-dir", str(data),
                 "--dataset", "mnist", *_sets(TINY)])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert (out / "vanishing" / "result.json").is_file()
    assert (out / "sign-coherence" / "result.json").is_file()  # the claim after the failure ran too
    assert not (out / "dead-relu").exists()
    assert "dead-relu: failed" in captured.out and "1 of 3 claims failed (dead-relu)" in captured.err
    failures = read_failures(out)
    assert set(failures) == {"dead-relu"}
    assert "train-images-idx3-ubyte.gz" in failures["dead-relu"]["error"] or "not found" in failures["dead-relu"]["error"]
    assert failures["dead-relu"]["command"].startswith("actlab run dead-relu --out ")
    page = (out / "report.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "1 failed" in text and "The run failed" in text
    assert failures["dead-relu"]["command"] in text
    assert 'class="failed"' in page

    # data back, the claim rerun alone: the failure is forgotten, the report shows its result
    shutil.copytree(data_dir / "mnist", data / "mnist")
    code = main(["run", "dead-relu", "--no-progress", "--no-plots", "--out", str(out), "--data-dir", str(data),
                 "--dataset", "mnist", *_sets([s for s in TINY if s.split("=")[0] in (
                     "depth", "width", "seeds", "workers", "steps", "lrs", "adam_lrs", "bias_inits",
                     "train_examples", "test_examples")])])
    assert code == 0, capsys.readouterr().err
    assert not (out / FAILED_FILE).exists() and read_failures(out) == {}
    assert "The run failed" not in (out / "report.html").read_text(encoding="utf-8")


def test_a_users_file_of_that_name_is_left_alone(tmp_path):
    from actlab.runs.failures import clear_failure, record_failure

    mine = tmp_path / FAILED_FILE
    mine.write_text(json.dumps({"my": "notes"}))
    assert record_failure(tmp_path, "dead-relu", "boom", "actlab run dead-relu") is False
    clear_failure(tmp_path, "dead-relu")
    assert json.loads(mine.read_text()) == {"my": "notes"}
    assert read_failures(tmp_path) == {}


def test_sweep_names_a_missing_data_folder_before_any_run(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code = main(["sweep", "dead-relu", "--no-progress", "--out", str(tmp_path / "out"), "--data-dir", str(missing)])
    err = capsys.readouterr().err
    assert code == 2 and str(missing) in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
