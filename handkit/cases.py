"""Where an inference mode fails: cases picked from an evaluation, and the hands to show them.

:func:`handkit.evaluation.evaluate_split` keeps every unlabelled frame's error but not its hand
(2,000 frames x 7 modes of meshes would not fit a laptop's memory). A failure case is shown by
running the modes again on that one frame: scenario 2 carries the label of s = N(u) to u with
(z_u - z_s) only, and scenario 1 looks at u alone, so a two-frame video [s, u] with s labelled
gives the very hands of the whole video, for the price of encoding two images.

Introduced in ``notebooks/07_evaluation.ipynb`` (the failure-case gallery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from handkit.evaluation import EvaluationResult, read_video
from handkit.inference import encode_video, predict_video
from handkit.inference.video import VideoLabels, take_params
from handkit.models import HandPredictor, PoseAligner
from handkit.viz.overlay import HandOverlay, overlay_figure

#: Colours of the gallery's hands: ground truth, the label of s, propagation, regression.
CASE_COLOURS = {"truth": "#2ca02c", "propagation": "#d62728", "regression": "#ff7f0e"}


@dataclass(frozen=True)
class Case:
    """One evaluated frame u.

    Attributes:
        video_id: its video; frame: u; distance: |u - N(u)|.
        errors: mode -> MPJPE (mm) of that mode on u.
        occluded: whether an occluder is drawn over u (None: the data set does not say).
    """

    video_id: str
    frame: int
    distance: int
    errors: dict[str, float]
    occluded: bool | None = None


def occluded_frames(result: EvaluationResult, reader) -> np.ndarray | None:
    """(N,) bool: whether each evaluated frame carries an occluder, or None when the reader's
    videos do not say (only handkit's synthetic videos record it)."""
    if not hasattr(reader, "video"):
        return None
    flags = {}
    for position, video_id in enumerate(result.video_ids):
        occluded = getattr(reader.video(video_id), "occluded", None)
        if occluded is None:
            return None
        flags[position] = np.asarray(occluded, dtype=bool)
    return np.array([flags[v][f] for v, f in zip(result.frames.video, result.frames.frame,
                                                    strict=True)], dtype=bool)


def cases_at(result: EvaluationResult, rows: Sequence[int], reader=None) -> list[Case]:
    """:class:`Case` s of the evaluated frames ``rows`` (indices into ``result.frames``)."""
    frames, occluded = result.frames, None
    if reader is not None:
        occluded = occluded_frames(result, reader)
    return [Case(video_id=result.video_ids[frames.video[i]], frame=int(frames.frame[i]),
                 distance=int(frames.distance[i]),
                 errors={mode: float(frames.mpjpe(mode)[i]) for mode in result.modes},
                 occluded=None if occluded is None else bool(occluded[i]))
            for i in rows]


def worst_rows(errors: np.ndarray, count: int, *, video: np.ndarray, frame: np.ndarray,
               apart: int = 32, where: np.ndarray | None = None) -> list[int]:
    """Indices of the ``count`` largest ``errors`` (N,), at least ``apart`` frames from each
    other within a video (the worst frames of one drift come in runs), among ``where`` (N,)
    bool if given.

    >>> worst_rows(np.array([5.0, 9.0, 8.0, 1.0]), 2, video=np.zeros(4, int),
    ...            frame=np.array([0, 10, 11, 50]))
    [1, 3]
    """
    picked: list[int] = []
    for i in np.argsort(-errors, kind="stable"):
        if where is not None and not where[i]:
            continue
        if all(video[i] != video[j] or abs(frame[i] - frame[j]) >= apart for j in picked):
            picked.append(int(i))
        if len(picked) == count:
            break
    return picked


def regression_better_share(result: EvaluationResult) -> tuple[float, ...]:
    """Per distance bin, the share of frames where scenario 1 (regression) is closer to the
    truth than scenario 2 (propagation): what a perfect per-frame gate would send to the
    regressor."""
    frames = result.frames
    better = frames.mpjpe("regression") < frames.mpjpe("propagation")
    shares = []
    for low, high in result.bins:
        in_bin = (frames.distance >= low) & (frames.distance <= high)
        shares.append(float(better[in_bin].mean()) if in_bin.any() else float("nan"))
    return tuple(shares)


@dataclass(frozen=True)
class CaseHands:
    """What one case shows: frame u's image, its intrinsics (3, 3) and three hands' joints
    (21, 3) mm: the truth, scenario 2 (the label of s carried to u) and scenario 1."""

    image: np.ndarray
    intrinsics: np.ndarray
    truth: np.ndarray
    propagation: np.ndarray
    regression: np.ndarray


def case_hands(reader, case: Case, predictor: HandPredictor, aligner: PoseAligner) -> CaseHands:
    """Scenarios 1 and 2 on the case's frame u, from the two-frame video [N(u), u]."""
    video = read_video(reader, case.video_id)
    labels = video.labels
    row = int(labels.nearest_rows()[case.frame])
    s, u = int(labels.frames[row]), case.frame
    pair = [s, u] if s < u else [u, s]
    pair_labels = VideoLabels(np.array([pair.index(s)]), take_params(labels.params, [row]),
                              num_frames=2)
    features = encode_video(predictor, video.images[pair], video.intrinsics[pair])
    hands = predict_video(features, pair_labels, modes=("regression", "propagation"),
                          aligner=aligner)
    at_u = pair.index(u)
    return CaseHands(image=video.images[u].permute(1, 2, 0).numpy(),
                     intrinsics=video.intrinsics[u].numpy(),
                     truth=np.asarray(video.truth["joints"][u]),
                     propagation=hands["propagation"].joints[at_u].detach().cpu().numpy(),
                     regression=hands["regression"].joints[at_u].detach().cpu().numpy())


def case_title(case: Case, why: str) -> str:
    """A panel caption: why the case is shown, where it is, the two scenarios' errors."""
    occluded = ", occluded" if case.occluded else ""
    return (f"{why}: {case.video_id} u={case.frame}<br>{case.distance} frames from a label"
            f"{occluded}<br>propagation {case.errors['propagation']:.0f} mm, "
            f"regression {case.errors['regression']:.0f} mm")


def case_gallery(reader, cases: Sequence[Case], reasons: Sequence[str],
                 predictor: HandPredictor, aligner: PoseAligner, *,
                 title: str | None = None) -> go.Figure:
    """One panel per case: the frame with the true (green), propagated (red) and regressed
    (orange) skeletons."""
    if len(cases) != len(reasons):
        raise ValueError(f"need one reason per case, got {len(cases)} cases and "
                         f"{len(reasons)} reasons")
    with torch.no_grad():
        shown = [case_hands(reader, case, predictor, aligner) for case in cases]
    hands = [[HandOverlay("ground truth", CASE_COLOURS["truth"], joints=h.truth),
              HandOverlay("propagation (scenario 2)", CASE_COLOURS["propagation"],
                          joints=h.propagation),
              HandOverlay("regression (scenario 1)", CASE_COLOURS["regression"],
                          joints=h.regression)] for h in shown]
    return overlay_figure(np.stack([h.image for h in shown]),
                          np.stack([h.intrinsics for h in shown]), hands, None,
                          titles=[case_title(c, why) for c, why in zip(cases, reasons,
                                                                        strict=True)],
                          title=title)
