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
