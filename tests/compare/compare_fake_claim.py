"""A claim module for the compare tests: instant, deterministic, with per-activation numbers.

Each activation's number for seed s is ``BASE[act] * (1 + 0.1 * ((s * 7 + len(act)) % 5))``
(a known spread over seeds), so the scorecard's cells can be checked against
``stats.activation_number`` computed by the test. ``RUNS`` counts the runs in this process
(to check that compare reuses a finished claim instead of rerunning it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from actlab.training.fields import check_fields
from actlab.training.settings import no_progress
from actlab.verdicts.result import PerActivation, Result, Verdict, environment
from actlab.verdicts.stats import activation_number

NAME = "fake-acts"
CLAIM = "A test double."
SOURCE = "tests/compare/compare_fake_claim.py"
COMMAND = "(tests only)"

BASE = {"relu": 100.0, "tanh": 180.0, "gelu": 90.0, "sigmoid": 400.0, "silu": 95.0, "mine": 120.0}
RUNS: list[tuple[str, ...]] = []


@dataclass(frozen=True)
class Config:
    seed: int = 0
    seeds: int = 5
    activations: tuple[str, ...] = ("relu", "tanh")
    baseline: str = "relu"
    refuse: str = ""          # an activation this claim cannot take (like cost and maxout)

    def __post_init__(self) -> None:
        check_fields(self, "seed", "seeds", "activations", "baseline")
        if self.refuse and self.refuse in self.activations:
            raise ValueError(f"activations: {self.refuse} is not something this claim can measure")


QUICK: dict = {"seeds": 5}


def value(act: str, seed: int) -> float:
    return BASE.get(act, 150.0) * (1 + 0.1 * ((seed * 7 + len(act)) % 5))


def run(config: Config, progress=no_progress) -> Result:
    RUNS.append(config.activations)
    seeds = range(config.seed, config.seed + config.seeds)
    per = {a: [value(a, s) for s in seeds] for a in config.activations}
    numbers = [activation_number(a, per[a], per[config.baseline]) for a in config.activations]
    pa = PerActivation("steps_to_target", "steps to 10% error", "steps", "lower", config.baseline, tuple(numbers),
                       ratio_label=f"steps / {config.baseline}'s, paired by seed")
    return Result(experiment=NAME, config=asdict(config), metrics={"per_seed": per},
                  verdict=Verdict("inconclusive", "a test double decides nothing"), env=environment("cpu"),
                  elapsed_s=0.0, per_activation=(pa,))
