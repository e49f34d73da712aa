import math

import pytest
import torch

from handkit.geometry import intrinsics, place_at_root, project_points


def test_intrinsics_focal_from_field_of_view():
    K = intrinsics((200, 100), fov_deg=90.0)
    assert K[0, 0] == pytest.approx(100.0) and K[1, 1] == pytest.approx(100.0)
    assert K[0, 2] == 99.5 and K[1, 2] == 49.5 and K[2, 2] == 1.0  # pixel centres at integers
    with pytest.raises(ValueError, match="fov_deg"):
        intrinsics(64, fov_deg=180.0)


def test_projection_of_known_points():
    K = intrinsics(128, fov_deg=60.0)
    focal = 64 / math.tan(math.radians(30))
    points = torch.tensor([[[0.0, 0.0, 500.0], [100.0, -50.0, 500.0]]], dtype=torch.float64)
    uv = project_points(points, K)
    assert torch.allclose(uv[0, 0], torch.tensor([63.5, 63.5], dtype=torch.float64))
    expected = torch.tensor([63.5 + focal * 0.2, 63.5 - focal * 0.1], dtype=torch.float64)
    assert torch.allclose(uv[0, 1], expected)
    # scaling a point along its ray does not move its projection
    assert torch.allclose(project_points(points * 3.0, K), uv)


def test_projection_validates_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 3\)"):
        project_points(torch.zeros(4, 2), intrinsics(64))
    with pytest.raises(ValueError, match=r"K must have shape"):
        project_points(torch.zeros(4, 3), torch.eye(4))


def test_place_at_root_moves_the_root_point():
    points = torch.randn(2, 21, 3, dtype=torch.float64)
    root = torch.tensor([10.0, -20.0, 400.0], dtype=torch.float64)
    placed = place_at_root(points, points[:, 0], root)
    assert torch.allclose(placed[:, 0], root.expand(2, 3))
    assert torch.allclose(placed[:, 5] - placed[:, 0], points[:, 5] - points[:, 0])
