"""Reproducible per activation (issue 18, item 4): on one machine, a claim's numbers for one
activation at a given seed do not depend on which other activations are in ``activations``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actlab.claims import load_claim
from actlab.training.settings import make_config
from actlab.verdicts.result import to_jsonable

#: Sizes at which each claim takes a second or two; ``activations`` is set by the test.
TINY: dict[str, dict[str, str]] = {
    "sign-coherence": {"depth": "2", "width": "4", "in_features": "4", "trials": "2", "batches": "1,2"},
    "vanishing": {"depth": "3", "width": "4", "batch": "4", "seeds": "2", "inits": "default,xavier"},
    "dead-relu": {"dataset": "mnist1d", "workers": "1", "steps": "6", "width": "4", "depth": "1", "lrs": "0.1",
                  "adam_lrs": "0.01", "bias_inits": "0", "seeds": "2", "select_seeds": "1", "train_examples": "64",
                  "test_examples": "32"},
    "convergence": {"dataset": "mnist1d", "workers": "1", "max_steps": "6", "eval_every": "2", "eval_examples": "16",
                    "width": "4", "depth": "1", "lr_grid": "0.1", "seeds": "2", "train_examples": "64",
                    "test_examples": "32"},
    "saturation": {"dataset": "mnist1d", "workers": "1", "depth": "1", "width": "4", "steps": "4", "probes": "2",
                   "probe_examples": "8", "train_examples": "64", "seeds": "2"},
}
#: (the activation compared, the activations run alone with it, then with more beside it)
SETS: dict[str, tuple[str, str, str]] = {
    "sign-coherence": ("relu", "sigmoid,relu", "tanh,sigmoid,elu,relu"),
    "vanishing": ("tanh", "sigmoid,tanh", "sigmoid,relu,tanh,gelu"),
    "dead-relu": ("relu", "relu", "relu,leaky_relu,elu"),
    "convergence": ("relu", "relu,tanh", "relu,tanh,gelu,silu"),
    "saturation": ("tanh", "sigmoid,tanh", "sigmoid,softsign,tanh"),
}


def _of(value: Any, act: str) -> Any:
    """Everything in a metrics tree that belongs to ``act``: dict entries keyed by it, and list
    items (runs) whose "activation" field is it; [] when nothing is."""
    found = []
    if isinstance(value, dict):
        if value.get("activation") == act:
            return [value]
        for key, item in value.items():
            if key == act:
                found.append((key, item))
            else:
                sub = _of(item, act)
                if sub:
                    found.append((key, sub))
    elif isinstance(value, list):  # runs of several activations: the order of act's own, not their places
        for item in value:
            sub = _of(item, act)
            if sub:
                found.append(sub)
    return found


def _run(name: str, activations: str) -> dict[str, Any]:
    module = load_claim(name)
    config = make_config(module.Config, None, {**TINY[name], "activations": activations})
    return json.loads(json.dumps(to_jsonable(module.run(config).metrics)))


@pytest.mark.parametrize("name", list(SETS))
def test_an_activations_numbers_do_not_depend_on_the_others(name):
    act, few, many = SETS[name]
    alone, beside = _of(_run(name, few), act), _of(_run(name, many), act)
    assert alone, f"no metric of {act} found in {name}'s result"
    # exactly, not approximately: the same seed on the same machine gives the same numbers
    assert alone == beside, f"{name}: {act}'s numbers changed when other activations were added"


def test_in_worker_processes_too():
    # workers=0 (the default): one task alone runs in this process, several in a pool of one-thread
    # workers; relu's run must be the same number either way.
    name = "dead-relu"
    tiny = {**TINY[name], "workers": "0", "seeds": "1", "select_seeds": "1"}
    runs = []
    for activations in ("relu", "relu,tanh,elu"):
        module = load_claim(name)
        config = make_config(module.Config, None, {**tiny, "activations": activations})
        runs.append(_of(json.loads(json.dumps(to_jsonable(module.run(config).metrics))), "relu"))
    assert runs[0] and runs[0] == runs[1]


def test_the_extractor_finds_per_activation_entries_only():
    metrics = {"steps": {"relu": 3, "tanh": 4}, "runs": [{"activation": "relu", "x": 1}, {"activation": "tanh", "x": 2}],
               "other": 5}
    assert _of(metrics, "relu") == [("steps", [("relu", 3)]), ("runs", [[{"activation": "relu", "x": 1}]])]
