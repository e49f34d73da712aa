"""Tests for handkit.render: coverage, z-buffer, depth, interpolation, shading, validation."""

import numpy as np
import pytest
import torch

from handkit import render
from handkit.geometry import project_points

H, W = 24, 32
K0 = torch.tensor([[40.0, 0.0, 15.5], [0.0, 40.0, 11.5], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _inside_reference(uv: np.ndarray, H: int, W: int) -> np.ndarray:
    """(H, W) bool: pixel centres (j, i) inside the 2D triangle uv (3, 2), by cross products."""
    jj, ii = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    signs = []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        ax, ay = uv[a]
        bx, by = uv[b]
        signs.append((bx - ax) * (ii - ay) - (by - ay) * (jj - ax))
    s = np.stack(signs)
    return (s >= 0).all(0) | (s <= 0).all(0)


def _backproject(uv: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-space points (N, 3) at pixel positions uv (N, 2) and depths (N,)."""
    homogeneous = np.concatenate([uv, np.ones((len(uv), 1))], 1)  # (N, 3)
    rays = np.linalg.solve(intrinsics, homogeneous.T).T  # (N, 3), z = 1
    return rays * depth[:, None]


@pytest.mark.parametrize("seed", range(6))
def test_triangle_covers_exactly_pixel_centres_inside(seed):
    rng = np.random.default_rng(seed)
    z = rng.uniform(80, 200, size=(3, 1))
    uv = rng.uniform([-4, -4], [W + 4, H + 4], size=(3, 2))  # may stick out of the image
    verts = _backproject(uv, z[:, 0], K0.numpy())
    faces = torch.tensor([[0, 1, 2]]) if seed % 2 else torch.tensor([[0, 2, 1]])  # both windings
    frags = render.rasterize(torch.from_numpy(verts)[None], faces, K0, (H, W))
    expected = _inside_reference(uv, H, W)
    assert expected.any()
    np.testing.assert_array_equal((frags.face_id[0] == 0).numpy(), expected)


def test_nearer_triangle_wins_in_either_order():
    uv = np.array([[2.0, 2.0], [30.0, 3.0], [10.0, 22.0]])
    near = _backproject(uv, np.full(3, 100.0), K0.numpy())
    far = _backproject(uv[[1, 2, 0]] + 0.3, np.full(3, 150.0), K0.numpy())
    for order in ((near, far), (far, near)):
        verts = torch.from_numpy(np.concatenate(order))[None]
        frags = render.rasterize(verts, torch.tensor([[0, 1, 2], [3, 4, 5]]), K0, (H, W))
        near_id = 0 if order[0] is near else 1
        both = _inside_reference(uv, H, W) & _inside_reference(uv[[1, 2, 0]] + 0.3, H, W)
        assert both.sum() > 50
        assert (frags.face_id[0].numpy()[both] == near_id).all()
        np.testing.assert_allclose(frags.depth[0].numpy()[both], 100.0, rtol=1e-9)


def test_depth_and_interpolated_point_lie_on_the_plane_at_pixel_centres():
    uv = np.array([[1.0, 1.5], [31.0, 4.0], [6.0, 23.0]])
    verts = _backproject(uv, np.array([90.0, 160.0, 300.0]), K0.numpy())  # strongly tilted
    frags = render.rasterize(torch.from_numpy(verts)[None], torch.tensor([[0, 1, 2]]), K0, (H, W))
    ii, jj = np.nonzero(frags.face_id[0].numpy() == 0)
    normal = np.cross(verts[1] - verts[0], verts[2] - verts[0])
    rays = _backproject(np.stack([jj, ii], 1).astype(np.float64), np.ones(len(ii)), K0.numpy())
    plane_depth = (normal @ verts[0]) / (rays @ normal)  # ray (z = 1) scaled to hit the plane
    np.testing.assert_allclose(frags.depth[0].numpy()[ii, jj], plane_depth, rtol=1e-9)
    point = render.interpolate(frags, torch.tensor([[0, 1, 2]]), torch.from_numpy(verts)[None])[
        0
    ].numpy()
    np.testing.assert_allclose(point[ii, jj], rays * plane_depth[:, None], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(frags.bary[0].numpy()[ii, jj].sum(-1), 1.0, rtol=1e-12)


def test_background_mask_and_depth():
    uv = np.array([[5.2, 5.3], [20.1, 6.4], [8.3, 18.2]])  # no pixel centre on an edge
    verts = torch.from_numpy(_backproject(uv, np.full(3, 120.0), K0.numpy()))[None]
    bg = torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = render.render_mesh(verts, torch.tensor([[0, 1, 2]]), K0, (H, W), background=bg)
    expected = torch.from_numpy(_inside_reference(uv, H, W))
    assert torch.equal(out.mask[0], expected)
    assert torch.equal(out.image[0][~expected], bg[0][~expected])
    assert torch.isinf(out.depth[0][~expected]).all()
    assert torch.isfinite(out.depth[0][expected]).all()


def test_shifting_principal_point_shifts_the_image():
    uv = np.array([[5.2, 5.3], [20.1, 6.4], [8.3, 18.2]])  # no pixel centre on an edge
    verts = torch.from_numpy(_backproject(uv, np.array([100.0, 110.0, 130.0]), K0.numpy()))[None]
    faces = torch.tensor([[0, 1, 2]])
    shifted = K0.clone()
    shifted[0, 2] += 3
    shifted[1, 2] -= 2
    a = render.rasterize(verts, faces, K0, (H, W))
    b = render.rasterize(verts, faces, shifted, (H, W))
    assert torch.equal(b.face_id[0, :-2, 3:], a.face_id[0, 2:, :-3])
    assert torch.allclose(b.depth[0, :-2, 3:], a.depth[0, 2:, :-3])


def test_batch_equals_separate_renders_and_triangles_behind_camera_are_skipped():
    g = torch.Generator().manual_seed(3)
    verts = torch.randn(3, 9, 3, generator=g, dtype=torch.float64) * 30 + torch.tensor(
        [0.0, 0.0, 150.0], dtype=torch.float64
    )
    verts[2, :3, 2] = -50.0  # face 0 of the third mesh is behind the camera
    faces = torch.arange(9).reshape(3, 3)
    together = render.rasterize(verts, faces, K0, (H, W))
    for b in range(3):
        alone = render.rasterize(verts[b : b + 1], faces, K0, (H, W))
        assert torch.equal(together.face_id[b], alone.face_id[0])
        assert torch.equal(together.depth[b], alone.depth[0])
    assert not (together.face_id[2] == 0).any()


def test_lambert_shading_full_light_and_ambient_only():
    uv = np.array([[5.0, 5.0], [25.0, 6.0], [8.0, 20.0]])
    verts = torch.from_numpy(_backproject(uv, np.full(3, 100.0), K0.numpy()))[
        None
    ]  # faces the camera
    faces = torch.tensor([[0, 1, 2]])
    albedo = torch.tensor([0.8, 0.5, 0.4], dtype=torch.float64).expand(3, 3)
    lit = render.render_mesh(
        verts, faces, K0, (H, W), colors=albedo, light_dir=(0, 0, 1), ambient=0.3
    )
    grazing = render.render_mesh(
        verts, faces, K0, (H, W), colors=albedo, light_dir=(1, 0, 0), ambient=0.3
    )
    m = lit.mask[0]
    torch.testing.assert_close(lit.image[0][m], albedo[0].expand(int(m.sum()), 3))
    torch.testing.assert_close(grazing.image[0][m], 0.3 * albedo[0].expand(int(m.sum()), 3))


def test_sphere_silhouette_matches_analytic_area():
    verts, faces = _icosphere(3)
    verts = verts * 50 + torch.tensor([0.0, 0.0, 300.0], dtype=torch.float64)
    intrinsics = torch.tensor([[100.0, 0, 31.5], [0, 100.0, 31.5], [0, 0, 1]], dtype=torch.float64)
    out = render.render_mesh(verts[None], faces, intrinsics, (64, 64), supersample=2)
    radius_px = 100.0 * np.tan(np.arcsin(50.0 / 300.0))
    assert abs(out.mask.sum().item() / (np.pi * radius_px**2) - 1) < 0.05
    assert abs(out.depth[0, 32, 32].item() - 250.0) < 1.0


def test_scale_intrinsics_maps_pixel_centres():
    point = torch.tensor([[[12.0, -7.0, 90.0]]], dtype=torch.float64)
    u = project_points(point, K0[None])
    u3 = project_points(point, render.scale_intrinsics(K0, 3)[None])
    torch.testing.assert_close(u3, 3 * u + 1.0)


def test_backgrounds_seeded_varied_and_in_range():
    a = render.random_backgrounds(4, (16, 20), generator=torch.Generator().manual_seed(1))
    b = render.random_backgrounds(4, (16, 20), generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 16, 20, 3) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert (a.reshape(4, -1, 3).std(1) > 0.01).all()  # no constant image
    assert not torch.allclose(a[0], a[1])


def test_skin_colors_are_smooth():
    verts, faces = _icosphere(3)
    verts = verts * 80
    colors = render.skin_vertex_colors(verts, generator=torch.Generator().manual_seed(0))
    assert colors.shape == verts.shape and colors.min() >= 0 and colors.max() <= 1
    colour_step = (colors[faces[:, 0]] - colors[faces[:, 1]]).abs().amax(-1)
    edge_mm = (verts[faces[:, 0]] - verts[faces[:, 1]]).norm(dim=-1)
    assert (colour_step / edge_mm).max() < 0.03  # at most 0.03 per mm: waves of >= 40 mm
    assert colors.std(0).max() > 0.005  # but it does vary


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"verts": torch.zeros(1, 3, 2)}, "verts must have shape"),
        ({"faces": torch.tensor([[0, 1, 3]])}, "faces must index vertices 0..2"),
        ({"faces": torch.tensor([[0.0, 1.0, 2.0]])}, "faces must be an integer tensor"),
        ({"intrinsics": torch.eye(3).expand(2, 3, 3)}, "intrinsics must have shape"),
        ({"image_size": (0, 4)}, "image_size must be"),
    ],
)
def test_invalid_inputs_raise(kwargs, match):
    args = {
        "verts": torch.ones(1, 3, 3),
        "faces": torch.tensor([[0, 1, 2]]),
        "intrinsics": torch.eye(3),
        "image_size": (4, 4),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        render.rasterize(args["verts"], args["faces"], args["intrinsics"], args["image_size"])


def test_render_mesh_option_errors():
    verts, faces = torch.ones(1, 3, 3), torch.tensor([[0, 1, 2]])
    with pytest.raises(ValueError, match="supersample"):
        render.render_mesh(verts, faces, torch.eye(3), (4, 4), supersample=0)
    with pytest.raises(ValueError, match="background must have shape"):
        render.render_mesh(verts, faces, torch.eye(3), (4, 4), background=torch.zeros(1, 4, 5, 3))
    with pytest.raises(ValueError, match="ambient"):
        render.render_mesh(verts, faces, torch.eye(3), (4, 4), ambient=1.5)


def _icosphere(levels: int):
    """Unit icosphere (float64 verts, long faces) by repeated midpoint subdivision."""
    t = (1 + 5**0.5) / 2
    verts = [
        [-1, t, 0],
        [1, t, 0],
        [-1, -t, 0],
        [1, -t, 0],
        [0, -1, t],
        [0, 1, t],
        [0, -1, -t],
        [0, 1, -t],
        [t, 0, -1],
        [t, 0, 1],
        [-t, 0, -1],
        [-t, 0, 1],
    ]
    faces = [
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ]
    verts = [np.array(v, dtype=np.float64) for v in verts]
    for _ in range(levels):
        cache, new_faces = {}, []

        def mid(a, b, cache=cache):
            key = (min(a, b), max(a, b))
            if key not in cache:
                cache[key] = len(verts)
                verts.append((verts[a] + verts[b]) / 2)
            return cache[key]

        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new_faces += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = new_faces
    v = torch.from_numpy(np.stack(verts))
    return v / v.norm(dim=-1, keepdim=True), torch.tensor(faces)
