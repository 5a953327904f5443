"""The ``vanishing`` verdict: the headline at the standard inits, the "large weights" limit, and
the per-activation gains; every sentence written from the run's numbers.

Pre-registered (fixed here before any run):

* the headline is decided on the standard inits only (``standard_arms``: default, xavier, he,
  lecun): the claim holds if at every one of them the 95% interval of sigmoid's gain per layer
  lies wholly below the vanishing threshold 10^(-2 / depth) (two decades lost over the net),
  does not hold if at one of them it lies wholly above;
* the limit "saturation alone does not make the gradient vanish" is decided at the largest weight
  scale (``limit_arm``, s = 12 by default), where sigmoid's units are saturated (mean f' below
  ``SATURATED_MEAN_SLOPE``): it holds if the interval of the gain lies wholly above the same
  threshold, does not hold if wholly below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...verdicts.result import (
    ActivationNumber,
    KeyNumber,
    Limit,
    PerActivation,
    Rule,
    Source,
    Verdict,
)
from ...verdicts.stats import Interval, activation_number, decide, decide_each
from .config import (
    QUICK,
    SATURATED_MEAN_SLOPE,
    SCALED,
    VANISHING_DECADES,
    Config,
    arm_label,
    limit_arm,
    standard_arms,
    vanishing_threshold,
)

__all__ = ["gain_rule", "limit_rule", "gain_verdict", "verdict", "saturation_limit", "per_activation",
           "movement", "SOURCE_CITATION", "SOURCE_VALUE"]

SOURCE_CITATION = "CS231n lecture 6 and notes (sigmoid: 'saturated neurons kill the gradients'); Glorot & Bengio 2010"
SOURCE_VALUE = ("sigmoid's derivative is at most 0.25, so each layer can pass back at most a quarter of the gradient "
                "times the weights' stretch; CS231n warns that saturated neurons kill the gradient (no number); "
                "Glorot & Bengio 2010 (sec. 4.2, Fig. 7, tanh nets with the standard init) report back-propagated "
                "gradients getting smaller from the output layer towards the input just after initialisation")

GAIN = "gain per layer"
GAIN_DEFINED = ("gain per layer = ||dL/dz_l|| / ||dL/dz_l+1||, how much of the gradient at a layer's "
                "pre-activations reaches the layer below (geometric mean over hidden layers)")

# One verdict per standard init, combined: the claim must hold at every standard init measured.
gain_verdict = decide_each


def movement(low: float | None, high: float | None) -> str:
    """What an interval of a gain per layer says in words: "shrinks", "grows" or "about kept"."""
    if low is None or high is None:
        return "has no interval"
    if high < 1:
        return "shrinks"
    if low > 1:
        return "grows"
    return "is about kept"


def gain_rule(config: Config) -> Rule:
    """The headline as a falsifiable rule on sigmoid's gain per layer at each standard init."""
    t = vanishing_threshold(config.depth)
    return Rule(statistic=f"sigmoid's {GAIN} (||dL/dz_l|| / ||dL/dz_l+1||, geometric mean over hidden layers, "
                          "log-t interval over seeds) at each standard init",
                threshold=t, holds_if="below", seeds=config.seeds, text=(
        f"At each standard init ({', '.join(standard_arms(config))}) the gradient vanishes if the 95% interval of "
        f"sigmoid's {GAIN} lies wholly below {t:.3g} = 10^(-{VANISHING_DECADES:g}/{config.depth}) (at least "
        f"{VANISHING_DECADES:g} decades lost over {config.depth} layers) and does not if it lies wholly above, from "
        f"at least 5 seeds (this run: {config.seeds}). The claim holds if the gradient vanishes at every standard "
        f"init; does not hold if at some standard init it does not; otherwise inconclusive. Scaled-up weights are a "
        f"limit, never the headline."))


def limit_rule(config: Config) -> Rule | None:
    arm = limit_arm(config)
    if arm is None:
        return None
    t = vanishing_threshold(config.depth)
    return Rule(statistic=f"sigmoid's {GAIN} at {arm_label(arm)}", threshold=t, holds_if="above", seeds=config.seeds,
                text=(f"At the largest weight scale ({arm_label(arm)}: weights {arm[len(SCALED):]}x LeCun's "
                      f"N(0, 1/fan_in) scale), where sigmoid's units are saturated (mean f' below "
                      f"{SATURATED_MEAN_SLOPE:g}), the limit holds if the 95% interval of the {GAIN} lies wholly "
                      f"above {t:.3g} (the gradient does not vanish), does not hold if wholly below, from at least "
                      f"5 seeds; otherwise, or with units that are not saturated, inconclusive."))


def _interval(g: Mapping[str, Any]) -> Interval:
    return Interval(g["estimate"], g["ci95_low"], g["ci95_high"], g["n"], "log-t")


def _scale_words(config: Config) -> str:
    def matches(values: Mapping[str, Any]) -> bool:
        return all(getattr(config, k) == v for k, v in values.items())
    if matches(QUICK):
        return "quick"
    return "full-scale" if matches({k: getattr(Config, k) for k in QUICK}) else "custom-size"


def _mean_slopes(m: Mapping[str, Any], arms: Sequence[str]) -> dict[str, float]:
    slopes = m["mean_derivative"]["sigmoid"]
    return {a: float(np.mean([float(v) for v in slopes[a]])) for a in arms}


def saturation_limit(config: Config, m: Mapping[str, Any]) -> Limit | None:
    """The "large weights" limit, or None when the run has no scaled arm or no sigmoid."""
    arm, rule = limit_arm(config), limit_rule(config)
    if arm is None or rule is None or arm not in m.get("sigmoid_gain", {}):
        return None
    g = m["sigmoid_gain"][arm]
    iv = _interval(g)
    slope = _mean_slopes(m, [arm])[arm]
    s = arm[len(SCALED):]
    if slope >= SATURATED_MEAN_SLOPE:
        status, reason = "inconclusive", (f"sigmoid's units are not saturated at {arm_label(arm)} (mean f' "
                                          f"{slope:.3f}, not below {SATURATED_MEAN_SLOPE:g}), so the limit is not tested")
    else:
        status, reason = decide(iv, rule)
        if status != "inconclusive":
            side = "above" if status == "holds" else "below"
            reason = f"the interval lies wholly {side} the vanishing threshold {rule.threshold:.3g}"
    others = [a for a in m["sigmoid_gain"] if a.startswith(SCALED) and a != arm]
    rest = (" Other scales: " + ", ".join(f"{arm_label(a)} {float(m['sigmoid_gain'][a]['estimate']):.3g}x"
                                          for a in others) + ".") if others else ""
    evidence = (f"With weights {s}x the usual scale ({arm_label(arm)}), sigmoid's units are "
                f"{'saturated' if slope < SATURATED_MEAN_SLOPE else 'not saturated'} (mean f' {slope:.3f}, at most "
                f"0.25) and the gradient {movement(iv.low, iv.high)} per layer: {iv.text('{:.3f}', 'x')}; "
                f"{reason}.{rest}")
    return Limit(name="large weights", statement="saturation alone does not make the gradient vanish",
                 status=status, evidence=evidence, rule=rule,
                 key_number=KeyNumber(iv.estimate, f"{iv.estimate:.3g}x per layer" if iv.estimate else "n/a",
                                      f"sigmoid's {GAIN} at {arm_label(arm)} (weights {s}x the usual scale)"))


def verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    rule = gain_rule(config)
    scale = _scale_words(config)
    standard = standard_arms(config)
    if "sigmoid" not in config.activations:
        others = ", ".join(config.activations)
        return Verdict("inconclusive", f"The claim is about sigmoid, which was not among the activations measured "
                       f"({others}); their gains per layer are in the per-activation table.", rule=rule,
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "sigmoid not measured"),
                       meaning=f"This {scale} run did not include sigmoid, so it does not test the claim about it; "
                               "the per-activation table gives each measured activation's gain per layer at the "
                               "standard inits. Rerun with --activations sigmoid,... to test the claim.",
                       key_number=KeyNumber(None, "n/a", f"sigmoid's {GAIN} (not measured)"))
    orders = m["orders_of_magnitude"]["sigmoid"]
    bad = [arm_label(a) for a in standard if not np.isfinite(float(orders[a]))]
    if bad or any(m["sigmoid_gain"][a]["estimate"] is None for a in standard):
        return Verdict("inconclusive", f"sigmoid's gradient norm reached 0 or overflowed in {config.dtype} at depth "
                       f"{config.depth} ({', '.join(bad) or 'some'} init), so no gain could be measured there; use "
                       "dtype=float64.", rule=rule,
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured (underflow)",
                                     f"{config.dtype} cannot hold the gradients"),
                       meaning=f"This {scale} run lost sigmoid's gradient to rounding ({config.dtype} underflows to "
                               "0), so it cannot say how fast the gradient vanishes; rerun with --set dtype=float64.",
                       key_number=KeyNumber(None, "n/a", f"sigmoid's {GAIN} (underflowed)"),
                       limits=tuple(x for x in [saturation_limit(config, m)] if x))
    g = m["sigmoid_gain"]
    intervals = {a: _interval(g[a]) for a in standard}
    status, per = gain_verdict(intervals, rule)
    t = vanishing_threshold(config.depth)
    lo = min(standard, key=lambda a: g[a]["estimate"])
    hi = max(standard, key=lambda a: g[a]["estimate"])
    vanish = [arm_label(a) for a in standard if per[a][0] == "holds"]
    kept = [arm_label(a) for a in standard if per[a][0] == "does_not_hold"]
    open_ = [arm_label(a) for a in standard if per[a][0] == "inconclusive"]
    decades = [float(orders[a]) for a in standard]  # lost, last layer to first
    parts = [f"At the {len(standard)} standard init{'s' if len(standard) != 1 else ''} "
             f"({', '.join(standard)}) sigmoid's {GAIN} (||dL/dz_l|| / ||dL/dz_l+1||) is "
             f"{g[lo]['estimate']:.3g}-{g[hi]['estimate']:.3g}x in a net of {_depth_words(config)}.",
             f"Measured on the weights' gradients (||dL/dW||), the first Linear layer's is {min(decades):.1f} to "
             f"{max(decades):.1f} decades (factors of 10) smaller than the last's."]
    if vanish:
        parts.append(f"The gradient vanishes (interval wholly below {t:.3g}) at {', '.join(vanish)}.")
    if kept:
        parts.append(f"It does not vanish (interval wholly above {t:.3g}) at {', '.join(kept)}.")
    if open_:
        parts.append(f"The interval spans {t:.3g} at {', '.join(open_)}: "
                     + "; ".join(per[a][1] for a in standard if per[a][0] == "inconclusive") + ".")
    evidence = " ".join(parts)
    ours = (f"{GAIN} (dL/dz) {g[lo]['estimate']:.3g}-{g[hi]['estimate']:.3g}x at the standard inits; weight "
            f"gradients (dL/dW) {min(decades):.0f}-{max(decades):.0f} decades smaller at the first of "
            f"{config.depth + 1} Linear layers than at the last")
    differences = (f"at initialisation, not during training; Gaussian inputs and random labels; MLP width "
                   f"{config.width}, {_depth_words(config)}; {config.dtype}; weights scaled beyond the standard inits "
                   f"(a limit, not the headline) to test 'saturated neurons kill the gradient'")
    key = KeyNumber(g[hi]["estimate"], f"{g[lo]['estimate']:.3g}-{g[hi]['estimate']:.3g}x per layer",
                    f"sigmoid's {GAIN} at the standard inits ({', '.join(standard)})")
    limit = saturation_limit(config, m)
    meaning = _meaning(config, scale, m, standard, status, limit)
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key, limits=(limit,) if limit else ())


def _meaning(config: Config, scale: str, m: Mapping[str, Any], standard: list[str], status: str,
             limit: Limit | None) -> str:
    g, orders = m["sigmoid_gain"], m["orders_of_magnitude"]["sigmoid"]
    lo = min(standard, key=lambda a: g[a]["estimate"])
    hi = max(standard, key=lambda a: g[a]["estimate"])
    dec = [float(orders[a]) for a in standard]
    move = movement(min(g[a]["ci95_low"] or np.inf for a in standard) if all(g[a]["ci95_high"] is not None
                                                                             for a in standard) else None,
                    max(g[a]["ci95_high"] or -np.inf for a in standard) if all(g[a]["ci95_low"] is not None
                                                                               for a in standard) else None)
    parts = [f"The {GAIN} is the share of the gradient that one layer passes back to the layer below; below 1 "
             "it shrinks towards the input, and over many layers the shares multiply."]
    parts.append(
        f"In this {scale} run, under the usual inits, each hidden layer of a sigmoid net with {_depth_words(config)} "
        f"passes back {g[lo]['estimate']:.2f}-{g[hi]['estimate']:.2f} of the gradient it receives (the gradient "
        f"{move} per layer).")
    parts.append(_slope_sentence(_mean_slopes(m, standard), move))
    parts.append(f"Measured on the weights' gradients instead, the first layer's is {min(dec):.0f} to "
                 f"{max(dec):.0f} decades (factors of ten) smaller than the last's.")
    if limit is not None:
        lead = (f"Where the units are saturated, the gradient does not vanish (limit, {limit.name}): "
                if limit.status == "holds" else f"Limit, {limit.name}: ")
        parts.append(lead + (limit.evidence[:1].lower() + limit.evidence[1:] if limit.status == "holds"
                             else limit.evidence))
    parts.append("The gain is measured at initialisation, before any training, from the actual backward pass.")
    word = {"holds": "holds at the standard inits",
            "does_not_hold": "does not hold: at some standard init the gradient does not vanish",
            "inconclusive": "is not settled by this run (some interval spans the threshold)"}[status]
    parts.append(f"So 'deep sigmoid nets suffer vanishing gradients' {word}.")
    return " ".join(parts)


#: a mean slope at or above this share of sigmoid's 0.25 maximum is "near the maximum": units not saturated
NEAR_MAX_SLOPE = 0.8 * 0.25


def _depth_words(config: Config) -> str:
    """One name for depth: hidden layers, with the Linear layers they make."""
    return f"{config.depth} hidden layers ({config.depth + 1} Linear layers)"


def _slope_sentence(slopes: Mapping[str, float], move: str) -> str:
    """What sigmoid's mean slope at the standard inits says about saturation, in words its numbers bear out."""
    lo, hi = min(slopes.values()), max(slopes.values())
    span = f"{lo:.3f}" if f"{lo:.3f}" == f"{hi:.3f}" else f"{lo:.3f}-{hi:.3f}"
    if lo >= NEAR_MAX_SLOPE:
        why = (" The gradient shrinks because f' is at most 0.25, and 0.25 times weights of this scale gives a "
               "per-layer gain below 1." if move == "shrinks" else "")
        return (f"At these inits sigmoid's units are not saturated: their mean slope f' is {span}, close to its "
                f"0.25 maximum, so saturation is not what shrinks the gradient here.{why}")
    if hi < SATURATED_MEAN_SLOPE:
        return f"At these inits sigmoid's units are saturated: their mean slope f' is {span} (at most 0.25)."
    return f"At these inits sigmoid's mean slope f' is {span} (at most 0.25)."


def per_activation(config: Config, standard_gain: Mapping[str, Sequence[float | None]]) -> tuple[PerActivation, ...]:
    """Each activation's gain per layer at the standard inits, with its ratio to the baseline's, paired by seed."""
    base = standard_gain.get(config.baseline)
    values: list[ActivationNumber] = []
    for name in config.activations:
        per = standard_gain[name]
        missing = sum(v is None for v in per)
        note = f"{missing} seed{'s' if missing != 1 else ''} underflowed to 0 (left out)" if missing else ""
        if name == "relu" and set(standard_arms(config)) - {"he"}:
            note = "; ".join(x for x in (note, (
                "relu keeps the gradient (gain 1) only at He init (std sqrt(2/n)); xavier and lecun (std sqrt(1/n)) "
                "and PyTorch's default init, U(-1/sqrt(n), 1/sqrt(n)) (std 0.58/sqrt(n)), which is not He init, "
                "shrink it, so its mean over the inits is below 1")) if x)
        values.append(activation_number(name, per, base, note=note))
    t = vanishing_threshold(config.depth)
    return (PerActivation(
        key="gain_per_layer",
        quantity=(f"backward {GAIN} at the standard inits ({', '.join(standard_arms(config))}; "
                  f"||dL/dz_l|| / ||dL/dz_l+1||, geometric mean over hidden layers and inits)"),
        unit="x per layer", better="neither", baseline=config.baseline, values=tuple(values),
        ratio_label=f"gain / {config.baseline}'s, paired by seed",
        note=(f"1 keeps the gradient; below {t:.3g} it loses at least {VANISHING_DECADES:g} decades over "
              f"{config.depth} layers (vanishes); above 1 it grows. At init, {_depth_words(config)}.")),)
