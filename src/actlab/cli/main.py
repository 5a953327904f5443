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
import sys
from collections.abc import Sequence
from pathlib import Path

from .._version import __version__
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    int_arg,
    one_line,
    quiet_stdout,
)

__all__ = ["main", "build_parser"]


# Each command's module is imported when it runs: `actlab --help` and `--version` load no torch.


def _list(args: argparse.Namespace) -> int:
    from .listing import cmd_list

    return cmd_list(args)


def _show(args: argparse.Namespace) -> int:
    from .show import cmd_show

    return cmd_show(args)


def _verify(args: argparse.Namespace) -> int:
    from .verify import cmd_verify

    return cmd_verify(args)


def _run(args: argparse.Namespace) -> int:
    from .run import cmd_run

    return cmd_run(args)


def _report(args: argparse.Namespace) -> int:
    from .report import cmd_report

    return cmd_report(args)


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import cmd_sweep

    return cmd_sweep(args)


def _compare(args: argparse.Namespace) -> int:
    from .compare import cmd_compare

    return cmd_compare(args)


PLUGIN_HELP = ("a Python file that calls actlab.activations.register_activation (repeatable); it runs as your own "
               "code, with your rights, here and in every worker process")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="actlab", description="Activation functions and gradient flow, measured.")
    parser.add_argument("--version", action="version", version=f"actlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("list", help="the activation zoo and its properties")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="plot f and f' of activations into a PNG")
    p.add_argument("names", nargs="+", metavar="NAME", help="activation, optionally with parameters: elu:alpha=0.5")
    p.add_argument("--out", default=str(Path("actlab-results") / "activations.png"),
                   help="PNG file to write (default: actlab-results/activations.png, beside `actlab run`'s results)")
    p.add_argument("--range", nargs=2, type=float, default=(-6.0, 6.0), metavar=("LO", "HI"), help="x range (default: -6 6)")
    p.set_defaults(func=_show)

    p = sub.add_parser("verify", help="check activations against their declared derivative and properties")
    p.add_argument("names", nargs="*", metavar="NAME", help="activations to check (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--plugin", action="append", metavar="FILE", help=PLUGIN_HELP)
    p.set_defaults(func=_verify)

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
    p.add_argument("--seed", type=int_arg, help="random seed")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--activations", help="comma-separated activation names")
    p.add_argument("--baseline", help="the activation each per-activation number is compared with (default: relu)")
    p.add_argument("--dataset", help="mnist, fashion-mnist or mnist1d (claims that train on data)")
    p.add_argument("--seeds", type=int_arg, help="number of seeds (claims that repeat over seeds)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with mnist/ and fashion-mnist/ IDX files (default: $ACTLAB_DATA_DIR, else download)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other setting of the claim's config (repeatable); --set help lists them")
    p.add_argument("--threads", type=int_arg, help="torch CPU threads (default: PyTorch's choice, one per core)")
    p.add_argument("--no-plots", action="store_true", help="write result.json only")
    p.add_argument("--no-report", action="store_true", help="do not (re)build DIR/report.html afterwards")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--plugin", action="append", metavar="FILE", help=PLUGIN_HELP)
    p.set_defaults(func=_run, parser=p)

    p = sub.add_parser("report", help="write DIR/report.html: every claim in DIR, with figures and verdicts",
                       description="Write DIR/report.html from a results folder (`actlab run ... --out DIR`) or a "
                                   "sweep folder (`actlab sweep ... --out DIR`). --markdown and --summary-png also "
                                   "write the README's results block and summary picture from the same results.")
    p.add_argument("dir", metavar="DIR", help="a results folder written by `actlab run ... --out DIR`, "
                                              "or a sweep folder written by `actlab sweep ... --out DIR`")
    p.add_argument("--markdown", metavar="FILE", help="also write the results as Markdown: a new FILE, or between the `<!-- actlab results NAME: begin/end -->` lines of an existing one (NAME: the results folder's name), e.g. README.md")
    p.add_argument("--summary-png", dest="summary_png", metavar="FILE",
                   help="also draw the summary table into a PNG (deterministic; no browser needed)")
    p.set_defaults(func=_report)

    p = sub.add_parser("sweep", help="runs of one claim over a grid x seeds, in parallel; rerun to resume",
                       description="Independent runs of CLAIM over the cartesian product of the --grid values "
                                   "x --seeds seeds, each written to DIR/CLAIM/runs/<id>/result.json as it "
                                   "finishes; DIR/CLAIM/aggregate.json holds means and 95% CIs per grid point. "
                                   "Rerun the same command to finish a stopped sweep. See docs/SWEEPS.md.")
    p.add_argument("claim", metavar="CLAIM", help="a claim name")
    p.add_argument("--quick", action="store_true", help="start from the claim's --quick sizes")
    p.add_argument("--out", default="actlab-sweeps", help="results folder (default: actlab-sweeps)")
    p.add_argument("--seeds", dest="sweep_seeds", type=int_arg, default=1, metavar="N",
                   help="runs per grid point, seeds START, START+s, ... (s: the claim's own seeds setting, else 1)")
    p.add_argument("--seed", type=int_arg, help="START, the first seed (default: the claim's seed)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="a setting to sweep over (repeatable; "
                   "for list settings one item per value, or values separated by ';')")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other setting of the claim's config (repeatable)")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--activations", help="comma-separated activation names")
    p.add_argument("--dataset", help="mnist, fashion-mnist or mnist1d (claims that train on data)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with mnist/ and fashion-mnist/ IDX files")
    p.add_argument("--workers", type=int_arg, default=0, help="runs at a time (default 0: one per core; with Ray, the cluster's CPUs)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: worker processes here (default); ray: a Ray cluster (pip install 'actlab[ray]')")
    p.add_argument("--ray-address", dest="ray_address", metavar="ADDR",
                   help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.add_argument("--plugin", action="append", metavar="FILE", help=PLUGIN_HELP)
    p.set_defaults(func=_sweep)

    # actlab compare (issue 23): the claims on a set of activations, a scorecard, the rule of thumb checked
    p = sub.add_parser("compare", help="run the claims on a set of activations: a scorecard and the rule of thumb, checked",
                       description="Run the claims on ACT,... (default: sigmoid, tanh, relu, leaky_relu, elu, maxout, "
                                   "gelu, silu) and write DIR/compare/scorecard.json, its table and figure, and a "
                                   "scorecard section at the top of DIR/report.html. Claim results already in DIR for "
                                   "the same settings are reused; rerun the same command to resume. See docs/COMPARE.md.")
    p.add_argument("activations", nargs="?", metavar="ACT,...", help="comma-separated activation names")
    p.add_argument("--quick", action="store_true", help="the claims' --quick sizes (about 10 minutes on a 2-core CPU)")
    p.add_argument("--out", default="actlab-results", help="results folder (default: actlab-results)")
    p.add_argument("--baseline", help="the activation every ratio is taken against (default: relu)")
    p.add_argument("--claims", help="comma-separated claims to run (default: all)")
    p.add_argument("--seed", type=int_arg, help="random seed")
    p.add_argument("--seeds", type=int_arg, help="number of seeds (claims that repeat over seeds; verdicts need 5)")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--dataset", help="mnist, fashion-mnist or mnist1d (claims that train on data)")
    p.add_argument("--data-dir", dest="data_dir", help="folder with mnist/ and fashion-mnist/ IDX files")
    p.add_argument("--set", action="append", metavar="[CLAIM.]KEY=VALUE",
                   help="a setting of one claim (convergence.max_steps=300), or of every claim that has it "
                        "(workers=1) (repeatable)")
    p.add_argument("--plugin", action="append", metavar="FILE", help=PLUGIN_HELP)
    p.add_argument("--no-plots", action="store_true", help="no claim figures (the scorecard's figure is still drawn)")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.set_defaults(func=_compare)
    return parser


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
        quiet_stdout()
        return EXIT_OK
    except UsageError as exc:
        print(f"actlab: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError) as exc:
        # A missing or damaged data file (DataError: the message names it and the fix), or the
        # activation registry and config checks on user input. Both classes are looked up
        # only here: importing them loads torch, which `actlab --help` must not.
        from ..activations import UnknownActivationError
        from ..data.errors import DataError

        if isinstance(exc, (DataError, UnknownActivationError)) or getattr(args, "command", None) in (
                "show", "verify", "list"):
            print(f"actlab: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        raise
    except OSError as exc:  # the disk filled up, a folder vanished or turned read-only mid-run
        # os.replace(tmp, dest) names the temporary file first: the destination is what the user knows
        name = exc.filename2 or exc.filename
        where = f" {name}" if name else ""
        print(f"actlab: error: cannot write or read{where}: {exc.strerror or one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("actlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
