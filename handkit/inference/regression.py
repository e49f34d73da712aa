"""Scenario 1 (Sec. I, Sec. II-D): the Hand Predictor's gamma_u^reg for every frame (Eq. 1).

:func:`encode_video` runs the predictor once per frame and keeps both its hand (scenario 1) and
its features z (:class:`~handkit.inference.video.VideoFeatures`), which every other mode reuses;
:func:`regress` is scenario 1 itself. Letters: T frames, S image size, D = 512. Introduced in
``notebooks/07_evaluation.ipynb``.
"""

from __future__ import annotations

import torch

from handkit.inference.video import (
    VideoFeatures,
    VideoPrediction,
    check_batch_size,
    chunks,
    evaluating,
    module_tensor,
)
from handkit.models.predictor import HandPredictor
from handkit.models.records import HandFeatures, check_shape


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
