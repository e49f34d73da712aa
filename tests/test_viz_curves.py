"""Tests for handkit.viz.curves: loss curves, curves against the gap, feature vectors."""

import numpy as np
import pytest
import torch

from handkit.viz import curves


@pytest.mark.parametrize("digits", [2, 3, 5])
def test_significant_keeps_the_relative_precision(digits):
    values = np.array([123456.789, -0.00098765, 1.0, 7.5e-9, 0.0, -42.42])
    rounded = curves.significant(values, digits)
    nonzero = values != 0
    relative = np.abs(rounded[nonzero] - values[nonzero]) / np.abs(values[nonzero])
    assert np.all(relative <= 0.5 * 10.0 ** (1 - digits) + 1e-12)
    assert rounded[values == 0].tolist() == [0.0]
    np.testing.assert_array_equal(np.sign(rounded), np.sign(values))
    np.testing.assert_array_equal(curves.significant(rounded, digits), rounded)  # idempotent


def test_loss_curve_has_a_log_loss_panel_and_an_error_panel():
    steps = np.arange(5)
    loss = torch.tensor([1e-2, 5e-3, 1e-3, 3e-4, 1.23456e-4])
    fig = curves.loss_curve_figure(steps, loss, error_mm=[100.0, 60, 30, 12.3456, 8],
                                   title="fit")
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
    np.testing.assert_allclose(fig.data[0].y, curves.significant(loss.numpy().astype(float)))
    assert list(fig.data[1].y)[3] == 12.35  # mm to 2 decimals
    single = curves.loss_curve_figure(steps, loss)
    assert len(single.data) == 1 and single.layout.width < fig.layout.width
    with pytest.raises(ValueError, match=r"loss must have shape \(5,\), got \(4,\)"):
        curves.loss_curve_figure(steps, loss[:4])


def test_gap_curves_one_trace_per_series_and_markers_in_every_panel():
    gaps = np.arange(1, 11)
    fig = curves.gap_curves_figure(
        gaps, [("error (mm)", {"copy": gaps * 3.14159}),
               ("distance", {"z^r": gaps * 0.1, "z^theta": np.sqrt(gaps)})],
        markers={"K/2": 5, "this pair": 8})
    assert [t.name for t in fig.data] == ["copy", "z^r", "z^theta"]
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x2"]
    assert list(fig.data[0].y)[:2] == [3.14, 6.28]
    assert len(fig.layout.shapes) == 4  # two lines in each of two panels
    assert {a.text for a in fig.layout.annotations} >= {"K/2", "this pair"}
    with pytest.raises(ValueError, match=r"series 'copy' must have shape \(10,\)"):
        curves.gap_curves_figure(gaps, [("e", {"copy": gaps[:3]})])
    with pytest.raises(ValueError, match="give at least one panel"):
        curves.gap_curves_figure(gaps, [])


def test_feature_figure_one_bar_per_dimension():
    vectors = {"dz_r": torch.linspace(-1, 1, 512), "dz_theta": np.zeros(512)}
    fig = curves.feature_figure(vectors, title="difference")
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert len(fig.data[0].x) == 512 and fig.data[0].y[0] == -1.0 and fig.data[0].y[-1] == 1.0
    assert [a.text for a in fig.layout.annotations] == ["dz_r", "dz_theta"]
    with pytest.raises(ValueError, match="vector 'bad' must have shape"):
        curves.feature_figure({"bad": np.zeros((2, 3))})


def test_stage_curves_one_log_panel_per_stage_in_order_and_one_colour_per_name():
    logged = {
        "stage1": {"step": [0, 1, 2], "lr": [1e-3] * 3, "total": [5e-3, 3e-3, 2.123456e-3],
                   "joints": [1e-2, 6e-3, 4e-3]},
        "stage2": {"step": [0, 1], "total": [4e-3, 3e-3], "forward": [4e-3, 3e-3]},
        "stage3": {"step": [0, 1], "total": [2e-3, 1e-3], "pred_total": [1e-3, 9e-4]},
    }
    terms = {"stage1": {"total": "L_pred", "joints": "L_J"},
             "stage2": {"total": "L_align", "forward": "L_u→s"},
             "stage3": {"total": "L_total", "pred_total": "L_pred"}}
    fig = curves.stage_curves_figure(logged, terms, titles={
        "stage1": "stage 1: Hand Predictor, L_pred on labelled frames"}, title="run")
    assert [t.name for t in fig.data] == ["L_pred", "L_J", "L_align", "L_u→s", "L_total", "L_pred"]
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x2", "x3", "x3"]
    assert all(fig.layout[f"yaxis{k}"].type == "log" for k in ("", "2", "3"))
    assert fig.data[0].line.color == fig.data[5].line.color  # L_pred looks the same everywhere
    assert [t.showlegend for t in fig.data].count(False) == 1  # ... and has one legend entry
    assert fig.data[0].line.width > fig.data[1].line.width  # the objective drawn thicker
    assert list(fig.data[0].y)[2] == 2.12e-3  # 3 significant digits
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["stage 1: Hand Predictor,<br>L_pred on labelled frames", "stage2", "stage3"]
    everything = curves.stage_curves_figure({"stage1": logged["stage1"]})
    assert [t.name for t in everything.data] == ["total", "joints"]  # step and lr left out
    with pytest.raises(ValueError, match="no column 'backward'"):
        curves.stage_curves_figure(logged, {"stage2": {"backward": "L_u←s"}})
    with pytest.raises(ValueError, match="no 'step' column"):
        curves.stage_curves_figure({"stage1": {"total": [1.0]}})
    with pytest.raises(ValueError, match="at least one stage"):
        curves.stage_curves_figure({})


def test_gap_curves_keep_a_series_colour_across_panels():
    x = np.arange(4)
    fig = curves.gap_curves_figure(x, [("a", {"one": x, "two": 2 * x}),
                                       ("b", {"two": x, "one": 3 * x})])
    colours = {(t.name, t.xaxis): t.line.color for t in fig.data}
    assert colours["one", "x"] == colours["one", "x2"]
    assert colours["two", "x"] == colours["two", "x2"] != colours["one", "x"]
    assert [t.name for t in fig.data if t.showlegend] == ["one", "two"]
