"""An explorer that re-trains: K and lambda_align, a Train button, a progress bar, the result.

Training takes seconds, not milliseconds, so moving a slider only sets a value; pressing **Train**
runs :func:`handkit.train.train` with the chosen K (labels every K frames, in training and in
evaluation) and lambda_align (Eq. 9) into one run folder, then evaluates it with
:func:`handkit.experiments.table1.evaluate_run` on the unlabelled frames of a split. The figures
show Table I in miniature (MPJPE per method, and by distance to the nearest label) and the run's
loss curves; the line above them lists every run of the session, so runs can be compared.
``explorer.result`` holds the last :class:`TrainingRun`. Introduced in
``notebooks/06_three_stage_training.ipynb``.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import plotly.graph_objects as go

from handkit.experiments.table1 import bin_mpjpe, evaluate_run
from handkit.train import (
    ORDER,
    STAGE_CURVE_TERMS,
    STAGE_TITLES,
    TrainConfig,
    TrainingDiverged,
    open_reader,
    read_curves,
    run_config,
    train,
)
from handkit.viz.curves import stage_curves_figure
from handkit.viz.results import table1_figure
from handkit.widgets.common import (
    LABEL_SPACING,
    Explorer,
    int_slider_with_box,
    log_slider,
    slider,
)

__all__ = ["METHODS", "TrainingRun", "evaluate_training_run", "slider", "training_explorer"]

#: Width of the figures (px): what a notebook's output area holds.
FIGURE_WIDTH = 940
#: Table I rows shown (names of :data:`handkit.experiments.table1.ROWS`): the two predictors,
#: propagation, and the two baselines without a network.
METHODS = ("Baseline", "Baseline + Align", "Propagation", "Copy nearest label", "Interpolation")


@dataclass(frozen=True)
class TrainingRun:
    """A finished run folder and how it does on a split's unlabelled frames.

    Attributes:
        config: the run's config.
        folder: the run folder.
        split: the evaluated split.
        mpjpe: method -> MPJPE (mm) on the split's unlabelled frames (:data:`METHODS`).
        by_distance: method -> {"1-15": MPJPE (mm), ...} by distance |u - N(u)|.
        frames: unlabelled frames evaluated.
        final_loss: stage -> the stage's objective at its last logged step.
        result_figure: MPJPE per method and by distance (Table I in miniature).
        curves_figure: the run's loss curves, stage by stage.
    """

    config: TrainConfig
    folder: Path
    split: str
    mpjpe: dict[str, float]
    by_distance: dict[str, dict[str, float | None]]
    frames: int
    final_loss: dict[str, float]
    result_figure: go.Figure
    curves_figure: go.Figure

    @property
    def label_every(self) -> int:
        """K of the run (training and evaluation)."""
        return int(self.config.label_every)

    @property
    def lambda_align(self) -> float:
        """lambda_align of the run (Eq. 9)."""
        return float(self.config.loss.lambda_align)

    def summary(self) -> str:
        """One line: K, lambda_align and each method's MPJPE."""
        errors = ", ".join(f"{name} {value:.1f}" for name, value in self.mpjpe.items())
        return (f"K = {self.label_every}, λ_align = {self.lambda_align:.3g}: MPJPE (mm) on "
                f"{self.frames} {self.split} unlabelled frames: {errors}")


def _with_label_every(config: TrainConfig) -> TrainConfig:
    """``config`` with K written out (None means the data set's own)."""
    if config.label_every is not None:
        return config
    return config.with_overrides({"label_every": open_reader(config).label_every})


def evaluate_training_run(folder: str | Path, *, split: str = "val",
                          methods: Sequence[str] = METHODS) -> TrainingRun:
    """Evaluate a finished run folder on ``split`` (the run's own K) and draw its figures.

    Args:
        folder: a run folder written by :func:`handkit.train.train` with stage 1 and stage 3.
        split: the split whose unlabelled frames are evaluated (the run trained on another).
        methods: rows of :data:`handkit.experiments.table1.ROWS` to keep.
    """
    folder = Path(folder)
    config = _with_label_every(run_config(folder))
    rows, distance_rows = evaluate_run(folder, splits=(split,), vertices=False, progress=False)
    missing = [m for m in methods if m not in {r["method"] for r in rows}]
    if missing:
        raise ValueError(f"{folder} gives no {missing} (Baseline needs stage 1)")
    rows = [r for r in rows if r["method"] in methods]
    distance_rows = [r for r in distance_rows if r["method"] in methods]
    by_distance = {m: {r["distance"]: bin_mpjpe(r) for r in distance_rows if r["method"] == m}
                   for m in methods}  # None: a bin without frames
    curves = read_curves(folder)
    title = f"label spacing K = {config.label_every}, λ_align = {config.loss.lambda_align:.3g}"
    result_figure = table1_figure(rows, distance_rows, split=split,
                                  title=f"{title}: error on the {split} videos' unlabelled frames")
    result_figure.update_layout(width=FIGURE_WIDTH)  # a widget's figure is not full width
    curves_figure = stage_curves_figure(curves, STAGE_CURVE_TERMS, titles=STAGE_TITLES,
                                        title=f"{title}: loss curves")
    return TrainingRun(
        config=config, folder=folder, split=split,
        mpjpe={r["method"]: r["mpjpe"] for r in rows}, by_distance=by_distance,
        frames=int(rows[0]["frames"]),
        final_loss={stage: float(columns["total"][-1]) for stage, columns in curves.items()},
        result_figure=result_figure, curves_figure=curves_figure,
    )


def _history_html(runs: Sequence[TrainingRun]) -> str:
    """A small table of every run so far, the latest in bold."""
    methods = list(runs[-1].mpjpe)
    columns = ["run", LABEL_SPACING, "λ_align", *methods]
    head = "".join(f"<th>{html.escape(m)}</th>" for m in columns)
    body = []
    for k, run in enumerate(runs):
        cells = [str(k + 1), str(run.label_every), f"{run.lambda_align:.3g}",
                 *(f"{run.mpjpe.get(m, float('nan')):.1f}" for m in methods)]
        style = ' style="font-weight:bold"' if k == len(runs) - 1 else ""
        body.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<b>MPJPE (mm) on the {html.escape(runs[-1].split)} videos' unlabelled frames, "
            f"every run so far</b><table style='border-spacing:12px 0'><tr>{head}</tr>"
            + "".join(body) + "</table>")


def training_explorer(config: TrainConfig, folder: str | Path, *, split: str = "val",
                      initial: TrainingRun | None = None,
                      k_range: tuple[int, int] | None = None,
                      lambda_range: tuple[float, float] = (1e-3, 10.0),
                      show: bool = True) -> Explorer:
    """Sliders for K and lambda_align and a **Train** button that re-trains ``config`` with
    them into ``folder`` (overwritten each time), with a progress bar, then shows the result.

    Args:
        config: the run to repeat (steps, batch sizes, lr, seed ...); its K and lambda_align
            are the sliders' first values.
        folder: where the explorer's runs go (each press overwrites it).
        split: the split evaluated (choose settings on "val"; keep "test" for the end).
        initial: the result for ``config`` itself if already trained (e.g. by
            :func:`evaluate_training_run` on its folder), so the explorer does not train on
            creation; its config must be ``config``.
        k_range, lambda_range: the sliders' ends; k_range None: 16 to 256, widened to hold
            the config's K and half of it (e.g. K = 4 on a short test video).
        show: build the live figures.
    Returns:
        an :class:`~handkit.widgets.common.Explorer` with controls ``label_every`` and
        ``lambda_align``; ``explorer.result`` is the last :class:`TrainingRun`,
        ``explorer.button.click()`` trains from code.
    """
    config = _with_label_every(config)
    k, lam = int(config.label_every), float(config.loss.lambda_align)
    if k_range is None:
        k_range = (min(16, max(1, k // 2)), max(256, k))
    if not k_range[0] <= k <= k_range[1]:
        raise ValueError(f"config.label_every = {k} is outside the slider's range {k_range}")
    if not lambda_range[0] <= lam <= lambda_range[1]:
        raise ValueError(f"config.loss.lambda_align = {lam!r} is outside the slider's range "
                         f"{lambda_range}")
    if initial is not None and initial.config != config:
        raise ValueError("initial must be the evaluation of a run of config itself (it differs "
                         "in " + ", ".join(key for key, value in config.to_dict().items()
                                           if initial.config.to_dict()[key] != value) + ")")
    k_slider, k_row = int_slider_with_box(LABEL_SPACING, k, *k_range)
    controls = {"label_every": k_slider,
                "lambda_align": log_slider("λ_align", lam, *lambda_range, readout_format=".3g")}
    stages = [s for s in ORDER if config.steps(s) > 0]
    offsets = {s: sum(config.steps(t) for t in stages[:i]) for i, s in enumerate(stages)}
    progress = widgets.IntProgress(value=0, min=0, max=sum(config.steps(s) for s in stages),
                                   description="training", layout=widgets.Layout(width="320px"))
    status = widgets.Label("move K or λ_align, then press Train")
    history: list[TrainingRun] = [] if initial is None else [initial]

    def on_step(stage: str, done: int, steps: int) -> None:
        progress.value = offsets[stage] + done
        status.value = f"{STAGE_TITLES[stage].split(':')[0]}: step {done} of {steps}"

    def compute(label_every: int, lambda_align: float) -> TrainingRun:
        run_config = config.with_overrides({"label_every": int(label_every),
                                            "loss.lambda_align": float(lambda_align)})
        began = time.perf_counter()
        progress.value, progress.bar_style = 0, "info"
        try:
            train(run_config, folder, force=True, progress=False, on_step=on_step)
            status.value = f"evaluating on the {split} videos ..."
            run = evaluate_training_run(folder, split=split)
        except (TrainingDiverged, ValueError) as error:
            progress.bar_style = "danger"
            status.value = f"stopped: {error}"
            raise
        progress.bar_style = "success"
        status.value = f"done in {time.perf_counter() - began:.0f} s"
        history.append(run)
        return run

    return Explorer(
        controls=controls, rows=[k_row, controls["lambda_align"]], compute=compute,
        figures_of=lambda run: [run.result_figure, run.curves_figure],
        summary_of=lambda run: _history_html(history), show=show, run_label="Train",
        initial=initial, status=widgets.HBox([progress, status]),
        note="Training explorer: run this cell for K and λ_align sliders, a Train button with "
             "a progress bar, and the results.",
    )
