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

The ``fused-interp`` mode (issue 18) adds interpolation between s- and s+ as a fourth estimate
and refines propagation's expected error, both again from the labels only:

* propagation: ``zero_mm + slope * distance``, where ``zero_mm`` is the aligner's error carrying
  each label to its own frame (phi(gamma, 0) is not 0 for an aligner trained as the paper
  trains it) and ``slope`` the rest of its error at the neighbouring labels per frame;
* interpolation: ``interpolation_mm * d- d+ / (d- + d+)`` with d- = u - s-, d+ = s+ - u (zero at
  both labels, largest midway), ``interpolation_mm`` measured by interpolating every inner
  label from the labels on either side of it.

Order of blending: the two propagations, then interpolation, then the regressor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from handkit.inference.label_based import blend_params, interpolated_params
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
    zero_mm: float = 0.0
    interpolation_mm: float | None = None

    def propagation_mm(self, distance: np.ndarray) -> np.ndarray:
        """Expected error of a label carried ``distance`` frames (T,) -> (T,)."""
        return self.zero_mm + self.slope_mm * np.asarray(distance, dtype=np.float64)

    def interpolated_mm(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Expected error of interpolation at d- = ``before``, d+ = ``after`` frames from the
        labels (T,) each -> (T,); infinite without a measured ``interpolation_mm`` or where a
        frame has no label on one side (d- + d+ = 0)."""
        before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
        span = before + after
        if self.interpolation_mm is None:
            return np.full(span.shape, np.inf)
        bridge = before * after / np.maximum(span, 1.0)
        return np.where(span > 0, self.interpolation_mm * bridge, np.inf)


def _mean_joint_error(mano, predicted: HandParams, truth: HandParams, batch_size: int) -> float:
    with evaluating(mano):
        _, joints = decode(mano, predicted, batch_size=batch_size)
        _, true_joints = decode(mano, truth, batch_size=batch_size)
    return float((joints - true_joints).norm(dim=-1).mean())


def error_model(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
                batch_size: int = 256, with_interpolation: bool = False) -> ErrorModel:
    """The video's :class:`ErrorModel` from its labelled frames only.

    ``regression_mm``: the regressor's mean joint error on the labelled frames. ``slope_mm``:
    the aligner carries every label to each neighbouring label (s_i -> s_i+1 and back); its mean
    joint error there divided by the mean distance. A video with one label has no pair: its
    slope is the regression error per frame of half the video (propagation is trusted up to
    the middle of the video).

    ``with_interpolation`` (the ``fused-interp`` mode) also measures ``zero_mm`` (each label
    carried to its own frame; the slope then holds the rest of the error at the neighbouring
    labels) and ``interpolation_mm`` (:func:`_interpolation_per_frame`; None with fewer than
    three labels).
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
    if not with_interpolation:
        return ErrorModel(regression_mm, error / distance)
    rows = np.arange(len(frames))
    itself = align(aligner, labels.take(rows), take_features(video.z, frames),
                   take_features(video.z, frames), batch_size=batch_size)
    zero_mm = _mean_joint_error(aligner.mano, itself, params_like(labels.params, itself.root),
                                batch_size)
    return ErrorModel(regression_mm, max(error - zero_mm, 0.0) / distance, zero_mm,
                      _interpolation_per_frame(labels, aligner.mano, batch_size))


def _interpolation_per_frame(labels: VideoLabels, mano, batch_size: int) -> float | None:
    """Interpolation's error per frame of d- d+ / (d- + d+): every inner label s_i interpolated
    from s_i-1 and s_i+1, its mean joint error divided by the mean of that term (None with
    fewer than three labels)."""
    frames = labels.frames
    if len(frames) < 3:
        return None
    inner = np.arange(1, len(frames) - 1)
    before = (frames[inner] - frames[inner - 1]).astype(np.float64)
    after = (frames[inner + 1] - frames[inner]).astype(np.float64)
    weight = torch.as_tensor(before / (before + after), dtype=labels.params.root.dtype)
    estimate = blend_params(labels.take(inner - 1), labels.take(inner + 1), weight)
    error = _mean_joint_error(mano, estimate, params_like(labels.take(inner), estimate.root),
                              batch_size)
    return error / float((before * after / (before + after)).mean())


def _inverse_variance(first_mm: np.ndarray, second_mm: np.ndarray) -> np.ndarray:
    """Weight of ``second`` when blending two estimates with these expected errors (T,); an
    infinite error gets weight 0."""
    var1 = np.maximum(first_mm, MIN_ERROR_MM) ** 2
    var2 = np.maximum(second_mm, MIN_ERROR_MM) ** 2
    with np.errstate(invalid="ignore"):
        weight = var1 / (var1 + var2)
    return np.where(np.isinf(second_mm), 0.0, np.where(np.isinf(first_mm), 1.0, weight))


def _combined(first_mm: np.ndarray, second_mm: np.ndarray) -> np.ndarray:
    """Expected error of the inverse-variance blend of two independent estimates (T,)."""
    inverse = (1.0 / np.maximum(first_mm, MIN_ERROR_MM) ** 2
               + 1.0 / np.maximum(second_mm, MIN_ERROR_MM) ** 2)
    return np.sqrt(1.0 / inverse)


def _blend_in(params: HandParams, error_mm: np.ndarray, other: HandParams,
              other_mm: np.ndarray) -> tuple[HandParams, np.ndarray, torch.Tensor]:
    """``params`` blended with ``other`` by inverse expected variance: (blend, its expected
    error, the weight of ``other``), all (T,)-rowed."""
    weight = torch.as_tensor(_inverse_variance(error_mm, other_mm), device=params.root.device,
                             dtype=params.root.dtype)
    return blend_params(params, other, weight), _combined(error_mm, other_mm), weight


def fuse(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
         model: ErrorModel | None = None, interpolation: bool = False, batch_size: int = 256
         ) -> VideoPrediction:
    """The fused mode: both propagations and the regressor, by inverse expected variance;
    with ``interpolation`` the ``fused-interp`` mode, which blends in interpolation between
    the two propagations and the regressor.

    Args:
        video, labels: the encoded video and its labels.
        aligner: the Pose Aligner.
        model: the expected errors; default :func:`error_model` of this video (measured with
            ``with_interpolation=interpolation``).
        interpolation: blend interpolation in (mode ``fused-interp``).
    Returns:
        a :class:`VideoPrediction` whose ``weight`` is the regressor's share (T,); labelled
        frames keep their labels.
    """
    check_labels(video, labels)
    if model is None:
        model = error_model(video, labels, aligner=aligner, batch_size=batch_size,
                            with_interpolation=interpolation)
    before, after, _ = labels.neighbour_rows()
    u = np.arange(video.num_frames)
    d_before, d_after = u - labels.frames[before], labels.frames[after] - u  # (T,) each
    one_side = before == after  # a labelled frame, or one outside the labels
    from_before = propagate_from(aligner, video, labels, before, batch_size=batch_size)
    from_after = propagate_from(aligner, video, labels, after, batch_size=batch_size)
    error_after = np.where(one_side, np.inf, model.propagation_mm(d_after))
    params, error, _ = _blend_in(from_before, model.propagation_mm(d_before), from_after,
                                 error_after)
    if interpolation:
        between, _ = interpolated_params(labels)
        interpolated_mm = np.where(one_side, np.inf, model.interpolated_mm(d_before, d_after))
        params, error, _ = _blend_in(params, error, between, interpolated_mm)
    regression_mm = np.where(labels.mask, np.inf, model.regression_mm)  # a label stays
    params, _, weight = _blend_in(params, error, params_like(video.regression.params,
                                                             params.root), regression_mm)
    mode = "fused-interp" if interpolation else "fused"
    return decode_prediction(mode, aligner.mano, params, batch_size=batch_size, weight=weight)
