"""Tests for handkit.overfit: the notebooks' tiny fits learn, touch only their module, and
leave the predictor in its mode."""

import numpy as np
import pytest
import torch

from handkit.data import FrameBatch, VideoDataset
from handkit.data.synthetic import default_dataset_path
from handkit.models import HandFeatures, HandParams, HandPredictor, PoseAligner
from handkit.overfit import mean_joint_error_mm, overfit_aligner, overfit_predictor


@pytest.fixture(scope="module")
def labelled_batch():
    dataset = VideoDataset(default_dataset_path(), "train")
    indices = np.flatnonzero(dataset.labelled_mask)[:2]
    return FrameBatch.from_records([dataset[int(i)] for i in indices],
                                   video_ids=dataset.video_ids)


def test_mean_joint_error_counts_valid_joints_only():
    gt = torch.zeros(2, 21, 3)
    pred = gt.clone()
    pred[0, :, 0] = 3.0
    pred[1, :, 1] = 4.0
    assert mean_joint_error_mm(pred, gt) == pytest.approx(3.5)
    valid = torch.zeros(2, 21, dtype=torch.bool)
    valid[1, :5] = True
    assert mean_joint_error_mm(pred, gt, valid) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no valid joint"):
        mean_joint_error_mm(pred, gt, torch.zeros_like(valid))


def test_overfit_predictor_lowers_its_loss_and_keeps_the_mode(labelled_batch):
    torch.manual_seed(0)
    predictor = HandPredictor().eval()
    before = {name: p.detach().clone() for name, p in predictor.named_parameters()}
    curve = overfit_predictor(predictor, labelled_batch, steps=8, lr=1e-3)
    assert curve.steps.tolist() == list(range(8))
    assert curve.loss.shape == curve.joint_error_mm.shape == (8,)
    assert curve.loss[-1] < curve.loss[0] and curve.joint_error_mm[-1] < curve.joint_error_mm[0]
    assert curve.drop == pytest.approx(curve.loss[0] / curve.loss[-1])
    assert curve.seconds > 0
    assert not predictor.training  # left in eval mode, as it was
    moved = [n for n, p in predictor.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("encoder.") for n in moved) and "root_head.weight" in moved


def test_overfit_predictor_refuses_frames_without_ground_truth(labelled_batch):
    hidden = FrameBatch(**{**vars(labelled_batch),
                           "joint_valid": torch.zeros_like(labelled_batch.joint_valid)})
    with pytest.raises(ValueError, match=r"rows \[0, 1\] have none"):
        overfit_predictor(HandPredictor(), hidden, steps=1)
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        overfit_predictor(HandPredictor(), labelled_batch, steps=0)


def test_overfit_aligner_carries_a_label_onto_the_target():
    torch.manual_seed(1)
    aligner = PoseAligner()
    gamma_b = HandParams(root=torch.tensor([[0.0, 0.0, 500.0]]), theta=torch.zeros(1, 48),
                         beta=torch.zeros(1, 10))
    z_a = HandFeatures(z_r=torch.rand(1, 512, requires_grad=True), z_theta=torch.rand(1, 512))
    z_b = HandFeatures(z_r=torch.rand(1, 512), z_theta=torch.rand(1, 512))
    with torch.no_grad():
        start = aligner(gamma_b, z_a, z_b)
    target = start.joints + torch.tensor([20.0, -10.0, 15.0])  # the same hand, moved
    curve = overfit_aligner(aligner, gamma_b, z_a, z_b, target, steps=30, lr=3e-3)
    assert curve.joint_error_mm[0] == pytest.approx(float(np.sqrt(20**2 + 10**2 + 15**2)),
                                                    rel=1e-5)  # phi = 0 at the start
    assert curve.joint_error_mm[-1] < curve.joint_error_mm[0] / 3
    assert z_a.z_r.grad is None  # features stay fixed
    with pytest.raises(ValueError, match=r"target_joints must have shape \(B, 21, 3\) with B=1"):
        overfit_aligner(aligner, gamma_b, z_a, z_b, target[0], steps=1)
