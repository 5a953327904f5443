"""The monitor under distributed data parallel training (``torchrun``, DDP).

Part of :class:`~actlab.probes.Monitor` (``monitor.py``, ``_records.py`` and
``sinks.py`` import this module; it imports nothing of the monitor's).

What the monitor does when ``torch.distributed`` is initialised with more than one
process (read when it attaches):

* every record (and the header) carries ``rank`` and ``world_size``;
* files never collide: rank 0 writes the path it was given, rank k > 0 writes
  ``<stem>.rank<k><suffix>`` (``monitor.jsonl`` -> ``monitor.rank1.jsonl``; a
  TensorBoard folder ``tb`` -> ``tb/rank1``, which TensorBoard shows as a run of its
  own). Each rank's activation statistics are of its own batch; its parameter
  statistics are the same on every rank (see below);
* findings are printed once: :meth:`Monitor.print_findings` and the callbacks print
  on rank 0 only (``findings()`` still returns them on every rank);
* gradient statistics (norms, sign coherence, histograms) are read at ``step()``,
  from the gradients the optimizer steps with: under DDP, the all-reduced average
  (the post-accumulate-grad hooks run before DDP's all-reduce, so they only note
  which gradients arrived). Gradient clipping done before ``optimizer.step()`` is
  then included.

FSDP (``FullyShardedDataParallel`` / ``fully_shard``): not supported for parameter
statistics. Each rank holds a shard of each (flattened) parameter, so the monitor's
norms, ratios and histograms would be of that rank's shard, not of the parameter;
activation statistics per rank work as under DDP. Only DDP is tested (CI: 2 gloo
processes on the CPU through ``torchrun``; the callbacks under Lightning's
``strategy="ddp"`` and the Hugging Face ``Trainer`` under ``torchrun`` and
``accelerate launch``, in tests/integrations).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["dist_rank", "rank_path", "rank_folder"]


def dist_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` without ``torch.distributed``
    initialised."""
    dist = getattr(torch, "distributed", None)
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_path(path: str | os.PathLike[str], rank: int, world_size: int) -> Path:
    """``path`` for ``rank``: unchanged on rank 0 or in a single process, else
    ``<stem>.rank<k><suffix>`` beside it."""
    path = Path(path)
    if world_size <= 1 or rank == 0:
        return path
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def rank_folder(path: str | os.PathLike[str], rank: int, world_size: int) -> Path:
    """A log folder for ``rank``: unchanged on rank 0 or in a single process, else
    ``<folder>/rank<k>`` (TensorBoard shows it as a run of its own)."""
    path = Path(path)
    return path if world_size <= 1 or rank == 0 else path / f"rank{rank}"
