"""Claim 2, ``zigzag``: all-positive inputs confine per-example steps and slow gradient descent.

The claim (CS231n lecture 6 and its notes): sigmoid outputs are not zero-centred. A
layer whose inputs are all positive gets, for one example, weight gradients
dL/dw_i = (dL/df) * x_i that all share the sign of dL/df: its weights can only all
increase or all decrease together, so the path to the optimum zig-zags.

Two parts (``parts``; ``a`` and ``b`` are accepted for ``linear`` and ``factorial``):

* (a) ``linear`` (``zigzag/linear.py``): least squares on one linear unit, all-positive inputs
  against the same inputs centred: condition number, gradient-descent steps, the share
  of per-example SGD steps that move every weight the same way. An algebra check: the
  quadrant fraction is 1 by algebra and the condition number ~1 + 5.8 n for these inputs.
  Cheap and deterministic: ``actlab run zigzag --quick --set parts=a``.
* (b) ``factorial`` (``zigzag/factorial.py``): centring x gain on MNIST-1D: sigmoid,
  sigmoid_centered, tanh_shifted, tanh trained with SGD at a learning rate tuned per
  variant on a grid that grows until the best rate is interior. The claim's test.

Verdict: part (b)'s. Rule (``factorial.centring_rule``): centring's steps factor (steps
to the target with zero-centred outputs / without, per seed the geometric mean over the
two gain levels) holds if its 95% log-t interval over >= 5 seeds lies wholly below
1 / MIN_CENTRING_SPEEDUP (centring saves at least 10% of the steps), does not hold if
wholly above; inconclusive otherwise, or if a variant missed the target, or a best rate
stayed at the edge of its grid. Part (a) alone gives ``inconclusive`` (an algebra check
does not test the claim) unless its check fails.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ...training.settings import (
    Progress,
    Stopwatch,
    no_progress,
    torch_threads,
)
from ...verdicts.result import KeyNumber, Result, Source, Verdict, environment
from .config import (
    CLAIM,
    COMMAND,
    INPUTS,
    NAME,
    PART_ALIASES,
    PARTS,
    QUICK,
    SOURCE,
    Config,
)
from .factorial import (
    EFFECTS,
    FACTORIAL_VARIANTS,
    FACTORS,
    MIN_CENTRING_SPEEDUP,
    centring_rule,
    choose_fixed_lr,
    choose_lr,
    factorial_effects,
    factorial_model,
    factorial_run,
    next_rate,
    run_factorial,
)
from .linear import (
    MIN_STEPS_RATIO,
    VARIANTS,
    LinearProblem,
    OptimiserRun,
    Section,
    condition_number,
    gradient_descent,
    linear_problem,
    per_example_sgd,
    population_moments,
    run_linear,
    same_direction_fraction,
    sgd_orders,
    steps_bound,
)

__all__ = [
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "PARTS",
    "VARIANTS",
    "INPUTS",
    "MIN_STEPS_RATIO",
    "FACTORIAL_VARIANTS",
    "FACTORS",
    "EFFECTS",
    "MIN_CENTRING_SPEEDUP",
    "Config",
    "QUICK",
    "run",
    "LinearProblem",
    "linear_problem",
    "condition_number",
    "steps_bound",
    "OptimiserRun",
    "gradient_descent",
    "per_example_sgd",
    "sgd_orders",
    "same_direction_fraction",
    "population_moments",
    "factorial_model",
    "factorial_run",
    "factorial_effects",
    "choose_lr",
    "choose_fixed_lr",
    "next_rate",
    "centring_rule",
    "PART_ALIASES",
]

def _linear_only_verdict(config: Config, section: Section) -> Verdict:
    """Part (a) alone: an algebra check, not a test of the claim."""
    failed = section.status == "does_not_hold"
    status = "does_not_hold" if failed else "inconclusive"
    m = section.metrics
    keys = [str(n) for n in config.dims]
    kappa = m["condition_number"]["positive"]
    evidence = (("Part (a)'s algebra check FAILED (positive inputs gave per-example steps of mixed sign, or no "
                 "slow-down): " if failed else "Part (a) only: an algebra check, not a test of the claim (run "
                 "parts=factorial for the test). ") + section.evidence)
    rule = centring_rule(config)
    return Verdict(status, evidence, rule=rule, source=Source(
        "CS231n lecture 6 and notes; LeCun et al. 1998, 'Efficient BackProp', sec. 4.3",
        "per-example weight updates all of one sign for positive inputs; a non-zero input mean slows gradient descent",
        f"quadrant fraction {min(m['quadrant_fraction']['positive'][k] for k in keys):.3f} (1 by algebra); condition "
        f"number {'/'.join(f'{kappa[k]:.3g}' for k in keys)} for n = {'/'.join(keys)} (about 1 + "
        f"{m['sgd_steps_ratio_population'] - 1:.1f} n)",
        "one linear neuron on synthetic least squares: the mechanism, not a network"),
        meaning=(f"This run measured only part (a), one linear neuron with all-positive inputs. Every single-example "
                 f"step moved all its weights the same way, as algebra says it must, and the input mean stretched the "
                 f"loss surface (condition number: how much steeper it is in one direction than another) to "
                 f"{kappa[keys[-1]]:.3g} at n = {keys[-1]}. That is the mechanism, not a test of the claim: part (b) "
                 f"tests it on a trained network."),
        key_number=KeyNumber(kappa[keys[-1]], f"{kappa[keys[-1]]:.3g}",
                             f"condition number of E[xx^T] with positive inputs, n = {keys[-1]}"))


def _combine(config: Config, sections: dict[str, Section]) -> Verdict:
    """Part (b)'s verdict decides the claim; part (a) joins the evidence as an algebra check."""
    if "factorial" not in sections:
        return _linear_only_verdict(config, sections["linear"])
    b = sections["factorial"].verdict
    if "linear" not in sections:
        return b
    a = sections["linear"]
    status = b.status
    note = "passed" if a.status != "does_not_hold" else "FAILED"
    if a.status == "does_not_hold":
        status = "inconclusive"  # the harness's algebra is broken: no number can be trusted
    evidence = (f"(b), the test: {b.evidence.rstrip('.')}. (a), an algebra check ({note}): the quadrant fraction is "
                f"1 by algebra and the condition number about 1 + {a.metrics['sgd_steps_ratio_population'] - 1:.1f} n "
                f"for these inputs; {a.evidence[:1].lower() + a.evidence[1:]}")
    return Verdict(status, evidence, rule=b.rule, source=b.source, meaning=b.meaning, key_number=b.key_number)


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the ``zigzag`` claim for ``config``; never prints, plots or writes.

    ``metrics`` holds every part's numbers under their DESIGN.md names (part (a):
    ``condition_number``, ``steps_to_tol``, ``quadrant_fraction`` and the rest, each
    ``[variant][n]``; part (b): ``steps_to_target``, ``test_accuracy``,
    ``factorial_effects`` and the rest, each ``[activation]``); ``data[part]`` holds what
    that part's figures draw.
    """
    watch = Stopwatch()
    units = {  # progress units: one per (n, variant), one per training run
        "linear": len(config.dims) * len(VARIANTS),
        # the grid may grow: count the most runs it can take, so the estimate never runs backwards
        "factorial": len(FACTORIAL_VARIANTS) * (len(config.lr_grid) + config.lr_grid_growth) * config.seeds,
    }
    total = sum(units[p] for p in config.parts)
    sections: dict[str, Section] = {}
    done = 0
    for part in config.parts:
        if part == "linear":
            # one thread: the same bits whatever the caller's thread setting (the lead's rerun test)
            with torch_threads(1):
                sections[part] = run_linear(config, progress, done, total)
        else:
            sections[part] = run_factorial(config, progress, done, total)
        done += units[part]
    progress(total, total, "done")
    metrics: dict[str, Any] = {}
    for section in sections.values():
        clash = set(metrics) & set(section.metrics)
        if clash:  # parts must name their metrics apart
            raise RuntimeError(f"metrics {sorted(clash)} named by two parts")
        metrics.update(section.metrics)
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_combine(config, sections),
        env=environment(config.device if "factorial" in config.parts else "cpu"),
        elapsed_s=watch.elapsed(),
        data={part: s.data for part, s in sections.items()},
    )

