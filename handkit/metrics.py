"""The paper's evaluation metrics (Sec. V-B): MPJPE, MPVPE, their T, SD and P aligned variants,
and the F-score at 5 mm and 15 mm.

Everything is in millimetres and computed in float64. Inputs may be numpy arrays or torch tensors
(any float dtype, on any device, with or without ``requires_grad``); they are never modified.
Introduced in ``notebooks/07_evaluation.ipynb``.

Shape letters: N frames, J = 21 joints (manopth order, the wrist is joint 0), V = 778 MANO
vertices, P and Q points of two point sets, T thresholds.

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

ArrayLike = np.ndarray | torch.Tensor

NUM_JOINTS = 21
NUM_VERTS = 778
WRIST = 0
F_THRESHOLDS_MM = (5.0, 15.0)
JOINT_KEYS = ("mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p")
VERTEX_KEYS = ("mpvpe", "mpvpe_p", "f5", "f15")
METRIC_KEYS = JOINT_KEYS + VERTEX_KEYS

_COLLAPSED_MM = 1e-9  # a point set whose spread ||X - mean(X)||_F is at most this is one point
_CHUNK_FRAMES = 256  # vertex frames converted to float64 and aligned at a time


# --- inputs -------------------------------------------------------------------------------------


def _array_like(x, name: str) -> ArrayLike:
    """``x`` as a numpy array or torch tensor of real numbers, without copying either."""
    if not isinstance(x, torch.Tensor | np.ndarray):
        x = np.asarray(x)
    is_real = (
        not (x.dtype.is_complex or x.dtype == torch.bool)
        if isinstance(x, torch.Tensor)
        else x.dtype.kind in "fiu"
    )
    if not is_real:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x


def _check_shape(x: ArrayLike, name: str, expected: tuple, n_frames: int | None = None) -> None:
    """Raise a ValueError naming ``expected`` (ints fixed, strings free) and the shape received."""
    shape = tuple(x.shape)
    fixed = [e if isinstance(e, int) else None for e in expected]
    if n_frames is not None:
        fixed[0] = n_frames
    ok = len(shape) == len(expected) and all(
        f is None or f == s for f, s in zip(fixed, shape, strict=True)
    )
    if not ok:
        want = ", ".join(
            str(f if f is not None else e) for f, e in zip(fixed, expected, strict=True)
        )
        raise ValueError(f"{name} must have shape ({want}), got {shape}")


def _float64(x: ArrayLike, frames: slice = slice(None)) -> np.ndarray:
    """A float64 numpy copy of ``x[frames]`` (so nothing done to it can reach the input)."""
    if isinstance(x, torch.Tensor):
        return x[frames].detach().to("cpu", torch.float64, copy=True).numpy()
    return np.array(x[frames], dtype=np.float64, copy=True)


def _require_finite(x: np.ndarray, name: str) -> None:
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")


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
    pred, gt = _array_like(pred, names[0]), _array_like(gt, names[1])
    _check_shape(gt, names[1], ("N", n_points, 3))
    _check_shape(pred, names[0], ("N", n_points, 3), n_frames=gt.shape[0])
    if gt.shape[0] == 0:
        raise ValueError(f"{names[1]} holds no frames, got shape {tuple(gt.shape)}")
    return _float64(pred), _float64(gt), _weights(weights, tuple(gt.shape[:2]), weights_name)


def _weights(weights, shape: tuple[int, int], name: str) -> np.ndarray:
    """(N, P) 0/1 float64 from a bool/number mask (numpy or torch), all ones for None."""
    if weights is None:
        return np.ones(shape)
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    weights = np.asarray(weights)
    _check_shape(weights, name, shape)
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


# --- nearest neighbours and F-score -------------------------------------------------------------


def _nearest(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(P, 3), (Q, 3) -> (P,) exact Euclidean distance to the nearest reference point."""
    if len(reference) == 0:
        return np.full(len(query), np.inf)
    return cKDTree(reference).query(query)[0]


def nearest_distances(query_points: ArrayLike, reference_points: ArrayLike) -> np.ndarray:
    """Distance from each query point to its nearest reference point, frame by frame.

    One k-d tree per frame (exact, float64), so memory stays O(P + Q) per frame however many
    frames there are: no (N, P, Q) distance matrix is ever built.

    Args:
        query_points: (P, 3) or (N, P, 3).
        reference_points: (Q, 3) or (N, Q, 3), the same leading dims.
    Returns:
        (P,) or (N, P) float64 distances (inf when Q = 0).

    >>> nearest_distances(np.array([[3.0, 4, 0]]), np.array([[0.0, 0, 0], [9, 9, 9]]))
    array([5.])
    """
    query = _array_like(query_points, "query_points")
    reference = _array_like(reference_points, "reference_points")
    if query.ndim == 2:
        _check_shape(query, "query_points", ("P", 3))
        _check_shape(reference, "reference_points", ("Q", 3))
        return nearest_distances(query[None], reference[None])[0]
    _check_shape(query, "query_points", ("N", "P", 3))
    _check_shape(reference, "reference_points", ("N", "Q", 3), n_frames=query.shape[0])
    out = np.empty(tuple(query.shape[:2]))  # (N, P)
    for frames in _chunks(query.shape[0]):
        chunk_query, chunk_reference = _float64(query, frames), _float64(reference, frames)
        _require_finite(chunk_query, "query_points")
        _require_finite(chunk_reference, "reference_points")
        for i, (q, r) in enumerate(zip(chunk_query, chunk_reference, strict=True)):
            out[frames.start + i] = _nearest(q, r)
    return out


def _fscore_from_distances(
    pred_to_gt: np.ndarray, gt_to_pred: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """(P,), (Q,), (T,) nearest distances and thresholds -> (T,) F-scores (strict <)."""
    if pred_to_gt.size == 0 or gt_to_pred.size == 0:
        return np.zeros(len(thresholds))
    precision = (pred_to_gt[None] < thresholds[:, None]).mean(axis=1)  # (T,)
    recall = (gt_to_pred[None] < thresholds[:, None]).mean(axis=1)  # (T,)
    total = precision + recall
    return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1.0), 0.0)


def _frame_fscores(gt: np.ndarray, pred: np.ndarray, thresholds: np.ndarray,
                   gt_trees: Sequence[cKDTree] | None = None) -> np.ndarray:
    """Float64 (N, Q, 3) gt, (N, P, 3) pred -> (N, T) F-scores, one k-d tree pair per frame
    (the gt's given as ``gt_trees``, one per frame of ``gt``, when already built)."""
    _require_finite(gt, "gt_points")
    _require_finite(pred, "pred_points")
    trees = [None] * len(gt) if gt_trees is None else gt_trees
    return np.stack(
        [
            _fscore_from_distances(_nearest(p, g) if tree is None else tree.query(p)[0],
                                   _nearest(g, p), thresholds)
            for g, p, tree in zip(gt, pred, trees, strict=True)
        ]
    ).reshape(len(gt), len(thresholds))


def vertex_trees(gt_verts: ArrayLike) -> list[cKDTree]:
    """One k-d tree per frame of (N, 778, 3) ground-truth vertices (float64, exact), built once
    for :func:`evaluate_per_frame` to reuse when it scores several predictions of the same
    frames (their F-scores query the same ground truth)."""
    gt = _array_like(gt_verts, "gt_verts")
    _check_shape(gt, "gt_verts", ("N", NUM_VERTS, 3))
    trees = []
    for frames in _chunks(gt.shape[0]):
        chunk = _float64(gt, frames)
        _require_finite(chunk, "gt_verts")
        trees += [cKDTree(frame) for frame in chunk]
    return trees


def _check_trees(trees: Sequence[cKDTree], gt: np.ndarray, start: int) -> Sequence[cKDTree]:
    """``trees[start:start + n]`` if they index float64 (n, V, 3) ``gt``, else an error."""
    chunk = trees[start:start + len(gt)]
    if len(chunk) != len(gt) or not all(isinstance(t, cKDTree) and np.array_equal(t.data, g)
                                        for t, g in zip(chunk, gt, strict=True)):
        raise ValueError("gt_trees must be vertex_trees(gt_verts) of the same (N, 778, 3) "
                         "ground-truth vertices")
    return chunk


def _thresholds(thresholds_mm: Sequence[float]) -> np.ndarray:
    values = np.asarray(thresholds_mm, dtype=np.float64).reshape(-1)
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"thresholds must be positive finite millimetres, got {thresholds_mm}")
    return values


def fscore(gt_points: ArrayLike, pred_points: ArrayLike, threshold_mm: float) -> float:
    """F-score of two point sets at one threshold, without any alignment (Sec. V-B, after [32]).

    precision = fraction of predicted points whose nearest ground-truth point is closer than
    ``threshold_mm`` (strictly), recall = the converse, F = 2PR / (P + R), 0 when both are 0 or
    a set is empty. The sets may differ in size.

    Args:
        gt_points: (Q, 3) mm.
        pred_points: (P, 3) mm.
        threshold_mm: the distance threshold in mm (the paper uses 5 and 15).
    Returns:
        F in [0, 1] as a float.

    >>> gt = np.array([[0.0, 0, 0], [100, 0, 0]])
    >>> pred = np.array([[3.0, 4, 0], [100, 1, 0]])
    >>> fscore(gt, pred, 5.0)  # the first pair is exactly 5 mm apart, so it does not count
    0.5
    """
    gt, pred = _array_like(gt_points, "gt_points"), _array_like(pred_points, "pred_points")
    _check_shape(gt, "gt_points", ("Q", 3))
    _check_shape(pred, "pred_points", ("P", 3))
    scores = _frame_fscores(_float64(gt)[None], _float64(pred)[None], _thresholds([threshold_mm]))
    return float(scores[0, 0])


def per_frame_fscores(
    gt_points: ArrayLike,
    pred_points: ArrayLike,
    thresholds_mm: Sequence[float] = F_THRESHOLDS_MM,
) -> np.ndarray:
    """:func:`fscore` for every frame of a batch and every threshold, without alignment.

    Args:
        gt_points: (N, Q, 3) mm.
        pred_points: (N, P, 3) mm.
        thresholds_mm: T thresholds in mm.
    Returns:
        (N, T) float64.
    """
    gt, pred = _array_like(gt_points, "gt_points"), _array_like(pred_points, "pred_points")
    _check_shape(gt, "gt_points", ("N", "Q", 3))
    _check_shape(pred, "pred_points", ("N", "P", 3), n_frames=gt.shape[0])
    thresholds = _thresholds(thresholds_mm)
    chunks = [
        _frame_fscores(_float64(gt, frames), _float64(pred, frames), thresholds)
        for frames in _chunks(gt.shape[0])
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(thresholds)))


def _chunks(n_frames: int) -> list[slice]:
    return [slice(s, min(s + _CHUNK_FRAMES, n_frames)) for s in range(0, n_frames, _CHUNK_FRAMES)]


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
    _require_finite(pred, "pred_joints")
    _require_finite(gt, "gt_joints")
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
    """Per-frame MPVPE, MPVPE (P), F@5 and F@15, ``_CHUNK_FRAMES`` frames at a time."""
    pred, gt = _array_like(pred_verts, "pred_verts"), _array_like(gt_verts, "gt_verts")
    _check_shape(gt, "gt_verts", ("N", NUM_VERTS, 3), n_frames=n_frames)
    _check_shape(pred, "pred_verts", ("N", NUM_VERTS, 3), n_frames=n_frames)
    thresholds = np.asarray(F_THRESHOLDS_MM)
    if gt_trees is not None and len(gt_trees) != n_frames:
        raise ValueError(f"gt_trees must hold one tree per frame ({n_frames}), got {len(gt_trees)}")
    values = {key: np.empty(n_frames) for key in VERTEX_KEYS}
    for frames in _chunks(n_frames):
        pred_c, gt_c = _float64(pred, frames), _float64(gt, frames)  # (n, V, 3)
        _require_finite(pred_c, "pred_verts")
        _require_finite(gt_c, "gt_verts")
        aligned = _procrustes(pred_c, gt_c, np.ones(gt_c.shape[:2]))
        values["mpvpe"][frames] = np.linalg.norm(pred_c - gt_c, axis=-1).mean(axis=1)
        values["mpvpe_p"][frames] = np.linalg.norm(aligned - gt_c, axis=-1).mean(axis=1)
        trees = None if gt_trees is None else _check_trees(gt_trees, gt_c, frames.start)
        f = _frame_fscores(gt_c, aligned, thresholds, trees)  # (n, 2)
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
    n_frames = _array_like(gt_joints, "gt_joints").shape[0]
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
    n_frames = _array_like(gt_joints, "gt_joints").shape[0]
    values = _vertex_frame_values(pred_verts, gt_verts, n_frames)
    return out | {key: float(values[key].mean()) for key in VERTEX_KEYS}
