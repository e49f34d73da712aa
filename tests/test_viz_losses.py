"""Tests for handkit.viz.losses: bars of the loss terms before and after weighting."""

import numpy as np
import pytest

from handkit.viz.losses import format_value, loss_terms_figure


def test_bars_follow_the_first_groups_order_with_values_as_text():
    raw = {"L_J": 8.8e-3, "L_θ": 1e-3, "L_β": 6e-4}
    weighted = {"L_J": 4.4e-3, "L_θ": 5e-9, "L_β": 3e-10, "L_total": 4.4e-3}
    fig = loss_terms_figure({"unweighted": raw, "weighted": weighted}, title="t")
    assert [t.name for t in fig.data] == ["unweighted", "weighted"]
    assert list(fig.data[0].x) == ["L_J", "L_θ", "L_β"]
    assert list(fig.data[1].x) == ["L_J", "L_θ", "L_β", "L_total"]
    assert list(fig.data[1].text) == ["4.40e-03", "5.00e-09", "3.00e-10", "4.40e-03"]
    assert fig.layout.barmode == "group" and fig.layout.yaxis.type == "log"
    low, high = fig.layout.yaxis.range  # decades, covering every bar with room above
    assert low <= np.log10(3e-10) and high >= np.log10(8.8e-3)


def test_zero_terms_have_text_and_a_linear_axis_is_possible():
    fig = loss_terms_figure({"weighted": {"a": 0.0, "b": 2.5}}, log_y=False)
    assert list(fig.data[0].text) == ["0", "2.5"] and fig.layout.yaxis.type != "log"


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="loss terms must be finite and >= 0"):
        loss_terms_figure({"g": {"a": -1.0}})
    with pytest.raises(ValueError, match="loss terms must be finite and >= 0"):
        loss_terms_figure({"g": {"a": float("inf")}})
    with pytest.raises(ValueError, match="give at least one group"):
        loss_terms_figure({})


@pytest.mark.parametrize("value,text", [(0.5, "0.5"), (12345.0, "1.23e+04"), (1e-7, "1.00e-07"),
                                        (0.0123, "0.0123")])
def test_format_value(value, text):
    assert format_value(value) == text
