import re

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handkit import metrics_inputs
from handkit.metrics import (
    JOINT_KEYS,
    METRIC_KEYS,
    VERTEX_KEYS,
    evaluate,
    evaluate_per_frame,
    fscore,
    nearest_distances,
    per_frame_fscores,
    procrustes_align,
    scaled_depth_align,
    translation_align,
    vertex_trees,
)

ZERO = 1e-9  # mm: "exactly 0" up to float64 rounding


def _hands(n=3, seed=0):
    """(n, 21, 3) joints and (n, 778, 3) vertices, random clouds about 40 mm wide at 500 mm."""
    rng = np.random.default_rng(seed)
    joints = rng.normal(size=(n, 21, 3)) * 40 + [0.0, 0.0, 500.0]
    verts = rng.normal(size=(n, 778, 3)) * 40 + [0.0, 0.0, 500.0]
    return joints, verts


def _similarity(points, seed, *, reflect=False):
    """s R x + t with one random (s, R, t) per frame; R a proper rotation unless ``reflect``."""
    n = len(points)
    rng = np.random.default_rng(seed)
    rotations = Rotation.random(n, random_state=seed).as_matrix()  # (n, 3, 3)
    if reflect:
        rotations = rotations @ np.diag([-1.0, 1.0, 1.0])
    scales = rng.uniform(0.5, 2.0, size=(n, 1, 1))
    shifts = rng.normal(size=(n, 1, 3)) * 30
    return scales * points @ np.swapaxes(rotations, 1, 2) + shifts


def _procrustes_oracle(pred, gt):
    """The FreiHAND/HO-3D convention re-derived with scipy: unit-norm centred sets, the
    orthogonal map of gt onto pred (no det correction), its singular-value sum as the scale."""
    out = []
    for p, g in zip(pred, gt, strict=True):
        p_c, g_c = p - p.mean(0), g - g.mean(0)
        p_n, g_n = np.linalg.norm(p_c), np.linalg.norm(g_c)
        rot, s = orthogonal_procrustes(g_c / g_n, p_c / p_n)
        out.append((p_c / p_n) @ rot.T * s * g_n + g.mean(0))
    return np.stack(out)


def _fscore_oracle(gt, pred, threshold):
    """Brute-force F-score with the full distance matrix, strict '<'."""
    dist = np.linalg.norm(pred[:, None] - gt[None], axis=-1)  # (P, Q)
    precision = (dist.min(axis=1) < threshold).mean()
    recall = (dist.min(axis=0) < threshold).mean()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


# --- hand-computed cases ----------------------------------------------------------------------


def test_identity_gives_zero_errors_and_perfect_fscores():
    joints, verts = _hands()
    m = evaluate(joints, joints, verts, verts)
    assert tuple(m) == METRIC_KEYS
    assert all(type(value) is float for value in m.values())
    for key in ("mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p", "mpvpe", "mpvpe_p"):
        assert m[key] == pytest.approx(0.0, abs=ZERO), key
    assert m["f5"] == 1.0 and m["f15"] == 1.0


@pytest.mark.parametrize("dtype, tol", [(np.float64, ZERO), (np.float32, 1e-3)])
def test_similarity_transform_vanishes_after_procrustes_only(dtype, tol):
    joints, verts = _hands()
    pred_joints, pred_verts = _similarity(joints, seed=1), _similarity(verts, seed=1)
    args = [x.astype(dtype) for x in (pred_joints, joints, pred_verts, verts)]
    m = evaluate(*args)
    assert m["mpjpe_p"] == pytest.approx(0.0, abs=tol)
    assert m["mpvpe_p"] == pytest.approx(0.0, abs=tol)
    assert m["f5"] == 1.0 and m["f15"] == 1.0  # F is taken after Procrustes
    for key in ("mpjpe", "mpjpe_t", "mpjpe_sd", "mpvpe"):
        assert m[key] > 1.0, key
    # without the alignment the same vertices are far from F = 1
    assert per_frame_fscores(args[3], args[2], [5.0]).mean() < 0.5


def test_translation_vanishes_after_t_and_p():
    joints, _ = _hands()
    shifts = np.array([[[3.0, 4.0, 0.0]], [[0.0, 0.0, -20.0]], [[2.0, 3.0, 6.0]]])  # 5, 20, 7 mm
    m = evaluate(joints + shifts, joints)
    assert m["mpjpe"] == pytest.approx((5 + 20 + 7) / 3)
    assert m["mpjpe_t"] == pytest.approx(0.0, abs=ZERO)
    assert m["mpjpe_p"] == pytest.approx(0.0, abs=ZERO)
    np.testing.assert_allclose(translation_align(joints + shifts, joints), joints, atol=ZERO)


def test_scaled_depth_by_hand():
    gt = np.array([[[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]])  # centroid (1, 0, 0), spread sqrt(2)
    pred = np.array([[[0.0, 0.0, 10.0], [1.0, 0.0, 10.0]]])  # centroid (0.5, 0, 10), sqrt(0.5)
    # s = 2 about (0.5, 0, 10), then z shifted by -10; x-y of the centroid stay at (0.5, 0)
    expected = np.array([[[-0.5, 0.0, 0.0], [1.5, 0.0, 0.0]]])
    np.testing.assert_allclose(scaled_depth_align(pred, gt), expected, atol=ZERO)


def test_scaled_depth_undoes_scale_and_depth_but_not_x_y_or_rotation():
    joints, _ = _hands()
    centroid = joints.mean(axis=1, keepdims=True)
    scales = np.array([0.5, 1.7, 3.0])[:, None, None]
    deeper = centroid + scales * (joints - centroid) + np.array([[[0.0, 0.0, 80.0]]])
    m = evaluate(deeper, joints)
    assert m["mpjpe_sd"] == pytest.approx(0.0, abs=ZERO) and m["mpjpe"] > 10
    shifted = joints + np.array([[[3.0, 4.0, 0.0]]])
    assert evaluate(shifted, joints)["mpjpe_sd"] == pytest.approx(5.0)
    rotation = Rotation.from_euler("z", 40, degrees=True).as_matrix()
    rotated = (joints - centroid) @ rotation.T + centroid  # SD does not undo a rotation
    m = evaluate(rotated, joints)
    assert m["mpjpe_sd"] > 1.0 and m["mpjpe_p"] == pytest.approx(0.0, abs=ZERO)


def test_mirrored_prediction_aligns_like_freihand():
    joints, verts = _hands()
    mirrored_joints = joints * [-1.0, 1.0, 1.0] + 7.0
    mirrored_verts = _similarity(verts, seed=4, reflect=True)
    m = evaluate(mirrored_joints, joints, mirrored_verts, verts)
    # no det(R) correction: the reflection is allowed, so a mirror image aligns exactly
    assert m["mpjpe_p"] == pytest.approx(0.0, abs=ZERO)
    assert m["mpvpe_p"] == pytest.approx(0.0, abs=ZERO)
    assert m["f5"] == 1.0
    assert m["mpjpe_t"] > 1.0 and m["mpjpe_sd"] > 1.0


def test_procrustes_matches_the_freihand_convention_on_noisy_data():
    joints, verts = _hands(n=4)
    rng = np.random.default_rng(5)
    for gt in (joints, verts):
        for reflect in (False, True):
            pred = _similarity(gt, seed=6, reflect=reflect) + rng.normal(size=gt.shape) * 5
            np.testing.assert_allclose(
                procrustes_align(pred, gt), _procrustes_oracle(pred, gt), atol=1e-8
            )


def test_fscore_is_strict_at_the_threshold():
    gt = np.array([[0.0, 0.0, 0.0]])
    pred = np.array([[3.0, 4.0, 0.0]])  # exactly 5 mm away
    assert fscore(gt, pred, 5.0) == 0.0
    assert fscore(gt, pred, np.nextafter(5.0, 6.0)) == 1.0
    np.testing.assert_array_equal(per_frame_fscores(gt[None], pred[None], (5.0, 15.0)), [[0, 1]])


def test_fscore_by_hand_with_unequal_sets():
    gt = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    pred = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [50.0, 0.0, 0.0]])
    precision, recall = 2 / 3, 1 / 2  # pred points near gt; gt points near pred
    assert fscore(gt, pred, 5.0) == pytest.approx(2 * precision * recall / (precision + recall))
    assert fscore(gt, pred, 5.0) == pytest.approx(4 / 7)


def test_fscore_zero_when_nothing_matches_or_a_set_is_empty():
    gt = np.zeros((4, 3))
    assert fscore(gt, gt + 100.0, 15.0) == 0.0
    assert fscore(gt, np.zeros((0, 3)), 15.0) == 0.0


def test_fscores_match_brute_force_and_evaluate_averages_per_frame_f():
    _, verts = _hands(n=4)
    rng = np.random.default_rng(7)
    pred = verts + rng.normal(size=verts.shape) * rng.uniform(1, 12, size=(4, 1, 1))
    expected = [
        [_fscore_oracle(g, p, t) for t in (5.0, 15.0)] for g, p in zip(verts, pred, strict=True)
    ]
    np.testing.assert_allclose(per_frame_fscores(verts, pred), expected, atol=1e-12)
    joints = verts[:, :21]
    per_frame = evaluate_per_frame(joints, joints, pred, verts)
    aligned = procrustes_align(pred, verts)
    np.testing.assert_allclose(per_frame["f5"], per_frame_fscores(verts, aligned)[:, 0])
    assert len(set(per_frame["f5"].round(6))) > 1  # frames really differ
    assert evaluate(joints, joints, pred, verts)["f5"] == pytest.approx(per_frame["f5"].mean())


def test_nearest_distances_match_brute_force_in_chunks(monkeypatch):
    monkeypatch.setattr(metrics_inputs, "CHUNK_FRAMES", 2)
    assert len(metrics_inputs.frame_chunks(5)) == 3  # the patch reaches the chunking
    rng = np.random.default_rng(8)
    query, reference = rng.normal(size=(5, 30, 3)), rng.normal(size=(5, 17, 3))
    brute = np.linalg.norm(query[:, :, None] - reference[:, None], axis=-1).min(axis=2)
    np.testing.assert_allclose(nearest_distances(query, reference), brute, atol=1e-12)
    np.testing.assert_allclose(nearest_distances(query[0], reference[0]), brute[0], atol=1e-12)
    assert np.isinf(nearest_distances(query[0], np.zeros((0, 3)))).all()


def test_chunked_evaluation_matches_one_chunk(monkeypatch):
    joints, verts = _hands(n=5)
    rng = np.random.default_rng(9)
    pred_verts = verts + rng.normal(size=verts.shape) * 4
    whole = evaluate_per_frame(joints, joints, pred_verts, verts)
    monkeypatch.setattr(metrics_inputs, "CHUNK_FRAMES", 2)
    assert len(metrics_inputs.frame_chunks(5)) == 3  # the patch reaches the chunking
    chunked = evaluate_per_frame(joints, joints, pred_verts, verts)
    for key in VERTEX_KEYS:
        np.testing.assert_allclose(chunked[key], whole[key], atol=1e-12)


# --- masking, missing vertices, inputs ----------------------------------------------------------


def test_joint_valid_masks_joints_and_pools_over_valid_pairs():
    joints, _ = _hands(n=2)
    pred = joints + np.array([[[1.0, 0.0, 0.0]], [[0.0, 10.0, 0.0]]])
    valid = np.zeros((2, 21), dtype=bool)
    valid[0] = True
    valid[1, 3] = True  # frame 1: one valid joint, and its wrist is invalid
    pred[1, 4:] = np.nan  # invalid joints are ignored, even NaN ones
    m = evaluate(pred, joints, joint_valid=valid)
    assert m["mpjpe"] == pytest.approx((21 * 1.0 + 1 * 10.0) / 22)  # pooled over valid pairs
    assert m["mpjpe_t"] == pytest.approx(0.0, abs=ZERO)  # frame 1 cannot be T-aligned
    per_frame = evaluate_per_frame(pred, joints, joint_valid=torch.from_numpy(valid))
    np.testing.assert_allclose(per_frame["mpjpe"], [1.0, 10.0])
    assert per_frame["mpjpe_t"][0] == pytest.approx(0.0, abs=ZERO)
    assert np.isnan(per_frame["mpjpe_t"][1])


def test_joint_valid_fits_procrustes_and_sd_on_valid_joints_only():
    joints, _ = _hands(n=2)
    pred = _similarity(joints, seed=10)
    valid = np.ones((2, 21), dtype=bool)
    valid[0, 5:9] = valid[1, 12] = False
    corrupted_pred, corrupted_gt = pred.copy(), joints.copy()
    corrupted_pred[~valid] = 1e6
    corrupted_gt[~valid] = np.nan
    m = evaluate(corrupted_pred, corrupted_gt, joint_valid=valid)
    assert m["mpjpe_p"] == pytest.approx(0.0, abs=ZERO)
    assert all(np.isfinite(m[key]) for key in JOINT_KEYS)
    weights = valid.astype(float)
    np.testing.assert_allclose(
        procrustes_align(corrupted_pred, joints, weights=weights)[valid], joints[valid], atol=1e-8
    )
    valid_centroid = (joints * weights[..., None]).sum(axis=1, keepdims=True) / weights.sum(axis=1)[
        :, None, None
    ]
    deeper = valid_centroid + 2.0 * (joints - valid_centroid) + [0.0, 0.0, 50.0]
    deeper[~valid] = 1e6
    assert evaluate(deeper, joints, joint_valid=valid)["mpjpe_sd"] == pytest.approx(0, abs=ZERO)
    assert evaluate(np.where(valid[..., None], deeper, joints), joints)["mpjpe_sd"] > 1.0
    with pytest.raises(ValueError, match="no joint"):
        evaluate(pred, joints, joint_valid=np.zeros((2, 21), dtype=bool))


def test_vertex_keys_are_none_without_vertices():
    joints, verts = _hands()
    for result in (evaluate(joints, joints), evaluate_per_frame(joints, joints)):
        assert tuple(result) == METRIC_KEYS
        assert all(result[key] is None for key in VERTEX_KEYS)
        assert all(result[key] is not None for key in JOINT_KEYS)
    with pytest.raises(ValueError, match="both pred_verts and gt_verts"):
        evaluate(joints, joints, pred_verts=verts)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_inputs_with_grad_give_plain_floats_and_stay_unchanged(dtype):
    joints, verts = _hands()
    rng = np.random.default_rng(11)
    arrays = [joints + rng.normal(size=joints.shape), joints, verts * 1.1, verts]
    tensors = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    before = [t.detach().clone() for t in tensors]
    m = evaluate(*tensors)
    assert all(type(value) is float for value in m.values())
    for tensor, copy in zip(tensors, before, strict=True):
        assert torch.equal(tensor.detach(), copy) and tensor.grad is None
    expected = evaluate(*[t.detach().numpy() for t in tensors])
    assert m == pytest.approx(expected, rel=1e-12)


def test_numpy_inputs_are_never_modified():
    joints, verts = _hands()
    pred_joints, pred_verts = _similarity(joints, seed=12), _similarity(verts, seed=12)
    inputs = [pred_joints, joints, pred_verts, verts]
    before = [a.copy() for a in inputs]
    valid = np.ones((3, 21), dtype=bool)
    evaluate(*inputs, joint_valid=valid)
    evaluate_per_frame(*inputs)
    procrustes_align(pred_verts, verts)
    scaled_depth_align(pred_joints, joints)
    translation_align(pred_joints, joints)
    per_frame_fscores(verts, pred_verts)
    for array, copy in zip(inputs, before, strict=True):
        np.testing.assert_array_equal(array, copy)


def test_collapsed_prediction_gets_unit_scale_in_sd():
    joints, _ = _hands()
    point = np.array([10.0, -20.0, 400.0])
    collapsed = np.broadcast_to(point, joints.shape)
    m = evaluate(collapsed, joints)
    # s = 1: the point stays at its x-y and moves to the mean ground-truth depth
    target = np.broadcast_to(point, (3, 1, 3)).copy()
    target[..., 2] = joints[..., 2].mean(axis=1, keepdims=True)
    assert m["mpjpe_sd"] == pytest.approx(np.linalg.norm(joints - target, axis=-1).mean())
    # Procrustes maps a collapsed prediction onto the ground-truth centroid (as FreiHAND's does)
    centroid = joints.mean(axis=1, keepdims=True)
    assert m["mpjpe_p"] == pytest.approx(np.linalg.norm(joints - centroid, axis=-1).mean())
    m32 = evaluate(torch.tensor(collapsed, dtype=torch.float32), torch.tensor(joints))
    assert np.isfinite(m32["mpjpe_sd"])


def test_wrong_shapes_raise_clear_errors():
    joints, verts = _hands()
    with pytest.raises(
        ValueError, match=re.escape("pred_joints must have shape (3, 21, 3), got (2, 21, 3)")
    ):
        evaluate(joints[:2], joints)
    with pytest.raises(
        ValueError, match=re.escape("gt_joints must have shape (N, 21, 3), got (3, 20, 3)")
    ):
        evaluate(joints, joints[:, :20])
    with pytest.raises(
        ValueError, match=re.escape("gt_joints must have shape (N, 21, 3), got (21, 3)")
    ):
        evaluate(joints[0], joints[0])
    with pytest.raises(
        ValueError, match=re.escape("pred_verts must have shape (3, 778, 3), got (2, 778, 3)")
    ):
        evaluate(joints, joints, verts[:2], verts)
    with pytest.raises(
        ValueError, match=re.escape("gt_verts must have shape (3, 778, 3), got (3, 21, 3)")
    ):
        evaluate(joints, joints, verts, joints)
    with pytest.raises(
        ValueError, match=re.escape("joint_valid must have shape (3, 21), got (3, 20)")
    ):
        evaluate(joints, joints, joint_valid=np.ones((3, 20), dtype=bool))
    with pytest.raises(ValueError, match=re.escape("gt_points must have shape (Q, 3), got (5, 2)")):
        fscore(np.zeros((5, 2)), np.zeros((5, 3)), 5.0)
    with pytest.raises(ValueError, match="no frames"):
        evaluate(joints[:0], joints[:0])


def test_bad_values_raise():
    joints, _ = _hands()
    bad = joints.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="pred_joints holds NaN"):
        evaluate(bad, joints)
    with pytest.raises(ValueError, match="thresholds must be positive"):
        fscore(joints[0], joints[0], 0.0)
    with pytest.raises(TypeError, match="real numbers"):
        evaluate(joints.astype(complex), joints)


def test_prebuilt_ground_truth_trees_give_the_same_numbers(monkeypatch):
    joints, verts = _hands(n=4, seed=3)
    rng = np.random.default_rng(4)
    preds = [verts + rng.normal(size=verts.shape) * s for s in (2.0, 6.0)]
    trees = vertex_trees(torch.as_tensor(verts, dtype=torch.float32))
    assert len(trees) == 4
    monkeypatch.setattr(metrics_inputs, "CHUNK_FRAMES", 3)  # trees are taken chunk by chunk
    for pred in preds:
        want = evaluate_per_frame(joints, joints, pred, verts.astype(np.float32))
        got = evaluate_per_frame(joints, joints, pred, verts.astype(np.float32), gt_trees=trees)
        for key in VERTEX_KEYS:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12)
    gt = verts.astype(np.float32)
    with pytest.raises(ValueError, match=r"gt_trees must hold one tree per frame \(4\), got 3"):
        evaluate_per_frame(joints, joints, preds[0], gt, gt_trees=trees[:3])
    with pytest.raises(ValueError, match=r"gt_trees must be vertex_trees\(gt_verts\) of the same"):
        evaluate_per_frame(joints, joints, preds[0], gt, gt_trees=trees[::-1])  # other frames
