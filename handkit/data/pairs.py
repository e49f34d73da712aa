"""Labelled frames S_V, the nearest label N(u) and the samplers of the three training stages.

Paper: Sec. II-A (S_V), Sec. II-C (N(u)), Sec. IV "Training" (the three stages and the pair
sampling). Introduced in ``notebooks/02_sparse_videos.ipynb``.

Frame indices are 0-based. The paper writes the labelled set 1-based as S_V = {1, K, 2K, ..., T},
which taken literally puts the first two labels K - 1 apart and the others K apart. handkit reads it
as "every K-th frame including the first and the last": 0-based S_V = {0, K, 2K, ...} ∪ {T - 1},
so consecutive labels are exactly K apart (only the last gap may be shorter) and the labelled
fraction tends to 1/K (0.78125 % at K = 128, the paper's figure).

Letters: T frames in a video, K label spacing, L labelled frames, N samples in an epoch.

Samplers are ``torch.utils.data.Sampler`` s yielding index tuples (``video`` is the position of the
video in the list of masks). They run in the DataLoader's main process, so worker processes never
duplicate random streams. Each epoch's items are a pure function of ``(seed, epoch)``; call
``set_epoch`` before each epoch, as with ``DistributedSampler``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from torch.utils.data import Sampler

STAGE3_MAX_GAP = 64
"""Sec. IV: an unlabelled I_u is taken "with a gap less than 64" frames from I_s."""
STAGE3_NUM_NEAR_LABELLED = 3
"""Sec. IV: a labelled I_u is one of "the top 3 nearest labelled frames to I_s including itself"."""


def _check_int(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_mask(mask: object, name: str) -> np.ndarray:
    mask = _check_video_mask(mask, name)
    if not mask.any():
        raise ValueError(f"{name} must mark at least one labelled frame, got 0 of {mask.size}")
    return mask


def _check_video_mask(mask: object, name: str) -> np.ndarray:
    """A non-empty 1-D bool mask that may have no True (a video without a labelled frame)."""
    mask = np.asarray(mask)
    if mask.ndim != 1 or mask.dtype != bool or mask.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D bool array (T,), "
            f"got shape {mask.shape} dtype {mask.dtype}"
        )
    return mask


def _check_masks(labelled: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One mask per video; a video may have no labelled frame, the set as a whole must have one."""
    masks = [_check_video_mask(m, f"labelled[{i}]") for i, m in enumerate(labelled)]
    if not masks:
        raise ValueError("labelled must hold one mask per video, got 0 videos")
    if not any(m.any() for m in masks):
        total = sum(m.size for m in masks)
        raise ValueError(
            f"labelled must mark at least one labelled frame, "
            f"got 0 of {total} frames in {len(masks)} videos"
        )
    return masks


def labelled_mask(num_frames: int, label_every: int) -> np.ndarray:
    """S_V of one video as a mask: frames 0, K, 2K, ... and the last frame T - 1 (Sec. II-A).

    Args:
        num_frames: T >= 1.
        label_every: K >= 1.

    Returns:
        (T,) bool, True at labelled frames.

    >>> np.flatnonzero(labelled_mask(10, 4)).tolist()
    [0, 4, 8, 9]
    """
    num_frames = _check_int(num_frames, "num_frames", minimum=1)
    label_every = _check_int(label_every, "label_every", minimum=1)
    mask = np.arange(num_frames) % label_every == 0  # (T,)
    mask[-1] = True
    return mask


def labelled_masks(lengths: Sequence[int], label_every: int) -> list[np.ndarray]:
    """One ``labelled_mask`` per video, for videos of the given lengths T^i."""
    return [labelled_mask(length, label_every) for length in lengths]


def labelled_fraction(num_frames: int, label_every: int) -> float:
    """|S_V| / T for ``labelled_mask(num_frames, label_every)``; tends to 1/K for long videos.

    >>> labelled_fraction(10, 4)
    0.4
    """
    num_frames = _check_int(num_frames, "num_frames", minimum=1)
    label_every = _check_int(label_every, "label_every", minimum=1)
    last = num_frames - 1
    count = last // label_every + 1 + (last % label_every != 0)  # multiples of K, then T - 1
    return count / num_frames


def nearest_labelled(labelled: np.ndarray) -> np.ndarray:
    """N(u) = argmin_{s in S_V} |s - u| for every frame u (Sec. II-C).

    A frame halfway between two labels goes to the earlier one (so with K = 128 frame 64 maps to 0).

    Args:
        labelled: (T,) bool mask of S_V with at least one True.

    Returns:
        (T,) int64; N(s) = s for labelled s.

    >>> nearest_labelled(labelled_mask(10, 4)).tolist()
    [0, 0, 0, 4, 4, 4, 4, 8, 8, 9]
    """
    mask = _check_mask(labelled, "labelled")
    s = np.flatnonzero(mask)  # (L,) sorted labelled frames
    u = np.arange(mask.size)  # (T,)
    right = np.searchsorted(s, u)  # (T,) position of the first label >= u
    after = s[np.minimum(right, s.size - 1)]  # (T,)
    before = s[np.maximum(right - 1, 0)]  # (T,)
    take_before = np.abs(u - before) <= np.abs(after - u)  # ties -> earlier frame
    return np.where(take_before, before, after)


def previous_next_labelled(labelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labelled frames around every frame u: the last one at or before u and the first one at
    or after u (both u itself when u is labelled); -1 where there is none.

    :func:`nearest_labelled` picks one of the two; interpolating between labels uses both.

    Args:
        labelled: (T,) bool mask of S_V (it may have no True: then every entry is -1).

    Returns:
        previous (T,) int64 and next (T,) int64.

    >>> previous, following = previous_next_labelled(labelled_mask(10, 4))
    >>> previous.tolist(), following.tolist()
    ([0, 0, 0, 0, 4, 4, 4, 4, 8, 9], [0, 4, 4, 4, 4, 8, 8, 8, 8, 9])
    >>> [a.tolist() for a in previous_next_labelled(np.array([False, True, False]))]
    [[-1, 1, 1], [1, 1, -1]]
    """
    mask = _check_video_mask(labelled, "labelled")
    s = np.flatnonzero(mask)  # (L,) sorted labelled frames
    u = np.arange(mask.size)  # (T,)
    count_at_or_before = np.searchsorted(s, u, side="right")  # (T,) labels <= u
    first_at_or_after = np.searchsorted(s, u, side="left")  # (T,) position of the first label >= u
    padded = np.concatenate([s, [-1]]).astype(np.int64)  # (L + 1,) index L (or -1) -> no label
    previous = padded[count_at_or_before - 1]  # count 0 -> padded[-1] = -1
    following = padded[first_at_or_after]  # position L -> -1
    return previous, following


def nearest_labelled_frames(labelled: np.ndarray, *, num_near: int) -> np.ndarray:
    """For each labelled s, the ``num_near`` labelled frames closest to s, s itself first.

    Order is by |s' - s|, ties towards the earlier frame. Rows are padded with -1 when the video has
    fewer than ``num_near`` labelled frames.

    Args:
        labelled: (T,) bool mask of S_V.
        num_near: k >= 1.

    Returns:
        (L, k) int64, row i for the i-th labelled frame in time order.

    >>> nearest_labelled_frames(labelled_mask(10, 4), num_near=3).tolist()
    [[0, 4, 8], [4, 0, 8], [8, 9, 4], [9, 8, 4]]
    """
    mask = _check_mask(labelled, "labelled")
    k = _check_int(num_near, "num_near", minimum=1)
    s = np.flatnonzero(mask)  # (L,)
    # The k nearest labels of s[i] form a run of k consecutive labels, all within s[i-k+1 .. i+k-1].
    pos = np.arange(s.size)[:, None] + np.arange(1 - k, k)  # (L, 2k-1) positions in s
    valid = (pos >= 0) & (pos < s.size)  # (L, 2k-1)
    cand = s[np.clip(pos, 0, s.size - 1)]  # (L, 2k-1) candidates, increasing frame index
    dist = np.where(valid, np.abs(cand - s[:, None]), np.iinfo(np.int64).max)  # (L, 2k-1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]  # stable: ties keep the earlier frame
    near = np.take_along_axis(cand, order, axis=1)  # (L, k)
    return np.where(np.take_along_axis(valid, order, axis=1), near, -1)


class _EpochSampler(Sampler):
    """Shared seed/epoch handling: each epoch's items are a pure function of (seed, epoch)."""

    def __init__(self, labelled: Sequence[np.ndarray], *, seed: int) -> None:
        super().__init__()
        self.masks = _check_masks(labelled)
        self.seed = _check_int(seed, "seed", minimum=0)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose items the next iteration yields."""
        self.epoch = _check_int(epoch, "epoch", minimum=0)

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def _passes(self, rng: np.random.Generator, num_items: int, num_samples: int) -> np.ndarray:
        """(num_samples,) item rows: fresh permutations of the num_items rows, one per pass,
        cut at num_samples (so every row appears floor or ceil of num_samples / num_items times)."""
        passes = -(-num_samples // num_items)  # ceil
        return np.concatenate([rng.permutation(num_items) for _ in range(passes)])[:num_samples]

    def draw(self) -> np.ndarray:
        """This epoch's items as an int64 array, one row per item."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple]:
        return (tuple(row) for row in self.draw().tolist())


class LabelledFrameSampler(_EpochSampler):
    """Stage 1 (Sec. IV): labelled frames in a shuffled order; items ``(video, frame)``.

    An epoch yields ``num_samples`` items: passes over all L labelled frames, each pass a fresh
    permutation, the last one cut short. The default L is one pass (every labelled frame once);
    a larger ``num_samples`` repeats frames (e.g. 64 items from the shipped set's 32 labelled
    training frames), so every frame appears floor(N / L) or ceil(N / L) times.

    Args:
        labelled: one (T^i,) bool mask of S_V per video (see ``labelled_masks`` or
            ``VideoFrames.labelled_masks``); a video may have no labelled frame.
        num_samples: N, items per epoch; default L.
        seed: non-negative integer.
    """

    def __init__(
        self, labelled: Sequence[np.ndarray], *, num_samples: int | None = None, seed: int = 0
    ) -> None:
        super().__init__(labelled, seed=seed)
        self._items = np.concatenate(
            [
                np.stack([np.full(m.sum(), v), np.flatnonzero(m)], axis=1)
                for v, m in enumerate(self.masks)
            ]
        )  # (L, 2) video, frame
        self.num_samples = (
            len(self._items)
            if num_samples is None
            else _check_int(num_samples, "num_samples", minimum=1)
        )

    def __len__(self) -> int:
        return self.num_samples

    def draw(self) -> np.ndarray:
        """(N, 2) int64 rows ``(video, frame)`` in this epoch's order."""
        return self._items[self._passes(self._rng(), len(self._items), self.num_samples)]


@dataclass(frozen=True)
class _PairTable:
    """Per labelled frame (row), its candidates for I_u. L rows over all videos."""

    video: np.ndarray  # (L,) video of I_s
    frame: np.ndarray  # (L,) s
    near: np.ndarray  # (L, k) nearest labelled frames, -1 padded
    near_count: np.ndarray  # (L,) valid entries of ``near``
    unl_start: np.ndarray  # (L,) first candidate in ``unl_frames``
    unl_count: np.ndarray  # (L,) unlabelled frames u with |u - s| < max_gap
    unl_frames: np.ndarray  # (U,) unlabelled frames of all videos, video by video


def _pair_table(masks: list[np.ndarray], *, max_gap: int, num_near: int) -> _PairTable:
    parts, unl_frames, offset = [], [], 0
    for v, mask in enumerate(masks):
        if not mask.any():  # a video without labelled frame anchors no pair
            continue
        s = np.flatnonzero(mask)  # (L_v,)
        unl = np.flatnonzero(~mask)  # (U_v,) sorted, so a window of frames is a run of unl
        near = nearest_labelled_frames(mask, num_near=num_near)  # (L_v, k)
        lo = np.searchsorted(unl, s - max_gap + 1, side="left")  # (L_v,)
        hi = np.searchsorted(unl, s + max_gap - 1, side="right")  # (L_v,)
        parts.append((np.full(s.size, v), s, near, (near >= 0).sum(axis=1), offset + lo, hi - lo))
        unl_frames.append(unl)
        offset += unl.size
    columns = [np.concatenate(col) for col in zip(*parts, strict=True)]
    return _PairTable(*columns, unl_frames=np.concatenate(unl_frames))


class PairSampler(_EpochSampler):
    """Stage 3 (Sec. IV): pairs (I_s, I_u) of one video; items ``(video, s, u, u_is_labelled)``.

    Each epoch visits the labelled frames s of all videos in a random order (a fresh permutation per
    pass when ``num_samples`` exceeds L). For each s, with probability ``p_unlabelled`` u is drawn
    uniformly from the unlabelled frames with |u - s| < ``max_gap``; otherwise u is drawn uniformly
    from the ``num_near_labelled`` labelled frames nearest to s, s included
    (``nearest_labelled_frames``). When s has no unlabelled frame within the gap (e.g. K = 1) the
    labelled branch is used and the item says so. With ``max_gap`` <= K/2 (paper: 64 = 128/2) every
    unlabelled u has s = N(u), the pairs of Eq. 10, except in a last gap shorter than K.

    Args:
        labelled: one (T^i,) bool mask of S_V per video (see ``labelled_masks``).
        p_unlabelled: probability in [0, 1] of the unlabelled branch.
        max_gap: unlabelled u satisfy |u - s| < max_gap (paper: 64).
        num_near_labelled: labelled u are among this many labels nearest to s (paper: 3).
        num_samples: items per epoch; default L, one pass over the labelled frames.
        seed: non-negative integer.
    """

    def __init__(
        self,
        labelled: Sequence[np.ndarray],
        *,
        p_unlabelled: float = 0.5,
        max_gap: int = STAGE3_MAX_GAP,
        num_near_labelled: int = STAGE3_NUM_NEAR_LABELLED,
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(labelled, seed=seed)
        if not 0.0 <= p_unlabelled <= 1.0:
            raise ValueError(f"p_unlabelled must be in [0, 1], got {p_unlabelled!r}")
        self.p_unlabelled = float(p_unlabelled)
        self.max_gap = _check_int(max_gap, "max_gap", minimum=1)
        num_near = _check_int(num_near_labelled, "num_near_labelled", minimum=1)
        self._table = _pair_table(self.masks, max_gap=self.max_gap, num_near=num_near)
        num_labelled = len(self._table.frame)
        self.num_samples = (
            num_labelled
            if num_samples is None
            else _check_int(num_samples, "num_samples", minimum=1)
        )

    def __len__(self) -> int:
        return self.num_samples

    def draw(self) -> np.ndarray:
        """(N, 4) int64 rows ``(video, s, u, u_is_labelled)`` for this epoch."""
        rng, tab = self._rng(), self._table
        rows = self._passes(rng, len(tab.frame), self.num_samples)  # (N,)
        unl_count = tab.unl_count[rows]  # (N,)
        from_unlabelled = (rng.random(rows.size) < self.p_unlabelled) & (unl_count > 0)  # (N,)
        j_near = rng.integers(tab.near_count[rows])  # (N,) in [0, near_count)
        j_unl = rng.integers(np.maximum(unl_count, 1))  # (N,) in [0, unl_count)
        u = tab.near[rows, j_near]  # (N,)
        u[from_unlabelled] = tab.unl_frames[(tab.unl_start[rows] + j_unl)[from_unlabelled]]
        return np.stack([tab.video[rows], tab.frame[rows], u, ~from_unlabelled], axis=1).astype(
            np.int64
        )

    def __iter__(self) -> Iterator[tuple[int, int, int, bool]]:
        return ((v, s, u, bool(lab)) for v, s, u, lab in self.draw().tolist())


class LabelledPairSampler(PairSampler):
    """Stage 2 (Sec. IV): pairs of labelled frames for pre-training the Pose Aligner.

    The paper says only "samples from the labelled frame pairs"; handkit uses the labelled branch of
    stage 3 on its own, so the aligner is pre-trained on the same labelled pairs it later sees: s
    runs over the labelled frames, u is one of the ``num_near_labelled`` labels nearest to s, s
    included (an identity pair teaches a zero displacement in Eqs. 3-4). Items are
    ``(video, s, u, True)``, as for ``PairSampler``.
    """

    def __init__(
        self,
        labelled: Sequence[np.ndarray],
        *,
        num_near_labelled: int = STAGE3_NUM_NEAR_LABELLED,
        num_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            labelled,
            p_unlabelled=0.0,
            num_near_labelled=num_near_labelled,
            num_samples=num_samples,
            seed=seed,
        )
