"""Tests for handkit.viz.timeline: the plotted data are S_V, N(u) and the pair gaps."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from handkit.data.pairs import PairSampler, labelled_mask, labelled_masks, nearest_labelled
from handkit.viz.timeline import pair_gap_histogram, timeline_figure


@pytest.mark.parametrize("as_tensor", [False, True])
def test_timeline_marks_labelled_frames_and_nearest_map(as_tensor):
    mask = labelled_mask(300, 32)
    fig = timeline_figure(torch.from_numpy(mask) if as_tensor else mask)
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    nearest_trace, label_trace, offset_trace = fig.data
    np.testing.assert_array_equal(label_trace.x, np.flatnonzero(mask))
    np.testing.assert_array_equal(nearest_trace.x, np.arange(300))
    np.testing.assert_array_equal(nearest_trace.y, nearest_labelled(mask))
    offsets = np.asarray(offset_trace.y)
    np.testing.assert_array_equal(offsets, np.arange(300) - nearest_labelled(mask))
    assert np.all(np.abs(offsets) <= 16)
    assert offset_trace.yaxis != nearest_trace.yaxis  # offsets in their own panel


def test_timeline_uses_a_given_nearest_map():
    mask = labelled_mask(20, 5)
    custom = np.full(20, 5)
    fig = timeline_figure(mask, nearest=custom, title="custom")
    np.testing.assert_array_equal(fig.data[0].y, custom)
    assert fig.layout.title.text == "custom"
    with pytest.raises(ValueError, match=r"nearest must have shape \(20,\)"):
        timeline_figure(mask, nearest=np.zeros(19, int))
    with pytest.raises(ValueError, match="bool"):
        timeline_figure(mask.astype(int), nearest=custom)


def test_figures_are_stable_json():
    mask = labelled_mask(50, 8)
    pairs = PairSampler([mask], num_samples=40).draw()
    for build in (lambda: timeline_figure(mask), lambda: pair_gap_histogram(pairs)):
        text = build().to_json()
        assert text == build().to_json() and '"uid"' not in text


def test_pair_gap_histogram_splits_gaps_by_branch():
    pairs = PairSampler(labelled_masks([600, 90], 16), p_unlabelled=0.5, num_samples=300).draw()
    fig = pair_gap_histogram(pairs, bin_size=2)
    assert [trace.name for trace in fig.data] == ["unlabelled I_u", "labelled I_u"]
    unlabelled, labelled = (np.asarray(trace.x) for trace in fig.data)
    branch = pairs[:, 3].astype(bool)
    np.testing.assert_array_equal(unlabelled, (pairs[:, 1] - pairs[:, 2])[~branch])
    np.testing.assert_array_equal(labelled, (pairs[:, 1] - pairs[:, 2])[branch])
    assert len(unlabelled) + len(labelled) == 300 and len(unlabelled) > 0 and len(labelled) > 0
    assert np.all(np.abs(unlabelled) < 64) and np.all(np.abs(labelled) <= 32)
    assert fig.data[0].xbins.size == 2


def test_pair_gap_histogram_accepts_iterated_items():
    sampler = PairSampler([labelled_mask(100, 10)], num_samples=30)
    from_items = pair_gap_histogram(list(sampler))
    from_array = pair_gap_histogram(sampler.draw())
    for a, b in zip(from_items.data, from_array.data, strict=True):
        np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize(
    ("pairs", "options"), [(np.zeros((5, 3)), {}), (np.zeros((5, 4)), {"bin_size": 0})]
)
def test_pair_gap_histogram_rejects_bad_input(pairs, options):
    with pytest.raises(ValueError, match="pairs|bin_size"):
        pair_gap_histogram(pairs, **options)
