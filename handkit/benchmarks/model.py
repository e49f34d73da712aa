"""``python -m handkit bench model``: one training step of each stage against a bare ResNet-18.

At batch 64 and two image sizes (the sample set's 64 px, and 128 px), on real frames of
``data_samples/synthetic`` (resized for the larger size, intrinsics scaled to match), it times:

* bare: torchvision's ResNet-18 forward + backward + Adam step (the floor a predictor step
  cannot beat);
* stage 1: HandPredictor forward, MANO, L_pred (Eq. 6), backward, Adam step;
* stage 3: both frames of 64 pairs (u, s = N(u)) through the predictor, the aligner both ways,
  MANO for every output, L_total (Eqs. 9-10), backward, Adam step;

in both memory formats, and prints the ratios stage-1 / bare (target <= 1.15) and
stage-3 / stage-1 (target <= 2.2). Steps are timed alternately, round after round, so machine
noise hits all three alike; times are medians, ratios the medians of each round's ratios.
The machine load is printed with them.

What keeps the steps fast (batch 64, 2 cores, measured alternately in one run):

* Adam's fused CPU kernel (:data:`ADAM_OPTIONS`, used for all three steps): about 6 ms per
  update instead of 20-37 ms; stage 1 4.5 % faster at 64 px, 1 % at 128 px.
* Memory format: channels-last makes ResNet-18 about 10 % faster at 128 px and 10-15 % slower at
  64 px, so both are printed and the predictor takes ``channels_last`` as an option.
* Stage 3 passes the u and the s frames as two batches of 64 (Hasson et al.'s way); one batch of
  128 was 1 % slower at 64 px and 3-8 % slower at 128 px.
* The aligner runs both ways in one call, so MANO runs once on 128 hands instead of twice on 64
  (MANO forward + backward is about 6 ms at 64 hands: no measurable gain, one call is simpler).
* The input check reads the images once (their min and max, NaN included).
* bf16 (``--precisions fp32 bf16``: the encoder under autocast, as ``--precision bf16`` trains)
  pays only where the hardware has it: on a 2-core AMD EPYC without AVX-512 (emulated bf16) a
  stage-1 step took 17x as long as in fp32 (66.7 s against 3.9 s, same run, loaded machine);
  the issue that asked for it measured 535 ms against 999 ms for a ResNet-18 step on a CPU with
  AVX-512 BF16. Training's ``--precision auto`` takes bf16 only where it is native.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from handkit.data.pairs import nearest_labelled
from handkit.data.synthetic import default_dataset_path
from handkit.data.video_format import VideoArrays, VideoDataset
from handkit.errors import command, positive_int
from handkit.losses import pair_objective, predictor_loss
from handkit.models import HandPredictor, HandTargets, PoseAligner, forward_pair
from handkit.models.precision import native_bf16
from handkit.train.distributed import resolve_device

BATCH = 64
IMAGE_SIZES = (64, 128)
FORMATS = ("contiguous", "channels_last")
LEARNING_RATE = 5e-5
"""Sec. IV."""
ADAM_OPTIONS = {"lr": LEARNING_RATE, "fused": True}
"""Adam's fused CPU kernel: the same update as the default, 3-5x faster for ResNet-18's 11.7M
parameters (about 6 ms against 20-37 ms per step on 2 cores)."""
STAGE1_TARGET = 1.15
STAGE3_TARGET = 2.2
CPU = torch.device("cpu")


@dataclass(frozen=True)
class FrameBatch:
    """B frames as the models take them: images (B, 3, S, S) in [0, 1], intrinsics (B, 3, 3),
    labels."""

    images: torch.Tensor
    intrinsics: torch.Tensor
    targets: HandTargets


def frame_batch(video: VideoArrays, frames: np.ndarray, size: int) -> FrameBatch:
    """Frames ``frames`` of ``video`` as a batch, resized to ``size`` px (intrinsics scaled to
    match)."""
    images = torch.from_numpy(video.frames[frames]).permute(0, 3, 1, 2).float() / 255
    intrinsics = torch.from_numpy(video.intrinsics[frames]).float()  # (B, 3, 3)
    scale = size / images.shape[-1]
    if scale != 1:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=False,
                               align_corners=False).clamp(0, 1)
        # pixel centres at integers: u' = scale * (u + 0.5) - 0.5
        intrinsics = intrinsics.clone()
        intrinsics[:, :2, :2] *= scale
        intrinsics[:, :2, 2] = scale * (intrinsics[:, :2, 2] + 0.5) - 0.5
    targets = HandTargets(
        root=torch.from_numpy(video.root[frames]).float(),
        theta=torch.from_numpy(video.theta[frames]).float(),
        beta=torch.from_numpy(video.beta[frames]).float(),
        joints=torch.from_numpy(video.joints[frames]).float(),
        joint_valid=torch.ones(len(frames), 21, dtype=torch.bool),
    )
    return FrameBatch(images=images.contiguous(), intrinsics=intrinsics, targets=targets)


def _to(batch: FrameBatch, device: torch.device) -> FrameBatch:
    """``batch`` on ``device``."""
    targets = HandTargets(**{name: getattr(batch.targets, name).to(device)
                             for name in ("root", "theta", "beta", "joints", "joint_valid")})
    return FrameBatch(images=batch.images.to(device), intrinsics=batch.intrinsics.to(device),
                      targets=targets)


def sample_frames(
    video: VideoArrays, batch: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` frames u of ``video`` and their nearest labelled frames s = N(u)."""
    rng = np.random.default_rng(seed)
    u = np.sort(rng.choice(len(video.frames), size=batch, replace=False))
    return u, nearest_labelled(video.labelled)[u]


def bare_step(images: torch.Tensor, channels_last: bool,
              dtype: torch.dtype | None = None, compile: bool = False) -> Callable[[], None]:
    """A torchvision ResNet-18 forward + backward + Adam step on ``images`` (its forward under
    autocast in ``dtype`` when given, as the predictor's encoder with ``--precision bf16``)."""
    net = torchvision.models.resnet18(weights=None).to(images.device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    if compile:
        net.compile()
    optimizer = torch.optim.Adam(net.parameters(), **ADAM_OPTIONS)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(images.device.type, dtype=dtype or torch.float32,
                            enabled=dtype is not None):
            out = net(images)
        out.float().square().mean().backward()
        optimizer.step()

    return step


def _predictor(channels_last: bool, dtype: torch.dtype | None, device: torch.device,
               compile: bool) -> HandPredictor:
    predictor = HandPredictor(channels_last=channels_last).to(device)
    predictor.encoder_dtype = dtype
    if compile:  # as training's --compile
        predictor.encoder.compile()
    return predictor


def stage1_step(batch: FrameBatch, channels_last: bool,
                dtype: torch.dtype | None = None, compile: bool = False) -> Callable[[], None]:
    """A stage-1 step: predictor, MANO, L_pred (Eq. 6), backward, Adam."""
    predictor = _predictor(channels_last, dtype, batch.images.device, compile)
    optimizer = torch.optim.Adam(predictor.parameters(), **ADAM_OPTIONS)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        predictor_loss(predictor(batch.images, batch.intrinsics), batch.targets).total.backward()
        optimizer.step()

    return step


def stage3_step(u: FrameBatch, s: FrameBatch, channels_last: bool,
                dtype: torch.dtype | None = None, compile: bool = False) -> Callable[[], None]:
    """A stage-3 step: predictor on u and s, aligner both ways, MANO, L_total, backward, Adam."""
    predictor = _predictor(channels_last, dtype, u.images.device, compile)
    aligner = PoseAligner().to(u.images.device)
    parameters = [*predictor.parameters(), *aligner.parameters()]
    optimizer = torch.optim.Adam(parameters, **ADAM_OPTIONS)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        pair = forward_pair(predictor, aligner, images_u=u.images, intrinsics_u=u.intrinsics,
                            images_s=s.images, intrinsics_s=s.intrinsics,
                            gamma_s=s.targets.params)
        pair_objective(pair, s.targets).total.backward()
        optimizer.step()

    return step


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(
    steps: dict[str, Callable[[], None]], *, repeats: int,
    device: torch.device = CPU,
) -> dict[str, list[float]]:
    """Seconds per call of each step, ``repeats`` rounds of one call each in turn (after one
    warm-up call each), so that load changes during the run hit every step alike (on a GPU
    each call is timed to its end: the device is synchronised before and after)."""
    for step in steps.values():
        step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            _synchronize(device)
            start = time.perf_counter()
            step()
            _synchronize(device)
            samples[name].append(time.perf_counter() - start)
    return samples


def bench_size(
    video: VideoArrays, *, batch: int, size: int, memory_format: str, repeats: int,
    precision: str = "fp32", device: torch.device = CPU, compile: bool = False,
) -> dict:
    """Median times of the three steps at one image size, memory format and precision, and the
    median over rounds of each round's ratios (steady even if the load drifts between
    rounds)."""
    torch.manual_seed(0)
    u_frames, s_frames = sample_frames(video, batch)
    u, s = (_to(frame_batch(video, frames, size), device) for frames in (u_frames, s_frames))
    channels_last = memory_format == "channels_last"
    dtype = torch.bfloat16 if precision == "bf16" else None
    began = time.perf_counter()
    samples = time_steps({
        "bare": bare_step(u.images, channels_last, dtype, compile),
        "stage1": stage1_step(u, channels_last, dtype, compile),
        "stage3": stage3_step(u, s, channels_last, dtype, compile),
    }, repeats=repeats, device=device)
    # the warm-up calls (compiling, with --compile) are what the timed rounds did not measure
    warm_up = time.perf_counter() - began - sum(sum(v) for v in samples.values())
    rounds = list(zip(samples["bare"], samples["stage1"], samples["stage3"], strict=True))
    return {
        "size": size, "format": memory_format + ("+compile" if compile else ""),
        "precision": precision, "warm_up": warm_up,
        **{name: statistics.median(values) for name, values in samples.items()},
        "stage1_bare": statistics.median(s1 / bare for bare, s1, _ in rounds),
        "stage3_stage1": statistics.median(s3 / s1 for _, s1, s3 in rounds),
    }


def format_rows(rows: list[dict]) -> str:
    """A plain-text table: ms per step and the two ratios."""
    lines = [f"{'size':>4} {'format':>21} {'prec':>4} {'bare ms':>8} {'stage-1 ms':>10} "
             f"{'stage-3 ms':>10} {'s1/bare':>7} {'s3/s1':>6}"]
    for r in rows:
        lines.append(
            f"{r['size']:>4} {r['format']:>21} {r['precision']:>4} {1e3 * r['bare']:>8.1f} "
            f"{1e3 * r['stage1']:>10.1f} {1e3 * r['stage3']:>10.1f} {r['stage1_bare']:>7.3f} "
            f"{r['stage3_stage1']:>6.3f}"
        )
    return "\n".join(lines)


def ratio_lines(rows: list[dict]) -> list[str]:
    """One line per (size, format) and ratio, each with the word "ratio" and its target."""
    lines = []
    for r in rows:
        where = f"{r['size']} px, {r['format']}, {r['precision']}"
        for name, value, target in (
            ("stage-1 / bare", r["stage1_bare"], STAGE1_TARGET),
            ("stage-3 / stage-1", r["stage3_stage1"], STAGE3_TARGET),
        ):
            verdict = "met" if value <= target else "NOT met"
            lines.append(f"ratio {name} ({where}): {value:.3f} (target <= {target}) -> {verdict}")
    return lines


@command("bench model")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handkit bench model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=positive_int, default=torch.get_num_threads(),
                        help="torch threads (default: torch's current setting)")
    parser.add_argument("--batch", type=positive_int, default=BATCH, help="frames (stage 3: pairs)")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="timed rounds per measurement")
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=list(IMAGE_SIZES),
                        help="image sizes S in pixels")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS),
                        help="memory formats to time")
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32"],
                        help="the encoder's float type (bf16: autocast, as --precision bf16 "
                             "trains)")
    parser.add_argument("--compile", action="store_true",
                        help="also time every step with torch.compile (as training's --compile; "
                             "the compile time is printed)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where to time the steps (cuda: this machine's first GPU)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    dataset = VideoDataset(default_dataset_path(), "train")
    video_id = dataset.index["videos"][0]["id"]
    video = dataset.video(video_id)
    print(f"training steps, {device}, batch {args.batch} (stage 3: {args.batch} pairs), "
          f"fused Adam, bf16 native here: {native_bf16(device)}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"frames of {dataset.root.name}/{video_id}")
    print(f"load average before: {_load()}")
    rows = [bench_size(video, batch=args.batch, size=size, memory_format=memory_format,
                       repeats=args.repeats, precision=precision, device=device,
                       compile=compile)
            for size in args.sizes for memory_format in args.formats
            for precision in args.precisions
            for compile in ((False, True) if args.compile else (False,))]
    print(format_rows(rows))
    for r in rows:
        if r["format"].endswith("+compile"):
            print(f"warm-up with compiling ({r['size']} px, {r['format']}, {r['precision']}): "
                  f"{r['warm_up']:.0f} s")
    print("\n".join(ratio_lines(rows)))
    print(f"load average after: {_load()} ({os.cpu_count()} CPUs)")
    return 0


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
