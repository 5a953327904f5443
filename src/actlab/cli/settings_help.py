"""What each setting of a claim means, for ``actlab run CLAIM --help`` and ``--set help``.

A meaning comes from the claim's ``Config`` docstring (its ``Args:`` entries, first
sentence) where it has one, else from :data:`COMMON`, the settings several claims share,
else from the comment at the end of the field's line in the ``Config`` source.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from types import ModuleType

__all__ = ["COMMON", "field_help", "settings_text"]

#: Meanings of the settings that several claims share (or that a claim's docstring omits).
COMMON: dict[str, str] = {
    "seed": "seeds every random draw (same seed, same numbers)",
    "seeds": "training runs per setting, with seeds seed, seed + 1, ...",
    "device": "where it trains: cpu or cuda",
    "activations": "activation functions compared (comma-separated names; `actlab list`)",
    "baseline": "the activation every per-activation number is compared with (measured too; default relu)",
    "dataset": "mnist, fashion-mnist or mnist1d",
    "data_dir": "folder with mnist/ and fashion-mnist/ IDX files (None: $ACTLAB_DATA_DIR, else download)",
    "depth": "hidden layers",
    "width": "units per hidden layer",
    "init": "weight initialisation: default, xavier, he or lecun",
    "steps": "SGD steps per training run",
    "max_steps": "SGD steps per training run at most",
    "batch_size": "examples per SGD step",
    "lr": "SGD learning rate",
    "lrs": "learning rates tried (comma-separated)",
    "adam_lrs": "Adam learning rates tried beside plain SGD's (comma-separated; empty: SGD only)",
    "lr_grid": "learning rates tried per activation; the best is kept, as in the paper",
    "momentum": "SGD momentum (0: plain SGD)",
    "bias_inits": "initial bias values compared (comma-separated; CS231n: 0 versus 0.01)",
    "train_examples": "training examples used (0: the whole training set)",
    "test_examples": "test examples used (0: the whole test set)",
    "eval_every": "measure the training error every this many steps",
    "eval_examples": "training examples the error is measured on",
    "target": "training error that counts as reached (Krizhevsky et al.: 0.25)",
    "model": "network: auto (the CNN for image datasets, an MLP for mnist1d), cnn or mlp",
    "targets": "training errors at which the tanh/relu step ratio is measured (the curve; comma-separated)",
    "channels": "output channels of the CNN's convolution layers (comma-separated)",
    "hidden": "units of the CNN's fully connected hidden layer",
    "probes": "times during training the activations are measured",
    "probe_examples": "fixed test examples the activations are measured on",
    "workers": "worker processes for the training runs (0: one per core; 1: in-process)",
}

_ENTRY = re.compile(r"^(\s+)([a-z_][a-z0-9_]*)(?: \([^)]*\))?:\s+(.*)$")
_FIELD_COMMENT = re.compile(r"^\s+([a-z_][a-z0-9_]*)\s*:[^#]*#\s*(.+)$")


def _field_comments(config_cls: type) -> dict[str, str]:
    """``name: type = default  # meaning`` lines of a Config's source -> {name: meaning}."""
    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):  # no source (a frozen app, an interactive definition)
        return {}
    return {m.group(1): m.group(2).strip() for m in map(_FIELD_COMMENT.match, source.splitlines()) if m}


def _first_sentence(text: str, limit: int = 110) -> str:
    text = " ".join(text.replace("``", "").split())
    cut = re.search(r"(?<=[a-z0-9)\]])\.\s", text)
    if cut:
        text = text[:cut.start()]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    # one full stop off the end, never an ellipsis ("seeds seed, seed + 1, ...")
    return text[:-1] if text.endswith(".") and not text.endswith("...") else text


def field_help(module: ModuleType) -> dict[str, str]:
    """Setting name -> one line saying what it means, for every field of ``module.Config``."""
    names = [f.name for f in dataclasses.fields(module.Config)]
    documented: dict[str, str] = {}
    current, indent = None, 0
    for line in inspect.cleandoc(module.Config.__doc__ or "").splitlines():
        match = _ENTRY.match(line)
        if match and match.group(2) in names:
            current, indent = match.group(2), len(match.group(1))
            documented[current] = match.group(3)
        elif current and line.strip() and len(line) - len(line.lstrip()) > indent:
            documented[current] += " " + line.strip()
        else:
            current = None
    comments = _field_comments(module.Config)
    return {n: _first_sentence(documented[n] if n in documented else COMMON.get(n) or comments.get(n, ""))
            for n in names}


def _default(field: dataclasses.Field) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()  # type: ignore[misc]


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(empty)"
    return str(value)


def settings_text(module: ModuleType) -> str:
    """Every setting of a claim: name, default, --quick value, meaning (one line each)."""
    helps = field_help(module)
    rows = []
    for f in dataclasses.fields(module.Config):
        quick = f" (--quick: {_show(module.QUICK[f.name])})" if f.name in module.QUICK else ""
        rows.append((f.name, f"{_show(_default(f))}{quick}", helps[f.name]))
    wname = max(len(r[0]) for r in rows)
    wdefault = min(max(len(r[1]) for r in rows), 40)
    lines = [f"{module.NAME}: {module.CLAIM}", f"  source: {module.SOURCE}",
             "  settings (--set KEY=VALUE; default, then meaning):"]
    for name, default, meaning in rows:
        if len(default) > wdefault:
            lines.append(f"    {name:<{wname}}  {default}")
            lines.append(f"    {'':<{wname}}  {'':<{wdefault}}  {meaning}")
        else:
            lines.append(f"    {name:<{wname}}  {default:<{wdefault}}  {meaning}")
    return "\n".join(lines) + "\n"
