"""The map of who wins: per motion level and label spacing K, the method with the lowest MPJPE in
each distance bin (:func:`handkit.experiments.motion_sweep.winners`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from handkit.viz.results import METHOD_COLOURS

#: Bins shown, in order (the overall error last).
BINS = ("1-15", "16-31", "32-64", "all")


def _colour(method: str) -> str:
    """A mode title's colour (:data:`handkit.inference.MODE_TITLES` -> the Table I colours)."""
    short = method.split(" (")[0].split(" propagation")[0]  # "Bidirectional propagation" ...
    return METHOD_COLOURS.get("Baseline" if short == "Regression" else short, "#888888")


def _clear(row: Mapping[str, Any]) -> bool:
    """``clear`` as written by the sweep, or as read back from ``winners.csv`` (text)."""
    return row["clear"] in (True, "True")


def winner_map_figure(winners: Sequence[Mapping[str, Any]], *, seed: int | None = None
                      ) -> go.Figure:
    """One panel per distance bin: a cell per (K, motion level) coloured by the winning method
    and labelled with it and its margin over the runner-up (mm; "~" where the winner's 95 %
    interval reaches the runner-up's mean).

    Args:
        winners: rows with motion, label_every, seed, distance, winner, runner_up, margin_mm,
            clear (as :func:`~handkit.experiments.motion_sweep.winners` returns them, or read
            back from ``winners.csv``).
        seed: the seed shown (default: the first in ``winners``).
    Returns:
        A figure with one scatter trace per winning method (square markers), legend = methods.
    """
    rows = [row for row in winners if seed is None or int(row["seed"]) == seed]
    if rows and seed is None:
        rows = [row for row in rows if row["seed"] == rows[0]["seed"]]
    bins = [b for b in BINS if any(row["distance"] == b for row in rows)]
    motions = list(dict.fromkeys(row["motion"] for row in rows))
    ks = sorted({int(row["label_every"]) for row in rows})
    fig = make_subplots(rows=1, cols=max(len(bins), 1), shared_yaxes=True,
                        subplot_titles=[f"{b} frames from a label" if b != "all" else "all frames"
                                        for b in bins] or [""])
    shown: set[str] = set()
    for column, distance in enumerate(bins, start=1):
        for method in dict.fromkeys(row["winner"] for row in rows):
            cells = [row for row in rows if row["distance"] == distance and row["winner"] == method]
            if not cells:
                continue
            fig.add_trace(go.Scatter(
                x=[str(row["label_every"]) for row in cells], y=[row["motion"] for row in cells],
                mode="markers+text", name=method, legendgroup=method,
                showlegend=method not in shown,
                marker=dict(symbol="square", size=46, color=_colour(method), opacity=0.85),
                text=[f"{'' if _clear(row) else '~'}{float(row['margin_mm']):.1f}"
                      for row in cells],
                textfont=dict(color="white", size=12),
                customdata=[[row["runner_up"]] for row in cells],
                hovertemplate=(f"K=%{{x}}, %{{y}}<br>{method}<br>%{{text}} mm better than "
                               "%{customdata[0]}<extra></extra>")), row=1, col=column)
            shown.add(method)
        fig.update_xaxes(type="category", categoryorder="array",
                         categoryarray=[str(k) for k in ks], title_text="K", row=1, col=column)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=motions[::-1])
    fig.update_layout(template="plotly_white", height=380 + 30 * len(motions),
                      title="Lowest MPJPE per label spacing K and motion (number: margin over "
                            "the runner-up, mm; ~: within the winner's interval)",
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=90))
    return fig
