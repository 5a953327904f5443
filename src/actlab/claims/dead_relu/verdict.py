"""dead-relu's verdict, limits, per-activation numbers and sentences, from the selection settings and the
confirmation arms (constructed records in the tests drive it at every boundary)."""

from __future__ import annotations

import math
from typing import Any

from ...verdicts.result import (
    ActivationNumber,
    KeyNumber,
    Limit,
    PerActivation,
    Rule,
    Source,
    Verdict,
)
from ...verdicts.stats import Interval, activation_number, decide, grid_edge

__all__ = ["decide_claim", "per_activation", "pct", "setting_name"]

THRESHOLD = 0.4
ERROR_LIMIT = 0.10
OTHERS_LIMIT = 0.01  # leaky_relu / elu "cannot die": under 1% dead at their deadliest rate that trains


def pct(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def setting_name(s: dict[str, Any]) -> str:
    return f"{'SGD' if s['optimizer'] == 'sgd' else 'Adam'} lr {s['lr']:g}"


def _arm(confirmation: list[dict[str, Any]], arm: str) -> dict[str, Any] | None:
    return next((s for s in confirmation if s["arm"] == arm), None)


def _iv(s: dict[str, Any]) -> Interval:
    n = s["seeds"] - s["n_diverged"]
    return Interval(s["dead_mean"], s["dead_ci95_low"], s["dead_ci95_high"], n, "t")


def _ci(s: dict[str, Any]) -> str:
    if s.get("dead_ci95_low") is None:
        return "no interval"
    return f"95% CI {pct(s['dead_ci95_low'])}-{pct(s['dead_ci95_high'])}"


def _confirmed(s: dict[str, Any] | None, rule: Rule, grid: list[float], what: str,
               top_is_edge: bool = True) -> tuple[str, str]:
    """(status, reason) for a confirmation arm: decided by the interval, unless the setting did not train on the
    fresh seeds, a fresh seed diverged, or (top_is_edge) the chosen rate is the top of its grid."""
    if s is None:
        return "inconclusive", f"no {what} setting still trained on the selection seeds, so nothing was confirmed"
    if top_is_edge and (len(grid) < 2 or grid_edge(grid, s["lr"]) == "high"):
        return "inconclusive", (f"{setting_name(s)} is the top of its grid: the rate where training breaks was not "
                                "reached; add larger rates")
    if not s["trains"]:
        return "inconclusive", (f"{setting_name(s)} did not train on the fresh seeds (median training error "
                                f"{pct(s['median_train_error'], 1)}, over the {pct(ERROR_LIMIT)} limit)")
    if s["n_diverged"]:
        return "inconclusive", (f"{s['n_diverged']} of {s['seeds']} fresh seeds diverged at {setting_name(s)}; a "
                                "diverged network has no dead share, and leaving it out would flatter the setting")
    return decide(_iv(s), rule)


def _rule(config: dict[str, Any], statistic: str, holds_if: str, text: str) -> Rule:
    return Rule(statistic=statistic, threshold=THRESHOLD, holds_if=holds_if, seeds=config["seeds"], text=text)


def decide_claim(settings: list[dict[str, Any]], confirmation: list[dict[str, Any]], *,
                 config: dict[str, Any], scale: str = "reduced-size") -> Verdict:
    """The headline (relu, Adam, standard bias), its limits, and the sentences; ``scale``: quick, full-scale or
    reduced-size, named in the text."""
    bias0 = config["bias_inits"][0]
    where = (f"{scale} run: {config['depth']} hidden layers of {config['width']} units, {config['init']} init, "
             f"{config['steps']} steps of batch {config['batch_size']} on {config['dataset']}; "
             f"{config['select_seeds']} seeds choose the rate, {config['seeds']} fresh seeds confirm it")
    rule = _rule(config, "dead relu share (fresh seeds)",
                 "above",
                 f"Standard conditions: relu, Adam at constant rates {list(config['adam_lrs'])}, biases at {bias0:g}, "
                 f"{config['init']} init. A setting still trains when the median final training error of its seeds is "
                 f"at most {ERROR_LIMIT:.0%} (a diverged seed counts as infinite). On {config['select_seeds']} "
                 "selection seeds the still-training rate with the largest mean dead share is chosen; it must not be "
                 f"the top of the grid. On {config['seeds']} fresh seeds (seed + 1000 on) it is trained again: holds if "
                 f"it still trains, no seed diverges and the 95% interval of the dead share (over every fresh seed) "
                 f"lies wholly above {THRESHOLD:.0%}; does not hold if wholly below; otherwise inconclusive.")
    relu_sel = [s for s in settings if (s["activation"], s["optimizer"], s["bias_init"]) == ("relu", "adam", bias0)]
    head = _arm(confirmation, "headline")
    chosen_sel = next((s for s in relu_sel if head and s["lr"] == head["lr"]), None)
    if "relu" not in config["activations"]:
        status, reason = "inconclusive", "the claim is about relu, and this run did not train relu"
    elif not config["adam_lrs"]:
        status, reason = "inconclusive", "the standard conditions are Adam, and adam_lrs is empty"
    else:
        status, reason = _confirmed(head, rule, list(config["adam_lrs"]), "relu Adam")
    above = next((s for s in sorted(relu_sel, key=lambda s: s["lr"]) if head and s["lr"] > head["lr"]), None)
    value = head["dead_mean"] if head else None
    key = KeyNumber(value, f"{pct(value)} dead" if value is not None else "n/a",
                    "share of dead relu units at the deadliest Adam rate that still trains"
                    + (f" (Adam lr {head['lr']:g}, fresh seeds)" if head else ""))
    source = Source(
        citation="CS231n notes, 'Commonly used activation functions' (ReLU)",
        value='"as much as 40% of your network can be dead" if the learning rate is set too high',
        ours=(f"{pct(value)} dead ({_ci(head)}) at Adam lr {head['lr']:g}, "
              f"{pct(head['median_train_error'], 1)} median training error" if head else "no relu Adam rate trained"),
        differences=("the notes give no network, data, optimizer or schedule; we use a "
                     f"{config['depth']}-hidden-layer MLP on {config['dataset']} "
                     f"({config['train_examples'] or 'all'} training examples), {config['init']} init, Adam at constant "
                     f"rates, {config['steps']} steps, and count a unit dead only if it is zero on every training "
                     "example, in a setting that still trains."))
    if head is None:
        evidence = f"{where}: {reason}."
    else:
        evidence = (f"{where}: Adam lr {head['lr']:g} (chosen on the selection seeds) left {pct(value)} of relu "
                    f"units dead on {head['seeds']} fresh seeds ({_ci(head)}) at "
                    f"{pct(head['median_train_error'], 1)} median training error; {reason}. The cases are in the "
                    "tables below.")
    limits = _limits(settings, confirmation, config, rule)
    meaning = _meaning(status, reason, scale, head, chosen_sel, above, limits, _best(settings, config))
    return Verdict(status, evidence, rule=rule, source=source, meaning=meaning, key_number=key, limits=limits)


def _limits(settings: list[dict[str, Any]], confirmation: list[dict[str, Any]], config: dict[str, Any],
            head_rule: Rule) -> tuple[Limit, ...]:
    out = []
    sgd = _arm(confirmation, "sgd")
    sgd_rule = _rule(config, "dead relu share at plain SGD's highest trainable rate", "below",
                     f"holds if, at the highest plain-SGD rate (momentum {config['momentum']:g}) that still trains on "
                     "the selection seeds (not the top of its grid), the 95% interval of the dead share on the fresh "
                     f"seeds lies wholly below {THRESHOLD:.0%}; does not hold if wholly above; else inconclusive.")
    if config["lrs"] and "relu" in config["activations"]:
        st, why = _confirmed(sgd, sgd_rule, list(config["lrs"]), "plain-SGD relu")
        measured = (f"at SGD lr {sgd['lr']:g}, the highest plain-SGD rate that still trains, {pct(sgd['dead_mean'])} "
                    f"of relu units were dead ({_ci(sgd)}) at {pct(sgd['median_train_error'], 1)} median training "
                    "error" if sgd else "")
        # the reason for a word the interval alone does not explain comes first, where the word is shown
        ev = (why if not sgd else f"{why}. The seeds that did not diverge: {measured}"
              if st == "inconclusive" and sgd["n_diverged"] else f"{measured}; {why}")
        out.append(Limit("plain SGD", "with plain SGD, training breaks before 40% of units die", st, ev + ".",
                         rule=sgd_rule,
                         key_number=KeyNumber(sgd["dead_mean"] if sgd else None,
                                              f"{pct(sgd['dead_mean'])} dead" if sgd else "n/a",
                                              f"dead relu units at SGD lr {sgd['lr']:g}" if sgd else "no SGD rate trained")))
    for b in config["bias_inits"][1:]:
        arm = _arm(confirmation, f"bias {b:g}")
        if arm is None:
            continue
        r = _rule(config, f"dead relu share with biases at {b:g}", "below",
                  f"at the chosen Adam rate, on the fresh seeds: holds if the 95% interval of the dead share with "
                  f"biases started at {b:g} lies wholly below {THRESHOLD:.0%} (the bias saves the units); does not "
                  "hold if wholly above; else inconclusive.")
        st, why = _confirmed(arm, r, list(config["adam_lrs"]), "", top_is_edge=False)
        out.append(Limit(f"bias {b:g}", f"starting the biases at {b:g} keeps the share of dead units under 40%", st,
                         f"at Adam lr {arm['lr']:g} with biases started at {b:g}, {pct(arm['dead_mean'])} of relu units "
                         f"were dead ({_ci(arm)}); {why}.", rule=r,
                         key_number=KeyNumber(arm["dead_mean"], f"{pct(arm['dead_mean'])} dead",
                                              f"dead relu units, biases at {b:g}")))
    others = [a for a in config["activations"] if a != "relu"]
    if others:
        parts, statuses = [], []
        for a in others:
            arm = _arm(confirmation, f"activation {a}")
            if arm is None or not arm["trains"] or arm["dead_mean"] is None:
                statuses.append("inconclusive")
                parts.append(f"{a}: no Adam rate still trained" if arm is None else
                             f"{a}: Adam lr {arm['lr']:g} did not train on the fresh seeds")
                continue
            worst = max(d for d in arm["dead_per_seed"] if d is not None)
            n = arm["seeds"] - arm["n_diverged"]
            statuses.append("holds" if n >= 5 and worst < OTHERS_LIMIT else
                            "does_not_hold" if arm["dead_ci95_low"] is not None and arm["dead_ci95_low"] > OTHERS_LIMIT
                            else "inconclusive")
            parts.append(f"{a}: at most {pct(worst, 1)} dead in any of {n} fresh seeds at Adam lr {arm['lr']:g}, "
                         "its deadliest rate that still trains")
        st = ("does_not_hold" if "does_not_hold" in statuses else "holds" if all(s == "holds" for s in statuses)
              else "inconclusive")
        out.append(Limit("other activations", f"{_and(others)} units do not die at their own deadliest Adam rate "
                         f"that still trains (under {OTHERS_LIMIT:.0%} dead in every fresh seed, at least 5 seeds)", st,
                         "; ".join(parts) + "." + _beyond(settings, others, config)))
    return tuple(out)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _beyond(settings: list[dict[str, Any]], others: list[str], config: dict[str, Any]) -> str:
    """What the selection seeds show at the rates above the checked one, where training broke: units can die there."""
    bias0 = config["bias_inits"][0]
    seen = []
    for a in others:
        broke = [s for s in settings if (s["activation"], s["optimizer"], s["bias_init"]) == (a, "adam", bias0)
                 and not s["trains"] and s["dead_mean"] is not None and s["dead_mean"] >= OTHERS_LIMIT]
        if broke:
            s = max(broke, key=lambda s: s["dead_mean"])
            seen.append(f"{a} {pct(s['dead_mean'])} at Adam lr {s['lr']:g}")
    if not seen:
        return ""
    return (" Only these rates are checked: at rates where training broke, the selection seeds show dead units too ("
            + ", ".join(seen) + ").")


def _best(settings: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any] | None:
    """relu's Adam setting with the lowest median training error (standard bias)."""
    bias0 = config["bias_inits"][0]
    ok = [s for s in settings if (s["activation"], s["optimizer"], s["bias_init"]) == ("relu", "adam", bias0)
          and s["median_train_error"] is not None]
    return min(ok, key=lambda s: s["median_train_error"]) if ok else None


def _meaning(status: str, reason: str, scale: str, head: dict | None, chosen_sel: dict | None, above: dict | None,
             limits: tuple[Limit, ...], best: dict | None = None) -> str:
    s = ["A ReLU unit is dead when its input is negative for every training image: it then outputs 0 and passes "
         "back no gradient, so it never recovers. CS231n warns that with a learning rate set too high as much as 40% "
         "of a network can die."]
    if head is None:
        s.append(f"Here no verdict: {reason}.")
        return " ".join(s)
    s.append(f"With Adam, the deadliest rate that still trains was {head['lr']:g}: on fresh seeds "
             f"{pct(head['dead_mean'])} of the units were dead while the network reached "
             f"{pct(head['median_train_error'], 1)} training error (median over seeds).")
    if above is not None:
        if not above["trains"]:
            s.append(f"The next rate up, {above['lr']:g}, no longer trained (median training error "
                     f"{pct(above['median_train_error'], 1)}).")
        else:
            s.append(f"The next rate up, {above['lr']:g}, still trained but killed fewer units "
                     f"({pct(above['dead_mean'])}).")
    for lim in limits:
        if lim.name == "plain SGD" and lim.key_number and lim.key_number.value is not None:
            s.append(f"Plain SGD is gentler: at its highest rate that trains, {lim.key_number.text} "
                     f"({lim.key_number.label.replace('dead relu units at ', '')}).")
    works = ""
    if head is not None:
        works = (f" (median training error {pct(head['median_train_error'], 1)}, within this run's "
                 f"{pct(ERROR_LIMIT)} limit" + (f"; {pct(best['median_train_error'], 1)} at the best rate, Adam lr "
                                                 f"{best['lr']:g}, on the selection seeds" if best else "") + ")")
    s.append({"holds": f"So the claim holds here: a high learning rate killed 40% or more of a network that still "
                       f"trains{works}.",
              "does_not_hold": "So the claim does not hold here: even at the deadliest Adam rate that still trains, "
                               "fewer than 40% of the units died.",
              "inconclusive": f"This is not enough for a verdict: {reason}."}[status]
             + (f" This was a {scale} run; `actlab run dead-relu` is the full-scale one." if scale != "full-scale" else ""))
    return " ".join(s)


def per_activation(confirmation: list[dict[str, Any]], activations: tuple[str, ...] | list[str],
                   baseline: str) -> tuple[PerActivation, ...]:
    """Dead share (%) at each activation's deadliest Adam rate that still trains, fresh seeds, paired by seed."""
    def arm(a: str) -> dict[str, Any] | None:
        return _arm(confirmation, "headline" if a == "relu" else f"activation {a}")

    base = arm(baseline)
    base_by_seed = dict(zip(base["seed_list"], base["dead_per_seed"])) if base else {}
    values = []
    for a in activations:
        s = arm(a)
        if s is None:
            values.append(ActivationNumber(a, None, note="no Adam rate still trained on the selection seeds"))
            continue
        per_seed = [None if d is None else 100 * d for d in s["dead_per_seed"]]
        paired = [None if base_by_seed.get(seed) is None else 100 * base_by_seed[seed] for seed in s["seed_list"]]
        note = f"Adam lr {s['lr']:g}" + (f"; {s['n_diverged']} diverged, left out" if s["n_diverged"] else "") \
            + ("" if s["trains"] else "; did not train on the fresh seeds")
        values.append(activation_number(a, per_seed, paired if base else None, positive=False, note=note))
    return (PerActivation("dead_share", "dead units at the deadliest Adam rate that still trains", "%", "lower",
                          baseline, values, ratio_label=f"ratio to {baseline}, paired by seed",
                          note="A unit is dead when its output has zero slope on every training example. Each "
                               "activation's rate is chosen on the selection seeds; the numbers are from fresh seeds. "
                               "A ratio needs both shares above 0."),)
