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
  propagation) come from the video's labelled frames (:mod:`handkit.inference.fusion`).
* ``fused-interp``: the fused mode with interpolation as a further estimate, and propagation's
  error at distance 0 measured too (issue 18; :mod:`handkit.inference.fusion`).

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
(their modes are restored afterwards); tensors follow the modules' device.

One module per family of modes, everything importable from here (this module holds only
:data:`MODE_TITLES`, :func:`check_modes` and :func:`predict_video`):

* :mod:`handkit.inference.video`: the records (:class:`VideoLabels`, :class:`VideoFeatures`,
  :class:`VideoPrediction`, :data:`MODES`) and the helpers every mode shares.
* :mod:`handkit.inference.regression`: scenario 1 (:func:`encode_video`, :func:`regress`).
* :mod:`handkit.inference.label_based`: copy and interpolation, and the per-joint slerp.
* :mod:`handkit.inference.propagation`: scenario 2 and bidirectional propagation.
* :mod:`handkit.inference.gating`: the gated mode, its score and its fit.
* :mod:`handkit.inference.fusion`: the fused mode and its expected errors.

Letters: T frames, L labels, B batch, D = 512. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

from collections.abc import Sequence

# noqa F401 below: names the single-file handkit/inference.py had at module level stay
# importable from here.
import torch  # noqa: F401

from handkit.inference.fusion import ErrorModel, error_model, fuse
from handkit.inference.gating import (
    GATE_SCORES,
    GateCalibration,
    GateParams,
    calibrate_gate,
    cycle_error,
    gate,
    gate_scores,
)
from handkit.inference.label_based import (
    NUM_ROTATIONS,
    blend_params,
    copy_nearest,
    interpolate,
    slerp_theta,
)
from handkit.inference.propagation import propagate, propagate_bidirectional, propagate_from
from handkit.inference.regression import encode_video, regress
from handkit.inference.video import (  # noqa: F401
    MODES,
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    check_batch_size,
    check_labels,
    chunks,
    decode,
    decode_prediction,
    evaluating,
    module_tensor,
    take_params,
)
from handkit.models.aligner import PoseAligner
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.predictor import HandPredictor  # noqa: F401
from handkit.models.records import HandFeatures, check_shape  # noqa: F401

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

ALIGNER_MODES = frozenset({"propagation", "bidirectional", "gated", "fused", "fused-interp"})
"""Modes that run the Pose Aligner."""
MODE_TITLES = {
    "regression": "Regression (scenario 1)",
    "propagation": "Propagation (scenario 2)",
    "copy": "Copy nearest label",
    "interpolation": "Interpolation",
    "bidirectional": "Bidirectional propagation",
    "gated": "Gated propagation / regression",
    "fused": "Fused (both labels and regression)",
    "fused-interp": "Fused with interpolation",
}
"""Names for tables and figures."""


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
            :func:`handkit.inference.gating.calibrate_gate`).
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
        raise ValueError("mode 'gated' needs gate_params (see handkit.inference.calibrate_gate)")
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
        elif mode in ("fused", "fused-interp"):
            out[mode] = fuse(video, labels, aligner=aligner, batch_size=batch_size,
                             interpolation=mode == "fused-interp")
        else:
            out[mode] = gate(video, labels, aligner=aligner, params=gate_params,
                             propagated=propagated, batch_size=batch_size)
    return out

