"""The ``cost`` claim's rule, verdict and "What this means", from its metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ...verdicts.result import KeyNumber, Rule, Source, Verdict
from ...verdicts.stats import Interval, decide_each
from .config import (
    ALLOC_THRESHOLD_BYTES,
    DTYPES,
    EXP_BASED,
    QUICK,
    Config,
)


def regime_of(size: int, bytes_per_element: int) -> str:
    """"cached_heap" below :data:`ALLOC_THRESHOLD_BYTES` (allocations reuse heap memory), "fresh_pages" at or above."""
    return "fresh_pages" if size * bytes_per_element >= ALLOC_THRESHOLD_BYTES else "cached_heap"


_REGIME_WORDS = {"cached_heap": "below the 32 MB allocation threshold (memory reused: the arithmetic shows)",
                 "fresh_pages": "above the 32 MB allocation threshold (every op gets fresh pages: memory-bound)"}


def _interval_dict(iv: Interval) -> dict[str, Any]:
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n}


def _interval(d: Mapping[str, Any]) -> Interval:
    return Interval(d["estimate"], d["ci95_low"], d["ci95_high"], d["n"], "log-t")


def decision_sizes(config: Config) -> dict[str, int]:
    """The size the verdict reads in each regime measured: the largest size on each side of the threshold."""
    out: dict[str, int] = {}
    for n in config.sizes:
        out[regime_of(n, DTYPES[config.dtype].itemsize)] = n  # sizes are sorted: the last one wins
    return dict(sorted(out.items()))


def cost_rule(config: Config, exp_act: str) -> Rule:
    """The claim as a rule on the forward+backward time ratio exp activation / relu."""
    threshold = 1 + config.margin
    return Rule(statistic=f"{exp_act}/relu time ratio of forward+backward (one ratio per interleaved round, "
                          f"geometric mean and log-t interval over rounds)", threshold=threshold, holds_if="above",
                seeds=config.rounds, text=(
        f"In each size regime measured (the largest size below and the largest above the 32 MB allocation "
        f"threshold), {exp_act} is more expensive than relu if the 95% interval of its forward+backward time ratio "
        f"lies wholly above {threshold:g}, and not if wholly below; rounds are the replicates (at least 5; this run: "
        f"{config.rounds}). The claim holds if it holds in every regime measured, does not hold if it fails in some "
        f"regime, otherwise inconclusive. The training-step ratio is reported as the practical answer, not decided."))


# One verdict per regime, combined: the claim must hold in every regime measured.
cost_verdict = decide_each


SOURCE_CITATION = "CS231n lecture 6 (2017) and notes, 'Activation functions'"
SOURCE_VALUE = ("sigmoid: 'exp() is a bit compute expensive'; ReLU: 'computationally efficient', 'very "
                "computationally efficient' (no number given); Krizhevsky et al. 2012 motivate ReLU by training "
                "speed, not per-op cost")


def _scale_words(config: Config) -> str:
    def matches(values: Mapping[str, Any]) -> bool:
        return all(getattr(config, k) == (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in values.items())
    if matches({k: v for k, v in QUICK.items() if k != "activations"}):
        return "quick"
    return "full-scale" if matches({k: getattr(Config, k) for k in QUICK if k != "activations"}) else "custom-size"


def _verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    acts = config.activations
    exp_act = next((a for a in EXP_BASED if a in acts), None)
    scale = _scale_words(config)
    sizes = decision_sizes(config)
    threads = f"{config.threads} thread{'s' if config.threads > 1 else ''}"
    machine = f"timings are of this machine ({threads}, {config.dtype})"
    if exp_act is None:
        largest = str(config.sizes[-1])
        return Verdict("inconclusive", f"No exp-based activation was measured ({', '.join(acts)}), so the claim "
                       f"cannot be tested; at {config.sizes[-1]:,} elements relu's forward is "
                       f"{m['ratio_vs_copy']['relu']['forward'][largest]:.2f}x a same-size copy.",
                       rule=cost_rule(config, "sigmoid"),
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "no exp-based activation"),
                       meaning=f"This {scale} run measured no activation that computes exp(), so it cannot test the "
                               "claim; rerun with --activations relu,sigmoid,tanh.",
                       key_number=KeyNumber(None, "n/a", "sigmoid/relu forward+backward time (not measured)"))
    rule = cost_rule(config, exp_act)
    ci = m["ratio_vs_relu_ci"][exp_act]
    intervals = {regime: _interval(ci["forward_backward"][str(n)]) for regime, n in sizes.items()}
    status, per = cost_verdict(intervals, rule)
    parts = []
    for regime, n in sizes.items():
        k = str(n)
        fwd = _interval(ci["forward"][k])
        parts.append(f"at {n:,} elements, {_REGIME_WORDS[regime]}: forward+backward "
                     f"{intervals[regime].text('{:.2f}', 'x')} ({per[regime][0].replace('_', ' ')}), forward "
                     f"{fwd.text('{:.2f}', 'x')}")
    tanh_text = ""
    if "tanh" in acts and exp_act != "tanh":
        tanh_text = "; tanh forward+backward " + ", ".join(
            f"{float(m['ratio_vs_relu']['tanh']['forward_backward'][str(n)]):.2f}x at {n:,}" for n in sizes.values())
    step = _interval(m["train_step_ratio_ci"][exp_act])
    shape = "-".join(str(w) for w in (784, *config.train_widths, 10))
    evidence = (f"{exp_act} against relu on the CPU ({machine}): " + "; ".join(parts) + tanh_text
                + f". The practical answer: a whole {shape} MLP training step (batch {config.train_batch}) costs "
                f"{step.text('{:.2f}', 'x')} relu's.").replace(" seeds)", " rounds)")
    decisive = min(sizes, key=lambda r: intervals[r].estimate if intervals[r].estimate is not None else 0.0)
    est = intervals[decisive].estimate
    key = KeyNumber(est, f"{est:.2f}x" if est is not None else "n/a",
                    f"{exp_act}/relu forward+backward time at {sizes[decisive]:,} elements "
                    f"({'above' if decisive == 'fresh_pages' else 'below'} the allocation threshold; "
                    f"training step {step.estimate:.2f}x)" if step.estimate is not None else "")
    ours = "; ".join(f"{intervals[r].text('{:.2f}', 'x')} forward+backward at {n:,} elements" for r, n in sizes.items())
    ours += f"; training step {step.text('{:.2f}', 'x')}"
    ours = ours.replace(" seeds)", " rounds)")
    differences = (f"PyTorch {torch.__version__} CPU kernels ({threads}, vectorised {torch.backends.cpu.get_cpu_capability()}), "
                   f"{config.dtype}; the course's remark predates fused vectorised exp kernels; {machine}, and a "
                   "shared machine adds noise, which the interleaved rounds spread over all activations alike")
    meaning = _meaning(config, scale, exp_act, sizes, intervals, step, status, m)
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key)


def _meaning(config: Config, scale: str, exp_act: str, sizes: Mapping[str, int], intervals: Mapping[str, Interval],
             step: Interval, status: str, m: Mapping[str, Any]) -> str:
    out = [f"This {scale} run timed each activation on this machine's CPU, forward and backward together as "
           f"training uses them, with relu timed in the same interleaved rounds so that background load hits both."]
    for regime, n in sizes.items():
        iv = intervals[regime]
        where = ("a size whose memory is reused, so the arithmetic shows" if regime == "cached_heap"
                 else "a size so large that every operation waits for fresh memory from the operating system")
        out.append(f"At {n:,} numbers ({where}) {exp_act} took {iv.estimate:.2f} times relu's time.")
    if "tanh" in config.activations and exp_act != "tanh":
        n = next(iter(sizes.values()))
        out.append(f"tanh, whose kernel here is slower, took "
                   f"{float(m['ratio_vs_relu']['tanh']['forward_backward'][str(n)]):.1f}x at {n:,}.")
    if step.estimate is not None:
        out.append(f"In a whole training step of a small network the matrix products dominate, and {exp_act} "
                   f"costs only {step.estimate:.2f}x relu's step: the practical difference is small.")
    pct = f"{100 * config.margin:g}%"
    word = {"holds": f"holds in every regime measured (more than {pct} dearer)",
            "does_not_hold": (f"does not hold as a general rule: in at least one regime {exp_act} costs less than "
                              f"{pct} more than relu"),
            "inconclusive": f"is not settled by this run (an interval spans the {1 + config.margin:g}x threshold)"}[status]
    out.append(f"So 'exp() is more expensive than max(0, x)' {word}.")
    return " ".join(out)
