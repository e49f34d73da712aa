"""Every method reaches the printed tables and the figures: rows built from an evaluation result
(handkit.experiments.table1_format.result_rows), printed (format_table) and drawn (table1_figure
and the other metric figures). Notebook 07 once lost five of seven methods on the way."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from handkit.evaluation_result import FrameErrors
from handkit.experiments.table1_format import (
    MODE_NAMES,
    ROWS,
    format_table,
    method_name,
    result_rows,
    supported,
)
from handkit.inference import MODE_TITLES, MODES
from handkit.metrics import METRIC_KEYS
from handkit.viz.metrics import distance_error_figure, timeline_error_figure
from handkit.viz.results import table1_figure
from handkit.viz.sweep import sweep_slice_figure

BINS = ((1, 15), (16, 31), (32, 64))


def fake_result(modes=MODES) -> SimpleNamespace:
    """What evaluate_split returns, as far as rows need it: a different MPJPE per mode; ten
    frames of two videos, six 1-15 frames from a label and four 16-31."""
    overall = {m: {key: 10.0 + k for key in METRIC_KEYS} for k, m in enumerate(modes)}
    by_distance = {m: (5.0 + k, 20.0 + k, float("nan")) for k, m in enumerate(modes)}
    distance = np.array([1, 2, 3, 4, 5, 6, 16, 17, 18, 19])
    frames = FrameErrors(
        video=np.array([0, 1] * 5), frame=np.arange(10), distance=distance,
        metrics={m: {"mpjpe": np.where(distance < 16, 5.0 + k, 20.0 + k) + np.arange(10) % 2}
                 for k, m in enumerate(modes)},
        joints=np.full(10, 21.0))
    return SimpleNamespace(modes=tuple(modes), overall=overall, bins=BINS, frames=frames,
                           by_distance=by_distance, bin_counts=(6, 4, 0), num_frames=10)


def printed_methods(lines: list[str], section: str) -> list[str]:
    """The method column of one printed section ("test videos", or the distance table)."""
    start = next(k for k, line in enumerate(lines) if line.startswith(section)) + 2
    names = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("(frames)"):
            break
        names.append(re.split(r"\s{2,}", line)[0])  # the name, then 2+ spaces
    return names


def test_rows_of_a_result_keep_every_method_with_its_own_name():
    rows, distance = result_rows(fake_result(), seed=3, split="test")
    assert [r["method"] for r in rows] == [MODE_NAMES[m] for m in MODES]
    assert len({r["method"] for r in rows}) == len(MODES) == 8
    # each mode's own value
    assert [r["mpjpe"] for r in rows] == [10.0 + k for k in range(len(MODES))]
    assert {r["seed"] for r in rows} == {3} and {r["split"] for r in distance} == {"test"}
    assert [r["method"] for r in distance] == [MODE_NAMES[m] for m in MODES for _ in BINS]
    assert [r["distance"] for r in distance[:3]] == ["1-15", "16-31", "32-64"]


def test_baseline_and_control_rows_take_their_predictors_name():
    assert method_name("regression", "baseline") == "Baseline"
    assert method_name("regression", "control") == "Control"
    assert method_name("regression") == "Baseline + Align"
    assert method_name("propagation", "baseline") == MODE_TITLES["propagation"]  # not a row


def test_the_printed_table_lists_every_method():
    rows, distance = result_rows(fake_result())
    lines = format_table(rows, distance, title="t")
    methods = [MODE_NAMES[m] for m in MODES]
    assert printed_methods(lines, "test videos") == methods
    assert printed_methods(lines, "test MPJPE by distance") == methods


def test_rows_named_outside_table_i_are_still_printed_and_drawn():
    """Rows titled by handkit.evaluation.table_rows (MODE_TITLES), as notebook 07's **r made
    them, or any other name: none is dropped."""
    titles = [MODE_TITLES[m] for m in MODES] + ["My method"]
    rows = [{"seed": 0, "split": "test", "method": t, "frames": 10,
             **{key: 10.0 for key in METRIC_KEYS}} for t in titles]
    distance = [{"seed": 0, "split": "test", "method": t, "distance": "1-15", "frames": 10,
                 "mpjpe": 10.0} for t in titles]
    lines = format_table(rows, distance, title="t")
    copy, interpolation = MODE_TITLES["copy"], MODE_TITLES["interpolation"]  # Table I names
    expected = [copy, interpolation] + [t for t in titles if t not in (copy, interpolation)]
    assert printed_methods(lines, "test videos") == expected
    assert printed_methods(lines, "test MPJPE by distance") == expected
    fig = table1_figure(rows, distance)
    assert [t.name for t in fig.data[::2]] == expected
    assert [t.name for t in fig.data[1::2]] == expected  # the by-distance bars too
    assert len({t.marker.color for t in fig.data[::2]}) == len(expected)


@pytest.mark.parametrize("split", ["test", "train"])
def test_table1_figure_draws_a_bar_per_method_given(split):
    rows, distance = result_rows(fake_result(), split=split)
    baseline, _ = result_rows(fake_result(["regression"]), split=split, predictor="baseline")
    fig = table1_figure(baseline + rows, distance, split=split)
    names = ["Baseline"] + [MODE_NAMES[m] for m in MODES]
    assert [t.name for t in fig.data[::2]] == [n for n, _, _ in ROWS if n in names]
    assert [list(t.x) for t in fig.data[::2]] == [[n] for n, _, _ in ROWS if n in names]
    assert [t.y[0] for t in fig.data[::2]][1:] == [10.0 + k for k in range(len(MODES))]


def test_the_other_metric_figures_draw_every_method_given():
    methods = [MODE_NAMES[m] for m in MODES] + ["My method"]
    frame = np.arange(1, 9)
    errors = {m: np.full(8, 10.0 + k) for k, m in enumerate(methods)}
    assert [t.name for t in timeline_error_figure(frame, errors, [0, 9]).data] == methods
    assert [t.name for t in distance_error_figure(frame, errors, bin_width=4).data] == methods
    sweep = [{"label_every": k, **{f"mpjpe.{m}": 1.0 for m in methods}} for k in (16, 32)]
    fig = sweep_slice_figure(sweep, against="label_every", methods=methods)
    assert [t.name for t in fig.data] == methods


def test_rows_carry_intervals_over_videos():
    rows, by_distance = result_rows(fake_result(), modes=["copy"])
    # two videos: the copy mode's frames are 6 / 7 mm (1-15) and 21 / 22 mm (16-31)
    assert rows[0]["mpjpe_ci_low"] < rows[0]["mpjpe_ci_high"]
    near = next(r for r in by_distance if r["distance"] == "1-15")
    assert 5.0 + MODES.index("copy") <= near["ci_low"] <= near["ci_high"] \
        <= 6.0 + MODES.index("copy")
    empty = next(r for r in by_distance if r["distance"] == "32-64")
    assert (empty["ci_low"], empty["ci_high"]) == (None, None)


@pytest.mark.parametrize("seeds,expected", [
    # (seed, A's mpjpe, A's interval, B's mpjpe, B's interval)
    ([(0, 10.0, (9.0, 11.0), 14.0, (13.0, 15.0))], "A"),
    ([(0, 10.0, (9.0, 14.5), 14.0, (13.0, 15.0))], None),  # A's interval reaches B's mean
    ([(0, 10.0, (9.0, 11.0), 14.0, (13.0, 15.0)), (1, 14.0, (13.0, 15.0), 10.0, (9.0, 11.0))],
     None),  # the seeds disagree
    ([(0, 16.0, (15.0, 17.0), 14.0, (13.0, 15.0))], "B"),
])
def test_a_difference_is_claimed_only_beyond_the_intervals(seeds, expected):
    rows = [{"split": "test", "seed": seed, "method": name, "mpjpe": value,
             "mpjpe_ci_low": ci[0], "mpjpe_ci_high": ci[1]}
            for seed, a, a_ci, b, b_ci in seeds
            for name, value, ci in (("A", a, a_ci), ("B", b, b_ci))]
    assert supported(rows, "A", "B") == expected
    for row in rows:
        row["mpjpe_ci_high"] = None  # rows saved before intervals existed
    assert supported(rows, "A", "B") is None
