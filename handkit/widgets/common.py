"""What every explorer shares: readable controls, and live figures redrawn in place.

An explorer's figures are plotly ``FigureWidget`` s that each slider move updates in place, so a
3D figure keeps its one WebGL context however long a student plays (a new output per move would
take a new context each time, and Chromium drops the oldest beyond 16 per page, blanking the
lesson's other figures). Updates are trait changes, not ``display`` calls, so headless runs
(papermill, nbclient) cannot hang on captured output either (nbclient issue #312).

Before its cell is run, a saved explorer shows :attr:`Explorer.note` (its plain-text form)
instead of the widget's raw repr.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

#: CSS class of every explorer (the browser test finds explorers by it).
EXPLORER_CLASS = "handkit-explorer"
#: CSS class of an explorer's run button (the browser test presses it after moving a slider).
RUN_BUTTON_CLASS = "handkit-run-button"
#: Room for descriptions like "p_unlabelled" and "K (label spacing)" without cutting them.
DESCRIPTION_WIDTH = "130px"
#: The label of every control and figure axis for the paper's K, the label spacing
#: (``label_every``); K alone could be read as the camera intrinsics (``.intrinsics``).
LABEL_SPACING = "K (label spacing)"
#: Sliders long enough that one pixel is a small step (two fit side by side in a notebook).
SLIDER_WIDTH = "400px"


def float_slider(name: str, value: float, low: float, high: float, *, step: float = 0.1,
                 readout_format: str = ".2f", width: str = SLIDER_WIDTH) -> widgets.FloatSlider:
    """A float slider with a readable description that updates when released; its readout is
    a number field too (click it and type an exact value)."""
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=name,
        readout_format=readout_format, continuous_update=False,
        style={"description_width": DESCRIPTION_WIDTH}, layout=widgets.Layout(width=width),
    )


def log_slider(name: str, value: float, low: float, high: float, *, step: float = 0.1,
               readout_format: str = ".1e", width: str = SLIDER_WIDTH) -> widgets.FloatLogSlider:
    """A slider over decades, for weights like the paper's lambdas (5e-7 .. 0.5).

    Args:
        name: the description shown left of the slider.
        value: initial value, in [low, high].
        low, high: the ends, both > 0.
        step: one step, in decades (0.1: a factor of about 1.26).
    """
    if not 0 < low <= value <= high:
        raise ValueError(f"need 0 < low <= value <= high, got {low!r}, {value!r}, {high!r}")
    return widgets.FloatLogSlider(
        value=value, base=10, min=math.log10(low), max=math.log10(high), step=step,
        description=name, readout_format=readout_format, continuous_update=False,
        style={"description_width": DESCRIPTION_WIDTH}, layout=widgets.Layout(width=width),
    )


def int_slider_with_box(name: str, value: int, low: int, high: int, *, width: str = "520px"
                        ) -> tuple[widgets.IntSlider, widgets.HBox]:
    """An integer slider and a linked number box for exact values (e.g. label spacing 128).

    The default width leaves about 1.6 pixels per step for 1..256 (and the box takes 80 px).

    Returns:
        (the slider, whose ``value`` the explorer watches; a row holding slider and box).
    """
    slider_ = widgets.IntSlider(
        value=value, min=low, max=high, step=1, description=name, continuous_update=False,
        readout=False, style={"description_width": DESCRIPTION_WIDTH},
        layout=widgets.Layout(width=width),
    )
    box = widgets.BoundedIntText(value=value, min=low, max=high,
                                 layout=widgets.Layout(width="80px"))
    widgets.link((slider_, "value"), (box, "value"))
    return slider_, widgets.HBox([slider_, box])


def refresh_figure(live: go.FigureWidget, figure: go.Figure) -> None:
    """Make ``live`` show ``figure``, in place (same traces updated; the view stays the user's).

    Traces of the same types are updated property by property; otherwise they are replaced.
    The layout's ``uirevision`` keeps a camera the user rotated or a zoom they chose.
    """
    new_traces = figure.data
    with live.batch_update():
        if [t.type for t in live.data] == [t.type for t in new_traces]:
            for old, new in zip(live.data, new_traces, strict=True):
                properties = new.to_plotly_json()
                properties.pop("type", None)
                old.update(properties, overwrite=True)
        else:
            live.data = ()
            live.add_traces(new_traces)
        live.layout.update(figure.layout.to_plotly_json(), overwrite=True)
        live.layout.uirevision = "explorer"


class Explorer(widgets.VBox):
    """Controls above live figures: every change recomputes through a handkit function.

    Args:
        controls: name -> value widget; their values are passed to ``compute`` by name.
        rows: what to lay out above the figures (the controls, or rows holding them).
        compute: ``compute(**values)`` -> a result (a dataclass of a handkit module).
        figures_of: result -> the figures to show, always the same number.
        summary_of: result -> one line of text shown above the figures (optional).
        note: one line that a saved, not yet run notebook shows in place of the explorer.
        show: build the live figures (False: compute only, e.g. in tests).
        run_label: for slow computations (e.g. a short training run): a button with this label
            recomputes, moving a control only changes the value; None recomputes on every
            change.
        initial: the first result, if the caller already has it (else ``compute`` runs once).
        status: a widget shown beside the run button (e.g. a progress bar), if there is one.

    Attributes:
        result: what ``compute`` returned last.
        controls: as given.
        figures: the live ``go.FigureWidget`` s (empty when ``show`` is False).
        button: the run button, or None.
    """

    def __init__(self, *, controls: Mapping[str, widgets.ValueWidget], rows: Sequence[Any],
                 compute: Callable[..., Any], figures_of: Callable[[Any], Sequence[go.Figure]],
                 summary_of: Callable[[Any], str] | None = None, note: str, show: bool = True,
                 run_label: str | None = None, initial: Any = None,
                 status: widgets.Widget | None = None):
        self.controls = dict(controls)
        self.note = note
        self._compute, self._figures_of, self._summary_of = compute, figures_of, summary_of
        self.result = compute(**self.values()) if initial is None else initial
        self.summary = widgets.HTML(summary_of(self.result) if summary_of else "")
        self.figures = tuple(go.FigureWidget(f) for f in figures_of(self.result)) if show else ()
        for figure in self.figures:
            figure.layout.uirevision = "explorer"
        self.button = None
        if run_label is not None:
            self.button = widgets.Button(description=run_label, button_style="primary",
                                         layout=widgets.Layout(width="auto"))
            self.button.add_class(RUN_BUTTON_CLASS)
            self.button.on_click(self._redraw)
        action = []
        if self.button is not None:
            action = [widgets.HBox([self.button, status]) if status is not None else self.button]
        super().__init__([*rows, *action, self.summary, *self.figures])
        self.add_class(EXPLORER_CLASS)
        if self.button is None:
            for control in self.controls.values():
                control.observe(self._redraw, names="value")

    def values(self) -> dict[str, Any]:
        """The controls' current values by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _redraw(self, _change=None) -> None:
        if self.button is not None:  # a slow computation: no second click while it runs
            self.button.disabled = True
        try:
            self.result = self._compute(**self.values())
        finally:
            if self.button is not None:
                self.button.disabled = False
        if self._summary_of:
            self.summary.value = self._summary_of(self.result)
        if self.figures:
            for live, figure in zip(self.figures, self._figures_of(self.result), strict=True):
                refresh_figure(live, figure)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.note
        return bundle


def slider(explorer: Explorer, description: str) -> widgets.Widget:
    """The explorer's control named ``description`` (e.g. "beta0", "label_every"), to drive it from
    code."""
    try:
        return explorer.controls[description]
    except KeyError:
        raise KeyError(f"no slider named {description!r}; the explorer has "
                       f"{sorted(explorer.controls)}") from None
