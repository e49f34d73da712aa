"""Skeleton design and mesh of the synthetic hand (private helper of ``synthetic.py``).

Rest frame (metres, right hand, MANO-like): fingers point along -x, the back of the hand
faces +y (the palm faces -y), the thumb is on the +z side; the wrist joint is at
x ~ +0.088 and the middle-finger knuckle (MCP) near the origin.

The mesh is a network of tubes: a palm tube of 32-vertex rings opened by a 16-vertex wrist
loop; its last ring (the knuckle loop) splits into four 8-vertex finger tubes and three web
quads between them; the thumb tube leaves the palm through a hole in the palm's side. Each
finger ends in one tip vertex (a pole). This module places the vertices for a design;
``_synth_topology`` connects them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fingers in the order their tubes leave the knuckle loop (+z to -z), then the thumb.
FINGERS = ("index", "middle", "ring", "pinky", "thumb")
#: MANO joints (base, middle, end) of each finger in ``FINGERS`` order.
FINGER_JOINTS = ((1, 2, 3), (4, 5, 6), (10, 11, 12), (7, 8, 9), (13, 14, 15))
#: manopth's fingertip vertex ids in ``FINGERS`` order, and the left layer's middle tip.
TIP_IDS = (317, 444, 556, 673, 745)
LEFT_MIDDLE_TIP_ID = 445

WRIST_LOOP = 16  # vertices round the wrist opening
TRANSITION_LOOP = 23  # ring between the wrist loop and the palm
PALM_LOOP = 32  # vertices round each palm ring: 16 dorsal (+z to -z), 16 palmar (-z to +z)
PALM_RINGS = 8  # 32-vertex rings, the last one being the knuckle loop
FINGER_LOOP = 8  # vertices round a finger
#: Rings of each finger tube after its base ring (the thumb's first ring has 9 vertices).
FINGER_RINGS = (12, 13, 12, 10, 12)
THUMB_FIRST_LOOP = 9
#: Palm quads removed for the thumb: between palm rings 1..5 and columns 30..32 (= 0).
THUMB_HOLE_RINGS = (1, 5)
THUMB_HOLE_COLUMNS = (30, 32)
#: Share of the hole's shape in the thumb's first three rings (they morph into round sections).
THUMB_MORPH = (0.6, 0.3, 0.1)
#: Polar angles (from the tip) of the two rings on each rounded fingertip.
TIP_RING_ANGLES_DEG = (62.0, 30.0)


def default_design() -> dict[str, np.ndarray]:
    """The mean hand's design parameters (metres; angles in degrees where named ``_deg``)."""
    return {
        "wrist": np.array([0.088, 0.0, 0.004]),
        # knuckle (MCP) centres of index, middle, ring, pinky
        "mcp": np.array([[0.006, 0.002, 0.031], [0.0, 0.002, 0.010],
                         [0.005, 0.001, -0.0105], [0.015, -0.001, -0.030]]),
        # in-plane angle of each finger, from -x towards +z
        "fan_deg": np.array([7.0, 1.0, -6.0, -13.0]),
        # bone lengths base->middle->end->tip, per finger in FINGERS order
        "bones": np.array([[0.039, 0.023, 0.021], [0.043, 0.027, 0.023], [0.040, 0.026, 0.022],
                           [0.031, 0.019, 0.020], [0.044, 0.032, 0.027]]),
        # lateral half-width at the base, middle joint, end joint and tip cap, per finger
        "half_width": np.array([[0.0097, 0.0086, 0.0078, 0.0072], [0.0101, 0.0090, 0.0081, 0.0074],
                                [0.0095, 0.0084, 0.0076, 0.0070], [0.0086, 0.0075, 0.0068, 0.0063],
                                [0.0125, 0.0100, 0.0092, 0.0083]]),
        "thickness_ratio": np.array([0.88, 0.88, 0.88, 0.88, 0.86]),
        "cmc": np.array([0.062, -0.010, 0.020]),
        # thumb direction: in-plane angle from -x towards +z, and dip towards -y
        "thumb_dir_deg": np.array([32.0, 8.0]),
        # thumb nail roll from +y towards the outside of the hand
        "thumb_roll_deg": np.array(55.0),
        # wrist opening half-width (z) and half-thickness (y)
        "wrist_half": np.array([0.029, 0.017]),
        "palm_thickness_scale": np.array(1.0),
        "crease_offset": np.array(0.010),  # palmar knuckle row lies this far towards the tips
        "thenar_bulge": np.array(0.006),
    }


@dataclass(frozen=True)
class FingerFrame:
    """A straight finger at rest: base joint and unit axes (all (3,), metres)."""

    base: np.ndarray
    direction: np.ndarray  # towards the tip
    dorsal: np.ndarray  # back of the finger (nail side)
    lateral: np.ndarray  # dorsal x direction: a positive rotation about it flexes the finger


def finger_frames(design: dict) -> list[FingerFrame]:
    """Rest frame of each finger, in ``FINGERS`` order."""
    frames = []
    for k in range(4):
        angle = np.deg2rad(design["fan_deg"][k])
        direction = np.array([-np.cos(angle), 0.0, np.sin(angle)])
        dorsal = np.array([0.0, 1.0, 0.0])
        frames.append(FingerFrame(design["mcp"][k], direction, dorsal, np.cross(dorsal, direction)))
    yaw, dip = np.deg2rad(design["thumb_dir_deg"])
    direction = np.array([-np.cos(yaw) * np.cos(dip), -np.sin(dip), np.sin(yaw) * np.cos(dip)])
    outward = np.array([np.sin(yaw), 0.0, np.cos(yaw)])  # in-plane, away from the fingers
    roll = np.deg2rad(design["thumb_roll_deg"])
    dorsal = np.cos(roll) * np.array([0.0, 1.0, 0.0]) + np.sin(roll) * outward
    dorsal = dorsal - dorsal @ direction * direction
    dorsal /= np.linalg.norm(dorsal)
    frames.append(FingerFrame(design["cmc"], direction, dorsal, np.cross(dorsal, direction)))
    return frames


def skeleton(design: dict) -> tuple[np.ndarray, np.ndarray]:
    """Designed rest joints (16, 3) in MANO order, and fingertips (5, 3) in ``FINGERS`` order."""
    joints = np.zeros((16, 3))
    joints[0] = design["wrist"]
    tips = np.zeros((5, 3))
    for k, frame in enumerate(finger_frames(design)):
        reach = np.cumsum(design["bones"][k])  # distances of middle joint, end joint, tip
        base, middle, end = FINGER_JOINTS[k]
        joints[base] = frame.base
        joints[middle] = frame.base + reach[0] * frame.direction
        joints[end] = frame.base + reach[1] * frame.direction
        tips[k] = frame.base + reach[2] * frame.direction
    return joints, tips


# --- raw vertex positions, in build order ---------------------------------------------------

#: Angles round a finger from its lateral axis towards its back: dorsal row first (+z to -z).
_FINGER_ANGLES = np.deg2rad(22.5 + 45.0 * np.arange(8))


def _finger_ring(centre, frame, half_width, half_thick, angles=_FINGER_ANGLES):
    """(n, 3) points of an ellipse round a finger axis, in its (lateral, dorsal) plane."""
    return (centre + half_width * np.cos(angles)[:, None] * frame.lateral
            + half_thick * np.sin(angles)[:, None] * frame.dorsal)


def _knuckle_loop(design, frames):
    """(32, 3): the dorsal halves of the finger bases (+z to -z), then their palmar halves."""
    dorsal_row, palmar_row = [], []
    for k in range(4):
        frame = frames[k]
        width = design["half_width"][k][0]
        thick = design["thickness_ratio"][k] * width
        dorsal_row.append(_finger_ring(frame.base, frame, width, thick, _FINGER_ANGLES[:4]))
        crease = frame.base + design["crease_offset"] * frame.direction
        palmar_row.append(_finger_ring(crease, frame, width, thick, _FINGER_ANGLES[4:]))
    return np.concatenate(dorsal_row + palmar_row[::-1])


def _wrist_ellipse(design, x, count, scale=1.0, angles=None):
    """(count, 3) ellipse at x; angle from +z towards +y, running +z, +y, -z, -y."""
    if angles is None:
        angles = np.linspace(0, 2 * np.pi, count, endpoint=False) + np.pi / count
    half_z, half_y = design["wrist_half"] * scale
    centre = design["wrist"]
    points = np.zeros((len(angles), 3))
    points[:, 0] = x
    points[:, 1] = centre[1] - 0.001 + half_y * np.sin(angles)
    points[:, 2] = centre[2] + half_z * np.cos(angles)
    return points


def _palm_rings(design, knuckle):
    """(PALM_RINGS, 32, 3): palm rings from near the wrist to the knuckle loop."""
    centre = knuckle.mean(0)
    angles = np.arctan2(knuckle[:, 1] - centre[1], knuckle[:, 2] - centre[2])  # from +z to +y
    start = _wrist_ellipse(design, design["wrist"][0] - 0.008, PALM_LOOP, 1.06, angles)
    palmar = np.clip(-np.sin(angles), 0.0, None)  # 1 on the palm side, 0 on the back
    thumb_side = np.clip(np.cos(angles), 0.0, None)
    rings = np.zeros((PALM_RINGS, PALM_LOOP, 3))
    for r in range(PALM_RINGS):
        tau = r / (PALM_RINGS - 1)
        ring = (1 - tau) * start + tau * knuckle
        hump = np.sin(np.pi * tau)
        ring[:, 1] -= hump * design["thenar_bulge"] * palmar * (0.5 + thumb_side)
        ring[:, 1] += hump * 0.003 * (1 - palmar)  # slightly domed back
        mid_y = ring[:, 1].mean()
        ring[:, 1] = mid_y + (ring[:, 1] - mid_y) * (
            1 + (design["palm_thickness_scale"] - 1) * (1 - tau**2))
        rings[r] = ring
    return rings


def _finger_stations(design, k, first, count):
    """Distances along finger k of ``count`` rings starting at ``first``, and their half-widths.

    The last two rings lie on the rounded tip cap, the others are evenly spaced except that
    the ones nearest the middle and end joints sit on them.
    """
    bones = design["bones"][k]
    length, cap = bones.sum(), design["half_width"][k][3]
    joints_at = np.concatenate([[0.0], np.cumsum(bones)])
    dist = np.linspace(first, length - cap, count - len(TIP_RING_ANGLES_DEG))
    for joint_at in joints_at[1:3]:  # a ring right at each joint, so skinning blends there
        dist[np.argmin(np.abs(dist - joint_at))] = joint_at
    dist = list(dist)
    widths = list(np.interp(dist, joints_at, design["half_width"][k]))
    for angle in np.deg2rad(TIP_RING_ANGLES_DEG):
        dist.append(length - cap + cap * np.cos(angle))
        widths.append(cap * np.sin(angle))
    return np.array(dist), np.array(widths)


def _finger_tube(design, k, frame, first, phase=0.0):
    """(rings * 8 + 1, 3): finger k's rings after its base, then its tip pole.

    ``phase`` turns every ring's vertices round the finger axis (radians).
    """
    dist, widths = _finger_stations(design, k, first, FINGER_RINGS[k])
    ratio = design["thickness_ratio"][k]
    rings = [_finger_ring(frame.base + d * frame.direction, frame, w, ratio * w,
                          _FINGER_ANGLES + phase) for d, w in zip(dist, widths, strict=True)]
    tip = frame.base + design["bones"][k].sum() * frame.direction
    return np.concatenate(rings + [tip[None]])


def hole_loop_ids():
    """Palm (ring, column) pairs round the thumb hole, in order (12 vertices)."""
    (r0, r1), (c0, c1) = THUMB_HOLE_RINGS, THUMB_HOLE_COLUMNS
    loop = [(r0, c) for c in range(c0, c1)] + [(r, c1) for r in range(r0, r1)]
    loop += [(r1, c) for c in range(c1, c0, -1)] + [(r, c0) for r in range(r1, r0, -1)]
    return [(r, c % PALM_LOOP) for r, c in loop]


def palm_id(ring, column):
    """Raw id of the palm vertex at (ring, column)."""
    return WRIST_LOOP + TRANSITION_LOOP + ring * PALM_LOOP + column % PALM_LOOP


def _resample_loop(points, count):
    """(count, 3) points evenly spaced by arc length round a closed polyline, from points[0]."""
    closed = np.concatenate([points, points[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    at = np.linspace(0.0, arc[-1], count, endpoint=False)
    return np.stack([np.interp(at, arc, closed[:, i]) for i in range(3)], 1)


def _thumb_tube(design, frame, palm_positions):
    """(9 + rings * 8 + 1, 3): the thumb's first ring, its 8-vertex rings and its tip pole.

    The first rings morph from the hole in the palm's side into round thumb sections, and
    every thumb ring starts at the angle of the hole's first vertex so the rings line up.
    """
    hole = palm_positions[[palm_id(r, c) for r, c in hole_loop_ids()]]
    rel = hole - frame.base
    angle = np.unwrap(np.arctan2(rel @ frame.dorsal, rel @ frame.lateral))
    if angle[1] < angle[0]:  # make the hole turn like the rings (increasing angle)
        order = np.concatenate([[0], np.arange(len(hole) - 1, 0, -1)])
        hole, angle = hole[order], angle[order]
    outward = np.cross(hole - hole.mean(0), np.roll(hole, -1, 0) - hole.mean(0)).sum(0)
    outward /= np.linalg.norm(outward)
    outward *= np.sign(outward @ frame.direction)
    start = (hole.mean(0) - frame.base) @ frame.direction
    tube = _finger_tube(design, 4, frame, start + 0.012, phase=angle[0] - _FINGER_ANGLES[0])
    joints_at = np.concatenate([[0.0], np.cumsum(design["bones"][4])])
    first_dist = start + 0.005
    first_width = np.interp(first_dist, joints_at, design["half_width"][4])
    angles = angle[0] + np.linspace(0, 2 * np.pi, THUMB_FIRST_LOOP, endpoint=False)
    first = _finger_ring(frame.base + first_dist * frame.direction, frame, first_width,
                         design["thickness_ratio"][4] * first_width, angles)
    rings = [first] + [tube[FINGER_LOOP * i: FINGER_LOOP * (i + 1)] for i in range(2)]
    for i, (share, lift) in enumerate(zip(THUMB_MORPH, (0.004, 0.008, 0.012), strict=True)):
        target = _resample_loop(hole, len(rings[i])) + lift * outward
        rings[i] = share * target + (1 - share) * rings[i]
    return np.concatenate(rings + [tube[2 * FINGER_LOOP:]])


def raw_positions(design: dict) -> np.ndarray:
    """All vertices in build order (before hole clean-up, renumbering and smoothing)."""
    frames = finger_frames(design)
    x_wrist = design["wrist"][0]
    knuckle = _knuckle_loop(design, frames)
    palm = np.concatenate([_wrist_ellipse(design, x_wrist + 0.010, WRIST_LOOP),
                           _wrist_ellipse(design, x_wrist + 0.001, TRANSITION_LOOP, 1.04),
                           _palm_rings(design, knuckle).reshape(-1, 3)])
    fingers = [_finger_tube(design, k, frames[k], 0.016) for k in range(4)]
    return np.concatenate([palm] + fingers + [_thumb_tube(design, frames[4], palm)])
