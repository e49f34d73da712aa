import numpy as np
import pytest
import torch

from handkit.mano.layer import ManoLayer
from handkit.mano.model import OUTPUT_PARENTS
from handkit.viz.mesh import hand_figure, hands_side_by_side, projection_figure
from handkit.viz.views import scene_camera, screen_right
from tests.random_mano import random_model


@pytest.fixture(scope="module")
def hand():
    layer = ManoLayer(model=random_model(), dtype=torch.float64)
    verts, joints = layer(torch.zeros(1, 9))
    return layer, verts, joints


def test_hand_figure_has_mesh_and_skeleton(hand):
    layer, verts, joints = hand
    fig = hand_figure(verts, layer.faces, joints)
    mesh, skeleton = fig.data
    assert mesh.type == "mesh3d" and len(mesh.x) == 778 and len(mesh.i) == 1538
    np.testing.assert_allclose(mesh.x, verts[0, :, 0].numpy().round(2))
    # one segment (parent, child, gap) per bone
    assert len(skeleton.x) == 3 * sum(p >= 0 for p in OUTPUT_PARENTS)
    assert skeleton.x[1] == round(float(joints[0, 1, 0]), 2)


def test_figure_json_is_stable(hand):
    layer, verts, joints = hand
    first = hand_figure(verts, layer.faces, joints).to_json()
    assert first == hand_figure(verts, layer.faces, joints).to_json()


def test_side_by_side_places_hands_left_to_right_on_screen(hand):
    layer, verts, joints = hand
    fig = hands_side_by_side([verts[0], verts[0]], layer.faces, names=["a", "b"],
                             view_joints=joints[0])
    right = screen_right(fig.layout.scene.camera.to_plotly_json())
    first, second = (np.stack([t.x, t.y, t.z], 1) @ right for t in fig.data)
    assert second.min() > first.max()  # b entirely to the right of a, with a gap
    np.testing.assert_allclose(np.stack([fig.data[1].x, fig.data[1].y, fig.data[1].z], 1)
                               - np.stack([fig.data[0].x, fig.data[0].y, fig.data[0].z], 1),
                               np.broadcast_to((second - first).mean() * right, (778, 3)),
                               atol=0.02)  # a pure shift along screen-right
    assert [a.text for a in fig.layout.scene.annotations] == ["a", "b"]
    with pytest.raises(ValueError, match="2 meshes but 1 names"):
        hands_side_by_side([verts[0], verts[0]], layer.faces, names=["a"], view_joints=joints[0])


@pytest.mark.parametrize("view", ["palm", "back", "pose", "camera"])
def test_hand_figure_has_equal_aspect_and_the_view_asked_for(hand, view):
    layer, verts, joints = hand
    fig = hand_figure(verts, layer.faces, joints, view=view)
    scene = fig.layout.scene
    spans = [np.ptp(getattr(scene, f"{a}axis").range) for a in "xyz"]
    ratios = [scene.aspectratio[a] for a in "xyz"]
    np.testing.assert_allclose(np.array(ratios) / np.array(spans), ratios[0] / spans[0],
                               rtol=1e-3)  # one mm is as long on every axis
    assert scene.camera.to_plotly_json() == scene_camera(view, joints[0])
    for a in "xyz":  # the axes hold every vertex
        low, high = getattr(scene, f"{a}axis").range
        values = np.asarray(getattr(fig.data[0], a))
        assert low <= values.min() and values.max() <= high


def test_palm_view_figure_is_as_wide_as_the_hand(hand):
    layer, verts, joints = hand
    fig = hand_figure(verts, layer.faces, joints, view="palm")
    assert 300 <= fig.layout.width <= 900 and fig.layout.height == 440
    assert hand_figure(verts, layer.faces, joints, view="pose").layout.width is None


def test_projection_figure_draws_every_edge_once(hand):
    layer, _, _ = hand
    uv = np.random.default_rng(0).random((778, 2)) * 100
    joints_uv = uv[:21]
    fig = projection_figure(uv, joints_uv, (128, 128), faces=layer.faces)
    faces = layer.faces.numpy()
    edges = {tuple(sorted(e)) for f in faces for e in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    assert len(fig.data[1].x) == 3 * len(edges)
    assert tuple(fig.layout.yaxis.range) == (128, 0)  # image rows grow downwards


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r"joints must have shape \(21, 3\)"):
        hand_figure(joints=np.zeros((20, 3)))
    with pytest.raises(ValueError, match="faces are needed"):
        hand_figure(verts=np.zeros((778, 3)))
