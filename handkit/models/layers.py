"""Small fully connected building blocks of the regressor (Eq. 1) and the aligner (Eqs. 3-4)."""

from __future__ import annotations

import torch
from torch import nn


def zero_linear(in_features: int, out_features: int) -> nn.Linear:
    """A linear layer whose weight and bias start at zero, so its output starts at 0.

    Used as every output layer: the root head then starts at (d_f, t_u, t_v) = 0 (depth d_off
    at the image centre), the pose and shape heads at the flat mean hand, and each aligner
    branch at phi = 0, i.e. "copy the label" (Eqs. 3-4). Gradients still reach the layer's
    weights (they are the upstream activations times the loss gradient), so it learns.
    """
    layer = nn.Linear(in_features, out_features)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def relu_mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear + ReLU for each consecutive pair of ``sizes`` (e.g. (512, 512, 512): two layers)."""
    layers: list[nn.Module] = []
    for in_features, out_features in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(in_features, out_features), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ResidualMLP(nn.Module):
    """Fully connected layers with residual connections (Fig. 3), the body of phi^r and phi^theta.

    x -> h = ReLU(W_in x) -> h = h + ReLU(W_k h) for each of ``num_blocks`` -> W_out h
    [-> final activation]. The output layer starts at zero (:func:`zero_linear`).

    Args:
        in_features: size of the input [gamma_b part; z_a - z_b].
        hidden: hidden units (Sec. IV: 128 for phi^r, 512 for phi^theta).
        out_features: size of the displacement (3 or 48).
        num_blocks: residual blocks between the input and output layers (the paper's Fig. 3 is
            not in the text; handkit reads it as 2).
        final_activation: e.g. ``nn.Tanh()`` for phi^theta (Sec. IV), or None.

    Shapes: (B, in_features) -> (B, out_features).
    """

    def __init__(
        self,
        in_features: int,
        hidden: int,
        out_features: int,
        *,
        num_blocks: int = 2,
        final_activation: nn.Module | None = None,
    ):
        super().__init__()
        self.input = nn.Linear(in_features, hidden)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(num_blocks))
        self.output = zero_linear(hidden, out_features)
        self.final_activation = final_activation if final_activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.input(x))  # (B, hidden)
        for block in self.blocks:
            h = h + torch.relu(block(h))
        return self.final_activation(self.output(h))
