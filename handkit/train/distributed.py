"""Training on several processes: ``torchrun --nproc-per-node N -m handkit train ...``.

torchrun starts N processes and tells each its rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``); :func:`setup` joins them into one process group (gloo on the
CPU, nccl on GPUs, one GPU per process) and decides, once, the device everything of this
process lives on (:attr:`Ranks.device`: modules, batches, loss terms, every collective).

The trained modules are wrapped in PyTorch's own
:class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`), which averages the gradients
over the processes during the backward pass and, at every forward pass, copies the BatchNorm
running statistics of rank 0 to the others (``broadcast_buffers``); ``sync_batchnorm=True``
normalises each BatchNorm layer by the statistics of all processes' groups instead (GPUs only).
What the kit adds is its own: every step's global batch (drawn by the stage sampler, a pure
function of seed and step) is cut into ``world_size x accumulate`` groups of positions
``g, g + N, g + 2N, ...`` (:func:`group_positions`); rank r works on groups
``r * accumulate ... r * accumulate + accumulate - 1``, one backward pass each, the gradients of
all but the last kept local (``no_sync``). So a single process with ``accumulate = N`` takes the
same step on the same global batch as N processes, up to the order of floating-point sums; the
weights of the ranks stay identical (checked at the end: ``run.json``'s
``parameter_spread_across_processes``). Rank 0 alone writes files.

BatchNorm: each group is normalised by its own statistics (one process or N). The running
statistics follow the step's first group (global group 0) alone: with several processes DDP
keeps rank 0's (its first group is group 0) and copies them to the others at every forward
pass, and a single accumulating process leaves them unchanged in its other groups, so both
keep the same running statistics (:func:`handkit.train.steps.running_stats_frozen`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from handkit.errors import InputError


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes.

    Attributes:
        rank: 0 .. world_size - 1 (0 writes the files).
        world_size: number of processes (1 without torchrun).
        device: this process's device: every module, batch and collective's tensor is on it.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Whether this process writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """"auto" -> this process's GPU when there is one, else the CPU; "cuda" must be there."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InputError("device 'cuda' was asked for but torch sees no GPU (torch "
                             f"{torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
                             "use --device cpu or auto")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


def setup(device_name: str) -> Ranks:
    """Join torchrun's process group (if torchrun started this process) and pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world_size == 1:
        return Ranks(device=device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
    return Ranks(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def group_positions(global_size: int, groups: int) -> list[np.ndarray]:
    """Positions of a global batch in each of ``groups`` groups: group g holds g, g + groups, ...

    >>> [p.tolist() for p in group_positions(6, 2)]
    [[0, 2, 4], [1, 3, 5]]
    """
    if global_size < groups or global_size % groups:
        raise ValueError(f"a batch of {global_size} cannot be cut into {groups} equal groups "
                         f"(processes x accumulate); choose a batch size divisible by {groups}")
    return [np.arange(g, global_size, groups) for g in range(groups)]


def my_groups(global_size: int, ranks: Ranks, accumulate: int) -> list[np.ndarray]:
    """This rank's ``accumulate`` groups of positions of the global batch."""
    groups = group_positions(global_size, ranks.world_size * accumulate)
    return groups[ranks.rank * accumulate:(ranks.rank + 1) * accumulate]


def check_sync_batchnorm(sync_batchnorm: bool, device: torch.device) -> None:
    """SyncBatchNorm runs on GPUs only: refuse it elsewhere before training starts."""
    if sync_batchnorm and device.type != "cuda":
        raise InputError(f"sync_batchnorm needs GPUs (torch's SyncBatchNorm), but this run's "
                         f"device is {device.type!r}; leave it off on the CPU")


def wrap(module: nn.Module, ranks: Ranks, *, sync_batchnorm: bool = False) -> nn.Module:
    """``module`` as DistributedDataParallel on this rank's device (itself with one process).

    Its forward must be called once per backward pass (one group); ``sync_batchnorm`` converts
    its BatchNorm layers to SyncBatchNorm first (in place: the state dict keeps its keys).
    """
    if not ranks.enabled:
        return module
    if sync_batchnorm:
        check_sync_batchnorm(True, ranks.device)
        for name, child in list(module.named_children()):
            setattr(module, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    # the MANO arrays never change: DDP would copy them (363,124 floats) at every forward
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        module, constant_buffers(module))
    device_ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids, broadcast_buffers=True)


def no_sync_unless(last: bool, model: nn.Module) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync()`` (gradients kept local) for every group but a step's ``last``."""
    if last or not isinstance(model, DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def check_device(tensor: torch.Tensor, ranks: Ranks, what: str) -> torch.Tensor:
    """``tensor``, if it is on the training device; else a RuntimeError naming ``what``.

    Every collective of this module goes through it: nccl serves CUDA tensors only, so a CPU
    tensor there stops a GPU run at its first step.
    """
    if tensor.device != ranks.device:
        raise RuntimeError(f"{what}: a tensor on {tensor.device} was handed to a collective of "
                           f"processes training on {ranks.device}")
    return tensor


def all_reduce(tensor: torch.Tensor, ranks: Ranks, what: str,
               op: dist.ReduceOp.RedOpType = dist.ReduceOp.SUM) -> torch.Tensor:
    """``tensor`` reduced over the ranks, in place (the one way this module talks to the
    others besides DDP and :func:`share_outcome`)."""
    dist.all_reduce(check_device(tensor, ranks, what), op=op)
    return tensor


def mean_values(values: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """(T,) loss terms (on the training device) averaged over the ranks."""
    if not ranks.enabled:
        return values
    return all_reduce(values.clone(), ranks, "loss terms") / ranks.world_size


#: Buffers that never change (the MANO model's arrays) are not synchronised.
CONSTANT_BUFFER = ".mano."


def constant_buffers(module: nn.Module) -> list[str]:
    """Names of ``module``'s buffers that training never changes (the MANO arrays)."""
    return [name for name, _ in module.named_buffers() if CONSTANT_BUFFER in f".{name}"]


def broadcast_buffers(modules: list[nn.Module], ranks: Ranks) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) to every rank, in place: what DDP does
    at each forward pass, done once more at a stage's end, so the frozen predictor of stage 2,
    checkpoints and the returned modules are the same on every rank."""
    if not ranks.enabled:
        return
    for module in modules:
        constant = set(constant_buffers(module))
        for name, buffer in module.named_buffers():
            if name not in constant:
                dist.broadcast(check_device(buffer, ranks, f"buffer {name}"), src=0)


def parameter_spread(modules: list[nn.Module], ranks: Ranks) -> float:
    """Largest difference of any parameter between the ranks (0 when they agree)."""
    if not ranks.enabled:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).float() for m in modules for p in m.parameters()])
    low = all_reduce(flat.clone(), ranks, "parameter spread", dist.ReduceOp.MIN)
    high = all_reduce(flat.clone(), ranks, "parameter spread", dist.ReduceOp.MAX)
    return float((high - low).abs().max())


def share_outcome(ranks: Ranks, error: Exception | None) -> None:
    """Rank 0's outcome to every rank: if it failed, every rank raises the same error (the
    others would otherwise wait for it for ever)."""
    if not ranks.enabled:
        if error is not None:
            raise error
        return
    box = [None if error is None else (type(error).__name__, str(error))]
    dist.broadcast_object_list(box, src=0, device=ranks.device)
    if box[0] is not None:
        if error is not None:
            raise error
        raise RuntimeError(f"rank 0 failed: {box[0][0]}: {box[0][1]}")


def describe(ranks: Ranks) -> str:
    """How this run averages gradients, in words (for ``run.json``)."""
    if not ranks.enabled:
        return "1 process"
    return (f"{ranks.world_size} processes, DistributedDataParallel over "
            f"{dist.get_backend()}")


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        dist.barrier()


def cleanup(ranks: Ranks) -> None:
    if ranks.enabled and dist.is_initialized():
        dist.destroy_process_group()
