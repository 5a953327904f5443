"""The ``actlab`` command.

    actlab list [--json]                      the zoo and its properties
    actlab show NAME [NAME ...] --out F.png   f and f' on one figure
    actlab verify [NAME ...]                  measure activations against their declarations
    actlab run NAME|all [--quick] [--out DIR] run claims, write DIR/NAME/result.json + figures,
                                              then DIR/report.html (DIR/NAME replaced only if
                                              actlab wrote it: runs/folders.py)
    actlab run NAME --help                    the claim's settings, defaults and meanings
    actlab report DIR [--markdown F.md] [--summary-png F.png]
                                              rebuild DIR/report.html from the results (or sweep) in DIR
    actlab sweep NAME --seeds N [--grid K=V1,V2] [--workers K] [--backend local|ray]
                                              independent runs in parallel, resumable

Bad input is a one-line ``actlab: error: ...`` on stderr and exit code 2; Ctrl-C is exit
code 130; a closed pipe (``actlab list | head -1``) ends quietly with exit code 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from .._version import __version__
from ..data.errors import DataError

__all__ = ["main", "UsageError"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: same one-line format
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --- activations: list, show, verify ------------------------------------------------


def _parse_activation(text: str):
    """'elu' or 'elu:alpha=0.5,k=2' -> Activation."""
    from ..activations import get
    from ..training.settings import parse_value

    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"activation parameter {item!r} must look like name=value, e.g. elu:alpha=0.5")
        try:
            text = value.strip()
            params[key.strip()] = int(text) if text.isascii() and text.lstrip("-").isdigit() else parse_value(
                text, float, key.strip())
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return get(name, **params)


def _int(text: str) -> int:
    """argparse type for whole numbers: ASCII digits only (int() also reads other scripts' digits)."""
    if not text.strip().isascii():
        raise argparse.ArgumentTypeError(f"{text!r} must be written with the digits 0-9")
    return int(text)


_int.__name__ = "int"  # argparse names the type in its message: "invalid int value: 'x'"


def _fmt_num(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


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
            f"({_fmt_num(p.output_range[0])}, {_fmt_num(p.output_range[1])})",
            yes(p.zero_centred), yes(p.monotonic), yes(p.smooth), sat,
            _fmt_num(p.max_abs_derivative), _fmt_num(p.f0), _fmt_num(p.df0),
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


def cmd_show(args: argparse.Namespace) -> int:
    from ..plots import plot_activations

    acts = [_parse_activation(n) for n in args.names]
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: the figure is a PNG; give a file name ending in .png")
    _check_writable(out.parent if str(out.parent) else Path("."))
    path = plot_activations(acts, out, x_range=(args.range[0], args.range[1]))
    print(f"wrote {path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from ..activations import names
    from ..activations.verify import (
        check_derivative,
        check_gradcheck,
        check_properties,
        check_stability,
    )

    acts = [_parse_activation(n) for n in (args.names or names())]
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
                progress(i * len(checks) + j, total, f"{i + 1}/{len(acts)} {act.label}: {what}")
                problems += check(act)
            if progress.enabled and progress.tty:  # clear the progress line before the result line
                progress.stream.write("\r\033[K")
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


# --- run ---------------------------------------------------------------------------


def _check_writable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder; give a folder (or a new name) instead")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".actlab-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        what = f"{blocker} is a file, not a folder" if blocker else "a file stands in its path"
        raise UsageError(f"cannot write to {folder}: {what}") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {folder}: {exc.strerror or exc}") from None


class ProgressLine:
    """One status line on stderr: claim, percent, message, elapsed, time left.

    Redrawn in place on a terminal; elsewhere (CI logs) a line at most every 5 s.
    """

    def __init__(self, label: str, stream=None, enabled: bool = True) -> None:
        self.label, self.stream, self.enabled = label, stream or sys.stderr, enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last = -math.inf

    def __call__(self, done: float, total: float, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self.tty and now - self.last < 5 and done < total:
            return
        self.last = now
        frac = min(max(done / total, 0.0), 1.0) if total else 0.0
        spent = now - self.start
        left = f", ~{spent * (1 - frac) / frac:.0f}s left" if 0.02 < frac < 1 else ""
        text = f"{self.label}: {100 * frac:3.0f}% {message} [{spent:.0f}s{left}]"
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + text[:width].ljust(width))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _claim_config(module, args: argparse.Namespace, *, strict: bool):
    """Config for one claim from --quick, the common options and --set."""
    from ..training.settings import make_config

    valid = {f.name for f in fields(module.Config)}
    overrides: dict[str, Any] = {}
    for option in ("seed", "device", "activations", "dataset", "seeds", "data_dir"):
        value = getattr(args, option, None)
        if value is None:
            continue
        if option not in valid:
            if strict:
                raise UsageError(f"claim {module.NAME} has no --{option.replace('_', '-')} option; "
                                 f"its settings: {', '.join(sorted(valid))}")
            continue
        overrides[option] = value if not isinstance(value, str) else value
    for item in args.set or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"--set {item!r} must look like KEY=VALUE")
        key = key.strip().replace("-", "_")
        if key not in valid:
            if strict:
                raise UsageError(f"claim {module.NAME} has no setting {key!r}; its settings: {', '.join(sorted(valid))}")
            continue
        overrides[key] = value
    try:
        return make_config(module.Config, module.QUICK if args.quick else None, overrides)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{module.NAME}: {exc}") from None


def _write_claim(result, out_root: Path, plot: bool, *, locked: bool = False) -> Path:
    """result.json and figures into out_root/NAME, swapped in whole (no partial folder).

    One writer at a time (``folders.claim_lock``; ``locked``: the caller holds it); the
    folder is replaced only if actlab made it (``folders.check_claim_folder``).
    """
    from ..plots import plot_result
    from ..runs.folders import write_claim

    figures = (lambda folder: plot_result(result, folder)) if plot else None
    return write_claim(result, result.experiment, out_root, figures, lock=not locked)


def _print_settings(module) -> None:
    """``actlab run CLAIM --set help``: every setting with its default, --quick value and meaning."""
    from .settings_help import settings_text

    print(settings_text(module))


def cmd_run(args: argparse.Namespace) -> int:
    from ..claims import claim_names, load_claim
    from ..runs.folders import (
        FolderError,
        check_claim_folder,
        check_out_folder,
        check_report_file,
        claim_lock,
    )
    from ..training.settings import MAX_THREADS, resolve_device

    if args.claim is None:
        if args.help:
            args.parser.print_help()
            return EXIT_OK
        raise UsageError("run needs a CLAIM, or all (see `actlab run --help`)")
    names = claim_names() if args.claim.lower() == "all" else [args.claim]
    try:
        modules = [load_claim(n) for n in names]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.help or args.set == ["help"]:
        if args.help:
            args.parser.print_help()
            print()
        for module in modules:
            _print_settings(module)
        return EXIT_OK
    if args.device is not None:
        try:
            resolve_device(args.device)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    configs = [_claim_config(m, args, strict=len(modules) == 1) for m in modules]
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise UsageError(f"--threads {args.threads} must be from 1 to {MAX_THREADS}")
    out_root = Path(args.out)
    try:  # before any work: nothing of the user's is in the way
        check_out_folder(out_root)
        for module in modules:
            check_claim_folder(out_root, module.NAME)
        if not args.no_report:
            check_report_file(out_root)
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    _check_writable(out_root)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    verdicts = []
    try:
        for i, (module, config) in enumerate(zip(modules, configs), 1):
            label = f"[{i}/{len(modules)}] {module.NAME}" if len(modules) > 1 else module.NAME
            try:
                with claim_lock(out_root, module.NAME):  # one writer per claim folder, from start to end
                    result = _run_claim(module, config, label, args)
                    folder = _write_claim(result, out_root, plot=not args.no_plots, locked=True)
            except FolderError as exc:
                raise UsageError(str(exc)) from None
            verdicts.append((module.NAME, result.verdict, result.elapsed_s, folder))
            print(f"{module.NAME}: {result.verdict.status} ({result.elapsed_s:.1f}s) -> {folder}/result.json")
            print(f"    {result.verdict.evidence}")
    except KeyboardInterrupt:
        kept = f"; the {len(verdicts)} finished claim(s) are kept in {out_root}" if verdicts else ""
        print(f"actlab: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if len(verdicts) > 1:
        print("\nsummary:")
        for name, verdict, elapsed, _ in verdicts:
            print(f"  {name:<16} {verdict.status:<14} {elapsed:6.1f}s")
    if not args.no_report:
        from ..report import ReportError, build_report, scan_results

        try:
            folder = scan_results(out_root)
        except ReportError as exc:  # another claim's file in DIR is broken beyond reading
            raise UsageError(str(exc)) from None
        for line in folder.skipped:
            print(f"actlab: warning: not in the report: {line}", file=sys.stderr)
        print(f"\nreport: {build_report(folder)}  (open it in a browser; `actlab report {out_root}` rebuilds it)")
    return EXIT_OK


def _run_claim(module, config, label: str, args: argparse.Namespace):
    progress = ProgressLine(label, enabled=not args.no_progress)
    try:
        return module.run(config, progress=progress)
    except DataError:
        raise
    except ValueError as exc:  # settings only the run can check (batch_size > examples of the dataset)
        raise UsageError(f"{module.NAME}: {exc}") from None
    finally:
        progress.close()


# --- entry point ---------------------------------------------------------------------


def _command(module: str, name: str):
    """A command that lives in its own module (cli/report.py, cli/sweep.py), imported when it runs."""
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(args)

    run.__name__ = name
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="actlab", description="Activation functions and gradient flow, measured.")
    parser.add_argument("--version", action="version", version=f"actlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("list", help="the activation zoo and its properties")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="plot f and f' of activations into a PNG")
    p.add_argument("names", nargs="+", metavar="NAME", help="activation, optionally with parameters: elu:alpha=0.5")
    p.add_argument("--out", default="activations.png", help="PNG file to write (default: activations.png)")
    p.add_argument("--range", nargs=2, type=float, default=(-6.0, 6.0), metavar=("LO", "HI"), help="x range (default: -6 6)")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("verify", help="check activations against their declared derivative and properties")
    p.add_argument("names", nargs="*", metavar="NAME", help="activations to check (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=cmd_verify)

    from ..claims import CLAIMS

    p = sub.add_parser("run", help="measure a claim (or all) and write DIR/NAME/result.json and figures",
                       add_help=False,
                       epilog=f"claims: {', '.join(CLAIMS)}, or all. `actlab run CLAIM --help` (or --set help) "
                              "lists a claim's settings with their defaults and meanings. DIR/NAME is replaced "
                              "only if actlab wrote it; a sweep's folder is never written.")
    p.add_argument("-h", "--help", action="store_true", help="show this help (with CLAIM: its settings too)")
    p.add_argument("claim", metavar="CLAIM", nargs="?", help="a claim name, or 'all'")
    p.add_argument("--quick", action="store_true", help="small sizes: minutes on a 2-core CPU")
    p.add_argument("--out", default="actlab-results", help="results folder (default: actlab-results)")
    p.add_argument("--seed", type=_int, help="random seed")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--activations", help="comma-separated activation names")
    p.add_argument("--dataset", help="mnist, fashion-mnist or mnist1d (claims that train on data)")
    p.add_argument("--seeds", type=_int, help="number of seeds (claims that repeat over seeds)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with mnist/ and fashion-mnist/ IDX files (default: $ACTLAB_DATA_DIR, else download)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other setting of the claim's config (repeatable); --set help lists them")
    p.add_argument("--threads", type=_int, help="torch CPU threads (default: PyTorch's choice, one per core)")
    p.add_argument("--no-plots", action="store_true", help="write result.json only")
    p.add_argument("--no-report", action="store_true", help="do not (re)build DIR/report.html afterwards")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=cmd_run, parser=p)

    p = sub.add_parser("report", help="write DIR/report.html: every claim in DIR, with figures and verdicts",
                       description="Write DIR/report.html from a results folder (`actlab run ... --out DIR`) or a "
                                   "sweep folder (`actlab sweep ... --out DIR`). --markdown and --summary-png also "
                                   "write the README's results block and summary picture from the same results.")
    p.add_argument("dir", metavar="DIR", help="a results folder written by `actlab run ... --out DIR`, "
                                              "or a sweep folder written by `actlab sweep ... --out DIR`")
    p.add_argument("--markdown", metavar="FILE", help="also write the results as Markdown: a new FILE, or between the `<!-- actlab results NAME: begin/end -->` lines of an existing one (NAME: the results folder's name), e.g. README.md")
    p.add_argument("--summary-png", dest="summary_png", metavar="FILE",
                   help="also draw the summary table into a PNG (deterministic; no browser needed)")
    p.set_defaults(func=_command("report", "cmd_report"))

    p = sub.add_parser("sweep", help="runs of one claim over a grid x seeds, in parallel; rerun to resume",
                       description="Independent runs of CLAIM over the cartesian product of the --grid values "
                                   "x --seeds seeds, each written to DIR/CLAIM/runs/<id>/result.json as it "
                                   "finishes; DIR/CLAIM/aggregate.json holds means and 95%% CIs per grid point. "
                                   "Rerun the same command to finish a stopped sweep. See docs/SWEEPS.md.")
    p.add_argument("claim", metavar="CLAIM", help="a claim name")
    p.add_argument("--quick", action="store_true", help="start from the claim's --quick sizes")
    p.add_argument("--out", default="actlab-sweeps", help="results folder (default: actlab-sweeps)")
    p.add_argument("--seeds", dest="sweep_seeds", type=_int, default=1, metavar="N",
                   help="runs per grid point, seeds START, START+s, ... (s: the claim's own seeds setting, else 1)")
    p.add_argument("--seed", type=_int, help="START, the first seed (default: the claim's seed)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="a setting to sweep over (repeatable; "
                   "for list settings one item per value, or values separated by ';')")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other setting of the claim's config (repeatable)")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--activations", help="comma-separated activation names")
    p.add_argument("--dataset", help="mnist, fashion-mnist or mnist1d (claims that train on data)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with mnist/ and fashion-mnist/ IDX files")
    p.add_argument("--workers", type=_int, default=0, help="runs at a time (default 0: one per core; with Ray, the cluster's CPUs)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: worker processes here (default); ray: a Ray cluster (pip install 'actlab[ray]')")
    p.add_argument("--ray-address", dest="ray_address", metavar="ADDR",
                   help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=_command("sweep", "cmd_sweep"))
    return parser


def _one_line(exc: BaseException) -> str:
    """The first line of an error's message (PyTorch's own errors append a C++ stack)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet_stdout() -> None:
    """After a closed pipe (``actlab list | head -1``): send what is left to /dev/null, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (tests capture it): nothing to silence
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        code = int(args.func(args) or EXIT_OK)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # the reader went away (| head -1): not an error
        _quiet_stdout()
        return EXIT_OK
    except UsageError as exc:
        print(f"actlab: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as exc:  # a missing or damaged data file: the message names it and the fix
        print(f"actlab: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError) as exc:
        # raised by the activation registry and config checks on user input
        from ..activations import UnknownActivationError

        if isinstance(exc, UnknownActivationError) or getattr(args, "command", None) in ("show", "verify", "list"):
            print(f"actlab: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        raise
    except OSError as exc:  # the disk filled up, a folder vanished or turned read-only mid-run
        # os.replace(tmp, dest) names the temporary file first: the destination is what the user knows
        name = exc.filename2 or exc.filename
        where = f" {name}" if name else ""
        print(f"actlab: error: cannot write or read{where}: {exc.strerror or _one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("actlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    # Run the imported actlab.cli, not this __main__ copy: cli_report and cli_sweep import
    # actlab.cli, and its UsageError must be the one main() catches.
    from actlab.cli.main import main as _main

    sys.exit(_main())
