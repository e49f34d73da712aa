"""ManoLayer against a slow, independent reference written straight from MANO's maths,
and against manopth itself where manopth is importable."""

import itertools

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handkit.mano import lbs
from handkit.mano.layer import ManoLayer
from handkit.mano.manopth_compat import make_manopth_layer, manopth_available
from handkit.mano.model import MANO_PARENTS, MANO_TO_OUTPUT_ORDER
from handkit.mano.synthetic import load_synthetic_model
from tests.random_mano import random_model


def reference_mano(model, full_pose, betas, trans=None, center_idx=None):
    """One hand at a time, float64, loops; MANO's definition step by step.

    full_pose: (48,) absolute axis-angles (mean already added); betas (10,); trans (3,) metres.
    Returns verts (778, 3) and joints (21, 3) in mm.
    """
    rot = Rotation.from_rotvec(full_pose.reshape(16, 3)).as_matrix()  # (16, 3, 3)
    shaped = model.v_template + model.shapedirs @ betas
    rest_joints = model.j_regressor @ shaped
    feature = np.concatenate([(rot[j] - np.eye(3)).ravel() for j in range(1, 16)])
    posed_rest = shaped + model.posedirs @ feature
    world = []
    for j in range(16):
        local = np.eye(4)
        local[:3, :3] = rot[j]
        parent = MANO_PARENTS[j]
        local[:3, 3] = rest_joints[j] - (rest_joints[parent] if parent >= 0 else 0)
        world.append(local if parent < 0 else world[parent] @ local)
    verts = np.zeros_like(posed_rest)
    for v in range(len(verts)):
        blended = sum(
            model.weights[v, j] * (world[j] @ np.append(posed_rest[v] - rest_joints[j], 1.0))
            for j in range(16)
        )
        verts[v] = blended[:3]
    joints16 = np.stack([w[:3, 3] for w in world])
    tips = verts[list(model.tip_vertex_ids)]
    joints = np.concatenate([joints16, tips])[list(MANO_TO_OUTPUT_ORDER)]
    if trans is not None and np.any(trans):
        verts, joints = verts + trans, joints + trans
    elif center_idx is not None:
        verts, joints = verts - joints[center_idx], joints - joints[center_idx]
    return verts * 1000, joints * 1000


@pytest.fixture(scope="module")
def model():
    return random_model(seed=3)


def full_pose_of(layer, pose):
    """Absolute 48-vector the layer should use for a PCA / axis-angle input (numpy, float64)."""
    pose = pose.double().numpy()
    fingers = pose[3:]
    if layer.use_pca:
        fingers = fingers @ layer.model.hands_components[: layer.ncomps]
    mean = 0 if layer.flat_hand_mean else layer.model.hands_mean
    return np.concatenate([pose[:3], fingers + mean])


@pytest.mark.parametrize(
    "use_pca,ncomps,flat_hand_mean,center_idx",
    [(True, 1, True, None), (True, 6, False, 9), (True, 45, True, 0), (False, 45, False, None),
     (False, 45, True, 9), (True, 12, False, 4)],
)
def test_matches_reference(model, use_pca, ncomps, flat_hand_mean, center_idx):
    layer = ManoLayer(model=model, use_pca=use_pca, ncomps=ncomps,
                      flat_hand_mean=flat_hand_mean, center_idx=center_idx, dtype=torch.float64)
    gen = torch.Generator().manual_seed(ncomps)
    pose = torch.randn(2, 3 + layer.ncomps, generator=gen, dtype=torch.float64) * 0.6
    betas = torch.randn(2, 10, generator=gen, dtype=torch.float64)
    verts, joints = layer(pose, betas)
    for b in range(2):
        ref_v, ref_j = reference_mano(model, full_pose_of(layer, pose[b]), betas[b].numpy(),
                                      center_idx=center_idx)
        np.testing.assert_allclose(verts[b].numpy(), ref_v, atol=1e-6)
        np.testing.assert_allclose(joints[b].numpy(), ref_j, atol=1e-6)


def test_trans_added_and_disables_centring(model):
    layer = ManoLayer(model=model, center_idx=9, dtype=torch.float64)
    pose = torch.randn(3, 9, dtype=torch.float64)
    betas = torch.zeros(3, 10, dtype=torch.float64)
    trans = torch.tensor([[0.1, -0.2, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    verts, joints = layer(pose, betas, trans)
    for b in range(3):
        ref_v, ref_j = reference_mano(model, full_pose_of(layer, pose[b]), betas[b].numpy(),
                                      trans=trans[b].numpy() if b == 0 else np.full(3, 1e-30))
        np.testing.assert_allclose(joints[b].numpy(), ref_j, atol=1e-6)
    # all-zero trans behaves like None: centred on joint 9
    _, centred = layer(pose, betas, torch.zeros(3, 3, dtype=torch.float64))
    assert torch.allclose(centred[:, 9], torch.zeros(3, 3, dtype=torch.float64), atol=1e-9)


def test_identity_pose_gives_template(model):
    layer = ManoLayer(model=model, use_pca=False)
    verts, joints = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    np.testing.assert_allclose(verts[0].numpy(), model.v_template * 1000, atol=1e-3)
    np.testing.assert_allclose(joints[0, 0].numpy(), model.j_regressor[0] @ model.v_template * 1000,
                               atol=1e-3)


def test_betas_none_is_mean_shape(model):
    layer = ManoLayer(model=model)
    pose = torch.randn(2, 9)
    v_none, j_none = layer(pose)
    v_zero, j_zero = layer(pose, torch.zeros(2, 10))
    assert torch.equal(v_none, v_zero) and torch.equal(j_none, j_zero)


def test_float32_agrees_with_float64(model):
    layer = ManoLayer(model=model, ncomps=45)
    pose, betas = torch.randn(4, 48), torch.randn(4, 10)
    v32, j32 = layer(pose, betas)
    layer64 = ManoLayer(model=model, ncomps=45, dtype=torch.float64)
    v64, j64 = layer64(pose.double(), betas.double())
    assert (v32.double() - v64).abs().max() < 1e-3
    assert (j32.double() - j64).abs().max() < 1e-3


def test_rot6d_and_rotmat_modes_match_axis_angle(model):
    axis_layer = ManoLayer(model=model, use_pca=False, dtype=torch.float64)
    pose = torch.randn(2, 48, dtype=torch.float64) * 0.5
    rotmats = lbs.axis_angle_to_rotmat(pose.reshape(2, 16, 3))
    ref_v, ref_j = axis_layer(pose)
    rotmat_layer = ManoLayer(model=model, use_pca=False, joint_rot_mode="rotmat",
                             dtype=torch.float64)
    v, j = rotmat_layer(rotmats)
    assert torch.allclose(v, ref_v, atol=1e-8) and torch.allclose(j, ref_j, atol=1e-8)
    rot6d = rotmats[:, 0, :, :2].transpose(1, 2).reshape(2, 6)  # first two columns
    rot6d_layer = ManoLayer(model=model, use_pca=False, root_rot_mode="rot6d", dtype=torch.float64)
    v, j = rot6d_layer(torch.cat([rot6d, pose[:, 3:]], 1))
    assert torch.allclose(v, ref_v, atol=1e-8) and torch.allclose(j, ref_j, atol=1e-8)


def test_steps_agree_with_forward(model):
    layer = ManoLayer(model=model, ncomps=10, dtype=torch.float64)
    pose, betas = torch.randn(2, 13, dtype=torch.float64), torch.randn(2, 10, dtype=torch.float64)
    steps = layer.steps(pose, betas)
    verts, joints = layer(pose, betas)
    assert torch.allclose(steps.verts, verts) and torch.allclose(steps.joints, joints)
    shaped = model.v_template + model.shapedirs @ betas[0].numpy()
    np.testing.assert_allclose(steps.shaped_verts[0].numpy(), shaped * 1000, atol=1e-8)
    np.testing.assert_allclose(steps.rest_joints[0].numpy(), model.j_regressor @ shaped * 1000,
                               atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rodrigues_is_a_rotation_and_matches_scipy(dtype):
    axis_angle = torch.cat([torch.randn(50, 3, dtype=dtype) * 2, torch.zeros(1, 3, dtype=dtype),
                            torch.full((1, 3), 1e-6, dtype=dtype)])
    rot = lbs.axis_angle_to_rotmat(axis_angle)
    eye = torch.eye(3, dtype=dtype).expand_as(rot)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=tol)
    assert torch.allclose(torch.det(rot), torch.ones(len(rot), dtype=dtype), atol=tol)
    expected = Rotation.from_rotvec(axis_angle.double().numpy()).as_matrix()
    np.testing.assert_allclose(rot.double().numpy(), expected, atol=tol * 10)


def test_rodrigues_gradcheck_including_zero():
    axis_angle = torch.cat([torch.randn(4, 3, dtype=torch.float64),
                            torch.zeros(1, 3, dtype=torch.float64)])
    assert torch.autograd.gradcheck(lbs.axis_angle_to_rotmat, (axis_angle.requires_grad_(),))


def test_project_to_rotation_fixes_noise_and_reflection():
    rot = lbs.axis_angle_to_rotmat(torch.randn(5, 3, dtype=torch.float64))
    noisy = rot + 1e-3 * torch.randn(5, 3, 3, dtype=torch.float64)
    projected = lbs.project_to_rotation(noisy)
    assert torch.allclose(torch.det(projected), torch.ones(5, dtype=torch.float64))
    assert (projected - rot).abs().max() < 5e-3


def test_gradients_flow_to_pose_and_betas(model):
    layer = ManoLayer(model=model)
    pose = torch.randn(2, 9, requires_grad=True)
    betas = torch.randn(2, 10, requires_grad=True)
    verts, joints = layer(pose, betas)
    (verts.sum() + joints.sum()).backward()
    assert pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs,message",
    [({"side": "middle"}, "side must be one of"),
     ({"ncomps": 0}, "ncomps must be an integer in 1..45"),
     ({"ncomps": 46}, "1..45"), ({"center_idx": 21}, "center_idx"),
     ({"root_rot_mode": "quat"}, "root_rot_mode"), ({"joint_rot_mode": "euler"}, "joint_rot_mode")],
)
def test_bad_options_raise(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ManoLayer(model=model, **kwargs)


def test_bad_inputs_name_the_expected_shape(model):
    layer = ManoLayer(model=model, ncomps=6)
    with pytest.raises(ValueError, match=r"pose_coeffs must have shape \(B, 9\).*got \(4, 45\)"):
        layer(torch.zeros(4, 45))
    with pytest.raises(ValueError, match=r"betas must have shape \(B, 10\) with B=4, got \(4, 9\)"):
        layer(torch.zeros(4, 9), torch.zeros(4, 9))
    with pytest.raises(ValueError, match=r"trans must have shape \(B, 3\)"):
        layer(torch.zeros(4, 9), None, torch.zeros(3))
    with pytest.raises(ValueError, match="floating-point tensor, got dtype torch.int64"):
        layer(torch.zeros(4, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="must be a torch.Tensor, got ndarray"):
        layer(np.zeros((4, 9)))
    rotmat_layer = ManoLayer(model=model, use_pca=False, joint_rot_mode="rotmat")
    with pytest.raises(ValueError, match=r"\(B, 16, 3, 3\)"):
        rotmat_layer(torch.zeros(2, 48))


def test_model_side_must_match(model):
    with pytest.raises(ValueError, match="right hand"):
        ManoLayer(model=model, side="left")


@pytest.mark.skipif(not manopth_available(), reason="manopth is not installed (optional)")
@pytest.mark.parametrize(
    "kind,side,use_pca,ncomps,flat_hand_mean,center_idx",
    [(k, s, p, n, f, c) for k, s, (p, n), f, c in itertools.product(
        ("random", "synthetic"), ("right", "left"),
        ((True, 1), (True, 6), (True, 30), (True, 45), (False, 45)), (True, False), (None, 9))],
)
def test_matches_manopth(kind, side, use_pca, ncomps, flat_hand_mean, center_idx):
    model = random_model(seed=5, side=side) if kind == "random" else load_synthetic_model(side)
    options = dict(use_pca=use_pca, ncomps=ncomps, flat_hand_mean=flat_hand_mean,
                   center_idx=center_idx)
    ours = ManoLayer(model=model, side=side, **options)
    theirs = make_manopth_layer(model, **options)
    pose = torch.randn(4, 3 + ours.ncomps) * 0.7
    betas = torch.randn(4, 10)
    for trans in (None, torch.randn(4, 3) * 0.1):
        v, j = ours(pose, betas, trans)
        tv, tj = theirs(pose, betas, torch.zeros(1) if trans is None else trans)
        assert (v - tv).abs().max() < 1e-3 and (j - tj).abs().max() < 1e-3
