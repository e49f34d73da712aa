"""Bar charts of the loss terms of Eqs. 5-10: each term's size before and after its weight.

The terms span many decades (L_J in m^2 is about 1e-3, L_beta times lambda_beta about 1e-7), so
the value axis is logarithmic by default and every bar carries its value as text. A term of 0
has no bar on a log axis; its text still says 0. Introduced in ``notebooks/05_losses.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from handkit.viz.curves import significant

#: Bar colours, one per group, in the order groups are given.
GROUP_COLOURS = ("#9ecae1", "#3182bd", "#e6550d", "#31a354")


def format_value(value: float) -> str:
    """A loss value as short text: 3 significant digits, scientific below 0.01.

    >>> format_value(0.000123456), format_value(12.345), format_value(0.0)
    ('1.23e-04', '12.3', '0')
    """
    if value == 0:
        return "0"
    if abs(value) < 1e-2 or abs(value) >= 1e4:
        return f"{value:.2e}"
    return f"{value:.3g}"


def loss_terms_figure(groups: Mapping[str, Mapping[str, float]], *, log_y: bool = True,
                      y_range: tuple[float, float] | None = None, title: str | None = None,
                      y_title: str = "value", height: int = 420, width: int = 820) -> go.Figure:
    """Grouped bars: for each term, one bar per group (e.g. "unweighted" and "weighted").

    Args:
        groups: {group name: {term name: value}}; the terms of the first group set the order,
            and a term missing from a group has no bar there. Values must be finite and >= 0.
        log_y: logarithmic value axis.
        y_range: (low, high) of the value axis, in decades (log10) when ``log_y``; default: fit
            the values (an explorer passes a fixed range, so bars can be compared across moves).
        title: the figure's title; y_title: the value axis's title.
        height, width: pixels.
    """
    if not groups:
        raise ValueError("give at least one group of terms")
    order = list(next(iter(groups.values())))
    for group in groups.values():
        order += [term for term in group if term not in order]
    fig = go.Figure()
    for k, (name, terms) in enumerate(groups.items()):
        values = np.array([float(terms.get(term, np.nan)) for term in order])  # (T,)
        shown = ~np.isnan(values)
        if np.any(values[shown] < 0) or not np.all(np.isfinite(values[shown])):
            raise ValueError(f"group {name!r}: loss terms must be finite and >= 0, got "
                             f"{dict(zip(order, values.tolist(), strict=True))}")
        x = [term for term, keep in zip(order, shown, strict=True) if keep]
        y = significant(values[shown], 4)
        fig.add_trace(go.Bar(x=x, y=y, name=name, text=[format_value(v) for v in y],
                             textposition="outside", cliponaxis=False,
                             marker=dict(color=GROUP_COLOURS[k % len(GROUP_COLOURS)])))
    positive = [float(v) for terms in groups.values() for v in terms.values() if v > 0]
    fig.update_layout(title=title, template="plotly_white", barmode="group", height=height,
                      width=width, yaxis_title=y_title, uniformtext=dict(minsize=9),
                      legend=dict(orientation="h", x=0.0, y=1.0, yanchor="bottom"),
                      margin=dict(l=70, r=20, t=90 if title else 50, b=60))
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    elif log_y and positive:
        low = np.floor(np.log10(min(positive))) - 0.5
        high = np.ceil(np.log10(max(positive))) + 0.8  # room for the text above the bars
        fig.update_yaxes(range=[low, high])
    return fig
