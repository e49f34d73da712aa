"""Eqs. 5-10 on tiny tensors, computed by hand."""

import pytest
import torch

from handkit.losses import (
    PAPER_CONFIG,
    LossConfig,
    alignment_loss,
    alignment_theta_loss,
    backward_alignment_loss,
    beta_loss,
    forward_alignment_loss,
    joint_loss,
    pair_alignment_loss,
    pair_objective,
    predictor_loss,
    theta_loss,
    total_loss,
)
from handkit.models import HandOutput, HandTargets, ManoDecoder, PairOutputs


def hand(joints, theta48=None, beta=None):
    """A HandOutput holding the given joints (B, 21, 3) mm, theta (B, 48), beta (B, 10)."""
    batch = joints.shape[0]
    return HandOutput(
        z_r=torch.zeros(batch, 512), z_theta=torch.zeros(batch, 512), root=joints[:, 0],
        theta48=torch.zeros(batch, 48) if theta48 is None else theta48,
        beta=torch.zeros(batch, 10) if beta is None else beta,
        joints=joints, verts=torch.zeros(batch, 778, 3),
    )


def labels(joints, valid=None):
    batch = joints.shape[0]
    return HandTargets(
        root=joints[:, 0], theta=torch.zeros(batch, 48), beta=torch.zeros(batch, 10),
        joints=joints,
        joint_valid=torch.ones(batch, 21, dtype=torch.bool) if valid is None else valid,
    )


def joints_with(*entries, batch=1):
    """(batch, 21, 3) zeros with joints[b, j] = value for each (b, j, value)."""
    joints = torch.zeros(batch, 21, 3)
    for b, j, value in entries:
        joints[b, j] = torch.tensor(value, dtype=torch.float32)
    return joints


def test_joint_loss_is_a_mean_over_coordinates_in_metres():
    # one joint 30 mm off in x and 40 mm in y: squared 0.03^2 + 0.04^2 m^2 over 63 entries
    pred = joints_with((0, 5, [30.0, 40.0, 0.0]))
    expected = (0.03**2 + 0.04**2) / 63
    assert joint_loss(pred, torch.zeros(1, 21, 3)).item() == pytest.approx(expected)
    assert joint_loss(pred, torch.zeros(1, 21, 3), length_unit_mm=1.0).item() == pytest.approx(
        (30.0**2 + 40.0**2) / 63
    )


def test_invalid_joints_never_enter():
    pred = joints_with((0, 0, [1.0, 2.0, 2.0]), (0, 1, [100.0, 0.0, 0.0]), batch=2)
    gt = torch.zeros(2, 21, 3)
    gt[0, 1] = float("nan")  # an unannotated joint may hold anything
    gt[1] = float("nan")
    valid = torch.zeros(2, 21, dtype=torch.bool)
    valid[0, 0] = True
    valid[0, 2] = True
    pred.requires_grad_(True)
    loss = joint_loss(pred, gt, valid, length_unit_mm=1.0)
    assert loss.item() == pytest.approx((1 + 4 + 4) / 6)  # joints 0 and 2 of frame 0: 6 entries
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[0, 1].abs().sum() == 0 and pred.grad[1].abs().sum() == 0


def test_no_valid_joint_gives_zero_still_in_the_graph():
    pred = torch.ones(2, 21, 3, requires_grad=True)
    loss = joint_loss(pred, torch.zeros(2, 21, 3), torch.zeros(2, 21, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(2, 21, 3))


def test_joint_loss_validates_shapes():
    with pytest.raises(ValueError, match=r"both have shape \(B, 21, 3\), got \(1, 20, 3\)"):
        joint_loss(torch.zeros(1, 20, 3), torch.zeros(1, 20, 3))
    with pytest.raises(ValueError, match=r"joint_valid must be a bool tensor of shape \(1, 21\)"):
        joint_loss(torch.zeros(1, 21, 3), torch.zeros(1, 21, 3), torch.ones(1, 21))


def test_theta_loss_ignores_the_global_rotation_and_matches_the_pca_coefficients():
    theta = torch.zeros(2, 48)
    theta[:, :3] = 5.0  # the global rotation is not regularised
    theta[1, 3:5] = torch.tensor([3.0, 4.0])
    assert theta_loss(theta).item() == pytest.approx((0 + 25 / 15) / 2)
    pose18 = torch.randn(4, 18, generator=torch.Generator().manual_seed(0))
    theta48 = ManoDecoder().pca_to_theta(pose18)
    assert theta_loss(theta48).item() == pytest.approx(pose18[:, 3:].square().mean().item(),
                                                       rel=1e-5)  # Hasson's mse on the PCA


def test_beta_loss_by_hand():
    beta = torch.zeros(2, 10)
    beta[0, 0], beta[1, 9] = 2.0, -4.0
    assert beta_loss(beta).item() == pytest.approx((4 + 16) / 20)
    with pytest.raises(ValueError, match=r"beta must have shape \(B, 10\), got \(2, 9\)"):
        beta_loss(torch.zeros(2, 9))


def test_predictor_loss_eq6_by_hand():
    pred = hand(joints_with((0, 3, [10.0, 0.0, 0.0])),
                theta48=torch.tensor([[9.0] * 3 + [1.0] * 15 + [0.0] * 30]),
                beta=torch.tensor([[1.0] * 10]))
    loss = predictor_loss(pred, labels(torch.zeros(1, 21, 3)))
    l_j, l_theta, l_beta = 0.01**2 / 63, 15 / 15, 1.0
    assert loss.joints.item() == pytest.approx(l_j)
    assert loss.theta.item() == pytest.approx(l_theta)
    assert loss.beta.item() == pytest.approx(l_beta)
    assert loss.total.item() == pytest.approx(0.5 * l_j + 5e-6 * l_theta + 5e-7 * l_beta)
    assert sum(loss.weighted().values()) == pytest.approx(loss.total.item())


def test_alignment_losses_eq7_eq8_by_hand():
    aligned_s = hand(joints_with((0, 1, [0.0, 20.0, 0.0])),
                     theta48=torch.tensor([[0.0] * 3 + [3.0] + [0.0] * 44]))
    aligned_u = hand(joints_with((0, 2, [0.0, 0.0, 10.0])),
                     theta48=torch.tensor([[0.0] * 3 + [0.0, 6.0] + [0.0] * 43]))
    pred_u = hand(joints_with((0, 2, [0.0, 0.0, 40.0])))
    target_s = labels(torch.zeros(1, 21, 3))
    forward, backward = 0.02**2 / 63, 0.03**2 / 63
    theta = 9 / 15 + 36 / 15
    assert forward_alignment_loss(aligned_s, target_s).item() == pytest.approx(forward)
    assert backward_alignment_loss(aligned_u, pred_u).item() == pytest.approx(backward)
    assert alignment_theta_loss(aligned_s, aligned_u).item() == pytest.approx(theta)
    loss = alignment_loss(aligned_s, aligned_u, pred_u, target_s)
    assert loss.total.item() == pytest.approx(0.5 * (forward + backward) + 5e-6 * theta)
    assert sum(loss.weighted().values()) == pytest.approx(loss.total.item())


def test_total_loss_eq9_and_pair_objective_eq10():
    pred_s = hand(joints_with((0, 0, [10.0, 0.0, 0.0])))
    aligned_s = hand(joints_with((0, 1, [0.0, 20.0, 0.0])))
    aligned_u = hand(joints_with((0, 2, [0.0, 0.0, 10.0])))
    pred_u = hand(torch.zeros(1, 21, 3))
    target_s = labels(torch.zeros(1, 21, 3))
    pair = PairOutputs(pred_u=pred_u, pred_s=pred_s, aligned_s=aligned_s, aligned_u=aligned_u)
    loss = pair_objective(pair, target_s)
    l_pred = 0.5 * 0.01**2 / 63
    l_align = 0.5 * (0.02**2 + 0.01**2) / 63
    assert loss.pred.total.item() == pytest.approx(l_pred)
    assert loss.align.total.item() == pytest.approx(l_align)
    assert loss.total.item() == pytest.approx(l_pred + 0.1 * l_align)
    assert sum(loss.weighted().values()) == pytest.approx(loss.total.item())
    stage2 = pair_alignment_loss(pair, target_s)
    assert stage2.total.item() == pytest.approx(l_align)
    # the batch objective is the mean of the per-pair objectives
    two = PairOutputs(*(hand(torch.cat([h.joints, torch.zeros(1, 21, 3)])) for h in
                        (pred_u, pred_s, aligned_s, aligned_u)))
    mean = pair_objective(two, labels(torch.zeros(2, 21, 3)))
    assert mean.total.item() == pytest.approx(loss.total.item() / 2)


def test_total_loss_refuses_mixed_configs():
    pred = predictor_loss(hand(torch.zeros(1, 21, 3)), labels(torch.zeros(1, 21, 3)))
    other = LossConfig(lambda_align=1.0)
    align = alignment_loss(*(hand(torch.zeros(1, 21, 3)) for _ in range(3)),
                           labels(torch.zeros(1, 21, 3)), config=other)
    with pytest.raises(ValueError, match="different configs"):
        total_loss(pred, align)


def test_neither_side_of_the_backward_alignment_is_detached():
    aligned = torch.zeros(1, 21, 3, requires_grad=True)
    predicted = torch.ones(1, 21, 3, requires_grad=True)
    backward_alignment_loss(hand(aligned), hand(predicted)).backward()
    assert aligned.grad.abs().sum() > 0 and predicted.grad.abs().sum() > 0


def test_config_defaults_are_the_papers_and_options_are_checked():
    assert (PAPER_CONFIG.lambda_j, PAPER_CONFIG.lambda_theta, PAPER_CONFIG.lambda_beta,
            PAPER_CONFIG.lambda_align, PAPER_CONFIG.length_unit_mm) == (0.5, 5e-6, 5e-7, 0.1,
                                                                        1000.0)
    with pytest.raises(ValueError, match="lambda_j must be >= 0"):
        LossConfig(lambda_j=-1.0)
    with pytest.raises(ValueError, match="length_unit_mm must be > 0"):
        LossConfig(length_unit_mm=0.0)
