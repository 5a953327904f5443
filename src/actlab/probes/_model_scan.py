"""What the Monitor checks in a model before it attaches: compiled modules, modules it
cannot see, and overlap with another monitor's model.

Part of :class:`~actlab.probes.Monitor` (``monitor.py`` imports this module; it imports
nothing of the monitor's).
"""

from __future__ import annotations

from torch import nn

__all__ = ["compiled_module", "unseen_parts", "overlap", "contains"]


def compiled_module(model: nn.Module) -> str | None:
    """The name of the compiled module in ``model`` (``torch.compile``), or None."""
    for name, m in model.named_modules():
        if (getattr(m, "_orig_mod", None) is not None or getattr(m, "_is_torch_compile", False)
                or getattr(m, "_compiled_call_impl", None) is not None):
            return f"{type(model).__name__}" + (f".{name}" if name else "")
    return None


_FUSED_RNNS = tuple(c for c in (nn.LSTM, nn.GRU, nn.RNN, nn.LSTMCell, nn.GRUCell, nn.RNNCell))


def unseen_parts(model: nn.Module) -> list[str]:
    """What the monitor cannot see in ``model``, one sentence each, with the fix."""
    out = []
    registered = {id(m) for m in model.modules()}
    for name, m in model.named_modules():
        if isinstance(m, _FUSED_RNNS):
            out.append(f"{name or 'the model'} ({type(m).__name__}) computes its gates in one fused kernel: the "
                       "monitor sees its parameters but not its sigmoid and tanh gates (write the cell with nn.Linear "
                       "and torch.sigmoid / torch.tanh to watch them)")
        for attr, value in vars(m).items():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            mods = [v for v in items if isinstance(v, nn.Module) and id(v) not in registered]
            if mods and not attr.startswith("_"):
                where = f"{name}.{attr}" if name else attr
                kinds = ", ".join(sorted({type(v).__name__ for v in mods}))
                container = "nn.ModuleDict" if isinstance(value, dict) else "nn.ModuleList"
                out.append(f"{type(model).__name__}.{where} is a plain Python {type(value).__name__} of {len(mods)} "
                           f"module(s) ({kinds}): PyTorch does not register them, so neither the monitor nor "
                           f"model.parameters() (your optimizer) sees them; hold them in {container}")
    return out


def contains(outer: nn.Module, inner: nn.Module) -> bool:
    return any(m is inner for m in outer.modules())


def overlap(a: nn.Module, b: nn.Module) -> bool:
    return a is b or contains(a, b) or contains(b, a)
