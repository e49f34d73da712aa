import numpy as np
import pytest
import torch

from handkit.mano.layer import ManoLayer
from handkit.viz.views import (
    INDEX_BASE,
    PINKY_BASE,
    VIEW_NAMES,
    hand_frame,
    scene_camera,
    scene_layout,
    screen_extent,
    screen_right,
)


@pytest.fixture(scope="module")
def rest_joints():
    layer = ManoLayer(ncomps=6, dtype=torch.float64)
    with torch.no_grad():
        return layer(torch.zeros(1, 9, dtype=torch.float64))[1][0]


def test_hand_frame_is_orthonormal_and_right_handed(rest_joints):
    frame = hand_frame(rest_joints)
    basis = np.stack([frame.fingers, frame.palm, frame.across])
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(basis) == pytest.approx(1.0)
    left = hand_frame(rest_joints, side="left")
    np.testing.assert_allclose(left.palm, -frame.palm)


def test_embedded_rest_hand_faces_the_palm_view_with_the_thumb_on_the_right(rest_joints):
    # The embedded hand's rest pose: fingers along -x, palm facing -y, thumb on +z.
    frame = hand_frame(rest_joints)
    assert frame.fingers[0] < -0.9 and frame.palm[1] < -0.9
    camera = scene_camera("palm", rest_joints)
    right = screen_right(camera)
    j = rest_joints.numpy()
    assert j[4] @ right > j[20] @ right  # thumb tip right of the little finger's tip
    assert j[INDEX_BASE] @ right > j[PINKY_BASE] @ right
    up = np.array([camera["up"][a] for a in "xyz"])
    assert j[12] @ up > j[0] @ up  # middle fingertip above the wrist
    back = screen_right(scene_camera("back", rest_joints))
    assert j[4] @ back < j[20] @ back  # seen from the back, the thumb is on the left


def test_camera_view_looks_along_z_with_y_down():
    camera = scene_camera("camera")
    assert camera["up"] == {"x": 0.0, "y": -1.0, "z": 0.0}
    assert camera["eye"]["z"] < 0 and camera["eye"]["x"] == camera["eye"]["y"] == 0


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_scene_fills_the_figure(rest_joints, view):
    points = rest_joints.numpy()
    scene = scene_layout(points, view, rest_joints, size=(600, 400), fill=0.9)
    camera = scene["camera"]
    width_mm, height_mm = screen_extent(points, camera)
    ranges = np.array([scene[f"{a}axis"]["range"] for a in "xyz"])
    units_per_mm = scene["aspectratio"]["x"] / np.ptp(ranges[0])
    visible = 2.0 if camera["projection"]["type"] == "orthographic" else None
    if visible:  # orthographic: the larger of the two fits is exactly `fill` of the scene
        used = max(height_mm * 1.08 * units_per_mm / 2.0,
                   width_mm * 1.08 * units_per_mm / (2.0 * 600 / 400))
        assert used == pytest.approx(0.9, rel=1e-3)
        axis_to_viewer = "xyz"[int(np.argmax(np.abs([camera["eye"][a] for a in "xyz"])))]
        assert scene[f"{axis_to_viewer}axis"]["showticklabels"] is False


def test_views_need_joints_and_known_names(rest_joints):
    with pytest.raises(ValueError, match="needs the hand's joints"):
        scene_camera("palm")
    with pytest.raises(ValueError, match="view must be one of"):
        scene_camera("top", rest_joints)
    with pytest.raises(ValueError, match=r"joints must have shape \(21, 3\)"):
        hand_frame(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="joints coincide"):
        hand_frame(np.zeros((21, 3)))
    with pytest.raises(ValueError, match="side must be"):
        hand_frame(rest_joints, side="both")
