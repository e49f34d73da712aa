"""The motion x K sweep's slices and explorer (handkit.viz.motion_map, handkit.widgets.motion),
on hand-made rows, and the committed sweep they read in notebook 08."""

import pytest

from handkit.experiments.motion_sweep import committed_motion_sweep, read_long
from handkit.viz.motion_map import motion_slice_figure
from handkit.widgets.common import slider
from handkit.widgets.motion import motion_slices, motion_sweep_explorer

COPY, INTERP = "Copy nearest label", "Interpolation"


def row(motion, k, method, mpjpe, distance="all", ci=1.0):
    return {"motion": motion, "label_every": k, "seed": 0, "recipe": "paper", "method": method,
            "distance": distance, "mpjpe": mpjpe, "ci_low": mpjpe - ci, "ci_high": mpjpe + ci}


#: copy beats interpolation at slow motion, loses at fast; K = 16 fast has no copy row
ROWS = [row("natural-slow", 16, COPY, 5.0), row("natural-slow", 16, INTERP, 8.0),
        row("natural-slow", 64, COPY, 9.0), row("natural-slow", 64, INTERP, 9.5, ci=2.0),
        row("natural-fast", 16, INTERP, 12.0),
        row("natural-fast", 64, COPY, 30.0), row("natural-fast", 64, INTERP, 20.0)]


def test_slice_against_k_has_one_trace_per_method_with_intervals():
    fig = motion_slice_figure(ROWS, methods=[COPY, INTERP], motion="natural-slow")
    assert [t.name for t in fig.data] == [COPY, INTERP]
    assert list(fig.data[0].x) == ["16", "64"] and list(fig.data[0].y) == [5.0, 9.0]
    assert list(fig.data[1].error_y.array) == [1.0, 2.0]
    assert list(fig.data[1].error_y.arrayminus) == [1.0, 2.0]


def test_slice_against_motion_leaves_missing_points_empty():
    fig = motion_slice_figure(ROWS, methods=[COPY, INTERP], label_every=16)
    assert list(fig.data[0].x) == ["natural-slow", "natural-fast"]
    assert list(fig.data[0].y) == [5.0, None]  # no copy row at fast motion, K = 16
    assert list(fig.data[1].y) == [8.0, 12.0]
    empty = motion_slice_figure(ROWS, methods=[COPY], label_every=16, distance="1-15")
    assert "no point" in empty.layout.annotations[0].text
    with pytest.raises(ValueError, match="exactly one"):
        motion_slice_figure(ROWS, methods=[COPY])
    with pytest.raises(ValueError, match="exactly one"):
        motion_slice_figure(ROWS, methods=[COPY], motion="natural-fast", label_every=16)


def test_the_winner_of_a_cell_among_the_shown_methods():
    slow = motion_slices(ROWS, methods=[COPY, INTERP], motion="natural-slow", label_every=16)
    assert slow.winner["winner"] == COPY and slow.winner["margin_mm"] == pytest.approx(3.0)
    assert slow.winner["clear"]  # copy's interval (4-6) lies below 8
    close = motion_slices(ROWS, methods=[COPY, INTERP], motion="natural-slow", label_every=64)
    assert close.winner["winner"] == COPY and not close.winner["clear"]  # 8-10 reaches 9.5
    nowhere = motion_slices(ROWS, methods=[COPY, INTERP], motion="natural-slow", label_every=64,
                            distance="1-15")
    assert nowhere.winner is None


def test_explorer_controls_redraw_the_figures_and_the_summary():
    explorer = motion_sweep_explorer(ROWS, methods=[COPY, INTERP])
    assert set(explorer.controls) == {"distance", "motion", "label_every"}
    assert "natural-slow, K = 64" in explorer.summary.value
    slider(explorer, "motion").value = "natural-fast"
    assert "Interpolation wins by 10.0 mm over Copy nearest label" in explorer.summary.value
    against_k, against_motion = explorer.figures
    assert list(against_k.data[0].y) == [None, 30.0] and against_k.layout.title.text.endswith(
        "natural-fast motion")
    marked = explorer.figures[0].layout.shapes[0].x0
    slider(explorer, "label_every").value = 16
    assert list(explorer.figures[1].data[1].y) == [8.0, 12.0]
    assert (marked, explorer.figures[0].layout.shapes[0].x0) == (1, 0)  # the chosen K's place
    with pytest.raises(ValueError, match="no evaluated point"):
        motion_sweep_explorer([], methods=[COPY])


def test_the_committed_sweep_reads_back_with_its_intervals():
    rows = read_long(committed_motion_sweep())
    assert {"motion", "label_every", "seed", "method", "distance", "mpjpe", "ci_low",
            "ci_high"} <= set(rows[0])
    points = {(r["motion"], r["label_every"], r["seed"]) for r in rows}
    assert ("natural", 128, 0) in points
    for r in rows:
        if r["ci_low"] is not None:
            assert r["ci_low"] <= r["mpjpe"] <= r["ci_high"]


def test_every_mode_has_its_own_table1_colour():
    from handkit.inference import MODE_TITLES
    from handkit.viz.motion_map import _colour

    colours = [_colour(title) for title in MODE_TITLES.values()]
    assert len(set(colours)) == len(colours) and "#888888" not in colours
