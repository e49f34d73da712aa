"""handkit.widgets.common: a slow explorer's run button, and the status shown beside it."""

import ipywidgets as widgets

from handkit.widgets.common import RUN_BUTTON_CLASS, Explorer, float_slider


def test_the_button_is_disabled_while_computing_and_a_status_sits_beside_it():
    seen = []
    control = float_slider("x", 0.0, -1.0, 1.0)
    status = widgets.IntProgress()

    def compute(x):
        seen.append(None if explorer_box == [] else explorer_box[0].button.disabled)
        return x

    explorer_box = []
    explorer = Explorer(controls={"x": control}, rows=[control], compute=compute,
                        figures_of=lambda r: [], note="run me", show=False, run_label="Train",
                        status=status)
    explorer_box.append(explorer)
    control.value = 0.5
    explorer.button.click()
    assert seen == [None, True]  # disabled during the second (button) computation
    assert not explorer.button.disabled and explorer.result == 0.5
    row = explorer.children[1]
    assert isinstance(row, widgets.HBox) and row.children == (explorer.button, status)
    assert RUN_BUTTON_CLASS in explorer.button._dom_classes


def test_a_failing_computation_leaves_the_button_usable():
    control = float_slider("x", 0.0, -1.0, 1.0)

    def compute(x):
        if x > 0:
            raise ValueError("too big")
        return x

    explorer = Explorer(controls={"x": control}, rows=[control], compute=compute,
                        figures_of=lambda r: [], note="run me", show=False, run_label="Train")
    control.value = 0.5
    try:
        explorer._redraw()
    except ValueError:
        pass
    assert not explorer.button.disabled and explorer.result == 0.0
    assert explorer.children[1] is explorer.button  # no status: the button alone
