"""Tests for handkit.widgets.losses: the loss-weight explorer and its breakdown (Eqs. 6-10)."""

import dataclasses

import numpy as np
import pytest
import torch

from handkit.geometry import intrinsics
from handkit.losses import PAPER_CONFIG, LossConfig, pair_objective
from handkit.models import HandParams, HandPredictor, HandTargets, PoseAligner, forward_pair
from handkit.widgets.common import DESCRIPTION_WIDTH, log_slider
from handkit.widgets.losses import (
    TERM_NAMES,
    loss_breakdown,
    loss_weight_explorer,
    percent,
    slider,
)


@pytest.fixture(scope="module")
def pair():
    """forward_pair's outputs for 2 random pairs, heads randomised so every term is non-zero."""
    torch.manual_seed(0)
    predictor, aligner = HandPredictor().eval(), PoseAligner()
    with torch.no_grad():
        for layer in (predictor.pose_head, predictor.shape_head, aligner.theta_net.output):
            layer.weight.normal_(0.0, 0.01)
    camera = intrinsics(64, dtype=torch.float32).expand(2, 3, 3)
    gamma_s = HandParams(root=torch.tensor([[10.0, 0.0, 450.0], [0.0, -20.0, 520.0]]),
                         theta=0.3 * torch.randn(2, 48), beta=torch.randn(2, 10))
    with torch.no_grad():
        _, joints = aligner.mano(gamma_s.root, gamma_s.theta, gamma_s.beta)
        out = forward_pair(predictor, aligner,
                           images_u=torch.rand(2, 3, 64, 64), intrinsics_u=camera,
                           images_s=torch.rand(2, 3, 64, 64), intrinsics_s=camera,
                           gamma_s=gamma_s)
    target = HandTargets(root=gamma_s.root, theta=gamma_s.theta, beta=gamma_s.beta,
                         joints=joints, joint_valid=torch.ones(2, 21, dtype=torch.bool))
    return out, target


def test_breakdown_weights_each_term_and_adds_up_to_the_objective(pair):
    out, target = pair
    config = LossConfig(lambda_j=0.3, lambda_theta=1e-4, lambda_beta=2e-5, lambda_align=0.5)
    b = loss_breakdown(out, target, config=config)
    assert set(b.unweighted) == set(b.weighted) == set(TERM_NAMES)
    assert all(v > 0 for v in b.unweighted.values())
    weights = {"pred_joints": 0.3, "pred_theta": 1e-4, "pred_beta": 2e-5,
               "align_forward": 0.5 * 0.3, "align_backward": 0.5 * 0.3,
               "align_theta": 0.5 * 1e-4}
    for key, weight in weights.items():
        assert b.weighted[key] == pytest.approx(weight * b.unweighted[key], rel=1e-6)
    assert sum(b.weighted.values()) == pytest.approx(b.total, rel=1e-6)
    assert b.total == pytest.approx(float(pair_objective(out, target, config=config).total))
    assert sum(b.shares().values()) == pytest.approx(1.0)
    # the unweighted terms do not depend on the weights
    paper = loss_breakdown(out, target)
    assert paper.unweighted == pytest.approx(b.unweighted)
    assert [t.name for t in b.figure.data] == ["unweighted (Eqs. 5, 7)",
                                               "weighted: its share of L_total (Eq. 9)"]
    assert "L_total" in list(b.figure.data[1].x) and b.summary().startswith("L_total = ")


def test_explorer_total_is_linear_in_lambda_align(pair):
    out, target = pair
    explorer = loss_weight_explorer(out, target, show=False)
    first = explorer.result
    assert first.config == PAPER_CONFIG
    align = sum(v for k, v in first.weighted.items() if k.startswith("align_")) / 0.1
    pred = first.total - 0.1 * align
    slider(explorer, "lambda_align").value = 1.0
    assert explorer.result.config.lambda_align == pytest.approx(1.0)
    assert explorer.result.total == pytest.approx(pred + 1.0 * align, rel=1e-5)
    slider(explorer, "lambda_beta").value = 1e-3
    assert explorer.result.weighted["pred_beta"] == pytest.approx(
        1e-3 * first.unweighted["pred_beta"], rel=1e-2)  # the slider's value snaps to its step


def test_explorer_updates_its_live_figure_in_place(pair):
    out, target = pair
    explorer = loss_weight_explorer(out, target)
    (live,) = explorer.figures
    before = np.array(live.data[1].y, dtype=float)
    slider(explorer, "lambda_j").value = 5.0
    assert explorer.figures == (live,)
    after = np.array(live.data[1].y, dtype=float)
    assert after[0] > before[0]  # the weighted L_J bar grew
    np.testing.assert_allclose(live.data[0].y, explorer.result.figure.data[0].y)
    assert live.layout.uirevision == "explorer"
    low, high = live.layout.yaxis.range  # fixed: bars compare across moves
    slider(explorer, "lambda_align").value = 10.0
    slider(explorer, "lambda_beta").value = 1e-9
    assert tuple(live.layout.yaxis.range) == (low, high)
    values = [v for trace in live.data for v in trace.y if v > 0]
    assert 10**low <= min(values) and max(values) <= 10**high
    control = slider(explorer, "lambda_theta")
    assert control.description == "λ_θ" and control.style.description_width == DESCRIPTION_WIDTH
    assert explorer._repr_mimebundle_()["text/plain"].startswith("Loss-weight explorer: run")


def test_explorer_refuses_weights_outside_its_sliders(pair):
    out, target = pair
    with pytest.raises(ValueError, match=r"config.lambda_align = 0.0 is outside"):
        loss_weight_explorer(out, target, config=dataclasses.replace(PAPER_CONFIG,
                                                                      lambda_align=0.0))


def test_log_slider_spans_decades():
    control = log_slider("λ", 5e-7, 1e-9, 1e-1)
    assert control.base == 10
    assert (control.min, control.max) == (pytest.approx(-9), pytest.approx(-1))
    assert control.value == pytest.approx(5e-7)
    with pytest.raises(ValueError, match="need 0 < low <= value <= high"):
        log_slider("λ", 0.0, 0.0, 1.0)


@pytest.mark.parametrize("fraction,text", [(1.0, "100.0 %"), (0.001, "0.1 %"),
                                           (2.5e-4, "0.025 %"), (-0.5, "-50.0 %")])
def test_percent(fraction, text):
    assert percent(fraction) == text
