"""Your own activation from a Python file: ``--plugin my_acts.py``.

A plugin file is plain Python that calls :func:`actlab.activations.register_activation`
(or ``REGISTRY.register``). :func:`load_plugin_file` runs it once per process, in the
parent (``actlab run``, ``compare``, ``verify``) and in every worker process (the worker
pools pass :func:`loaded_plugin_files` to their initializer, so that ``spawn`` and
``forkserver`` workers, which start from a fresh interpreter, load it too).

Trust model: a plugin is the user's own code, run as the user, with the user's rights,
exactly as ``python my_acts.py`` would run it. actlab does not sandbox it; load only files
you would run yourself.

Errors are one line (:class:`PluginError`): a missing file, a file that raises, a file that
registers nothing.
"""

from __future__ import annotations

import hashlib
import runpy
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PluginError", "load_plugin_file", "load_plugin_files", "loaded_plugin_files", "loaded_plugins",
           "plugin_digest"]


class PluginError(ValueError):
    """A plugin file that cannot be used; the message is one line naming the file."""


#: resolved path -> the activation names it registered, for every file loaded in this process
_LOADED: dict[str, tuple[str, ...]] = {}


def plugin_digest(path: str | Path) -> str:
    """SHA-256 of the file's bytes: a changed plugin is a different activation."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_plugin_file(path: str | Path) -> tuple[str, ...]:
    """Run the plugin file at ``path`` (once per process) and return the names it registered.

    Raises:
        PluginError: no such file, not a file, it raised, or it registered no activation.
    """
    from . import REGISTRY

    p = Path(path).expanduser()
    if not p.exists():
        raise PluginError(f"--plugin {path}: no such file")
    if not p.is_file():
        raise PluginError(f"--plugin {path}: not a file (give a Python file that calls register_activation)")
    key = str(p.resolve())
    if key in _LOADED:
        return _LOADED[key]
    before = set(REGISTRY.names())
    try:
        runpy.run_path(key, run_name="actlab_plugin")
    except SystemExit as exc:
        raise PluginError(f"--plugin {path}: the file called exit({exc.code})") from None
    except Exception as exc:
        text = " ".join(str(exc).split())
        raise PluginError(f"--plugin {path}: the file raised {type(exc).__name__}"
                          f"{': ' + text[:200] if text else ''}") from None
    added = tuple(n for n in REGISTRY.names() if n not in before)
    if not added:
        raise PluginError(f"--plugin {path}: the file registered no activation (call "
                          "actlab.activations.register_activation(name, fn, derivative, properties) in it)")
    _LOADED[key] = added
    return added


def load_plugin_files(paths: Iterable[str | Path]) -> list[str]:
    """:func:`load_plugin_file` of each path; the names registered, in order."""
    names: list[str] = []
    for path in paths:
        names += [n for n in load_plugin_file(path) if n not in names]
    return names


def loaded_plugins() -> dict[str, tuple[str, ...]]:
    """Each plugin file this process has loaded (resolved path) -> the activation names it registered."""
    return dict(_LOADED)


def loaded_plugin_files() -> tuple[str, ...]:
    """The plugin files this process has loaded (resolved paths), for worker initializers."""
    return tuple(_LOADED)
