"""The CS231n rule of thumb, checked sentence by sentence from the scorecard's numbers.

"Use ReLU. Be careful with your learning rates. Try out Leaky ReLU / Maxout / ELU. Try out
tanh but don't expect much. Never use sigmoid." (CS231n lecture 6, "TLDR: In practice"), plus
today's practice: "GELU/SiLU train at least as fast as ReLU".

Each sentence is pre-registered here, before any run, as a :class:`SentenceRule`: which
property it reads (a scorecard column found by claim and key), which activations, which
statistic (the ratio to relu, paired by seed, or the estimate itself), the threshold and the
side. Every activation x column the scorecard has a number for is one arm, decided by
``verdicts.stats.decide`` (>= 5 seeds, a 95% interval wholly on one side of the threshold);
the sentence holds when every arm holds, does not hold when some arm does not hold, and is
inconclusive otherwise, with the reason (``decide_each``). The rules are written into
``scorecard.json`` with the verdicts, so a reader can check them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..verdicts.result import Rule
from ..verdicts.stats import Interval, decide_each
from .scorecard import (
    best_with_reason,
    cell_short_note,
    cell_text,
    ran_without_estimate,
    resolution,
)

__all__ = ["PropertyRef", "SentenceRule", "RULES", "STEPS", "DEAD", "GAIN", "check_rule_of_thumb", "find_columns",
           "refresh_scorecard", "GROUPS"]

SOURCE = "CS231n lecture 6 (2017), \"TLDR: In practice\""
TODAY_SOURCE = "today's practice (GELU in BERT and GPT, SiLU/Swish in EfficientNet and LLaMA-style models)"
#: the headings the lines are grouped under, in order: (group, heading)
GROUPS = (("cs231n", "The rule of thumb (CS231n), checked line by line"),
          ("today", "Today's practice, checked the same way"))


@dataclass(frozen=True)
class PropertyRef:
    """A measured property: the claims that measure it and the ``PerActivation.key`` it has there.

    The first column of each claim whose key is one of ``keys`` is used; failing that, the first
    whose key contains ``contains``.
    """

    name: str
    claims: tuple[str, ...]
    keys: tuple[str, ...]
    contains: str


#: steps to the target error (a network trained to a target: convergence's CNN/MLPs, zigzag's nets)
STEPS = PropertyRef("steps to target", ("convergence", "zigzag"), ("steps_to_target", "steps"), "steps")
#: relu's dead units at the deadliest learning rate that still trains (dead-relu)
DEAD = PropertyRef("dead units", ("dead-relu",), ("dead_share", "dead_fraction", "dead"), "dead")
#: the backward gain per layer at the standard inits (vanishing)
GAIN = PropertyRef("gradient gain per layer", ("vanishing",), ("gain_per_layer", "gain"), "gain")


@dataclass(frozen=True)
class SentenceRule:
    """One sentence and how it is decided.

    ``use_ratio``: decide on the ratio to relu (paired by seed), else on the estimate itself
    (in ``unit``; a fraction stored with unit "%" is in percent). ``limits``: sub-findings shown
    beside the sentence's word, each a rule of its own (they never overturn it).
    """

    sentence: str
    prop: PropertyRef
    activations: tuple[str, ...]
    threshold: float
    holds_if: str
    use_ratio: bool
    statistic: str
    why: str
    limits: tuple[SentenceRule, ...] = ()
    group: str = "cs231n"  # the heading it goes under (``GROUPS``)
    slowest_count: bool = False  # say in how many networks the activation is the slowest
    combine: str = "every"   # "every": holds when every arm holds; "any": holds when some arm holds

    def rule(self, seeds: int) -> Rule:
        return Rule(statistic=self.statistic, threshold=self.threshold, holds_if=self.holds_if, seeds=seeds)


_LIMIT_FASTER = SentenceRule(
    "another activation trains faster than relu", STEPS, ("leaky_relu", "elu", "maxout", "gelu", "silu"), 1.0,
    "below", True, "steps to target / relu's, paired by seed",
    "Tested: does an activation beat relu here (its interval wholly below 1x)? ReLU is the default, not "
    "necessarily the fastest.",
    combine="any")
_LIMIT_GAIN = SentenceRule(
    "sigmoid's gradient shrinks faster per layer than relu's", GAIN, ("sigmoid",), 1.0, "below", True,
    "backward gain per layer / relu's", "Tested: does the gradient shrink faster per layer through sigmoid than through relu (the mechanism the "
    "lecture names)?")

RULES: tuple[SentenceRule, ...] = (
    SentenceRule("Use ReLU.", STEPS, ("sigmoid", "tanh"), 1.0, "above", True,
                 "steps to target / relu's, paired by seed",
                 "Tested: do the saturating classics (sigmoid, tanh) need more steps than relu to reach the same "
                 "target error, in every network measured?", limits=(_LIMIT_FASTER,)),
    SentenceRule("Be careful with your learning rates.", DEAD, ("relu",), 10.0, "above", False,
                 "relu's dead units at the deadliest learning rate that still trains (%)",
                 "Tested: does a learning rate that still trains leave more than 10% of relu's units dead (the "
                 "notes warn of \"as much as 40%\")?"),
    SentenceRule("Try out Leaky ReLU / Maxout / ELU.", STEPS, ("leaky_relu", "maxout", "elu"), 1.25, "below", True,
                 "steps to target / relu's, paired by seed",
                 "Tested: does each need fewer than 1.25x relu's steps (no more than 25% slower: worth trying)?"),
    SentenceRule("Try out tanh but don't expect much.", STEPS, ("tanh",), 1.0, "above", True,
                 "steps to target / relu's, paired by seed",
                 "Tested: does tanh need more steps than relu to the same target?"),
    SentenceRule("Never use sigmoid.", STEPS, ("sigmoid",), 1.5, "above", True,
                 "steps to target / relu's, paired by seed",
                 "Tested: does sigmoid need more than 1.5x relu's steps, in every network measured?",
                 limits=(_LIMIT_GAIN,),
                 slowest_count=True),
    SentenceRule("GELU/SiLU train at least as fast as ReLU.", STEPS, ("gelu", "silu"), 1.1, "below", True,
                 "steps to target / relu's, paired by seed",
                 "Tested: does each need no more than relu's steps, within a 10% margin (interval wholly below "
                 "1.1x)?", group="today"),
)


_WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}


def find_columns(scorecard: Mapping[str, Any], prop: PropertyRef) -> list[Mapping[str, Any]]:
    """The scorecard's columns for ``prop``: at most one per claim, in ``prop.claims`` order."""
    out = []
    for claim in prop.claims:
        cols = [c for c in scorecard.get("columns", []) if c.get("claim") == claim]
        pick = next((c for c in cols if c.get("key") in prop.keys), None) or next(
            (c for c in cols if prop.contains in str(c.get("key", ""))), None)
        if pick is not None:
            out.append(pick)
    return out


def _cell(scorecard: Mapping[str, Any], act: str, column_id: str) -> Mapping[str, Any] | None:
    row = next((r for r in scorecard.get("rows", []) if r.get("activation") == act), None)
    return None if row is None else row.get("cells", {}).get(column_id)


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _interval(cell: Mapping[str, Any], use_ratio: bool, unit: str) -> Interval:
    keys = ("ratio", "ratio_low", "ratio_high") if use_ratio else ("estimate", "low", "high")
    est, low, high = (_num(cell.get(k)) for k in keys)
    if not use_ratio and "%" not in unit and est is not None:  # a fraction: to percent
        est, low, high = (None if v is None else 100 * v for v in (est, low, high))
    return Interval(est, low, high, int(cell.get("n") or 0), "log-t" if use_ratio else "t")


def _evaluate(rule: SentenceRule, scorecard: Mapping[str, Any]) -> dict[str, Any]:
    baseline = scorecard.get("baseline", "relu")
    columns = find_columns(scorecard, rule.prop)
    out: dict[str, Any] = {"sentence": rule.sentence, "why": rule.why, "property": asdict(rule.prop),
                           "activations": list(rule.activations), "threshold": rule.threshold,
                           "holds_if": rule.holds_if, "statistic": rule.statistic, "arms": []}
    measured = [a for a in rule.activations if a in scorecard.get("activations", [])]
    if rule.use_ratio and baseline != "relu":
        out.update(status="inconclusive", rule=asdict(rule.rule(0)),
                   evidence=f"the sentence is about relu, and this comparison's ratios are to {baseline}: "
                            "rerun with --baseline relu")
        return out
    if not columns:
        out.update(status="inconclusive", rule=asdict(rule.rule(0)),
                   evidence=f"no claim measured the {rule.prop.name} per activation "
                            f"({' or '.join(rule.prop.claims)}: not run, or no per-activation numbers)")
        return out
    if not measured:
        out.update(status="inconclusive", rule=asdict(rule.rule(0)),
                   evidence=f"none of {', '.join(rule.activations)} was in the comparison")
        return out
    intervals: dict[str, Interval] = {}
    missing: list[str] = []
    no_estimate: list[str] = []
    unit = "x" if rule.use_ratio else "%"
    for col in columns:
        for act in measured:
            cell = _cell(scorecard, act, col["id"])
            arm = f"{act} in {col['claim']}"
            if cell is not None and ran_without_estimate(cell):
                no_estimate.append(f"{arm}: {cell_short_note(cell)}")
                continue
            if cell is None or not cell.get("measured"):
                missing.append(f"{arm}: {' '.join(str((cell or {}).get('note') or 'not measured').split()).rstrip('.')}")
                continue
            intervals[arm] = _interval(cell, rule.use_ratio, str(col.get("unit", "")))
            out["arms"].append({"arm": arm, "activation": act, "column": col["id"],
                                "text": cell_text(cell, unit, ratio=rule.use_ratio, resolution=col.get("resolution")),
                                "unit": unit})
    seeds = min((iv.n for iv in intervals.values()), default=0)
    r = rule.rule(seeds)
    out["rule"] = asdict(r)
    if not intervals:
        out.update(status="inconclusive",
                   evidence="no arm has a number to decide on: " + "; ".join(no_estimate + missing))
        return out
    status, per = decide_each(intervals, r)
    if rule.combine == "any":  # some arm holds: holds; every arm does not hold: does not hold
        words = [st for st, _ in per.values()]
        status = ("holds" if "holds" in words else
                  "does_not_hold" if all(w == "does_not_hold" for w in words) else "inconclusive")
    for arm in out["arms"]:
        arm["status"], arm["reason"] = per[arm["arm"]]
    # the threshold beside each word: the same interval may be "holds" against one line's threshold
    # and "inconclusive" against another's
    parts = [f"{a['arm']}: {a['text']} ({_WORD[a['status']]} against {rule.threshold:g}{unit})" for a in out["arms"]]
    evidence = "; ".join(parts)
    if status == "inconclusive":
        reasons = [a["reason"] for a in out["arms"] if a["status"] == "inconclusive"]
        if reasons:
            evidence += f". Undecided: {reasons[0]}"
    if no_estimate:
        evidence += ". Measured, no estimate: " + "; ".join(no_estimate)
    if missing:
        evidence += ". Not measured: " + "; ".join(missing)
    if (missing or no_estimate) and status == "holds":  # a sentence about every network cannot hold on part of them only unnoticed
            evidence += " (the word covers the arms measured only)"
    out.update(status=status, evidence=evidence)
    return out


def _context(scorecard: Mapping[str, Any], rule: SentenceRule) -> str:
    """For sentences about one activation's speed: in how many networks it is the slowest, a
    network where it never reached the target (every seed censored) counting as slowest."""
    if not rule.slowest_count or rule.prop is not STEPS or len(rule.activations) != 1:
        return ""
    act = rule.activations[0]
    cols = find_columns(scorecard, STEPS)
    slowest = 0
    counted = []
    for col in cols:
        values: dict[str, float] = {}
        never = set()
        for row in scorecard.get("rows", []):
            cell = row.get("cells", {}).get(col["id"], {})
            v = _num(cell.get("estimate")) if cell.get("measured") else None
            if v is not None:
                values[row["activation"]] = v
            elif ran_without_estimate(cell):
                never.add(row["activation"])
        if act in never and values:
            counted.append(col["claim"])
            slowest += 1
        elif act in values and len(values) > 1:
            counted.append(col["claim"])
            slowest += values[act] == max(values.values()) and not never
    if not counted:
        return ""
    return (f"Slowest to the target (or never reached it) in {slowest} of the {len(counted)} network(s) read here "
            f"(one per claim: {', '.join(counted)}; the other networks a claim trains are in its own section).")


def check_rule_of_thumb(scorecard: Mapping[str, Any], rules: Sequence[SentenceRule] = RULES) -> list[dict[str, Any]]:
    """One entry per sentence: its rule, status, evidence (the numbers), arms and limits."""
    lines = []
    for rule in rules:
        line = _evaluate(rule, scorecard)
        context = _context(scorecard, rule)
        if context:
            line["evidence"] = f"{context} {line['evidence']}"
        line["limits"] = []
        for limit in rule.limits:
            sub = _evaluate(limit, scorecard)
            line["limits"].append({"name": limit.prop.name, "statement": limit.sentence, "status": sub["status"],
                                   "evidence": sub["evidence"], "rule": sub.get("rule"), "arms": sub["arms"],
                                   "why": limit.why})
        line["group"] = rule.group
        line["source"] = TODAY_SOURCE if rule.group == "today" else SOURCE
        lines.append(line)
    return lines


def refresh_scorecard(scorecard: dict[str, Any], rules: Sequence[SentenceRule] = RULES) -> dict[str, Any]:
    """What the scorecard derives from its cells, recomputed with this version's rules: each
    column's clear best (``best``, ``best_note``), the grid its step counts are read on
    (``resolution``) and the rule of thumb. The cells (the claims' numbers) are kept as they are.
    Returns ``scorecard``, changed in place."""
    claims = scorecard.get("claims", {}) or {}
    for col in scorecard.get("columns", []):
        values = {r["activation"]: r.get("cells", {}).get(col["id"], {"measured": False})
                  for r in scorecard.get("rows", [])}
        col["best"], col["best_note"] = best_with_reason(col, values)
        col["resolution"] = resolution(col, claims)
    scorecard["rule_of_thumb"] = check_rule_of_thumb(scorecard, rules)
    return scorecard
