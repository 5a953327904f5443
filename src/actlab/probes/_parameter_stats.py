"""Parameter statistics: gradient norms, row sign coherence, update ratios.

Part of :class:`~actlab.probes.Monitor` (a mixin). A post-accumulate-grad hook per
watched parameter notes its gradient; the reductions run once, for every gradient
of the backward pass, when it ends. The update ratio compares the weights across
the step's optimizer step, from a snapshot taken when a sampled step begins.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from . import stats as S

if TYPE_CHECKING:
    from ._records import _Pack

__all__: list[str] = []  # private: the Monitor's pieces

# Runs a function when the current backward pass ends (what DDP uses to reduce gradients
# once they are all there). Private API: without it, gradients are reduced one by one.
_QUEUE_CALLBACK = getattr(getattr(torch.autograd.Variable, "_execution_engine", None), "queue_callback", None)


#: Per-parameter histograms and positive shares use an even strided sample of at most
#: this many values of each weight and gradient (exact for smaller tensors): 1024 instead
#: of 4096 halves their cost on a 784-256-256-10 MLP (95 us against 183 us per sampled
#: step, one thread), for a standard error of the positive share of at most 1.6%.
PARAMETER_HISTOGRAM_SAMPLE = 1024


class ParameterStats:
    """The parameter side of the Monitor."""

    def _install_grad_hooks(self, handles: list[Any]) -> None:
        if self._want_grad_norm or self._want_signs:
            for i, (_, p) in enumerate(self._params):
                handles.append(p.register_post_accumulate_grad_hook(functools.partial(self._grad_hook, i)))

    def _take_snapshot(self, next_norms: list[Tensor] | None) -> None:
        """The weights before this step's optimizer step, and their norms; the buffers are
        reused while consecutive steps are sampled and freed after the last one."""
        if "update_ratio" not in self.stats or not self._params:
            return
        params = [p for _, p in self._params]
        with torch.no_grad():
            if self._snapshots is None:
                self._snapshots = [p.clone() for p in params]
            else:
                torch._foreach_copy_(self._snapshots, params)
            # the last sampled step's end measured these weights already (_pack_params)
            self._snapshot_norms = (next_norms if next_norms is not None
                                    else torch._foreach_norm(self._snapshots, 2, dtype=self._norm_dtype))

    def _reset_grad_stats(self) -> None:
        self._grad_norms = [None] * len(getattr(self, "_params", ()))
        self._signed = set()
        self._arrivals, self._backward_batch, self._callback_queued = {}, [], False

    def _grad_hook(self, index: int, param: Tensor) -> None:
        """A gradient is accumulated: note it; the reductions run once the backward pass
        ends, for all its gradients at once (or here, without ``queue_callback``)."""
        if self._paused or param.grad is None:
            return
        self._arrivals.setdefault(index, None)
        if self._grads_at_step:
            return  # DDP: read at step(), once the gradients are all-reduced (_distributed.py)
        self._backward_batch.append(index)
        if _QUEUE_CALLBACK is None:
            self._reduce_gradients()
        elif not self._callback_queued:
            self._callback_queued = True
            _QUEUE_CALLBACK(self._reduce_gradients)

    def _reduce_gradients(self) -> None:
        # latest backward wins: with gradient accumulation, the last one sees the summed gradients
        batch, self._backward_batch, self._callback_queued = self._backward_batch, [], False
        grads, indices = [], []
        for i in batch:
            g = self._params[i][1].grad
            if g is None:
                continue
            if g.is_sparse:
                self._warn_once(f"sparse:{i}", f"parameter {self._params[i][0]} has a sparse gradient; the monitor skips it")
                continue
            grads.append(g.detach() if g.requires_grad else g)  # a graph only after backward(create_graph=True)
            indices.append(i)
        if not grads:
            return
        with torch.no_grad():
            if self._want_grad_norm:
                for i, norm in zip(indices, torch._foreach_norm(grads, 2, dtype=self._norm_dtype), strict=True):
                    self._grad_norms[i] = norm
            if self._want_signs:
                self._row_extremes(indices, grads)

    def _row_extremes(self, indices: list[int], grads: list[Tensor]) -> None:
        """Each weight gradient's row max and min, into one buffer; the signs are counted
        at the step's end, for all weights at once."""
        for i, g in zip(indices, grads, strict=True):
            k = self._weight_slot.get(i)
            if k is None:
                continue
            if self._signs is None:
                self._signs = S.RowSignCounter([self._params[j][1].shape[0] for j in self._weight_slot], g)
            self._signs.write(k, g)
            self._signed.add(i)

    def _pack_params(self, pack: _Pack) -> dict[str, Any]:
        arrived = list(self._arrivals)
        depth = {i: len(arrived) - 1 - k for k, i in enumerate(arrived)}  # backward runs the last layer first
        raw: dict[str, Any] = {"depth": depth, "norms": {}, "signs": {}, "update": None}
        if self._snapshots is not None:
            # w_before - w_after, in place in the snapshot buffers (no allocation); foreach
            # ops take the whole list in one call
            # ops take the whole list in one call. If the next step is sampled too, the weights
            # now are its weights before: their norms come in the same call.
            params = [p for _, p in self._params]
            ahead = self._is_sampled(self._step + 1)
            with torch.no_grad():
                torch._foreach_sub_(self._snapshots, params)
                norms = torch._foreach_norm(self._snapshots + params if ahead else self._snapshots, 2,
                                            dtype=self._norm_dtype)
            moved, self._next_norms = norms[:len(params)], (norms[len(params):] if ahead else None)
            raw["update"] = (pack.scalars(moved), pack.scalars(self._snapshot_norms))
            raw["rows"] = self._embedding_rows(pack)
        norms = [(i, t) for i, t in enumerate(self._grad_norms) if t is not None]
        if norms:
            raw["norms"] = dict(zip((i for i, _ in norms), pack.scalars([t for _, t in norms]), strict=True))
        if self._signed and self._signs is not None:
            # (weights, 3): rows with a positive entry, a negative entry, both; rows of
            # weights without a gradient this step are not read
            ref = pack.vector(self._signs.counts().view(-1))
            raw["signs"] = {i: (ref, 3 * k) for i, k in self._weight_slot.items() if i in self._signed}
        if self._want_weight_hist or self._want_grad_hist:
            self._pack_histograms(pack, raw)
        return raw

    def _embedding_rows(self, pack: _Pack) -> dict[int, tuple]:
        """Embedding tables: ||dw|| and ||w_before|| over the rows that received gradient
        this step, and their number. A batch of 16 tokens touches 16 rows of a table of
        thousands: over the whole table, the ratio says the learning rate is too low."""
        out: dict[int, tuple] = {}
        for i in self._embedding_params:
            p = self._params[i][1]
            g = p.grad
            if g is None or g.is_sparse or g.ndim != 2:
                continue
            with torch.no_grad():
                diff = self._snapshots[i]  # w_before - w_after (_pack_params)
                touched = g.ne(0).any(dim=1, keepdim=True)
                moved = torch.linalg.vector_norm(diff * touched, dtype=self._norm_dtype)
                before = torch.linalg.vector_norm((diff + p) * touched, dtype=self._norm_dtype)
                out[i] = (pack.scalar(moved), pack.scalar(before), pack.scalar(touched.sum()))
        return out

    def _pack_histograms(self, pack: _Pack, raw: dict[str, Any]) -> None:
        """Per-parameter histograms of the weights (after this step's update) and of the
        gradients (as the optimizer used them), and each gradient's share of entries > 0:
        a handful of ops for all parameters (``stats.SegmentHistogram``)."""
        # per tensor at most PARAMETER_HISTOGRAM_SAMPLE strided values (every value with
        # histogram_sample=None): the cost is mostly the samples' size
        cap = min(self.histogram_sample, PARAMETER_HISTOGRAM_SAMPLE) if self.histogram_sample is not None else 2**62
        # one SegmentHistogram call for the weights and the gradients together: a sampled
        # step's cost is mostly its number of ops
        weights = list(range(len(self._params))) if self._want_weight_hist else []
        grads = ([i for i, (_, p) in enumerate(self._params) if p.grad is not None and not p.grad.is_sparse]
                 if self._want_grad_hist else [])
        if not weights and not grads:
            return
        with torch.no_grad():
            tensors = [self._params[i][1].detach() for i in weights] + [self._params[i][1].grad.detach() for i in grads]
            key = (tuple(weights), tuple(grads))
            hist = self._param_hists.get(key)
            try:
                if hist is None:
                    hist = self._param_hists[key] = S.SegmentHistogram([t.shape for t in tensors], self.bins, cap,
                                                                       tensors[0].device)
                counts, scale, positive = hist(tensors)
            except RuntimeError as exc:  # parameters spread over devices
                self._warn_once("param_hist", f"parameter histograms are skipped: {exc}")
                return
        ref_counts, ref_scale, ref_positive = (pack.vector(counts.view(-1)), pack.vector(scale),
                                               pack.vector(positive))
        # (indices, counts ref, scale ref, positive ref, offset of the first among all tensors)
        if weights:
            raw["weight_hist"] = (weights, ref_counts, ref_scale, None, 0)
        if grads:
            raw["grad_hist"] = (grads, ref_counts, ref_scale, ref_positive, len(weights))
