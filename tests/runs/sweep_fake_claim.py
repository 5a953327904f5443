"""A claim module for the sweep tests: instant, deterministic, and able to misbehave on cue.

Its metrics are known functions of the seed (so aggregates can be checked by hand); a
chosen seed can make a metric NaN (a diverged run), raise, or kill its worker process.
It lives in tests/ (importable as ``sweep_fake_claim`` in the spawned workers, which get
the parent's ``sys.path``), not in ``actlab.claims.CLAIMS``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from actlab.training.settings import check_float, check_int, no_progress
from actlab.verdicts.result import Result, Verdict, environment

NAME = "fake-sweep"
CLAIM = "A test double."
SOURCE = "tests/sweep_fake_claim.py"
COMMAND = "(tests only)"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 1
    scale: float = 1.0
    crash_seed: int = -1  # this seed's worker process dies (os._exit), every time
    raise_seed: int = -1  # this seed's run raises RuntimeError
    nan_seed: int = -1  # this seed's "loss" is NaN and its "peak" +inf: a diverged run
    sleep: float = 0.0
    workers: int = 0
    meet: str = ""  # a folder: each run marks its start there, and crash_seed dies only once a sibling has started

    def __post_init__(self) -> None:
        check_int("seed", self.seed, min_value=0)
        check_int("seeds", self.seeds, min_value=1)
        check_float("scale", self.scale)
        check_float("sleep", self.sleep, min_value=0.0)
        check_int("workers", self.workers, min_value=0)


QUICK: dict = {}


def expected_metrics(config: Config) -> dict:
    """The metrics ``run`` returns, before JSON encoding (NaN stays a float here)."""
    s = config.seed
    diverged = s == config.nan_seed
    return {
        "value": config.scale * s,
        "curve": [float(s), float(s * s)],
        "nested": {"loss": math.nan if diverged else 1.0 / (1 + s), "peak": math.inf if diverged else float(s)},
        "reached": s % 2 == 0,  # a boolean: not averaged
        "label": f"seed {s}",  # a string: not averaged
        "steps": None if s == 0 else 10 * s,  # None: counted as missing
        "workers_seen": config.workers,
    }


def _wait_for_a_sibling(folder: Path, seed: int, limit_s: float = 60.0) -> None:
    """Mark this run's start in ``folder``; return once another seed's mark is there (or after ``limit_s``)."""
    (folder / f"started-{seed}").touch()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not any(p.name != f"started-{seed}" for p in folder.iterdir()):
        time.sleep(0.01)


def run(config: Config, progress=no_progress) -> Result:
    if config.meet and config.seed != config.crash_seed:
        (Path(config.meet) / f"started-{config.seed}").touch()
    if config.seed == config.crash_seed and multiprocessing.parent_process() is not None:
        # Only ever in a worker process, never in the test runner. With ``meet``, once a sibling has
        # started (it is in flight beside this one, however late a loaded machine starts workers);
        # else halfway through the sleeping runs' sleep.
        if config.meet:
            _wait_for_a_sibling(Path(config.meet), config.seed)
        else:
            time.sleep(config.sleep / 2)
        os._exit(3)
    if config.sleep:
        time.sleep(config.sleep)
    if config.seed == config.raise_seed:
        raise RuntimeError(f"seed {config.seed} raises on purpose")
    status = "holds" if config.seed % 2 == 0 else "inconclusive"
    return Result(experiment=NAME, config=asdict(config), metrics=expected_metrics(config),
                  verdict=Verdict(status, f"seed {config.seed}"), env=environment("cpu"), elapsed_s=0.0)
