"""Scenario 2 (Sec. I, Sec. II-D) and its bidirectional variant (issue 10): labels carried to
the unlabelled frames by the Pose Aligner, without fine-tuning.

* ``propagation``: gamma_u = phi(gamma*_s, z_u - z_s) + gamma*_s from the nearest label
  s = N(u) (Eqs. 2-4).
* ``bidirectional``: propagation from s- and from s+, blended with w = (u - s-) / (s+ - s-) and
  the per-joint slerp of :func:`~handkit.inference.label_based.blend_params` (never an average of
  axis-angle vectors).

:func:`align` runs the aligner over many rows through its Eq. 3 and Eq. 4 steps (``align_root``,
``align_theta``; Eq. 2 keeps beta) without MANO; :func:`propagate_from` carries any choice of
label to every frame, and a labelled frame keeps its label. The gated and fused modes
(:mod:`handkit.inference.gating`, :mod:`handkit.inference.fusion`) build on both.

Letters: T frames, L labels, B rows. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

import numpy as np
import torch

from handkit.inference.label_based import blend_params
from handkit.inference.video import (
    VideoFeatures,
    VideoLabels,
    VideoPrediction,
    check_batch_size,
    check_labels,
    chunks,
    decode_prediction,
    evaluating,
    module_tensor,
    params_like,
    take_features,
)
from handkit.models.aligner import PoseAligner
from handkit.models.records import HandFeatures, HandParams, check_shape


def align(aligner: PoseAligner, gamma_b: HandParams, z_a: HandFeatures, z_b: HandFeatures, *,
          batch_size: int = 256) -> HandParams:
    """Eqs. 2-4 for B rows, ``batch_size`` at a time, without MANO: gamma_b carried from the
    frames b to the frames a (phi(gamma_b, z_a - z_b) + gamma_b), on the aligner's device."""
    like = module_tensor(aligner, "aligner")
    gamma_b = params_like(gamma_b, like)
    rows = gamma_b.root.shape[0]
    check_shape("z_a.z_r", z_a.z_r, (rows, None), f"(B, 512) with B={rows}")
    check_shape("z_b.z_r", z_b.z_r, (rows, None), f"(B, 512) with B={rows}")
    roots, thetas = [], []
    with evaluating(aligner):
        for c in chunks(rows, check_batch_size(batch_size)):
            dz_r = z_a.z_r[c].to(like) - z_b.z_r[c].to(like)  # (b, 512)
            dz_theta = z_a.z_theta[c].to(like) - z_b.z_theta[c].to(like)
            roots.append(aligner.align_root(gamma_b.root[c], dz_r))  # Eq. 3
            thetas.append(aligner.align_theta(gamma_b.theta[c], dz_theta))  # Eq. 4
    return HandParams(root=torch.cat(roots), theta=torch.cat(thetas), beta=gamma_b.beta)  # Eq. 2


def propagate_from(aligner: PoseAligner, video: VideoFeatures, labels: VideoLabels,
                   rows: np.ndarray, *, batch_size: int = 256) -> HandParams:
    """Carry label ``rows[u]`` to every frame u through the aligner (Eqs. 2-4); a frame that is
    its source's labelled frame keeps the label.

    Args:
        rows: (T,) int, a row of ``labels`` for every frame.
    Returns:
        gamma (T rows) on the aligner's device.
    """
    check_labels(video, labels)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.shape != (video.num_frames,) or rows.min() < 0 or rows.max() >= len(labels.frames):
        raise ValueError(f"rows must be (T,) = ({video.num_frames},) label rows in "
                         f"0..{len(labels.frames) - 1}, got shape {rows.shape}")
    source = labels.frames[rows]  # (T,) frame s of each u
    gamma_s = labels.take(rows)  # (T, ...)
    z_s = take_features(video.z, source)  # (T, 512) each
    carried = align(aligner, gamma_s, video.z, z_s, batch_size=batch_size)
    at_label = torch.as_tensor(source == np.arange(video.num_frames), device=carried.root.device)
    keep = at_label[:, None]  # (T, 1)
    gamma_s = params_like(gamma_s, carried.root)
    return HandParams(root=torch.where(keep, gamma_s.root, carried.root),
                      theta=torch.where(keep, gamma_s.theta, carried.theta),
                      beta=torch.where(keep, gamma_s.beta, carried.beta))


# --- scenario 2 and bidirectional propagation ---------------------------------------------------


def propagate(video: VideoFeatures, labels: VideoLabels, *, aligner: PoseAligner,
              batch_size: int = 256) -> VideoPrediction:
    """Scenario 2 (Sec. I, Sec. II-D): gamma_u = phi(gamma*_s, z_u - z_s) + gamma*_s with
    s = N(u), the nearest labelled frame; MANO by the aligner's decoder."""
    params = propagate_from(aligner, video, labels, labels.nearest_rows(), batch_size=batch_size)
    return decode_prediction("propagation", aligner.mano, params, batch_size=batch_size)


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
