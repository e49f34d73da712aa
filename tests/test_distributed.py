"""Training on two processes (torchrun, gloo on the CPU): identical weights on both, equal to one
process that accumulates the same groups, and resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handkit.train import TrainConfig, load_checkpoint, train
from handkit.train.distributed import Ranks, group_positions, my_groups

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # torchrun starts two processes

FLAGS = ["--stage1-steps", "2", "--control-steps", "1", "--stage2-steps", "2", "--stage3-steps",
         "2", "--batch-size", "8", "--pair-batch-size", "4", "--lr", "1e-3", "--threads", "1",
         "--checkpoint-every", "100", "--quiet"]


def torchrun(out: Path, *extra: str) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "handkit", "train", "--out", str(out), *FLAGS,
               *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]


def parameters(path: Path, module: str) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)[module]
    return {k: v for k, v in state.items() if ".mano." not in f".{k}" and "running" not in k
            and "num_batches" not in k}


def test_groups_cut_the_global_batch_the_same_way_for_processes_and_accumulation():
    two_processes = [my_groups(8, Ranks(rank=r, world_size=2), 1)[0].tolist() for r in (0, 1)]
    one_accumulating = [g.tolist() for g in my_groups(8, Ranks(), 2)]
    assert two_processes == one_accumulating == [[0, 2, 4, 6], [1, 3, 5, 7]]
    with pytest.raises(ValueError, match="cannot be cut into 3 equal groups"):
        group_positions(8, 3)


def test_two_processes_match_one_accumulating_process_and_resume(tmp_path):
    torchrun(tmp_path / "two")
    summary = json.loads((tmp_path / "two" / "run.json").read_text())
    assert summary["processes"] == 2 and summary["finished"]
    assert summary["parameter_spread_across_processes"] == 0.0  # identical on both ranks
    config = TrainConfig(stage1_steps=2, control_steps=1, stage2_steps=2, stage3_steps=2,
                         batch_size=8, pair_batch_size=4, lr=1e-3, threads=1,
                         checkpoint_every=100, accumulate=2)
    train(config, tmp_path / "one", progress=False)
    for module in ("predictor", "aligner"):
        two = parameters(tmp_path / "two" / "final.pt", module)
        one = parameters(tmp_path / "one" / "final.pt", module)
        worst = max(float((two[k] - one[k]).abs().max()) for k in two)
        assert worst < 1e-4, (module, worst)  # lr 1e-3, 7 steps: float sums only
    # interrupted after 3 steps (inside the control), resumed: the same end as uninterrupted
    torchrun(tmp_path / "stopped", "--stop-after", "3")
    assert not (tmp_path / "stopped" / "final.pt").exists()
    torchrun(tmp_path / "stopped", "--resume")
    for module in ("predictor", "aligner"):
        resumed = parameters(tmp_path / "stopped" / "final.pt", module)
        whole = parameters(tmp_path / "two" / "final.pt", module)
        assert all(torch.equal(resumed[k], whole[k]) for k in whole), module
    np.testing.assert_equal(json.loads((tmp_path / "stopped" / "config.json").read_text()),
                            json.loads((tmp_path / "two" / "config.json").read_text()))
