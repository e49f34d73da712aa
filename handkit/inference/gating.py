"""The gated mode (issue 10, beyond the paper) and its confidence: :class:`GateParams`, the
scores computed without ground truth (:func:`gate_scores`), :func:`gate` (per frame, a blend of
propagation, weight g, and regression, 1 - g), and :func:`calibrate_gate`, which fits the gate on
labelled frames only.

Scores, for a frame u and its nearest label s = N(u) (lower: trust propagation more):

* "cycle": forward-backward consistency. Carry the label s -> u (scenario 2), carry the result
  back u -> s, and take the mean joint distance (mm) to the label's own hand. It uses the label
  gamma*_s and the features only; it grows where the aligner cannot follow the motion.
* "feature": ||z_u - z_s||, z = [z^r; z^theta], how different the two frames look.

Calibration: the gate needs examples where both the propagated and the regressed hand can be
scored against a known label. Only labelled frames have labels that may be used, so the examples
are pairs of neighbouring labelled frames (s, s') of the same video, both ways: the label
gamma*_s is propagated to s' (Eqs. 2-4), the predictor regresses s', and both are compared with
the label gamma*_{s'} (MPJPE between MANO joints, mm). The pair's score is computed as at test
time (s -> s' -> s consistency, or ||z_{s'} - z_s||), from gamma*_s and the features only. The
threshold and temperature are the grid point whose blended hands have the lowest mean MPJPE over
the pairs (ties: the first in grid order: hard gates first, lower thresholds first); thresholds
are -inf, +inf and the midpoints between score quantiles, so "always propagate" is +inf rather
than the largest score seen.

Readings and caveats:

* Pairs are K frames apart (neighbouring labels), more than any unlabelled frame's distance to
  its nearest label (at most K/2): the score, not the frame gap, has to carry over.
* Calibrate on labelled frames of videos the predictor was not trained on (a validation split,
  or the evaluated videos' own labels, which scenario 2 takes as input anyway): a predictor
  trained on few labels fits them far better than any other frame (it can memorise them), so
  pairs from its training videos would make regression look better than it is.
* Whether the gate beats both propagation and regression at every distance bin (issue 10's goal)
  can only be measured with trained modules; with an untrained aligner the fit simply picks the
  better of the two.

Letters: P pairs, L labels of a video. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from handkit.inference.label_based import blend_params
from handkit.inference.propagation import align, propagate, propagate_from
from handkit.inference.video import (
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    check_batch_size,
    check_labels,
    decode,
    decode_prediction,
    evaluating,
    take_features,
    take_params,
)
from handkit.models.aligner import PoseAligner
from handkit.models.records import (
    HandFeatures,
    HandParams,
    cat_features,
    cat_params,
    check_shape,
)

GATE_SCORES = ("cycle", "feature")
"""Confidence scores of the gated mode (:func:`gate_scores`); lower means more trust."""
TEMPERATURE_FACTORS = (0.0, 0.1, 0.3, 1.0)
"""Temperatures tried, as fractions of the scores' standard deviation (0: a hard gate)."""
NUM_THRESHOLDS = 33
"""Quantiles of the pair scores whose midpoints are tried as thresholds, with -inf and +inf."""


@dataclass(frozen=True)
class GateParams:
    """How the gated mode weighs propagation against regression, per frame, from a score c(u)
    that uses no ground truth (lower c: trust propagation more).

    g(u) = 1[c(u) <= threshold] when temperature = 0, else sigmoid((threshold - c) / temperature);
    the hand is blend(regression, propagation, g). threshold = +inf gives propagation
    everywhere, -inf regression everywhere (at unlabelled frames).

    Attributes:
        score: "cycle" (forward-backward consistency, mm) or "feature" (||z_u - z_s||); see
            :func:`gate_scores`.
        threshold: the score at which g = 1/2 (the hard gate's cut), in the score's units.
        temperature: >= 0, in the score's units.

    >>> GateParams(score="feature", threshold=2.0).weight(torch.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 1.0, 0.0]
    """

    score: str = "cycle"
    threshold: float = math.inf
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.score not in GATE_SCORES:
            raise ValueError(f"score must be one of {GATE_SCORES}, got {self.score!r}")
        if math.isnan(self.threshold):
            raise ValueError("threshold must be a number or +-inf, got nan")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be finite and >= 0, got {self.temperature!r}")

    def weight(self, scores: torch.Tensor) -> torch.Tensor:
        """(B,) scores -> (B,) g in [0, 1], the weight of propagation."""
        if self.temperature == 0 or math.isinf(self.threshold):
            return (scores <= self.threshold).to(scores.dtype)
        return torch.sigmoid((self.threshold - scores) / self.temperature)


def cycle_error(aligner: PoseAligner, carried: HandParams, z_s: HandFeatures, z_u: HandFeatures,
                *, label_joints: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Forward-backward consistency: carry the propagated gamma_u back to s (Eqs. 2-4 with
    z_s - z_u) and measure the mean joint distance (mm) to the label's own hand.

    Args:
        carried: gamma_u = phi(gamma*_s, z_u - z_s) + gamma*_s, B rows.
        z_s, z_u: the features of s and u, B rows.
        label_joints: (B, 21, 3) MANO joints of the labels gamma*_s, mm.
    Returns:
        (B,) mm; no ground truth beyond the label gamma*_s.
    """
    rows = carried.root.shape[0]
    check_shape("label_joints", label_joints, (rows, 21, 3), f"(B, 21, 3) with B={rows}")
    back = align(aligner, carried, z_s, z_u, batch_size=batch_size)
    with evaluating(aligner.mano):
        _, joints_back = decode(aligner.mano, back, batch_size=batch_size)
    return (joints_back - label_joints.to(joints_back)).norm(dim=-1).mean(dim=-1)  # (B,)


def gate_scores(video: VideoFeatures, labels: VideoLabels, *, score: str,
                aligner: PoseAligner | None = None, propagated: HandParams | None = None,
                batch_size: int = 256) -> torch.Tensor:
    """The gate's score c(u) for every frame, from s = N(u), without ground truth of u.

    * "cycle": :func:`cycle_error` of the label carried s -> u -> s (needs the aligner).
    * "feature": ||z_u - z_s||, z = [z^r; z^theta].

    Args:
        propagated: scenario 2's gamma for the video (T rows), if already computed.
    Returns:
        (T,) scores, 0 at labelled frames.
    """
    check_labels(video, labels)
    if score not in GATE_SCORES:
        raise ValueError(f"score must be one of {GATE_SCORES}, got {score!r}")
    rows = labels.nearest_rows()
    z_s = take_features(video.z, labels.frames[rows])
    if score == "feature":
        values = torch.cat([video.z.z_r - z_s.z_r, video.z.z_theta - z_s.z_theta], 1).norm(dim=1)
    else:
        if aligner is None:
            raise ValueError("score='cycle' needs the aligner")
        if propagated is None:
            propagated = propagate_from(aligner, video, labels, rows, batch_size=batch_size)
        with evaluating(aligner.mano):
            label_joints = decode(aligner.mano, labels.params, batch_size=batch_size)[1]  # (L, ..)
        at = torch.as_tensor(rows, device=label_joints.device)  # (T,) label row of N(u)
        values = cycle_error(aligner, propagated, z_s, video.z, batch_size=batch_size,
                             label_joints=label_joints[at])
    return torch.where(torch.as_tensor(labels.mask, device=values.device), 0.0, values)


# --- the gated mode ------------------------------------------------------------------------------


def gate(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner, params: GateParams,
         propagated: VideoPrediction | None = None, batch_size: int = 256) -> VideoPrediction:
    """Issue 10: per frame, blend(regression, propagation, g(c(u))) with :class:`GateParams`
    (g = 1: propagation, g = 0: regression; a frame whose g is 0 or 1 gets that mode's hand
    exactly); a labelled frame keeps its label.

    Args:
        propagated: scenario 2's prediction for the video, if already computed.
    """
    if not isinstance(params, GateParams):
        raise ValueError(f"params must be GateParams, got {type(params).__name__}")
    if propagated is None:
        propagated = propagate(video, labels, aligner=aligner, batch_size=batch_size)
    scores = gate_scores(video, labels, score=params.score, aligner=aligner,
                         propagated=propagated.params, batch_size=batch_size)
    g = params.weight(scores)
    g = torch.where(torch.as_tensor(labels.mask, device=g.device), 1.0, g)  # (T,)
    regression = video.regression
    device = propagated.joints.device
    g = g.to(device)
    out = {}
    for name in ("root", "theta", "beta", "joints", "verts"):
        prop, reg = getattr(propagated, name), getattr(regression, name).to(device)
        at = g.reshape((-1,) + (1,) * (prop.dim() - 1))
        out[name] = torch.where(at == 1, prop, reg)  # the hard choices, exactly
    mixed = torch.nonzero((g > 0) & (g < 1))[:, 0]  # (M,) frames that blend the two hands
    if len(mixed):
        params_mixed = blend_params(take_params(regression.params, mixed),
                                    take_params(propagated.params, mixed), g[mixed])
        blended = decode_prediction("gated", aligner.mano, params_mixed, batch_size=batch_size)
        for name in out:
            out[name] = out[name].index_put((mixed,), getattr(blended, name).to(device))
    return VideoPrediction(mode="gated", weight=g, **out)


# --- calibration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateCalibration:
    """The fitted gate and the pairs it was fitted on.

    Attributes:
        gate: the chosen :class:`GateParams`.
        scores: (P,) the pairs' scores c.
        propagation_mpjpe: (P,) mm, the label carried s -> s' against gamma*_{s'}.
        regression_mpjpe: (P,) mm, the predictor's hand at s' against gamma*_{s'}.
        gated_mpjpe: mean mm of the chosen gate's hands over the pairs.
    """

    gate: GateParams
    scores: np.ndarray
    propagation_mpjpe: np.ndarray
    regression_mpjpe: np.ndarray
    gated_mpjpe: float

    @property
    def num_pairs(self) -> int:
        """P."""
        return len(self.scores)

    def __str__(self) -> str:
        g = self.gate
        return (f"gate on {self.num_pairs} labelled pairs: score={g.score}, "
                f"threshold={g.threshold:.4g}, temperature={g.temperature:.4g}; MPJPE "
                f"propagation {self.propagation_mpjpe.mean():.1f}, regression "
                f"{self.regression_mpjpe.mean():.1f}, gated {self.gated_mpjpe:.1f} mm")


@dataclass(frozen=True)
class _Pairs:
    """P pairs s -> t of labelled frames: what the grid search needs."""

    source: HandParams  # gamma*_s
    target: HandParams  # gamma*_t
    z_source: HandFeatures
    z_target: HandFeatures
    regression: HandParams  # the predictor's gamma at t


def _video_pairs(video: VideoFeatures, labels: VideoLabels) -> _Pairs | None:
    """Neighbouring labels of one video, both ways; None with fewer than two labels."""
    count = len(labels.frames)
    if count < 2:
        return None
    first = np.arange(count - 1)
    src = np.concatenate([first, first + 1])  # (P,) label rows: i -> i+1, then i+1 -> i
    dst = np.concatenate([first + 1, first])
    return _Pairs(
        source=labels.take(src), target=labels.take(dst),
        z_source=take_features(video.z, labels.frames[src]),
        z_target=take_features(video.z, labels.frames[dst]),
        regression=take_params(video.regression.params, torch.as_tensor(labels.frames[dst])),
    )


def _cat(pairs: list[_Pairs]) -> _Pairs:
    out = pairs[0]
    for more in pairs[1:]:
        out = _Pairs(*(cat_params(a, b) if isinstance(a, HandParams) else cat_features(a, b)
                       for a, b in zip(vars(out).values(), vars(more).values(), strict=True)))
    return out


def calibrate_gate(
    labelled: Sequence[tuple[VideoFeatures, VideoLabels]],
    aligner: PoseAligner,
    *,
    score: str = "cycle",
    temperature_factors: Sequence[float] = TEMPERATURE_FACTORS,
    num_thresholds: int = NUM_THRESHOLDS,
    batch_size: int = 256,
) -> GateCalibration:
    """Fit the gated mode's threshold and temperature on pairs of neighbouring labelled frames.

    Only the rows of ``video`` at ``labels.frames`` are read (the features and the predictor's
    hand there), and only the labels: nothing of an unlabelled frame. A video may be encoded
    at its labelled frames only, as a VideoFeatures of L rows with labels at frames 0..L-1
    (:func:`handkit.evaluation.calibrate_gate_on_reader` does that).

    Args:
        labelled: (video features, labels) per video; videos with one label give no pair.
        aligner: the Pose Aligner.
        score: "cycle" or "feature" (:func:`handkit.inference.gate_scores`).
        temperature_factors: temperatures to try, times the pair scores' standard deviation.
        num_thresholds: score quantiles whose midpoints are tried as thresholds (with +-inf).
        batch_size: rows per aligner and MANO call.
    Returns:
        :class:`GateCalibration`.
    """
    if score not in GATE_SCORES:
        raise ValueError(f"score must be one of {GATE_SCORES}, got {score!r}")
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or (
            num_thresholds < 1):
        raise ValueError(f"num_thresholds must be an integer >= 1, got {num_thresholds!r}")
    factors = [float(f) for f in temperature_factors]
    if not factors or not all(math.isfinite(f) and f >= 0 for f in factors):
        raise ValueError(f"temperature_factors must be finite numbers >= 0, got "
                         f"{temperature_factors!r}")
    batch_size = check_batch_size(batch_size)
    found = [_video_pairs(video, labels) for video, labels in labelled]
    found = [p for p in found if p is not None]
    if not found:
        raise ValueError("calibrate_gate needs a video with at least two labelled frames, got "
                         f"{len(labelled)} videos with fewer")
    pairs = _cat(found)
    carried = align(aligner, pairs.source, pairs.z_target, pairs.z_source, batch_size=batch_size)
    if score == "cycle":
        with evaluating(aligner.mano):
            label_joints = decode(aligner.mano, pairs.source, batch_size=batch_size)[1]
        scores = cycle_error(aligner, carried, pairs.z_source, pairs.z_target,
                             label_joints=label_joints, batch_size=batch_size)
    else:
        zt, zs = pairs.z_target, pairs.z_source
        scores = torch.cat([zt.z_r - zs.z_r, zt.z_theta - zs.z_theta], 1).norm(dim=1)  # (P,)
    with evaluating(aligner.mano):
        errors = _PairErrors(aligner.mano, pairs.target, carried, pairs.regression, batch_size)
        grid = _grid(scores, score=score, factors=factors, num_thresholds=num_thresholds)
        best, best_error = None, math.inf
        for candidate in grid:
            error = errors.gated(candidate.weight(scores))
            if error < best_error:
                best, best_error = candidate, error
    return GateCalibration(
        gate=best, scores=scores.cpu().numpy(), propagation_mpjpe=errors.propagation.cpu().numpy(),
        regression_mpjpe=errors.regression.cpu().numpy(), gated_mpjpe=best_error,
    )


def _grid(scores: torch.Tensor, *, score: str, factors: list[float], num_thresholds: int
          ) -> list[GateParams]:
    """Hard gates first, then softer ones; thresholds -inf, the midpoints between consecutive
    score quantiles, +inf (so a tie between all-propagation cuts picks +inf)."""
    levels = torch.linspace(0, 1, num_thresholds, dtype=torch.float64)
    cuts = sorted(set(torch.quantile(scores.detach().double().cpu(), levels).tolist()))
    middles = [(a + b) / 2 for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    thresholds = [-math.inf, *middles, math.inf]  # each a different split of the pairs
    spread = float(scores.double().std()) if len(scores) > 1 else 0.0
    temperatures = sorted({f * spread for f in factors if f == 0 or spread > 0})
    return [GateParams(score=score, threshold=t, temperature=temp)
            for temp in temperatures for t in thresholds]


class _PairErrors:
    """MPJPE (mm) against the target labels' MANO joints of propagation, regression and any
    blend of the two, per pair."""

    def __init__(self, mano, target: HandParams, carried: HandParams, regression: HandParams,
                 batch_size: int):
        self.mano, self.batch_size = mano, batch_size
        self.truth = decode(mano, target, batch_size=batch_size)[1]  # (P, 21, 3)
        self.carried, self.regression_params = carried, regression
        self.propagation = self._mpjpe(carried, slice(None))  # (P,)
        self.regression = self._mpjpe(regression, slice(None))

    def _mpjpe(self, params: HandParams, rows) -> torch.Tensor:
        joints = decode(self.mano, params, batch_size=self.batch_size)[1]
        return (joints - self.truth[rows]).norm(dim=-1).mean(dim=-1)

    def gated(self, g: torch.Tensor) -> float:
        """Mean MPJPE of blend(regression, propagation, g) over the pairs; g (P,)."""
        g = g.to(self.propagation)
        errors = torch.where(g == 1, self.propagation, self.regression)
        mixed = torch.nonzero((g > 0) & (g < 1))[:, 0]  # (M,)
        if len(mixed):
            reg = take_params(self.regression_params, mixed)
            prop = take_params(self.carried, mixed)
            errors = errors.index_put((mixed,), self._mpjpe(blend_params(reg, prop, g[mixed]),
                                                            mixed))
        return float(errors.mean())
