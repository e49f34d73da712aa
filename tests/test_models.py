"""HandPredictor (Eq. 1), PoseAligner (Eqs. 2-4), their records, and gradient flow per stage."""

import dataclasses

import pytest
import torch
import torchvision

from handkit.geometry import intrinsics, project_points, root_from_offsets
from handkit.losses import pair_alignment_loss, pair_objective, predictor_loss
from handkit.mano import ManoLayer
from handkit.models import (
    HandFeatures,
    HandOutput,
    HandParams,
    HandPredictor,
    HandTargets,
    ManoDecoder,
    PoseAligner,
    align_pair,
    forward_pair,
)

SIZE = 32


def images(batch, size=SIZE, seed=0):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def camera(batch, size=SIZE):
    return intrinsics(size, fov_deg=30.0, dtype=torch.float32).expand(batch, 3, 3).clone()


def random_params(batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return HandParams(
        root=torch.tensor([20.0, -10.0, 480.0]) + 30 * torch.randn(batch, 3, generator=generator),
        theta=0.3 * torch.randn(batch, 48, generator=generator),
        beta=torch.randn(batch, 10, generator=generator),
    )


def random_features(batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return HandFeatures(z_r=torch.rand(batch, 512, generator=generator),
                        z_theta=torch.rand(batch, 512, generator=generator))


def targets_from(params):
    """Labels whose joints are MANO's for ``params`` (record convention: wrist at the root)."""
    with torch.no_grad():
        _, joints = ManoDecoder()(params.root, params.theta, params.beta)
    return HandTargets(root=params.root, theta=params.theta, beta=params.beta, joints=joints,
                       joint_valid=torch.ones(joints.shape[:2], dtype=torch.bool))


def randomise_output_layers(module, seed=0):
    """Give every zero-initialised output layer small random weights (so gradients flow back)."""
    generator = torch.Generator().manual_seed(seed)
    names = ("pose_head", "shape_head", "root_head", "output")
    with torch.no_grad():
        for name, child in module.named_modules():
            if name.split(".")[-1] in names:
                child.weight.copy_(0.01 * torch.randn(child.weight.shape, generator=generator))
                child.bias.copy_(0.01 * torch.randn(child.bias.shape, generator=generator))


# ---- HandPredictor -------------------------------------------------------------------------


def test_predictor_output_record_and_initial_root():
    predictor = HandPredictor(d_off_mm=450.0)
    out = predictor(images(2), camera(2))
    assert isinstance(out, HandOutput)
    expected = {"z_r": (2, 512), "z_theta": (2, 512), "root": (2, 3), "theta48": (2, 48),
                "beta": (2, 10), "joints": (2, 21, 3), "verts": (2, 778, 3), "pose18": (2, 18),
                "depth_offset": (2,), "pixel_offset": (2, 2)}
    assert {k: tuple(getattr(out, k).shape) for k in expected} == expected
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.root = out.root
    # zero-initialised heads: flat mean hand, depth d_off on the image centre's ray
    # the intrinsics' principal point: 15.5
    assert torch.equal(out.root, torch.tensor([[0.0, 0.0, 450.0]] * 2))
    assert torch.equal(out.pose18, torch.zeros(2, 18)) and torch.equal(out.beta, torch.zeros(2, 10))


def test_predictor_hand_follows_the_record_convention():
    predictor = HandPredictor()
    randomise_output_layers(predictor)
    intrinsics = camera(2)
    with torch.no_grad():
        out = predictor(images(2), intrinsics)
        reference = ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0)
        verts, joints = reference(out.theta48, out.beta)
    assert torch.allclose(out.joints, joints + out.root[:, None], atol=1e-4)
    assert torch.allclose(out.verts, verts + out.root[:, None], atol=1e-4)
    assert torch.equal(out.joints[:, 0], out.root)
    # the root is recovered from (d_f, t_u, t_v) through the intrinsics and projects to centre + t
    root = root_from_offsets(out.depth_offset, out.pixel_offset, intrinsics, d_off_mm=500.0,
                             image_size=SIZE)
    assert torch.allclose(out.root, root)
    uv = project_points(out.root[:, None], intrinsics)[:, 0]
    assert torch.allclose(uv, out.pixel_offset + (SIZE - 1) / 2, atol=1e-4)


def test_pca_coefficients_map_like_a_pca_mano_layer():
    decoder = ManoDecoder()
    pose18 = torch.randn(3, 18, generator=torch.Generator().manual_seed(1))
    beta = torch.randn(3, 10, generator=torch.Generator().manual_seed(2))
    theta48 = decoder.pca_to_theta(pose18)
    pca_layer = ManoLayer(use_pca=True, ncomps=15, flat_hand_mean=True, center_idx=0)
    with torch.no_grad():
        verts, joints = decoder(torch.zeros(3, 3), theta48, beta)
        pca_verts, pca_joints = pca_layer(pose18, beta)
    assert torch.allclose(verts, pca_verts, atol=1e-4)
    assert torch.allclose(joints, pca_joints, atol=1e-4)
    # the basis is orthonormal: the 45 finger axis-angles keep the coefficients' norm
    assert torch.allclose(theta48[:, 3:].norm(dim=1), pose18[:, 3:].norm(dim=1), atol=1e-5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.rand(2, 1, 32, 32), r"images must have shape \(B, 3, S, S\) with S >= 32, "
                                   r"got \(2, 1, 32, 32\)"),
        (torch.rand(2, 3, 32, 40), r"images must have shape \(B, 3, S, S\).*got \(2, 3, 32, 40\)"),
        (torch.rand(2, 3, 16, 16), r"images must have shape \(B, 3, S, S\).*got \(2, 3, 16, 16\)"),
        (torch.rand(3, 32, 32), r"images must have shape \(B, 3, S, S\).*got \(3, 32, 32\)"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), r"float RGB in \[0, 1\], got dtype"),
        (torch.full((2, 3, 32, 32), 255.0), r"RGB in \[0, 1\], got values in \[255, 255\]"),
        (torch.rand(2, 3, 32, 32).index_fill(3, torch.tensor([4]), float("nan")),
         r"images must be finite, got NaN or inf in a tensor of shape \(2, 3, 32, 32\)"),
    ],
)
def test_predictor_refuses_bad_images(bad, message):
    with pytest.raises(ValueError, match=message):
        HandPredictor()(bad, camera(2))


def test_predictor_refuses_images_of_another_size_than_its_own():
    predictor = HandPredictor(image_size=64)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 3, 64, 64\), got "
                                         r"\(2, 3, 32, 32\)"):
        predictor(images(2), camera(2))
    with pytest.raises(ValueError, match="image_size must be None or an integer >= 32"):
        HandPredictor(image_size=16)


@pytest.mark.parametrize(
    ("intrinsics", "message"),
    [
        (None, r"intrinsics is missing: expected the images' camera matrices, "
               r"shape \(B, 3, 3\) with B=2"),
        (camera(1)[0], r"intrinsics must have shape \(B, 3, 3\) with B=2, got \(3, 3\)"),
        (camera(3), r"intrinsics must have shape \(B, 3, 3\) with B=2, got \(3, 3, 3\)"),
        (torch.eye(4).expand(2, 4, 4),
         r"intrinsics must have shape \(B, 3, 3\) with B=2, got \(2, 4, 4\)"),
        (camera(2).index_fill(1, torch.tensor([0]), float("nan")), r"intrinsics must be finite"),
        (-camera(2), r"positive focal lengths"),
    ],
)
def test_predictor_refuses_bad_intrinsics(intrinsics, message):
    with pytest.raises(ValueError, match=message):
        HandPredictor()(images(2), intrinsics)


def test_predictor_without_intrinsics_says_so():
    with pytest.raises(ValueError, match=r"intrinsics is missing"):
        HandPredictor()(images(2))


def test_channels_last_gives_the_same_prediction():
    torch.manual_seed(0)
    plain = HandPredictor().eval()
    fast = HandPredictor(channels_last=True).eval()
    fast.load_state_dict(plain.state_dict())
    randomise_output_layers(plain)
    randomise_output_layers(fast)
    with torch.no_grad():
        a, b = plain(images(2), camera(2)), fast(images(2), camera(2))
    assert torch.allclose(a.joints, b.joints, atol=1e-3)
    assert torch.allclose(a.z_r, b.z_r, atol=1e-5) and torch.allclose(a.z_theta, b.z_theta,
                                                                      atol=1e-5)


def test_imagenet_weights_come_from_a_local_file_only(tmp_path):
    resnet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)
    predictor = HandPredictor(imagenet_weights=path)
    assert torch.equal(predictor.encoder.stem[0].weight, resnet.conv1.weight)
    assert torch.equal(predictor.encoder.layer4[1].conv2.weight, resnet.layer4[1].conv2.weight)
    with pytest.raises(ValueError, match="found no"):
        HandPredictor(imagenet_weights=tmp_path / "missing.pth")
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not a torchvision ResNet-18 state dict"):
        HandPredictor(imagenet_weights=tmp_path / "other.pth")


# ---- PoseAligner ---------------------------------------------------------------------------


def test_untrained_aligner_copies_its_input():
    gamma_b = random_params(3)
    out = PoseAligner()(gamma_b, random_features(3, seed=1), random_features(3, seed=2))
    assert torch.equal(out.root, gamma_b.root) and torch.equal(out.theta48, gamma_b.theta)
    assert out.beta is gamma_b.beta
    assert out.pose18 is None and out.depth_offset is None and out.pixel_offset is None
    expected = targets_from(gamma_b)
    assert torch.allclose(out.joints, expected.joints, atol=1e-4)


def test_aligner_residual_form_by_hand():
    # output layers: weight 0, bias b -> phi^r = b (in 100 mm units), phi^theta = tanh(b)
    aligner = PoseAligner()
    with torch.no_grad():
        aligner.root_net.output.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
        aligner.theta_net.output.bias.fill_(3.0)
    gamma_b = random_params(2)
    out = aligner(gamma_b, random_features(2, 1), random_features(2, 2))
    assert torch.allclose(out.root, gamma_b.root + torch.tensor([50.0, -100.0, 200.0]))
    assert torch.allclose(out.theta48, gamma_b.theta + torch.tanh(torch.tensor(3.0)))


def test_aligner_copies_beta_exactly_and_bounds_theta_steps():
    torch.manual_seed(0)
    aligner = PoseAligner()
    with torch.no_grad():
        for parameter in aligner.parameters():
            parameter.normal_(std=1.0)  # a far-from-trained aligner
    gamma_b = random_params(4)
    out = aligner(gamma_b, random_features(4, 1), random_features(4, 2))
    assert torch.equal(out.beta, gamma_b.beta)  # Eq. 2
    assert not torch.equal(out.root, gamma_b.root)
    step = out.theta48 - gamma_b.theta
    assert step.abs().max() < 1.0 + 1e-6 and step.abs().max() > 0.5  # Tanh: (-1, 1) rad


def test_aligner_takes_ground_truth_in_float64():
    gamma = random_params(2)
    gamma64 = HandParams(root=gamma.root.double(), theta=gamma.theta.double(),
                         beta=gamma.beta.double())
    out = PoseAligner()(gamma64, random_features(2, 1), random_features(2, 2))
    assert out.root.dtype == torch.float32 and torch.allclose(out.root, gamma.root)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: HandParams(root=torch.zeros(2, 3), theta=torch.zeros(2, 45),
                            beta=torch.zeros(2, 10)),
         r"theta must have shape \(B, 48\) with B=2, got \(2, 45\)"),
        (lambda: HandParams(root=torch.zeros(2, 3), theta=torch.zeros(2, 48),
                            beta=torch.zeros(3, 10)),
         r"beta must have shape \(B, 10\) with B=2, got \(3, 10\)"),
        (lambda: HandParams(root=torch.zeros(3), theta=torch.zeros(1, 48), beta=torch.zeros(1, 10)),
         r"root must have shape \(B, 3\), got \(3,\)"),
        (lambda: HandFeatures(z_r=torch.zeros(2, 256), z_theta=torch.zeros(2, 512)),
         r"z_r must have shape \(B, 512\), got \(2, 256\)"),
    ],
)
def test_records_refuse_wrong_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_aligner_refuses_bad_inputs():
    aligner = PoseAligner()
    gamma, z_a, z_b = random_params(2), random_features(2, 1), random_features(2, 2)
    with pytest.raises(ValueError, match=r"features_a must have batch size B=2 like gamma_b, "
                                         r"got z_r of shape \(3, 512\)"):
        aligner(gamma, random_features(3), z_b)
    with pytest.raises(ValueError, match="gamma_b must be a HandParams, got tuple"):
        aligner((gamma.root, gamma.theta, gamma.beta), z_a, z_b)
    nan_root = gamma.root.clone()
    nan_root[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"gamma_b.root must be finite.*shape \(2, 3\)"):
        aligner(dataclasses.replace(gamma, root=nan_root), z_a, z_b)


# ---- pairs and gradient flow per stage -------------------------------------------------------


def pair_batch(batch=2):
    gamma_s = random_params(batch, seed=3)
    return dict(images_u=images(batch, seed=1), intrinsics_u=camera(batch),
                images_s=images(batch, seed=2),
                intrinsics_s=camera(batch), gamma_s=gamma_s), targets_from(gamma_s)


def test_forward_pair_matches_separate_calls_in_eval_mode():
    torch.manual_seed(0)
    predictor, aligner = HandPredictor().eval(), PoseAligner()
    randomise_output_layers(predictor)
    randomise_output_layers(aligner, seed=1)
    inputs, _ = pair_batch()
    with torch.no_grad():
        pair = forward_pair(predictor, aligner, **inputs)
        pred_u = predictor(inputs["images_u"], inputs["intrinsics_u"])
        pred_s = predictor(inputs["images_s"], inputs["intrinsics_s"])
        aligned_s = aligner(pred_u.params, pred_s.features, pred_u.features)  # u -> s
        aligned_u = aligner(inputs["gamma_s"], pred_u.features, pred_s.features)  # u <- s
    for got, want in ((pair.pred_u, pred_u), (pair.pred_s, pred_s),
                      (pair.aligned_s, aligned_s), (pair.aligned_u, aligned_u)):
        assert torch.allclose(got.joints, want.joints, atol=1e-3)
        assert torch.allclose(got.z_theta, want.z_theta, atol=1e-5)
    assert torch.equal(pair.aligned_s.z_r, pair.pred_s.z_r)  # aligned to s: frame s's features


def test_forward_pair_refuses_mismatched_frames():
    inputs, _ = pair_batch()
    inputs["images_s"] = images(3)
    with pytest.raises(ValueError, match=r"same shape \(B, 3, S, S\), got \(2, 3, 32, 32\) "
                                         r"and \(3, 3, 32, 32\)"):
        forward_pair(HandPredictor(), PoseAligner(), **inputs)
    inputs, _ = pair_batch()
    inputs["intrinsics_s"] = None
    with pytest.raises(ValueError, match="intrinsics is missing"):
        forward_pair(HandPredictor(), PoseAligner(), **inputs)


def grads(module):
    return {name: p.grad for name, p in module.named_parameters()}


def test_stage_1_never_touches_the_aligner():
    predictor, aligner = HandPredictor(), PoseAligner()
    aligner_before = {k: v.clone() for k, v in aligner.state_dict().items()}
    optimizer = torch.optim.Adam(predictor.parameters(), lr=1e-3)
    inputs, targets = pair_batch()
    loss = predictor_loss(predictor(inputs["images_s"], inputs["intrinsics_s"]), targets)
    loss.total.backward()
    optimizer.step()
    assert all(g is None for g in grads(aligner).values())
    assert all(torch.equal(v, aligner_before[k]) for k, v in aligner.state_dict().items())
    assert grads(predictor)["pose_head.weight"].abs().sum() > 0
    assert grads(predictor)["root_head.weight"].abs().sum() > 0


def test_stage_2_updates_only_the_aligner():
    predictor, aligner = HandPredictor(), PoseAligner()
    randomise_output_layers(predictor)
    predictor.eval()
    predictor_before = {k: v.clone() for k, v in predictor.state_dict().items()}
    optimizer = torch.optim.Adam(aligner.parameters(), lr=1e-3)
    inputs, targets = pair_batch()
    pair = forward_pair(predictor, aligner, train_predictor=False, **inputs)
    pair_alignment_loss(pair, targets).total.backward()
    optimizer.step()
    assert all(g is None for g in grads(predictor).values())
    assert all(torch.equal(v, predictor_before[k]) for k, v in predictor.state_dict().items())
    aligner_grads = grads(aligner)
    assert aligner_grads["root_net.output.weight"].abs().sum() > 0
    assert aligner_grads["theta_net.output.weight"].abs().sum() > 0


def test_stage_3_trains_both_and_alignment_reaches_the_encoder():
    predictor, aligner = HandPredictor(), PoseAligner()
    randomise_output_layers(predictor)
    randomise_output_layers(aligner, seed=1)
    inputs, targets = pair_batch()
    pair = forward_pair(predictor, aligner, **inputs)
    pair_objective(pair, targets).total.backward()
    assert all(g is not None for g in grads(predictor).values())
    assert all(g is not None and g.abs().sum() > 0 for g in grads(aligner).values())
    # L_align alone (through the aligner) also trains the predictor, the point of stage 3
    predictor.zero_grad(set_to_none=True)
    pair = forward_pair(predictor, aligner, **inputs)
    pair_alignment_loss(pair, targets).total.backward()
    assert grads(predictor)["encoder.stem.0.weight"].abs().sum() > 0


def test_align_pair_directions():
    aligner = PoseAligner()
    with torch.no_grad():
        aligner.root_net.output.bias.fill_(1.0)  # +100 mm on every axis, whatever the input
    pred_u = HandPredictor()(images(2), camera(2))
    pred_s = HandPredictor()(images(2, seed=5), camera(2))
    gamma_s = random_params(2)
    aligned_s, aligned_u = align_pair(aligner, pred_u, pred_s, gamma_s)
    assert torch.allclose(aligned_s.root, pred_u.root + 100.0)  # u -> s starts from gamma_u^reg
    assert torch.allclose(aligned_u.root, gamma_s.root + 100.0)  # u <- s starts from gamma_s*
    assert torch.equal(aligned_u.beta, gamma_s.beta) and torch.equal(aligned_s.beta, pred_u.beta)
    assert torch.equal(aligned_u.z_theta, pred_u.z_theta)


def test_hand_output_split_and_detach():
    out = HandPredictor()(images(3), camera(3))
    head, tail = out.split(1)
    assert head.root.shape == (1, 3) and tail.verts.shape == (2, 778, 3)
    assert head.pose18.shape == (1, 18) and tail.pixel_offset.shape == (2, 2)
    detached = out.detach()
    assert not detached.joints.requires_grad and out.joints.requires_grad
