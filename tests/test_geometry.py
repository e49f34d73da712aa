import math

import pytest
import torch

from handkit.geometry import (
    image_centre,
    intrinsics,
    offsets_from_root,
    place_at_root,
    project_points,
    root_from_offsets,
)


def test_intrinsics_focal_from_field_of_view():
    camera = intrinsics((200, 100), fov_deg=90.0)
    assert camera[0, 0] == pytest.approx(100.0) and camera[1, 1] == pytest.approx(100.0)
    # pixel centres at integers
    assert camera[0, 2] == 99.5 and camera[1, 2] == 49.5 and camera[2, 2] == 1.0
    with pytest.raises(ValueError, match="fov_deg"):
        intrinsics(64, fov_deg=180.0)


def test_projection_of_known_points():
    camera = intrinsics(128, fov_deg=60.0)
    focal = 64 / math.tan(math.radians(30))
    points = torch.tensor([[[0.0, 0.0, 500.0], [100.0, -50.0, 500.0]]], dtype=torch.float64)
    uv = project_points(points, camera)
    assert torch.allclose(uv[0, 0], torch.tensor([63.5, 63.5], dtype=torch.float64))
    expected = torch.tensor([63.5 + focal * 0.2, 63.5 - focal * 0.1], dtype=torch.float64)
    assert torch.allclose(uv[0, 1], expected)
    # scaling a point along its ray does not move its projection
    assert torch.allclose(project_points(points * 3.0, camera), uv)


def test_projection_validates_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 3\)"):
        project_points(torch.zeros(4, 2), intrinsics(64))
    with pytest.raises(ValueError, match=r"intrinsics must have shape"):
        project_points(torch.zeros(4, 3), torch.eye(4))


def test_place_at_root_moves_the_root_point():
    points = torch.randn(2, 21, 3, dtype=torch.float64)
    root = torch.tensor([10.0, -20.0, 400.0], dtype=torch.float64)
    placed = place_at_root(points, points[:, 0], root)
    assert torch.allclose(placed[:, 0], root.expand(2, 3))
    assert torch.allclose(placed[:, 5] - placed[:, 0], points[:, 5] - points[:, 0])


def test_root_from_offsets_hand_worked_example():
    # f = (fx, fy) = (100, 200), principal point (40, 20) (not the centre), a 64 x 32 image:
    # centre ((64 - 1) / 2, (32 - 1) / 2) = (31.5, 15.5); d_f = 0.5, d_off = 300 ->
    # d_z = 100 * 0.5 + 300 = 350; (t_u, t_v) = (8.5, 4.5) -> (u, v) = (40, 20), the principal
    # point, so x = y = 0; with t = (18.5, -5.5): (u, v) = (50, 10), x = 10 * 350 / 100 = 35,
    # y = -10 * 350 / 200 = -17.5.
    intrinsics = torch.tensor([[100.0, 0.0, 40.0], [0.0, 200.0, 20.0], [0.0, 0.0, 1.0]],
                     dtype=torch.float64).expand(2, 3, 3)
    d_f = torch.tensor([0.5, 0.5], dtype=torch.float64)
    t = torch.tensor([[8.5, 4.5], [18.5, -5.5]], dtype=torch.float64)
    root = root_from_offsets(d_f, t, intrinsics, d_off_mm=300.0, image_size=(64, 32))
    expected = torch.tensor([[0.0, 0.0, 350.0], [35.0, -17.5, 350.0]], dtype=torch.float64)
    assert torch.allclose(root, expected)
    assert image_centre((64, 32)) == (31.5, 15.5)


def test_root_projects_to_centre_plus_offset_and_round_trips():
    generator = torch.Generator().manual_seed(0)
    camera = intrinsics(64, fov_deg=30.0).expand(5, 3, 3)
    d_f = torch.randn(5, generator=generator, dtype=torch.float64)
    t = torch.randn(5, 2, generator=generator, dtype=torch.float64) * 10
    root = root_from_offsets(d_f, t, camera, d_off_mm=500.0, image_size=64)
    uv = project_points(root[:, None], camera)[:, 0]
    assert torch.allclose(uv, t + 31.5)
    assert torch.allclose(root[:, 2], camera[:, 0, 0] * d_f + 500.0)
    d_f_back, t_back = offsets_from_root(root, camera, d_off_mm=500.0, image_size=64)
    assert torch.allclose(d_f_back, d_f) and torch.allclose(t_back, t)


def test_root_recovery_gradients():
    camera = intrinsics(64).expand(3, 3, 3)
    d_f = torch.rand(3, dtype=torch.float64, requires_grad=True)
    t = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: root_from_offsets(a, b, camera, d_off_mm=400.0, image_size=64), (d_f, t)
    )


def test_root_recovery_validates_shapes():
    camera = intrinsics(64).expand(2, 3, 3)
    with pytest.raises(ValueError, match=r"intrinsics must have shape \(B, 3, 3\), got \(3, 3\)"):
        root_from_offsets(torch.zeros(2), torch.zeros(2, 2), camera[0], d_off_mm=1.0, image_size=64)
    expected = r"pixel_offset \(B, 2\) with B=2, got \(2,\) and \(2, 3\)"
    with pytest.raises(ValueError, match=expected):
        root_from_offsets(torch.zeros(2), torch.zeros(2, 3), camera, d_off_mm=1.0, image_size=64)
    with pytest.raises(ValueError, match=r"root must have shape \(B, 3\) with B=2, got \(2, 2\)"):
        offsets_from_root(torch.ones(2, 2), camera, d_off_mm=1.0, image_size=64)
