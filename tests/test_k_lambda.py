"""handkit.experiments.k_lambda, the sweep slice figure and the sweep explorer of notebook 08.

The training point itself (``train_and_evaluate``) runs in notebook 08, which papermill runs at
its defaults and at other parameters (tests/test_notebooks.py) and the tiny sweep runs 2 x 2
(tests/test_sweep.py)."""

from __future__ import annotations

import csv

import plotly.graph_objects as go
import pytest

from handkit.experiments.k_lambda import committed_sweep_table, read_sweep_table, slice_rows
from handkit.viz.sweep import interval_columns, metric_column, sweep_slice_figure
from handkit.widgets.sweep import slider, sweep_explorer

METHODS = ("Propagation", "Interpolation")
BINS = ("1-15", "16-31", "32-64")


def sweep_row(k: int, lam: float, status: str = "ok") -> dict:
    """A results.csv row as the sweep writes it for notebook 08: Propagation = K + 10 lambda,
    Interpolation = 2 K; bins offset by 1, 2, 3."""
    row = {"label_every": k, "lambda_align": lam, "status": status,
           "mpjpe.Propagation": k + 10 * lam, "mpjpe.Interpolation": 2 * k}
    for offset, b in enumerate(BINS, start=1):
        row[f"by_distance.Propagation.{b}"] = k + 10 * lam + offset
        row[f"by_distance.Interpolation.{b}"] = "" if k == 64 and b == "32-64" else 2 * k + offset
    return row


@pytest.fixture()
def table(tmp_path):
    rows = [sweep_row(k, lam) for k in (16, 64, 32) for lam in (0.0, 0.1, 1)]
    rows.append(sweep_row(128, 0.1, status="failed"))
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_table_keeps_finished_rows_with_numbers_as_floats(table):
    rows = read_sweep_table(table)
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows)
    first = rows[0]
    assert first["label_every"] == 16.0 and first["mpjpe.Propagation"] == 16.0
    assert rows[3]["by_distance.Interpolation.32-64"] is None  # K = 64: the empty cell
    with pytest.raises(FileNotFoundError, match="no sweep table at .*python -m handkit sweep"):
        read_sweep_table(table.with_name("missing.csv"))


def test_a_slice_fixes_the_other_parameter_and_sorts_by_the_swept_one(table):
    rows = read_sweep_table(table)
    by_k = slice_rows(rows, against="label_every", at={"lambda_align": 0.1})
    assert [r["label_every"] for r in by_k] == [16, 32, 64]
    assert [r["mpjpe.Propagation"] for r in by_k] == [17, 33, 65]
    by_lambda = slice_rows(rows, against="lambda_align", at={"label_every": 32})
    assert [r["lambda_align"] for r in by_lambda] == [0, 0.1, 1]
    assert slice_rows(rows, against="label_every", at={"lambda_align": 0.5}) == []


def test_the_slice_figure_has_a_line_per_method_over_all_frames_or_a_bin(table):
    rows = slice_rows(read_sweep_table(table), against="label_every", at={"lambda_align": 1})
    assert metric_column("Propagation") == "mpjpe.Propagation"
    assert metric_column("Fused", "1-15") == "by_distance.Fused.1-15"
    fig = sweep_slice_figure(rows, against="label_every", methods=METHODS, log_x=True)
    assert [t.name for t in fig.data] == list(METHODS)
    assert list(fig.data[0].x) == [16, 32, 64] and list(fig.data[0].y) == [26, 42, 74]
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [16, 32, 64]
    far = sweep_slice_figure(rows, against="label_every", methods=METHODS, distance="32-64")
    assert list(far.data[1].y) == [35, 67, None]  # the missing number is a gap, not 0
    assert "32-64" in far.layout.yaxis.title.text and not far.layout.annotations
    short = [{"lambda_align": lam, **{metric_column(m, "32-64"): None for m in METHODS}}
             for lam in (0.0, 1.0)]  # as at K = 16: nothing 32-64 frames from a label
    empty = sweep_slice_figure(short, against="lambda_align", methods=METHODS, distance="32-64")
    assert [a.text for a in empty.layout.annotations] == [
        "no frame is 32-64 frames from a label here"]  # an empty panel says why


def test_the_explorer_redraws_its_two_figures_in_place(table):
    rows = read_sweep_table(table)
    explorer = sweep_explorer(rows, methods=METHODS)
    against_k, against_lambda = explorer.figures
    assert isinstance(against_k, go.FigureWidget)
    assert explorer.result.at_lambda == 0.1 and explorer.result.at_k == 64  # middle, largest
    assert list(against_k.data[0].y) == [17, 33, 65]
    assert list(against_lambda.data[0].y) == [64, 65, 74]
    slider(explorer, "at_lambda").value = 1.0
    slider(explorer, "distance").value = "1-15"
    assert explorer.figures == (against_k, against_lambda)  # the same widgets, new numbers
    assert list(against_k.data[0].y) == [27, 43, 75]
    assert "λ_align = 1" in against_k.layout.title.text
    slider(explorer, "at_k").value = 16
    assert list(against_lambda.data[1].y) == [33, 33, 33]  # Interpolation ignores lambda
    assert explorer.result.distance == "1-15" and explorer.result.at_k == 16


def test_intervals_in_the_table_are_drawn_as_error_bars(table):
    rows = slice_rows(read_sweep_table(table), against="label_every", at={"lambda_align": 1})
    assert interval_columns("Fused", "1-15") == ("ci_low.Fused.1-15", "ci_high.Fused.1-15")
    plain = sweep_slice_figure(rows, against="label_every", methods=METHODS)
    assert plain.data[0].error_y.array is None  # an older table: no bars
    low, high = interval_columns("Propagation")
    with_ci = [{**row, low: row["mpjpe.Propagation"] - 1, high: row["mpjpe.Propagation"] + 3}
               for row in rows]
    with_ci[1][low] = with_ci[1][high] = None  # a point without an interval: no bar there
    fig = sweep_slice_figure(with_ci, against="label_every", methods=METHODS)
    bars = fig.data[0].error_y
    assert list(bars.array) == [3, None, 3] and list(bars.arrayminus) == [1, None, 1]
    assert fig.data[1].error_y.array is None  # Interpolation has no interval columns


def test_an_empty_sweep_table_is_refused():
    with pytest.raises(ValueError, match="no finished row"):
        sweep_explorer([], methods=METHODS)


def test_the_committed_table_path_is_inside_the_repository():
    path = committed_sweep_table()
    assert path.parts[-3:] == ("experiments", "sweep_k_lambda", "results.csv")


def test_the_readme_figures_are_pngs_drawn_by_the_system_chromium(table, tmp_path):
    from handkit.experiments.k_lambda import FIGURES, write_figures
    from handkit.viz.sweep import system_chromium

    notes = write_figures(table, tmp_path / "figures")
    assert len(notes) == len(FIGURES)
    for name, note in zip(FIGURES, notes, strict=True):
        path = tmp_path / "figures" / f"{name}.png"
        if system_chromium() is None:
            assert note.startswith("PNG skipped: no system Chromium") and not path.exists()
        else:
            assert note == f"PNG: {path}", note
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    with pytest.raises(ValueError, match="no finished point at lambda_align = 0.5"):
        write_figures(table, tmp_path, lambda_align=0.5)


def test_the_summary_table_has_a_row_per_k_with_intervals_where_the_table_has_them(table):
    from handkit.experiments.k_lambda import METHODS as ALL_METHODS
    from handkit.experiments.k_lambda import summary_table

    rows = read_sweep_table(table)
    lines = summary_table(rows).splitlines()  # λ_align = 0.1: K = 16, 32, 64 finished
    assert lines[0].startswith("| K | Baseline |") and len(lines) == 2 + 3
    assert lines[2].startswith("| 16 | — |")  # the fixture has no Baseline column
    assert "| 17.0 | — | 32.0 |" in lines[2]  # Propagation, Copy (absent), Interpolation
    assert ALL_METHODS.index("Propagation") == 2
    row = next(r for r in rows if r["label_every"] == 32 and r["lambda_align"] == 0.1)
    row.update({"ci_low.Propagation.all": 30.0, "ci_high.Propagation.all": 36.5,
                "paired.Propagation - Interpolation.all.difference": -31.0,
                "paired.Propagation - Interpolation.all.low": -35.25,
                "paired.Propagation - Interpolation.all.high": -27.0})
    lines = summary_table(rows).splitlines()
    assert "| 33.0 [30.0, 36.5] |" in lines[3]
    assert lines[3].endswith("| -31.0 [-35.2, -27.0] | — |")
    with pytest.raises(ValueError, match="no finished point at lambda_align = 0.5"):
        summary_table(rows, lambda_align=0.5)


def test_the_paired_text_gives_a_verdict_only_where_the_table_has_intervals(table):
    from handkit.experiments.k_lambda import format_paired

    rows = read_sweep_table(table)
    row = next(r for r in rows if r["label_every"] == 32 and r["lambda_align"] == 0.1)
    row.update({"paired.Propagation - Interpolation.all.difference": -31.0,
                "paired.Propagation - Interpolation.all.low": -35.0,
                "paired.Propagation - Interpolation.all.high": -27.0,
                "paired.Propagation - Copy nearest label.all.difference": 1.0,
                "paired.Propagation - Copy nearest label.all.low": -2.0,
                "paired.Propagation - Copy nearest label.all.high": 4.0})
    lines = format_paired(rows).splitlines()
    assert len(lines) == 1 + 3 + 2 and lines[1].startswith("  K = 16: Propagation 17.0,")
    assert lines[3] == "      Propagation - Interpolation: -31.0 [-35.0, -27.0]: below"
    assert lines[4] == ("      Propagation - Copy nearest label: +1.0 [-2.0, +4.0]: "
                        "no clear difference")
