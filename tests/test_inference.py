"""handkit.inference: scenarios 1 and 2 (Sec. II-D), copy and interpolation baselines,
bidirectional and gated propagation (issue 10), and the gate's calibration on labels only."""

import math

import numpy as np
import pytest
import roma
import torch

from handkit.data import FrameBatch, FrameDataset, VideoDataset
from handkit.inference import (
    GateParams,
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    blend_params,
    calibrate_gate,
    copy_nearest,
    encode_video,
    evaluating,
    gate,
    gate_scores,
    interpolate,
    predict_video,
    propagate,
    propagate_bidirectional,
    propagate_from,
    slerp_theta,
)
from handkit.inference.fusion import fuse
from handkit.models import HandFeatures, HandParams, HandPredictor, ManoDecoder, PoseAligner

SAMPLES = "data_samples/synthetic"
FRAMES = 40
SIZE = 32


def randomise_output_layers(module, scale=0.01, seed=0):
    """Small random weights in the aligner's zero-initialised output layers (so it moves)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, child in module.named_modules():
            if name.split(".")[-1] == "output":
                child.weight.copy_(scale * torch.randn(child.weight.shape, generator=generator))
                child.bias.copy_(scale * torch.randn(child.bias.shape, generator=generator))
    return module


def downsample(frames, intrinsics):
    """(T, 64, 64, 3) uint8 -> (T, 3, 32, 32) float in [0, 1] by 2x2 means, and their intrinsics."""
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    images = torch.nn.functional.avg_pool2d(images, 2)
    intrinsics = torch.as_tensor(intrinsics, dtype=torch.float32).clone()
    intrinsics[:, :2, :2] /= 2
    intrinsics[:, :2, 2] = intrinsics[:, :2, 2] / 2 - 0.25  # centres: u' = (u + 0.5) / 2 - 0.5
    return images, intrinsics


@pytest.fixture(scope="module")
def clip():
    """The first 40 frames of a sample video at 32 px, and its ground truth."""
    video = VideoDataset(SAMPLES, split="test").video("synth_010")
    images, intrinsics = downsample(video.frames[:FRAMES], video.intrinsics[:FRAMES])
    truth = HandParams(*(torch.as_tensor(getattr(video, k)[:FRAMES], dtype=torch.float32)
                         for k in ("root", "theta", "beta")))
    return images, intrinsics, truth


def labels_at(truth, frames):
    frames = np.asarray(frames)
    rows = torch.as_tensor(frames)
    return VideoLabels(frames, HandParams(truth.root[rows], truth.theta[rows], truth.beta[rows]),
                       num_frames=truth.root.shape[0])


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return HandPredictor()


@pytest.fixture(scope="module")
def aligner():
    torch.manual_seed(1)
    return randomise_output_layers(PoseAligner())


@pytest.fixture(scope="module")
def features(clip, predictor):
    images, intrinsics, _ = clip
    return encode_video(predictor, images, intrinsics, batch_size=16)


def hands_equal(a: VideoPrediction, b: VideoPrediction, rows=slice(None)):
    return all(torch.equal(getattr(a, k)[rows], getattr(b, k)[rows])
               for k in ("root", "theta", "beta", "joints", "verts"))


def rotation_about_z(degrees):
    return [0.0, 0.0, math.radians(degrees)]


# ---- encoding ---------------------------------------------------------------------------------


def test_encoding_is_chunk_free_and_leaves_the_modules_modes(clip, predictor, features):
    images, intrinsics, _ = clip
    predictor.train()
    predictor.encoder.eval()  # a mixed state must come back as it was
    again = encode_video(predictor, images, intrinsics, batch_size=64)
    assert predictor.training and not predictor.encoder.training
    predictor.eval()
    assert torch.allclose(again.z.z_theta, features.z.z_theta, atol=1e-5)
    assert torch.allclose(again.regression.joints, features.regression.joints, atol=1e-3)
    assert features.num_frames == FRAMES and features.regression.joints.shape == (FRAMES, 21, 3)
    assert not features.regression.joints.requires_grad


def test_evaluating_restores_each_submodule():
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
    module[1].eval()
    with evaluating(module):
        assert not module.training and not torch.is_grad_enabled()
    assert module.training and module[0].training and not module[1].training


# ---- scenario 2 and the baselines --------------------------------------------------------------


def test_zero_initialised_aligner_propagation_is_copy(clip, features):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    aligner = PoseAligner()  # output layers start at zero: phi = 0
    propagated = propagate(features, labels, aligner=aligner)
    copied = copy_nearest(labels, mano=aligner.mano)
    assert hands_equal(propagated, copied)
    # N(u): frame 8 is a tie between 0 and 16 and goes to the earlier label
    assert torch.equal(copied.theta[8], truth.theta[0]) and torch.equal(copied.theta[9],
                                                                        truth.theta[16])


def test_propagation_is_the_aligner_from_the_nearest_label(clip, features, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    propagated = propagate(features, labels, aligner=aligner, batch_size=7)
    nearest = torch.as_tensor(labels.frames[labels.nearest_rows()])
    with torch.no_grad():
        z = features.z
        reference = aligner(HandParams(truth.root[nearest], truth.theta[nearest],
                                       truth.beta[nearest]),
                            HandFeatures(z.z_r, z.z_theta),
                            HandFeatures(z.z_r[nearest], z.z_theta[nearest]))
    unlabelled = torch.as_tensor(~labels.mask)
    assert torch.allclose(propagated.root[unlabelled], reference.root[unlabelled], atol=1e-4)
    assert torch.allclose(propagated.theta[unlabelled], reference.theta48[unlabelled], atol=1e-6)
    assert torch.allclose(propagated.joints[unlabelled], reference.joints[unlabelled], atol=1e-3)
    assert not torch.allclose(propagated.theta[unlabelled], truth.theta[nearest][unlabelled])
    # labelled frames keep their labels
    labelled = torch.as_tensor(labels.mask)
    assert torch.equal(propagated.theta[labelled], truth.theta[labelled])
    assert torch.equal(propagated.root[labelled], truth.root[labelled])


def test_interpolation_holds_the_labels_and_slerps_between_them():
    zero = HandParams(torch.tensor([[0.0, 0.0, 400.0], [100.0, 20.0, 600.0]]),
                      torch.zeros(2, 48), torch.stack([torch.zeros(10), torch.ones(10)]))
    theta = zero.theta.clone()
    theta[1, :3] = torch.tensor(rotation_about_z(90.0))
    theta[1, 3:6] = torch.tensor([0.4, 0.0, 0.0])  # one finger joint bends about x
    labels = VideoLabels(np.array([2, 12]), HandParams(zero.root, theta, zero.beta), num_frames=16)
    mano = ManoDecoder()
    out = interpolate(labels, mano=mano)
    assert torch.equal(out.theta[[2, 12]], theta) and torch.equal(out.root[[2, 12]], zero.root)
    with torch.no_grad():
        _, label_joints = mano(zero.root, theta, zero.beta)
    assert torch.allclose(out.joints[[2, 12]], label_joints, atol=1e-4)
    # halfway (frame 7): 45 degrees about z, half the finger bend, linear root and beta
    assert torch.allclose(out.theta[7, :3], torch.tensor(rotation_about_z(45.0)), atol=1e-6)
    assert torch.allclose(out.theta[7, 3:6], torch.tensor([0.2, 0.0, 0.0]), atol=1e-6)
    assert torch.allclose(out.root[7], zero.root.mean(0)) and torch.allclose(out.beta[7],
                                                                              torch.full((10,), .5))
    # a quarter of the way (frame 4.5 does not exist; frame 4 is w = 0.2): 18 degrees
    assert torch.allclose(out.theta[4, :3], torch.tensor(rotation_about_z(18.0)), atol=1e-6)
    assert torch.allclose(out.weight[[2, 4, 7, 12]], torch.tensor([0.0, 0.2, 0.5, 0.0]))
    # outside the labels: the one neighbour, copied
    assert torch.equal(out.theta[0], theta[0]) and torch.equal(out.theta[15], theta[1])
    assert torch.equal(out.root[14], zero.root[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_slerp_theta_follows_the_geodesic(dtype):
    generator = torch.Generator().manual_seed(3)
    theta0 = (0.8 * torch.randn(5, 48, generator=generator)).to(dtype)
    theta1 = (0.8 * torch.randn(5, 48, generator=generator)).to(dtype)
    weight = torch.tensor([0.0, 0.25, 0.5, 0.9, 1.0], dtype=dtype)
    out = slerp_theta(theta0, theta1, weight)
    assert torch.equal(out[0], theta0[0]) and torch.equal(out[4], theta1[4])
    r0, r1, rw = (roma.rotvec_to_rotmat(t.reshape(5, 16, 3)) for t in (theta0, theta1, out))
    total = roma.rotmat_geodesic_distance(r0, r1)  # (5, 16)
    assert torch.allclose(roma.rotmat_geodesic_distance(r0, rw), weight[:, None] * total,
                          atol=1e-5)
    assert torch.allclose(roma.rotmat_geodesic_distance(rw, r1), (1 - weight[:, None]) * total,
                          atol=1e-5)
    # the same as roma's slerp, row by row
    for i in range(5):
        expected = roma.rotvec_slerp(theta0[i].reshape(16, 3), theta1[i].reshape(16, 3),
                                     weight[i:i + 1])[0]
        assert torch.allclose(roma.rotvec_to_rotmat(expected), rw[i], atol=1e-5)


def test_blend_params_is_not_an_axis_angle_average():
    a = HandParams(torch.zeros(1, 3), torch.zeros(1, 48), torch.zeros(1, 10))
    theta = torch.zeros(1, 48)
    theta[0, :3] = torch.tensor([0.0, 0.0, 3.0])  # 172 degrees about z
    b = HandParams(torch.ones(1, 3), theta, torch.ones(1, 10))
    other = torch.zeros(1, 48)
    other[0, :3] = torch.tensor([0.0, 0.0, -3.0])  # -172 degrees: 16 degrees from b
    mid = blend_params(b, HandParams(b.root, other, b.beta), torch.tensor([0.5]))
    angle = roma.rotmat_geodesic_distance(roma.rotvec_to_rotmat(mid.theta[:, :3]),
                                          roma.rotvec_to_rotmat(theta[:, :3]))
    assert torch.allclose(angle, torch.tensor([(2 * math.pi - 6.0) / 2]), atol=1e-5)
    assert torch.allclose(blend_params(a, b, torch.tensor([0.25])).root, torch.full((1, 3), .25))


def test_bidirectional_blends_both_sides(clip, features, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [4, 20, 36])
    out = propagate_bidirectional(features, labels, aligner=aligner)
    before, after, weight = labels.neighbour_rows()
    from_before = propagate_from(aligner, features, labels, before)
    from_after = propagate_from(aligner, features, labels, after)
    # labelled frames keep their labels; outside the labels, one-sided propagation
    assert torch.equal(out.theta[[4, 20, 36]], truth.theta[[4, 20, 36]])
    assert torch.equal(out.theta[:4], from_before.theta[:4])
    assert torch.equal(out.theta[37:], from_after.theta[37:])
    one_sided = propagate(features, labels_at(truth, [36]), aligner=aligner)
    assert torch.allclose(out.joints[37:], one_sided.joints[37:])
    # mid-gap (frame 12, w = 1/2): the geodesic midpoint of the two propagated rotations
    assert weight[12] == 0.5 and torch.allclose(out.weight[[12, 14]], torch.tensor([0.5, 0.625]))
    r_out, r_a, r_b = (roma.rotvec_to_rotmat(t[12].reshape(16, 3))
                       for t in (out.theta, from_before.theta, from_after.theta))
    half = roma.rotmat_geodesic_distance(r_a, r_b) / 2
    assert torch.allclose(roma.rotmat_geodesic_distance(r_out, r_a), half, atol=1e-5)
    assert torch.allclose(roma.rotmat_geodesic_distance(r_out, r_b), half, atol=1e-5)
    assert torch.allclose(out.root[12], (from_before.root[12] + from_after.root[12]) / 2)


def test_bidirectional_with_a_zero_aligner_is_interpolation(clip, features):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    aligner = PoseAligner()
    out = propagate_bidirectional(features, labels, aligner=aligner)
    reference = interpolate(labels, mano=aligner.mano)
    assert torch.allclose(out.theta, reference.theta, atol=1e-6)
    assert torch.allclose(out.joints, reference.joints, atol=1e-3)


# ---- the gate ----------------------------------------------------------------------------------


def test_gate_extremes_are_propagation_and_regression(clip, features, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    propagated = propagate(features, labels, aligner=aligner)
    always = gate(features, labels, aligner=aligner, params=GateParams(threshold=math.inf))
    assert hands_equal(always, propagated)
    never = gate(features, labels, aligner=aligner, params=GateParams(threshold=-math.inf))
    unlabelled = np.flatnonzero(~labels.mask)
    assert hands_equal(never, features.regression, unlabelled)
    assert hands_equal(never, propagated, labels.frames)  # labels stay
    # a threshold in between picks, per frame, by the score
    scores = gate_scores(features, labels, score="cycle", aligner=aligner)
    assert torch.equal(scores[labels.frames], torch.zeros(4)) and (scores[unlabelled] > 0).all()
    middle = float(scores[unlabelled].median())
    picked = gate(features, labels, aligner=aligner, params=GateParams(threshold=middle))
    prop_rows = [u for u in unlabelled if scores[u] <= middle]
    reg_rows = [u for u in unlabelled if scores[u] > middle]
    assert prop_rows and reg_rows
    assert hands_equal(picked, propagated, prop_rows)
    assert hands_equal(picked, features.regression, reg_rows)


def test_soft_gate_blends(clip, features, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 39])
    scores = gate_scores(features, labels, score="feature")
    params = GateParams(score="feature", threshold=float(scores[1:-1].median()),
                        temperature=float(scores[1:-1].std()))
    out = gate(features, labels, aligner=aligner, params=params)
    expected = torch.sigmoid((params.threshold - scores) / params.temperature)
    assert torch.allclose(out.weight[1:-1], expected[1:-1])
    propagated = propagate(features, labels, aligner=aligner)
    blended = blend_params(features.regression.params, propagated.params, out.weight)
    assert torch.allclose(out.theta, blended.theta) and torch.allclose(out.root, blended.root)


def fake_video(regression: HandParams, seed=0):
    """A VideoFeatures with random z and a given 'regression' (MANO by the embedded hand)."""
    generator = torch.Generator().manual_seed(seed)
    frames = regression.root.shape[0]
    with torch.no_grad():
        verts, joints = ManoDecoder()(regression.root, regression.theta, regression.beta)
    z = HandFeatures(torch.rand(frames, 512, generator=generator),
                     torch.rand(frames, 512, generator=generator))
    return VideoFeatures(z, VideoPrediction("regression", regression.root, regression.theta,
                                            regression.beta, joints, verts))


def test_calibration_follows_the_better_source_on_labelled_pairs(clip, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    exact = fake_video(truth)  # "regression" = the ground truth: regression must win
    fit = calibrate_gate([(exact, labels)], aligner)
    assert fit.gate.threshold == -math.inf and fit.gated_mpjpe < 1e-3 and fit.num_pairs == 6
    far = HandParams(truth.root + torch.tensor([0.0, 0.0, 1000.0]), truth.theta, truth.beta)
    fit = calibrate_gate([(fake_video(far), labels)], aligner, score="feature")
    assert fit.gate.threshold == math.inf and fit.gate.score == "feature"
    assert fit.gated_mpjpe == pytest.approx(float(fit.propagation_mpjpe.mean()))
    assert (fit.regression_mpjpe > 900).all()


def test_calibration_reads_only_labelled_rows(clip, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    video = fake_video(truth)
    poisoned_z = video.z.z_r.clone()
    poisoned_z[torch.as_tensor(~labels.mask)] = float("nan")
    poisoned = VideoFeatures(HandFeatures(poisoned_z, video.z.z_theta), video.regression)
    clean, dirty = (calibrate_gate([(v, labels)], aligner) for v in (video, poisoned))
    assert clean.gate == dirty.gate and np.array_equal(clean.scores, dirty.scores)


# ---- every mode at once, and bad inputs ---------------------------------------------------------


def test_predict_video_runs_every_mode(clip, features, aligner):
    """Each mode's output is what that mode's own function gives, on frames where it differs
    from the others."""
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    propagated = propagate(features, labels, aligner=aligner)
    scores = gate_scores(features, labels, score="cycle", aligner=aligner,
                         propagated=propagated.params)
    cut = float(scores[torch.as_tensor(~labels.mask)].median())
    gate_params = GateParams(threshold=cut, temperature=0.0)  # half the frames each way
    out = predict_video(features, labels, aligner=aligner, gate_params=gate_params)
    alone = {
        "regression": features.regression,
        "propagation": propagated,
        "copy": copy_nearest(labels, mano=aligner.mano),
        "interpolation": interpolate(labels, mano=aligner.mano),
        "bidirectional": propagate_bidirectional(features, labels, aligner=aligner),
        "gated": gate(features, labels, aligner=aligner, params=gate_params),
        "fused": fuse(features, labels, aligner=aligner),
        "fused-interp": fuse(features, labels, aligner=aligner, interpolation=True),
    }
    assert list(out) == list(alone)
    assert [prediction.mode for prediction in out.values()] == list(alone)
    assert [mode for mode in alone if not hands_equal(out[mode], alone[mode])] == []
    coincide = [(a, b) for a in alone for b in alone if a < b and hands_equal(alone[a], alone[b])]
    assert coincide == []  # no two modes give the same hands here
    unlabelled = np.flatnonzero(~labels.mask)
    assert all(torch.isfinite(p.verts[unlabelled]).all() for p in out.values())
    g = out["gated"].weight[unlabelled]
    assert (g > 0).any() and (g < 1).any()  # the gate mixes propagation and regression
    default = predict_video(features, labels, modes=["gated"], aligner=aligner,
                            gate_params=GateParams())
    assert hands_equal(default["gated"], out["propagation"])  # g = 1: propagation everywhere


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frames": np.array([3, 1])}, r"strictly increasing within 0\.\.9, got \[3, 1\]"),
        ({"frames": np.array([0, 10])}, r"strictly increasing within 0\.\.9, got \[0, 10\]"),
        ({"frames": np.array([0.0, 1.0])}, r"non-empty \(L,\) integer array, got shape \(2,\) "
                                           r"dtype float64"),
        ({"frames": np.array([0, 4, 8])}, r"HandParams of L=3 rows .* got root \(2, 3\)"),
        ({"num_frames": 0}, r"num_frames must be an integer >= 1, got 0"),
    ],
)
def test_labels_refuse_bad_inputs(kwargs, message):
    params = HandParams(torch.zeros(2, 3), torch.zeros(2, 48), torch.zeros(2, 10))
    arguments = {"frames": np.array([0, 4]), "params": params, "num_frames": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        VideoLabels(**arguments)


def test_modes_refuse_bad_inputs(clip, features, predictor, aligner):
    images, intrinsics, truth = clip
    labels = labels_at(truth, [0, 39])
    with pytest.raises(ValueError, match=r"images must have shape \(T, 3, S, S\), got "
                                         r"\(40, 32, 32\)"):
        encode_video(predictor, images[:, 0], intrinsics)
    with pytest.raises(ValueError,
                       match=r"intrinsics must have shape \(T, 3, 3\) with T=40, got \(39, 3"):
        encode_video(predictor, images, intrinsics[1:])
    short = HandParams(truth.root[:10], truth.theta[:10], truth.beta[:10])
    with pytest.raises(ValueError, match=r"labels are for a video of T=10 frames, the features "
                                         r"for T=40"):
        propagate(features, labels_at(short, [0, 9]), aligner=aligner)
    with pytest.raises(ValueError, match=r"modes \['propagation'\] need the aligner"):
        predict_video(features, labels, modes=["regression", "propagation"])
    with pytest.raises(ValueError, match=r"modes must be distinct names from"):
        predict_video(features, labels, modes=["regression", "magic"], aligner=aligner)
    with pytest.raises(ValueError, match=r"'gated' needs gate_params"):
        predict_video(features, labels, aligner=aligner)
    with pytest.raises(ValueError, match=r"theta1 must have shape \(B, 48\) with B=2, got \(2, 45"):
        slerp_theta(torch.zeros(2, 48), torch.zeros(2, 45), torch.zeros(2))
    with pytest.raises(ValueError, match=r"score must be one of \('cycle', 'feature'\)"):
        GateParams(score="distance")
    with pytest.raises(ValueError, match=r"temperature must be finite and >= 0, got -1"):
        GateParams(temperature=-1.0)
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        propagate(features, labels, aligner=aligner, batch_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_modes_follow_the_modules_to_the_gpu(clip, features, aligner):
    _, _, truth = clip
    labels = labels_at(truth, [0, 16, 32, 39])
    gpu = PoseAligner().cuda()
    gpu.load_state_dict(aligner.state_dict())
    out = propagate(features, labels, aligner=gpu)
    assert out.joints.is_cuda
    assert torch.allclose(out.joints.cpu(), propagate(features, labels, aligner=aligner).joints,
                          atol=1e-2)


def test_labels_from_a_batch_with_hidden_ground_truth():
    dataset = FrameDataset(VideoDataset(SAMPLES, split="test"), hide_unlabelled=True)
    batch = FrameBatch.collate([dataset[i] for i in (130, 128, 129, 0, 1)])
    labels = VideoLabels.from_batch(batch, num_frames=300)
    assert labels.frames.tolist() == [0, 128]
    assert torch.equal(labels.params.theta, batch.theta[[3, 1]])
    with pytest.raises(ValueError, match=r"batch must hold frames of one video, got videos "
                                         r"\[0, 1\]"):
        VideoLabels.from_batch(FrameBatch.collate([dataset[0], dataset[300]]), num_frames=300)
