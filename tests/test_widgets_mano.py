import numpy as np
import pytest
import torch

from handkit.mano.layer import ManoLayer
from handkit.widgets.common import DESCRIPTION_WIDTH
from handkit.widgets.mano import mano_explorer, pose_and_draw, slider
from tests.random_mano import random_model


@pytest.fixture(scope="module")
def layer():
    return ManoLayer(model=random_model(), ncomps=6, dtype=torch.float64)


def test_explorer_redraws_when_a_slider_moves(layer):
    explorer = mano_explorer(layer, num_betas=2, num_pca=3, show=False)
    before = explorer.result
    assert before is not None and torch.all(before.betas == 0)
    slider(explorer, "pca1").value = 1.5
    after = explorer.result
    assert after.pose_coeffs[0, 4].item() == pytest.approx(1.5)
    assert (after.verts - before.verts).abs().max() > 1.0  # mm
    slider(explorer, "beta0").value = -2.0
    assert explorer.result.betas[0, 0].item() == pytest.approx(-2.0)


def test_pose_and_draw_matches_the_layer(layer):
    state = pose_and_draw(layer, [0.5], [1.0, -1.0])
    pose = torch.zeros(1, 9, dtype=torch.float64)
    pose[0, 3:5] = torch.tensor([1.0, -1.0])
    betas = torch.zeros(1, 10, dtype=torch.float64)
    betas[0, 0] = 0.5
    verts, joints = layer(pose, betas)
    assert torch.allclose(state.verts, verts) and torch.allclose(state.joints, joints)
    assert len(state.figure.data) == 2


def test_explorer_updates_one_live_figure_in_place(layer):
    explorer = mano_explorer(layer, num_betas=1, num_pca=1)
    (live,) = explorer.figures
    assert live.data[0].type == "mesh3d"
    before = np.array(live.data[0].x)
    slider(explorer, "pca0").value = 2.0
    assert explorer.figures == (live,)
    assert not np.array_equal(live.data[0].x, before)
    assert live.layout.uirevision == "explorer"  # a camera the student rotated stays


def test_sliders_have_room_for_their_labels(layer):
    explorer = mano_explorer(layer, num_betas=1, num_pca=1, show=False)
    control = slider(explorer, "beta0")
    assert control.style.description_width == DESCRIPTION_WIDTH and control.layout.width == "400px"
    assert explorer._repr_mimebundle_()["text/plain"].startswith("MANO explorer: run this cell")


def test_explorer_validates_counts(layer):
    with pytest.raises(ValueError, match="num_pca"):
        mano_explorer(layer, num_pca=7)
    with pytest.raises(KeyError, match="pca9"):
        slider(mano_explorer(layer, show=False), "pca9")
