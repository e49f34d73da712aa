"""Tests for handkit.viz.overlay: hands tinted into frames, skeletons and root offsets on top."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from handkit.geometry import intrinsics, project_points
from handkit.mano import ManoLayer
from handkit.viz import overlay


def _decode(source: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    return np.array(Image.open(io.BytesIO(base64.b64decode(source[len(prefix):]))))


@pytest.fixture(scope="module")
def hand():
    """A posed hand 400 mm in front of a 64-px camera: (verts, joints, faces, intrinsics, image)."""
    layer = ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0, dtype=torch.float64)
    theta = torch.zeros(1, 48, dtype=torch.float64)
    theta[0, 0] = 1.4  # palm towards the camera
    with torch.no_grad():
        verts, joints = layer(theta)
    offset = torch.tensor([0.0, 20.0, 400.0], dtype=torch.float64)
    image = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    return verts[0] + offset, joints[0] + offset, layer.faces, intrinsics(64, fov_deg=50.0), image


@pytest.mark.parametrize("scale", [1, 2, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_upscaled_intrinsics_project_onto_the_same_content(scale, dtype):
    camera = intrinsics(64, fov_deg=40.0, dtype=dtype)
    points = torch.tensor([[10.0, -5.0, 300.0], [-40.0, 30.0, 500.0]], dtype=dtype)
    small = project_points(points, camera)  # (2, 2) pixels of the frame
    big = project_points(points.double(), overlay.upscale_intrinsics(camera, scale))
    torch.testing.assert_close(big, scale * small.double() + (scale - 1) / 2, rtol=0, atol=1e-4)
    batch = overlay.upscale_intrinsics(camera.expand(3, 3, 3), scale)
    assert batch.shape == (3, 3, 3)
    assert torch.equal(batch[1], overlay.upscale_intrinsics(camera, scale))


def test_upscaled_image_repeats_each_pixel_and_keeps_the_centre(hand):
    image = hand[4]
    big = overlay.upscale_image(image, 3)
    assert big.shape == (192, 192, 3) and big.dtype == np.uint8
    np.testing.assert_array_equal(big[1::3, 1::3], image)  # the middle of each block
    np.testing.assert_array_equal(big[::3, ::3], image)
    # centre of the frame, (31.5, 31.5), maps to the centre of the enlarged frame
    intrinsics_big = overlay.upscale_intrinsics(intrinsics(64), 3)
    assert intrinsics_big[0, 2].item() == pytest.approx((192 - 1) / 2)
    with pytest.raises(ValueError, match="scale must be an integer >= 1, got 0"):
        overlay.upscale_image(image, 0)


def test_tinting_changes_only_the_pixels_the_mesh_covers(hand):
    verts, joints, faces, intrinsics, image = hand
    plain = overlay.tint_meshes(image, intrinsics, [overlay.HandOverlay("a", "#ff0000")], faces,
                                scale=2)
    np.testing.assert_array_equal(plain, overlay.upscale_image(image, 2))  # no verts: no change
    red = [overlay.HandOverlay("a", "#ff0000", verts)]
    tinted = overlay.tint_meshes(image, intrinsics, red, faces, scale=2, alpha=0.5)
    changed = np.argwhere((tinted != plain).any(-1))  # (M, 2) rows, columns
    assert len(changed) > 50
    uv = project_points(verts, overlay.upscale_intrinsics(intrinsics, 2)).numpy()  # (V, 2)
    assert changed[:, 1].min() >= np.floor(uv[:, 0].min()) - 1
    assert changed[:, 1].max() <= np.ceil(uv[:, 0].max()) + 1
    assert changed[:, 0].min() >= np.floor(uv[:, 1].min()) - 1
    assert changed[:, 0].max() <= np.ceil(uv[:, 1].max()) + 1
    wrist = np.round(uv[np.argmin(np.linalg.norm(verts.numpy() - joints[0].numpy(), axis=1))])
    row, col = int(wrist[1]), int(wrist[0])
    assert tinted[row, col, 0] >= plain[row, col, 0] - 1  # red tint does not darken red
    transparent = overlay.tint_meshes(image, intrinsics, red, faces, scale=2, alpha=0.0)
    np.testing.assert_array_equal(transparent, plain)


def test_tinting_checks_its_inputs(hand):
    verts, _, faces, intrinsics, image = hand
    with pytest.raises(ValueError, match="faces are needed to draw the mesh of 'a'"):
        overlay.tint_meshes(image, intrinsics, [overlay.HandOverlay("a", "#ff0000", verts)], None)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        overlay.tint_meshes(image, intrinsics, [], faces, alpha=1.5)


def test_overlay_figure_draws_skeletons_at_their_projection(hand):
    verts, joints, faces, intrinsics, image = hand
    hands = [[overlay.HandOverlay("truth", overlay.GT_COLOUR, joints=joints),
              overlay.HandOverlay("guess", overlay.PRED_COLOUR, verts, joints + 5.0)],
             [overlay.HandOverlay("truth", overlay.GT_COLOUR, joints=joints)]]
    fig = overlay.overlay_figure(np.stack([image, image]), torch.stack([intrinsics, intrinsics]),
                                 hands, faces, titles=["a", "b"], scale=2)
    assert isinstance(fig, go.Figure)
    assert [t.type for t in fig.data] == ["image", "scatter", "scatter", "image", "scatter"]
    assert [t.showlegend for t in fig.data if t.type == "scatter"] == [True, True, False]
    pixels = project_points(joints, intrinsics).numpy().round(1)  # (21, 2)
    xs = np.asarray(fig.data[1].x, dtype=float)
    assert set(xs[np.isfinite(xs)]) == set(pixels[1:, 0]) | {pixels[0, 0]}
    # the enlarged image sits on the frame's own pixel grid
    assert fig.data[0].dx == 0.5 and fig.data[0].x0 == pytest.approx(-0.25)
    assert _decode(fig.data[0].source).shape == (128, 128, 3)
    assert tuple(fig.layout.yaxis.range) == (63.5, -0.5)
    with pytest.raises(ValueError, match="need N >= 1 images with N intrinsics and N lists"):
        overlay.overlay_figure([image], intrinsics[None], [[], []], faces)


def test_root_offsets_figure_marks_the_projected_root(hand):
    _, joints, _, intrinsics, image = hand
    root = joints[0]
    fig = overlay.root_offsets_figure(image, intrinsics, root, d_off_mm=350.0, joints=joints,
                                      title="r")
    marker = next(t for t in fig.data if t.name == "root r projected")
    uv = project_points(root[None], intrinsics)[0].numpy()
    assert (marker.x[0], marker.y[0]) == pytest.approx(tuple(uv), abs=0.01)
    centre = next(t for t in fig.data if t.name == "image centre")
    assert (centre.x[0], centre.y[0]) == (31.5, 31.5)
    arrow = fig.layout.annotations[0]
    assert (arrow.ax, arrow.ay) == (31.5, 31.5) and arrow.x == marker.x[0]
    assert f"d_z = f d_f + d_off = {root[2].item():.1f} mm" in fig.layout.title.text
    with pytest.raises(ValueError, match=r"image must be square \(S, S, 3\), got \(64, 60, 3\)"):
        overlay.root_offsets_figure(image[:, :60], intrinsics, root, d_off_mm=350.0)
