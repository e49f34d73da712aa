"""The F-score of two point sets (Sec. V-B, after [32]) and the nearest-neighbour distances
it is built on, one exact float64 k-d tree per frame (scipy's ``cKDTree``).

:func:`fscore` scores one pair of point sets, :func:`per_frame_fscores` a batch of frames, and
:func:`nearest_distances` gives the distances themselves; none of them aligns.
:func:`handkit.metrics.evaluate` Procrustes-aligns the predicted vertices first, then calls
:func:`frame_fscores`, with the ground-truth trees of :func:`vertex_trees` when they were built
once for several predictions. All re-exported by :mod:`handkit.metrics`. Shape letters:
N frames, P and Q points, T thresholds; millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from handkit.metrics_inputs import (
    NUM_VERTS,
    ArrayLike,
    array_like,
    as_float64,
    check_shape,
    frame_chunks,
    require_finite,
)

F_THRESHOLDS_MM = (5.0, 15.0)


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
    query = array_like(query_points, "query_points")
    reference = array_like(reference_points, "reference_points")
    if query.ndim == 2:
        check_shape(query, "query_points", ("P", 3))
        check_shape(reference, "reference_points", ("Q", 3))
        return nearest_distances(query[None], reference[None])[0]
    check_shape(query, "query_points", ("N", "P", 3))
    check_shape(reference, "reference_points", ("N", "Q", 3), n_frames=query.shape[0])
    out = np.empty(tuple(query.shape[:2]))  # (N, P)
    for frames in frame_chunks(query.shape[0]):
        chunk_query, chunk_reference = as_float64(query, frames), as_float64(reference, frames)
        require_finite(chunk_query, "query_points")
        require_finite(chunk_reference, "reference_points")
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


def frame_fscores(gt: np.ndarray, pred: np.ndarray, thresholds: np.ndarray,
                   gt_trees: Sequence[cKDTree] | None = None) -> np.ndarray:
    """Float64 (N, Q, 3) gt, (N, P, 3) pred -> (N, T) F-scores, one k-d tree pair per frame
    (the gt's given as ``gt_trees``, one per frame of ``gt``, when already built)."""
    require_finite(gt, "gt_points")
    require_finite(pred, "pred_points")
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
    gt = array_like(gt_verts, "gt_verts")
    check_shape(gt, "gt_verts", ("N", NUM_VERTS, 3))
    trees = []
    for frames in frame_chunks(gt.shape[0]):
        chunk = as_float64(gt, frames)
        require_finite(chunk, "gt_verts")
        trees += [cKDTree(frame) for frame in chunk]
    return trees


def check_trees(trees: Sequence[cKDTree], gt: np.ndarray, start: int) -> Sequence[cKDTree]:
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
    gt, pred = array_like(gt_points, "gt_points"), array_like(pred_points, "pred_points")
    check_shape(gt, "gt_points", ("Q", 3))
    check_shape(pred, "pred_points", ("P", 3))
    scores = frame_fscores(as_float64(gt)[None], as_float64(pred)[None],
                           _thresholds([threshold_mm]))
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
    gt, pred = array_like(gt_points, "gt_points"), array_like(pred_points, "pred_points")
    check_shape(gt, "gt_points", ("N", "Q", 3))
    check_shape(pred, "pred_points", ("N", "P", 3), n_frames=gt.shape[0])
    thresholds = _thresholds(thresholds_mm)
    chunks = [
        frame_fscores(as_float64(gt, frames), as_float64(pred, frames), thresholds)
        for frames in frame_chunks(gt.shape[0])
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, len(thresholds)))
