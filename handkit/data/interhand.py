"""InterHand2.6M reader (right hand) and the Mini-InterHand splits (paper Sec. V-A, Appendix A).

Layout read (one official split, "train", "val" or "test"):

* ``<root>/annotations/<split>/InterHand2.6M_<split>_data.json``: COCO-like ``images`` (``id``,
  ``file_name``, ``capture``, ``seq_name``, ``camera``, ``frame_idx``) and ``annotations``
  (``image_id``, ``hand_type``, ``joint_valid`` (42, 1)).
* ``..._camera.json``: capture -> ``campos`` / ``camrot`` / ``focal`` / ``princpt`` -> camera.
* ``..._joint_3d.json``: capture -> frame_idx -> ``world_coord`` (42, 3) mm.
* ``..._MANO_NeuralAnnot.json``: capture -> frame_idx -> ``right`` / ``left`` -> ``pose`` (48),
  ``shape`` (10), ``trans`` (3), in world coordinates (or None).
* images: ``<root>/images/<split>/<file_name>``.

A *video* is one camera's view of one sequence: (capture, seq_name, camera), with id
``"Capture<c>/<seq_name>/cam<camera>"``. Only that is temporally continuous footage; a sequence
seen from another camera is a different video. Its frames are sorted by ``frame_idx``.

Conversions to handkit's conventions (:mod:`handkit.data.record`), for the right hand:

* camera coordinates X_cam = R (X_world - campos), mm; R = ``camrot``;
* joints: InterHand's per-hand order (thumb tip -> base, index, middle, ring, pinky, wrist last)
  -> handkit's order; ``root`` = the annotated wrist in camera space;
* global rotation: R_cam = R R_world;
* fingers: the fits were made with MANO's ``flat_hand_mean=False`` (smplx's default, as in
  InterHand2.6M's own tools), so the absolute pose is ``pose[3:] + hands_mean``; ``hands_mean``
  must be that of the MANO model the user has (``ManoModel.hands_mean``).

A frame is annotated when its right-hand MANO fit exists and its wrist is valid. As InterHand's own
loader does, an invalid wrist makes all joints invalid (root-relative joints are meaningless
without it). ``joint_valid`` carries the per-joint flags; unannotated frames have zero ground truth
and ``joint_valid`` all False; :meth:`InterHandReader.summary` counts them by reason.

Every error names the file it comes from: a truncated or corrupt JSON (a partial download), a
missing key or a value of the wrong shape raise ``ValueError`` naming the annotation file (and
the capture / frame concerned); a missing file raises ``FileNotFoundError`` naming it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import roma
import torch

from handkit.data.frames import VideoFrames, read_rgb_image
from handkit.data.splits import (
    MINI_INTERHAND_MIN_FRAMES,
    MINI_INTERHAND_NUM_TEST,
    MINI_INTERHAND_NUM_VAL,
    SPLITS,
    VideoInfo,
    mini_interhand_videos,
)
from handkit.mano.model import NUM_BETAS, NUM_JOINTS

OFFICIAL_SPLITS = ("train", "val", "test")
#: The four annotation files of a split: InterHand2.6M_<split>_<kind>.json.
ANNOTATION_KINDS = ("data", "camera", "joint_3d", "MANO_NeuralAnnot")
NUM_DATASET_JOINTS = 42  # right hand 0-20, left hand 21-41
RIGHT_HAND_JOINTS = slice(0, 21)
#: InterHand's per-hand index of each handkit joint: wrist (20), then thumb, index, middle, ring,
#: pinky, each from the palm outwards (InterHand stores every finger tip first).
INTERHAND_TO_HANDKIT = (20,) + tuple(4 * f + k for f in range(5) for k in (3, 2, 1, 0))
WRIST = 0  # in handkit's order

#: Keys data.json's entries need.
IMAGE_KEYS = ("id", "file_name", "capture", "seq_name", "camera", "frame_idx")
ANNOTATION_KEYS = ("image_id", "hand_type", "joint_valid")

#: Reasons a frame is unannotated, as :meth:`InterHandReader.summary` names them.
NO_JOINTS = "no joint_3d entry for the frame"
NO_FIT = "no right-hand MANO fit"
BAD_WRIST = "right wrist not valid"


@dataclass(frozen=True)
class _Frame:
    image_path: Path
    capture: str
    frame_idx: str
    joint_valid: np.ndarray  # (42,) bool, from the image's annotation


def annotation_path(root: str | Path, split: str, kind: str) -> Path:
    """``<root>/annotations/<split>/InterHand2.6M_<split>_<kind>.json``."""
    return Path(root) / "annotations" / split / f"InterHand2.6M_{split}_{kind}.json"


def _load_json(path: Path) -> dict:
    """A JSON object from ``path``; a missing, truncated or corrupt file raises an error
    naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"InterHand2.6M annotation file not found: expected {path}")
    try:
        with path.open("rb") as file:
            content = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path}: not valid JSON ({error}); the file is truncated or corrupt "
            "(a partial download?): download it again"
        ) from None
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a JSON object, found a {type(content).__name__}")
    return content


def _video_id(image: dict) -> str:
    return f"Capture{image['capture']}/{image['seq_name']}/cam{image['camera']}"


def load_video_table(root: str | Path, split: str) -> dict[str, list[tuple[dict, dict]]]:
    """``data.json`` grouped into videos: video id -> [(image, annotation)] sorted by frame_idx.

    Videos are ordered by (capture, seq_name, camera), the order in which Mini-InterHand's "last
    25 val videos" are taken.
    """
    if split not in OFFICIAL_SPLITS:
        raise ValueError(f"official split must be one of {OFFICIAL_SPLITS}, got {split!r}")
    path = annotation_path(root, split, "data")
    data = _load_json(path)
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{path}: expected a list {key!r}, found {type(data.get(key))}")
    annotations = {}
    for ann in data["annotations"]:
        _check_keys(ann, ANNOTATION_KEYS, path, "annotation")
        annotations[ann["image_id"]] = ann
    videos: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for image in data["images"]:
        _check_keys(image, IMAGE_KEYS, path, "image")
        if image["id"] in annotations:
            videos[_video_key(image, path)].append((image, annotations[image["id"]]))
    table = {}
    for key in sorted(videos):
        frames = sorted(videos[key], key=lambda pair: int(pair[0]["frame_idx"]))
        table[_video_id(frames[0][0])] = frames
    return table


def _video_key(image: dict, path: Path) -> tuple[int, str, str]:
    """(capture, seq_name, camera) of a data.json image, with integer capture and frame_idx."""
    try:
        int(image["frame_idx"])
        return int(image["capture"]), str(image["seq_name"]), str(image["camera"])
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}: image {image['id']!r} needs integer capture and frame_idx, "
            f"found {image['capture']!r} and {image['frame_idx']!r}"
        ) from None


def _check_keys(item: object, keys: tuple[str, ...], path: Path, what: str) -> None:
    missing = [key for key in keys if key not in item] if isinstance(item, dict) else list(keys)
    if missing:
        raise ValueError(f"{path}: an {what} entry has no {missing}: {str(item)[:200]}")


def video_infos(table: dict[str, list[tuple[dict, dict]]]) -> list[VideoInfo]:
    """Length and hand types of each video of a :func:`load_video_table` table."""
    return [
        VideoInfo(video_id, len(frames), frozenset(ann["hand_type"] for _, ann in frames))
        for video_id, frames in table.items()
    ]


class InterHandReader(VideoFrames):
    """Right-hand videos of one official InterHand2.6M split as :class:`FrameRecord` videos.

    Args:
        root: the InterHand2.6M folder holding ``annotations/`` and ``images/``.
        split: official split, "train", "val" or "test".
        hands_mean: (45,) MANO ``hands_mean`` of the right-hand model (``ManoModel.hands_mean``),
            added to the fitted finger pose to make it absolute (see the module docstring).
        videos: ids of the videos to read (default: all videos of the split).
        label_every: K of the label grid (Sec. II-A).
        table: an already loaded :func:`load_video_table` of this split (to avoid reading
            ``data.json`` twice).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        hands_mean: np.ndarray,
        videos=None,
        label_every: int = 128,
        table: dict | None = None,
    ):
        self.hands_mean = np.asarray(hands_mean, dtype=np.float64)
        if self.hands_mean.shape != (45,):
            raise ValueError(f"hands_mean must have shape (45,), got {self.hands_mean.shape}")
        table = load_video_table(root, split) if table is None else table
        videos = list(table) if videos is None else list(videos)
        unknown = [v for v in videos if v not in table]
        if unknown:
            raise ValueError(f"videos not in InterHand2.6M {split}: {unknown[:5]}")
        self._paths = {kind: annotation_path(root, split, kind) for kind in ANNOTATION_KINDS}
        self.cameras = _load_json(self._paths["camera"])
        joints_3d = _load_json(self._paths["joint_3d"])
        mano = _load_json(self._paths["MANO_NeuralAnnot"])
        image_dir = Path(root) / "images" / split
        self._frames: dict[str, list[_Frame]] = {}
        self._cameras: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        #: (capture, frame_idx) -> (world joints (42, 3) mm, right-hand MANO fit), or the reason
        #: there is none; shared by a capture's cameras, kept for the chosen videos' frames only.
        self._world_hands: dict[tuple[str, str], tuple[np.ndarray, dict] | str] = {}
        annotated, reasons = {}, {NO_JOINTS: [], NO_FIT: [], BAD_WRIST: []}
        for video_id in videos:
            first = table[video_id][0][0]
            self._cameras[video_id] = self._camera(str(first["capture"]), str(first["camera"]))
            self._frames[video_id] = [
                _Frame(
                    image_dir / image["file_name"],
                    str(image["capture"]),
                    str(image["frame_idx"]),
                    self._joint_valid(ann, image),
                )
                for image, ann in table[video_id]
            ]
            for frame in self._frames[video_id]:
                key = (frame.capture, frame.frame_idx)
                if key not in self._world_hands:
                    self._world_hands[key] = self._world_right_hand(joints_3d, mano, *key)
            why = [self._why_unannotated(frame) for frame in self._frames[video_id]]
            for frame, reason in zip(self._frames[video_id], why, strict=True):
                if reason is not None:
                    reasons[reason].append(f"{video_id}@{frame.frame_idx}")
            annotated[video_id] = np.array([reason is None for reason in why], dtype=bool)
        super().__init__(annotated, label_every=label_every, unannotated=reasons)

    def _joint_valid(self, ann: dict, image: dict) -> np.ndarray:
        """(42,) bool of one data.json annotation; errors name data.json and the image."""
        try:
            return np.asarray(ann["joint_valid"], dtype=float).reshape(NUM_DATASET_JOINTS) > 0
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self._paths['data']}: annotation of image {image['id']} needs joint_valid "
                f"with {NUM_DATASET_JOINTS} values ({error})"
            ) from None

    def _camera(self, capture: str, camera: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(intrinsics (3, 3), camrot R (3, 3), campos (3,) mm) of one camera of one capture."""
        try:
            params = self.cameras[capture]
            rot = np.asarray(params["camrot"][camera], dtype=np.float64).reshape(3, 3)
            pos = np.asarray(params["campos"][camera], dtype=np.float64).reshape(3)
            (fx, fy), (cx, cy) = params["focal"][camera], params["princpt"][camera]
        except KeyError as missing:
            raise ValueError(
                f"{self._paths['camera']}: no {missing} for capture {capture}, camera {camera}"
            ) from None
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{self._paths['camera']}: capture {capture}, camera {camera}: expected camrot "
                f"(3, 3), campos (3,), focal (2,), princpt (2,) ({error})"
            ) from None
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), rot, pos

    def _world_right_hand(self, joints_3d: dict, mano: dict, capture: str, frame_idx: str):
        """(world joints (42, 3) mm, right-hand MANO fit) of one capture frame, or the reason
        why there is none; values of the wrong shape raise an error naming their file."""
        joints = joints_3d.get(capture, {}).get(frame_idx)
        if joints is None:
            return NO_JOINTS
        fit = (mano.get(capture, {}).get(frame_idx) or {}).get("right")
        if fit is None:
            return NO_FIT
        where = f"capture {capture}, frame {frame_idx}"
        try:
            world = np.asarray(joints["world_coord"], dtype=np.float64)
            world = world.reshape(NUM_DATASET_JOINTS, 3)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self._paths['joint_3d']}: {where}: expected world_coord (42, 3) ({error})"
            ) from None
        try:
            fit = {
                "pose": np.asarray(fit["pose"], dtype=np.float64).reshape(48),
                "shape": np.asarray(fit["shape"], dtype=np.float64).reshape(NUM_BETAS),
            }
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self._paths['MANO_NeuralAnnot']}: {where}: expected a right-hand fit with "
                f"pose (48,) and shape (10,) ({error})"
            ) from None
        return world, fit

    def _why_unannotated(self, frame: _Frame) -> str | None:
        hand = self._world_hands[frame.capture, frame.frame_idx]
        if isinstance(hand, str):
            return hand
        wrist_valid = frame.joint_valid[RIGHT_HAND_JOINTS][INTERHAND_TO_HANDKIT[WRIST]]
        return None if wrist_valid else BAD_WRIST

    def _image(self, video_id: str, frame_index: int) -> np.ndarray:
        path = self._frames[video_id][frame_index].image_path
        return read_rgb_image(path, dataset="InterHand2.6M")

    def _annotation(self, video_id: str, frame_index: int) -> dict[str, np.ndarray]:
        frame = self._frames[video_id][frame_index]
        intrinsics, camrot, campos = self._cameras[video_id]
        if bool(self.annotated_mask[self.video_indices(video_id)[frame_index]]):
            world, mano = self._world_hands[frame.capture, frame.frame_idx]
            hand = right_hand_to_camera(
                world, frame.joint_valid, mano, camrot, campos, self.hands_mean
            )
        else:
            hand = _empty_hand()
        return {"intrinsics": intrinsics.copy(), **hand}


def right_hand_to_camera(
    world_coord: np.ndarray,
    joint_valid: np.ndarray,
    mano: dict,
    camrot: np.ndarray,
    campos: np.ndarray,
    hands_mean: np.ndarray,
) -> dict[str, np.ndarray]:
    """InterHand2.6M right-hand annotation -> handkit record fields in one camera.

    Args:
        world_coord: (42, 3) world joints, mm, InterHand order.
        joint_valid: (42,) bool.
        mano: the right hand's MANO fit, ``pose`` (48,), ``shape`` (10,) (``trans`` unused).
        camrot: (3, 3) R, camrot; campos: (3,) camera centre, mm.
        hands_mean: (45,) MANO mean finger pose.
    Returns:
        ``root`` (3,), ``theta`` (48,), ``beta`` (10,), ``joints`` (21, 3) and ``joint_valid``
        (21,) (all False when the wrist is invalid).
    """
    order = list(INTERHAND_TO_HANDKIT)
    right = world_coord[RIGHT_HAND_JOINTS][order]  # (21, 3) world, mm, handkit order
    joints = (right - campos) @ camrot.T  # (21, 3) camera, mm
    valid = np.asarray(joint_valid)[RIGHT_HAND_JOINTS][order].astype(bool)
    valid = valid & valid[WRIST]
    pose = np.asarray(mano["pose"], dtype=np.float64).reshape(48)
    global_rot = torch.as_tensor(camrot) @ roma.rotvec_to_rotmat(torch.as_tensor(pose[:3]))
    theta = np.concatenate([roma.rotmat_to_rotvec(global_rot).numpy(), pose[3:] + hands_mean])
    return {
        "root": joints[WRIST].copy(),
        "theta": theta,
        "beta": np.asarray(mano["shape"], dtype=np.float64).reshape(NUM_BETAS),
        "joints": joints,
        "joint_valid": valid,
    }


def _empty_hand() -> dict[str, np.ndarray]:
    """Zero ground truth for frames without annotation (``joint_valid`` is all False there)."""
    return {
        "root": np.zeros(3),
        "theta": np.zeros(48),
        "beta": np.zeros(NUM_BETAS),
        "joints": np.zeros((NUM_JOINTS, 3)),
        "joint_valid": np.zeros(NUM_JOINTS, dtype=bool),
    }


def mini_interhand(
    root: str | Path,
    split: str,
    *,
    hands_mean: np.ndarray,
    min_frames: int = MINI_INTERHAND_MIN_FRAMES,
    num_val: int = MINI_INTERHAND_NUM_VAL,
    num_test: int = MINI_INTERHAND_NUM_TEST,
    seed: int = 0,
    label_every: int = 128,
) -> InterHandReader:
    """The Mini-InterHand ``split`` ("train", "val", "test"); see
    :func:`handkit.data.splits.mini_interhand_videos` for the selection (Appendix A).

    Mini train and val come from the official val split, Mini test from the official test split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    official = "test" if split == "test" else "val"
    table = load_video_table(root, official)
    videos = mini_interhand_videos(
        video_infos(table), split,
        min_frames=min_frames, num_val=num_val, num_test=num_test, seed=seed,
    )
    return InterHandReader(
        root, official, hands_mean=hands_mean, videos=videos, label_every=label_every, table=table
    )
