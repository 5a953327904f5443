"""``actlab verify [NAME ...]``: measure activations against their declarations."""

from __future__ import annotations

import argparse

from .common import EXIT_FAILURE, EXIT_OK, ProgressLine, load_plugin_args, parse_activation

__all__ = ["cmd_verify"]

def cmd_verify(args: argparse.Namespace) -> int:
    from ..activations import names
    from ..activations.verify import (
        check_derivative,
        check_gradcheck,
        check_properties,
        check_stability,
    )

    plugged = load_plugin_args(args)  # --plugin FILE: with no NAME, check what it registered
    acts = [parse_activation(n) for n in (args.names or plugged or names())]
    # verify() is these four checks in this order; run one at a time to show progress
    # (each takes well under 2 s on a 2-core CPU, so the line moves at least that often).
    checks = (("derivative", check_derivative), ("gradcheck", check_gradcheck),
              ("stability", check_stability), ("properties", check_properties))
    progress = ProgressLine("verify", enabled=not args.no_progress)
    total, failed = len(acts) * len(checks), 0
    try:
        for i, act in enumerate(acts):
            problems: list[str] = []
            for j, (what, check) in enumerate(checks):
                progress(i * len(checks) + j, total, f"{i}/{len(acts)} done, {act.label}: {what}")
                problems += check(act)
            progress.clear()  # the progress line off the terminal before the result line
            status = "ok" if not problems else f"{len(problems)} problem(s)"
            print(f"{act.label:<20} {status}", flush=True)  # flushed: a line per activation, also in a pipe
            for p in problems:
                print(f"    {p}", flush=True)
            failed += bool(problems)
        progress(total, total, "done")
    finally:
        progress.close()
    print(f"\n{len(acts) - failed} of {len(acts)} activations match their declarations "
          "(derivative vs autograd and finite differences, gradcheck, stability, properties).")
    return EXIT_OK if not failed else EXIT_FAILURE
