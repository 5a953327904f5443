"""The Hugging Face callback under the Trainer's distributed launchers: 2 CPU processes
(gloo) run tests/integrations/hf_ddp.py, a tiny BERT trained by ``transformers.Trainer``
with gradient accumulation (2 micro-batches a step) and actlab's MonitorCallback.

What a user needs: training ends with exit 0; each rank has its own JSONL file (rank 0
the path it was given, rank 1 ``<stem>.rank1.jsonl``), every line valid JSON, every
record with its ``rank`` and ``world_size == 2``; the findings printed once, not once per
rank; the gradient statistics of the all-reduced gradient, so equal on both ranks for
the same step and parameter (while each rank's loss and activations are of its own
batches: local gradients would differ); no hook left on the model.

Launchers: ``torchrun --standalone --nproc_per_node 2``, and ``accelerate launch
--multi_gpu --num_processes 2``, accelerate's own torchrun-based launcher, with the
Trainer on the CPU (``use_cpu=True``, ``ddp_backend="gloo"``). accelerate's CPU paths
(``--cpu`` or a ``distributed_type: MULTI_CPU`` config) start one process and leave the
others to ``mpirun`` (``--mpirun_hostfile``): not tested here."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

EXTRA = "needs the integrations extra: pip install -e '.[integrations]'"
HERE = Path(__file__).parent
SCRIPT = HERE / "hf_ddp.py"
LAUNCHERS = {
    "torchrun": ["torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    "accelerate": ["accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--main_process_port", "0", "--mixed_precision", "no", "--dynamo_backend", "no"],
}
# gradient statistics that must be the same on every rank after the all-reduce
SYNCED = ("grad_norm", "update_ratio", "weight_norm", "positive_grad_fraction", "sign_coherence")


def same(a: float | None, b: float | None) -> bool:
    """Equal up to float32 rounding (the two ranks' values are in fact bit-identical);
    a statistic that does not apply (None) must not apply on both ranks."""
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                    reason="needs torch.distributed with the gloo backend")
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_hugging_face_callback_under_the_trainers_distributed_launchers(tmp_path, launcher):
    pytest.importorskip("transformers", reason=EXTRA)
    pytest.importorskip("accelerate", reason=EXTRA)
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=os.pathsep.join(
        [str(HERE.parents[1] / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("ACCELERATE_CONFIG_FILE", None)
    env["HF_HOME"] = str(tmp_path / "hf_home")  # no user accelerate config is read
    proc = subprocess.run([sys.executable, "-m", *LAUNCHERS[launcher], str(SCRIPT), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count("actlab monitor:") == 1, proc.stdout  # printed by rank 0 only

    assert sorted(p.name for p in tmp_path.glob("monitor*.jsonl")) == ["monitor.jsonl", "monitor.rank1.jsonl"]
    logs = {}
    for rank, name in enumerate(["monitor.jsonl", "monitor.rank1.jsonl"]):
        records = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]  # valid JSON
        assert records[0]["type"] == "header"
        assert all(r["rank"] == rank and r["world_size"] == 2 for r in records), name
        steps = [r for r in records if r["type"] == "step"]
        assert [r["step"] for r in steps] == [0, 1, 2]  # optimizer steps
        assert all(r["forwards"] == 2 for r in steps)  # 2 micro-batches each
        logs[rank] = steps
        after = json.loads((tmp_path / f"after{rank}.json").read_text())
        assert after["world_size"] == 2 and after["hooks"] == 0 and not after["attached"]

    compared = 0
    for a, b in zip(logs[0], logs[1]):
        assert a["parameters"].keys() == b["parameters"].keys()
        for name, pa in a["parameters"].items():
            pb = b["parameters"][name]
            for stat in SYNCED:
                if stat in pa:
                    assert same(pa[stat], pb[stat]), (a["step"], name, stat, pa[stat], pb[stat])
                    compared += pa[stat] is not None
        # each rank's own batches: different losses and activations
        assert a["loss"] != b["loss"]
        act = "bert.encoder.layer.0.intermediate.intermediate_act_fn"
        assert a["activations"][act]["mean"] != b["activations"][act]["mean"]
    assert compared > 100
    dense = "bert.encoder.layer.0.intermediate.dense.weight"
    assert all(s["parameters"][dense]["grad_norm"] > 0 for s in logs[0])
    # and DDP trained the same weights on both ranks
    weights = [json.loads((tmp_path / f"after{r}.json").read_text())["weight"] for r in (0, 1)]
    assert weights[0] == weights[1]
