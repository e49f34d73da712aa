"""The on-disk format of handkit's video datasets, and its reader.

Layout of a dataset folder::

    index.json                        what is in the set (see below)
    videos/<video_id>/frames.npz      one array ``frames`` (T, H, W, 3) uint8 RGB, compressed
    videos/<video_id>/annotations.npz the arrays of :data:`ANNOTATION_SHAPES`, one row per frame

The arrays keep their on-disk names; one is read under another name: ``K``: camera intrinsics
(read as ``.intrinsics``, :data:`FIELD_OF_ARRAY`). In handkit K alone means the label spacing
(``label_every``).

``index.json`` holds ``format`` (= :data:`FORMAT_NAME`), ``format_version``, ``image_size``
[H, W], ``label_every`` (K of Sec. II-A), ``generator`` (name, version, parameters) and
``videos``: a list of ``{"id", "split", "num_frames"}``. Every frame has full ground truth;
``labelled`` marks S_V = {0, K, 2K, ..., T - 1}, the frames whose labels may be used for
training (the others are kept for evaluation only).

Frames are compressed (about 3x smaller than raw for the sample set, so it stays small in git)
and decompressed a whole video at a time. Files are written deterministically (zip entries
with a fixed date, keys in a fixed order) so a
seeded generator gives identical bytes on one machine (on another CPU a few pixels and the last
bits of floats may differ). Conventions: :mod:`handkit.data.record`.
Introduced in ``notebooks/02_sparse_videos.ipynb``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zlib import error as zlib_error

import numpy as np

from handkit.data.frames import SplitArrays, VideoFrames
from handkit.data.pairs import labelled_mask
from handkit.data.splits import SPLITS
from handkit.npz import write_npz

FORMAT_NAME = "handkit-videos"
FORMAT_VERSION = 2
INDEX_FILE = "index.json"
FRAMES_FILE = "frames.npz"
ANNOTATIONS_FILE = "annotations.npz"

#: Per-frame annotation arrays by their names on disk: trailing shape and dtype (T is the first
#: axis of each).
ANNOTATION_SHAPES = {
    "root": ((3,), np.float64),
    "theta": ((48,), np.float64),
    "beta": ((10,), np.float64),
    "joints": ((21, 3), np.float64),
    "K": ((3, 3), np.float64),  # camera intrinsics, read as .intrinsics
    "labelled": ((), np.bool_),
    "mask": (None, np.bool_),  # (H, W), the visible hand
    "occluded": ((), np.bool_),  # an occluder is drawn over this frame
}
#: The :class:`VideoArrays` field of an on-disk array whose name differs from it.
FIELD_OF_ARRAY = {"K": "intrinsics"}


def field_name(array_name: str) -> str:
    """The :class:`VideoArrays` field holding the on-disk array ``array_name``.

    >>> field_name("K"), field_name("joints")
    ('intrinsics', 'joints')
    """
    return FIELD_OF_ARRAY.get(array_name, array_name)


@dataclass(frozen=True)
class VideoArrays:
    """One whole video.

    Attributes:
        frames: (T, H, W, 3) uint8.
        root: (T, 3) wrist position, camera space, mm.
        theta: (T, 48) absolute axis-angle pose.
        beta: (T, 10) shape (the same row for every frame of a synthetic video).
        joints: (T, 21, 3) camera-space joints, mm.
        intrinsics: (T, 3, 3) intrinsics.
        labelled: (T,) bool, S_V.
        mask: (T, H, W) bool visible-hand mask.
        occluded: (T,) bool, frames with an occluder drawn over them.
    """

    frames: np.ndarray
    root: np.ndarray
    theta: np.ndarray
    beta: np.ndarray
    joints: np.ndarray
    intrinsics: np.ndarray
    labelled: np.ndarray
    mask: np.ndarray
    occluded: np.ndarray

    def annotations(self) -> dict[str, np.ndarray]:
        """The annotation arrays by their on-disk names (``K`` for ``.intrinsics``), in
        :data:`ANNOTATION_SHAPES` order."""
        return {name: getattr(self, field_name(name)) for name in ANNOTATION_SHAPES}


def check_video(video: VideoArrays, *, where: str = "video") -> None:
    """Raise ``ValueError`` unless every array has T rows and its expected shape and dtype."""
    frames = video.frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"{where}: frames must be uint8 (T, H, W, 3), found {frames.dtype} {frames.shape}"
        )
    T, H, W = frames.shape[:3]
    for name, (tail, dtype) in ANNOTATION_SHAPES.items():
        value = getattr(video, field_name(name))
        expected = (T,) + ((H, W) if tail is None else tail)
        if value.shape != expected or value.dtype != dtype:
            raise ValueError(
                f"{where}: {name} must be {np.dtype(dtype).name} {expected}, "
                f"found {value.dtype} {value.shape}"
            )


def write_video(folder: Path, video: VideoArrays) -> None:
    """Write one video's ``frames.npy`` and ``annotations.npz`` into ``folder`` (created)."""
    check_video(video, where=str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    write_npz(folder / FRAMES_FILE, {"frames": video.frames})
    write_npz(folder / ANNOTATIONS_FILE, video.annotations())


def write_index(root: Path, index: dict) -> None:
    """Write ``index.json`` (sorted keys, so the bytes are reproducible)."""
    (root / INDEX_FILE).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")


def make_index(
    videos: list[dict], *, image_size: tuple[int, int], label_every: int, generator: dict
) -> dict:
    """The ``index.json`` content for ``videos`` (dicts with id, split, num_frames)."""
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "image_size": [int(image_size[0]), int(image_size[1])],
        "label_every": int(label_every),
        "generator": generator,
        "videos": videos,
    }


def read_index(root: str | Path) -> dict:
    """Read and check ``index.json`` of a dataset folder."""
    path = Path(root) / INDEX_FILE
    if not path.is_file():
        raise ValueError(f"expected a dataset index at {path}, found no such file")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid JSON file ({error}); is it truncated?") from None
    if not isinstance(index, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(index).__name__}")
    if index.get("format") != FORMAT_NAME or index.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: expected format {FORMAT_NAME!r} version {FORMAT_VERSION}, "
            f"found {index.get('format')!r} version {index.get('format_version')!r}"
        )
    missing = [k for k in ("image_size", "label_every", "videos") if k not in index]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    for video in index["videos"]:
        if set(video) < {"id", "split", "num_frames"} or video["split"] not in SPLITS:
            raise ValueError(
                f"{path}: each video needs id, split in {SPLITS} and num_frames, found {video}"
            )
    return index


def read_video(folder: str | Path) -> VideoArrays:
    """Read one video folder (frames decompressed) and check it."""
    folder = Path(folder)
    for name in (FRAMES_FILE, ANNOTATIONS_FILE):
        if not (folder / name).is_file():
            raise ValueError(f"expected {folder / name}, found no such file")
    frames = _load_arrays(folder / FRAMES_FILE, ("frames",))["frames"]
    annotations = _load_arrays(folder / ANNOTATIONS_FILE, tuple(ANNOTATION_SHAPES))
    video = VideoArrays(frames=frames,
                        **{field_name(name): value for name, value in annotations.items()})
    check_video(video, where=str(folder))
    return video


def _load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an .npz archive; errors (absent arrays, a truncated or corrupt
    archive) name the file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            found = sorted(archive.files)
            arrays = {name: archive[name] for name in names if name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib_error) as error:
        raise ValueError(f"{path}: cannot read this .npz archive ({error})") from None
    missing = [name for name in names if name not in arrays]
    if missing:
        raise ValueError(f"{path}: expected arrays {missing}, found {found}")
    return arrays


class VideoDataset(VideoFrames):
    """Reader of a dataset folder: indexing gives :class:`FrameRecord` s, frames numbered 0..N-1
    video after video (see :class:`handkit.data.frames.VideoFrames`).

    Whole videos are decompressed on first use and cached; pickling (e.g. for DataLoader workers
    started with "spawn") leaves the cache behind, so it stays cheap.

    Args:
        root: the dataset folder (holding ``index.json``).
        split: "train", "val", "test", or None for every video.
        label_every: K of S_V; None takes the set's own (``index.json``). Every frame keeps its
            ground truth, so any K can be chosen (e.g. for experiments over K).
        videos: keep only these video ids (of the split), in the set's order; None keeps all.
    """

    def __init__(self, root: str | Path, split: str | None = None, *,
                 label_every: int | None = None, videos: Sequence[str] | None = None):
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        if label_every is not None and (isinstance(label_every, bool) or not isinstance(
                label_every, (int, np.integer)) or label_every < 1):
            raise ValueError(f"label_every must be None or an integer >= 1, got {label_every!r}")
        self.root = Path(root)
        self.index = read_index(self.root)
        self.image_size = tuple(self.index["image_size"])
        chosen = [v for v in self.index["videos"] if split is None or v["split"] == split]
        if videos is not None:
            unknown = sorted(set(videos) - {v["id"] for v in chosen})
            if unknown:
                raise ValueError(f"{self.root}: no video(s) {unknown} in split {split!r}")
            chosen = [v for v in chosen if v["id"] in set(videos)]
        super().__init__(
            {v["id"]: np.ones(v["num_frames"], bool) for v in chosen},
            label_every=int(label_every or self.index["label_every"]),
        )
        self._cache: dict[str, VideoArrays] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cache": {}}

    def video(self, video_id: str) -> VideoArrays:
        """Whole-video arrays (read once, then cached), checked against ``index.json``."""
        if video_id not in self._cache:
            self.video_indices(video_id)  # KeyError for unknown ids
            video = read_video(self.root / "videos" / video_id)
            where = self.root / "videos" / video_id
            expected_t = len(self.video_indices(video_id))
            if video.frames.shape[:3] != (expected_t, *self.image_size):
                raise ValueError(
                    f"{where}: index.json expects frames (T, H, W) = "
                    f"{(expected_t, *self.image_size)}, "
                    f"found {video.frames.shape[:3]}"
                )
            stored_k = self.index["label_every"]
            if not np.array_equal(video.labelled, labelled_mask(expected_t, stored_k)):
                raise ValueError(
                    f"{where}: labelled mask is not frames 0, K, 2K, ..., T-1 "
                    f"for the set's K = {stored_k}"
                )
            self._cache[video_id] = video
        return self._cache[video_id]

    def split_arrays(self, *, images: bool = False) -> SplitArrays:
        """Every frame's arrays stacked, video after video (whole videos at once; see
        :meth:`handkit.data.frames.VideoFrames.split_arrays`). Every frame is annotated."""
        videos = [self.video(video_id) for video_id in self.video_ids]
        video, frame = self.locate(np.arange(len(self)))

        def stack(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
            parts = [getattr(v, name) for v in videos]
            return np.concatenate(parts) if parts else np.zeros((0, *shape), dtype)

        return SplitArrays(
            video=video,
            frame=frame,
            intrinsics=stack("intrinsics", (3, 3), np.float64),
            root=stack("root", (3,), np.float64),
            theta=stack("theta", (48,), np.float64),
            beta=stack("beta", (10,), np.float64),
            joints=stack("joints", (21, 3), np.float64),
            joint_valid=np.ones((len(self), 21), dtype=bool),
            annotated=self.annotated_mask.copy(),
            labelled=self.labelled_mask.copy(),
            images=stack("frames", (*self.image_size, 3), np.uint8) if images else None,
        )

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        return np.array(self.video(video_id).frames[frame_index])

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        v = self.video(video_id)
        return {
            "intrinsics": v.intrinsics[frame_index],
            "root": v.root[frame_index],
            "theta": v.theta[frame_index],
            "beta": v.beta[frame_index],
            "joints": v.joints[frame_index],
            "joint_valid": np.ones(21, bool),
            "mask": v.mask[frame_index],
        }
