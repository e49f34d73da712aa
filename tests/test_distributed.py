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

from handkit.errors import InputError
from handkit.train import TrainConfig, distributed, load_checkpoint, train
from handkit.train import runner as runner_module
from handkit.train.distributed import Ranks, group_positions, my_groups
from handkit.train.parts import check_on_device

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


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_processes_match_one_accumulating_process_and_resume(tmp_path):
    torchrun(tmp_path / "two")
    summary = json.loads((tmp_path / "two" / "run.json").read_text())
    assert summary["processes"] == 2 and summary["finished"]
    assert summary["gradient_averaging"] == "2 processes, DistributedDataParallel over gloo"
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


# -- one device for everything: the collectives (a GPU run's nccl takes CUDA tensors only) -----

META = Ranks(rank=0, world_size=2, device=torch.device("meta"))  # a device that is not the CPU


@pytest.fixture
def collectives(monkeypatch):
    """torch.distributed's collectives replaced by recorders of the tensors' devices (no
    process group needed); each collective's tensor must be on META's device."""
    seen = []

    def record(tensor, *args, **kwargs):
        seen.append(tensor.device)
        assert tensor.device == META.device, f"a collective got a tensor on {tensor.device}"

    monkeypatch.setattr(distributed.dist, "all_reduce", record)
    monkeypatch.setattr(distributed.dist, "broadcast", record)
    return seen


def test_loss_terms_are_averaged_on_the_training_device(collectives):
    averaged = distributed.mean_values(torch.ones(3, device="meta"), META)
    assert averaged.device == META.device and collectives == [META.device]


def test_buffers_and_parameter_spread_use_the_training_device(collectives):
    layer = torch.nn.BatchNorm1d(4).to("meta")
    distributed.broadcast_buffers([layer], META)
    assert collectives and set(collectives) == {META.device}
    with pytest.raises(RuntimeError, match="meta"):  # the last step reads the value
        distributed.parameter_spread([layer], META)
    assert set(collectives) == {META.device}  # both reductions ran on the device first


def test_a_tensor_on_another_device_is_refused_before_the_collective(collectives):
    with pytest.raises(RuntimeError, match="tensor on cpu was handed to a collective of "
                                           "processes training on meta"):
        distributed.all_reduce(torch.ones(2), META, "loss terms")
    assert collectives == []  # refused before torch.distributed saw it


def test_a_module_left_on_another_device_is_named():
    predictor = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r"Linear.weight is on cpu, but this run trains on "
                                           r"meta"):
        check_on_device([predictor], torch.device("meta"))


def test_resuming_into_stage2_checks_the_frozen_predictor_is_on_the_device(tmp_path,
                                                                            monkeypatch):
    """Stage 2 runs the frozen predictor on device tensors: after a resume that lands in stage
    2 (stage 1 not run in this process) it must be on the run's device as well (the GPU bug)."""
    config = TrainConfig(stage1_steps=2, control_steps=0, stage2_steps=3, stage3_steps=1,
                         batch_size=4, pair_batch_size=2, checkpoint_every=1, lr=1e-3,
                         threads=1)
    first = train(config, tmp_path / "run", progress=False, stop_after=3)  # stage 2, step 1
    assert not first.finished
    checked = []
    real = runner_module.check_on_device

    def spy(modules, device):
        checked.append((tuple(type(m).__name__ for m in modules), device))
        real(modules, device)

    monkeypatch.setattr(runner_module, "check_on_device", spy)
    result = train(config, tmp_path / "run", resume=True, progress=False)
    assert result.finished
    assert checked[0] == (("PoseAligner", "HandPredictor"), torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in result.predictor.parameters())


def test_sync_batchnorm_is_refused_on_the_cpu(tmp_path):
    with pytest.raises(InputError, match="sync_batchnorm needs GPUs"):
        train(TrainConfig(stage1_steps=1, stage2_steps=0, stage3_steps=0, batch_size=2,
                          sync_batchnorm=True), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_a_cuda_run_keeps_everything_on_the_gpu(tmp_path):
    config = TrainConfig(stage1_steps=2, control_steps=1, stage2_steps=2, stage3_steps=2,
                         batch_size=4, pair_batch_size=2, checkpoint_every=2, device="cuda")
    result = train(config, tmp_path / "run", progress=False, stop_after=3)
    result = train(config, tmp_path / "run", resume=True, progress=False)
    assert result.finished
    assert all(p.is_cuda for p in [*result.predictor.parameters(), *result.aligner.parameters()])
