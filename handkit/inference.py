"""Inference on sparsely-labelled videos: the paper's two scenarios (Sec. I, Sec. II-D), the
baselines it does not report, and two modes beyond it (issue 10).

Every mode runs over a whole video at once and gives every frame u = 0..T-1 a hand
(:class:`VideoPrediction`: gamma = (r, theta, beta), joints and vertices in mm):

* ``regression`` (scenario 1): the Hand Predictor's gamma_u^reg (Eq. 1).
* ``propagation`` (scenario 2): gamma_u = phi(gamma*_s, z_u - z_s) + gamma*_s from the nearest
  label s = N(u) (Eqs. 2-4), on unseen videos, without fine-tuning.
* ``copy``: gamma*_{N(u)}, the nearest label as it is.
* ``interpolation``: between the labels s- < u < s+, each of the 16 rotations of theta slerped,
  r and beta linear, with weight w = (u - s-) / (s+ - s-) on s+.
* ``bidirectional``: propagation from s- and from s+, blended with the same w and the same
  per-joint slerp (never an average of axis-angle vectors).
* ``gated``: per frame, a blend of propagation (weight g) and regression (1 - g) whose g comes
  from a score computed without ground truth (:class:`GateParams`, :func:`gate_scores`), fitted
  on labelled frames only by :func:`calibrate_gate`.
* ``fused``: propagation from both neighbouring labels and the regressor, blended by inverse
  expected variance; the expected errors (growing with the distance to the label for
  propagation) come from the video's labelled frames (:mod:`handkit.fusion`).

Readings where the paper is silent:

* A labelled frame keeps its label in every mode that uses labels (the aligner is not run at
  u = s: a trained phi(gamma, 0) is close to zero, not zero); Table I is over unlabelled frames.
* N(u) breaks ties towards the earlier label (:func:`handkit.data.pairs.nearest_labelled`).
* A frame before the first label or after the last has one neighbour: interpolation copies it
  and bidirectional propagates from it alone (with handkit's S_V, which holds the first and last
  frames, this never happens).
* The aligner is called through its Eq. 3 and Eq. 4 steps (``align_root``, ``align_theta``;
  Eq. 2 keeps beta), and every mode decodes its parameters with one MANO pass at the end.

Labels enter only as :class:`VideoLabels` (the L labelled frames and their gamma*): no mode can
see an unlabelled frame's ground truth. The encoder runs once per frame (:func:`encode_video`)
and every mode reuses its :class:`VideoFeatures`; :func:`predict_video` runs several modes and
shares scenario 2 between propagation and the gate. Modules run in eval mode without gradients
(their modes are restored afterwards); tensors follow the modules' device. The records and
building blocks live in :mod:`handkit.propagation`, the gate's score and its fit in
:mod:`handkit.gating`; everything is importable from here.

Letters: T frames, L labels, B batch, D = 512. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from handkit.fusion import ErrorModel, error_model, fuse
from handkit.gating import (
    GATE_SCORES,
    GateCalibration,
    GateParams,
    calibrate_gate,
    cycle_error,
    gate_scores,
)
from handkit.models.aligner import PoseAligner
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.predictor import HandPredictor
from handkit.models.records import HandFeatures, check_shape
from handkit.propagation import (
    MODES,
    NUM_ROTATIONS,
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    blend_params,
    check_batch_size,
    check_labels,
    chunks,
    decode,
    decode_prediction,
    evaluating,
    module_tensor,
    propagate_from,
    slerp_theta,
    take_params,
)

__all__ = [
    "ALIGNER_MODES",
    "ErrorModel",
    "error_model",
    "fuse",
    "GATE_SCORES",
    "MODES",
    "MODE_TITLES",
    "NUM_ROTATIONS",
    "GateCalibration",
    "GateParams",
    "VideoFeatures",
    "VideoLabels",
    "VideoPrediction",
    "blend_params",
    "calibrate_gate",
    "check_modes",
    "copy_nearest",
    "cycle_error",
    "decode",
    "encode_video",
    "evaluating",
    "gate",
    "gate_scores",
    "interpolate",
    "predict_video",
    "propagate",
    "propagate_bidirectional",
    "propagate_from",
    "regress",
    "slerp_theta",
]

ALIGNER_MODES = frozenset({"propagation", "bidirectional", "gated", "fused"})
"""Modes that run the Pose Aligner."""
MODE_TITLES = {
    "regression": "Regression (scenario 1)",
    "propagation": "Propagation (scenario 2)",
    "copy": "Copy nearest label",
    "interpolation": "Interpolation",
    "bidirectional": "Bidirectional propagation",
    "gated": "Gated propagation / regression",
    "fused": "Fused (both labels and regression)",
}
"""Names for tables and figures."""


# --- scenario 1: the predictor -----------------------------------------------------------------


def encode_video(predictor: HandPredictor, images: torch.Tensor, intrinsics: torch.Tensor, *,
                 batch_size: int = 64) -> VideoFeatures:
    """Run the Hand Predictor once per frame (eval mode, no gradients, ``batch_size`` frames at
    a time): the features z for every mode and scenario 1's hand (Eq. 1).

    Args:
        predictor: the Hand Predictor; its device is used.
        images: (T, 3, S, S) float RGB in [0, 1] (any device).
        intrinsics: (T, 3, 3) intrinsics of the images.
        batch_size: frames per encoder call.
    Returns:
        :class:`VideoFeatures` on the predictor's device.
    """
    check_shape("images", images, (None, 3, None, None), "(T, 3, S, S)")
    frames = images.shape[0]
    check_shape("intrinsics", intrinsics, (frames, 3, 3), f"(T, 3, 3) with T={frames}")
    if frames == 0:
        raise ValueError("images must hold at least one frame, got shape (0, ...)")
    like = module_tensor(predictor, "predictor")
    outputs = []
    with evaluating(predictor):
        for c in chunks(frames, check_batch_size(batch_size)):
            outputs.append(predictor(images[c].to(like), intrinsics[c].to(like)))

    def cat(name: str) -> torch.Tensor:
        return torch.cat([getattr(out, name) for out in outputs])

    regression = VideoPrediction(mode="regression", root=cat("root"), theta=cat("theta48"),
                                 beta=cat("beta"), joints=cat("joints"), verts=cat("verts"))
    return VideoFeatures(z=HandFeatures(z_r=cat("z_r"), z_theta=cat("z_theta")),
                         regression=regression)


def regress(video: VideoFeatures) -> VideoPrediction:
    """Scenario 1 (Sec. II-D): the predictor's gamma_u^reg for every frame, as encoded."""
    return video.regression


# --- scenario 2 and the label baselines ---------------------------------------------------------


def propagate(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
              batch_size: int = 256) -> VideoPrediction:
    """Scenario 2 (Sec. I, Sec. II-D): gamma_u = phi(gamma*_s, z_u - z_s) + gamma*_s with
    s = N(u), the nearest labelled frame; MANO by the aligner's decoder."""
    params = propagate_from(aligner, video, labels, labels.nearest_rows(), batch_size=batch_size)
    return decode_prediction("propagation", aligner.mano, params, batch_size=batch_size)


def copy_nearest(labels: VideoLabels, *, mano: ManoDecoder, batch_size: int = 256
                 ) -> VideoPrediction:
    """Baseline: gamma_u = gamma*_{N(u)}, the nearest label unchanged."""
    check_labels(None, labels)
    params = labels.take(labels.nearest_rows())
    return decode_prediction("copy", mano, params, batch_size=batch_size)


def interpolate(labels: VideoLabels, *, mano: ManoDecoder, batch_size: int = 256
                ) -> VideoPrediction:
    """Baseline with two labels: between s- < u < s+, w = (u - s-) / (s+ - s-), each of the 16
    rotations slerped (:func:`slerp_theta`), r and beta linear; outside the first (last) label
    the one neighbour is copied."""
    check_labels(None, labels)
    before, after, weight = labels.neighbour_rows()
    w = torch.as_tensor(weight, dtype=labels.params.root.dtype)
    params = blend_params(labels.take(before), labels.take(after), w)
    return decode_prediction("interpolation", mano, params, batch_size=batch_size, weight=w)


def propagate_bidirectional(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
                            batch_size: int = 256) -> VideoPrediction:
    """Issue 10: propagation from both neighbouring labels s- < u < s+ (Eqs. 2-4 from each),
    blended by :func:`blend_params` with the weight w = (u - s-) / (s+ - s-) of the s+ side (so
    the nearer label weighs more; w = 1/2 mid-gap). A frame with one neighbouring label is
    propagated from it alone; a labelled frame keeps its label."""
    before, after, weight = labels.neighbour_rows()
    from_before = propagate_from(aligner, video, labels, before, batch_size=batch_size)
    from_after = propagate_from(aligner, video, labels, after, batch_size=batch_size)
    w = torch.as_tensor(weight, device=from_before.root.device, dtype=from_before.root.dtype)
    params = blend_params(from_before, from_after, w)
    return decode_prediction("bidirectional", aligner.mano, params, batch_size=batch_size, weight=w)


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


# --- every mode at once -------------------------------------------------------------------------


def check_modes(modes: Sequence[str], *, aligner: PoseAligner | None) -> tuple[str, ...]:
    """``modes`` as a tuple, refusing unknown or repeated names and aligner modes without one."""
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"modes must be distinct names from {MODES}, got {modes}")
    needs = sorted(ALIGNER_MODES.intersection(modes))
    if needs and aligner is None:
        raise ValueError(f"modes {needs} need the aligner, got aligner=None")
    return modes


def predict_video(video: VideoFeatures, labels: VideoLabels, *, modes: Sequence[str] = MODES,
                  aligner: PoseAligner | None = None, mano: ManoDecoder | None = None,
                  gate_params: GateParams | None = None, batch_size: int = 256
                  ) -> dict[str, VideoPrediction]:
    """Several modes on one video, sharing the encoding and the propagation.

    Args:
        video: :func:`encode_video`'s output.
        labels: the video's labels.
        modes: names from :data:`MODES`.
        aligner: the Pose Aligner (needed by :data:`ALIGNER_MODES`).
        mano: decoder for copy and interpolation; default the aligner's.
        gate_params: the gated mode's :class:`GateParams` (required with "gated"; fit it with
            :func:`handkit.gating.calibrate_gate`).
        batch_size: rows per aligner and MANO call.
    Returns:
        mode -> :class:`VideoPrediction`, in the order of ``modes``.
    """
    modes = check_modes(modes, aligner=aligner)
    check_labels(video, labels)
    mano = mano if mano is not None else (aligner.mano if aligner is not None else None)
    if mano is None and {"copy", "interpolation"}.intersection(modes):
        raise ValueError("copy and interpolation need a MANO decoder: give mano= or aligner=")
    if "gated" in modes and gate_params is None:
        raise ValueError("mode 'gated' needs gate_params (see handkit.gating.calibrate_gate)")
    out: dict[str, VideoPrediction] = {}
    propagated = None
    if {"propagation", "gated"}.intersection(modes):
        propagated = propagate(video, labels, aligner=aligner, batch_size=batch_size)
    for mode in modes:
        if mode == "regression":
            out[mode] = regress(video)
        elif mode == "propagation":
            out[mode] = propagated
        elif mode == "copy":
            out[mode] = copy_nearest(labels, mano=mano, batch_size=batch_size)
        elif mode == "interpolation":
            out[mode] = interpolate(labels, mano=mano, batch_size=batch_size)
        elif mode == "bidirectional":
            out[mode] = propagate_bidirectional(video, labels, aligner=aligner,
                                                batch_size=batch_size)
        elif mode == "fused":
            out[mode] = fuse(video, labels, aligner=aligner, batch_size=batch_size)
        else:
            out[mode] = gate(video, labels, aligner=aligner, params=gate_params,
                             propagated=propagated, batch_size=batch_size)
    return out

