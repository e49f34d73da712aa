"""Paired comparisons of two modes over videos (handkit.comparison, handkit.bootstrap)."""

import numpy as np
import pytest

from handkit.bootstrap import difference_interval, video_bootstrap
from handkit.comparison import compare_modes, compare_pairs
from handkit.evaluation_result import FrameErrors


def frames(a, b, video, distance):
    n = len(a)
    return FrameErrors(video=np.asarray(video), frame=np.arange(n), distance=np.asarray(distance),
                       metrics={"a": {"mpjpe": np.asarray(a, float)},
                                "b": {"mpjpe": np.asarray(b, float)}},
                       joints=np.full(n, 21.0))


def test_pairing_finds_a_steady_gap_that_the_two_intervals_side_by_side_hide():
    rng = np.random.default_rng(0)
    hardness = np.repeat(rng.uniform(10, 60, 6), 50)  # videos differ a lot
    video = np.repeat(np.arange(6), 50)
    a, b = hardness, hardness + 2.0  # a is 2 mm below b on every frame
    low_a, high_a = video_bootstrap(a, video)
    low_b, _ = video_bootstrap(b, video)
    assert low_b < high_a  # the intervals overlap ...
    mean, low, high = difference_interval(a, b, video)
    assert mean == pytest.approx(-2.0) and low == pytest.approx(-2.0) and high < 0  # ... but a wins
    result = compare_modes(frames(a, b, video, np.ones(300, int)), "a", "b")
    assert result.a_below_b and not result.b_below_a and result.videos == 6
    assert "a below b" in str(result)


def test_a_difference_that_changes_sign_between_videos_is_not_clear():
    video = np.repeat(np.arange(4), 10)
    a = np.full(40, 20.0)
    b = np.repeat([15.0, 25.0, 16.0, 24.0], 10)  # b better on two videos, worse on two
    result = compare_modes(frames(a, b, video, np.full(40, 5)), "a", "b")
    assert result.difference == pytest.approx(0.0)
    assert result.low < 0 < result.high and not result.a_below_b and not result.b_below_a
    assert "no clear difference" in str(result)


def test_a_distance_band_and_bad_input():
    video = np.repeat(np.arange(2), 4)
    distance = np.tile([1, 2, 20, 21], 2)
    a = np.tile([1.0, 1.0, 50.0, 50.0], 2)
    b = np.tile([3.0, 3.0, 40.0, 40.0], 2)
    errors = frames(a, b, video, distance)
    near = compare_modes(errors, "a", "b", distance=(1, 15))
    far = compare_modes(errors, "a", "b", distance=(16, 31))
    assert near.difference == pytest.approx(-2.0) and near.a_below_b
    assert far.difference == pytest.approx(10.0) and far.b_below_a
    one = compare_modes(frames(a[:4], b[:4], video[:4], distance[:4]), "a", "b", distance=(1, 15))
    assert one.videos == 1 and not one.a_below_b  # one video: nothing to resample
    with pytest.raises(ValueError, match="mode 'c' was not evaluated"):
        compare_modes(errors, "a", "c")
    with pytest.raises(ValueError, match="no evaluated frame is 32-64"):
        compare_modes(errors, "a", "b", distance=(32, 64))
    with pytest.raises(ValueError, match="same"):
        difference_interval(np.zeros(3), np.zeros(2), np.zeros(3))


def test_pairs_leave_out_bands_without_frames():
    video, distance = np.repeat(np.arange(2), 4), np.tile([1, 2, 20, 21], 2)
    errors = frames(np.ones(8), np.full(8, 2.0), video, distance)
    found = compare_pairs(errors, {"near": ("a", "b", (1, 15)), "far": ("a", "b", (32, 64)),
                                   "all": ("a", "b", None)})
    assert set(found) == {"near", "all"} and found["near"].difference == pytest.approx(-1.0)
