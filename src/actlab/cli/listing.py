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
            f"({fmt_num(p.output_range[0])}, {fmt_num(p.output_range[1])})",
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
