"""The results contract shared by every claim.

``actlab run NAME --out DIR`` writes ``DIR/NAME/result.json`` (this module's
:class:`Result`) and the figures beside it. ``result.json`` holds:

* ``experiment``: the claim's name, e.g. ``"sign-coherence"``;
* ``actlab_version``;
* ``config``: every setting, seed included (the claim's frozen dataclass);
* ``metrics``: the numbers, named as ``DESIGN.md`` says for each claim;
* ``verdict``: ``{"status": "holds" | "does_not_hold" | "inconclusive", "evidence": "...",
  "rule": {...}, "source": {...}, "meaning": "...", "key_number": {...}, "limits": [...]}``:
  the decision rule (:class:`Rule`: statistic, threshold, seeds), the source's own number
  beside ours (:class:`Source`), "what this means" in plain sentences written from the run's
  numbers, the one number that decides it (:class:`KeyNumber`), and the claim's limits
  (:class:`Limit`: where it stops holding, each a sub-finding with its own rule and word,
  shown beside the headline and never overturning it);
* ``per_activation``: for each activation measured, the claim's own number with its
  interval against a named baseline (:class:`PerActivation`), for ``actlab compare``;
* ``env``: torch version, device, threads, Python, platform;
* ``elapsed_s``: wall-clock seconds of ``run``;
* ``data``: arrays the figures need (histograms, curves), kept apart from the metrics.

Same config and seed on the same machine give identical ``metrics`` (timings in
the ``cost`` claim excepted: they are measurements of the machine).
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch

from .._version import __version__

__all__ = [
    "LIMIT_FINDING",
    "VERDICTS",
    "HOLDS_IF",
    "Rule",
    "Source",
    "KeyNumber",
    "Limit",
    "Verdict",
    "ActivationNumber",
    "PerActivation",
    "BETTER",
    "Result",
    "ResultFileError",
    "environment",
    "to_jsonable",
    "write_json_atomic",
    "write_text_atomic",
    "share_mode",
    "load_result",
    "read_bounded",
    "MAX_RESULT_BYTES",
]

VERDICTS = ("holds", "does_not_hold", "inconclusive")
#: a limit's word as the reader sees it: a finding about where the claim stops, never a tick for
#: the course (only a headline shows ✓ / ✗ / ?)
LIMIT_FINDING = {"holds": "limit found", "does_not_hold": "limit not found", "inconclusive": "limit not settled"}


class ResultFileError(ValueError):
    """A result file that is missing, truncated, or not an actlab result."""


HOLDS_IF = ("above", "below")


@dataclass(frozen=True)
class Rule:
    """A verdict's decision rule, stored with it so that a reader can check it.

    ``holds`` needs at least ``min_seeds`` seeds and a 95% interval of ``statistic`` wholly
    ``holds_if`` ("above" or "below") ``threshold``; wholly on the other side is
    ``does_not_hold``; an interval that spans it, or too few seeds, is ``inconclusive``.
    ``text`` says the rule in one sentence (made from the fields when left empty).
    """

    statistic: str
    threshold: float
    holds_if: str
    seeds: int
    min_seeds: int = 5
    text: str = ""

    def __post_init__(self) -> None:
        if self.holds_if not in HOLDS_IF:
            raise ValueError(f"Rule.holds_if must be one of {HOLDS_IF}, not {self.holds_if!r}")
        if not self.statistic.strip():
            raise ValueError("a rule needs the statistic it decides on")
        if not self.text:
            other = "below" if self.holds_if == "above" else "above"
            object.__setattr__(self, "text", (
                f"holds if the 95% interval of the {self.statistic} lies wholly {self.holds_if} "
                f"{self.threshold:g}, does not hold if it lies wholly {other}, from at least "
                f"{self.min_seeds} seeds (this run: {self.seeds}); otherwise inconclusive."))


@dataclass(frozen=True)
class Source:
    """The source's own number beside ours, and how our setup differs from the source's."""

    citation: str      # "Krizhevsky et al. 2012, Fig. 1"
    value: str         # the source's number in words: "about 6x fewer epochs to 25% training error"
    ours: str          # ours, formatted the same way: "0.8x (95% CI 0.6-1.0)"
    differences: str   # "Fashion-MNIST, not CIFAR-10 (not available offline); ..."


@dataclass(frozen=True)
class KeyNumber:
    """The one number that decides the verdict, for the report's summary table."""

    value: float | None
    text: str          # formatted with its unit: "0.82x", "46.6%"
    label: str         # what it is: "tanh/relu steps to 25% training error"


@dataclass(frozen=True)
class Limit:
    """Where the claim stops holding: a named sub-finding beside the headline.

    The headline word judges the claim as the course states it, under the standard
    conditions fixed in the claim's module; a limit is measured under other conditions (an
    extreme weight scale, a size past the cache, a different optimizer) and has its own
    statement, rule, number and word. It never overturns the headline, and the headline never
    hides it: the summary, the README block and the report show it beside the headline.
    """

    name: str          # short: "large weights"
    statement: str     # what the limit says, as a claim: "saturation alone does not make the gradient vanish"
    status: str        # holds / does_not_hold / inconclusive, about ``statement``
    evidence: str      # one sentence with the numbers
    rule: Rule | None = None
    key_number: KeyNumber | None = None

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"limit status must be one of {VERDICTS}, not {self.status!r}")
        if not self.name.strip() or not self.statement.strip():
            raise ValueError("a limit needs a name and a statement")

    @classmethod
    def from_dict(cls, v: Mapping[str, Any]) -> Limit:
        if not isinstance(v, Mapping):
            raise ValueError("a verdict limit is not an object")
        parts: dict[str, Any] = {}
        for name, kind in (("rule", Rule), ("key_number", KeyNumber)):
            part = v.get(name)
            if part is not None:
                if not isinstance(part, Mapping):
                    raise ValueError(f"limit.{name} is not an object")
                parts[name] = kind(**part)
        for name in ("name", "statement", "status", "evidence"):
            if not isinstance(v.get(name), str):
                raise ValueError(f"limit.{name} is missing or not text")
        return cls(v["name"], v["statement"], v["status"], v["evidence"], **parts)


@dataclass(frozen=True)
class Verdict:
    """Does the claim hold in this measurement, with one sentence of evidence.

    ``rule``, ``source``, ``meaning`` and ``key_number`` are optional so that older result
    files still load; every claim sets them.
    """

    status: str
    evidence: str
    rule: Rule | None = None
    source: Source | None = None
    meaning: str = ""
    key_number: KeyNumber | None = None
    limits: tuple[Limit, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"verdict status must be one of {VERDICTS}, not {self.status!r}")
        if not self.evidence.strip():
            raise ValueError("a verdict needs its evidence")
        object.__setattr__(self, "limits", tuple(self.limits))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status, "evidence": self.evidence}
        for name in ("rule", "source", "key_number"):
            part = getattr(self, name)
            if part is not None:
                d[name] = to_jsonable(part)
        if self.meaning:
            d["meaning"] = self.meaning
        if self.limits:
            d["limits"] = [to_jsonable(limit) for limit in self.limits]
        return d

    @classmethod
    def from_dict(cls, v: Mapping[str, Any]) -> Verdict:
        """The inverse of :meth:`to_dict`; ``ValueError`` or ``TypeError`` for a malformed one."""
        parts: dict[str, Any] = {}
        for name, kind in (("rule", Rule), ("source", Source), ("key_number", KeyNumber)):
            part = v.get(name)
            if part is not None:
                if not isinstance(part, Mapping):
                    raise ValueError(f"verdict.{name} is not an object")
                parts[name] = kind(**part)
        meaning = v.get("meaning", "")
        if not isinstance(meaning, str):
            raise ValueError("verdict.meaning is not text")
        if not isinstance(v["evidence"], str):
            raise ValueError("verdict.evidence is not text")
        limits = v.get("limits", [])
        if not isinstance(limits, list):
            raise ValueError("verdict.limits is not a list")
        return cls(v["status"], v["evidence"], meaning=meaning, limits=tuple(Limit.from_dict(x) for x in limits),
                   **parts)


#: Which way is better for a per-activation number.
BETTER = ("higher", "lower", "neither")


@dataclass(frozen=True)
class ActivationNumber:
    """One activation's number for one property, with its 95% interval (None where there is none).

    ``ratio`` (with ``ratio_low`` / ``ratio_high``) is the number relative to the baseline
    activation, paired by seed where the claim pairs its runs; the baseline's own ratio is 1.
    ``note`` says what a reader must know: censored seeds, a diverged run, why there is no number.
    """

    activation: str
    estimate: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    note: str = ""


@dataclass(frozen=True)
class PerActivation:
    """A claim's own number for every activation it measured, against a named baseline.

    One per measured property (cost has forward and forward+backward). ``quantity`` names it in
    words, ``unit`` is printed after the estimate ("x per layer", "%", "steps"), ``better``
    says which way is better for a learner ("higher", "lower", "neither"), and ``ratio_label``
    says what the ratio column is ("steps / relu's, paired by seed"; empty: no ratio).
    ``replicates`` names what the intervals are over, the count column's heading ("seeds",
    "trials", "processes").
    """

    key: str           # a short machine name: "gain_per_layer", "forward_ratio"
    quantity: str
    unit: str
    better: str
    baseline: str
    values: tuple[ActivationNumber, ...]
    ratio_label: str = ""
    note: str = ""
    replicates: str = "seeds"

    def __post_init__(self) -> None:
        if self.better not in BETTER:
            raise ValueError(f"PerActivation.better must be one of {BETTER}, not {self.better!r}")
        object.__setattr__(self, "values", tuple(self.values))

    def get(self, activation: str) -> ActivationNumber | None:
        return next((v for v in self.values if v.activation == activation), None)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PerActivation:
        if not isinstance(d, Mapping) or not isinstance(d.get("values"), list):
            raise ValueError("per_activation entry is not an object with a list of values")
        values = tuple(ActivationNumber(**{k: _number(v) if k not in ("activation", "note", "n") else v
                                           for k, v in x.items()}) for x in d["values"])
        rest = {k: v for k, v in d.items() if k != "values"}
        return cls(values=values, **rest)


def _number(v: Any) -> float | None:
    """A stored number back from JSON ("nan"/"inf" strings included)."""
    return None if v is None else float(v)


@dataclass
class Result:
    """What ``run(config)`` returns; ``result.json`` is its :meth:`to_dict`."""

    experiment: str
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    verdict: Verdict
    env: Mapping[str, Any]
    elapsed_s: float
    data: Mapping[str, Any] = field(default_factory=dict)
    actlab_version: str = __version__
    per_activation: tuple[PerActivation, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {
            "experiment": self.experiment,
            "actlab_version": self.actlab_version,
            "config": to_jsonable(self.config),
            "metrics": to_jsonable(self.metrics),
            "verdict": self.verdict.to_dict(),
            "env": to_jsonable(self.env),
            "elapsed_s": self.elapsed_s,
            "data": to_jsonable(self.data),
        }
        if self.per_activation:
            d["per_activation"] = [to_jsonable(p) for p in self.per_activation]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        missing = [k for k in ("experiment", "config", "metrics", "verdict", "env", "elapsed_s") if k not in d]
        if missing:
            raise ResultFileError(f"not an actlab result: missing {', '.join(missing)}")
        v = d["verdict"]
        if not isinstance(v, Mapping) or "status" not in v or "evidence" not in v:
            raise ResultFileError("not an actlab result: verdict needs status and evidence")
        try:
            verdict = Verdict.from_dict(v)
            per = d.get("per_activation", [])
            if not isinstance(per, list):
                raise ValueError("per_activation is not a list")
            per_activation = tuple(PerActivation.from_dict(x) for x in per)
        except (ValueError, TypeError) as exc:
            raise ResultFileError(f"not an actlab result: {exc}") from exc
        return cls(
            experiment=d["experiment"],
            config=d["config"],
            metrics=d["metrics"],
            verdict=verdict,
            env=d["env"],
            elapsed_s=float(d["elapsed_s"]),
            data=d.get("data", {}),
            actlab_version=d.get("actlab_version", "unknown"),
            per_activation=per_activation,
        )


def environment(device: str | torch.device = "cpu") -> dict[str, Any]:
    """What the numbers depend on: versions, device, threads, and the CPU's vector instruction set.

    ``cpu_capability`` is what PyTorch's kernels use (``torch.backends.cpu.get_cpu_capability()``:
    ``DEFAULT``, ``AVX2``, ``AVX512``, ...; ``$ATEN_CPU_CAPABILITY`` lowers it): instruction
    sets round differently, so float results may differ in their last digits between hosts.
    """
    device = torch.device(device)
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_capability": _cpu_capability(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        **source_commit(),
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def source_commit() -> dict[str, Any]:
    """The git commit of the actlab source that ran (``commit``, and ``commit_dirty`` when files
    differ from it), so a result names the rules it was judged by; ``{}`` outside a git checkout
    (an installed wheel: ``actlab_version`` says what ran). Never raises."""
    import subprocess

    root = Path(__file__).resolve().parents[3]  # src/actlab/verdicts/result.py -> the checkout
    if not (root / ".git").exists():
        return {}
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return {}
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head.stdout.strip(), "commit_dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def _cpu_capability() -> str | None:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # an older torch without the call
        return None


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples, tensors, numpy scalars and non-finite floats -> JSON values.

    NaN and +-inf become the strings "nan", "inf", "-inf" (JSON has no such numbers).
    """
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist())
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy arrays and scalars
        return to_jsonable(obj.tolist())
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in a result file")


def _umask() -> int:
    """This process's umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def share_mode(path: str | Path | int, directory: bool = False) -> None:
    """Give a file (or folder) made by ``mkstemp``/``mkdtemp`` (0600/0700) the mode the user's umask gives."""
    mode = (0o777 if directory else 0o666) & ~_umask()
    if isinstance(path, int):
        os.fchmod(path, mode)
    else:
        os.chmod(path, mode)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write ``text`` to a temporary file in the same folder, then rename it into place.

    A reader never sees half a file. The file gets the mode the user's umask gives (0644
    under the usual 022), like any file the user writes. An ``OSError`` (disk full, no
    permission) names ``path``, or its folder when the temporary file cannot be made there.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # named by the file the user asked for, never by the temporary file
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    try:
        share_mode(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    """:func:`write_text_atomic` of ``obj`` as JSON (NaN and inf as strings, see :func:`to_jsonable`)."""
    return write_text_atomic(json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n", path)


#: A result file larger than this is not read (actlab's largest, a full-scale run, is under 1 MB).
MAX_RESULT_BYTES = 32 * 1024 * 1024


def read_bounded(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``, or ``ValueError`` (naming it and its size) if it holds more than ``limit``.

    Never reads more than ``limit + 1`` bytes: an 8 GB (or sparse, or endless) file costs nothing.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limit:
            raise ValueError(f"{path}: {size / 2**20:,.0f} MB, more than the {limit / 2**20:g} MB a {what} may "
                             "have; not read")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path}: more than the {limit / 2**20:g} MB a {what} may have; not read")
    return data


def load_result(path: str | Path, max_bytes: int = MAX_RESULT_BYTES) -> Result:
    """Read ``result.json`` (or the folder holding it); :class:`ResultFileError` if unusable.

    Unusable: missing, unreadable, larger than ``max_bytes`` (not read at all), not UTF-8,
    not JSON, nested too deep to parse, or JSON that is not an actlab result (missing
    fields, fields of the wrong type).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "result.json"
    try:
        text = read_bounded(path, max_bytes, "result file").decode("utf-8")
    except ValueError as exc:
        if isinstance(exc, UnicodeDecodeError):
            raise ResultFileError(f"{path}: not a text file (not UTF-8 at byte {exc.start})") from None
        raise ResultFileError(str(exc)) from None
    except MemoryError:
        raise ResultFileError(f"{path}: too large to read in this machine's memory") from None
    except FileNotFoundError as exc:
        raise ResultFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ResultFileError(f"{path}: not a text file (not UTF-8 at byte {exc.start})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON, truncated or corrupt ({exc})") from exc
    except RecursionError:
        raise ResultFileError(f"{path}: not an actlab result (JSON nested too deep to read)") from None
    if not isinstance(d, dict):
        raise ResultFileError(f"{path}: not an actlab result (top level is not an object)")
    try:
        result = Result.from_dict(d)
    except ResultFileError as exc:
        raise ResultFileError(f"{path}: {exc}") from exc
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:  # e.g. elapsed_s: "abc"
        raise ResultFileError(f"{path}: not an actlab result ({type(exc).__name__}: {exc})") from None
    return result


def config_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as a plain dict."""
    return asdict(config)
