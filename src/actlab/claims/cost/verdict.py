"""The ``cost`` claim's rule, verdict and "What this means", from its metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ...verdicts.result import KeyNumber, Limit, PerActivation, Rule, Source, Verdict
from ...verdicts.stats import Interval, activation_number, decide, decide_each
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


_REGIME_WORDS = {"cached_heap": ("below 32 MB, the size from which the C library hands every new tensor fresh "
                                 "memory from the operating system (here memory is reused: the arithmetic shows)"),
                 "fresh_pages": ("above 32 MB, the size from which the C library hands every new tensor fresh "
                                 "memory from the operating system (each op pays for new pages: memory-bound)")}


def _interval_dict(iv: Interval) -> dict[str, Any]:
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n}


def _interval(d: Mapping[str, Any]) -> Interval:
    return Interval(d["estimate"], d["ci95_low"], d["ci95_high"], d["n"], "log-t")


def _sweep_text(config: Config) -> str:
    return ", ".join(f"{n:,}" for n in config.sizes)


def cost_rule(config: Config, exp_act: str) -> Rule:
    """The headline as a rule on the forward time ratio exp activation / relu over the size sweep."""
    threshold = 1 + config.margin
    return Rule(statistic=f"{exp_act}/relu forward time ratio over the size sweep (per process the geometric mean "
                          f"over the sizes; log-t interval over independent processes)", threshold=threshold,
                holds_if="above", seeds=config.processes, text=(
        f"{exp_act} is more expensive than relu if the 95% interval of its forward time ratio, the geometric mean "
        f"over the sizes {_sweep_text(config)} elements (from in-cache to beyond every cache), lies wholly above "
        f"{threshold:g}; not, if wholly below; replicates are independent processes (at least 5; this run: "
        f"{config.processes}). The run refuses to decide (inconclusive) when relu's own forward time per element "
        f"varies more than {config.disturbance_bound:g}x across processes at some size: the machine was too "
        f"disturbed. The training step and the memory-bound forward+backward are limits, not the headline."))


def _limit_rule(config: Config, statistic: str) -> Rule:
    threshold = 1 + config.margin
    return Rule(statistic=statistic, threshold=threshold, holds_if="above", seeds=config.processes,
                text=(f"holds if the 95% interval over independent processes of the {statistic} lies wholly above "
                      f"{threshold:g}, does not hold if wholly below, from at least 5 processes (this run: "
                      f"{config.processes}); otherwise, or on a disturbed run, inconclusive."))


# Kept for callers that decide several intervals against one rule.
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


def disturbance(config: Config, m: Mapping[str, Any]) -> tuple[bool, str]:
    """(disturbed, words): relu's own forward spread across processes against the stated bound."""
    spread = m["relu_spread"]["forward"]
    worst = max(spread, key=lambda k: float(spread[k]))
    value = float(spread[worst])
    load = m.get("load_average_1min", {})
    load_text = (f"; 1-minute load average up to {load['max']:g} on {load.get('cpu_count')} cores"
                 if load.get("max") is not None else "")
    words = (f"relu's own forward time per element varied {value:.2f}x across the {m['replicates']} processes at "
             f"{int(worst):,} elements (bound {config.disturbance_bound:g}x){load_text}")
    return value > config.disturbance_bound, words


def _decide(iv: Interval, rule: Rule, disturbed: bool, why: str) -> tuple[str, str]:
    if disturbed:
        return "inconclusive", f"the run was too disturbed to decide: {why}"
    status, reason = decide(iv, rule)
    # the replicates are processes: say how to get more of them
    return status, reason.replace("--seeds ", "--set processes=").replace(" seeds", " processes")


def _side(iv: Interval, threshold: float) -> str:
    """Words for an interval against the threshold, never stronger than the interval."""
    if iv.low is None or iv.high is None:
        return "has no interval"
    if iv.low > threshold:
        return f"above {threshold:g}"
    if iv.high < threshold:
        return f"below {threshold:g}"
    return f"spanning {threshold:g}"


def verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    acts = config.activations
    exp_act = next((a for a in EXP_BASED if a in acts), None)
    scale = _scale_words(config)
    threads = f"{config.threads} thread{'s' if config.threads > 1 else ''}"
    machine = (f"timings are of this machine ({threads}, {config.dtype}, vectorised "
               f"{m.get('cpu_capability', '?')})")
    if exp_act is None:
        largest = str(config.sizes[-1])
        return Verdict("inconclusive", f"No exp-based activation was measured ({', '.join(acts)}), so the claim "
                       f"cannot be tested; at {config.sizes[-1]:,} elements relu's forward is "
                       f"{m['ratio_vs_copy']['relu']['forward'][largest]:.2f}x a same-size copy.",
                       rule=cost_rule(config, "sigmoid"),
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "no exp-based activation"),
                       meaning=f"This {scale} run measured no activation that computes exp(), so it cannot test the "
                               "claim; rerun with --activations relu,sigmoid,tanh.",
                       key_number=KeyNumber(None, "n/a", "sigmoid/relu forward time (not measured)"))
    rule = cost_rule(config, exp_act)
    disturbed, why = disturbance(config, m)
    sweep = _interval(m["sweep_ratio_ci"][exp_act]["forward"])
    status, reason = _decide(sweep, rule, disturbed, why)
    largest = str(config.sizes[-1])
    per_size = ", ".join(f"{float(m['ratio_vs_relu'][exp_act]['forward'][str(n)]):.2f}x at {n:,}" for n in config.sizes)
    t = 1 + config.margin
    step = _interval(m["train_step_ratio_ci"][exp_act])
    # the practitioner's number beside the headline: in a whole training step the difference may vanish
    in_step = (f" In a whole training step the ratio is {step.text('{:.2f}', 'x')}"
               + (" and the difference vanishes" if step.high is not None and step.high < t else "")
               + " (the limit beside the verdict): that is what a practitioner sees."
               if step.estimate is not None else "")
    evidence = (f"{exp_act}'s forward pass takes {sweep.text('{:.2f}', 'x')} relu's time over the size sweep "
                f"({per_size}); {reason}." + in_step + ("" if disturbed else f" Disturbance check: {why}.")
                ).replace(" seeds)", " processes)")
    shape = "-".join(str(w) for w in (784, *config.train_widths, 10))
    step_status, step_reason = _decide(step, _limit_rule(config, f"{exp_act}/relu training-step time ratio"),
                                       disturbed, why)
    fb = _interval(m["ratio_vs_relu_ci"][exp_act]["forward_backward"][largest])
    fb_status, fb_reason = _decide(fb, _limit_rule(config, f"{exp_act}/relu forward+backward time ratio at "
                                                           f"{config.sizes[-1]:,} elements"), disturbed, why)
    limits = (
        Limit(name="training step", statement=f"exp()'s extra cost shows in a whole training step (more than {t:g}x)",
              status=step_status, rule=_limit_rule(config, f"{exp_act}/relu training-step time ratio"),
              evidence=(f"A whole {shape} MLP SGD step (batch {config.train_batch}) with {exp_act} takes "
                        f"{step.text('{:.2f}', 'x')} relu's ({_side(step, t)}): the matrix products dominate; "
                        f"{step_reason}.").replace(" seeds)", " processes)"),
              key_number=KeyNumber(step.estimate, f"{step.estimate:.2f}x" if step.estimate else "n/a",
                                   f"{exp_act}/relu training-step time")),
        Limit(name="memory-bound forward+backward",
              statement=(f"exp() is more expensive also in forward+backward beyond the cache ({config.sizes[-1]:,} "
                         f"elements, more than {t:g}x)"),
              status=fb_status, rule=_limit_rule(config, f"{exp_act}/relu forward+backward time ratio at "
                                                         f"{config.sizes[-1]:,} elements"),
              evidence=(f"At {config.sizes[-1]:,} elements, {_REGIME_WORDS[regime_of(config.sizes[-1], DTYPES[config.dtype].itemsize)]}, "
                        f"forward+backward with {exp_act} takes {fb.text('{:.2f}', 'x')} relu's ({_side(fb, t)}): "
                        f"moving the bytes costs more than the arithmetic; {fb_reason}.").replace(" seeds)",
                                                                                                 " processes)"),
              key_number=KeyNumber(fb.estimate, f"{fb.estimate:.2f}x" if fb.estimate else "n/a",
                                   f"{exp_act}/relu forward+backward at {config.sizes[-1]:,} elements")),
    )
    key = KeyNumber(sweep.estimate, f"{sweep.estimate:.2f}x" if sweep.estimate is not None else "n/a",
                    f"{exp_act}/relu forward time over sizes {_sweep_text(config)}")
    ours = (f"forward {sweep.text('{:.2f}', 'x')} over the size sweep; training step "
            f"{step.text('{:.2f}', 'x')}").replace(" seeds)", " processes)")
    differences = (f"PyTorch {torch.__version__} CPU kernels ({threads}, vectorised {m.get('cpu_capability', '?')}), "
                   f"{config.dtype}; the course's remark predates fused vectorised exp kernels; {machine}; "
                   f"replicates are independent processes run one after another")
    meaning = _meaning(config, scale, exp_act, sweep, step, fb, status, disturbed, why, _dearer_than(exp_act, sweep, m))
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key, limits=limits)


def _meaning(config: Config, scale: str, exp_act: str, sweep: Interval, step: Interval, fb: Interval, status: str,
             disturbed: bool, why: str, dear: str = "") -> str:
    t = 1 + config.margin
    out = [f"This {scale} run timed each activation's forward pass on this machine's CPU at sizes from "
           f"{config.sizes[0]:,} to {config.sizes[-1]:,} numbers (from fitting in the cache to far beyond it), in "
           f"{config.processes} separate processes, with relu timed beside it in each."]
    if sweep.estimate is not None:
        out.append(f"Averaged over those sizes, {exp_act} took {sweep.estimate:.2f} times relu's time (interval "
                   f"{_side(sweep, t)}).")
    if step.estimate is not None:
        out.append(f"In a whole training step of a small network the matrix products dominate: {exp_act}'s step took "
                   f"{step.estimate:.2f} times relu's (interval {_side(step, t)}), so the choice barely shows in "
                   f"practice." if step.high is not None and step.high < t else
                   f"In a whole training step {exp_act}'s step took {step.estimate:.2f} times relu's (interval "
                   f"{_side(step, t)}).")
    if fb.estimate is not None:
        out.append(f"At the largest size, forward and backward together took {fb.estimate:.2f} times relu's "
                   f"(interval {_side(fb, t)}): there, fetching memory costs more than computing exp().")
    if dear:
        out.append(dear)
    if disturbed:
        out.append(f"The machine was too busy for a verdict: {why}.")
    pct = f"{100 * config.margin:g}%"
    word = {"holds": f"holds for the forward pass (more than {pct} dearer)",
            "does_not_hold": f"does not hold here: {exp_act}'s forward pass costs less than {pct} more than relu's",
            "inconclusive": "is not settled by this run"}[status]
    out.append(f"So 'exp() is more expensive than max(0, x)' {word}.")
    return " ".join(out)


def _dearer_than(exp_act: str, sweep: Interval, m: Mapping[str, Any]) -> str:
    """tanh dearer than the exp-based subject: said with both numbers, and without a reason the run did not measure."""
    tanh = m.get("sweep_ratio_ci", {}).get("tanh", {}).get("forward", {}).get("estimate")
    if exp_act == "tanh" or tanh is None or sweep.estimate is None or float(tanh) <= sweep.estimate:
        return ""
    return (f"tanh took {float(tanh):.2f} times relu's time, more than {exp_act}'s {sweep.estimate:.2f}: each "
            f"activation is timed as PyTorch's own CPU kernel (torch.tanh, torch.{exp_act}), and this run does not "
            "measure why one kernel is dearer than another.")


def per_activation(config: Config, m: Mapping[str, Any]) -> tuple[PerActivation, ...]:
    """Forward and forward+backward time per element (geometric mean over the sizes), ratio to relu paired by process."""
    out = []
    for p, words in (("forward", "forward"), ("forward_backward", "forward+backward")):
        def per_process(a: str, p: str = p) -> list[float]:
            by = m["ns_per_element"][a][p]
            n = len(by[str(config.sizes[0])]["per_process"])
            return [math.exp(sum(math.log(float(by[str(s)]["per_process"][i])) for s in config.sizes) / len(config.sizes))
                    for i in range(n)]
        base = per_process("relu")
        values = tuple(activation_number(a, per_process(a), base) for a in config.activations)
        out.append(PerActivation(
            key=f"{p}_time", quantity=f"{words} time per element, geometric mean over sizes {_sweep_text(config)}",
            unit="ns per element", better="lower", baseline="relu", values=values,
            ratio_label="time / relu's, paired by process", replicates="processes",
            note=(f"This machine's CPU ({config.threads} thread{'s' if config.threads > 1 else ''}, {config.dtype}); "
                  f"intervals over {config.processes} independent processes.")))
    return tuple(out)
