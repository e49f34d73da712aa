import numpy as np
import pytest
import torch

from handkit.mano.layer import ManoLayer
from handkit.mano.model import OUTPUT_PARENTS
from handkit.viz.mesh import hand_figure, hands_side_by_side, projection_figure
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


def test_side_by_side_offsets_meshes(hand):
    layer, verts, _ = hand
    fig = hands_side_by_side([verts[0], verts[0]], layer.faces, names=["a", "b"], spacing_mm=100)
    assert np.allclose(np.asarray(fig.data[1].x) - np.asarray(fig.data[0].x), 100.0)
    with pytest.raises(ValueError, match="2 meshes but 1 names"):
        hands_side_by_side([verts[0], verts[0]], layer.faces, names=["a"])


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
