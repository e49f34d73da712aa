"""Tests for tests/nbval_stable.py: what nbval compares of saved notebook outputs."""

import base64

import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest

from tests.nbval_stable import (
    PLOTLY,
    figure_structure,
    texts_close,
    value_count,
    with_close_numbers_as_stored,
    with_figure_structures,
)


def _figure(x, *, name="error", title="MPJPE by distance") -> dict:
    figure = go.Figure(go.Scatter(x=np.asarray(x), y=np.asarray(x) * 2.0, name=name,
                                  mode="lines"))
    figure.update_layout(title=title, xaxis_title="frames", yaxis_title="mm")
    return figure.to_plotly_json()


def test_figures_with_other_last_bits_have_the_same_structure():
    values = np.linspace(0.0, 1.0, 50)
    first, second = _figure(values), _figure(values + 1e-13)
    assert first != second  # the saved bytes differ ...
    assert figure_structure(first) == figure_structure(second)  # ... the structure does not
    summary = figure_structure(first)
    assert summary["traces"] == [{"type": "scatter", "name": "error", "mode": "lines",
                                  "sizes": {"x": 50, "y": 50}}]
    assert summary["title"] == "MPJPE by distance"
    assert summary["axis_titles"] == {"xaxis": "frames", "yaxis": "mm"}


@pytest.mark.parametrize("change", [
    dict(x=np.linspace(0.0, 1.0, 49)),  # a point lost
    dict(x=np.linspace(0.0, 1.0, 50), name="Copy"),  # another trace name
    dict(x=np.linspace(0.0, 1.0, 50), title="something else"),
])
def test_a_changed_trace_or_title_is_still_a_difference(change):
    assert figure_structure(_figure(**change)) != figure_structure(
        _figure(np.linspace(0.0, 1.0, 50)))


def test_typed_arrays_and_images_are_counted_not_compared():
    typed = {"dtype": "f4", "bdata": base64.b64encode(np.zeros(7, np.float32).tobytes()).decode()}
    assert value_count(typed) == 7
    assert value_count({**typed, "shape": "2, 3"}) == 6
    assert value_count([1, 2, 3]) == 3 and value_count(4.0) is None
    image = {"data": [{"type": "image", "source": "data:image/png;base64,AAAA"}], "layout": {}}
    assert figure_structure(image)["traces"] == [
        {"type": "image", "sizes": {}, "source": "data:image/png;base64"}]


def test_outputs_keep_everything_but_the_figure_and_stay_notebook_nodes():
    outputs = [nbformat.v4.new_output("display_data", data={PLOTLY: _figure([1.0, 2.0]),
                                                            "text/plain": "Figure"}),
               nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    changed = with_figure_structures(outputs)
    assert changed[0].output_type == "display_data"  # nbval reads attributes
    assert changed[0].data["text/plain"] == "Figure"
    assert changed[0].data[PLOTLY]["traces"][0]["sizes"] == {"x": 2, "y": 2}
    assert changed[1] is outputs[1]


@pytest.mark.parametrize(("stored", "fresh", "close"), [
    ("L_J 6.6187e-04 (handkit 6.6187e-04)", "L_J 6.6188e-04 (handkit 6.6188e-04)", True),
    ("mpjpe_t 46.448", "mpjpe_t 46.449", True),
    ("'propagation': 69.9612", "'propagation': 69.9614", True),
    ("'regression': 69.0746", "'regression': 69.0739", True),  # 1e-5 of the value
    ("0.0012", "0.0015", False),  # 3 units in the last digit, 25 % of the value
    ("12 of 300 frames", "13 of 300 frames", False),  # integers are exact
    ("MPJPE 19.9 mm", "MPJPE 19.9 cm", False),  # words are exact
    ("3 values: 1.5 2.5", "3 values: 1.5", False),
])
def test_printed_numbers_may_differ_in_their_last_digits_only(stored, fresh, close):
    assert texts_close(fresh, stored) is close


def test_close_streams_take_the_stored_text_and_others_stay_as_run():
    stored = [nbformat.v4.new_output("stream", name="stdout", text="loss 1.2345e-03\n"),
              nbformat.v4.new_output("execute_result", data={"text/plain": "{'n': 3}"},
                                     execution_count=1)]
    fresh = [nbformat.v4.new_output("stream", name="stdout", text="loss 1.2346e-03\n"),
             nbformat.v4.new_output("execute_result", data={"text/plain": "{'n': 4}"},
                                    execution_count=1)]
    changed = with_close_numbers_as_stored(fresh, stored, sanitize=lambda text: text)
    assert changed[0].text == "loss 1.2345e-03\n" and changed[0].output_type == "stream"
    assert changed[1].data["text/plain"] == "{'n': 4}"  # an integer changed: nbval reports it
