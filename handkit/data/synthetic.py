"""Synthetic sparsely-labelled videos, written as a data set with train / val / test splits.

Each video is one hand moving in front of a fixed camera (:mod:`handkit.data.synthetic_video`;
its motion: :mod:`handkit.data.motion`); the format on disk is :mod:`handkit.data.video_format`.
Generation is atomic (a temporary sibling folder renamed at the end); each video's randomness
depends only on the seed and its index, and the index file records the hand model's digest
(:func:`model_digest`).

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

from handkit.data.motion import sample_motion
from handkit.data.synth_params import PARAM_HELP, SynthParams
from handkit.data.synthetic_video import make_video, occluder_layers, render_video
from handkit.data.video_format import INDEX_FILE, make_index, write_index, write_video
from handkit.errors import check_output_folder, command, refuse
from handkit.files import (
    FolderInUseError,
    folder_lock,
    remove_stale_temporaries,
    removed_note,
    temporary_name,
)
from handkit.mano.layer import ManoLayer
from handkit.mano.model import ManoModel
from handkit.progress import bars_disabled
from handkit.resources import sample_path

GENERATOR_NAME = "handkit.data.synthetic"
GENERATOR_VERSION = 1


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


__all__ = ["SynthParams", "default_dataset_path", "generate_dataset", "main", "make_video",
           "model_digest", "occluder_layers", "render_video", "sample_motion", "split_counts",
           "split_of"]
