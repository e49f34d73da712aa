"""Camera views for 3D hand figures, chosen for what a lesson shows.

A hand seen along the wrong axis reads as a stick: the rest hand is flat, so the default plotly
camera sees it edge-on. These views are derived from the hand's own joints (wrist, index, middle
and pinky bases), so they work for the synthetic and the official MANO model and for any global
rotation:

* ``"palm"`` — the palm faces the viewer, fingers point up (orthographic: true proportions, for
  the rest pose, shape and weight figures). A right hand then has its thumb on the right.
* ``"back"`` — the back of the hand faces the viewer, fingers up (orthographic).
* ``"pose"`` — a three-quarter perspective from the palm and thumb side, which shows how fingers
  bend (for posed hands).
* ``"camera"`` — what the camera sees: looking along +z with y down (camera space, where the
  projection matters).

:func:`scene_layout` also fits the axes tightly around the points with equal aspect, so the
hand fills the figure. Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The names :func:`scene_camera` accepts.
VIEW_NAMES = ("palm", "back", "pose", "camera")

#: Output joints that span the palm (handkit's 21-joint order).
WRIST, INDEX_BASE, MIDDLE_BASE, PINKY_BASE = 0, 5, 9, 17

#: Distance of plotly's eye from the scene centre, in scene units (the scene's largest side is 1
#: in perspective views): smaller is closer. Orthographic views zoom by scaling the scene instead
#: (:func:`scene_layout`); their eye only has to stay outside it.
EYE_DISTANCE = {"palm": 2.0, "back": 2.0, "pose": 2.0, "camera": 2.0}


@dataclass(frozen=True)
class HandFrame:
    """Orthonormal directions of a hand, from its joints.

    Attributes:
        fingers: (3,) from the wrist towards the middle finger's base.
        across: (3,) across the palm from the little finger towards the index finger (and thumb).
        palm: (3,) out of the palm (the side the fingers flex towards).
    """

    fingers: np.ndarray
    across: np.ndarray
    palm: np.ndarray


def _unit(vector: np.ndarray, what: str) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm < 1e-9:
        raise ValueError(f"cannot find the hand's {what} direction: the joints coincide")
    return vector / norm


def hand_frame(joints, *, side: str = "right") -> HandFrame:
    """The hand's finger, across-palm and palm-normal directions from its 21 joints.

    Args:
        joints: (21, 3) joints in handkit's order (or (1, 21, 3)), any unit.
        side: "right" or "left"; the palm normal of a left hand is mirrored.

    >>> rest = np.zeros((21, 3)); rest[MIDDLE_BASE] = [-90, 0, 0]
    >>> rest[INDEX_BASE] = [-90, 0, 20]; rest[PINKY_BASE] = [-80, 0, -30]
    >>> frame = hand_frame(rest)
    >>> frame.fingers.tolist(), frame.palm.round(6).tolist()
    ([-1.0, 0.0, 0.0], [0.0, -1.0, 0.0])
    """
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    j = np.asarray(joints.detach().cpu() if hasattr(joints, "detach") else joints, float)
    if j.ndim == 3 and j.shape[0] == 1:
        j = j[0]
    if j.shape != (21, 3):
        raise ValueError(f"joints must have shape (21, 3) or (1, 21, 3), got {j.shape}")
    fingers = _unit(j[MIDDLE_BASE] - j[WRIST], "finger")
    across = j[INDEX_BASE] - j[PINKY_BASE]
    across = _unit(across - across.dot(fingers) * fingers, "across-palm")
    # For a right hand, (fingers, palm, across) is right-handed: seen from the palm side with the
    # fingers up, the thumb is on the viewer's right.
    palm = np.cross(across, fingers) if side == "right" else np.cross(fingers, across)
    return HandFrame(fingers=fingers, across=across, palm=palm)


def _xyz(vector: np.ndarray) -> dict[str, float]:
    return {axis: round(float(value), 4) for axis, value in zip("xyz", vector, strict=True)}


def scene_camera(view: str, joints=None, *, side: str = "right") -> dict:
    """A plotly ``scene.camera`` for ``view`` (one of :data:`VIEW_NAMES`).

    Args:
        view: "palm", "back", "pose" or "camera".
        joints: (21, 3) joints that define the hand's directions; needed for every view but
            "camera".
        side: the hand's side, for the palm direction.

    Returns:
        ``{"eye": ..., "up": ..., "center": ..., "projection": {"type": ...}}``; the eye is a unit
        direction scaled by :data:`EYE_DISTANCE` (plotly measures it in scene units).
    """
    if view not in VIEW_NAMES:
        raise ValueError(f"view must be one of {VIEW_NAMES}, got {view!r}")
    if view == "camera":
        eye, up, projection = np.array([0.0, 0.0, -1.0]), np.array([0.0, -1.0, 0.0]), "perspective"
    else:
        if joints is None:
            raise ValueError(f"the {view!r} view needs the hand's joints")
        frame = hand_frame(joints, side=side)
        up = frame.fingers
        if view == "palm":
            eye, projection = frame.palm, "orthographic"
        elif view == "back":
            eye, projection = -frame.palm, "orthographic"
        else:  # pose: from the palm side, a little from the thumb side and from below the fingers
            eye = _unit(frame.palm + 0.55 * frame.across - 0.35 * frame.fingers, "view")
            projection = "perspective"
    return {
        "eye": _xyz(eye * EYE_DISTANCE[view]),
        "up": _xyz(up),
        "center": {"x": 0.0, "y": 0.0, "z": 0.0},
        "projection": {"type": projection},
    }


def _fit_ranges(points: np.ndarray, pad: float) -> tuple[list[list[float]], np.ndarray]:
    """Per-axis [low, high] around (N, 3) points, padded by ``pad`` times the largest extent."""
    low, high = points.min(0), points.max(0)
    margin = pad * float((high - low).max() or 1.0)
    low, high = low - margin, high + margin
    ranges = [[round(float(a), 1), round(float(b), 1)] for a, b in zip(low, high, strict=True)]
    return ranges, high - low


def _screen_axes(camera: dict) -> tuple[np.ndarray, np.ndarray]:
    """(right, up) unit directions on screen for a plotly ``camera`` dict."""
    eye = np.array([camera["eye"][a] for a in "xyz"])
    up = np.array([camera["up"][a] for a in "xyz"])
    right = _unit(np.cross(up, eye), "screen-right")
    return right, np.cross(_unit(eye, "eye"), right)


#: plotly's vertical field of view in perspective scenes.
PERSPECTIVE_FOV_DEG = 45.0


def _visible_height(camera: dict) -> float:
    """Scene units seen from the bottom to the top of the scene at its centre.

    plotly's orthographic camera shows 2 units whatever the eye distance; its perspective
    camera sees ``2 d tan(fov / 2)`` at the eye's distance d.
    """
    if camera["projection"]["type"] == "orthographic":
        return 2.0
    distance = float(np.linalg.norm([camera["eye"][a] for a in "xyz"]))
    return 2.0 * distance * float(np.tan(np.radians(PERSPECTIVE_FOV_DEG) / 2))


def screen_right(camera: dict) -> np.ndarray:
    """(3,) unit direction that points to the right on screen for a plotly ``camera`` dict."""
    return _screen_axes(camera)[0]


def screen_extent(points, camera: dict) -> tuple[float, float]:
    """(width, height) of (N, 3) points seen through ``camera``, orthographically, same unit."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    right, up = _screen_axes(camera)
    return float(np.ptp(pts @ right)), float(np.ptp(pts @ up))


def scene_layout(points, view: str, joints=None, *, side: str = "right",
                 size: tuple[int, int] = (640, 400), pad: float = 0.04, fill: float = 0.9,
                 nticks: int = 4) -> dict:
    """A plotly ``scene`` dict: ``view``'s camera, tight axes around ``points``, equal aspect.

    The scene is scaled so the points fill ``fill`` of its width or height (see
    :func:`_visible_height`); in orthographic views the axis that points at the viewer gets no
    tick labels, which would all sit on one spot.

    Args:
        points: (N, 3) everything drawn (vertices and joints), mm.
        view: one of :data:`VIEW_NAMES`.
        joints: (21, 3) joints defining the hand's directions (for all views but "camera").
        side: the hand's side.
        size: (width, height) of the scene in pixels.
        pad: margin around the points as a fraction of their largest extent.
        fill: share of the scene the points fill in orthographic views.
        nticks: at most this many ticks per axis (few, so labels do not crowd).
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    camera = scene_camera(view, joints, side=side)
    ranges, extent = _fit_ranges(pts, pad)
    width_mm, height_mm = screen_extent(pts, camera)
    visible_height = _visible_height(camera)
    visible_width = visible_height * size[0] / size[1]
    scale = fill * min(visible_height / (height_mm * (1 + 2 * pad)),
                       visible_width / (width_mm * (1 + 2 * pad)))  # scene units per mm
    eye = np.array([camera["eye"][a] for a in "xyz"])
    hidden = None
    if camera["projection"]["type"] == "orthographic":
        hidden = "xyz"[int(np.argmax(np.abs(eye)))]

    def axis(name: str, span: list[float]) -> dict:
        shown = name != hidden
        return dict(range=span, nticks=nticks, tickfont=dict(size=10), showspikes=False,
                    showticklabels=shown,
                    title=dict(text=f"{name} (mm)" if shown else "", font=dict(size=11)))

    return dict(
        camera=camera,
        aspectmode="manual",
        aspectratio=_xyz(extent * scale),
        xaxis=axis("x", ranges[0]),
        yaxis=axis("y", ranges[1]),
        zaxis=axis("z", ranges[2]),
    )
