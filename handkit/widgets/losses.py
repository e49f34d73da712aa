"""An explorer for the loss weights lambda_J, lambda_theta, lambda_beta, lambda_align (Eqs. 6, 8,
9): how the total and each weighted term change, as a bar chart.

The callback is :func:`loss_breakdown`, which calls :func:`handkit.losses.pair_objective` (Eq. 10
on a batch of pairs) with the chosen weights on fixed network outputs, so the bars are exactly
what training would minimise. ``explorer.result`` holds the last :class:`LossBreakdown`.
Introduced in ``notebooks/05_losses.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from handkit.losses import PAPER_CONFIG, LossConfig, TotalLoss, pair_objective
from handkit.models import HandTargets, PairOutputs
from handkit.viz.losses import format_value, loss_terms_figure
from handkit.widgets.common import Explorer, log_slider, slider

#: Slider width: two columns of these fit a notebook, with about 3 px per step.
SLIDER_WIDTH = "480px"

__all__ = ["TERM_NAMES", "TERM_WEIGHTS", "LossBreakdown", "loss_breakdown", "loss_weight_explorer",
           "percent", "slider"]

#: Display names of the terms, in the order of :meth:`handkit.losses.TotalLoss.weighted`.
TERM_NAMES = {
    "pred_joints": "L_J",
    "pred_theta": "L_θ",
    "pred_beta": "L_β",
    "align_forward": "L_u→s",
    "align_backward": "L_u←s",
    "align_theta": "L_θ (align)",
}
#: What multiplies each term in L_total (Eqs. 6, 8, 9).
TERM_WEIGHTS = {
    "pred_joints": "λ_J",
    "pred_theta": "λ_θ",
    "pred_beta": "λ_β",
    "align_forward": "λ_align λ_J",
    "align_backward": "λ_align λ_J",
    "align_theta": "λ_align λ_θ",
}
#: The controls: name -> (description, the LossConfig field, slider ends).
CONTROLS = {
    "lambda_j": ("λ_J", "lambda_j", (1e-3, 1e2)),
    "lambda_theta": ("λ_θ", "lambda_theta", (1e-9, 1e-1)),
    "lambda_beta": ("λ_β", "lambda_beta", (1e-9, 1e-1)),
    "lambda_align": ("λ_align", "lambda_align", (1e-3, 1e1)),
}


@dataclass(frozen=True)
class LossBreakdown:
    """Eq. 9 on a batch of pairs for one choice of weights.

    Attributes:
        config: the weights (and length unit) used.
        unweighted: {term: value} before weighting (Eqs. 5 and 7), keys of :data:`TERM_NAMES`.
        weighted: {term: its share of L_total} (the term times its weights, see
            :data:`TERM_WEIGHTS`); they add up to ``total``.
        total: L_total (Eq. 9), the mean over the pairs (Eq. 10).
        figure: bars of both, with L_total.
    """

    config: LossConfig
    unweighted: dict[str, float]
    weighted: dict[str, float]
    total: float
    figure: go.Figure

    def shares(self) -> dict[str, float]:
        """Each weighted term as a fraction of L_total (0 when the total is 0)."""
        return {k: (v / self.total if self.total else 0.0) for k, v in self.weighted.items()}

    def summary(self) -> str:
        """One line: L_total and each term's share of it, in %."""
        shares = self.shares()
        parts = ", ".join(f"{TERM_NAMES[k]} {percent(v)}" for k, v in shares.items())
        return f"L_total = {format_value(self.total)}: {parts}"


def percent(fraction: float) -> str:
    """A share as text: one decimal from 0.1 %, two significant digits below (shares of the
    regularisers are often 10^-5 %).

    >>> percent(0.8366), percent(6.2e-5), percent(0.0)
    ('83.7 %', '0.0062 %', '0 %')
    """
    value = 100 * fraction
    if value == 0:
        return "0 %"
    if abs(value) >= 0.1:
        return f"{value:.1f} %"
    return f"{value:.2g} %" if abs(value) >= 1e-4 else f"{value:.1e} %"


def unweighted_terms(loss: TotalLoss) -> dict[str, float]:
    """The terms of Eqs. 5 and 7 in ``loss``, before any weight, keyed as :data:`TERM_NAMES`."""
    return {
        "pred_joints": float(loss.pred.joints), "pred_theta": float(loss.pred.theta),
        "pred_beta": float(loss.pred.beta), "align_forward": float(loss.align.forward),
        "align_backward": float(loss.align.backward), "align_theta": float(loss.align.theta),
    }


def loss_breakdown(pair: PairOutputs, target_s: HandTargets, *,
                   config: LossConfig = PAPER_CONFIG, title: str | None = None,
                   y_range: tuple[float, float] | None = None) -> LossBreakdown:
    """L_total (Eq. 9, batch mean = Eq. 10) of fixed outputs under ``config``, term by term.

    Args:
        pair: :func:`handkit.models.forward_pair`'s outputs for B pairs (u, s = N(u)).
        target_s: the labels of the frames s.
        config: weights and length unit.
        title: the figure's title (default: the weights).
        y_range: the bars' log10 range (default: fit the values).
    """
    with torch.no_grad():
        loss = pair_objective(pair, target_s, config=config)
    unweighted = unweighted_terms(loss)
    weighted = loss.weighted()
    total = float(loss.total)
    names = {TERM_NAMES[k]: v for k, v in unweighted.items()}
    weighted_names = {TERM_NAMES[k]: v for k, v in weighted.items()}
    weighted_names["L_total"] = total
    title = title or (f"λ_J = {config.lambda_j:.2g}, λ_θ = {config.lambda_theta:.2g}, "
                      f"λ_β = {config.lambda_beta:.2g}, λ_align = {config.lambda_align:.2g}")
    figure = loss_terms_figure({"unweighted (Eqs. 5, 7)": names,
                                "weighted: its share of L_total (Eq. 9)": weighted_names},
                               title=title, y_title="loss (log scale)", y_range=y_range)
    return LossBreakdown(config=config, unweighted=unweighted, weighted=weighted, total=total,
                         figure=figure)


def _fixed_range(pair: PairOutputs, target_s: HandTargets, config: LossConfig
                 ) -> tuple[float, float]:
    """log10 range of the bars for every weight the sliders allow (so the axis never moves)."""
    ends = {field: bounds for _, field, bounds in CONTROLS.values()}
    with torch.no_grad():
        unweighted = unweighted_terms(pair_objective(pair, target_s, config=config))
    low_weights = replace(config, **{field: low for field, (low, _) in ends.items()})
    high_weights = replace(config, **{field: high for field, (_, high) in ends.items()})
    smallest = [v * w for v, w in zip(unweighted.values(), _weights(low_weights), strict=True)]
    largest = [v * w for v, w in zip(unweighted.values(), _weights(high_weights), strict=True)]
    values = [v for v in [*unweighted.values(), *smallest, *largest] if v > 0]
    if not values:
        return (-1.0, 1.0)
    # the total is at most the sum of the largest weighted terms
    top = max(max(values), sum(largest))
    return (math.floor(math.log10(min(values))) - 0.3, math.ceil(math.log10(top)) + 0.5)


def _weights(config: LossConfig) -> list[float]:
    """The factor of each term of :data:`TERM_NAMES` in L_total, in that order."""
    c = config
    return [c.lambda_j, c.lambda_theta, c.lambda_beta, c.lambda_align * c.lambda_j,
            c.lambda_align * c.lambda_j, c.lambda_align * c.lambda_theta]


def loss_weight_explorer(pair: PairOutputs, target_s: HandTargets, *,
                         config: LossConfig = PAPER_CONFIG, show: bool = True) -> Explorer:
    """Sliders (over decades) for lambda_J, lambda_theta, lambda_beta and lambda_align that
    redraw :func:`loss_breakdown`'s bars; the summary line gives each term's share of L_total.

    Args:
        pair, target_s: as :func:`loss_breakdown` (fixed while exploring).
        config: the initial weights (default the paper's), and the length unit.
        show: build the live figure.
    Returns:
        an :class:`~handkit.widgets.common.Explorer` with controls ``lambda_j``,
        ``lambda_theta``, ``lambda_beta``, ``lambda_align``; ``explorer.result`` is the last
        :class:`LossBreakdown`.
    """
    controls = {}
    for name, (description, field, (low, high)) in CONTROLS.items():
        value = getattr(config, field)
        if not low <= value <= high:
            raise ValueError(f"config.{field} = {value!r} is outside the slider's range "
                             f"[{low:g}, {high:g}]")
        controls[name] = log_slider(description, value, low, high, width=SLIDER_WIDTH)
    y_range = _fixed_range(pair, target_s, config)

    def compute(**values: float) -> LossBreakdown:
        weights = {CONTROLS[name][1]: value for name, value in values.items()}
        return loss_breakdown(pair, target_s, config=replace(config, **weights), y_range=y_range)

    columns = widgets.HBox([
        widgets.VBox([widgets.HTML("<b>weights in L_pred and L_align (Eqs. 6, 8)</b>"),
                      controls["lambda_j"], controls["lambda_theta"], controls["lambda_beta"]]),
        widgets.VBox([widgets.HTML("<b>weight of L_align in L_total (Eq. 9)</b>"),
                      controls["lambda_align"]]),
    ])
    return Explorer(
        controls=controls, rows=[columns], compute=compute,
        figures_of=lambda state: [state.figure], summary_of=lambda state: state.summary(),
        show=show,
        note="Loss-weight explorer: run this cell for sliders λ_J, λ_θ, λ_β, λ_align and a "
             "live bar chart of the terms.",
    )
