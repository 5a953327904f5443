"""Is a claim's headline word the same on other seeds (and on another CPU)?

Runs every claim's ``--quick`` at several ``--seed`` values, each in a process of its own
(independent replicates), and tabulates the headline word, the key number and each limit's
word. A claim whose word differs between seeds is not giving a verdict at quick size: its
quick run should say inconclusive with the reason instead (issue 20, DESIGN.md).

    ACTLAB_DATA_DIR=../shared/data python benchmarks/verdict_stability.py \\
        [--seeds 0,100,200] [--claims all] [--capability avx2] [--write docs/results/stability]

``--capability`` sets ``ATEN_CPU_CAPABILITY`` for the runs (PyTorch's vector instruction set:
default, avx2, avx512), which shows whether the words hold on another CPU. ``--write`` saves
``stability-CAPABILITY.json`` (every run's word and numbers, the commit, the machine) and
``stability-CAPABILITY.md`` (the table the README quotes) into that folder (CAPABILITY:
``native`` without ``--capability``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from actlab.claims import claim_names
from actlab.verdicts.result import load_result

WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}


def run_one(claim: str, seed: int, out: Path, capability: str | None) -> dict:
    env = dict(os.environ)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "actlab.cli", "run", claim, "--quick", "--seed", str(seed),
                           "--out", str(out), "--no-plots", "--no-report", "--no-progress"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"claim": claim, "seed": seed, "word": "error", "error": (proc.stderr.strip().splitlines() or ["?"])[-1],
                "wall_s": wall}
    result = load_result(out / claim)
    key = result.verdict.key_number
    return {"claim": claim, "seed": seed, "word": result.verdict.status, "key_number": key.text if key else "",
            "limits": {lim.name: lim.status for lim in result.verdict.limits},
            "capability": result.env.get("cpu_capability"), "wall_s": wall}


def table(runs: list[dict], seeds: list[int]) -> list[str]:
    lines = ["| claim | " + " | ".join(f"seed {s}" for s in seeds) + " | same word |",
             "|---|" + "---|" * len(seeds) + "---|"]
    for claim in dict.fromkeys(r["claim"] for r in runs):
        mine = {r["seed"]: r for r in runs if r["claim"] == claim}
        cells = []
        for s in seeds:
            r = mine.get(s)
            if r is None:
                cells.append("")
            elif r["word"] == "error":
                cells.append(f"error: {r['error']}")
            else:
                cells.append(f"{WORD[r['word']]} ({r['key_number']})" if r["key_number"] else WORD[r["word"]])
        words = {mine[s]["word"] for s in seeds if s in mine}
        cells.append("yes" if len(words) == 1 and "error" not in words else "**no**")
        lines.append(f"| {claim} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,100,200", help="seed bases, comma-separated (default 0,100,200)")
    parser.add_argument("--claims", default="all", help="comma-separated claim names (default: all)")
    parser.add_argument("--capability", help="ATEN_CPU_CAPABILITY for the runs (default, avx2, avx512)")
    parser.add_argument("--write", metavar="DIR", help="save stability-CAPABILITY.json and .md into DIR")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    claims = claim_names() if args.claims == "all" else [c.strip() for c in args.claims.split(",") if c.strip()]
    runs = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="actlab-stability-") as tmp:
        for claim in claims:
            for seed in seeds:
                r = run_one(claim, seed, Path(tmp) / f"seed-{seed}", args.capability)
                runs.append(r)
                print(f"{claim:<16} seed {seed:<5} {r['word']:<14} {r.get('key_number', r.get('error', ''))} "
                      f"({r['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    lines = table(runs, seeds)
    print("\n".join(lines))
    stable = sum(1 for line in lines[2:] if line.endswith("| yes |"))
    print(f"\n{stable} of {len(claims)} claims give the same word at seeds {', '.join(map(str, seeds))} "
          f"({time.perf_counter() - start:.0f} s)")
    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        meta = {"commit": commit, "seeds": seeds, "capability": args.capability or "native",
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
                "date": time.strftime("%Y-%m-%d", time.gmtime()), "wall_s": time.perf_counter() - start}
        (out / f"stability-{meta['capability']}.json").write_text(json.dumps({**meta, "runs": runs}, indent=1) + "\n")
        caption = (f"`python benchmarks/verdict_stability.py --seeds {args.seeds}"
                   + (f" --capability {args.capability}" if args.capability else "")
                   + f"` at commit `{commit}`, {meta['date']}, on {meta['machine']}.")
        (out / f"stability-{meta['capability']}.md").write_text("\n".join([caption, "", *lines, ""]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
