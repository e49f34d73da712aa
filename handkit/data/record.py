"""The frame record every dataset reader yields (synthetic, HO-3D, InterHand2.6M).

Conventions (shared by all readers, the models and the metrics):

* Camera frame: x right, y down, z forward (OpenCV style).
  Pixel (u, v) = (fx x/z + cx, fy y/z + cy), pixel centres at integer (u, v).
* Lengths in millimetres.
* The hand's root ``r`` (paper Sec. II-A) is the wrist joint (joint 0) in camera space, so that
  ``joints = ManoLayer(center_idx=0, use_pca=False, flat_hand_mean=True)(theta, beta)[1] + root``
  (with the layer's ``trans`` left at None).
* ``theta`` is MANO's full 48-vector of absolute axis-angles: 3 global rotation (in the camera
  frame) then 15 x 3 finger joints, as taken by ``ManoLayer(use_pca=False, flat_hand_mean=True)``.
* Joints are in handkit's 21-joint order (``handkit.mano.model.JOINT_NAMES``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class FrameRecord:
    """One video frame with its (possibly unused) ground truth.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        intrinsics: (3, 3) float64 intrinsics of ``image`` (after any crop/resize).
        root: (3,) float64 wrist position in camera space, mm.
        theta: (48,) float64 absolute axis-angle pose (global rotation first).
        beta: (10,) float64 MANO shape.
        joints: (21, 3) float64 camera-space joints, mm, handkit order.
        joint_valid: (21,) bool; False where the dataset has no valid annotation for a joint.
            Invalid joints must never enter a loss or a metric.
        labelled: whether this frame's annotation may be used for training
            (frames 0, K, 2K, ..., last).
        video_id: name of the video/sequence the frame belongs to.
        frame_index: 0-based position of the frame in its video.
        verts: optional (778, 3) float64 camera-space vertices, mm.
        mask: optional (H, W) bool foreground mask of the hand.
    """

    image: np.ndarray
    intrinsics: np.ndarray
    root: np.ndarray
    theta: np.ndarray
    beta: np.ndarray
    joints: np.ndarray
    joint_valid: np.ndarray
    labelled: bool
    video_id: str
    frame_index: int
    verts: np.ndarray | None = None
    mask: np.ndarray | None = None


def without_ground_truth(record: FrameRecord) -> FrameRecord:
    """The record with its ground truth removed: root, theta, beta and joints zero (never NaN),
    ``joint_valid`` all False, no vertices and no mask; image, intrinsics and the frame's identity
    kept.

    What training code may see of an unlabelled frame (:mod:`handkit.data.batch`).

    >>> import numpy as np
    >>> r = FrameRecord(np.zeros((2, 2, 3), np.uint8), np.eye(3), np.ones(3), np.ones(48),
    ...                 np.ones(10), np.ones((21, 3)), np.ones(21, bool), False, "v", 7)
    >>> hidden = without_ground_truth(r)
    >>> bool(hidden.joint_valid.any()), float(abs(hidden.joints).sum()), hidden.frame_index
    (False, 0.0, 7)
    """
    return replace(
        record,
        root=np.zeros_like(record.root),
        theta=np.zeros_like(record.theta),
        beta=np.zeros_like(record.beta),
        joints=np.zeros_like(record.joints),
        joint_valid=np.zeros_like(record.joint_valid, dtype=bool),
        verts=None,
        mask=None,
    )
