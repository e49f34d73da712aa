"""What every explorer shares: finding a slider, and filling an output area safely."""

from __future__ import annotations

from collections.abc import Iterable

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio


def slider(explorer: widgets.interactive, description: str) -> widgets.Widget:
    """The explorer's control with this description (e.g. "beta0", "K"), to drive it from code."""
    for child in explorer.children:
        if getattr(child, "description", None) == description:
            return child
    raise KeyError(f"no slider named {description!r}")


def show_in(view: widgets.Output, items: Iterable[str | go.Figure]) -> None:
    """Replace what ``view`` shows by ``items`` (markdown strings and plotly figures).

    Sets the output widget's ``outputs`` from the kernel instead of calling ``display`` while
    an explorer's output area captures: headless runners (nbclient, so papermill) answer every
    captured output with a message to the kernel, which can leave their execution waiting
    forever (nbclient issue #312). Hence also no ``Output.append_display_data``, whose formatter
    makes a plotly figure display itself.
    """
    bundles = []
    for item in items:
        if isinstance(item, go.Figure):
            # plain figure JSON whatever renderer is the default (as handkit.notebook.setup sets)
            bundles.append(pio.renderers["plotly_mimetype"].to_mimebundle(item.to_dict()))
        elif isinstance(item, str):
            bundles.append({"text/markdown": item, "text/plain": item})
        else:
            raise ValueError(f"show_in takes str or go.Figure items, got {type(item).__name__}")
    view.outputs = tuple(
        {"output_type": "display_data", "data": data, "metadata": {}} for data in bundles
    )
