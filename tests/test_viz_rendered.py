import numpy as np
import pytest
import torch

from handkit.mano.layer import ManoLayer
from handkit.viz.rendered import Panel, render_hand, rendered_hands_figure, view_rotation


@pytest.fixture(scope="module")
def rest():
    layer = ManoLayer(ncomps=6, dtype=torch.float64)
    with torch.no_grad():
        verts, joints = layer(torch.zeros(1, 9, dtype=torch.float64))
    return layer, verts[0].numpy(), joints[0].numpy()


def test_view_rotation_is_a_rotation_with_the_palm_towards_the_camera(rest):
    _, _, joints = rest
    R = view_rotation("palm", joints)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    cam = joints @ R.T  # camera axes: x right, y down
    assert cam[4, 0] > cam[20, 0]  # right hand, palm view: thumb tip on the right
    assert cam[12, 1] < cam[0, 1]  # middle fingertip above the wrist (y down)


def test_render_hand_draws_the_hand_in_the_middle_on_white(rest):
    layer, verts, joints = rest
    colours = np.full((778, 3), 0.2)
    image = render_hand(verts, layer.faces, view_rotation("palm", joints), colours, size_px=64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    covered = (image < 200).any(-1)
    assert 0.15 < covered.mean() < 0.8
    assert (image[0, 0] == 255).all() and covered[32, 32]


def test_rendered_figure_has_an_image_and_a_colour_bar_per_panel(rest):
    layer, verts, joints = rest
    values = verts[:, 0] - verts[:, 0].min()
    fig = rendered_hands_figure([Panel(verts, values, "a", "mm"), Panel(verts, -values, "b")],
                                layer.faces, view_joints=joints, size_px=48)
    kinds = [t.type for t in fig.data]
    assert kinds == ["image", "scatter", "image", "scatter"]
    bar = fig.data[1].marker
    assert bar.showscale and bar.cmin == 0 and bar.cmax == pytest.approx(values.max(), abs=1e-3)
    assert [a.text for a in fig.layout.annotations] == ["a", "b"]
    with pytest.raises(ValueError, match=r"values must have shape \(778,\)"):
        rendered_hands_figure([Panel(verts, values[:10], "a")], layer.faces, view_joints=joints)
    with pytest.raises(ValueError, match="rendered views"):
        view_rotation("pose", joints)
