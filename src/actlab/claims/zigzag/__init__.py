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
from ...verdicts.result import (
    KeyNumber,
    Limit,
    PerActivation,
    Result,
    Rule,
    Source,
    Verdict,
    environment,
)
from ...verdicts.stats import activation_number
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
    factorial_verdict,
    next_rate,
    run_factorial,
    target_words,
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
    "conditioning_limit",
    "per_activation",
    "SAME_WAY_LIMIT",
    "TWINS",
]

#: part (a)'s limit: full-batch descent's steps that move every weight one way stay under this share
SAME_WAY_LIMIT = 0.05


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
                 f"step moved all its weights the same way, as algebra says it must; but full-batch descent, whose "
                 f"steps almost never do, was slowed most, because the input mean stretched the loss surface "
                 f"(condition number: how much steeper it is in one direction than another) to "
                 f"{kappa[keys[-1]]:.3g} at n = {keys[-1]}. That is conditioning, not a test of the claim: part (b) "
                 f"tests it on a trained network."),
        limits=(conditioning_limit(config, section),),
        key_number=KeyNumber(kappa[keys[-1]], f"{kappa[keys[-1]]:.3g}",
                             f"condition number of E[xx^T] with positive inputs, n = {keys[-1]}"))


def _combine(config: Config, sections: dict[str, Section]) -> Verdict:
    """Part (b)'s verdict decides the claim; part (a) joins the evidence as an algebra check."""
    if "factorial" not in sections:
        return _linear_only_verdict(config, sections["linear"])
    if "linear" not in sections:
        return sections["factorial"].verdict
    a = sections["linear"]
    # part (b)'s verdict again, with part (a)'s finding about the mechanism in its "What this means"
    b = factorial_verdict(config, sections["factorial"].metrics, conditioning_limit(config, a))
    status = b.status
    note = "passed" if a.status != "does_not_hold" else "FAILED"
    if a.status == "does_not_hold":
        status = "inconclusive"  # the harness's algebra is broken: no number can be trusted
    evidence = (f"(b), the test: {b.evidence.rstrip('.')}. (a), an algebra check ({note}): what it measures is "
                "in the limit beside the verdict and in the part (a) table.")
    return Verdict(status, evidence, rule=b.rule, source=b.source, meaning=b.meaning, key_number=b.key_number,
                   limits=(conditioning_limit(config, a),))


def conditioning_limit(config: Config, a: Section) -> Limit:
    """Part (a) as a limit: what its measurements show (the slowdown of full-batch descent is conditioning:
    its steps almost never move all weights one way, yet it is slowed most)."""
    m = a.metrics
    keys = [str(n) for n in config.dims]
    ratio = [m["steps_ratio"][k] for k in keys]
    same_gd = [m["quadrant_fraction_full_batch"]["positive"][k] for k in keys]
    same_sgd = [m["quadrant_fraction"]["positive"][k] for k in keys]
    kappa = [m["condition_number"]["positive"][k] for k in keys]
    kappa_c = [m["condition_number"]["centred"][k] for k in keys]
    sgd_ratio = [m["sgd_steps_ratio"][k] for k in keys]
    known = [r for r in ratio if r is not None]
    if len(known) == len(ratio) and min(known) >= MIN_STEPS_RATIO and max(same_gd) < SAME_WAY_LIMIT:
        status = "holds"
    elif max(same_gd) >= 0.5:
        status = "does_not_hold"
    else:
        status = "inconclusive"
    rule = Rule(statistic="share of full-batch descent steps that move every weight the same way (positive inputs)",
                threshold=SAME_WAY_LIMIT, holds_if="below", seeds=1, min_seeds=1, text=(
        f"holds if full-batch gradient descent on all-positive inputs needs at least {MIN_STEPS_RATIO:g}x the steps "
        f"of centred inputs at every n while under {SAME_WAY_LIMIT:.0%} of its steps move every weight the same way "
        "(so same-sign steps cannot be what slows it); does not hold if half or more of its steps do; else "
        "inconclusive. Deterministic: one problem per n."))
    dims = "/".join(keys)
    evidence = (f"with all-positive inputs, full-batch descent needed {_slash(ratio, '{:.3g}')}x the steps of centred "
                f"inputs (n = {dims}) while only {_slash(same_gd, '{:.3%}')} of its steps moved all weights one way; "
                f"the input mean raised the condition number from {_slash(kappa_c, '{:.3g}')} to "
                f"{_slash(kappa, '{:.3g}')}. Per-example SGD moved all weights one way on "
                f"{_slash(same_sgd, '{:.0%}')} of its steps (algebra) and was slowed {_slash(sgd_ratio, '{:.3g}')}x.")
    return Limit("part (a): conditioning", "the slowdown of full-batch descent with all-positive inputs is "
                 "conditioning (the input mean stretches the loss surface), not steps that move all weights one way",
                 status, evidence, rule=rule,
                 key_number=KeyNumber(max(same_gd), f"{max(same_gd):.3%} same-way steps",
                                      "full-batch steps moving all weights one way"))


def _slash(values: list[float], fmt: str) -> str:
    return "/".join("n/a" if v is None else fmt.format(v) for v in values)


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
        "factorial": len(config.activations) * ((len(config.lr_grid) + config.lr_grid_growth) * config.select_seeds
                                                + 2 * config.seeds),
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
        per_activation=per_activation(config, metrics),
    )


#: (not centred, its centred twin): the same function shifted by a constant (the next layer's bias absorbs it)
TWINS = (("sigmoid", "sigmoid_centered"), ("tanh_shifted", "tanh"))


def per_activation(config: Config, metrics: dict[str, Any]) -> tuple[PerActivation, ...]:
    """Part (b)'s steps to the target for every activation trained (each at its own rate, chosen on the selection
    seeds), paired by seed with the baseline's; and the centring factor (steps of the centred twin / steps without)
    where a twin exists. A seed that missed the target is censored: left out, and counted in the note."""
    steps = metrics.get("activation_steps")
    if not steps:
        return ()
    target = target_words(config.target_error)
    base = steps.get(config.baseline)
    values = []
    for a in config.activations:
        st = steps[a]
        missed = sum(v is None for v in st["per_seed"])
        note = f"lr {st['lr']:g}" + (f"; {missed} of {len(st['per_seed'])} seeds missed the target within "
                                      f"{config.train_steps} steps (censored, left out)" if missed else "") \
            + (f"; lr at the {st['lr_at_grid_edge']} edge of its grid" if st.get("lr_at_grid_edge") else "")
        values.append(activation_number(a, st["per_seed"], base["per_seed"] if base else None, note=note))
    twins = []
    for a, twin in TWINS:
        if a in steps and twin in steps:
            ratios = [None if x is None or y is None or not x else y / x
                      for x, y in zip(steps[a]["per_seed"], steps[twin]["per_seed"])]
            twins.append(activation_number(a, ratios, note=f"{twin} / {a}, each at its own rate"))
    out = [PerActivation("steps_to_target", f"SGD steps until {target} (MNIST-1D MLP)", "steps", "lower",
                         config.baseline, values, ratio_label=f"steps / {config.baseline}'s, paired by seed",
                         note=f"Each activation at its own rate, chosen on {config.select_seeds} selection seeds; "
                              f"{config.seeds} other seeds reported; geometric mean over seeds with its log-t interval "
                              "(the part (b) table gives the arithmetic mean).")]
    if twins:
        out.append(PerActivation("centring_factor", "centring factor: steps with the centred twin / without", "x",
                                 "lower", config.baseline, twins,
                                 note="Below 1: centring the activation's outputs saves steps. Paired by seed."))
    return tuple(out)

