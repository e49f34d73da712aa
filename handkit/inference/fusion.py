"""The "fused" mode (beyond the paper, issue 10): regression and propagation from both
neighbouring labels, each weighted by its expected error, estimated from the video's labels.

Propagation from a label is good next to it and worse the further it carries it; the
regressor's error does not depend on where the labels are. So for every frame u between the
labels s- < u < s+ handkit expects

* from s-: an error ``slope * (u - s-)``; from s+: ``slope * (s+ - u)``;
* from the regressor: ``regression_mm``;

and blends the three with inverse-variance weights 1 / error^2 (the best linear blend of
independent, unbiased estimates): first the two propagations, then that with the regressor
(rotations by per-joint slerp, r and beta linearly;
:func:`handkit.inference.label_based.blend_params`).

Both numbers come from the video's **labelled frames only** (:func:`error_model`), which
scenario 2 uses anyway: ``regression_mm`` is the regressor's mean joint error on them, and
``slope`` the aligner's mean joint error carrying each label to its neighbouring labels
(both ways), divided by their distance. Readings and limits: errors are taken to grow linearly
with the distance (measured only at label distance K, so extrapolated to shorter gaps); on the
videos the predictor was trained on, its error on the labels it memorised underestimates its
error elsewhere, so the fused mode leans too much on regression there; labelled frames keep
their labels. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from handkit.inference.label_based import blend_params
from handkit.inference.propagation import align, propagate_from
from handkit.inference.video import (
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    check_labels,
    decode,
    decode_prediction,
    evaluating,
    params_like,
    take_features,
    take_params,
)
from handkit.models.aligner import PoseAligner
from handkit.models.records import HandParams

#: Smallest error used as a weight's denominator, mm (a perfect estimate would divide by 0).
MIN_ERROR_MM = 1e-3


@dataclass(frozen=True)
class ErrorModel:
    """Expected errors of one video's estimates (mean joint error, mm), from its labels.

    Attributes:
        regression_mm: the regressor's expected error at any frame.
        slope_mm: propagation's expected error per frame of distance to its label.
    """

    regression_mm: float
    slope_mm: float

    def propagation_mm(self, distance: np.ndarray) -> np.ndarray:
        """Expected error of a label carried ``distance`` frames (T,) -> (T,)."""
        return self.slope_mm * np.asarray(distance, dtype=np.float64)


def _mean_joint_error(mano, predicted: HandParams, truth: HandParams, batch_size: int) -> float:
    with evaluating(mano):
        _, joints = decode(mano, predicted, batch_size=batch_size)
        _, true_joints = decode(mano, truth, batch_size=batch_size)
    return float((joints - true_joints).norm(dim=-1).mean())


def error_model(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
                batch_size: int = 256) -> ErrorModel:
    """The video's :class:`ErrorModel` from its labelled frames only.

    ``regression_mm``: the regressor's mean joint error on the labelled frames. ``slope_mm``:
    the aligner carries every label to each neighbouring label (s_i -> s_i+1 and back); its mean
    joint error there divided by the mean distance. A video with one label has no pair: its
    slope is the regression error per frame of half the video (propagation is trusted up to
    the middle of the video).
    """
    check_labels(video, labels)
    frames = labels.frames
    truth = labels.params
    regression = take_params(video.regression.params, torch.as_tensor(frames))
    regression_mm = _mean_joint_error(aligner.mano, regression, truth, batch_size)
    if len(frames) < 2:
        return ErrorModel(regression_mm, regression_mm / max(labels.num_frames / 2, 1.0))
    source = np.concatenate([np.arange(len(frames) - 1), np.arange(1, len(frames))])
    target = np.concatenate([np.arange(1, len(frames)), np.arange(len(frames) - 1)])
    carried = align(aligner, labels.take(source), take_features(video.z, frames[target]),
                    take_features(video.z, frames[source]), batch_size=batch_size)
    error = _mean_joint_error(aligner.mano, carried, params_like(labels.take(target),
                                                                  carried.root), batch_size)
    distance = float(np.abs(frames[target] - frames[source]).mean())
    return ErrorModel(regression_mm, error / distance)


def _inverse_variance(first_mm: np.ndarray, second_mm: np.ndarray) -> np.ndarray:
    """Weight of ``second`` when blending two estimates with these expected errors (T,)."""
    var1 = np.maximum(first_mm, MIN_ERROR_MM) ** 2
    var2 = np.maximum(second_mm, MIN_ERROR_MM) ** 2
    return var1 / (var1 + var2)


def fuse(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
         model: ErrorModel | None = None, batch_size: int = 256) -> VideoPrediction:
    """The fused mode: both propagations and the regressor, by inverse expected variance.

    Args:
        video, labels: the encoded video and its labels.
        aligner: the Pose Aligner.
        model: the expected errors; default :func:`error_model` of this video.
    Returns:
        a :class:`VideoPrediction` whose ``weight`` is the regressor's share (T,); labelled
        frames keep their labels.
    """
    check_labels(video, labels)
    model = error_model(video, labels, aligner=aligner, batch_size=batch_size) if model is None \
        else model
    before, after, _ = labels.neighbour_rows()
    u = np.arange(video.num_frames)
    from_before = propagate_from(aligner, video, labels, before, batch_size=batch_size)
    from_after = propagate_from(aligner, video, labels, after, batch_size=batch_size)
    error_before = model.propagation_mm(np.abs(u - labels.frames[before]))
    error_after = model.propagation_mm(np.abs(labels.frames[after] - u))
    w_after = np.where(before == after, 0.0, _inverse_variance(error_before, error_after))
    combined_mm = np.sqrt(1.0 / (1.0 / np.maximum(error_before, MIN_ERROR_MM) ** 2
                                 + np.where(before == after, 0.0,
                                            1.0 / np.maximum(error_after, MIN_ERROR_MM) ** 2)))
    w_regression = _inverse_variance(combined_mm, np.full_like(combined_mm, model.regression_mm))
    w_regression[labels.frames] = 0.0  # a labelled frame keeps its label
    device, dtype = from_before.root.device, from_before.root.dtype
    propagated = blend_params(from_before, from_after,
                              torch.as_tensor(w_after, device=device, dtype=dtype))
    regression = params_like(video.regression.params, propagated.root)
    weight = torch.as_tensor(w_regression, device=device, dtype=dtype)
    params = blend_params(propagated, regression, weight)
    return decode_prediction("fused", aligner.mano, params, batch_size=batch_size, weight=weight)
