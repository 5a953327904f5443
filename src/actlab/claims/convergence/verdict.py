"""The `convergence` claim's verdict, its limits and its per-activation numbers, from its metrics.

The headline judges the claim under the standard conditions fixed in the claim's module (the
small CNN, He init for relu and LeCun for tanh, SGD with momentum, lr tuned on a seed that is
not reported): the tanh/relu ratio of steps to the target, paired by seed, censored seeds as
bounds (:mod:`actlab.verdicts.censored`), against ``threshold``. Each arm (Krizhevsky et al.'s
N(0, 0.01^2) init, the wide CNN) is a :class:`~actlab.verdicts.result.Limit` with the same rule:
it is shown beside the headline and never changes its word. Pure functions of their inputs: the
tests feed them constructed metrics near every boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...verdicts.censored import censored_activation_number
from ...verdicts.result import KeyNumber, Limit, PerActivation, Rule, Source, Verdict
from ...verdicts.stats import Interval, decide
from .curve import dataset_name, pct, ratio_cells, tkey

__all__ = ["verdict", "judge", "per_activation", "arm_label", "reader_ratio", "PAPER_RATIO", "HEADLINE_WORD"]

#: Krizhevsky et al. 2012, Fig. 1: epochs to 25% training error, tanh / relu.
PAPER_RATIO = 6.0
#: What the headline word says about the paper's number, in this setting.
HEADLINE_WORD = {"holds": "reproduced", "does_not_hold": "not reproduced", "inconclusive": "undecided"}


def arm_label(setup: str, config: Any) -> str:
    """What an arm varies, against the headline's standard conditions."""
    if setup.endswith("_krizhevsky"):
        return ("Krizhevsky et al.'s own init: every weight N(0, 0.01²), whatever the layer's fan-in (2012, §5), "
                "instead of He (relu) / LeCun (tanh); biases 0 (the paper set some to 1)")
    return f"a wider CNN: {'/'.join(map(str, config.wide_channels))} channels instead of " \
           f"{'/'.join(map(str, config.channels))}"


def reader_ratio(estimate: float | None, low: float | None = None, high: float | None = None,
                 with_ci: bool = True) -> str:
    """The ratio as a reader says it, the larger activation's steps first: "ReLU needed 1.59x tanh's
    steps (95% CI 1.20-2.10x)" for tanh/relu 0.63, "tanh needed 2.00x ReLU's steps" for 2.0; an interval
    that spans 1 comes first as "no clear difference: ..."."""
    if estimate is None:
        return "the ratio of steps could not be estimated"
    spans = low is not None and high is not None and low <= 1 <= high
    lead = "no clear difference: " if spans else ""
    ci = ""
    if estimate >= 1:
        if low is not None and high is not None and with_ci:
            ci = f" (95% CI {low:.2f}-{high:.2f}x)"
        return f"{lead}tanh needed {estimate:.2f}x ReLU's steps{ci}"
    if low is not None and high is not None and with_ci:
        ci = f" (95% CI {1 / high:.2f}-{1 / low:.2f}x)"
    return f"{lead}ReLU needed {1 / estimate:.2f}x tanh's steps{ci}"


@dataclass(frozen=True)
class Judgement:
    """One network's tanh/relu decision: its interval, word, reason and what blocks a word."""

    setup: str
    interval: Interval
    censored: int
    both_censored: int
    status: str
    reason: str
    problems: tuple[str, ...]
    rule: Rule


def _rule(config: Any, n: int, label: str, setup: str = "cnn") -> Rule:
    t = pct(config.target)
    inits = ("Krizhevsky et al.'s N(0, 0.01²) for every layer (an arm: a limit)" if setup.endswith("_krizhevsky")
             else "the standard inits (He for relu, LeCun for tanh)")
    return Rule(
        statistic=f"tanh/relu ratio of SGD steps to {t} training error ({label}; paired by seed, censored "
                  "log-normal estimate: log steps fitted as normal, never-reached seeds as bounds)",
        threshold=config.threshold, holds_if="above", seeds=n, min_seeds=5,
        text=(f"holds if the 95% interval (log scale) of the tanh/relu steps-to-{t} ratio lies wholly above "
              f"{config.threshold:g}x (half-way, on a log scale, towards the claimed {PAPER_RATIO:g}x from no "
              f"difference at 1x; 'about 6x' allows a factor of 2), does not hold if wholly below; from >= 5 "
              "seed pairs of runs that trained (diverged or chance-level runs excluded); a seed that never reached "
              f"the target within max_steps is a bound (censored), not dropped, and at most "
              f"{100 * config.max_censored_share:g}% of the pairs may be bounds; each activation's lr chosen on a "
              "seed that is not reported and interior to its grid; the target reached after >= "
              f"{config.min_steps} steps; otherwise inconclusive. Decided on the {label} with {inits}. "
              f"This run: {n} seed pairs."))


def judge(config: Any, metrics: Mapping[str, Any], setup: str) -> Judgement:
    """The decision for one network: :func:`decide` on its interval, then what blocks a word."""
    tk, t = tkey(config.target), pct(config.target)
    label = metrics["setups"][setup]
    cell = metrics["ratio_vs_tanh"][setup]["relu"][tk]
    iv = Interval(cell["estimate"], cell["ci95_low"], cell["ci95_high"], cell["n"], cell.get("method", "log-t"))
    rule = _rule(config, iv.n, label, setup)
    status, reason = decide(iv, rule)
    if iv.estimate is None and cell.get("why"):
        reason = f"no tanh/relu ratio could be estimated ({cell['why']})"
    problems: list[str] = []
    edges = {a: e for a, e in metrics["lr_at_grid_edge"][setup].items() if a in ("relu", "tanh") and e}
    if edges:
        problems.append("best lr at the grid edge for " + ", ".join(
            f"{a} ({metrics['lr_chosen'][setup][a]:g}, {side} end of {metrics['lr_grid_used'][setup][a]})"
            for a, side in edges.items()) + ": rerun with a wider --set lr_grid or more lr_grid_extensions")
    censored, both = int(cell.get("censored", 0)), int(cell.get("both_censored", 0))
    if iv.n and censored / iv.n > config.max_censored_share:
        problems.append(f"{censored} of {iv.n} seed pairs are bounds (one side never reached {t} within "
                        f"{config.max_steps} steps), more than {100 * config.max_censored_share:g}%: the estimate "
                        "would rest on the assumed log-normal shape; raise max_steps")
    st = metrics["steps_to_target"][setup]
    fastest = min((st[a][tk]["geo_mean"] for a in ("relu", "tanh") if st[a][tk]["geo_mean"] is not None),
                  default=None)
    if fastest is not None and fastest < config.min_steps:
        problems.append(f"{t} was reached in {fastest:.0f} steps, fewer than {config.min_steps}: that is the first "
                        "transient, not training; rerun with a lower --set target")
    if problems:
        status = "inconclusive"
    return Judgement(setup, iv, censored, both, status, reason, tuple(problems), rule)


def _numbers(j: Judgement) -> str:
    """"tanh/relu 0.63x (95% CI 0.50-0.80x, 5 seed pairs, 1 a bound)"."""
    iv = j.interval
    if iv.estimate is None:
        return "tanh/relu not estimated"
    ci = f"95% CI {iv.low:.2f}-{iv.high:.2f}x, " if iv.low is not None and iv.high is not None else "no interval, "
    bounds = f", {j.censored} a bound" if j.censored == 1 else f", {j.censored} bounds" if j.censored else ""
    both = f"; {j.both_censored} pair{'s' if j.both_censored != 1 else ''} where neither reached it" \
        if j.both_censored else ""
    return f"tanh/relu {iv.estimate:.2f}x ({ci}{iv.n} seed pairs{bounds}{both})"


def _why(j: Judgement) -> str:
    return "; ".join(j.problems) if j.problems else j.reason


def _limit(config: Any, metrics: Mapping[str, Any], setup: str) -> Limit:
    j = judge(config, metrics, setup)
    label, t = metrics["setups"][setup], pct(config.target)
    iv = j.interval
    if setup.endswith("_krizhevsky"):
        name = "the paper's init"
        statement = (f"with Krizhevsky et al.'s own init (every weight N(0, 0.01²)) on the same CNN, ReLU reaches {t} "
                     f"at least {config.threshold:g}x sooner than tanh")
    else:
        name = "a wider CNN"
        statement = f"on the {label}, ReLU reaches {t} at least {config.threshold:g}x sooner than tanh"
    st = metrics["steps_to_target"][setup]
    reached = ", ".join(f"{a} reached {t} on {st[a][tkey(config.target)]['reached']} of "
                        f"{st[a][tkey(config.target)]['trained']} trained seeds" for a in ("relu", "tanh"))
    bad = [d for d in metrics["degenerate"] if d["setup"] == setup]
    excluded = ("; not trained (excluded): " + ", ".join(f"{d['activation']} seed {d['seed']} ({d['why']})"
                                                         for d in bad)) if bad else ""
    # the easier targets of the same network: what the arm shows where the ratio could be measured
    easier = [c for c in ratio_cells(metrics) if c["setup"] == setup and c["target"] > config.target]
    curve = "; ".join(f"at {pct(c['target'])}: " + (
        f"tanh/relu {c['estimate']:.2f}x" + (f" (95% CI {c['low']:.2f}-{c['high']:.2f}x, {c['n']} pairs)"
                                             if c["low"] is not None else "")
        if c["estimate"] is not None else {"act only": "only relu got there (tanh was slower)",
                                           "tanh only": "only tanh got there (ReLU was slower)"}.get(
            c["side"], "not estimated")) for c in easier)
    curve_txt = f"; easier targets on this network: {curve}" if curve else ""
    if iv.estimate is not None:
        evidence = (f"{reader_ratio(iv.estimate, iv.low, iv.high)} to {t} training error on the {label}: "
                    f"{_numbers(j)}; {_why(j)}{excluded}{curve_txt}.")
    else:
        tk = tkey(config.target)
        slower = (f"only tanh reached {t}, so ReLU was slower here; "
                  if st["relu"][tk]["reached"] == 0 and st["tanh"][tk]["reached"] > 0 else "")
        evidence = (f"{slower}no tanh/relu ratio of steps to {t} on the {label} could be estimated ({reached} within "
                    f"{config.max_steps} steps; {j.both_censored} seed pairs where neither did): raise max_steps"
                    f"{excluded}{curve_txt}.")
    measured = [c for c in easier if c["estimate"] is not None]
    tk = tkey(config.target)
    only_tanh = st["relu"][tk]["reached"] == 0 and st["tanh"][tk]["reached"] > 0
    key_text = (f"tanh/relu {iv.estimate:.2f}x" if iv.estimate is not None else
                f"only tanh reached {t} (ReLU slower)" if only_tanh else
                f"n/a at {t}; {measured[-1]['estimate']:.2f}x at {pct(measured[-1]['target'])} "
                f"({_who(measured[-1]['low'], measured[-1]['high'])})" if measured else "n/a")
    return Limit(name, statement, j.status, evidence, rule=j.rule,
                 key_number=KeyNumber(iv.estimate, key_text, f"tanh/relu steps to {t}, {label}"))


def _who(low: float | None, high: float | None) -> str:
    """Which activation a tanh/relu interval says was faster, in words."""
    if low is not None and low > 1:
        return "ReLU faster"
    if high is not None and high < 1:
        return "ReLU slower"
    return "no clear difference"


def _curve_summary(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """(one clause for the evidence, one plain sentence for "what this means") about the whole curve."""
    cells = ratio_cells(metrics)
    if not cells:
        return "no tanh/relu cells were measured", "No other networks or targets were measured."
    setups = metrics["setups"]
    relu = [c for c in cells if c["side"] in ("act", "act only")]
    tanh = [c for c in cells if c["side"] in ("tanh", "tanh only")]
    measured = [c for c in cells if c["estimate"] is not None]
    # cells with no ratio at all ("not estimated") are not combinations measured: count them apart
    judged = [c for c in cells if c["estimate"] is not None or c["side"] in ("act only", "tanh only")]
    n = len(judged)
    skipped = len(cells) - n
    more = f", {skipped} more not estimated" if skipped else ""
    where = "; ".join(f"{setups[c['setup']]} at {pct(c['target'])}" +
                      (f" ({c['estimate']:.2f}x)" if c["estimate"] is not None else " (only relu got there)")
                      for c in sorted(relu, key=lambda c: -(c["estimate"] or 99))[:3])
    if not measured:
        return (f"over the curve ({len(cells)} network x target cells) no ratio could be estimated",
                f"Across {len(cells)} combinations of network and target error, no ratio could be estimated.")
    best = max(measured, key=lambda c: c["estimate"])
    worst = min(measured, key=lambda c: c["estimate"])
    span = f"{worst['estimate']:.2f}-{best['estimate']:.2f}x"
    clause = (f"over the curve ({n} network x target cells{more}) relu was clearly faster in {len(relu)}"
              + (f" ({where})" if relu else "") + f", tanh clearly faster in {len(tanh)}, and tanh/relu ranged {span}")
    if relu:
        plain = (f"Across {n} combinations of network (the CNNs and MLPs of different depths) and target error"
                 f"{more.replace(', ', ' (') + ')' if more else ''}, ReLU was clearly faster in {len(relu)} ({where}), tanh clearly faster in {len(tanh)}, and the "
                 f"largest tanh/relu ratio measured was {best['estimate']:.2f}x ({setups[best['setup']]}, "
                 f"{pct(best['target'])} error).")
    else:
        plain = (f"Across {n} combinations of network (the CNNs and MLPs of different depths) and target error"
                 f"{more.replace(', ', ' (') + ')' if more else ''}, ReLU was never clearly faster; tanh was clearly faster in {len(tanh)}, and tanh/relu stayed "
                 f"between {worst['estimate']:.2f}x and {best['estimate']:.2f}x.")
    return clause, plain


def _source(config: Any, ours: str, head: str, label: str) -> Source:
    data = dataset_name(config.dataset)
    net = (f"the {label}: {len(config.channels)} conv layers (3x3, max-pooling) + 2 fully connected "
           f"({config.hidden} hidden units)" if head == "cnn" else f"an MLP of {config.depth} hidden layers of "
           f"{config.width}")
    not_cifar = "" if config.dataset == "cifar10" else (
        f"{data}, not CIFAR-10 (--dataset cifar10 downloads it on request, MD5-checked); ")
    return Source(
        citation="Krizhevsky, Sutskever & Hinton 2012, Fig. 1",
        value="about 6x: a four-layer CNN with ReLUs reached 25% training error on CIFAR-10 six times faster "
              "(in epochs) than the same net with tanh; lr chosen per net, no regularisation",
        ours=ours,
        differences=(f"{not_cifar}{net}; SGD momentum {config.momentum:g}, batch {config.batch_size}; He init for "
                     f"relu, LeCun for tanh (the paper: N(0, 0.01²) everywhere, measured as a limit); target "
                     f"{pct(config.target)} because 25% is reached in a few dozen steps on {data} (the first "
                     f"transient, not training); steps instead of epochs (the same ratio); training error on "
                     f"{config.eval_examples} fixed training examples."),
    )


def verdict(config: Any, metrics: Mapping[str, Any], scale: str = "custom") -> Verdict:
    """Decide the claim from ``metrics`` (as ``analyse`` makes them, with ``arms``); see :func:`_rule`."""
    head = metrics["headline_setup"]
    label = metrics["setups"][head]
    t = pct(config.target)
    data = dataset_name(config.dataset)
    where = f"{label}, {data}"
    size = {"quick": "quick run", "full": "full-scale run"}.get(scale, "run")
    rerun = "" if scale == "full" else " (`actlab run convergence` runs the full scale)"
    acts = list(metrics["steps_to_target"][head])
    if "relu" not in acts or "tanh" not in acts:
        ev = f"undecided: the claim compares relu with tanh; this run trained {', '.join(acts)} ({where})."
        return Verdict("inconclusive", ev, rule=_rule(config, 0, label),
                       source=_source(config, "not measured: relu or tanh missing", head, label),
                       meaning=(f"This {size} did not train both ReLU and tanh, so it cannot compare them. "
                                "Rerun with --activations relu,tanh."),
                       key_number=KeyNumber(None, "n/a", f"tanh/relu steps to {t} training error"))
    j = judge(config, metrics, head)
    iv, status = j.interval, j.status
    tk = tkey(config.target)
    st_r, st_t = metrics["steps_to_target"][head]["relu"][tk], metrics["steps_to_target"][head]["tanh"][tk]
    bad = [d for d in metrics["degenerate"] if d["setup"] == head and d["activation"] in ("relu", "tanh")]
    excluded = ("; excluded (not trained): " + ", ".join(f"{d['activation']} seed {d['seed']} ({d['why']})"
                                                         for d in bad)) if bad else ""
    other_edges = [f"{metrics['setups'][s]} {a}" for s, per in metrics["lr_at_grid_edge"].items() for a, e in per.items()
                   if e and s != head and s in metrics["ratio_vs_tanh"]]
    clause_edges = f"; lr still at the grid edge (those cells less certain): {', '.join(other_edges)}" \
        if other_edges else ""
    clause, plain_curve = _curve_summary(metrics)
    word = HEADLINE_WORD[status]
    steps_txt = (f"median steps relu {st_r['geo_mean']:.0f}, tanh {st_t['geo_mean']:.0f}"
                 if st_r["geo_mean"] and st_t["geo_mean"] else "median steps not estimated for both")
    evidence = (f"{word} on a {where}: {reader_ratio(iv.estimate, iv.low, iv.high)} to {t} training error, "
                f"{_numbers(j)}; {steps_txt}; the paper: tanh needed about {PAPER_RATIO:g}x ReLU's epochs to 25% "
                f"on CIFAR-10; {_why(j)}{excluded}; {clause}{clause_edges}.")
    ours = f"tanh/relu {iv.text('{:.2f}', 'x')} to {t} training error ({where}, {size})"
    limits = tuple(_limit(config, metrics, s) for s in metrics.get("arms", {}) if s in metrics["ratio_vs_tanh"])
    # What this means, from this run's numbers.
    if iv.estimate is not None:
        ci = (f"{iv.low:.2f}-{iv.high:.2f}x" if iv.low is not None and iv.high is not None else "not available")
        said = reader_ratio(iv.estimate, iv.low, iv.high, with_ci=False)
        if said.startswith("no clear difference: "):
            said = f"there is no clear difference ({said[len('no clear difference: '):]})"
        ratio_sentence = (f"Here {said}: tanh/relu "
                          f"{iv.estimate:.2f}x, with a 95% interval "
                          f"(the range that would catch the true ratio in 95 of 100 repeats) of {ci}, against the "
                          f"paper's {PAPER_RATIO:g}x.")
    else:
        ratio_sentence = "The ratio of steps could not be estimated on enough seeds."
    censor_sentence = (f"{j.censored} of the {iv.n} seed pairs had a run that never reached {t} within "
                       f"{config.max_steps} steps; it counts as 'at least {config.max_steps} steps' (censored), not "
                       "as missing." if j.censored else "")
    if status == "holds":
        conclusion = (f"So on this network ReLU's head start is large enough to count as 'about 6x' (above "
                      f"{config.threshold:g}x).")
    elif status == "does_not_hold":
        if iv.high is not None and iv.high < 1:
            how = "ReLU was not faster at all: tanh got there first."
        elif iv.low is not None and iv.low > 1:
            how = f"ReLU was faster, but by well under {config.threshold:g}x."
        else:
            how = f"ReLU's advantage, if it has one, is under {config.threshold:g}x."
        conclusion = (f"So the 6x is not reproduced on this {label} with each activation's learning rate tuned: "
                      f"{how} That is a statement about this setting, not about the paper's CIFAR-10 network.")
    else:
        conclusion = f"This run cannot decide the claim: {_why(j)}."
    limit_sentence = ""
    if limits:
        limit_sentence = "Beside it, measured under other conditions (limits, which do not change the verdict): " + \
            "; ".join(f"{lim.name}: {lim.key_number.text if lim.key_number else 'n/a'}, "
                      f"{HEADLINE_WORD[lim.status] if lim.status != 'inconclusive' else 'undecided'}"
                      for lim in limits) + "."
    meaning = " ".join(x for x in [
        "Krizhevsky et al. (2012) trained the same four-layer convolutional network with ReLU and with tanh and "
        "found that ReLU reached 25% training error on CIFAR-10 about 6 times sooner.",
        f"This {size} trained the {where} with each activation's learning rate picked from a grid on a seed that "
        f"is not reported, then {config.seeds} other seeds (independent restarts) each, and counted SGD steps (one "
        f"step = one minibatch update) until the training error first fell to {t}{rerun}.",
        ratio_sentence, censor_sentence, plain_curve, conclusion, limit_sentence,
    ] if x)
    key = KeyNumber(iv.estimate, f"{iv.estimate:.2f}x" if iv.estimate is not None else "n/a",
                    f"{word}: tanh/relu steps to {t} training error on a {where}"
                    + (f" ({reader_ratio(iv.estimate, iv.low, iv.high, with_ci=False)})" if iv.estimate is not None
                       else "")
                    + "; paper: 6x on CIFAR-10")
    return Verdict(status, evidence, rule=j.rule, source=_source(config, ours, head, label), meaning=meaning,
                   key_number=key, limits=limits)


def per_activation(config: Any, metrics: Mapping[str, Any]) -> PerActivation:
    """Every activation's steps to ``target`` on the headline network and its ratio to the baseline's,
    paired by seed, with censoring (issue 23)."""
    head, tk, t = metrics["headline_setup"], tkey(config.target), pct(config.target)
    base = config.baseline
    st = metrics["steps_to_target"][head]

    def seeds(a: str) -> list[int | None | bool]:
        return [False if v is None and not _trained(a, i) else v for i, v in enumerate(st[a][tk]["per_seed"])]

    bad = {(d["activation"], d["seed"] - config.seed) for d in metrics["degenerate"] if d["setup"] == head}

    def _trained(a: str, i: int) -> bool:
        return (a, i) not in bad

    values = [censored_activation_number(a, seeds(a), seeds(base) if base in st else None, config.max_steps)
              for a in st]
    return PerActivation(
        key="steps_to_target", quantity=f"SGD steps to {t} training error ({metrics['setups'][head]})",
        unit="steps", better="lower", baseline=base, values=values,
        ratio_label=f"steps / {base}'s, paired by seed",
        note=("Censored log-normal median over seeds (log steps fitted as normal); a seed that never reached "
              f"the target counts as 'at least {config.max_steps} steps' (a bound), not as missing, and a median "
              f"above {config.max_steps} is an estimate beyond the run. The ratio is per seed, "
              "activation's steps over the baseline's, same estimator; below 1: faster than the baseline."))
