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

from pathlib import Path

import numpy as np
import roma
import torch

from handkit.data.frames import VideoFrames, read_rgb_image
from handkit.data.pairs import nearest_labelled
from handkit.data.splits import mini_ho3d_sequences
from handkit.mano.model import MANO_TO_OUTPUT_ORDER, NUM_BETAS, NUM_JOINTS
from handkit.mano.safe_pickle import load_restricted

#: OpenGL-style camera (y up, z backwards) -> handkit camera (y down, z forward).
OPENGL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])
METRES_TO_MM = 1000.0
IMAGE_SUFFIXES = (".jpg", ".png")
HAND_KEYS = ("handPose", "handBeta", "handJoints3D")
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
    pose = _array(meta, "handPose", (48,), source)
    beta = _array(meta, "handBeta", (NUM_BETAS,), source)
    joints_gl = _array(meta, "handJoints3D", (NUM_JOINTS, 3), source)
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
    * every meta value is None, ``camMat`` included (HO-3D v3): K is then taken from the nearest
      frame of the sequence that has a ``camMat`` (ties: the earlier one; one camera films a
      sequence), and the summary's notes list those frames;
    * the image has no meta file at all (reported for v3, e.g. ABF12 frames 0678-0728): treated
      as the previous case, or a ``FileNotFoundError`` naming the files with
      ``missing_meta="error"``.

    A sequence where no frame has a ``camMat`` raises ``ValueError`` naming its meta folder.

    Args:
        root: the HO-3D folder holding ``train/``.
        sequences: names of the sequences to read (default: all folders of ``train/``).
        label_every: K of the label grid (Sec. II-A).
        missing_meta: "unannotated" (default) or "error", for images without a meta file.

    Construction reads every meta pickle of the chosen sequences (small files) to know which
    frames are annotated; images are only read by ``__getitem__``.
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
        self._frames: dict[str, list[tuple[Path, dict | None, np.ndarray]]] = {}
        reasons: dict[str, list[str]] = {NO_HAND: [], ALL_NONE: [], NO_META: []}
        notes: dict[str, list[str]] = {CAMERA_BORROWED: []}
        for name in sequences:
            self._frames[name] = self._index_sequence(name, missing_meta, reasons, notes)
        annotated = {
            name: np.array([hand is not None for _, hand, _ in frames], dtype=bool)
            for name, frames in self._frames.items()
        }
        super().__init__(annotated, label_every=label_every, unannotated=reasons, notes=notes)

    def _index_sequence(
        self, name: str, missing_meta: str, reasons: dict, notes: dict
    ) -> list[tuple[Path, dict | None, np.ndarray]]:
        """(image, hand or None, K) per frame; appends "SEQ/frame" names to reasons and notes."""
        rgb_dir, meta_dir = self.train_dir / name / "rgb", self.train_dir / name / "meta"
        if not rgb_dir.is_dir():
            raise FileNotFoundError(f"HO-3D sequence {name!r}: expected image folder {rgb_dir}")
        images = sorted(p for p in rgb_dir.iterdir() if p.suffix in IMAGE_SUFFIXES)
        if not images:
            raise FileNotFoundError(
                f"HO-3D sequence {name!r}: expected {IMAGE_SUFFIXES} images in {rgb_dir}, "
                "found none"
            )
        missing = [meta_dir / f"{image.stem}.pkl" for image in images]
        missing = [path for path in missing if not path.is_file()]
        if missing and missing_meta == "error":
            raise FileNotFoundError(
                f"HO-3D sequence {name!r}: {len(missing)} images have no meta file, expected "
                f"{', '.join(str(p) for p in missing[:3])}{', ...' if len(missing) > 3 else ''}"
            )
        hands, cameras = [], []
        for image in images:
            hand, cam, reason = _frame_meta(meta_dir / f"{image.stem}.pkl")
            hands.append(hand)
            cameras.append(cam)
            if reason is not None:
                reasons[reason].append(f"{name}/{image.stem}")
        for k in _borrow_cameras(cameras, where=meta_dir):
            notes[CAMERA_BORROWED].append(f"{name}/{images[k].stem}")
        return list(zip(images, hands, cameras, strict=True))

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        return read_rgb_image(self._frames[video_id][frame_index][0], dataset="HO-3D")

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        _, hand, cam = self._frames[video_id][frame_index]
        valid = hand is not None
        hand = hand or _empty_hand()
        return {
            "K": cam.copy(),
            "root": hand["root"].copy(),
            "theta": hand["theta"].copy(),
            "beta": hand["beta"].copy(),
            "joints": hand["joints"].copy(),
            "joint_valid": np.full(NUM_JOINTS, valid),
        }


def _frame_meta(meta_path: Path) -> tuple[dict | None, np.ndarray | None, str | None]:
    """(hand or None, camMat (3, 3) or None, reason the frame is unannotated or None)."""
    if not meta_path.is_file():
        return None, None, NO_META
    meta = load_meta(meta_path)
    if all(value is None for value in meta.values()):
        return None, None, ALL_NONE
    cam = meta.get("camMat")
    if cam is not None:
        cam = _array(meta, "camMat", (3, 3), str(meta_path))
    hand = hand_from_meta(meta, source=str(meta_path))
    return hand, cam, NO_HAND if hand is None else None


def _borrow_cameras(cameras: list[np.ndarray | None], *, where: Path) -> list[int]:
    """Fill the None entries of ``cameras`` in place with the nearest frame's camMat (ties: the
    earlier frame); returns the positions filled."""
    have = np.array([cam is not None for cam in cameras])
    if not have.any():
        raise ValueError(
            f"{where}: no meta file of this sequence has a camMat, so its intrinsics are unknown"
        )
    nearest = nearest_labelled(have)  # (T,) nearest frame with a camMat
    filled = np.flatnonzero(~have).tolist()
    for k in filled:
        cameras[k] = cameras[nearest[k]]
    return filled


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
