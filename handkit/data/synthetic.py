"""Synthetic sparsely-labelled videos: one hand moving smoothly in front of a fixed camera.

Each video (paper Sec. II-A, a sequence V = (I_1, ..., I_T)) gets one shape beta, one skin
colour, light and background, and a motion made of random *key frames* 20-50 frames apart:

* finger pose: natural poses drawn from the model's PCA pose space (hands_mean + a few
  components with shrinking spread), interpolated between keys;
* global rotation: fingers roughly up, palm or back towards the camera, turned by random
  roll / yaw / pitch at each key and slerped between keys;
* the hand's centre (mean of its 21 joints) at 0.35-0.65 m depth, staying near the
  image centre.

Between keys the motion follows smoothstep timing 3s^2 - 2s^3 (velocity zero at keys, so it
is smooth and never leaves the range of the keys). Optional occluders (coloured blobs and bars)
slide across some frames. Every frame keeps its full ground truth; ``labelled`` marks
S_V = {0, K, 2K, ..., T-1}. The format on disk is :mod:`handkit.data.video_format`.

Command line: ``python -m handkit data synth --out DIR --videos N --frames F --size S --seed X``,
plus one flag per :class:`SynthParams` field (``--fov-deg 40``, ``--depth-mm 300 500``,
``--key-gap 10 25`` for faster motion, ``--occluder-prob 0``, ...) and ``--val-fraction`` /
``--test-fraction`` (see :func:`split_counts`). Introduced in ``notebooks/02_sparse_videos.ipynb``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from handkit import render
from handkit.data.motion import sample_motion
from handkit.data.pairs import labelled_mask
from handkit.data.synth_params import PARAM_HELP, SynthParams
from handkit.data.video_format import INDEX_FILE, VideoArrays, make_index, write_index, write_video
from handkit.errors import check_output_folder, command, refuse
from handkit.files import (
    FolderInUseError,
    folder_lock,
    remove_stale_temporaries,
    removed_note,
    temporary_name,
)
from handkit.geometry import intrinsics
from handkit.mano.layer import ManoLayer
from handkit.mano.model import ManoModel
from handkit.progress import bars_disabled
from handkit.resources import sample_path

GENERATOR_NAME = "handkit.data.synthetic"
GENERATOR_VERSION = 1
RENDER_CHUNK = 32  # frames rendered together


def occluder_layers(
    rng: np.random.Generator, num_frames: int, size: int, params: SynthParams
) -> tuple[np.ndarray, np.ndarray]:
    """Coloured blobs (ellipses) and bars sliding across the image centre for a few frames each.

    Returns:
        alpha (T, S, S) float32 coverage in [0, 1] (soft 1-pixel edges) and colour (T, S, S, 3).
    """
    alpha = np.zeros((num_frames, size, size), np.float32)
    colour = np.zeros((num_frames, size, size, 3), np.float32)
    if rng.random() >= params.occluder_prob:
        return alpha, colour
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    for _ in range(rng.integers(1, 4)):
        length = int(rng.integers(15, 61))
        start = int(rng.integers(0, max(num_frames - length, 1)))
        frames = np.arange(start, min(start + length, num_frames))
        p0 = rng.uniform(-0.1, 1.1, size=2) * size
        p1 = (size - 1) - p0 + rng.uniform(-0.25, 0.25, size=2) * size  # across the middle
        path = np.stack([p0, p1])  # the occluder's centre slides p0 -> p1
        half = rng.uniform(0.08, 0.2, size=2) * size  # half axes
        turn, is_bar, rgb = rng.uniform(0, np.pi), rng.random() < 0.5, rng.random(3)
        for k, f in enumerate(frames):
            cx, cy = path[0] + (path[1] - path[0]) * k / max(len(frames) - 1, 1)
            u = (xs - cx) * np.cos(turn) + (ys - cy) * np.sin(turn)
            v = -(xs - cx) * np.sin(turn) + (ys - cy) * np.cos(turn)
            if is_bar:
                dist = np.maximum(
                    np.abs(u) - half[0] * 2.5, np.abs(v) - half[1] * 0.4
                )  # long thin bar
            else:
                dist = (
                    np.hypot(u / half[0], v / half[1]) - 1
                ) * half.min()  # ~ pixels outside the ellipse
            cover = np.clip(0.5 - dist, 0, 1)
            colour[f] = colour[f] * (1 - cover[..., None]) + rgb * cover[..., None]
            alpha[f] = np.maximum(alpha[f], cover)
    return alpha, colour


def render_video(
    motion: dict,
    layer: ManoLayer,
    size: int,
    params: SynthParams,
    *,
    generator: torch.Generator,
    progress=None,
) -> dict[str, np.ndarray]:
    """Pose the hand, place it, and render every frame (uint8) with its visible-hand mask."""
    T = len(motion["theta"])
    theta = torch.from_numpy(motion["theta"])
    beta = torch.from_numpy(motion["beta"])[None].expand(T, 10)
    verts, joints = layer(theta, beta)  # wrist at the origin (center_idx=0), mm
    root = torch.from_numpy(motion["centre"]) - joints.mean(1)  # (T, 3)
    verts, joints = verts + root[:, None], joints + root[:, None]
    rest_verts = layer(torch.zeros(1, 48, dtype=torch.float64), beta[:1])[0][0]
    colors = render.skin_vertex_colors(rest_verts, generator=generator)
    colors = colors.float()
    light = torch.tensor([0.0, 0.5, 1.0]) + 0.5 * (torch.rand(3, generator=generator) - 0.5)
    ambient = 0.3 + 0.2 * float(torch.rand((), generator=generator))
    background = render.random_backgrounds(1, (size, size), generator=generator)
    camera = intrinsics(size, fov_deg=params.fov_deg)
    verts_f32, intrinsics_f32 = verts.float(), camera.float()  # rendering in float32 is faster
    frames, masks = [], []
    for start in range(0, T, RENDER_CHUNK):
        chunk = slice(start, min(start + RENDER_CHUNK, T))
        n = chunk.stop - chunk.start
        out = render.render_mesh(
            verts_f32[chunk],
            layer.faces,
            intrinsics_f32,
            (size, size),
            colors=colors,
            background=background.expand(n, -1, -1, -1),
            light_dir=light,
            ambient=ambient,
            supersample=params.supersample,
        )
        frames.append(out.image)
        masks.append(out.mask)
        if progress is not None:
            progress.update(n)
    return {
        "image": torch.cat(frames).numpy(),
        "mask": torch.cat(masks).numpy(),
        "root": root.numpy(),
        "joints": joints.numpy(),
        "intrinsics": camera.numpy(),
    }


def make_video(
    seed: int,
    video_index: int,
    num_frames: int,
    size: int,
    label_every: int,
    layer: ManoLayer,
    params: SynthParams,
    *,
    progress=None,
) -> VideoArrays:
    """One complete video; its randomness depends only on (seed, video_index)."""
    rng = np.random.default_rng([seed, video_index])
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    motion = sample_motion(rng, num_frames, layer, size, params)
    frame = render_video(motion, layer, size, params, generator=generator, progress=progress)
    alpha, colour = occluder_layers(rng, num_frames, size, params)
    image = frame["image"] * (1 - alpha[..., None]) + colour * alpha[..., None]
    mask = frame["mask"] & (alpha < 0.5)
    return VideoArrays(
        frames=render.to_uint8(torch.from_numpy(image)).numpy(),
        root=frame["root"],
        theta=motion["theta"],
        beta=np.tile(motion["beta"], (num_frames, 1)),
        joints=frame["joints"],
        intrinsics=np.tile(frame["intrinsics"], (num_frames, 1, 1)),
        labelled=labelled_mask(num_frames, label_every),
        mask=mask,
        occluded=(frame["mask"] & (alpha >= 0.5)).any((1, 2)),
    )


#: Default fractions of the videos held out for val and for test (8 / 2 / 2 of 12 videos).
VAL_FRACTION = TEST_FRACTION = 1 / 6


def split_counts(
    num_videos: int, *, val_fraction: float = VAL_FRACTION, test_fraction: float = TEST_FRACTION
) -> tuple[int, int]:
    """Numbers of val and test videos: round(num_videos x fraction) each (Python's rounding), at
    least one when the fraction is positive and there are 3 videos or more.

    Raises ``ValueError`` for fractions outside [0, 1) or when no training video would be left.

    >>> split_counts(12), split_counts(3), split_counts(2), split_counts(20, val_fraction=0.1)
    ((2, 2), (1, 1), (0, 0), (2, 3))
    """
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name} must be in [0, 1), got {fraction!r}")

    def count(fraction: float) -> int:
        held = round(num_videos * fraction)
        return max(1, held) if fraction > 0 and num_videos >= 3 else held

    num_val, num_test = count(val_fraction), count(test_fraction)
    if num_val + num_test >= num_videos and num_val + num_test > 0:
        raise ValueError(
            f"val_fraction {val_fraction} and test_fraction {test_fraction} hold out "
            f"{num_val} + {num_test} of {num_videos} videos, leaving none for train"
        )
    return num_val, num_test


def split_of(
    video_index: int,
    num_videos: int,
    *,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
) -> str:
    """Split by video: the last :func:`split_counts` test videos, the val videos before them,
    the others train."""
    num_val, num_test = split_counts(
        num_videos, val_fraction=val_fraction, test_fraction=test_fraction
    )
    if video_index >= num_videos - num_test:
        return "test"
    if video_index >= num_videos - num_test - num_val:
        return "val"
    return "train"


def model_digest(layer: ManoLayer) -> str:
    """sha256 of the MANO model arrays, to record which hand model made a data set."""
    digest = hashlib.sha256()
    for name, array in layer.model.arrays().items():
        digest.update(name.encode() + np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def generate_dataset(
    out: str | Path,
    *,
    num_videos: int,
    num_frames: int,
    size: int,
    seed: int,
    label_every: int = 128,
    params: SynthParams | None = None,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    force: bool = False,
    show_progress: bool = True,
    model: ManoModel | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Render a data set into ``out`` (format: :mod:`handkit.data.video_format`).

    Everything is written to a temporary folder next to ``out`` and renamed at the end, so a
    failure leaves nothing half-written. A non-empty ``out`` is replaced only with ``force``
    and only if it holds a data set (an ``index.json``). ``model``: the MANO model to use
    (default: ``ManoLayer``'s, i.e. the official files if configured, else the embedded one).
    ``params`` (default ``SynthParams()``) go into ``index.json`` (``generator.params``); the
    split fractions (see :func:`split_counts`) too, as ``generator.split_fractions``, when they
    are not the defaults (a set without that key used 1/6 and 1/6, so older sets keep their
    bytes).

    One process at a time writes a given ``out``: the hidden lock file ``.NAME.handkit.lock``
    next to it (:func:`handkit.files.folder_lock`; :class:`handkit.files.FolderInUseError`
    names the holder). The temporary folder is ``.handkit-tmp-NAME.XXXXXXXX`` next to ``out``;
    one left by a killed run is removed by the next run into ``out`` (``log`` says so).
    """
    out = Path(out)
    params = SynthParams() if params is None else params
    for name, value, low in (
        ("num_videos", num_videos, 1),
        ("num_frames", num_frames, 2),
        ("size", size, 8),
        ("label_every", label_every, 1),
    ):
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    split_counts(num_videos, val_fraction=val_fraction, test_fraction=test_fraction)  # checks
    lock = out.parent / f".{out.name}.handkit.lock"
    with folder_lock(out, what="handkit data synth", lock_file=lock):
        note = removed_note(_remove_stale(out), out.parent)
        if note and log:
            log(note)
        return _generate(out, num_videos=num_videos, num_frames=num_frames, size=size, seed=seed,
                         label_every=label_every, params=params, val_fraction=val_fraction,
                         test_fraction=test_fraction, force=force, show_progress=show_progress,
                         model=model)


#: A temporary folder of earlier versions: ``.NAME.`` and mkdtemp's 8 random characters.
_LEGACY_TEMP = r"^\.{name}\.[a-z0-9_]{{8}}$"


def _remove_stale(out: Path) -> list[tuple[Path, int]]:
    """Remove the temporary folders a killed run into ``out`` left next to it: the kit's
    (``.handkit-tmp-NAME.*``) and earlier versions' (``.NAME.XXXXXXXX`` holding nothing but
    ``videos/`` and ``index.json``)."""
    removed = remove_stale_temporaries(out.parent, target=out.name)
    pattern = re.compile(_LEGACY_TEMP.format(name=re.escape(out.name)))
    for path in sorted(out.parent.iterdir()) if out.parent.is_dir() else []:
        if (pattern.match(path.name) and path.is_dir() and not path.is_symlink()
                and {p.name for p in path.iterdir()} <= {"videos", INDEX_FILE}):
            removed.append((path, sum(p.stat().st_size for p in path.rglob("*") if p.is_file())))
            shutil.rmtree(path, ignore_errors=True)
    return removed


def _generate(out: Path, *, num_videos: int, num_frames: int, size: int, seed: int,
              label_every: int, params: SynthParams, val_fraction: float, test_fraction: float,
              force: bool, show_progress: bool, model: ManoModel | None) -> Path:
    """:func:`generate_dataset` once ``out`` is locked."""
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ValueError(f"{out} is not empty; pass force=True (--force) to replace it")
        if not (out / INDEX_FILE).is_file():
            raise ValueError(
                f"refusing to replace {out}: it is not empty and holds no {INDEX_FILE}"
            )
    layer = ManoLayer(
        use_pca=False, flat_hand_mean=True, center_idx=0, model=model, dtype=torch.float64
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=temporary_name(out.name), dir=out.parent))
    try:
        videos = []
        with tqdm(
            total=num_videos * num_frames, unit="frame", desc="rendering",
            disable=not show_progress or bars_disabled(),  # no bar in a headless notebook
        ) as bar:
            for i in range(num_videos):
                video_id = f"synth_{i:03d}"
                video = make_video(
                    seed, i, num_frames, size, label_every, layer, params, progress=bar
                )
                write_video(temp / "videos" / video_id, video)
                split = split_of(
                    i, num_videos, val_fraction=val_fraction, test_fraction=test_fraction
                )
                videos.append({"id": video_id, "split": split, "num_frames": num_frames})
        generator = {
            "name": GENERATOR_NAME,
            "version": GENERATOR_VERSION,
            "seed": seed,
            "params": asdict(params),
            "mano_model": layer.model.source,
            "mano_model_sha256": model_digest(layer),
        }
        if (val_fraction, test_fraction) != (VAL_FRACTION, TEST_FRACTION):
            generator["split_fractions"] = {"val": val_fraction, "test": test_fraction}
        write_index(
            temp,
            make_index(
                videos, image_size=(size, size), label_every=label_every, generator=generator
            ),
        )
        if out.exists():
            shutil.rmtree(out)
        temp.rename(out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return out


def default_dataset_path() -> Path:
    """The small committed data set ``data_samples/synthetic``, in the checkout or the installed
    package (:mod:`handkit.resources`)."""
    path = sample_path("synthetic")
    if not (path / INDEX_FILE).is_file():
        raise FileNotFoundError(
            f"expected the sample data set at {path} (with {INDEX_FILE}), found none; "
            "regenerate it with the command in data_samples/README.md"
        )
    return path


@command("data synth")
def main(argv: list[str] | None = None) -> int:
    """``python -m handkit data synth``: generate a synthetic sparsely-labelled video set (a
    refused input: one line on stderr, exit status 1; :mod:`handkit.errors`)."""
    parser = argparse.ArgumentParser(
        prog="python -m handkit data synth", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--videos", type=int, default=12, help="number of videos")
    parser.add_argument("--frames", type=int, default=300, help="frames per video")
    parser.add_argument("--size", type=int, default=64, help="image side, pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--label-every",
        type=int,
        default=128,
        help="K: frames 0, K, 2K, ... and the last are labelled",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing data set in --out"
    )
    parser.add_argument(
        "--val-fraction", type=float, default=VAL_FRACTION,
        help="fraction of the videos for val (default 1/6; see split_counts)",
    )
    parser.add_argument(
        "--test-fraction", type=float, default=TEST_FRACTION,
        help="fraction of the videos for test, the last ones (default 1/6)",
    )
    _add_param_flags(parser)
    args = parser.parse_args(argv)
    check_output_folder(args.out, "--out")
    try:
        out = generate_dataset(
            args.out,
            num_videos=args.videos,
            num_frames=args.frames,
            size=args.size,
            seed=args.seed,
            label_every=args.label_every,
            params=_params_from_args(args),
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
            force=args.force,
            log=lambda line: print(line, file=sys.stderr),
        )
    except (ValueError, FolderInUseError) as error:
        return refuse("data synth", str(error))
    print(f"wrote {args.videos} videos x {args.frames} frames ({args.size} px) to {out}")
    return 0


def _add_param_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`SynthParams` field (``--fov-deg``, ``--depth-mm MIN MAX``, ...);
    a flag left out keeps the field's default."""
    group = parser.add_argument_group("generator parameters (recorded in index.json)")
    for field in fields(SynthParams):
        default = field.default
        pair = isinstance(default, tuple)
        kind = type(default[0] if pair else default)
        shown = " ".join(map(str, default)) if pair else default
        group.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=kind,
            nargs=2 if pair else None,
            metavar=("MIN", "MAX") if pair else None,
            default=None,
            help=f"{PARAM_HELP[field.name]} (default {shown})",
        )


def _params_from_args(args: argparse.Namespace) -> SynthParams:
    given = {f.name: getattr(args, f.name) for f in fields(SynthParams)}
    return SynthParams(**{k: tuple(v) if isinstance(v, list) else v
                          for k, v in given.items() if v is not None})
