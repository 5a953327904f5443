"""``actlab list [--json]``: the activation zoo and its properties."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, fmt_num

__all__ = ["cmd_list"]

def cmd_list(args: argparse.Namespace) -> int:
    from ..activations import REGISTRY, get

    rows = []
    for spec in REGISTRY:
        act = get(spec.name)
        p = act.properties
        rows.append({"name": spec.name, "aliases": list(spec.aliases), "kind": spec.kind, "formula": spec.formula,
                     "summary": spec.summary, "params": {q.name: q.default for q in spec.params}, **p.as_dict()})
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    yes = lambda b: "yes" if b else "-"  # noqa: E731
    header = ["name", "range", "zero-centred", "monotonic", "smooth", "saturates", "max|f'|", "f(0)", "f'(0)", "parameters"]
    table = []
    for spec in REGISTRY:
        p = get(spec.name).properties
        sat = {(True, True): "both", (True, False): "left", (False, True): "right", (False, False): "no"}[
            (p.saturates_left, p.saturates_right)]
        table.append([
            spec.name + (f" ({', '.join(spec.aliases)})" if spec.aliases else ""),
            _range_text(get(spec.name)),
            yes(p.zero_centred), yes(p.monotonic), yes(p.smooth), sat,
            fmt_num(p.max_abs_derivative), fmt_num(p.f0), fmt_num(p.df0),
            ", ".join(f"{q.name}={q.default}" for q in spec.params),
        ])
    widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print(line(r))
    print(f"\n{len(table)} activations. `actlab list --json` adds formulas, summaries and references.")
    return EXIT_OK


def _attains(act, bound: float, lower: bool) -> bool:
    """Whether f reaches ``bound`` at a finite x (a closed end) rather than only approaching it.

    Measured in float64 on [-5, 5], where every asymptote of the zoo is still far from its limit
    (sigmoid(-5) = 0.0067, tanh(5) = 1 - 9e-5), with the grid's extremum refined by ternary
    search: closed when the extremum equals the bound to 1e-9 (gelu's minimum, relu's 0 on
    x <= 0, hard_tanh's +-1), open otherwise (sigmoid's 0 and 1, elu's -alpha).
    """
    import math

    import torch

    if not math.isfinite(bound):
        return False
    sign = 1.0 if lower else -1.0
    f = lambda x: sign * act(x)  # noqa: E731 - minimise f for a lower bound, -f for an upper one
    with torch.no_grad():
        x = torch.linspace(-5.0, 5.0, 20001, dtype=torch.float64)
        y = f(x)
        i = int(torch.argmin(y))
        lo, hi = float(x[max(i - 1, 0)]), float(x[min(i + 1, len(x) - 1)])
        best = float(y[i])
        for _ in range(60):
            a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            fa, fb = (float(v) for v in f(torch.tensor([a, b], dtype=torch.float64)))
            best = min(best, fa, fb)
            if fa <= fb:
                hi = b
            else:
                lo = a
    return abs(sign * best - bound) <= 1e-9 * (1.0 + abs(bound))


def _range_text(act) -> str:
    """The output range in interval notation: [0, inf) for relu, [-1, 1] for hard_tanh, (0, 1) for sigmoid."""
    lo, hi = act.properties.output_range
    left = "[" if _attains(act, lo, lower=True) else "("
    right = "]" if _attains(act, hi, lower=False) else ")"
    return f"{left}{fmt_num(lo)}, {fmt_num(hi)}{right}"
