"""The Single-frame Hand Predictor (Sec. II-B a, Eq. 1, Fig. 2, Sec. IV).

images, intrinsics -> psi -> z = [z^r; z^theta] -> regressor pi = (pi^r, pi^theta) -> MANO -> hand.

* pi^theta(z^theta) -> 18 pose values (global axis-angle 3 + 15 PCA coefficients) and 10 beta.
  Where the paper is silent it follows Hasson et al. 2020's hand branch: two hidden layers of
  512 units with ReLU, then a linear pose layer and a linear shape layer on the same features.
* pi^r(z^r) -> (d_f, t_u, t_v): one hidden layer of 256 units with ReLU, then a linear layer
  (Hasson's translation-and-scale branch). Its raw outputs are d_f in mm per pixel of focal
  length and (t_u, t_v) in units of half the image side (so +-1 is the image border), which
  keeps all three O(1) for the synthetic 64-px crops; r follows from
  :func:`handkit.geometry.root_from_offsets` (d_z = f d_f + d_off, image centre (S - 1) / 2).
* Output layers start at zero: the first prediction is the flat mean hand, unrotated, with its
  wrist at depth d_off on the image centre's ray.

Introduced in ``notebooks/03_hand_predictor.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from handkit.geometry import root_from_offsets
from handkit.models.encoder import ResNetEncoder
from handkit.models.layers import relu_mlp, zero_linear
from handkit.models.mano_decoder import NUM_PCA, ManoDecoder
from handkit.models.records import (
    FEATURE_DIM,
    NUM_BETAS,
    HandFeatures,
    HandOutput,
    check_finite,
    check_shape,
)

POSE_DIM = 3 + NUM_PCA
"""The regressor's pose output (Sec. IV): global axis-angle 3 + 15 PCA coefficients = 18."""
MIN_IMAGE_SIZE = 32
"""ResNet-18 downsamples by 32: smaller crops leave its last stage less than one cell."""
SYNTHETIC_D_OFF_MM = 500.0
"""d_off for handkit's synthetic videos: their wrists lie 300-720 mm away, 517 mm on average.
(Hasson et al.'s code uses 400 mm for HO-3D.)"""


class HandPredictor(nn.Module):
    """Eq. 1: gamma^reg = (r, theta, beta) from an image, and MANO's mesh and joints.

    Args:
        d_off_mm: the dataset's depth offset d_off (Fig. 2), mm.
        image_size: the crop size S the predictor is for; images of another size are refused.
            None (the default) takes any S >= 32.
        root_grid: side of the pooled layer3 grid behind z^r (see :mod:`handkit.models.encoder`).
        imagenet_weights: local ResNet-18 state dict to start from; None: random init.
        channels_last: run the encoder in channels-last memory format.
        mano_root: official MANO folder, or None for the embedded hand.
        side: "right" or "left".

    Example:
        >>> from handkit.geometry import intrinsics
        >>> predictor = HandPredictor(d_off_mm=500.0)
        >>> out = predictor(torch.rand(2, 3, 64, 64), intrinsics(64).expand(2, 3, 3))
        >>> tuple(out.joints.shape), tuple(out.verts.shape), tuple(out.pose18.shape)
        ((2, 21, 3), (2, 778, 3), (2, 18))
        >>> out.root[0].tolist()  # zero-initialised heads: depth d_off, on the centre's ray
        [0.0, 0.0, 500.0]
    """

    def __init__(
        self,
        *,
        d_off_mm: float = SYNTHETIC_D_OFF_MM,
        image_size: int | None = None,
        root_grid: int = 2,
        imagenet_weights: str | Path | None = None,
        channels_last: bool = False,
        mano_root: str | Path | None = None,
        side: str = "right",
    ):
        super().__init__()
        if image_size is not None and not (
            isinstance(image_size, int) and image_size >= MIN_IMAGE_SIZE
        ):
            raise ValueError(f"image_size must be None or an integer >= {MIN_IMAGE_SIZE}, "
                             f"got {image_size!r}")
        self.d_off_mm = float(d_off_mm)
        self.image_size = image_size
        self.encoder = ResNetEncoder(
            root_grid=root_grid, imagenet_weights=imagenet_weights, channels_last=channels_last
        )
        self.pose_body = relu_mlp((FEATURE_DIM, 512, 512))
        self.pose_head = zero_linear(512, POSE_DIM)
        self.shape_head = zero_linear(512, NUM_BETAS)
        self.root_body = relu_mlp((FEATURE_DIM, 256))
        self.root_head = zero_linear(256, 3)
        self.mano = ManoDecoder(mano_root=mano_root, side=side)
        #: None (float32) or torch.bfloat16: the encoder's autocast type (not saved with the
        #: weights; training sets it from ``--precision``, evaluation runs in float32).
        self.encoder_dtype: torch.dtype | None = None

    def forward(self, images: torch.Tensor, intrinsics: torch.Tensor | None = None) -> HandOutput:
        """Predict the hand in each image.

        Args:
            images: (B, 3, S, S) float RGB in [0, 1], S >= 32 (64 for the shipped samples;
                S = ``image_size`` if that was given).
            intrinsics: (B, 3, 3) the images' intrinsics (required: r is recovered through them).
        Returns:
            a :class:`HandOutput` with z^r, z^theta, r, pose18, theta48, beta, joints, verts,
            d_f and (t_u, t_v).
        """
        check_images(images, self.image_size)
        check_intrinsics(intrinsics, images.shape[0])
        return self.regress(self.encode(images), intrinsics, image_size=images.shape[-1])

    def encode(self, images: torch.Tensor) -> HandFeatures:
        """z^r, z^theta (B, 512) float32 of (B, 3, S, S) images; the encoder runs under autocast
        in :attr:`encoder_dtype` when that is set (:mod:`handkit.models.precision`)."""
        if self.encoder_dtype is None:
            return self.encoder(images)
        with torch.autocast(images.device.type, dtype=self.encoder_dtype):
            features = self.encoder(images)
        return HandFeatures(z_r=features.z_r.float(), z_theta=features.z_theta.float())

    def regress(self, features: HandFeatures, intrinsics: torch.Tensor, *,
                image_size: int) -> HandOutput:
        """Eq. 1 and MANO from given features: the regressor pi and the root recovery.

        Args:
            features: z^r, z^theta (B, 512) each.
            intrinsics: (B, 3, 3) intrinsics of the S x S images the features came from.
            image_size: S.
        """
        body = self.pose_body(features.z_theta)  # (B, 512)
        pose18 = self.pose_head(body)  # (B, 18)
        beta = self.shape_head(body)  # (B, 10)
        raw = self.root_head(self.root_body(features.z_r))  # (B, 3)
        depth_offset = raw[:, 0]  # d_f, mm per focal pixel
        pixel_offset = raw[:, 1:] * (image_size / 2)  # (t_u, t_v), pixels
        root = root_from_offsets(
            depth_offset, pixel_offset, intrinsics, d_off_mm=self.d_off_mm, image_size=image_size
        )
        theta48 = self.mano.pca_to_theta(pose18)
        verts, joints = self.mano(root, theta48, beta)
        return HandOutput(
            z_r=features.z_r, z_theta=features.z_theta, root=root, theta48=theta48, beta=beta,
            joints=joints, verts=verts, pose18=pose18,
            depth_offset=depth_offset, pixel_offset=pixel_offset,
        )


def check_images(images: object, image_size: int | None = None) -> None:
    """ValueError unless ``images`` is a float (B, 3, S, S) batch, B >= 1, S >= 32 (S =
    ``image_size`` if given), finite, in [0, 1]."""
    text = f"(B, 3, S, S) with S >= {MIN_IMAGE_SIZE}"
    if image_size is not None:
        text = f"(B, 3, {image_size}, {image_size})"
        check_shape("images", images, (None, 3, image_size, image_size), text)
    check_shape("images", images, (None, 3, None, None), text)
    batch, _, height, width = images.shape
    if batch == 0 or height != width or height < MIN_IMAGE_SIZE:
        raise ValueError(f"images must have shape {text}, got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"images must be float RGB in [0, 1], got dtype {images.dtype}")
    low, high = torch.aminmax(images)  # one pass; NaN anywhere makes both NaN
    if not (low >= 0 and high <= 1):
        check_finite("images", images)
        raise ValueError(
            f"images must be RGB in [0, 1], got values in [{low.item():.9g}, {high.item():.9g}]"
        )


def check_intrinsics(intrinsics: object, batch: int) -> None:
    """ValueError unless ``intrinsics`` is a finite (B, 3, 3) tensor with positive focal lengths."""
    if intrinsics is None:
        raise ValueError("intrinsics is missing: expected the images' camera matrices, "
                         f"shape (B, 3, 3) with B={batch}")
    check_shape("intrinsics", intrinsics, (batch, 3, 3), f"(B, 3, 3) with B={batch}")
    check_finite("intrinsics", intrinsics)
    if not bool((intrinsics[:, 0, 0] > 0).all() and (intrinsics[:, 1, 1] > 0).all()):
        raise ValueError("intrinsics must have positive focal lengths [:, 0, 0] and [:, 1, 1]")
