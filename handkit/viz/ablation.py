"""The ablation table as a figure (:mod:`handkit.experiments.ablation`): each variant's MPJPE by
distance to the nearest label, with the label-only references and 95 % intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from handkit.viz.results import OTHER_COLOURS

#: Bins drawn, in order.
BINS = ("1-15", "16-31", "32-64", "all")
#: The label-only references, drawn as lines across each bin.
REFERENCES = {"copy": ("Copy nearest label", "#bcbd22"), "interpolation": ("Interpolation",
                                                                           "#2ca02c")}


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def ablation_figure(rows: Sequence[Mapping[str, Any]], *, mode: str = "propagation",
                    seed: int | None = None) -> go.Figure:
    """Bars: ``mode``'s MPJPE per variant and distance bin (error bars: 95 % intervals over
    test videos); markers: copy and interpolation in the same bins.

    Args:
        rows: :func:`handkit.experiments.ablation.run_ablation`'s rows (or read back from
            ``ablation.csv``: numbers as text are accepted).
        mode: the aligner mode drawn ("propagation", "bidirectional" or "fused").
        seed: the seed drawn (default: the first).
    """
    seeds = list(dict.fromkeys(int(r["seed"]) for r in rows))
    seed = seeds[0] if seed is None else seed
    mine = [r for r in rows if int(r["seed"]) == seed]
    bins = [b for b in BINS if any(r["distance"] == b for r in mine)]
    fig = go.Figure()
    variants = list(dict.fromkeys(r["variant"] for r in mine if r["mode"] == mode))
    for k, variant in enumerate(variants):
        cells = {r["distance"]: r for r in mine if r["variant"] == variant and r["mode"] == mode}
        y = [_number(cells[b]["mpjpe"]) if b in cells else None for b in bins]
        low = [_number(cells[b]["ci_low"]) if b in cells else None for b in bins]
        high = [_number(cells[b]["ci_high"]) if b in cells else None for b in bins]
        fig.add_trace(go.Bar(
            x=bins, y=y, name=variant, marker_color=OTHER_COLOURS[k % len(OTHER_COLOURS)],
            error_y=dict(type="data", symmetric=False,
                         array=[None if h is None or v is None else h - v
                                for v, h in zip(y, high, strict=True)],
                         arrayminus=[None if lo is None or v is None else v - lo
                                     for v, lo in zip(y, low, strict=True)])))
    for reference, (name, colour) in REFERENCES.items():
        cells = {r["distance"]: r for r in mine if r["mode"] == reference}
        fig.add_trace(go.Scatter(
            x=bins, y=[_number(cells[b]["mpjpe"]) if b in cells else None for b in bins],
            mode="markers", name=name, marker=dict(symbol="line-ew-open", size=40, color=colour,
                                                   line=dict(width=3, color=colour))))
    fig.update_layout(barmode="group", template="plotly_white", height=420,
                      title=f"{mode.capitalize()} by variant, seed {seed} (bars: 95 % interval "
                            "over test videos)",
                      xaxis_title="frames from the nearest label", yaxis_title="MPJPE (mm)",
                      legend=dict(orientation="h", y=-0.25))
    return fig
