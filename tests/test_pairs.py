"""Tests for handkit.data.pairs: S_V, N(u) and the three stage samplers."""

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from handkit.data.pairs import (
    LabelledFrameSampler,
    LabelledPairSampler,
    PairSampler,
    labelled_fraction,
    labelled_mask,
    labelled_masks,
    nearest_labelled,
    nearest_labelled_frames,
    previous_next_labelled,
)

RNG = np.random.default_rng(0)
# A long, a short and a one-frame video; the long one ends in a short last gap.
LENGTHS = [1000, 70, 1]


def _random_mask(num_frames: int) -> np.ndarray:
    mask = RNG.random(num_frames) < 0.1
    mask[RNG.integers(num_frames)] = True
    return mask


@pytest.mark.parametrize("num_frames", [1, 2, 9, 10, 129, 300])
@pytest.mark.parametrize("label_every", [1, 3, 4, 128])
def test_labelled_mask_spacing_and_ends(num_frames, label_every):
    s = np.flatnonzero(labelled_mask(num_frames, label_every))
    assert s[0] == 0 and s[-1] == num_frames - 1
    gaps = np.diff(s)
    assert np.all(gaps[:-1] == label_every)  # consecutive labels exactly K apart...
    assert np.all((gaps >= 1) & (gaps <= label_every))  # ...except a shorter last gap
    assert labelled_fraction(num_frames, label_every) == pytest.approx(s.size / num_frames)


def test_labelled_fraction_tends_to_one_over_k():
    lengths = [128 * m + 7 for m in (10, 100, 10_000)]
    errors = [abs(labelled_fraction(length, 128) - 1 / 128) for length in lengths]
    assert errors[0] > errors[1] > errors[2]
    # at most two labels beyond T / K: the first and the last frame
    assert all(error < 2 / length for error, length in zip(errors, lengths, strict=True))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_labelled_mask_rejects_bad_spacing(bad):
    with pytest.raises(ValueError, match="label_every"):
        labelled_mask(10, bad)


@pytest.mark.parametrize("num_frames", [1, 5, 40, 257])
def test_nearest_labelled_matches_brute_force(num_frames):
    for mask in (_random_mask(num_frames), labelled_mask(num_frames, 8)):
        s = np.flatnonzero(mask)
        dist = np.abs(np.arange(num_frames)[:, None] - s[None, :])  # (T, L)
        expected = s[np.argmin(dist, axis=1)]  # argmin returns the first, i.e. earlier, tie
        np.testing.assert_array_equal(nearest_labelled(mask), expected)


def test_nearest_labelled_ties_go_to_earlier_frame():
    nearest = nearest_labelled(labelled_mask(257, 128))
    assert nearest[64] == 0 and nearest[65] == 128 and nearest[192] == 128
    assert np.all(nearest[labelled_mask(257, 128)] == [0, 128, 256])


@pytest.mark.parametrize("bad", [np.zeros(5, bool), np.ones(5, int), np.ones((2, 3), bool), []])
def test_nearest_labelled_rejects_bad_masks(bad):
    with pytest.raises(ValueError, match="labelled"):
        nearest_labelled(bad)


@pytest.mark.parametrize("num_near", [1, 2, 3, 6])
def test_nearest_labelled_frames_matches_brute_force(num_near):
    mask = _random_mask(200)
    s = np.flatnonzero(mask)
    table = nearest_labelled_frames(mask, num_near=num_near)
    assert table.shape == (s.size, num_near)
    for row, frame in zip(table, s, strict=True):
        expected = s[np.argsort(np.abs(s - frame), kind="stable")][:num_near]
        np.testing.assert_array_equal(row[: expected.size], expected)
        assert row[0] == frame and np.all(row[expected.size :] == -1)


def _stage3(**options):
    defaults = dict(p_unlabelled=0.5, num_samples=4000, seed=3)
    return PairSampler(labelled_masks(LENGTHS, 16), **(defaults | options))


def test_pair_sampler_is_deterministic_per_seed_and_epoch():
    first, again, other_seed = _stage3().draw(), _stage3().draw(), _stage3(seed=4).draw()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    sampler = _stage3()
    sampler.set_epoch(1)
    assert not np.array_equal(first, sampler.draw())
    assert list(sampler) == [(v, s, u, bool(lab)) for v, s, u, lab in sampler.draw().tolist()]


@pytest.mark.parametrize("max_gap", [2, 5, 64])
def test_pair_sampler_branches_follow_the_paper_rule(max_gap):
    masks = labelled_masks(LENGTHS, 16)
    pairs = _stage3(max_gap=max_gap).draw()
    assert len(pairs) == 4000
    for video, s, u, u_is_labelled in pairs:
        mask = masks[video]
        assert mask[s] and 0 <= u < mask.size
        assert mask[u] == bool(u_is_labelled)
        if u_is_labelled:
            assert u in nearest_labelled_frames(mask, num_near=3)[np.sum(mask[:s])]
        else:
            assert abs(u - s) < max_gap


def test_pair_sampler_labelled_branch_uses_all_near_labels():
    pairs = _stage3(p_unlabelled=0.0, num_near_labelled=3).draw()
    anchor_128 = pairs[(pairs[:, 0] == 0) & (pairs[:, 1] == 128)]
    assert set(anchor_128[:, 2].tolist()) == {112, 128, 144}
    assert np.all(pairs[:, 3] == 1)


def test_pair_sampler_unlabelled_pairs_are_nearest_label_pairs():
    masks = labelled_masks([16 * 30 + 1], 16)  # no short last gap
    pairs = PairSampler(masks, p_unlabelled=1.0, max_gap=8, num_samples=2000).draw()
    assert np.all(pairs[:, 3] == 0)
    np.testing.assert_array_equal(nearest_labelled(masks[0])[pairs[:, 2]], pairs[:, 1])


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_pair_sampler_branch_fraction_is_p(p):
    masks = labelled_masks([2000], 16)
    pairs = PairSampler(masks, p_unlabelled=p, num_samples=20_000, seed=1).draw()
    assert np.mean(pairs[:, 3] == 0) == pytest.approx(p, abs=0.02)


def test_pair_sampler_falls_back_to_labelled_when_no_unlabelled_frame():
    pairs = PairSampler(labelled_masks([20], 1), p_unlabelled=1.0).draw()
    assert np.all(pairs[:, 3] == 1) and len(pairs) == 20


def test_pair_sampler_visits_every_labelled_frame_once_per_pass():
    masks = labelled_masks(LENGTHS, 16)
    num_labelled = sum(int(m.sum()) for m in masks)
    pairs = _stage3(num_samples=2 * num_labelled).draw()
    counts = Counter(map(tuple, pairs[:, :2].tolist()))
    assert len(counts) == num_labelled and set(counts.values()) == {2}


def test_stage2_pairs_are_near_labelled_pairs():
    masks = labelled_masks(LENGTHS, 16)
    pairs = LabelledPairSampler(masks, seed=2).draw()
    assert np.all(pairs[:, 3] == 1)
    for video, s, u, _ in pairs:
        assert u in nearest_labelled_frames(masks[video], num_near=3)[np.sum(masks[video][:s])]


def test_stage1_shuffles_all_labelled_frames():
    masks = labelled_masks(LENGTHS, 16)
    sampler = LabelledFrameSampler(masks, seed=5)
    items = list(sampler)
    expected = [(v, int(f)) for v, m in enumerate(masks) for f in np.flatnonzero(m)]
    assert len(sampler) == len(items) and sorted(items) == expected
    assert items != expected
    sampler.set_epoch(1)
    assert list(sampler) != items and sorted(sampler) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(p_unlabelled=1.5), "p_unlabelled"),
        (dict(p_unlabelled=float("nan")), "p_unlabelled"),
        (dict(max_gap=0), "max_gap"),
        (dict(num_near_labelled=0), "num_near_labelled"),
        (dict(num_samples=0), "num_samples"),
        (dict(seed=-1), "seed"),
    ],
)
def test_pair_sampler_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        PairSampler(labelled_masks([50], 8), **options)


def test_samplers_reject_bad_videos():
    with pytest.raises(ValueError, match="0 videos"):
        PairSampler([])
    with pytest.raises(ValueError, match=r"labelled\[1\]"):
        LabelledFrameSampler([labelled_mask(5, 2), np.zeros(0, bool)])
    with pytest.raises(ValueError, match="epoch"):
        LabelledFrameSampler([labelled_mask(5, 2)]).set_epoch(-1)


class _PairIndexDataset(Dataset):
    """Maps a sampler item to a tensor, as a frame dataset maps it to images and labels."""

    def __getitem__(self, item):
        return torch.tensor([int(x) for x in item])


def _loaded(sampler, num_workers):
    loader = DataLoader(
        _PairIndexDataset(), sampler=sampler, batch_size=64, num_workers=num_workers
    )
    return [tuple(row) for batch in loader for row in batch.tolist()]


def test_dataloader_with_workers_yields_the_same_items():
    sampler = _stage3(num_samples=500)
    sampler.set_epoch(2)
    single = _loaded(sampler, 0)
    assert Counter(_loaded(sampler, 2)) == Counter(single)
    assert len(single) == 500
    sampler.set_epoch(3)
    assert _loaded(sampler, 0) != single


@pytest.mark.parametrize("num_frames", [1, 5, 40, 257])
def test_previous_next_labelled_match_brute_force(num_frames):
    for mask in (_random_mask(num_frames), labelled_mask(num_frames, 8)):
        previous, following = previous_next_labelled(mask)
        s = np.flatnonzero(mask)
        for u in range(num_frames):
            before, after = s[s <= u], s[s >= u]
            assert previous[u] == (before.max() if before.size else -1)
            assert following[u] == (after.min() if after.size else -1)
        # N(u) is one of the two, the nearer one
        nearest = nearest_labelled(mask)
        assert np.all((nearest == previous) | (nearest == following))


def test_previous_next_labelled_without_labels_and_bad_masks():
    previous, following = previous_next_labelled(np.zeros(4, bool))
    assert previous.tolist() == following.tolist() == [-1] * 4
    assert previous.dtype == following.dtype == np.int64
    with pytest.raises(ValueError, match=r"non-empty 1-D bool array \(T,\)"):
        previous_next_labelled(np.ones(3, int))


@pytest.mark.parametrize("num_samples", [1, 7, 32, 64, 100])
def test_stage1_num_samples_repeats_frames_evenly(num_samples):
    masks = labelled_masks([300] * 8, 128)  # the shipped training set: 32 labelled frames
    sampler = LabelledFrameSampler(masks, num_samples=num_samples, seed=4)
    items = sampler.draw()
    assert len(sampler) == len(items) == num_samples
    counts = Counter(map(tuple, items.tolist()))
    assert set(counts.values()) <= {num_samples // 32, -(-num_samples // 32)}
    assert all(masks[v][f] for v, f in counts)
    np.testing.assert_array_equal(items, sampler.draw())  # a pure function of (seed, epoch)
    if num_samples >= 32:  # every labelled frame at least once
        assert len(counts) == 32


def test_stage1_default_epoch_is_one_pass_and_epochs_differ():
    masks = labelled_masks(LENGTHS, 16)
    one_pass = LabelledFrameSampler(masks, seed=5).draw()
    double = LabelledFrameSampler(masks, num_samples=2 * len(one_pass), seed=5).draw()
    np.testing.assert_array_equal(double[: len(one_pass)], one_pass)  # same first pass
    sampler = LabelledFrameSampler(masks, num_samples=100, seed=5)
    sampler.set_epoch(1)
    epoch0 = LabelledFrameSampler(masks, num_samples=100, seed=5).draw()
    assert not np.array_equal(sampler.draw(), epoch0)
    with pytest.raises(ValueError, match="num_samples"):
        LabelledFrameSampler(masks, num_samples=0)


def test_samplers_skip_videos_without_labels():
    masks = [np.zeros(30, bool), labelled_mask(40, 8), np.zeros(5, bool)]
    assert set(LabelledFrameSampler(masks).draw()[:, 0].tolist()) == {1}
    pairs = PairSampler(masks, num_samples=300).draw()
    assert set(pairs[:, 0].tolist()) == {1}
    assert np.array_equal(masks[1][pairs[:, 2]], pairs[:, 3].astype(bool))
    with pytest.raises(ValueError, match="at least one labelled frame, got 0 of 35 frames"):
        PairSampler([np.zeros(30, bool), np.zeros(5, bool)])
