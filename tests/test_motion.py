"""The synthetic generator's motion models (handkit.data.motion): the keyframe model of every
earlier set and the natural one (smooth random processes, grasp transitions, jitter)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handkit.data import motion, synthetic, video_format
from handkit.data.synth_params import SynthParams
from handkit.mano.layer import ManoLayer

FRAMES = 600


@pytest.fixture(scope="module")
def layer() -> ManoLayer:
    return ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0, dtype=torch.float64)


def sampled(layer, **params) -> dict[str, np.ndarray]:
    return motion.sample_motion(np.random.default_rng([4, 2]), FRAMES, layer, 64,
                                SynthParams(key_gap=(40, 100), **params))


def mean_speed(centre: np.ndarray) -> float:
    """Mean distance (mm) the hand centre moves per frame."""
    return float(np.linalg.norm(np.diff(centre, axis=0), axis=1).mean())


def interpolation_error(values: np.ndarray, gap: int) -> float:
    """Mean error of linear interpolation between frames ``gap`` apart (as from labels)."""
    keys = np.arange(0, len(values), gap)
    guess = np.stack([np.interp(np.arange(keys[-1] + 1), keys, values[keys, d])
                      for d in range(values.shape[1])], 1)
    return float(np.linalg.norm(guess - values[: keys[-1] + 1], axis=1).mean())


def test_natural_motion_stays_in_the_generator_ranges(layer):
    params = SynthParams(motion="natural")
    out = sampled(layer, motion="natural")
    assert out["theta"].shape == (FRAMES, 48) and out["centre"].shape == (FRAMES, 3)
    assert np.isfinite(out["theta"]).all() and np.isfinite(out["centre"]).all()
    near, far = params.depth_mm
    slack = 5 * motion.JITTER_MM
    assert near - slack < out["centre"][:, 2].min() and out["centre"][:, 2].max() < far + slack
    assert out["centre"][:, 2].std() > 20.0  # it does move in depth


def test_motion_speed_scales_the_natural_motion_and_its_transitions(layer):
    slow = sampled(layer, motion="natural", motion_speed=1.0)
    fast = sampled(layer, motion="natural", motion_speed=2.0)
    assert mean_speed(fast["centre"]) > 1.5 * mean_speed(slow["centre"])
    expected = motion.TRANSITIONS_PER_S * FRAMES / motion.FPS  # 5 at speed 1
    assert 0 < len(slow["transitions"]) <= 3 * expected
    assert len(fast["transitions"]) > len(slow["transitions"])


def test_interpolating_labels_fits_keyframes_much_better_than_natural_motion(layer):
    # labels 16 frames apart (measured: centre 5.1 against 2.1 mm, fingers 0.15 against 0.02)
    keyframes, natural = sampled(layer), sampled(layer, motion="natural")
    assert interpolation_error(natural["centre"], 16) > \
        2 * interpolation_error(keyframes["centre"], 16)
    assert interpolation_error(natural["theta"][:, 3:], 16) > \
        3 * interpolation_error(keyframes["theta"][:, 3:], 16)


def test_jitter_makes_neighbouring_frames_differ_a_little(layer):
    out = sampled(layer, motion="natural")
    steps = np.linalg.norm(np.diff(out["centre"], axis=0), axis=1)
    assert (steps > 0.1).mean() > 0.9  # never at rest
    assert steps.max() < 40.0  # and never a jump


def test_the_cli_makes_a_natural_set_and_records_the_model(tmp_path):
    args = ["--out", str(tmp_path / "set"), "--videos", "1", "--frames", "4", "--size", "8",
            "--occluder-prob", "0", "--motion", "natural", "--motion-speed", "1.5"]
    assert synthetic.main(args) == 0
    params = video_format.read_index(tmp_path / "set")["generator"]["params"]
    assert (params["motion"], params["motion_speed"]) == ("natural", 1.5)
    # motion_params draws the same motion without rendering
    video = video_format.VideoDataset(tmp_path / "set").video("synth_000")
    drawn = motion.motion_params(SynthParams(occluder_prob=0.0, motion="natural",
                                             motion_speed=1.5), num_frames=4)
    np.testing.assert_allclose(drawn["theta"], video.theta, atol=1e-6)
    np.testing.assert_allclose(drawn["root"], video.root, atol=1e-3)


@pytest.mark.parametrize("values,message", [
    ({"motion": "jerky"}, "motion must be one of ('keyframes', 'natural'), got 'jerky'"),
    ({"motion_speed": 0.0}, "motion_speed must be > 0, got 0.0"),
])
def test_bad_motion_parameters_are_refused(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SynthParams(**values)
