"""The end of a sampled step: the statistics packed for one transfer, and records.

Part of :class:`~actlab.probes.Monitor` (a mixin). A sampled step's device tensors
go into one :class:`_Pack`; ``flush`` moves every pending pack to the host in one
transfer and finishes the records (plain dicts, as the JSONL file holds them).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
import time
import warnings
from typing import Any

import torch
from torch import Tensor

from .._version import __version__
from . import stats as S
from ._activation_hooks import _Site
from .sinks import Sink

__all__: list[str] = []  # private: the Monitor's pieces


class _Pack:
    """Collects a step's device tensors (0-d statistics, 1-d counts) and concatenates
    them into one float64 tensor, so that one transfer moves them all.

    ``scalar`` and ``vector`` return a reference; ``start(ref)`` is its position in the
    flat tensor once ``flat()`` has run. Scalars are stacked per dtype: stacking mixed
    dtypes takes a slow path on the CPU (one copy per element).
    """

    def __init__(self) -> None:
        self.scalars_by_dtype: dict[torch.dtype, list[Tensor]] = {}
        self.vectors: list[Tensor] = []
        self.offsets: dict[Any, int] = {}

    def scalar(self, t: Tensor) -> tuple[torch.dtype, int]:
        group = self.scalars_by_dtype.setdefault(t.dtype, [])
        group.append(t)
        return t.dtype, len(group) - 1

    def scalars(self, ts: list[Tensor]) -> list[tuple[torch.dtype, int]]:
        refs = []
        for t in ts:
            group = self.scalars_by_dtype.setdefault(t.dtype, [])
            group.append(t)
            refs.append((t.dtype, len(group) - 1))
        return refs

    def vector(self, t: Tensor) -> tuple[None, int]:
        self.vectors.append(t)
        return None, len(self.vectors) - 1

    def start(self, ref: tuple[Any, int]) -> int:
        key, index = ref
        return self.offsets[key] + (index if key is not None else self._vector_starts[index])

    def flat(self) -> Tensor | None:
        """One 1-D tensor; ``torch.cat`` promotes the dtypes (float32 statistics and int64
        counts give float32: counts stay exact below 2^24, fractions to ~1e-7 beyond)."""
        pieces, pos = [], 0
        for key, items in self.scalars_by_dtype.items():
            self.offsets[key] = pos
            pos += len(items)
            pieces.append(torch.stack(items))
        self.offsets[None] = pos
        starts = []
        for t in self.vectors:
            starts.append(pos - self.offsets[None])
            pos += t.numel()
        self._vector_starts = starts
        pieces += self.vectors
        # the pieces are copied into the flat tensor: drop them (a record waiting in the
        # history to be finished keeps only the offsets)
        self.scalars_by_dtype, self.vectors = {}, []
        if not pieces:
            return None
        try:
            return torch.cat(pieces)
        except RuntimeError:  # a model spread over devices: gather on the first one
            return torch.cat([p.to(pieces[0].device) for p in pieces])




class Records:
    """Packing, flushing and finishing the records of sampled steps."""

    def _header(self) -> dict[str, Any]:
        return {
            "type": "header",
            "actlab_version": __version__,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "model": type(self.model).__name__,
            "rank": self.rank,
            "world_size": self.world_size,
            "schedule": getattr(self.schedule, "__qualname__", repr(self.schedule)),
            "start_step": self._step,
            "stats": sorted(self.stats),
            "window": self.window,
            "bins": self.bins,
            "saturation_slope": self.saturation_slope,
            "thresholds": dataclasses.asdict(self.thresholds),
            "activation_modules": {n: info.label for n, _, info in self._activation_modules.values()},
            "parameters": {n: list(p.shape) for n, p in self._params},
        }

    def _end_sampled_step(self) -> None:
        step = self._step
        pack = _Pack()
        if self._grads_at_step and self._arrivals:  # DDP: the all-reduced gradients (_distributed.py)
            self._backward_batch = list(self._arrivals)
            self._reduce_gradients()
        sites = [s for s in self._sites.values() if s.calls]  # creation order is forward order
        raw_sites = [self._pack_site(s, pack) for s in sites]
        raw_params = self._pack_params(pack)
        self._check_step(step, sites)
        for s in sites:
            s.reset()
        self._reset_grad_stats()
        raw = {"step": step, "forwards": self._forwards, "sites": raw_sites, "params": raw_params,
               "loss": self._take_loss(self._loss, pack), "optimizer": self._optimizer_record()}
        self._loss = None
        self._pending.append((raw, pack, pack.flat()))
        if len(self._pending) >= self.flush_every:
            self.flush()

    def _pack_site(self, site: _Site, pack: _Pack) -> dict[str, Any]:
        raw: dict[str, Any] = {"site": site, "calls": site.calls, "numel": site.numel}
        raw["moments"] = [(n, pack.scalar(m), pack.scalar(m2)) for n, m, m2 in site.moments]
        raw["saturated"] = [(n, pack.scalar(c), complement) for n, c, complement in site.saturated]
        if site.hist is not None:
            raw["hist"] = pack.vector(site.hist)
            raw["hist_values"] = site.hist_values
        if site.activity is not None and site.ring is not None:  # the activity is the ring's current row
            units = site.activity.numel()
            site.ring_slot = (site.ring_slot + 1) % self.window
            site.ring_filled = min(site.ring_filled + 1, self.window)
            # rows not yet written are 0, and activities are >= 0: the max over the whole ring
            # is the max over the steps seen
            window_max = site.ring.amax(dim=0)  # (units,)
            raw["alive"] = pack.scalar(S.positive_count(window_max, window_max))
            raw["units"], raw["window"] = units, site.ring_filled
        return raw

    def _check_step(self, step: int, sites: list[_Site]) -> None:
        self._check_compiled()  # compiled after attach: that is why no forward was seen
        if self._compiled is not None:
            return  # no forward hooks under torch.compile: nothing to check
        if self._forwards == 0:
            why = (f" ({self._forwards_skipped} forward pass(es) in eval mode were skipped: training_only=True; forwards under torch.inference_mode are never recorded)"
                   if self._forwards_skipped else "")
            self._warn_once("no_forward", f"no forward pass of {type(self.model).__name__} was recorded during sampled "
                                          f"step {step}{why}; call monitor.step() once per training step, after "
                                          "optimizer.step()")
            return
        if not sites and self._want_any_activation:
            known = "nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, ... modules or F.relu, torch.sigmoid, ... calls"
            self._warn_once("no_activation", f"the monitor saw no activation in {type(self.model).__name__}'s forward "
                                             f"at step {step} (it looks for {known}"
                                             f"{'; functional=False' if not self.functional else ''}"
                                             f"{'; layers= may exclude them' if self._filtered else ''}); "
                                             "activation statistics will be empty")
        if self._params and (self._want_grad_norm or self._want_signs) and not self._arrivals:
            self._warn_once("no_grad", f"no gradient reached the watched parameters during sampled step {step}; "
                                       "call loss.backward() before monitor.step()")

    def flush(self) -> None:
        """Transfer the queued statistics to the host (one transfer), finish them into
        records, append those to ``history`` and write them to the sinks."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        flats = [f for _, _, f in pending if f is not None]
        # the one host sync per flush: every queued statistic in one transfer
        values = (flats[0] if len(flats) == 1 else torch.cat(flats)).tolist() if flats else []
        base = 0
        for raw, pack, flat in pending:
            if self._live_sinks:
                record = self._finish(raw, pack, values, base)
                self._history.append(record)
                for sink in list(self._live_sinks):
                    self._to_sink(sink, "write", record)
            else:
                self._history.append((raw, pack, values, base))
            base += flat.numel() if flat is not None else 0

    @property
    def history(self) -> collections.deque[dict[str, Any]]:
        """The records of the last ``keep`` sampled steps, oldest first (flushes first).

        A record: ``{"type": "step", "step", "forwards", "window", "activations": {site:
        {...}}, "parameters": {name: {...}}}``, the same dicts the JSONL file holds.
        """
        self.flush()
        h = self._history
        for i, entry in enumerate(h):
            if isinstance(entry, tuple):
                h[i] = self._finish(*entry)
        return h

    def _finish(self, raw: dict[str, Any], pack: _Pack, values: list[float], base: int) -> dict[str, Any]:
        def v(ref: tuple[Any, int]) -> float:  # a scalar's value
            return values[base + pack.start(ref)]

        def vec(ref: tuple[Any, int], length: int) -> list[float]:
            start = base + pack.start(ref)
            return values[start: start + length]

        activations: dict[str, Any] = {}
        for r in raw["sites"]:
            site: _Site = r["site"]
            out: dict[str, Any] = {"activation": site.info.label, "module": site.module_name, "call": site.call,
                                   "order": site.order, "calls": r["calls"], "numel": r["numel"],
                                   "two_sided": site.info.two_sided}
            if r["moments"]:
                n_total = sum(n for n, _, _ in r["moments"])
                mean = sum(v(t) for _, t, _ in r["moments"]) / n_total
                m2 = sum(v(q) ** 2 + n * (v(t) / n - mean) ** 2 for n, t, q in r["moments"])
                std = math.sqrt(m2 / n_total) if m2 >= 0 else math.nan
                for key, value in (("mean", mean), ("std", std), ("zero_centring", _ratio(abs(mean), std))):
                    if key in self.stats:
                        out[key] = value
            if "saturated_fraction" in self.stats:
                if r["saturated"]:
                    count = sum(n - v(c) if complement else v(c) for n, c, complement in r["saturated"])
                    out["saturated_fraction"] = count / sum(n for n, _, _ in r["saturated"])
                else:
                    out["saturated_fraction"] = 0.0 if not site.info.saturating else None
            if "dead_fraction" in self.stats:
                if "alive" in r:
                    out["dead_fraction"] = (r["units"] - v(r["alive"])) / r["units"]
                    out["units"], out["dead_window"] = r["units"], r["window"]
                else:
                    out["dead_fraction"] = 0.0 if not site.info.saturating else None
            if "hist" in r:
                counts = [int(c) for c in vec(r["hist"], self.bins)]
                out["histogram"], out["nan_count"] = counts, r["hist_values"] - sum(counts)
                out["histogram_range"] = list(site.hist_range)  # type: ignore[arg-type]
            if self._track_feeds:
                out["feeds"] = list(site.feeds.values())
            activations[site.name] = out
        parameters: dict[str, Any] = {}
        rp = raw["params"]
        update = rp["update"]
        hists: dict[int, dict[str, Any]] = {}
        bins = self.bins
        for key, prefix in (("weight_hist", "weight"), ("grad_hist", "grad")):
            entry = rp.get(key)
            if entry is None:
                continue
            indices, counts_ref, scale_ref, positive_ref, first = entry
            total = first + len(indices)
            counts = vec(counts_ref, total * bins)[first * bins:]
            scales = vec(scale_ref, total)[first:]
            positive = vec(positive_ref, total)[first:] if positive_ref is not None else None
            for k, i in enumerate(indices):
                h = hists.setdefault(i, {})
                if f"{prefix}_histogram" in self.stats:
                    h[f"{prefix}_histogram"] = [int(c) for c in counts[k * bins:(k + 1) * bins]]
                    h[f"{prefix}_range"] = [-scales[k], scales[k]]
                if positive is not None and "positive_grad_fraction" in self.stats:
                    h["positive_grad_fraction"] = positive[k]
        for i, (name, p) in enumerate(self._params):
            out = {"shape": list(p.shape), "depth": rp["depth"].get(i)}
            out.update(hists.get(i, {}))
            if i in rp["norms"]:
                out["grad_norm"] = v(rp["norms"][i])
            if i in rp["signs"]:
                ref, offset = rp["signs"][i]
                pos, neg, both = vec(ref, offset + 3)[offset:]
                nonzero = pos + neg - both
                out["sign_coherence"] = (nonzero - both) / nonzero if nonzero else None
                out["nonzero_rows"] = int(nonzero)
            if update is not None:
                moved, norm = v(update[0][i]), v(update[1][i])
                out["update_ratio"] = _ratio(moved, norm)
                out["weight_norm"] = norm
                rows = rp.get("rows", {}).get(i)
                if rows is not None:  # an embedding: the ratio over the rows that received gradient
                    out["update_ratio"] = _ratio(v(rows[0]), v(rows[1]))
                    out["updated_rows"] = int(v(rows[2]))
            parameters[name] = out
        record = {"type": "step", "step": raw["step"], "rank": self.rank, "world_size": self.world_size,
                  "forwards": raw["forwards"], "window": self.window}
        loss = raw.get("loss")
        if loss is not None:
            record["loss"] = loss if isinstance(loss, float) else v(loss)
        if raw.get("optimizer") is not None:
            record["optimizer"] = raw["optimizer"]
        record["activations"], record["parameters"] = activations, parameters
        return record

    def _to_sink(self, sink: Sink, method: str, *args: Any) -> None:
        """``sink.method(*args)``; a sink that fails (a full disk, a closed writer) is
        disabled with one warning: the training it watches goes on, and ``history`` and
        ``findings()`` still work from memory."""
        try:
            getattr(sink, method)(*args)
        except Exception as exc:  # noqa: BLE001 (any failure of a sink must not stop the training)
            if sink in self._live_sinks:
                self._live_sinks.remove(sink)
            if method != "close":
                with contextlib.suppress(Exception):
                    sink.close()
            where = getattr(sink, "path", None) or getattr(sink, "_target", None) or sink
            warnings.warn(f"actlab Monitor: writing to {where} failed ({type(exc).__name__}: {exc}); that sink is "
                          "disabled, training goes on, and findings() and history still work from memory",
                          stacklevel=4)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"actlab Monitor: {message}", stacklevel=5)


def _ratio(a: float, b: float) -> float | None:
    if b > 0:
        return a / b
    if b == 0:
        return math.inf if a > 0 else None
    return math.nan  # NaN in, NaN out
