"""The fused mode: expected errors from labels only, inverse-variance weights, exact extremes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handkit.inference import propagate_bidirectional, propagate_from
from handkit.inference.fusion import ErrorModel, error_model, fuse
from handkit.inference.label_based import blend_params
from handkit.inference.video import VideoFeatures, VideoLabels, VideoPrediction
from handkit.models import HandFeatures
from tests.test_inference import (  # noqa: F401 (fixtures)
    aligner,  # noqa: F401
    clip,
    features,
    labels_at,
    predictor,
)


def poisoned(video: VideoFeatures, rows: np.ndarray) -> VideoFeatures:
    """``video`` with NaN in every feature and regressed hand of the frames ``rows`` (T,) bool."""
    at = torch.as_tensor(rows)

    def nan_at(values: torch.Tensor) -> torch.Tensor:
        values = values.clone()
        values[at] = float("nan")
        return values

    z = HandFeatures(nan_at(video.z.z_r), nan_at(video.z.z_theta))
    hand = video.regression
    regression = VideoPrediction(hand.mode, *(nan_at(getattr(hand, k)) for k in
                                              ("root", "theta", "beta", "joints", "verts")))
    return VideoFeatures(z, regression)


def test_error_model_reads_only_the_labelled_frames(clip, features, aligner):  # noqa: F811
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    model = error_model(features, labels, aligner=aligner)
    assert model.regression_mm > 0 and model.slope_mm > 0
    # NaN in every unlabelled frame's features and regression: the same model, exactly
    assert error_model(poisoned(features, ~labels.mask), labels, aligner=aligner) == model
    # NaN at one labelled frame does reach it (the check above can fail)
    one_label = np.zeros(labels.num_frames, bool)
    one_label[16] = True
    broken = error_model(poisoned(features, one_label), labels, aligner=aligner)
    assert np.isnan(broken.regression_mm) and np.isnan(broken.slope_mm)
    np.testing.assert_allclose(model.propagation_mm(np.array([0, 2])), [0, 2 * model.slope_mm])


def test_a_perfect_regressor_or_aligner_takes_all_the_weight(clip, features, aligner):  # noqa
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    unlabelled = np.flatnonzero(~labels.mask)
    trust_regression = fuse(features, labels, aligner=aligner,
                            model=ErrorModel(regression_mm=1e-6, slope_mm=10.0))
    assert torch.allclose(trust_regression.weight[unlabelled], torch.ones(len(unlabelled)))
    assert torch.allclose(trust_regression.joints[unlabelled],
                          features.regression.joints[unlabelled], atol=1e-3)
    trust_labels = fuse(features, labels, aligner=aligner,
                        model=ErrorModel(regression_mm=1e6, slope_mm=1.0))
    both = propagate_bidirectional(features, labels, aligner=aligner)
    assert float(trust_labels.weight.max()) < 1e-6
    # near each label the nearer side dominates: frame 1 is propagation from frame 0 alone
    from_before = propagate_from(aligner, features, labels, labels.neighbour_rows()[0])
    assert torch.allclose(trust_labels.root[1], from_before.root[1], atol=0.5)
    assert torch.equal(trust_labels.theta[labels.frames], truth.theta[labels.frames])
    assert trust_labels.joints.shape == both.joints.shape


def test_weights_are_inverse_variances(clip, features, aligner):  # noqa: F811
    _, _, truth = clip
    labels = labels_at(truth, [0, 20])
    model = ErrorModel(regression_mm=30.0, slope_mm=2.0)
    out = fuse(features, labels, aligner=aligner, model=model)
    u = 5  # 5 frames after label 0, 15 before label 20: errors 10 and 30 mm
    combined = 1.0 / np.sqrt(1 / 10.0**2 + 1 / 30.0**2)
    expected = combined**2 / (combined**2 + 30.0**2)
    assert float(out.weight[u]) == pytest.approx(expected, rel=1e-5)
    before, after, _ = labels.neighbour_rows()
    w_after = 10.0**2 / (10.0**2 + 30.0**2)
    propagated = blend_params(propagate_from(aligner, features, labels, before),
                              propagate_from(aligner, features, labels, after),
                              torch.full((features.num_frames,), w_after))
    mixed = blend_params(propagated, features.regression.params, out.weight)
    assert torch.allclose(out.root[u], mixed.root[u], atol=1e-4)


def test_one_label_videos_still_fuse(clip, features, aligner):  # noqa: F811
    _, _, truth = clip
    labels = labels_at(truth, [10])
    model = error_model(features, labels, aligner=aligner)
    assert model.slope_mm == pytest.approx(model.regression_mm / 20)
    out = fuse(features, labels, aligner=aligner)
    assert torch.equal(out.theta[10], truth.theta[10])
    assert isinstance(labels, VideoLabels)


def test_fused_interp_models_its_errors_from_the_labels_only(clip, features, aligner):  # noqa
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    model = error_model(features, labels, aligner=aligner, with_interpolation=True)
    assert model.zero_mm > 0 and model.interpolation_mm > 0 and model.slope_mm >= 0
    plain = error_model(features, labels, aligner=aligner)
    # the error at the neighbouring labels is split into zero_mm and the slope
    distance = np.abs(np.diff(labels.frames)).mean()
    assert model.propagation_mm(np.array([distance]))[0] == pytest.approx(
        max(plain.slope_mm * distance, model.zero_mm), rel=1e-5)
    assert error_model(poisoned(features, ~labels.mask), labels, aligner=aligner,
                       with_interpolation=True) == model
    # d- = 5, d+ = 15: c * 5 * 15 / 20; one side only (d- + d+ = 0): infinite
    np.testing.assert_allclose(model.interpolated_mm(np.array([5, 0]), np.array([15, 0])),
                               [model.interpolation_mm * 75 / 20, np.inf])
    two = error_model(features, labels_at(truth, [0, 39]), aligner=aligner,
                      with_interpolation=True)
    assert two.interpolation_mm is None  # no inner label to measure interpolation on
    assert np.isinf(two.interpolated_mm(np.array([5]), np.array([15]))).all()


def test_fused_interp_leans_on_the_estimate_it_trusts(clip, features, aligner):  # noqa: F811
    from handkit.inference import interpolate

    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    unlabelled = np.flatnonzero(~labels.mask)
    trust_interpolation = fuse(features, labels, aligner=aligner, interpolation=True,
                               model=ErrorModel(regression_mm=1e6, slope_mm=1e3, zero_mm=1e3,
                                                interpolation_mm=1e-6))
    assert trust_interpolation.mode == "fused-interp"
    between = interpolate(labels, mano=aligner.mano)
    assert torch.allclose(trust_interpolation.joints[unlabelled], between.joints[unlabelled],
                          atol=1e-2)
    # without a measured interpolation error the mode is the fused mode
    model = ErrorModel(regression_mm=30.0, slope_mm=2.0)
    without = fuse(features, labels, aligner=aligner, interpolation=True, model=model)
    fused = fuse(features, labels, aligner=aligner, model=model)
    assert torch.equal(without.joints, fused.joints)
    measured = fuse(features, labels, aligner=aligner, interpolation=True)
    assert torch.equal(measured.theta[labels.frames], truth.theta[labels.frames])
    assert torch.equal(measured.weight[labels.frames], torch.zeros(len(labels.frames)))
    assert not torch.equal(measured.joints, fuse(features, labels, aligner=aligner).joints)
