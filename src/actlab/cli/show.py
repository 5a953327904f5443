"""``actlab show NAME [NAME ...] --out F.png``: f and f' on one figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_OK, UsageError, check_writable, parse_activation

__all__ = ["cmd_show"]

def cmd_show(args: argparse.Namespace) -> int:
    from ..plots import plot_activations

    acts = [parse_activation(n) for n in args.names]
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: the figure is a PNG; give a file name ending in .png")
    folder = out.parent if str(out.parent) else Path(".")
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # what check_writable creates
    check_writable(folder)
    try:
        path = plot_activations(acts, out, x_range=(args.range[0], args.range[1]))
    except BaseException:
        for p in made:  # bad input writes nothing: the folders made for the figure go again
            try:
                p.rmdir()
            except OSError:
                break
        raise
    print(f"wrote {path}")
    return EXIT_OK
