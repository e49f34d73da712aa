"""The two label baselines the paper does not report: ``copy`` gives every frame its nearest
label gamma*_{N(u)} as it is, ``interpolation`` blends the labels s- < u < s+ around it with
weight w = (u - s-) / (s+ - s-) on s+; and the per-joint slerp that interpolation and the modes
blending two hands share (:func:`slerp_theta`, :func:`blend_params`): each of the 16 rotations
of theta is slerped, r and beta linear, axis-angle vectors are never averaged.

Neither baseline reads the video's features, only its
:class:`~handkit.inference.video.VideoLabels` and a MANO decoder. Letters: T frames, L labels,
B rows. Introduced in ``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

import roma
import torch

from handkit.inference.video import (
    VideoLabels,
    VideoPrediction,
    check_labels,
    decode_prediction,
    params_like,
)
from handkit.models.mano_decoder import ManoDecoder
from handkit.models.records import HandParams, check_shape

NUM_ROTATIONS = 16
"""theta holds 16 axis-angles: the global rotation, then 15 finger joints."""


# --- blending rotations ------------------------------------------------------------------------


def slerp_theta(theta0: torch.Tensor, theta1: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-joint slerp of two poses: each of the 16 rotations moves along the geodesic of SO(3),
    R = R0 exp(w log(R0^T R1)); axis-angle vectors are never averaged.

    Args:
        theta0, theta1: (B, 48) absolute axis-angles.
        weight: (B,) w, the weight of theta1; rows with w = 0 (w = 1) return theta0 (theta1)
            exactly.
    Returns:
        (B, 48).

    >>> import math
    >>> quarter = torch.tensor([[0.0, 0, math.pi / 2] + [0.0] * 45])
    >>> mid = slerp_theta(torch.zeros(1, 48), quarter, torch.tensor([0.5]))
    >>> round(math.degrees(mid[0, 2].item()), 4), float(mid[0, 3:].abs().max())  # about z
    (45.0, 0.0)
    """
    batch = theta0.shape[0] if isinstance(theta0, torch.Tensor) else None
    check_shape("theta0", theta0, (None, 48), "(B, 48)")
    check_shape("theta1", theta1, (batch, 48), f"(B, 48) with B={batch}")
    check_shape("weight", weight, (batch,), f"(B,) with B={batch}")
    r0 = roma.rotvec_to_rotmat(theta0.reshape(batch, NUM_ROTATIONS, 3))  # (B, 16, 3, 3)
    r1 = roma.rotvec_to_rotmat(theta1.reshape(batch, NUM_ROTATIONS, 3))
    step = roma.rotmat_to_rotvec(r0.transpose(-1, -2) @ r1)  # (B, 16, 3), R0 -> R1 in R0's frame
    w = weight.to(theta0)[:, None, None]  # (B, 1, 1)
    blended = roma.rotmat_to_rotvec(r0 @ roma.rotvec_to_rotmat(w * step)).reshape(batch, 48)
    at = weight.to(theta0)[:, None]  # (B, 1)
    return torch.where(at == 0, theta0, torch.where(at == 1, theta1, blended))


def blend_params(first: HandParams, second: HandParams, weight: torch.Tensor) -> HandParams:
    """(1 - w) gamma_first + w gamma_second: r and beta linearly, theta by :func:`slerp_theta`.

    Args:
        first, second: B rows each.
        weight: (B,) w in [0, 1], the weight of ``second``.
    """
    batch = first.root.shape[0]
    check_shape("weight", weight, (batch,), f"(B,) with B={batch}")
    second = params_like(second, first.root)
    w = weight.to(first.root)[:, None]  # (B, 1)

    def linear(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(w == 0, a, torch.where(w == 1, b, a + w * (b - a)))

    return HandParams(root=linear(first.root, second.root),
                      theta=slerp_theta(first.theta, second.theta, weight.to(first.root)),
                      beta=linear(first.beta, second.beta))


# --- the label baselines ------------------------------------------------------------------------


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
    params, w = interpolated_params(labels)
    return decode_prediction("interpolation", mano, params, batch_size=batch_size, weight=w)


def interpolated_params(labels: VideoLabels) -> tuple[HandParams, torch.Tensor]:
    """gamma of every frame interpolated between s- and s+ (T rows), and the weight w of s+
    (T,); shared by :func:`interpolate` and the fused-interp mode."""
    before, after, weight = labels.neighbour_rows()
    w = torch.as_tensor(weight, dtype=labels.params.root.dtype)
    return blend_params(labels.take(before), labels.take(after), w), w
