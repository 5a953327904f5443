"""``actlab compare [ACT,...] [--quick] [--out DIR] [--plugin FILE] [--baseline NAME]``.

Loads the plugins, verifies every activation that is not one of actlab's own (refusing to
measure one whose declarations do not hold), plans each claim's config, runs what DIR does not
already hold (``compare.runner``), writes ``DIR/compare/`` and rebuilds ``DIR/report.html``
(the scorecard section at its top).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ..data.errors import DataError
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    check_writable,
    load_plugin_args,
    status_words,
)

__all__ = ["cmd_compare", "compare_command"]


def _activations(args: argparse.Namespace) -> list[str]:
    from ..activations import parse_activation_list
    from ..compare import DEFAULT_ACTIVATIONS

    text = args.activations if args.activations else ",".join(DEFAULT_ACTIVATIONS)
    try:
        return parse_activation_list(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _sets(items: list[str] | None) -> dict[str, dict[str, str]]:
    """--set CLAIM.KEY=VALUE (one claim) or KEY=VALUE (every claim that has KEY: under "*")."""
    from ..claims import load_claim

    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        claim, dot, setting = key.strip().rpartition(".")
        if not eq or not setting.strip() or (dot and not claim):
            raise UsageError(f"--set {item!r} must look like CLAIM.KEY=VALUE or KEY=VALUE, e.g. "
                             "convergence.max_steps=300")
        name = "*"
        if dot:
            try:
                name = load_claim(claim).NAME
            except ValueError as exc:
                raise UsageError(f"--set {item!r}: {exc}") from None
        out.setdefault(name, {})[setting.strip().replace("-", "_")] = value
    return out


def compare_command(args: argparse.Namespace, activations: list[str]) -> str:
    """The command that reruns this comparison (stored in scorecard.json and its table)."""
    parts = ["actlab", "compare", ",".join(activations)]
    if args.quick:
        parts.append("--quick")
    for opt in ("baseline", "claims", "seed", "seeds", "dataset"):
        value = getattr(args, opt, None)
        if value is not None:
            parts += [f"--{opt}", str(value)]
    for item in args.set or []:
        parts += ["--set", item]
    for plugin in args.plugin or []:
        parts += ["--plugin", plugin]
    parts += ["--out", args.out]
    return " ".join(shlex.quote(p) for p in parts)


def _verify(activations: list[str], progress_enabled: bool) -> None:
    """Every activation that actlab does not ship is verified before it is measured."""
    from ..activations import get, verify
    from ..activations.registry import Registry
    from ..activations.zoo import populate

    builtin = set(populate(Registry()).names())
    for name in activations:
        if name in builtin:  # actlab's own: verified by its test suite
            continue
        progress = ProgressLine(f"verify {name}", enabled=progress_enabled)
        progress(0, 1, "derivative, gradcheck, stability, properties")
        problems = verify(get(name))
        progress.close()
        if problems:
            raise UsageError(f"{name} does not match its declarations ({len(problems)} problem(s), first: "
                             f"{problems[0]}); `actlab verify --plugin FILE {name}` lists them; fix them before "
                             "comparing")


def cmd_compare(args: argparse.Namespace) -> int:
    from ..activations.plugins import loaded_plugins, plugin_digest
    from ..claims import claim_names, load_claim
    from ..compare import CompareError, plan, refresh_scorecard, run_compare, write_compare_folder
    from ..compare.folder import check_compare_folder
    from ..plots.scorecard import plot_scorecard
    from ..runs.folders import FolderError, check_claim_folder, check_out_folder, check_report_file
    from ..training.workers import shared_pool
    from ..verdicts.result import environment
    from .run import write_claim_folder

    started = time.perf_counter()
    load_plugin_args(args)
    activations = _activations(args)
    baseline = "relu"
    if args.baseline:
        try:
            (baseline,) = _activations(argparse.Namespace(activations=args.baseline))
        except UsageError as exc:
            raise UsageError(f"--baseline: {exc}") from None
    if baseline not in activations:
        activations.append(baseline)
    if args.claims:
        try:
            claims = list(dict.fromkeys(load_claim(c).NAME for c in args.claims.split(",") if c.strip()))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        claims = claim_names()
    out_root = Path(args.out)
    try:
        check_out_folder(out_root)
        for name in claims:
            check_claim_folder(out_root, name)
        check_compare_folder(out_root)
        check_report_file(out_root)
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    check_writable(out_root)
    _verify(activations, not args.no_progress)
    common = {"seed": args.seed, "seeds": args.seeds, "device": args.device, "dataset": args.dataset,
              "data_dir": args.data_dir}
    try:
        plans = plan(claims, activations, baseline, quick=args.quick, common=common, sets=_sets(args.set))
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    digests = {}  # plugin activation -> its file's SHA-256: a changed file is not reused
    for path, registered in loaded_plugins().items():
        digest = plugin_digest(path)
        digests.update({n: digest for n in registered})
    progress_on = not args.no_progress

    def run_claim(p, label: str):
        progress = ProgressLine(label, enabled=progress_on)
        try:
            return p.module.run(p.config, progress=progress)
        except DataError:
            raise
        except ValueError as exc:
            raise UsageError(f"{p.name}: {exc}") from None
        finally:
            progress.close()

    def on_claim(p, result, reused: bool) -> None:
        how = "reused from " + str(out_root / p.name) if reused else f"{result.elapsed_s:.1f}s"
        n = sum(1 for _ in result.per_activation)
        print(f"{p.name}: {status_words(result.verdict.status)} ({how}); {n} per-activation number(s)"
              + (f"; not measured here: {', '.join(p.refused)}" if p.refused else ""), flush=True)

    command = compare_command(args, activations)
    done: list[str] = []
    try:
        with shared_pool():  # one set of worker processes for every claim (each new one imports torch)
            scorecard = run_compare(out_root, plans, activations, baseline, run_claim=run_claim,
                                    write_claim=lambda r: write_claim_folder(r, out_root, plot=not args.no_plots,
                                                                             locked=True),
                                    plugins=digests, on_claim=lambda p, r, reused: (done.append(p.name),
                                                                                   on_claim(p, r, reused)))
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        kept = f"; the {len(done)} finished claim(s) are kept in {out_root}: rerun to resume" if done else ""
        print(f"actlab: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    refresh_scorecard(scorecard)
    scorecard["command"] = command
    reused = sum(bool(info.get("reused")) for info in scorecard["claims"].values())
    env = environment(args.device or "cpu")
    claims_s = sum(float(info.get("elapsed_s") or 0) for info in scorecard["claims"].values())
    scorecard["run"] = {"wall_s": round(time.perf_counter() - started, 1), "claims_reused": reused,
                        "claims_elapsed_s": round(claims_s, 1),
                        "machine": {k: env.get(k) for k in ("cpu_count", "threads", "torch", "device")}}
    try:
        folder = write_compare_folder(out_root, scorecard, command, figures=lambda d: plot_scorecard(scorecard, d))
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    _print_summary(scorecard, folder)
    _report(out_root)
    return EXIT_OK


def _print_summary(scorecard: dict[str, Any], folder: Path) -> None:
    from ..compare.table import STATUS_WORD

    print(f"\nscorecard: {folder}/scorecard.json ({len(scorecard['rows'])} activations x "
          f"{len(scorecard['columns'])} properties; table in scorecard.md, figure in scorecard.png)")
    print("\nthe rule of thumb, checked:")
    for line in scorecard.get("rule_of_thumb", []):
        print(f"  {line['sentence']:<44} {STATUS_WORD[line['status']]}")


def _report(out_root: Path) -> None:
    from ..report import ReportError, build_report, scan_results

    try:
        folder = scan_results(out_root)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    print(f"\nreport: {build_report(folder)}  (the scorecard is at its top)")
