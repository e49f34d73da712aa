"""Bootstrap intervals over videos: how far a mean error could move with other test videos.

Frames of one video are strongly correlated (the same hand, the same labels, a smooth motion),
so resampling frames would pretend there are thousands of independent samples. The unit here
is the video: each resample draws as many videos as were evaluated, with replacement, and takes
the frame-weighted mean error of the frames they hold (a video drawn twice counts twice); the
interval is the central 95 % of those means (the percentile bootstrap).

Two methods evaluated on the same frames are compared through the interval of their
*difference* (:func:`difference_interval`): both errors come from the same videos, so a hard
video raises both, and the paired interval is much narrower than the two methods' own
intervals side by side.
"""

from __future__ import annotations

import numpy as np

#: Resamples per interval, and the generator's seed (so a report is the same run to run).
RESAMPLES = 2000
SEED = 0


def video_bootstrap(errors: np.ndarray, videos: np.ndarray, *, weights: np.ndarray | None = None,
                    level: float = 0.95, resamples: int = RESAMPLES, seed: int = SEED
                    ) -> tuple[float, float]:
    """The percentile-bootstrap interval of the weighted mean of ``errors``, resampling videos.

    Args:
        errors: (N,) per-frame errors (e.g. MPJPE, mm).
        videos: (N,) the video of each frame (any ids).
        weights: (N,) each frame's weight (MPJPE: its annotated joints); None: 1 each.
        level: the interval's coverage, in (0, 1).
        resamples: bootstrap resamples.
        seed: the resampling generator's seed.
    Returns:
        (low, high); (nan, nan) without frames. With one video the interval is that video's
        mean twice (nothing to resample: say so where you report it).

    >>> errors = np.array([10.0, 12.0, 30.0, 34.0])
    >>> low, high = video_bootstrap(errors, np.array([0, 0, 1, 1]))
    >>> bool(11.0 <= low < high <= 32.0)
    True
    """
    errors, videos = np.asarray(errors, dtype=np.float64), np.asarray(videos)
    if errors.shape != videos.shape or errors.ndim != 1:
        raise ValueError(f"errors and videos must both be (N,), got {errors.shape} and "
                         f"{videos.shape}")
    weights = np.ones_like(errors) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != errors.shape:
        raise ValueError(f"weights must be (N,) like errors, got {weights.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not len(errors):
        return float("nan"), float("nan")
    _, video_of = np.unique(videos, return_inverse=True)
    sums = np.bincount(video_of, weights=errors * weights)  # (V,)
    totals = np.bincount(video_of, weights=weights)  # (V,)
    draws = np.random.default_rng(seed).integers(0, len(sums), size=(resamples, len(sums)))
    drawn = totals[draws].sum(axis=1)
    means = sums[draws].sum(axis=1)[drawn > 0] / drawn[drawn > 0]
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def difference_interval(errors_a: np.ndarray, errors_b: np.ndarray, videos: np.ndarray, *,
                        weights: np.ndarray | None = None, level: float = 0.95,
                        resamples: int = RESAMPLES, seed: int = SEED
                        ) -> tuple[float, float, float]:
    """The weighted mean of ``errors_a - errors_b`` (the same frames, two methods) and its
    paired percentile-bootstrap interval, resampling videos (:func:`video_bootstrap` of the
    per-frame differences: a resample's mean difference is the difference of its two means).

    Args:
        errors_a, errors_b: (N,) per-frame errors of the two methods on the same frames.
        videos, weights, level, resamples, seed: as :func:`video_bootstrap`.
    Returns:
        (mean difference, low, high); an interval entirely below 0 says that a is below b on
        resampled sets of videos too, one that holds 0 says these videos cannot tell.

    >>> a, b = np.array([10.0, 12.0, 30.0, 34.0]), np.array([11.0, 13.0, 33.0, 35.0])
    >>> mean, low, high = difference_interval(a, b, np.array([0, 0, 1, 1]))
    >>> mean, bool(low <= mean <= high < 0)
    (-1.5, True)
    """
    errors_a, errors_b = np.asarray(errors_a, np.float64), np.asarray(errors_b, np.float64)
    if errors_a.shape != errors_b.shape:
        raise ValueError(f"errors_a and errors_b must be errors of the same (N,) frames, got "
                         f"{errors_a.shape} and {errors_b.shape}")
    difference = errors_a - errors_b
    w = np.ones_like(difference) if weights is None else np.asarray(weights, np.float64)
    low, high = video_bootstrap(difference, videos, weights=weights, level=level,
                                resamples=resamples, seed=seed)
    mean = float((difference * w).sum() / w.sum()) if len(difference) else float("nan")
    return mean, low, high
