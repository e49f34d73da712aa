"""A small vectorised renderer in torch, for synthetic hand images.

No OpenGL and no external renderer: :mod:`handkit.rasterize` turns camera-space triangles into
per-pixel fragments (a z-buffer rasteriser; its names are re-exported here), and this module
colours them: per-vertex colours (smooth skin variation), interpolated with perspective-correct
barycentrics and lit with a Lambertian term plus ambient light.

Conventions (as in :mod:`handkit.data.record`): camera x right, y down, z forward,
lengths in mm, pixel (u, v) = (fx x / z + cx, fy y / z + cy). The centre of the pixel in
column ``j`` and row ``i`` is at (u, v) = (j, i) (OpenCV), so an image of width W spans
u in [-0.5, W - 0.5].

Shape letters: B batch, V vertices, F faces, H x W image, N candidate (face, pixel) pairs.
Introduced in ``notebooks/02_sparse_videos.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from handkit.rasterize import NEAR_MM, Fragments, check_mesh_inputs, rasterize  # noqa: F401 (re-exported)

#: Light direction (camera frame, the way the light travels): from above-left, behind the camera.
DEFAULT_LIGHT_DIR = (0.35, 0.55, 1.0)

#: A few skin base tones (RGB in [0, 1]) that :func:`skin_vertex_colors` varies around.
SKIN_TONES = (
    (0.96, 0.80, 0.69),
    (0.90, 0.72, 0.60),
    (0.80, 0.60, 0.47),
    (0.66, 0.47, 0.35),
    (0.50, 0.34, 0.24),
    (0.36, 0.24, 0.17),
)

#: render_mesh rasterises at most about this many (supersampled) pixels at once (cache-friendly).
PIXELS_PER_CHUNK = 2**18

@dataclass(frozen=True)
class Rendering:
    """Output of :func:`render_mesh`.

    Attributes:
        image: (B, H, W, 3) float RGB in [0, 1].
        mask: (B, H, W) bool, True where the mesh is visible.
        depth: (B, H, W) float, mm; ``inf`` at background.
    """

    image: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals (B, V, 3) of meshes (B, V, 3) with faces (F, 3)."""
    tri = verts[:, faces.long()]  # (B, F, 3, 3)
    face_n = torch.cross(
        tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1
    )  # (B, F, 3)
    normals = torch.zeros_like(verts)
    for corner in range(3):
        normals.index_add_(1, faces[:, corner].long(), face_n)
    return F.normalize(normals, dim=-1, eps=1e-12)


def _pixel_weights(frags: Fragments, faces: torch.Tensor) -> tuple:
    """Covered pixels: flat indices (P,), batch index (P,), corner vertices (P, 3), bary (P, 3)."""
    flat_face = frags.face_id.reshape(-1)
    hit = (flat_face >= 0).nonzero().squeeze(1)  # (P,)
    batch = hit // (frags.face_id.shape[1] * frags.face_id.shape[2])
    return hit, batch, faces.long()[flat_face[hit]], frags.bary.reshape(-1, 3)[hit]


def _gather(
    attributes: torch.Tensor, batch: torch.Tensor, corners: torch.Tensor, bary: torch.Tensor
) -> torch.Tensor:
    """Barycentric blend of per-vertex attributes (B, V, C) at P pixels -> (P, C)."""
    return (attributes[batch[:, None], corners] * bary[..., None]).sum(1)  # (P, 3, C) -> (P, C)


def _scatter_image(frags: Fragments, hit: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Per-pixel values (P, C) at flat indices ``hit`` -> (B, H, W, C) image, 0 elsewhere."""
    out = values.new_zeros(frags.face_id.numel(), values.shape[-1])
    out[hit] = values
    return out.reshape(*frags.face_id.shape, -1)


def interpolate(frags: Fragments, faces: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Per-vertex attributes (B, V, C) at the pixels -> (B, H, W, C); 0 at background."""
    hit, batch, corners, bary = _pixel_weights(frags, faces)
    return _scatter_image(
        frags, hit, _gather(attributes, batch, corners, bary.to(attributes.dtype))
    )


def shade(
    frags: Fragments,
    verts: torch.Tensor,
    faces: torch.Tensor,
    colors: torch.Tensor,
    *,
    light_dir=DEFAULT_LIGHT_DIR,
    ambient: float = 0.35,
) -> torch.Tensor:
    """Lambertian shading with ambient light, normals turned towards the camera.

    Only covered pixels are computed (the hand fills a small part of the image).

    Args:
        frags: from :func:`rasterize`.
        verts: (B, V, 3) camera-space vertices, mm.
        faces: (F, 3).
        colors: (B, V, 3) or (V, 3) albedo in [0, 1].
        light_dir: (3,) direction the light travels, camera frame.
        ambient: share of light that reaches every surface, in [0, 1].
    Returns:
        (B, H, W, 3) colours in [0, 1], 0 at background.
    """
    if not 0.0 <= ambient <= 1.0:
        raise ValueError(f"ambient must be in [0, 1], got {ambient}")
    colors = colors.to(verts.dtype).expand(verts.shape[0], -1, -1)
    hit, batch, corners, bary = _pixel_weights(frags, faces)
    bary = bary.to(verts.dtype)
    normal = F.normalize(
        _gather(vertex_normals(verts, faces), batch, corners, bary), dim=-1, eps=1e-12
    )  # (P, 3)
    point = _gather(verts, batch, corners, bary)  # (P, 3)
    facing = torch.where(
        (normal * point).sum(-1, keepdim=True) > 0, -normal, normal
    )  # towards camera
    light = F.normalize(torch.as_tensor(light_dir, dtype=verts.dtype), dim=0)
    diffuse = (-(facing @ light)).clamp(min=0)[:, None]  # (P, 1)
    rgb = _gather(colors, batch, corners, bary) * (ambient + (1.0 - ambient) * diffuse)
    return _scatter_image(frags, hit, rgb)


def render_mesh(
    verts: torch.Tensor,
    faces: torch.Tensor,
    intrinsics: torch.Tensor,
    image_size,
    *,
    colors: torch.Tensor | None = None,
    background: torch.Tensor | None = None,
    light_dir=DEFAULT_LIGHT_DIR,
    ambient: float = 0.35,
    supersample: int = 1,
) -> Rendering:
    """Render shaded meshes over a background.

    With ``supersample = s > 1`` the image is rendered at s times the size and averaged
    down (anti-aliasing); the mask is then "at least half the sub-pixels covered" and the
    depth the nearest sub-pixel depth. Large batches are rasterised a few images at a time
    (:data:`PIXELS_PER_CHUNK`), which keeps the work arrays in cache.

    Args:
        verts: (B, V, 3) camera-space vertices, mm.
        faces: (F, 3) int vertex indices.
        intrinsics: (B, 3, 3) or (3, 3) intrinsics for the (H, W) output.
        image_size: (H, W).
        colors: (B, V, 3) or (V, 3) albedo in [0, 1]; default a uniform skin tone.
        background: (B, H, W, 3) in [0, 1]; default black.
        light_dir, ambient: see :func:`shade`.
        supersample: integer factor >= 1.
    Returns:
        :class:`Rendering` (image (B, H, W, 3) float, mask (B, H, W) bool, depth (B, H, W) mm).
    """
    intrinsics, (H, W) = check_mesh_inputs(verts, faces, intrinsics, image_size)
    if int(supersample) != supersample or supersample < 1:
        raise ValueError(f"supersample must be an integer >= 1, got {supersample!r}")
    if background is not None and background.shape != (verts.shape[0], H, W, 3):
        raise ValueError(
            f"background must have shape {(verts.shape[0], H, W, 3)}, got {tuple(background.shape)}"
        )
    if colors is None:
        colors = torch.tensor(SKIN_TONES[1], dtype=verts.dtype).expand(verts.shape[1], 3)
    if colors.shape[-2:] != (verts.shape[1], 3):
        raise ValueError(
            f"colors must have shape (B, V, 3) or (V, 3) with V = {verts.shape[1]}, "
            f"got {tuple(colors.shape)}"
        )
    colors = colors.to(verts.dtype).expand(verts.shape[0], -1, -1)  # (B, V, 3)
    s = int(supersample)
    chunk = max(1, PIXELS_PER_CHUNK // (H * W * s * s))
    parts = [
        _render_chunk(
            verts[i : i + chunk],
            faces,
            intrinsics[i : i + chunk],
            (H, W),
            colors[i : i + chunk],
            light_dir,
            ambient,
            s,
        )
        for i in range(0, verts.shape[0], chunk)
    ]
    image, cover, depth = (torch.cat(p) for p in zip(*parts, strict=True))
    bg = torch.zeros_like(image) if background is None else background.to(image.dtype)
    image = image + (1.0 - cover[..., None]) * bg
    mask = cover >= 0.5
    return Rendering(
        image.clamp(0, 1), mask, torch.where(mask, depth, torch.full_like(depth, float("inf")))
    )


def _render_chunk(verts, faces, intrinsics, image_size, colors, light_dir, ambient, s):
    """Shaded colour (B, H, W, 3), coverage (B, H, W) in [0, 1] and nearest depth of a chunk."""
    H, W = image_size
    frags = rasterize(verts, faces, scale_intrinsics(intrinsics, s), (H * s, W * s))
    rgb = shade(frags, verts, faces, colors, light_dir=light_dir, ambient=ambient)  # (B, sH, sW, 3)
    cover = (frags.face_id >= 0).to(verts.dtype)
    if s == 1:
        return rgb, cover, frags.depth
    rgb = F.avg_pool2d(rgb.permute(0, 3, 1, 2), s).permute(0, 2, 3, 1)
    cover = F.avg_pool2d(cover[:, None], s)[:, 0]
    return rgb, cover, -F.max_pool2d(-frags.depth[:, None], s)[:, 0]


def scale_intrinsics(intrinsics: torch.Tensor, factor: float) -> torch.Tensor:
    """Intrinsics (..., 3, 3) for an image resized by ``factor`` (pixel centres at integers).

    u' = factor * u + (factor - 1) / 2, and the same for v.
    """
    out = intrinsics.clone()
    out[..., :2, :] = factor * intrinsics[..., :2, :] + 0.5 * (factor - 1) * intrinsics[..., 2:3, :]
    return out


def skin_vertex_colors(
    rest_verts: torch.Tensor, *, generator: torch.Generator, tone=None
) -> torch.Tensor:
    """Smoothly varying skin albedo for one hand.

    A base tone (random from :data:`SKIN_TONES` unless given) times a sum of three random
    low-frequency waves over the rest-pose vertex positions (wavelengths 40-120 mm),
    so neighbouring vertices get similar colours.

    Args:
        rest_verts: (V, 3) rest-pose vertices, mm.
        generator: torch random generator (seeded by the caller).
        tone: optional (3,) RGB base colour in [0, 1].
    Returns:
        (V, 3) float colours in [0, 1].
    """
    if tone is None:
        tone = SKIN_TONES[int(torch.randint(len(SKIN_TONES), (1,), generator=generator))]
    tone = torch.as_tensor(tone, dtype=rest_verts.dtype)
    dirs = F.normalize(
        torch.randn(3, 3, generator=generator, dtype=rest_verts.dtype), dim=-1
    )  # (waves, xyz)
    wavelength = 40.0 + 80.0 * torch.rand(3, generator=generator, dtype=rest_verts.dtype)
    phase = 6.2832 * torch.rand(3, generator=generator, dtype=rest_verts.dtype)
    waves = torch.sin(rest_verts @ dirs.T * (6.2832 / wavelength) + phase)  # (V, 3 waves)
    tint = torch.tensor([0.05, -0.03, -0.04], dtype=rest_verts.dtype)  # towards red
    shade_ = 1.0 + 0.07 * waves[:, :1] + waves[:, 1:2] * tint  # (V, 3)
    return (tone * shade_ * (1.0 + 0.03 * waves[:, 2:3])).clamp(0, 1)


def random_backgrounds(n: int, image_size, *, generator: torch.Generator) -> torch.Tensor:
    """Random smooth backgrounds so that a network cannot rely on a constant colour.

    Each image is a linear gradient between two random colours, plus a smooth random
    texture (a coarse random grid upsampled bicubically) and a little per-pixel noise.

    Args:
        n: number of images.
        image_size: (H, W).
        generator: torch random generator (seeded by the caller).
    Returns:
        (n, H, W, 3) float32 in [0, 1].
    """
    H, W = int(image_size[0]), int(image_size[1])
    out = []
    for _ in range(n):
        c0, c1 = torch.rand(2, 3, generator=generator)
        angle = 6.2832 * torch.rand((), generator=generator)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
        t = (0.5 + 0.35 * (xs * torch.cos(angle) + ys * torch.sin(angle)))[..., None]  # (H, W, 1)
        image = c0 * (1 - t) + c1 * t
        cells = int(torch.randint(2, 9, (1,), generator=generator))
        coarse = torch.rand(1, 3, cells, cells, generator=generator) - 0.5
        texture = F.interpolate(coarse, size=(H, W), mode="bicubic", align_corners=True)[0].permute(
            1, 2, 0
        )
        strength = 0.6 * torch.rand((), generator=generator)
        noise = 0.04 * torch.randn(H, W, 3, generator=generator)
        out.append((image + strength * texture + noise).clamp(0, 1))
    return torch.stack(out)


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """Float image(s) in [0, 1] (..., 3) -> uint8 (..., 3), rounded."""
    return (image.clamp(0, 1) * 255.0).round().to(torch.uint8)
