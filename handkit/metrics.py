"""The paper's evaluation metrics (Sec. V-B): MPJPE, MPVPE, their T, SD and P aligned variants,
and the F-score at 5 mm and 15 mm.

Everything is in millimetres and computed in float64. Inputs may be numpy arrays or torch tensors
(any float dtype, on any device, with or without ``requires_grad``); they are never modified.
Introduced in ``notebooks/07_evaluation.ipynb``.

Shape letters: N frames, J = 21 joints (manopth order, the wrist is joint 0), V = 778 MANO
vertices, P and Q points of two point sets, T thresholds.

This module holds the alignments and :func:`evaluate` / :func:`evaluate_per_frame`; the F-score
and its nearest-neighbour k-d trees (:func:`fscore`, :func:`per_frame_fscores`,
:func:`nearest_distances`, :func:`vertex_trees`) live in :mod:`handkit.metrics_fscore` and the
input checks and float64 conversion in :mod:`handkit.metrics_inputs`; both are re-exported here.

Readings (the paper names the metrics; the formulas below are ours where it gives none):

- ``mpjpe`` / ``mpvpe``: the Euclidean distance between corresponding points, averaged over
  every (frame, point) pair.
- ``mpjpe_t``: each prediction translated so that its wrist (joint 0) lands on the ground-truth
  wrist.
- ``mpjpe_sd`` (scaled depth; the paper gives no formula): per frame, the prediction X is scaled
  about its own centroid by s = ||Y - mean(Y)||_F / ||X - mean(X)||_F (Y the ground truth), then
  shifted along z only so that its mean depth equals the ground truth's; the x-y of its centroid
  is left unchanged. A prediction collapsed to one point gets s = 1.
- ``mpjpe_p`` / ``mpvpe_p``: per-frame similarity (Procrustes) alignment as in the FreiHAND and
  HO-3D evaluation code: both sets centred and normalised to unit Frobenius norm, rotation
  R = U V^T from the SVD U S V^T of X^T Y, scale trace(S), then the ground-truth centroid.
  Like that code, there is no det(R) correction, so R may be a reflection: a mirrored prediction
  aligns perfectly. (That code adds 1e-8 m to each norm; here a set whose spread is below
  1e-9 mm is treated as collapsed instead, which maps it onto the ground-truth centroid, as
  theirs does.) Joints and vertices each get their own transform.
- ``f5`` / ``f15``: per frame, after Procrustes-aligning the predicted vertices to the
  ground-truth vertices: precision = the fraction of predicted points whose nearest ground-truth
  point is closer than the threshold (strictly ``<``), recall = the converse,
  F = 2PR / (P + R), and F = 0 when P = R = 0; the per-frame F is averaged over frames.
- ``joint_valid`` (N, J) masks joints: invalid joints are ignored entirely (even if NaN). The P
  and SD alignments are fitted on the valid joints only (centroids, norms and the SVD use only
  them); every error is averaged over the valid (frame, joint) pairs; a frame whose wrist is
  invalid is left out of ``mpjpe_t`` (it cannot be T-aligned). Vertices have no mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.spatial import cKDTree

from handkit.metrics_fscore import (  # noqa: F401 (re-exported: handkit.metrics names them)
    F_THRESHOLDS_MM,
    check_trees,
    frame_fscores,
    fscore,
    nearest_distances,
    per_frame_fscores,
    vertex_trees,
)
from handkit.metrics_inputs import (
    NUM_JOINTS,
    NUM_VERTS,
    ArrayLike,
    array_like,
    as_float64,
    check_shape,
    frame_chunks,
    require_finite,
)

WRIST = 0
JOINT_KEYS = ("mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p")
VERTEX_KEYS = ("mpvpe", "mpvpe_p", "f5", "f15")
METRIC_KEYS = JOINT_KEYS + VERTEX_KEYS

_COLLAPSED_MM = 1e-9  # a point set whose spread ||X - mean(X)||_F is at most this is one point


# --- alignments (each returns the aligned prediction, float64) ----------------------------------


def _masked(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, P, 3), (N, P) 0/1 -> (N, P, 3) with the points of weight 0 set to 0 (even NaN ones)."""
    return np.where(weights[..., None] > 0, points, 0.0)


def _centroid(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, P, 3), (N, P) 0/1 -> (N, 1, 3) mean of the weighted points (0 for a frame without)."""
    count = np.maximum(weights.sum(axis=1), 1.0)[:, None, None]  # (N, 1, 1)
    return _masked(points, weights).sum(axis=1, keepdims=True) / count


def _spread(centred: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, P, 3), (N, P) 0/1 -> (N,) Frobenius norm of the weighted points."""
    return np.sqrt((_masked(centred, weights) ** 2).sum(axis=(1, 2)))


def _normalised(centred: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Divide each frame by its spread; a collapsed frame (spread <= 1e-9 mm) becomes all 0."""
    collapsed = spread <= _COLLAPSED_MM  # (N,)
    return np.where(
        collapsed[:, None, None], 0.0, centred / np.where(collapsed, 1.0, spread)[:, None, None]
    )


def _prepare(pred, gt, weights, n_points, names: tuple[str, str], weights_name="weights"):
    """Validated float64 (N, P, 3) pred and gt, and (N, P) 0/1 weights (all 1 for None)."""
    pred, gt = array_like(pred, names[0]), array_like(gt, names[1])
    check_shape(gt, names[1], ("N", n_points, 3))
    check_shape(pred, names[0], ("N", n_points, 3), n_frames=gt.shape[0])
    if gt.shape[0] == 0:
        raise ValueError(f"{names[1]} holds no frames, got shape {tuple(gt.shape)}")
    return as_float64(pred), as_float64(gt), _weights(weights, tuple(gt.shape[:2]), weights_name)


def _weights(weights, shape: tuple[int, int], name: str) -> np.ndarray:
    """(N, P) 0/1 float64 from a bool/number mask (numpy or torch), all ones for None."""
    if weights is None:
        return np.ones(shape)
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    weights = np.asarray(weights)
    check_shape(weights, name, shape)
    return (weights != 0).astype(np.float64)


def _procrustes(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Similarity-align float64 (N, P, 3) ``pred`` to ``gt``, fitted on weighted points."""
    mu_pred, mu_gt = _centroid(pred, weights), _centroid(gt, weights)  # (N, 1, 3)
    pred_c, gt_c = pred - mu_pred, gt - mu_gt  # (N, P, 3)
    gt_norm = _spread(gt_c, weights)  # (N,)
    pred_hat = _normalised(pred_c, _spread(pred_c, weights))  # unit Frobenius norm
    gt_hat = _normalised(gt_c, gt_norm)
    cross = np.swapaxes(_masked(pred_hat, weights), 1, 2) @ _masked(gt_hat, weights)  # (N, 3, 3)
    u, sigma, vt = np.linalg.svd(cross)  # (N, 3, 3), (N, 3), (N, 3, 3)
    rotation = u @ vt  # (N, 3, 3); det may be -1 (a reflection), as in FreiHAND's code
    scale = sigma.sum(axis=-1) * gt_norm  # (N,) trace(S) back in gt units
    return (pred_hat @ rotation) * scale[:, None, None] + mu_gt


def _scaled_depth(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SD-align float64 (N, P, 3) ``pred``: scale about its centroid, then shift z only."""
    mu_pred, mu_gt = _centroid(pred, weights), _centroid(gt, weights)  # (N, 1, 3)
    pred_c = pred - mu_pred
    pred_norm = _spread(pred_c, weights)  # (N,)
    gt_norm = _spread(gt - mu_gt, weights)
    collapsed = pred_norm <= _COLLAPSED_MM
    scale = np.where(collapsed, 1.0, gt_norm / np.where(collapsed, 1.0, pred_norm))  # (N,)
    depth_shift = np.zeros_like(mu_pred)  # (N, 1, 3)
    depth_shift[..., 2] = mu_gt[..., 2] - mu_pred[..., 2]
    return mu_pred + scale[:, None, None] * pred_c + depth_shift


def procrustes_align(
    pred_points: ArrayLike, gt_points: ArrayLike, *, weights: ArrayLike | None = None
) -> np.ndarray:
    """Similarity (Procrustes) alignment of each predicted frame to its ground truth (Sec. V-B,
    "P"), as in the FreiHAND / HO-3D evaluation code: centre, scale, rotate by SVD, with
    reflections allowed (no det(R) correction).

    Args:
        pred_points: (N, P, 3) mm.
        gt_points: (N, P, 3) mm.
        weights: optional (N, P); the transform is fitted on the nonzero entries only and
            applied to every point.
    Returns:
        (N, P, 3) float64, the aligned prediction.

    >>> gt = np.array([[[0.0, 0, 0], [10, 0, 0], [0, 20, 0], [0, 0, 30]]])
    >>> pred = 2 * gt[..., [1, 0, 2]] + 5  # scaled, mirrored (x <-> y) and shifted
    >>> bool(np.allclose(procrustes_align(pred, gt), gt))
    True
    """
    pred, gt, w = _prepare(pred_points, gt_points, weights, "P", ("pred_points", "gt_points"))
    return _procrustes(pred, gt, w)


def scaled_depth_align(
    pred_points: ArrayLike, gt_points: ArrayLike, *, weights: ArrayLike | None = None
) -> np.ndarray:
    """Scaled-depth (SD) alignment (Sec. V-B; our reading, the paper gives no formula).

    Per frame, X' = mean(X) + s (X - mean(X)) + (0, 0, mean(Y)_z - mean(X)_z) with
    s = ||Y - mean(Y)||_F / ||X - mean(X)||_F, or s = 1 when X is collapsed to one point. The
    x-y of the prediction's centroid are not touched; nor is its rotation.

    Args:
        pred_points: (N, P, 3) mm, X.
        gt_points: (N, P, 3) mm, Y.
        weights: optional (N, P); centroids and norms use the nonzero entries only.
    Returns:
        (N, P, 3) float64.

    >>> gt = np.array([[[0.0, 0, 500], [10, 0, 500], [0, 10, 520]]])
    >>> pred = 3 * (gt - gt.mean(1)) + gt.mean(1) + [0, 0, 40]  # scaled about centroid, deeper
    >>> bool(np.allclose(scaled_depth_align(pred, gt), gt))
    True
    """
    pred, gt, w = _prepare(pred_points, gt_points, weights, "P", ("pred_points", "gt_points"))
    return _scaled_depth(pred, gt, w)


def translation_align(pred_joints: ArrayLike, gt_joints: ArrayLike) -> np.ndarray:
    """T alignment (Sec. V-B): translate each prediction so that its wrist (joint 0) meets the
    ground-truth wrist.

    Args:
        pred_joints: (N, J, 3) mm.
        gt_joints: (N, J, 3) mm.
    Returns:
        (N, J, 3) float64.
    """
    pred, gt, _ = _prepare(pred_joints, gt_joints, None, "J", ("pred_joints", "gt_joints"))
    return pred - pred[:, WRIST : WRIST + 1] + gt[:, WRIST : WRIST + 1]


# --- per-frame sums and the two public entry points ---------------------------------------------


def _joint_sums(pred_joints, gt_joints, joint_valid) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-frame (sum of errors over valid joints, number of valid joints) for each joint key."""
    names = ("pred_joints", "gt_joints")
    pred, gt, valid = _prepare(
        pred_joints, gt_joints, joint_valid, NUM_JOINTS, names, "joint_valid"
    )
    if not valid.any():
        raise ValueError("joint_valid marks no joint as valid")
    mask = valid[..., None] > 0  # (N, J, 1): invalid joints are ignored, even NaN ones
    pred, gt = np.where(mask, pred, 0.0), np.where(mask, gt, 0.0)
    require_finite(pred, "pred_joints")
    require_finite(gt, "gt_joints")
    t_valid = valid * valid[:, WRIST : WRIST + 1]  # (N, J): frames without a wrist drop out
    aligned = {
        "mpjpe": (pred, valid),
        "mpjpe_t": (pred - pred[:, WRIST : WRIST + 1] + gt[:, WRIST : WRIST + 1], t_valid),
        "mpjpe_sd": (_scaled_depth(pred, gt, valid), valid),
        "mpjpe_p": (_procrustes(pred, gt, valid), valid),
    }
    sums = {}
    for key, (points, weights) in aligned.items():
        errors = np.linalg.norm(points - gt, axis=-1)  # (N, J)
        sums[key] = ((weights * errors).sum(axis=1), weights.sum(axis=1))
    return sums


def _vertex_frame_values(pred_verts, gt_verts, n_frames: int,
                         gt_trees: Sequence[cKDTree] | None = None) -> dict[str, np.ndarray]:
    """Per-frame MPVPE, MPVPE (P), F@5 and F@15, ``CHUNK_FRAMES`` frames at a time."""
    pred, gt = array_like(pred_verts, "pred_verts"), array_like(gt_verts, "gt_verts")
    check_shape(gt, "gt_verts", ("N", NUM_VERTS, 3), n_frames=n_frames)
    check_shape(pred, "pred_verts", ("N", NUM_VERTS, 3), n_frames=n_frames)
    thresholds = np.asarray(F_THRESHOLDS_MM)
    if gt_trees is not None and len(gt_trees) != n_frames:
        raise ValueError(f"gt_trees must hold one tree per frame ({n_frames}), got {len(gt_trees)}")
    values = {key: np.empty(n_frames) for key in VERTEX_KEYS}
    for frames in frame_chunks(n_frames):
        pred_c, gt_c = as_float64(pred, frames), as_float64(gt, frames)  # (n, V, 3)
        require_finite(pred_c, "pred_verts")
        require_finite(gt_c, "gt_verts")
        aligned = _procrustes(pred_c, gt_c, np.ones(gt_c.shape[:2]))
        values["mpvpe"][frames] = np.linalg.norm(pred_c - gt_c, axis=-1).mean(axis=1)
        values["mpvpe_p"][frames] = np.linalg.norm(aligned - gt_c, axis=-1).mean(axis=1)
        trees = None if gt_trees is None else check_trees(gt_trees, gt_c, frames.start)
        f = frame_fscores(gt_c, aligned, thresholds, trees)  # (n, 2)
        values["f5"][frames], values["f15"][frames] = f[:, 0], f[:, 1]
    return values


def _vertex_pair(pred_verts, gt_verts) -> bool:
    if (pred_verts is None) != (gt_verts is None):
        raise ValueError("give both pred_verts and gt_verts, or neither")
    return pred_verts is not None


def evaluate_per_frame(
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    pred_verts: ArrayLike | None = None,
    gt_verts: ArrayLike | None = None,
    *,
    joint_valid: ArrayLike | None = None,
    gt_trees: Sequence[cKDTree] | None = None,
) -> dict[str, np.ndarray | None]:
    """The metrics of :func:`evaluate` for each frame, e.g. to break errors down by the distance
    to the nearest label.

    Args: as :func:`evaluate`, and ``gt_trees``: :func:`vertex_trees` of ``gt_verts``, to score
        several predictions of the same frames without rebuilding them (the same numbers).
    Returns:
        a dict with the keys of :data:`METRIC_KEYS`, each an (N,) float64 array in mm (F in
        [0, 1]); a joint key is NaN for a frame without valid joints (``mpjpe_t`` also for a frame
        whose wrist is invalid); the vertex keys are None without vertices. Without a mask the
        mean of each array is the value :func:`evaluate` reports; with one, :func:`evaluate`
        weights each frame by its number of valid joints.
    """
    has_verts = _vertex_pair(pred_verts, gt_verts)
    sums = _joint_sums(pred_joints, gt_joints, joint_valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {key: total / count for key, (total, count) in sums.items()}
    if not has_verts:
        return out | dict.fromkeys(VERTEX_KEYS)
    n_frames = array_like(gt_joints, "gt_joints").shape[0]
    return out | _vertex_frame_values(pred_verts, gt_verts, n_frames, gt_trees)


def evaluate(
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    pred_verts: ArrayLike | None = None,
    gt_verts: ArrayLike | None = None,
    *,
    joint_valid: ArrayLike | None = None,
) -> dict[str, float | None]:
    """The paper's metrics (Sec. V-B, Table I) over a set of frames, in millimetres.

    Readings are in the module docstring: T aligns the wrist, SD scales about the prediction's
    centroid by ||Y - mean(Y)||_F / ||X - mean(X)||_F and shifts z only, P is FreiHAND's
    Procrustes (reflections allowed), F-scores use Procrustes-aligned vertices, strict ``<``.

    Args:
        pred_joints: (N, 21, 3) predicted joints, mm.
        gt_joints: (N, 21, 3) ground-truth joints, mm.
        pred_verts: optional (N, 778, 3) predicted vertices, mm.
        gt_verts: optional (N, 778, 3) ground-truth vertices, mm (give both or neither).
        joint_valid: optional (N, 21) bool; invalid joints are left out of every joint metric
            and of the SD and P fits.
    Returns:
        {"mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p"}: plain floats, the mean over valid
        (frame, joint) pairs (``mpjpe_t`` NaN if no frame has a valid wrist);
        {"mpvpe", "mpvpe_p", "f5", "f15"}: plain floats, or None without vertices.

    >>> gt = np.random.default_rng(0).normal(size=(2, 21, 3)) * 50
    >>> m = evaluate(gt + [6.0, 8.0, 0.0], gt)  # every joint 10 mm off, by one translation
    >>> round(m["mpjpe"], 9), round(m["mpjpe_t"], 9), round(m["mpjpe_p"], 9), m["f5"]
    (10.0, 0.0, 0.0, None)
    """
    has_verts = _vertex_pair(pred_verts, gt_verts)
    sums = _joint_sums(pred_joints, gt_joints, joint_valid)
    out: dict[str, float | None] = {}
    for key, (total, count) in sums.items():
        out[key] = float(total.sum() / count.sum()) if count.sum() > 0 else float("nan")
    if not has_verts:
        return out | dict.fromkeys(VERTEX_KEYS)
    n_frames = array_like(gt_joints, "gt_joints").shape[0]
    values = _vertex_frame_values(pred_verts, gt_verts, n_frames)
    return out | {key: float(values[key].mean()) for key in VERTEX_KEYS}
