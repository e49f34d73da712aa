"""HO-3D (v2/v3) reader and the Mini-HO-3D splits (paper Sec. V-A, Appendix A).

Layout read: ``<root>/train/<SEQ>/rgb/<frame>.jpg`` (v3; v2 has ``.png``) and
``<root>/train/<SEQ>/meta/<frame>.pkl``. Each meta pickle is a dict of numpy arrays; the hand keys
used are ``handPose`` (48), ``handBeta`` (10), ``handJoints3D`` (21, 3) and ``camMat`` (3, 3).

Conversions to handkit's conventions (:mod:`handkit.data.record`):

* HO-3D's camera frame is OpenGL-style (y up, z towards the viewer). With D = diag(1, -1, -1),
  a point p becomes D p, so the global rotation R becomes D R (the rest of MANO is unchanged).
* ``handJoints3D`` is in MANO's 16-joints-plus-tips order, in metres -> handkit's order, mm.
  ``root`` is the converted wrist (joint 0).
* ``handPose`` is already MANO's absolute axis-angle pose: HO-3D's own code sets it as the
  model's ``fullpose`` of a model built with ``flat_hand_mean=True``, so no mean is added.
* Frames without a hand annotation are not annotated: their record has zero ground truth and
  ``joint_valid`` all False, and they are never labelled. They stay in their video with their
  image (see :class:`HO3DReader` for the three cases and why).

Meta pickles are read with :func:`handkit.mano.safe_pickle.load_restricted`, allowing only numpy
arrays, dtypes and scalars; any other global is refused and nothing in the file is run.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import roma
import torch

from handkit.data.frames import ReaderSummary, VideoFrames, read_rgb_image
from handkit.data.pairs import labelled_mask
from handkit.data.splits import mini_ho3d_sequences
from handkit.mano.model import MANO_TO_OUTPUT_ORDER, NUM_BETAS, NUM_JOINTS
from handkit.mano.safe_pickle import load_restricted

#: OpenGL-style camera (y up, z backwards) -> handkit camera (y down, z forward).
OPENGL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])
METRES_TO_MM = 1000.0
IMAGE_SUFFIXES = (".jpg", ".png")
HAND_KEYS = ("handPose", "handBeta", "handJoints3D")
#: Shapes of the hand keys (and what hand_from_meta checks).
HAND_SHAPES = {"handPose": (48,), "handBeta": (NUM_BETAS,), "handJoints3D": (NUM_JOINTS, 3)}
#: What :class:`HO3DReader` does with an image that has no meta file.
MISSING_META_CHOICES = ("unannotated", "error")

#: Reasons a frame is unannotated, as :meth:`HO3DReader.summary` names them.
NO_HAND = "hand keys are None"
ALL_NONE = "every meta value is None (camMat too)"
NO_META = "image without a meta file"
#: A note of :meth:`HO3DReader.summary`: frames whose camMat came from another frame.
CAMERA_BORROWED = "camMat taken from the nearest frame of the sequence that has one"

#: What a meta pickle may name: numpy arrays, dtypes, scalars, and the bytes encoding Python 3
#: uses at protocol 2 (a subset of the MANO allow-list of :mod:`handkit.mano.safe_pickle`).
META_ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
})


def load_meta(path: str | Path) -> dict:
    """One HO-3D meta pickle as a dict, read without running any code it might contain.

    Raises:
        FileNotFoundError: the file does not exist.
        handkit.mano.safe_pickle.UnsafePickleError: the pickle names a global other than numpy's
            array/dtype/scalar builders (nothing in it is run).
        ValueError: the pickle does not hold a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HO-3D meta file not found: expected {path}")
    meta = load_restricted(path, allowed=META_ALLOWED_GLOBALS, expected="an HO-3D meta file")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a dict of arrays, found {type(meta).__name__}")
    return meta


def hand_from_meta(meta: dict, *, source: str = "HO-3D meta") -> dict[str, np.ndarray] | None:
    """HO-3D hand annotation -> handkit conventions, or None if the frame has no hand annotation.

    Args:
        meta: a meta dict with ``handPose`` (48,), ``handBeta`` (10,), ``handJoints3D`` (21, 3) in
            metres and OpenGL-style camera coordinates.
        source: the meta file, named in errors.
    Returns:
        dict with ``theta`` (48,) absolute axis-angles (global rotation in handkit's camera frame),
        ``beta`` (10,), ``joints`` (21, 3) mm in handkit order, ``root`` (3,) mm (= joints[0]).
    """
    if any(meta.get(key) is None for key in HAND_KEYS):
        return None
    pose, beta, joints_gl = (_array(meta, key, HAND_SHAPES[key], source) for key in HAND_KEYS)
    joints = joints_gl[list(MANO_TO_OUTPUT_ORDER)] @ OPENGL_TO_CAMERA.T * METRES_TO_MM  # (21, 3)
    global_rot = roma.rotvec_to_rotmat(torch.as_tensor(pose[:3]))  # (3, 3)
    flipped = torch.as_tensor(OPENGL_TO_CAMERA) @ global_rot
    theta = np.concatenate([roma.rotmat_to_rotvec(flipped).numpy(), pose[3:]])
    return {"theta": theta, "beta": beta, "joints": joints, "root": joints[0].copy()}


def _array(meta: dict, key: str, shape: tuple[int, ...], source: str) -> np.ndarray:
    try:
        value = np.asarray(meta[key], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {key!r} must be numbers of shape {shape} ({error})") from None
    if value.shape != shape:
        raise ValueError(f"{source}: {key!r} must have shape {shape}, got {value.shape}")
    return value


class HO3DReader(VideoFrames):
    """HO-3D ``train/`` sequences as videos of :class:`~handkit.data.record.FrameRecord` s.

    Every image of a sequence is a frame of its video, in file-name order, so a frame's position
    is its time and S_V and the gaps |u - s| of Sec. IV are those of the real video. Frames
    without a hand annotation are kept as **unannotated** frames (never labelled, zero ground
    truth, ``joint_valid`` all False) with their image, which stage 3 and scenario 2 can still
    use; :meth:`summary` counts them by reason:

    * the hand keys of the meta file are None (HO-3D v2 and v3);
    * every meta value is None, ``camMat`` included (HO-3D v3): the intrinsics are then taken
      from the nearest frame of the sequence that has a ``camMat`` (ties: the earlier one; one
      camera films a sequence), and the summary's notes list those frames;
    * the image has no meta file at all (reported for v3, e.g. ABF12 frames 0678-0728): treated
      as the previous case, or a ``FileNotFoundError`` naming the files with
      ``missing_meta="error"``.

    A sequence where no frame has a ``camMat`` raises ``ValueError`` naming its meta folder.

    **Lazy index.** Building the reader lists the ``rgb/`` and ``meta/`` folders (this gives
    each sequence's frames and the images without a meta file) and reads the meta files of the
    label-grid frames {0, K, 2K, ..., T-1} only: a frame off the grid is never labelled, so
    these decide S_V (``labelled_mask``, ``labelled_masks()``, all that training needs)
    exactly. That is about 1 % of HO-3D's meta files at K = 128; on a generated 60 x 1000-frame
    tree the build went from about a minute (every meta read and converted) to a fraction of a
    second (``python -m handkit bench data``). The rest is read on demand and remembered (a
    status code and the camera per frame, a few bytes; hands are converted when a frame is
    read, not kept):

    * ``reader[i]`` reads frame i's meta (and, for a frame without ``camMat``, its neighbours'
      metas outwards until one has a camera);
    * ``annotated_mask``, ``annotated_masks()``, ``split_arrays()`` and :meth:`summary` need
      every frame's status: the first of them reads every meta file not read yet, once per
      reader (11 s for the 60k files of that tree, from the page cache; an evaluation reads the
      frames' images too, which costs more).

    So a broken meta file off the grid (a truncated download, a value of the wrong shape)
    raises its error, naming the file, when that frame is first read rather than when the
    reader is built. ``missing_meta="error"`` and a sequence without any ``camMat`` are still
    refused at build time (the folder listing and the grid frames show them; looking for a
    sequence's first camera reads further metas only when no grid frame has one). Nothing is
    written to disk.

    Args:
        root: the HO-3D folder holding ``train/``.
        sequences: names of the sequences to read (default: all folders of ``train/``).
        label_every: K of the label grid (Sec. II-A).
        missing_meta: "unannotated" (default) or "error", for images without a meta file.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        sequences=None,
        label_every: int = 128,
        missing_meta: str = "unannotated",
    ):
        if missing_meta not in MISSING_META_CHOICES:
            raise ValueError(
                f"missing_meta must be one of {MISSING_META_CHOICES}, got {missing_meta!r}"
            )
        self.train_dir = Path(root) / "train"
        if not self.train_dir.is_dir():
            raise FileNotFoundError(f"HO-3D train folder not found: expected {self.train_dir}")
        if sequences is None:
            sequences = sorted(p.name for p in self.train_dir.iterdir() if p.is_dir())
        self._sequences = {
            name: self._open_sequence(name, missing_meta, label_every) for name in sequences
        }
        # VideoFrames wants an annotated mask; only the grid frames' entries are known now, and
        # they decide labelled_mask exactly. The full mask is the cached property below.
        grid_known, reasons = {}, {reason: [] for reason in STATUS_REASONS.values()}
        for name, seq in self._sequences.items():
            off_grid = ~labelled_mask(len(seq.names), label_every)
            grid_known[name] = off_grid | (seq.status == ANNOTATED)
            for k in np.flatnonzero(~grid_known[name]):
                reasons[STATUS_REASONS[seq.status[k]]].append(f"{name}/{seq.stem(k)}")
        super().__init__(grid_known, label_every=label_every, unannotated=reasons)
        del self.annotated_mask  # drop the grid-only mask: the cached property reads them all

    def _open_sequence(self, name: str, missing_meta: str, label_every: int) -> _Sequence:
        """List one sequence's files, read its grid frames' metas and make sure it has a
        camera."""
        rgb_dir, meta_dir = self.train_dir / name / "rgb", self.train_dir / name / "meta"
        if not rgb_dir.is_dir():
            raise FileNotFoundError(f"HO-3D sequence {name!r}: expected image folder {rgb_dir}")
        names = sorted(e.name for e in os.scandir(rgb_dir) if e.name.endswith(IMAGE_SUFFIXES))
        if not names:
            raise FileNotFoundError(
                f"HO-3D sequence {name!r}: expected {IMAGE_SUFFIXES} images in {rgb_dir}, "
                "found none"
            )
        metas = set()
        if meta_dir.is_dir():
            metas = {e.name for e in os.scandir(meta_dir) if e.name.endswith(".pkl")}
        seq = _Sequence(rgb_dir, meta_dir, names)
        missing = [k for k in range(len(names)) if seq.meta_path(k).name not in metas]
        if missing and missing_meta == "error":
            shown = ", ".join(str(seq.meta_path(k)) for k in missing[:3])
            raise FileNotFoundError(
                f"HO-3D sequence {name!r}: {len(missing)} images have no meta file, expected "
                f"{shown}{', ...' if len(missing) > 3 else ''}"
            )
        seq.status[missing] = META_MISSING
        for k in np.flatnonzero(labelled_mask(len(names), label_every)):
            seq.read(k)
        if not (seq.cam_id >= 0).any():  # no grid frame has a camera: look further, in order
            for k in range(len(names)):
                if seq.status[k] == UNKNOWN:
                    seq.read(k)
                if seq.cam_id[k] >= 0:
                    break
            else:
                raise ValueError(seq.no_camera_message())
        return seq

    @cached_property
    def annotated_mask(self) -> np.ndarray:
        """(N,) bool, True where the frame has a usable hand annotation. Computed on first use
        by reading every meta file not read yet (see the class docstring); :meth:`summary`'s
        reasons and notes are filled at the same time."""
        masks, notes = [], []
        reasons = {reason: [] for reason in STATUS_REASONS.values()}
        for name, seq in self._sequences.items():
            for k in np.flatnonzero(seq.status == UNKNOWN):
                seq.read(k)
            masks.append(seq.status == ANNOTATED)
            for k in np.flatnonzero(seq.status != ANNOTATED):
                reasons[STATUS_REASONS[seq.status[k]]].append(f"{name}/{seq.stem(k)}")
            notes += [f"{name}/{seq.stem(k)}" for k in np.flatnonzero(seq.cam_id < 0)]
        self._unannotated = {reason: tuple(v) for reason, v in reasons.items() if v}
        self._notes = {CAMERA_BORROWED: tuple(notes)} if notes else {}
        return np.concatenate(masks or [np.zeros(0, bool)])

    def summary(self) -> ReaderSummary:
        """As :meth:`VideoFrames.summary`; reads every meta file not read yet (once)."""
        _ = self.annotated_mask
        return super().summary()

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        seq = self._sequences[video_id]
        return read_rgb_image(seq.rgb_dir / seq.names[frame_index], dataset="HO-3D")

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        seq = self._sequences[video_id]
        meta = seq.read(frame_index)
        hand = None
        if seq.status[frame_index] == ANNOTATED:
            hand = hand_from_meta(meta, source=str(seq.meta_path(frame_index)))
        valid = hand is not None
        hand = hand or _empty_hand()
        return {
            "intrinsics": seq.camera(frame_index).copy(),
            "root": hand["root"].copy(),
            "theta": hand["theta"].copy(),
            "beta": hand["beta"].copy(),
            "joints": hand["joints"].copy(),
            "joint_valid": np.full(NUM_JOINTS, valid),
        }


#: Status codes of a frame in :class:`_Sequence` (UNKNOWN: its meta has not been read yet).
UNKNOWN, ANNOTATED, HAND_NONE, META_ALL_NONE, META_MISSING = -1, 0, 1, 2, 3
#: The summary's reason for each unannotated status.
STATUS_REASONS = {HAND_NONE: NO_HAND, META_ALL_NONE: ALL_NONE, META_MISSING: NO_META}


class _Sequence:
    """One HO-3D sequence: its image names and what is known of each frame so far.

    ``status`` (T,) int8 is each frame's status code (UNKNOWN until its meta is read);
    ``cam_id`` (T,) int32 the frame's own camMat as an index into ``cameras`` (the distinct
    camMats met, usually one per sequence), -1 when it has none or is not read yet. A few bytes
    per frame, so a reader pickles cheaply into DataLoader workers.
    """

    def __init__(self, rgb_dir: Path, meta_dir: Path, names: list[str]):
        self.rgb_dir, self.meta_dir, self.names = rgb_dir, meta_dir, names
        self.status = np.full(len(names), UNKNOWN, dtype=np.int8)
        self.cam_id = np.full(len(names), -1, dtype=np.int32)
        self.cameras: list[np.ndarray] = []

    def stem(self, k: int) -> str:
        """File name of frame ``k`` without its suffix (e.g. "0042")."""
        return os.path.splitext(self.names[k])[0]

    def meta_path(self, k: int) -> Path:
        return self.meta_dir / f"{self.stem(k)}.pkl"

    def read(self, k: int) -> dict | None:
        """Read and check frame ``k``'s meta, remember its status and camera, return the meta
        dict (None for an image without a meta file). Errors name the file."""
        if self.status[k] == META_MISSING:
            return None
        path = self.meta_path(k)
        meta = load_meta(path)
        if all(value is None for value in meta.values()):
            self.status[k] = META_ALL_NONE
            return meta
        cam = None if meta.get("camMat") is None else _array(meta, "camMat", (3, 3), str(path))
        has_hand = all(meta.get(key) is not None for key in HAND_KEYS)
        if has_hand:
            for key, shape in HAND_SHAPES.items():
                _array(meta, key, shape, str(path))
        if cam is not None:
            self.cam_id[k] = self._camera_id(cam)
        self.status[k] = ANNOTATED if has_hand else HAND_NONE
        return meta

    def _camera_id(self, cam: np.ndarray) -> int:
        for i, seen in enumerate(self.cameras):
            if np.array_equal(seen, cam):
                return i
        self.cameras.append(cam)
        return len(self.cameras) - 1

    def camera(self, k: int) -> np.ndarray:
        """(3, 3) intrinsics of frame ``k``: its own camMat, else the nearest frame's that has one
        (ties: the earlier frame), reading neighbours' metas outwards as needed."""
        if self.status[k] == UNKNOWN:
            self.read(k)
        for distance in range(len(self.names)):
            for j in (k - distance, k + distance):
                if 0 <= j < len(self.names):
                    if self.status[j] == UNKNOWN:
                        self.read(j)
                    if self.cam_id[j] >= 0:
                        return self.cameras[self.cam_id[j]]
        raise ValueError(self.no_camera_message())

    def no_camera_message(self) -> str:
        return (f"{self.meta_dir}: no meta file of this sequence has a camMat, so its "
                "intrinsics are unknown")


def _empty_hand() -> dict[str, np.ndarray]:
    """Zero ground truth for frames without annotation (``joint_valid`` is all False there)."""
    return {
        "theta": np.zeros(48),
        "beta": np.zeros(NUM_BETAS),
        "joints": np.zeros((NUM_JOINTS, 3)),
        "root": np.zeros(3),
    }


def mini_ho3d(
    root: str | Path, split: str, *, label_every: int = 128, missing_meta: str = "unannotated"
) -> HO3DReader:
    """The Mini-HO-3D ``split`` ("train", "val", "test") of HO-3D folder ``root`` (Appendix A);
    ``missing_meta`` as in :class:`HO3DReader`."""
    train_dir = Path(root) / "train"
    if not train_dir.is_dir():
        raise FileNotFoundError(f"HO-3D train folder not found: expected {train_dir}")
    available = [p.name for p in train_dir.iterdir() if p.is_dir()]
    sequences = mini_ho3d_sequences(available, split)
    return HO3DReader(
        root, sequences=sequences, label_every=label_every, missing_meta=missing_meta
    )
