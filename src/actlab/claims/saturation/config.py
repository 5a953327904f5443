"""saturation's settings and fixed constants, shared by the claim (``__init__``) and its verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...training.fields import check_fields
from ...training.settings import check_float, check_int

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "BINS", "NEAR", "PINNED", "EARLY_STEPS",
           "STAY_STEPS", "THRESHOLD", "CHANCE_FACTOR", "PAPER_TEST_ERROR"]

NAME = "saturation"
CLAIM = ("Sigmoid and tanh saturate, and saturated units kill the gradient. With sigmoid, the top hidden layer is "
         "driven to its lower saturation (0) early in training and stays there for a long time, while the lower "
         "layers do not (Glorot & Bengio 2010).")
SOURCE = "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural networks', Fig. 2, Table 1"
COMMAND = "actlab run saturation"

BINS = 40          # histogram bins over the output range: 0.025 wide for sigmoid, 0.05 for tanh/softsign
NEAR = 0.05        # "near the lower end": within this of the output range's lower bound
PINNED = 0.5       # a layer is pinned when more than this share of its outputs is near the lower end
EARLY_STEPS = 1000  # "early": the top layer pinned for good within the first 1000 SGD steps (10,000 examples at batch 10)
STAY_STEPS = 1000   # "stays there": the run goes on at least this many steps past EARLY_STEPS
THRESHOLD = EARLY_STEPS
CHANCE_FACTOR = 0.5  # a run "left chance level" once its training error fell below this x the chance error

#: Glorot & Bengio 2010, Table 1, MNIST test error (%) with the standard initialisation.
PAPER_TEST_ERROR = {"sigmoid": 2.21, "tanh": 1.76, "softsign": 1.64}


@dataclass(frozen=True)
class Config:
    """Every setting of the saturation claim (defaults: the full-scale run)."""

    activations: tuple[str, ...] = ("sigmoid", "tanh", "softsign")
    baseline: str = "relu"  # the per-activation numbers' baseline (measured too)
    dataset: str = "mnist"
    depth: int = 4
    width: int = 1000
    init: str = "default"
    steps: int = 2500
    batch_size: int = 10
    lr: float = 0.1
    probes: int = 30
    probe_examples: int = 300
    seeds: int = 5
    seed: int = 0
    train_examples: int = 0
    workers: int = 0
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "activations", "baseline")
        if "maxout" in self.activations:
            raise ValueError("maxout does not saturate (and is a layer); leave it out")
        check_fields(self, "dataset", "depth", "width", "init", "steps", "batch_size")
        check_float("lr", self.lr, positive=True)
        check_int("probes", self.probes, min_value=2, max_value=1000)
        check_int("probe_examples", self.probe_examples, min_value=1, max_value=100_000)
        check_fields(self, "seeds", "seed", "train_examples", "workers", "device")


#: --quick: narrower, shorter, on 20k examples; lr 0.3 so that the top layer is pinned
#: within the first third of 2000 steps (from the probe at step 667 on seeds 0-4, 100 and 200 at
#: width 150, while tanh and softsign train; at lr 0.1 and width 250 it takes ~3500 steps).
QUICK: dict[str, Any] = {"width": 150, "steps": 2000, "lr": 0.3, "probes": 24, "train_examples": 20_000}


