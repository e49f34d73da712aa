"""Rasterisation, the first half of :mod:`handkit.render`: camera-space triangles projected
with the ``intrinsics``, each triangle enumerating the pixel centres inside its bounding box, a
barycentric test keeping the covered ones, and a scatter-min z-buffer picking the nearest
triangle per pixel (:func:`rasterize` -> :class:`Fragments`). Shading lives in
:mod:`handkit.render`, which re-exports these names.

Conventions (as in :mod:`handkit.data.record`): camera x right, y down, z forward, lengths in
mm, pixel (u, v) = (fx x / z + cx, fy y / z + cy). The centre of the pixel in column ``j`` and
row ``i`` is at (u, v) = (j, i) (OpenCV), so an image of width W spans u in [-0.5, W - 0.5].

Shape letters: B batch, V vertices, F faces, H x W image, N candidate (face, pixel) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from handkit.geometry import project_points

#: Triangles with a vertex closer than this (mm) to the camera plane are not drawn.
NEAR_MM = 1.0


@dataclass(frozen=True)
class Fragments:
    """Per-pixel result of :func:`rasterize`.

    Attributes:
        face_id: (B, H, W) int64 index of the visible face, -1 at background.
        bary: (B, H, W, 3) perspective-correct barycentric weights of that face's
            vertices (zeros at background).
        depth: (B, H, W) camera-space z of the visible surface, mm; ``inf`` at background.
    """

    face_id: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor


def check_mesh_inputs(verts: torch.Tensor, faces: torch.Tensor, intrinsics: torch.Tensor,
                      image_size) -> tuple:
    """Validate shapes; return (intrinsics as (B, 3, 3), (H, W))."""
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ValueError(f"verts must have shape (B, V, 3), got {tuple(verts.shape)}")
    if not verts.is_floating_point():
        raise ValueError(f"verts must be a float tensor, got {verts.dtype}")
    if faces.ndim != 2 or faces.shape[-1] != 3 or faces.dtype not in (torch.int32, torch.int64):
        raise ValueError(
            "faces must be an integer tensor of shape (F, 3), "
            f"got {faces.dtype} {tuple(faces.shape)}"
        )
    if faces.numel() and (faces.min() < 0 or faces.max() >= verts.shape[1]):
        raise ValueError(
            f"faces must index vertices 0..{verts.shape[1] - 1}, "
            f"found {int(faces.min())}..{int(faces.max())}"
        )
    if intrinsics.shape == (3, 3):
        intrinsics = intrinsics.expand(verts.shape[0], 3, 3)
    if intrinsics.shape != (verts.shape[0], 3, 3):
        raise ValueError(
            f"intrinsics must have shape (3, 3) or (B, 3, 3) with B = {verts.shape[0]}, "
            f"got {tuple(intrinsics.shape)}"
        )
    if len(image_size) != 2 or min(int(s) for s in image_size) < 1:
        raise ValueError(f"image_size must be (H, W) with positive ints, got {image_size!r}")
    return intrinsics.to(verts.dtype), (int(image_size[0]), int(image_size[1]))


def _candidates(tri_uv: torch.Tensor, visible: torch.Tensor, H: int, W: int):
    """Enumerate (face, pixel) pairs with the pixel centre in the face's bounding box.

    Args:
        tri_uv: (B, F, 3, 2) projected triangle corners, pixels.
        visible: (B, F) bool, faces to draw.
    Returns:
        flat face index into B*F (N,), pixel column x (N,), pixel row y (N,).
    """
    lo = tri_uv.amin(2).ceil().clamp(min=0)  # (B, F, 2) first pixel centre in the box
    hi = tri_uv.amax(2).floor()  # (B, F, 2) last pixel centre in the box
    hi = torch.minimum(hi, torch.tensor([W - 1, H - 1], dtype=hi.dtype))
    size = (hi - lo + 1).clamp(min=0).long() * visible[..., None]  # (B, F, 2) box width, height
    count = (size[..., 0] * size[..., 1]).reshape(-1)  # (B*F,)
    face = torch.repeat_interleave(torch.arange(count.numel()), count)  # (N,)
    local = torch.arange(face.numel()) - torch.repeat_interleave(
        count.cumsum(0) - count, count
    )  # (N,) place in box
    width = size[..., 0].reshape(-1).index_select(0, face)  # (N,)
    start = lo.reshape(-1, 2).long().index_select(0, face)  # (N, 2)
    return face, start[:, 0] + local % width, start[:, 1] + local // width


def _edge_planes(tri_uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edge functions of each triangle as affine functions of the pixel position.

    Args:
        tri_uv: (..., 3, 2) projected corners.
    Returns:
        planes (..., 3, 3) with e_i(u, v) = planes[..., i, :] @ (u, v, 1), the edge function
        of the edge opposite corner i, and twice the signed area (...,) = e_i at corner i.
        The screen-space barycentrics are w_i = e_i / area.
    """
    nxt = tri_uv.roll(-1, dims=-2)  # corner i+1
    prv = tri_uv.roll(1, dims=-2)  # corner i+2: the edge opposite corner i runs nxt -> prv
    a = nxt[..., 1] - prv[..., 1]  # (..., 3) coefficient of u
    b = prv[..., 0] - nxt[..., 0]  # coefficient of v
    c = -(a * nxt[..., 0] + b * nxt[..., 1])  # constant
    area = a[..., 0] * tri_uv[..., 0, 0] + b[..., 0] * tri_uv[..., 0, 1] + c[..., 0]
    return torch.stack([a, b, c], -1), area


def rasterize(verts: torch.Tensor, faces: torch.Tensor, intrinsics: torch.Tensor,
              image_size) -> Fragments:
    """Z-buffer rasterisation of camera-space triangle meshes.

    A pixel is covered by a triangle when its centre lies inside or on the projected
    triangle (either winding; no back-face culling). Among covering triangles the one with
    the smallest depth at the pixel centre wins (ties, to float32 precision: lowest face index).

    Args:
        verts: (B, V, 3) camera-space vertices, mm (z > 0 in front of the camera).
        faces: (F, 3) int vertex indices.
        intrinsics: (B, 3, 3) or (3, 3) intrinsics.
        image_size: (H, W) pixels.
    Returns:
        :class:`Fragments` with (B, H, W) face ids, barycentrics and depth.

    Example (corners project to (2.5, 2.5), (6.5, 2.5), (4.5, 6.5)):

    >>> verts = torch.tensor([[[-1.0, -1.0, 8.0], [1.0, -1.0, 8.0], [0.0, 1.0, 8.0]]])
    >>> intrinsics = torch.tensor([[16.0, 0.0, 4.5], [0.0, 16.0, 4.5], [0.0, 0.0, 1.0]])
    >>> frags = rasterize(verts, torch.tensor([[0, 1, 2]]), intrinsics, (8, 8))
    >>> (frags.face_id[0] + 1).tolist()[3:6]  # rows 3-5 (the others are empty)
    [[0, 0, 0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0]]
    >>> int((frags.face_id >= 0).sum())
    8
    """
    intrinsics, (H, W) = check_mesh_inputs(verts, faces, intrinsics, image_size)
    B, n_faces = verts.shape[0], faces.shape[0]
    faces = faces.long()
    inv_z = 1.0 / verts[..., 2][:, faces].reshape(-1, 3)  # (B*F, 3); 1/z is affine in screen space
    tri_uv = project_points(verts, intrinsics)[:, faces]  # (B, F, 3, 2)
    planes, area = _edge_planes(tri_uv)  # (B, F, 3, 3), (B, F)
    visible = (verts[..., 2][:, faces] > NEAR_MM).all(-1) & (area.abs() > 1e-12)  # (B, F)
    face, px, py = _candidates(tri_uv.detach(), visible, H, W)
    plane = planes.reshape(-1, 9).index_select(0, face).reshape(-1, 3, 3)  # (N, 3 edges, (a, b, c))
    edge = (
        plane[..., 0] * px[:, None].to(plane.dtype)
        + plane[..., 1] * py[:, None].to(plane.dtype)
        + plane[..., 2]
    )
    area = area.reshape(-1).index_select(0, face)  # (N,)
    keep = ((edge * area.sign()[:, None]) >= 0).all(-1).nonzero().squeeze(1)
    face = face.index_select(0, keep)
    w = (
        edge.index_select(0, keep) / area.index_select(0, keep)[:, None]
    )  # (N, 3) screen-space barycentrics
    pixel = (
        (face // n_faces) * (H * W) + py.index_select(0, keep) * W + px.index_select(0, keep)
    )  # (N,) into B*H*W
    w_over_z = w * inv_z.index_select(0, face)  # (N, 3)
    depth = 1.0 / w_over_z.sum(-1)  # (N,)
    # z-buffer: one scatter-min over keys packing (float32 depth bits, candidate index); for
    # positive floats the bit pattern orders like the value, so the nearest candidate wins.
    key = (depth.float().view(torch.int32).long() << 32) | torch.arange(face.numel())  # (N,)
    best = torch.full((B * H * W,), torch.iinfo(torch.long).max).scatter_reduce(
        0, pixel, key, "amin"
    )
    hit = (best < torch.iinfo(torch.long).max).nonzero().squeeze(1)
    chosen = best.index_select(0, hit) & 0xFFFFFFFF  # candidate index of each covered pixel
    face_id = torch.full((B * H * W,), -1, dtype=torch.long)
    face_id[hit] = face.index_select(0, chosen) % n_faces
    zbuf = torch.full((B * H * W,), float("inf"), dtype=depth.dtype)
    zbuf[hit] = depth.index_select(0, chosen)
    bary = torch.zeros(B * H * W, 3, dtype=verts.dtype)
    bary[hit] = w_over_z.index_select(0, chosen) * zbuf[hit, None]  # perspective-correct
    return Fragments(face_id.reshape(B, H, W), bary.reshape(B, H, W, 3), zbuf.reshape(B, H, W))
