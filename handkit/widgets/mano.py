"""An ipywidgets explorer for MANO: sliders for shape (beta) and PCA pose, redrawing the hand.

The callback is :func:`pose_and_draw`, a plain handkit function; the widget only wires sliders
to it and updates its one 3D figure in place (see :mod:`handkit.widgets.common`).
``explorer.result`` holds the last :class:`HandState`, so a notebook (or a test) can drive the
sliders headlessly and check what changed. Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from handkit.mano.layer import ManoLayer
from handkit.viz.mesh import hand_figure
from handkit.widgets.common import Explorer, float_slider, slider

__all__ = ["HandState", "mano_explorer", "pose_and_draw", "slider"]


@dataclass(frozen=True)
class HandState:
    """What the explorer last drew: inputs and the MANO output (mm)."""

    betas: torch.Tensor  # (1, 10)
    pose_coeffs: torch.Tensor  # (1, 3 + ncomps)
    verts: torch.Tensor  # (1, 778, 3)
    joints: torch.Tensor  # (1, 21, 3)
    figure: go.Figure


def _rest_joints(layer: ManoLayer) -> torch.Tensor:
    """(21, 3) joints of the mean hand at rest: they fix the explorer's view direction."""
    dtype = layer.v_template.dtype
    with torch.no_grad():
        return layer(torch.zeros(1, 3 + layer.ncomps, dtype=dtype))[1][0]


def pose_and_draw(layer: ManoLayer, betas: list[float], pca: list[float], *,
                  view_joints: torch.Tensor | None = None) -> HandState:
    """Run MANO for one hand (no global rotation) and draw it.

    Args:
        layer: a PCA ``ManoLayer``.
        betas: up to 10 shape values (missing ones are 0).
        pca: up to ``layer.ncomps`` PCA pose coefficients (missing ones are 0).
        view_joints: (21, 3) joints that fix the "pose" view; default the rest hand's.
    Returns:
        a ``HandState`` whose ``figure`` shows the mesh and skeleton.
    """
    if not layer.use_pca:
        raise ValueError("the explorer needs a layer with use_pca=True")
    if len(betas) > layer.num_betas or len(pca) > layer.ncomps:
        raise ValueError(f"expected at most {layer.num_betas} betas and {layer.ncomps} PCA values, "
                         f"got {len(betas)} and {len(pca)}")
    dtype = layer.v_template.dtype
    beta_t = torch.zeros(1, layer.num_betas, dtype=dtype)
    beta_t[0, : len(betas)] = torch.tensor(betas, dtype=dtype)
    pose = torch.zeros(1, 3 + layer.ncomps, dtype=dtype)
    pose[0, 3: 3 + len(pca)] = torch.tensor(pca, dtype=dtype)
    with torch.no_grad():
        verts, joints = layer(pose, beta_t)
    view_joints = _rest_joints(layer) if view_joints is None else view_joints
    figure = hand_figure(verts[0], layer.faces, joints[0], title="MANO explorer", view="pose",
                         view_joints=view_joints, height=460)
    return HandState(beta_t, pose, verts, joints, figure)


def mano_explorer(layer: ManoLayer, *, num_betas: int = 4, num_pca: int = 4,
                  limit: float = 3.0, show: bool = True) -> Explorer:
    """Sliders ``beta0..`` and ``pca0..`` that redraw the hand through :func:`pose_and_draw`.

    Returns:
        an :class:`~handkit.widgets.common.Explorer`; ``explorer.result`` is the last
        ``HandState``.
    """
    if not 0 <= num_betas <= layer.num_betas or not 0 <= num_pca <= layer.ncomps:
        raise ValueError(f"num_betas must be in 0..{layer.num_betas} and num_pca in "
                         f"0..{layer.ncomps}, got {num_betas}, {num_pca}")
    betas = {f"beta{k}": float_slider(f"beta{k}", 0.0, -limit, limit) for k in range(num_betas)}
    pca = {f"pca{k}": float_slider(f"pca{k}", 0.0, -limit, limit) for k in range(num_pca)}
    view_joints = _rest_joints(layer)

    def compute(**values):
        return pose_and_draw(layer, [values[name] for name in betas],
                             [values[name] for name in pca], view_joints=view_joints)

    columns = widgets.HBox([
        widgets.VBox([widgets.HTML("<b>shape β</b>"), *betas.values()]),
        widgets.VBox([widgets.HTML("<b>pose: PCA coefficients</b>"), *pca.values()]),
    ])
    return Explorer(
        controls={**betas, **pca}, rows=[columns], compute=compute,
        figures_of=lambda state: [state.figure], show=show,
        note="MANO explorer: run this cell to get sliders for the shape β and the PCA pose "
             "and a live 3D hand.",
    )
