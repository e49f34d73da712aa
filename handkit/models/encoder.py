"""The encoder psi of the Hand Predictor (Sec. II-B a, Fig. 2, Sec. IV): images -> z^r, z^theta.

psi is torchvision's ResNet-18 [28] without its classifier. The paper asks for a low-level z^r
(better for the root) and a high-level z^theta (better for MANO's parameters), both 512-d, and
names no layers. handkit's reading:

* z^theta: the last stage (``layer4``, 512 channels) averaged over the image, the feature
  Hasson et al.'s hand branch regresses MANO from.
* z^r: the stage before (``layer3``, 256 channels, stride 16), averaged onto a ``root_grid`` x
  ``root_grid`` grid (2 x 2 by default), flattened and projected to 512 by a linear layer and a
  ReLU. Keeping a small grid keeps *where* the hand is in the image, which a global average
  throws away and which (t_u, t_v) needs; a trial implementation on handkit's synthetic videos
  found layer3 pooled to 2 x 2 better than 1 x 1 or 4 x 4 (REFERENCE_RUNS).

Images are RGB floats in [0, 1]; the encoder normalises them with ImageNet's per-channel mean
(0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), as torchvision's ResNet weights expect.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

from handkit.models.records import FEATURE_DIM, HandFeatures

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LAYER3_CHANNELS = 256
LAYER4_CHANNELS = 512


class ResNetEncoder(nn.Module):
    """psi: (B, 3, S, S) RGB in [0, 1] -> z^r (B, 512), z^theta (B, 512).

    Args:
        root_grid: z^r's pooled grid side (layer3 averaged to root_grid x root_grid).
        imagenet_weights: path of a local torchvision ResNet-18 state dict (e.g. the file
            ``resnet18-f37072fd.pth``); None (the default) keeps torchvision's random
            initialisation. Nothing is ever downloaded.
        channels_last: run the convolutions in channels-last memory format (faster on CPU
            for larger images; see ``python -m handkit bench model``). Same results.
    """

    def __init__(
        self,
        *,
        root_grid: int = 2,
        imagenet_weights: str | Path | None = None,
        channels_last: bool = False,
    ):
        super().__init__()
        if not isinstance(root_grid, int) or root_grid < 1:
            raise ValueError(f"root_grid must be a positive integer, got {root_grid!r}")
        resnet = torchvision.models.resnet18(weights=None)
        if imagenet_weights is not None:
            _load_resnet_weights(resnet, Path(imagenet_weights))
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.layer3, self.layer4 = resnet.layer3, resnet.layer4
        self.root_pool = nn.AdaptiveAvgPool2d(root_grid)
        self.root_projection = nn.Sequential(
            nn.Linear(LAYER3_CHANNELS * root_grid**2, FEATURE_DIM), nn.ReLU(inplace=True)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, images: torch.Tensor) -> HandFeatures:
        """Args: images (B, 3, S, S) RGB in [0, 1]. Returns: z^r and z^theta, (B, 512) each."""
        x = ((images - self.mean) / self.std).contiguous(memory_format=self.memory_format)
        x = self.layer2(self.layer1(self.stem(x)))  # (B, 128, S/8, S/8)
        low = self.layer3(x)  # (B, 256, S/16, S/16)
        high = self.layer4(low)  # (B, 512, S/32, S/32)
        z_r = self.root_projection(self.root_pool(low).flatten(1))  # (B, 256 g^2) -> (B, 512)
        z_theta = high.mean((2, 3))  # (B, 512)
        return HandFeatures(z_r=z_r, z_theta=z_theta)


def _load_resnet_weights(resnet: nn.Module, path: Path) -> None:
    """Load a local torchvision ResNet-18 state dict into ``resnet`` (tensors only, no code)."""
    if not path.is_file():
        raise ValueError(f"imagenet_weights: expected a ResNet-18 state dict file, found no {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        resnet.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is not a torchvision ResNet-18 state dict: {error}") from error
