"""Is one inference mode below another on these videos? The paired interval of their MPJPE
difference over the evaluated videos (:func:`handkit.bootstrap.difference_interval`), for all
frames or one band of distances to the nearest label. Notebooks make a claim such as
"propagation beats interpolation mid-gap" only where :attr:`Comparison.a_below_b` holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from handkit.bootstrap import difference_interval
from handkit.evaluation_result import FrameErrors


@dataclass(frozen=True)
class Comparison:
    """Mode ``a`` against mode ``b`` on the same frames (mm).

    Attributes:
        a, b: the modes; distance: (low, high) |u - N(u)| band, inclusive, or None (all).
        mean_a, mean_b: their MPJPE; difference: mean_a - mean_b.
        low, high: the 95 % paired bootstrap interval of the difference over the videos.
        videos: videos with frames in the band (one video: no interval, low = high).
    """

    a: str
    b: str
    distance: tuple[int, int] | None
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    videos: int

    @property
    def a_below_b(self) -> bool:
        """a's error is below b's on resampled videos too (the interval lies below 0)."""
        return self.videos > 1 and self.high < 0

    @property
    def b_below_a(self) -> bool:
        """b's error is below a's on resampled videos too (the interval lies above 0)."""
        return self.videos > 1 and self.low > 0

    def __str__(self) -> str:
        band = "all frames" if self.distance is None else "{}-{} frames from a label".format(
            *self.distance)
        verdict = ("a below b" if self.a_below_b else "b below a" if self.b_below_a
                   else "no clear difference")
        return (f"{self.a} {self.mean_a:.1f} vs {self.b} {self.mean_b:.1f} mm ({band}): "
                f"difference {self.difference:+.1f} [{self.low:+.1f}, {self.high:+.1f}], "
                f"{verdict}")


def interval_verdict(low: float | None, high: float | None) -> str:
    """"below" (the interval of a difference a - b lies below 0), "above", "no clear
    difference" (it holds 0), or "" without an interval."""
    if low is None or high is None:
        return ""
    return "below" if high < 0 else "above" if low > 0 else "no clear difference"


def _in_band(frames: FrameErrors, distance: tuple[int, int] | None) -> np.ndarray:
    """(N,) bool: the frames with |u - N(u)| in ``distance`` (inclusive; None: all)."""
    if distance is None:
        return np.ones(len(frames.distance), dtype=bool)
    return (frames.distance >= distance[0]) & (frames.distance <= distance[1])


def compare_modes(frames: FrameErrors, a: str, b: str, *,
                  distance: tuple[int, int] | None = None) -> Comparison:
    """Mode ``a`` against mode ``b`` on the frames of ``frames`` (all, or those with
    |u - N(u)| in ``distance``, inclusive), each frame weighted by its annotated joints as in
    the MPJPE means.

    Raises:
        ValueError: a mode was not evaluated, or no frame lies in the band.
    """
    for mode in (a, b):
        if mode not in frames.metrics:
            raise ValueError(f"mode {mode!r} was not evaluated; evaluated: "
                             f"{sorted(frames.metrics)}")
    mask = _in_band(frames, distance)
    if not mask.any():
        raise ValueError(f"no evaluated frame is {distance[0]}-{distance[1]} frames from a label")
    weights = frames.joints[mask]
    error_a, error_b = frames.mpjpe(a)[mask], frames.mpjpe(b)[mask]
    difference, low, high = difference_interval(error_a, error_b, frames.video[mask],
                                                weights=weights)
    return Comparison(a=a, b=b, distance=distance,
                      mean_a=float((error_a * weights).sum() / weights.sum()),
                      mean_b=float((error_b * weights).sum() / weights.sum()),
                      difference=difference, low=low, high=high,
                      videos=len(np.unique(frames.video[mask])))


def compare_pairs(frames: FrameErrors, pairs: Mapping[str, tuple[str, str, tuple[int, int] | None]]
                  ) -> dict[str, Comparison]:
    """:func:`compare_modes` for each named (a, b, distance band) of ``pairs``, leaving out the
    bands without an evaluated frame (short videos have no frame 32-64 frames from a label)."""
    out = {}
    for name, (a, b, band) in pairs.items():
        if _in_band(frames, band).any():
            out[name] = compare_modes(frames, a, b, distance=band)
    return out


__all__ = ["Comparison", "compare_modes", "compare_pairs", "interval_verdict"]
