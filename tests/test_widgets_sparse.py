import numpy as np
import pytest

from handkit.data.pairs import labelled_mask, nearest_labelled
from handkit.widgets.sparse import slider, sparse_label_explorer, sparse_labels


def test_sparse_labels_matches_the_pairs_module():
    state = sparse_labels(300, 128, p_unlabelled=0.5, max_gap=64, num_pairs=400, show=False)
    np.testing.assert_array_equal(state.labelled, labelled_mask(300, 128))
    np.testing.assert_array_equal(state.nearest, nearest_labelled(state.labelled))
    assert state.labelled_fraction == pytest.approx(4 / 300)
    assert state.pairs.shape == (400, 4)
    s, u, u_labelled = state.pairs[:, 1], state.pairs[:, 2], state.pairs[:, 3].astype(bool)
    assert state.labelled[s].all()
    assert np.array_equal(state.labelled[u], u_labelled)
    assert (np.abs(u - s)[~u_labelled] < 64).all()
    assert state.unlabelled_branch_fraction == pytest.approx(np.mean(~u_labelled))
    assert 0.3 < state.unlabelled_branch_fraction < 0.7
    # Eq. 10 pairs everywhere but in the short last gap (256..299)
    far = u[~u_labelled] < 256 - 64
    assert (state.nearest[u[~u_labelled]][far] == s[~u_labelled][far]).all()
    assert 0.5 < state.nearest_pair_fraction < 1.0
    assert len(state.timeline.data) == 3 and len(state.histogram.data) == 2
    assert "4 of 300 frames labelled (1.33 %)" in state.summary()


def test_without_unlabelled_branch_the_fractions_are_zero():
    state = sparse_labels(50, 1, num_pairs=20, show=False)  # every frame labelled
    assert state.labelled.all() and state.pairs[:, 3].all()
    assert state.unlabelled_branch_fraction == 0.0 and state.nearest_pair_fraction == 0.0


def test_explorer_recomputes_when_sliders_move():
    explorer = sparse_label_explorer(300, num_pairs=200, show=False)
    before = explorer.result
    assert before.label_every == 128 and before.labelled.sum() == 4
    slider(explorer, "label_every").value = 32
    after = explorer.result
    assert after.label_every == 32 and after.labelled.sum() == 11
    assert after.labelled_fraction > before.labelled_fraction
    slider(explorer, "p_unlabelled").value = 0.0
    assert explorer.result.unlabelled_branch_fraction == 0.0
    slider(explorer, "p_unlabelled").value = 1.0
    slider(explorer, "max_gap").value = 8
    pairs = explorer.result.pairs
    assert not pairs[:, 3].any() and (np.abs(pairs[:, 1] - pairs[:, 2]) < 8).all()


def test_explorer_is_reproducible_for_a_seed():
    first = sparse_label_explorer(300, num_pairs=100, seed=3, show=False).result.pairs
    again = sparse_label_explorer(300, num_pairs=100, seed=3, show=False).result.pairs
    other = sparse_label_explorer(300, num_pairs=100, seed=4, show=False).result.pairs
    assert np.array_equal(first, again) and not np.array_equal(first, other)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"label_every": 0}, "label_every"),
        ({"label_every": 300}, "label_every"),
        ({"max_gap": 0}, "max_gap"),
        ({"p_unlabelled": 1.5}, "p_unlabelled"),
        ({"num_pairs": 0}, "num_pairs"),
        ({"seed": -1}, "seed"),
        ({"max_label_every": True}, "max_label_every"),
    ],
)
def test_explorer_validates_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sparse_label_explorer(300, show=False, **kwargs)


def test_explorer_validates_num_frames_and_slider_names():
    with pytest.raises(ValueError, match="num_frames"):
        sparse_label_explorer(0, show=False)
    with pytest.raises(KeyError, match="beta0"):
        slider(sparse_label_explorer(300, num_pairs=10, show=False), "beta0")


def test_sparse_labels_validates_arguments():
    with pytest.raises(ValueError, match="label_every"):
        sparse_labels(300, 0, show=False)
    with pytest.raises(ValueError, match="p_unlabelled"):
        sparse_labels(300, 128, p_unlabelled=-0.1, show=False)


def test_explorer_updates_its_live_figures_in_place():
    explorer = sparse_label_explorer(300, num_pairs=50, show=True)
    timeline, histogram = explorer.figures
    assert "K = 128: 4 of 300" in explorer.summary.value
    before = timeline.data[1].x  # the labelled frames
    slider(explorer, "label_every").value = 100
    assert explorer.figures == (timeline, histogram)  # the same widgets, not new outputs
    assert "K = 100: 4 of 300" in explorer.summary.value
    assert list(timeline.data[1].x) == [0, 100, 200, 299] != list(before)


def test_k_has_a_number_box_linked_to_its_slider():
    explorer = sparse_label_explorer(300, num_pairs=20, show=False)
    box = next(w for row in explorer.children if hasattr(row, "children")
               for w in row.children if w.__class__.__name__ == "BoundedIntText")
    box.value = 77  # typing an exact value moves the slider and recomputes
    assert slider(explorer, "label_every").value == 77 and explorer.result.label_every == 77


def test_saved_explorer_says_to_run_the_cell():
    bundle = sparse_label_explorer(300, num_pairs=20, show=False)._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Sparse-label explorer: run this cell")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_a_run_button_recomputes_only_when_pressed():
    from handkit.widgets.common import RUN_BUTTON_CLASS, Explorer, float_slider

    calls = []

    def compute(x):
        calls.append(x)
        return x

    control = float_slider("x", 0.0, -1.0, 1.0)
    explorer = Explorer(controls={"x": control}, rows=[control], compute=compute,
                        figures_of=lambda r: [], summary_of=lambda r: f"x = {r}", note="run me",
                        show=False, run_label="Train")
    control.value = 0.5
    assert explorer.result == 0.0 and calls == [0.0]  # moving does not recompute
    explorer.button.click()
    assert explorer.result == 0.5 and explorer.summary.value == "x = 0.5"
    assert RUN_BUTTON_CLASS in explorer.button._dom_classes
