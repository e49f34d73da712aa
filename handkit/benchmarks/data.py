"""``python -m handkit bench data``: how long building an HO-3D reader takes on a big release.

Writes an HO-3D-like tree into a temporary folder (default 60 sequences x 1000 frames, the size
of HO-3D v3's ``train/``; small meta pickles with the keys of the real ones, one tiny JPEG
copied for every image, and the v3 quirks: frames whose meta values are all None and a run of
images without a meta file), then times:

* ``HO3DReader(root)``: listing the files and reading the meta of the label-grid frames only;
* ``labelled_masks()``: S_V (already known after the build);
* ``annotated_mask``: every meta file read once (what evaluation and ``summary()`` need);
* the same build through :func:`handkit.data.datasets.open_dataset` for the Mini-HO-3D train
  split.

Times are medians over ``--repeats`` builds with the files in the OS page cache (a first read
from a cold disk is slower, and more so for the full scan, which reads every meta file).
"""

from __future__ import annotations

import argparse
import io
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from handkit.data.datasets import open_dataset
from handkit.data.ho3d import HO3DReader
from handkit.errors import command, positive_int

#: HO-3D sequence names the generated tree uses first (Mini-HO-3D val and test among them).
SEQUENCE_PREFIXES = ("ABF", "BB", "GPMF", "GSF", "MC", "MDF", "SB", "ShSu", "SM", "SMu", "SiBF",
                     "SS")
#: Every ALL_NONE_EVERY-th frame has a meta whose values are all None (HO-3D v3).
ALL_NONE_EVERY = 97
#: Frames [MISSING_META_START, MISSING_META_START + MISSING_META_RUN) of sequence 0 have no meta
#: file (as ABF12 0678-0728 in the v3 release).
MISSING_META_START, MISSING_META_RUN = 678, 51


def sequence_names(count: int) -> list[str]:
    """``count`` HO-3D-style names: ABF10, BB10, ..., then ABF11, BB11, ..."""
    return [f"{SEQUENCE_PREFIXES[i % len(SEQUENCE_PREFIXES)]}{10 + i // len(SEQUENCE_PREFIXES)}"
            for i in range(count)]


def tiny_jpeg() -> bytes:
    """An 8 x 8 grey JPEG (every image of the generated tree is a copy)."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def ho3d_like_meta(rng: np.random.Generator) -> dict:
    """A meta dict with the keys and dtypes of HO-3D's (made-up values, a hand 0.6 m away)."""
    joints = rng.normal(0.0, 0.03, (21, 3)) + np.array([0.0, 0.0, -0.6])  # OpenGL frame, m
    return {
        "handPose": rng.normal(0, 0.2, 48).astype(np.float32),
        "handTrans": joints[0].astype(np.float32),
        "handBeta": rng.normal(0, 0.5, 10).astype(np.float32),
        "handJoints3D": joints.astype(np.float32),
        "camMat": np.array([[614.6, 0, 320.3], [0, 614.7, 240.8], [0, 0, 1]], np.float32),
        "objName": "003_cracker_box",
        "objLabel": 1,
        "objRot": rng.normal(0, 1, (3, 1)).astype(np.float32),
        "objTrans": np.array([0.0, 0.0, -0.6], np.float32),
    }


def write_ho3d_like_tree(root: Path, *, sequences: int, frames: int, seed: int = 0) -> None:
    """``<root>/train/<SEQ>/{rgb,meta}`` for ``sequences`` x ``frames`` frames (see the module
    docstring for the quirks included)."""
    rng = np.random.default_rng(seed)
    jpeg = tiny_jpeg()
    for position, name in enumerate(sequence_names(sequences)):
        rgb, meta = root / "train" / name / "rgb", root / "train" / name / "meta"
        rgb.mkdir(parents=True)
        meta.mkdir(parents=True)
        for frame in range(frames):
            stem = f"{frame:04d}"
            (rgb / f"{stem}.jpg").write_bytes(jpeg)
            if position == 0 and 0 <= frame - MISSING_META_START < MISSING_META_RUN:
                continue
            content = ho3d_like_meta(rng)
            if frame % ALL_NONE_EVERY == ALL_NONE_EVERY - 1:
                content = dict.fromkeys(content)
            (meta / f"{stem}.pkl").write_bytes(pickle.dumps(content, protocol=2))


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(root: Path, *, repeats: int) -> dict[str, float]:
    """Seconds of each step listed in the module docstring."""
    def full_scan() -> None:
        _ = HO3DReader(root).annotated_mask

    return {
        "build HO3DReader (lists files, reads grid metas)": median_seconds(
            lambda: HO3DReader(root), repeats),
        "build + labelled_masks()": median_seconds(
            lambda: HO3DReader(root).labelled_masks(), repeats),
        "build + annotated_mask (reads every meta)": median_seconds(full_scan, repeats),
        "open_dataset('ho3d', 'train')": median_seconds(
            lambda: open_dataset("ho3d", "train", root=root), repeats),
    }


@command("bench data")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handkit bench data",
        description="Time building an HO-3D reader over a generated HO-3D-like tree.",
    )
    parser.add_argument("--sequences", type=positive_int, default=60)
    parser.add_argument("--frames", type=positive_int, default=1000, help="frames per sequence")
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--root", type=Path, default=None,
                        help="an existing generated tree to reuse (default: write one to a "
                             "temporary folder and delete it afterwards)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="handkit-bench-data-") as scratch:
        root = args.root
        if root is None:
            root = Path(scratch)
            start = time.perf_counter()
            write_ho3d_like_tree(root, sequences=args.sequences, frames=args.frames)
            print(f"wrote {args.sequences} sequences x {args.frames} frames in "
                  f"{time.perf_counter() - start:.1f} s")
        reader = HO3DReader(root)
        print(f"{len(reader.video_ids)} sequences, {len(reader)} frames, "
              f"{int(reader.labelled_mask.sum())} labelled at K = {reader.label_every}")
        for step, seconds in measure(root, repeats=args.repeats).items():
            print(f"  {step:<52} {seconds:8.3f} s")
    return 0
