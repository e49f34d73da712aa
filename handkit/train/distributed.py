"""Training on several processes: ``torchrun --nproc-per-node N -m handkit train ...``.

torchrun starts N processes and tells each its rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``/``MASTER_PORT``); :func:`setup` joins them into one process group (gloo on the
CPU, nccl on GPUs, one GPU per process). Every step's global batch (drawn by the stage sampler,
a pure function of seed and step) is cut into ``world_size x accumulate`` groups of positions
``g, g + N, g + 2N, ...`` (N groups; :func:`group_positions`); rank r works on groups
``r * accumulate ... r * accumulate + accumulate - 1``, each one backward pass. Gradients are
then averaged over all groups (an all-reduce across ranks), so every rank takes the same step
and the weights stay identical.

A single process with ``accumulate = N`` takes exactly the same step on the same global batch
(up to the order of floating-point sums): the same groups, the same averages. BatchNorm
normalises each group by its own statistics in both (no SyncBatchNorm, which needs GPUs), and
its running statistics are copied from rank 0 after every step, as DistributedDataParallel
does. Rank 0 alone writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from handkit.errors import InputError

#: Buffers that never change (the MANO model's arrays) are not synchronised.
CONSTANT_BUFFER = ".mano."


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes.

    Attributes:
        rank: 0 .. world_size - 1 (0 writes the files).
        world_size: number of processes (1 without torchrun).
        device: this process's device.
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
    if world_size == 1:
        return Ranks(device=device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
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


def average_gradients(parameters: list[torch.nn.Parameter], ranks: Ranks) -> None:
    """Average every gradient over the ranks (each rank already averaged its own groups)."""
    if not ranks.enabled:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ranks.world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def mean_values(values: dict[str, float], ranks: Ranks) -> dict[str, float]:
    """Loss terms averaged over the ranks (so every rank sees the same numbers)."""
    if not ranks.enabled:
        return values
    names = sorted(values)
    tensor = torch.tensor([values[n] for n in names], dtype=torch.float64)
    dist.all_reduce(tensor)
    return {n: float(v) / ranks.world_size for n, v in zip(names, tensor.tolist(), strict=True)}


def running_buffers(modules: list[torch.nn.Module]) -> list[torch.Tensor]:
    """The float buffers that training changes (BatchNorm's running statistics)."""
    return [buffer for module in modules for name, buffer in module.named_buffers()
            if CONSTANT_BUFFER not in f".{name}" and buffer.is_floating_point()]


def average_buffers(buffers: list[torch.Tensor], ranks: Ranks) -> None:
    """Average running statistics over the ranks, in place."""
    if not ranks.enabled or not buffers:
        return
    flat = torch.cat([b.reshape(-1) for b in buffers])
    dist.all_reduce(flat)
    flat /= ranks.world_size
    offset = 0
    for buffer in buffers:
        buffer.copy_(flat[offset:offset + buffer.numel()].view_as(buffer))
        offset += buffer.numel()


def parameter_spread(modules: list[torch.nn.Module], ranks: Ranks) -> float:
    """Largest difference of any parameter between the ranks (0 when they agree)."""
    if not ranks.enabled:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).double() for m in modules for p in m.parameters()])
    low, high = flat.clone(), flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return float((high - low).abs().max())


def share_outcome(ranks: Ranks, error: Exception | None) -> None:
    """Rank 0's outcome to every rank: if it failed, every rank raises the same error (the
    others would otherwise wait for it for ever)."""
    if not ranks.enabled:
        if error is not None:
            raise error
        return
    box = [None if error is None else (type(error).__name__, str(error))]
    dist.broadcast_object_list(box, src=0)
    if box[0] is not None:
        if error is not None:
            raise error
        raise RuntimeError(f"rank 0 failed: {box[0][0]}: {box[0][1]}")


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        dist.barrier()


def cleanup(ranks: Ranks) -> None:
    if ranks.enabled and dist.is_initialized():
        dist.destroy_process_group()
