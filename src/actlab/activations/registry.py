"""The activation registry: names, aliases, parameters and declared properties.

An entry (:class:`ActivationSpec`) holds the function, its analytic derivative, a
module factory, the parameters with their defaults and checks, and the declared
:class:`Properties`. ``get("elu", alpha=0.5)`` binds parameters and returns an
:class:`Activation`, which is what the rest of actlab passes around.

The declared properties are claims; ``tests/test_activation_properties.py``
measures each one on a grid and fails if a table entry is wrong. User entries
registered with :func:`register_activation` get the same treatment through
:func:`actlab.activations.verify`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from torch import Tensor, nn

__all__ = [
    "Param",
    "Properties",
    "ActivationSpec",
    "Activation",
    "Registry",
    "UnknownActivationError",
    "normalise_name",
]


class UnknownActivationError(ValueError):
    """An activation name that is not registered. The message lists close matches."""


def normalise_name(name: str) -> str:
    """Lower case, '-' and spaces to '_': 'Leaky-ReLU' -> 'leaky_relu'."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class Param:
    """One parameter of an activation.

    Attributes:
        name: keyword name.
        default: value used when the caller gives none.
        doc: one line for ``actlab list`` and the docs.
        check: returns an error message for an invalid value, or None.
    """

    name: str
    default: float | int
    doc: str
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Properties:
    """Declared properties of an activation f (with its parameters bound).

    Attributes:
        output_range: (inf f, sup f) over the reals; may be +-inf.
        zero_centred: E[f(z)] = 0 for z ~ N(0, 1) (|E f| < 5% of its RMS, measured).
        negative_outputs: f takes negative values (what decides row sign coherence).
        monotonic: f' >= 0 everywhere (for a layer such as maxout: of one unit as a function
            of its input, see ``curves.unit_curve``).
        smooth: f' is continuous everywhere (C^1).
        saturates_left: f'(x) -> 0 as x -> -inf.
        saturates_right: f'(x) -> 0 as x -> +inf.
        max_abs_derivative: sup |f'(x)|.
        f0: f(0).
        df0: f'(0), with autograd's convention at a kink.
        reference: where it comes from.
    """

    output_range: tuple[float, float]
    zero_centred: bool
    negative_outputs: bool
    monotonic: bool
    smooth: bool
    saturates_left: bool
    saturates_right: bool
    max_abs_derivative: float
    f0: float
    df0: float
    reference: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (infinities as the strings '-inf' / 'inf')."""

        def num(v: float) -> float | str:
            return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")

        return {
            "output_range": [num(self.output_range[0]), num(self.output_range[1])],
            "zero_centred": self.zero_centred,
            "negative_outputs": self.negative_outputs,
            "monotonic": self.monotonic,
            "smooth": self.smooth,
            "saturates_left": self.saturates_left,
            "saturates_right": self.saturates_right,
            "max_abs_derivative": self.max_abs_derivative,
            "f0": self.f0,
            "df0": self.df0,
            "reference": self.reference,
        }


PropertiesArg = Properties | Callable[..., Properties]


@dataclass(frozen=True)
class ActivationSpec:
    """A registry entry.

    Attributes:
        name: canonical name (lower case, underscores).
        fn: ``fn(x, **params) -> Tensor``, the value.
        derivative: ``derivative(x, **params) -> Tensor``, df/dx elementwise
            (for ``kind="layer"``, d output / d pieces, same shape as the input).
        module: ``module(**params) -> nn.Module``.
        properties: a :class:`Properties`, or ``properties(**params) -> Properties``.
        params: the parameters, with defaults and checks.
        aliases: other accepted names.
        summary: one line, shown by ``actlab list``.
        formula: the math, in plain text.
        kind: ``"elementwise"``, or ``"layer"`` for activations that change the
            width (maxout: k inputs per output).
        check: checks the bound parameters together; returns an error message or None.
    """

    name: str
    fn: Callable[..., Tensor]
    derivative: Callable[..., Tensor]
    module: Callable[..., nn.Module]
    properties: PropertiesArg
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""
    formula: str = ""
    kind: str = "elementwise"
    check: Callable[[dict[str, Any]], str | None] | None = None

    def __post_init__(self) -> None:
        if normalise_name(self.name) != self.name:
            raise ValueError(f"activation name {self.name!r} must be lower case with underscores, e.g. {normalise_name(self.name)!r}")
        if self.kind not in ("elementwise", "layer"):
            raise ValueError(f"kind must be 'elementwise' or 'layer', not {self.kind!r}")
        for attr in ("fn", "derivative", "module"):
            if not callable(getattr(self, attr)):
                raise TypeError(f"activation {self.name!r}: {attr} must be callable")

    def bind(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``params``, each value checked."""
        params = dict(params or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise TypeError(f"activation {self.name!r} has no parameter {', '.join(map(repr, unknown))}; valid parameters: {valid}")
        bound: dict[str, Any] = {}
        for p in self.params:
            value = params.get(p.name, p.default)
            if isinstance(p.default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            problem = p.check(value) if p.check else None
            if problem:
                raise ValueError(f"{self.name}: {p.name}={value!r} is invalid: {problem}")
            bound[p.name] = value
        problem = self.check(bound) if self.check else None
        if problem:
            raise ValueError(f"{self.name}: {problem}")
        return bound


@dataclass(frozen=True)
class Activation:
    """An activation with its parameters bound: call it, differentiate it, build it.

    Obtain one with :func:`actlab.activations.get`.

    Examples::

        >>> from actlab.activations import get
        >>> elu = get("elu", alpha=0.5)
        >>> float(elu(torch.tensor(-100.0)))
        -0.5
        >>> float(elu.derivative(torch.tensor(1.0)))
        1.0
    """

    spec: ActivationSpec
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def label(self) -> str:
        """Name with non-default parameters, e.g. ``elu(alpha=0.5)``."""
        defaults = {p.name: p.default for p in self.spec.params}
        changed = {k: v for k, v in self.params.items() if v != defaults.get(k)}
        if not changed:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v}" for k, v in changed.items()) + ")"

    @property
    def width_multiplier(self) -> int:
        """Inputs per output unit: k for maxout, 1 for elementwise activations."""
        return int(self.params.get("k", 1)) if self.kind == "layer" else 1

    def __call__(self, x: Tensor) -> Tensor:
        return self.spec.fn(x, **self.params)

    def derivative(self, x: Tensor) -> Tensor:
        return self.spec.derivative(x, **self.params)

    def module(self) -> nn.Module:
        """A fresh ``nn.Module`` (PyTorch's own class where it has one)."""
        return self.spec.module(**self.params)

    @property
    def properties(self) -> Properties:
        props = self.spec.properties
        return props if isinstance(props, Properties) else props(**self.params)


class Registry:
    """Name -> :class:`ActivationSpec`, with aliases and case-insensitive lookup.

    actlab keeps one instance, ``actlab.activations.REGISTRY``: the one shared,
    mutable object of the package, because users' own activations must be found
    by name everywhere (CLI, claims, monitor). Tests that register entries
    remove them again with :meth:`unregister` or :meth:`temporarily`.
    """

    def __init__(self, plugin_group: str | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self._specs: dict[str, ActivationSpec] = {}
        self._lookup: dict[str, str] = {}  # normalised name or alias -> canonical name
        # Plugins (installed packages' entry points in `plugin_group`) load on the first
        # lookup, not at import: a broken one costs one warning line, never a command.
        self._plugin_group = plugin_group
        self._warn = warn or _warn_stderr
        #: one line per plugin that failed to load (and was skipped)
        self.plugin_errors: list[str] = []

    def load_plugins(self, report: bool = True) -> None:
        """Load the plugins of ``plugin_group`` now (once); a failing one is reported and skipped.

        A plugin is an entry point whose object is called with no arguments and registers
        its activations (``register_activation``). Any exception it raises (on import or
        when called) is reported in one line naming its distribution (``report=False``:
        recorded in ``plugin_errors`` only, as worker processes do: the parent said it), then
        ignored.
        """
        if not report:
            warn, self._warn = self._warn, lambda line: None
            try:
                self.load_plugins()
            finally:
                self._warn = warn
            return
        group, self._plugin_group = self._plugin_group, None
        if group is None:
            return
        from importlib import metadata

        try:
            entry_points = list(metadata.entry_points(group=group))
        except Exception as exc:  # a damaged installed package's metadata
            self._report(f"cannot list the {group!r} plugins ({type(exc).__name__}: {exc}); going on without them")
            return
        for ep in entry_points:
            dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown distribution"
            try:
                ep.load()()
            except Exception as exc:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                self._report(f"activation plugin {ep.name!r} of the package {dist!r} failed to load "
                             f"({type(exc).__name__}{': ' + text if text else ''}); going on without it")

    def _report(self, line: str) -> None:
        self.plugin_errors.append(line)
        self._warn(line)

    @staticmethod
    def _keys(name: str) -> set[str]:
        key = normalise_name(name)
        return {key, key.replace("_", "")}

    def register(self, spec: ActivationSpec, *, overwrite: bool = False) -> ActivationSpec:
        """Add ``spec``. A name or alias already taken is an error unless ``overwrite``."""
        keys = set().union(*(self._keys(n) for n in (spec.name, *spec.aliases)))
        taken = {k: self._lookup[k] for k in keys if k in self._lookup and self._lookup[k] != spec.name}
        if spec.name in self._specs and not overwrite:
            raise ValueError(f"activation {spec.name!r} is already registered; pass overwrite=True to replace it")
        if taken and not overwrite:
            k, owner = next(iter(sorted(taken.items())))
            raise ValueError(f"name {k!r} of {spec.name!r} is already used by {owner!r}")
        if spec.name in self._specs:
            self.unregister(spec.name)
        for owner in set(taken.values()):
            self.unregister(owner)
        self._specs[spec.name] = spec
        for k in keys:
            self._lookup[k] = spec.name
        return spec

    def unregister(self, name: str) -> None:
        """Remove an entry and its aliases."""
        canonical = self.resolve(name)
        del self._specs[canonical]
        self._lookup = {k: v for k, v in self._lookup.items() if v != canonical}

    def resolve(self, name: str) -> str:
        """The canonical name for ``name`` or an alias; :class:`UnknownActivationError` otherwise."""
        if not isinstance(name, str):
            raise TypeError(f"an activation name must be a string, not {type(name).__name__}")
        if self._plugin_group is not None:
            self.load_plugins()
        for key in (normalise_name(name), normalise_name(name).replace("_", "")):
            if key in self._lookup:
                return self._lookup[key]
        close = difflib.get_close_matches(normalise_name(name), sorted(self._lookup), n=4, cutoff=0.5)
        close = list(dict.fromkeys(self._lookup[c] for c in close))
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownActivationError(f"unknown activation {name!r}{hint} (`actlab list` shows all {len(self._specs)})")

    def spec(self, name: str) -> ActivationSpec:
        return self._specs[self.resolve(name)]

    def get(self, name: str, **params: Any) -> Activation:
        """Look up ``name`` and bind ``params`` (checked) to it."""
        spec = self.spec(name)
        return Activation(spec, spec.bind(params))

    def names(self) -> list[str]:
        """Canonical names in registration order."""
        if self._plugin_group is not None:
            self.load_plugins()
        return list(self._specs)

    def __iter__(self) -> Iterator[ActivationSpec]:
        if self._plugin_group is not None:
            self.load_plugins()
        return iter(list(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.resolve(name)
        except UnknownActivationError:
            return False
        return True

    def __len__(self) -> int:
        if self._plugin_group is not None:
            self.load_plugins()
        return len(self._specs)

    def temporarily(self, spec: ActivationSpec) -> _Temporary:
        """Context manager: ``spec`` is registered inside the ``with`` block only."""
        return _Temporary(self, spec)


def _warn_stderr(line: str) -> None:
    import sys

    print(f"actlab: warning: {line}", file=sys.stderr)


class _Temporary:
    def __init__(self, registry: Registry, spec: ActivationSpec) -> None:
        self.registry, self.spec = registry, spec

    def __enter__(self) -> ActivationSpec:
        return self.registry.register(self.spec)

    def __exit__(self, *exc: object) -> None:
        self.registry.unregister(self.spec.name)


def with_properties(props: Properties, **changes: Any) -> Properties:
    """A copy of ``props`` with some fields changed."""
    return replace(props, **changes)
