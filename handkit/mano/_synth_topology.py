"""Mesh structure of the synthetic hand (private helper of ``synthetic.py``).

Faces, vertex numbering (manopth's fingertip ids) and smoothing are fixed once from the
default design; ``hand_vertices`` then turns any design into the 778 rest vertices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from handkit.mano._synth_mesh import (
    FINGER_LOOP,
    FINGER_RINGS,
    LEFT_MIDDLE_TIP_ID,
    PALM_LOOP,
    PALM_RINGS,
    THUMB_FIRST_LOOP,
    THUMB_HOLE_COLUMNS,
    THUMB_HOLE_RINGS,
    TIP_IDS,
    TRANSITION_LOOP,
    WRIST_LOOP,
    default_design,
    hole_loop_ids,
    palm_id,
    raw_positions,
)

SMOOTHING_STEPS = 12


def _finger_offsets():
    """First raw id of each finger tube (``FINGERS`` order) and the total raw count."""
    offsets = [WRIST_LOOP + TRANSITION_LOOP + PALM_RINGS * PALM_LOOP]
    for k in range(5):
        extra = THUMB_FIRST_LOOP if k == 4 else 0
        offsets.append(offsets[-1] + extra + FINGER_RINGS[k] * FINGER_LOOP + 1)
    return offsets[:5], offsets[5]


def _split_quad(points, a, b, c, d):
    """Two triangles for quad a-b-c-d, cut along its shorter diagonal."""
    if np.linalg.norm(points[a] - points[c]) <= np.linalg.norm(points[b] - points[d]):
        return [(a, b, c), (a, c, d)]
    return [(a, b, d), (b, c, d)]


def _stitch(points, loop_a, loop_b):
    """Triangles joining two closed loops of any sizes turning the same way (len(a) + len(b))."""
    loop_a, loop_b = list(loop_a), list(loop_b)
    shift = int(np.argmin(np.linalg.norm(points[loop_b] - points[loop_a[0]], axis=1)))
    loop_b = loop_b[shift:] + loop_b[:shift]
    m, n = len(loop_a), len(loop_b)
    i = j = 0
    triangles = []
    while i < m or j < n:
        if j == n or (i < m and (i + 1) / m <= (j + 1) / n):
            triangles.append((loop_a[i % m], loop_a[(i + 1) % m], loop_b[j % n]))
            i += 1
        else:
            triangles.append((loop_a[i % m], loop_b[(j + 1) % n], loop_b[j % n]))
            j += 1
    return triangles


def _ring_faces(points, ring_a, ring_b):
    """Triangles between two rings of equal size, vertex i of one facing vertex i of the other."""
    n = len(ring_a)
    faces = []
    for i in range(n):
        faces += _split_quad(points, ring_a[i], ring_a[(i + 1) % n], ring_b[(i + 1) % n], ring_b[i])
    return faces


def _raw_faces(points):
    """All triangles over the raw vertex ids (orientation fixed later)."""
    wrist = list(range(WRIST_LOOP))
    transition = list(range(WRIST_LOOP, WRIST_LOOP + TRANSITION_LOOP))
    palm = [[palm_id(r, c) for c in range(PALM_LOOP)] for r in range(PALM_RINGS)]
    faces = _stitch(points, wrist, transition) + _stitch(points, transition, palm[0])
    hole = {(r, c % PALM_LOOP)
            for r in range(*THUMB_HOLE_RINGS) for c in range(*THUMB_HOLE_COLUMNS)}
    for r in range(PALM_RINGS - 1):
        for c in range(PALM_LOOP):
            if (r, c) not in hole:
                faces += _split_quad(points, palm[r][c], palm[r][(c + 1) % PALM_LOOP],
                                     palm[r + 1][(c + 1) % PALM_LOOP], palm[r + 1][c])
    knuckle = palm[-1]
    offsets, _ = _finger_offsets()
    for k in range(4):
        base = knuckle[4 * k: 4 * k + 4] + knuckle[PALM_LOOP - 4 * k - 4: PALM_LOOP - 4 * k]
        faces += _tube_faces(points, base, offsets[k], FINGER_RINGS[k])
        if k < 3:  # web between finger k and finger k + 1
            top, bottom = 4 * k + 3, PALM_LOOP - 4 * k - 4
            faces += _split_quad(points, knuckle[top], knuckle[top + 1],
                                 knuckle[bottom - 1], knuckle[bottom])
    hole_loop = [palm_id(r, c) for r, c in hole_loop_ids()]
    first = list(range(offsets[4], offsets[4] + THUMB_FIRST_LOOP))
    faces += _stitch(points, _same_sense(points, hole_loop, first), first)
    faces += _tube_faces(points, first, offsets[4] + THUMB_FIRST_LOOP, FINGER_RINGS[4],
                         stitch=True)
    return np.array(faces, dtype=np.int64)


def _same_sense(points, loop, reference):
    """``loop`` reordered if needed to turn the same way as ``reference`` about their axis."""
    axis = points[reference].mean(0) - points[loop].mean(0)

    def turning(ids):
        p = points[ids] - points[ids].mean(0)
        return np.cross(p, np.roll(p, -1, 0)).sum(0) @ axis

    return loop if np.sign(turning(loop)) == np.sign(turning(reference)) else loop[::-1]


def _tube_faces(points, base, offset, rings, stitch=False):
    """Triangles of a finger tube: base ring -> its 8-vertex rings -> tip pole."""
    faces = []
    previous = list(base)
    for i in range(rings):
        ring = list(range(offset + FINGER_LOOP * i, offset + FINGER_LOOP * (i + 1)))
        if stitch and i == 0:
            faces += _stitch(points, previous, _same_sense(points, ring, previous))
        else:
            faces += _ring_faces(points, previous, ring)
        previous = ring
    pole = offset + FINGER_LOOP * rings
    faces += [(previous[i], previous[(i + 1) % FINGER_LOOP], pole) for i in range(FINGER_LOOP)]
    return faces


def _orient_outward(faces, points):
    """Faces flipped so all agree with their neighbours and face out of the hand."""
    faces = faces.copy()
    edge_faces = {}
    for f, tri in enumerate(faces):
        for a, b in ((0, 1), (1, 2), (2, 0)):
            edge_faces.setdefault(frozenset((tri[a], tri[b])), []).append(f)
    done = np.zeros(len(faces), bool)
    done[0] = True
    queue = [0]
    while queue:
        f = queue.pop()
        tri = faces[f]
        for a, b in ((0, 1), (1, 2), (2, 0)):
            for g in edge_faces[frozenset((tri[a], tri[b]))]:
                if done[g]:
                    continue
                other = list(faces[g])
                # consistent neighbours traverse a shared edge in opposite directions
                if any(other[i] == tri[a] and other[(i + 1) % 3] == tri[b] for i in range(3)):
                    faces[g] = faces[g][::-1].copy()
                done[g] = True
                queue.append(g)
    v0, v1, v2 = points[faces[:, 0]], points[faces[:, 1]], points[faces[:, 2]]
    centre = points.mean(0)
    volume = np.einsum("ij,ij->i", v0 - centre, np.cross(v1 - centre, v2 - centre)).sum()
    return faces if volume > 0 else faces[:, ::-1].copy()


@dataclass(frozen=True)
class Topology:
    """The fixed mesh structure: which raw vertices are kept, in what order, and the faces."""

    kept_raw_ids: np.ndarray  # (778,) raw id of each final vertex
    faces: np.ndarray  # (1538, 3) final vertex ids, outward winding
    finger_of_vertex: np.ndarray  # (778,) 0..4 for finger tubes (FINGERS order), -1 for palm
    palm_column: np.ndarray  # (778,) palm column 0..31, or -1


@lru_cache(maxsize=1)
def topology() -> Topology:
    """Build the mesh structure from the default design (cached; the same for every design)."""
    points = raw_positions(default_design())
    faces = _raw_faces(points)
    used = np.unique(faces)
    offsets, total = _finger_offsets()
    finger = np.full(total, -1)
    for k in range(5):
        finger[offsets[k]: offsets[k + 1] if k < 4 else total] = k
    column = np.full(total, -1)
    palm_ids = np.arange(PALM_RINGS * PALM_LOOP)
    column[palm_id(0, 0) + palm_ids] = palm_ids % PALM_LOOP
    order = _final_order(used, faces, offsets)
    new_id = np.full(total, -1)
    new_id[order] = np.arange(len(order))
    final_faces = _orient_outward(new_id[faces], points[order])
    return Topology(order, final_faces, finger[order], column[order])


def _final_order(used, faces, offsets):
    """Raw ids in final order: the tip poles at manopth's tip ids, a tip-ring vertex at 445."""
    poles = [offsets[k] + FINGER_RINGS[k] * FINGER_LOOP + (THUMB_FIRST_LOOP if k == 4 else 0)
             for k in range(5)]
    middle_ring = poles[1] - FINGER_LOOP  # first vertex of the ring round the middle tip
    fixed = dict(zip(TIP_IDS, poles, strict=True))
    fixed[LEFT_MIDDLE_TIP_ID] = middle_ring + 2  # a dorsal vertex of that ring
    rest = [v for v in used if v not in fixed.values()]
    order, rest_iter = [], iter(rest)
    for slot in range(len(used)):
        order.append(fixed[slot] if slot in fixed else next(rest_iter))
    return np.array(order)


def _neighbour_lists(faces, count):
    neighbours = [set() for _ in range(count)]
    for a, b, c in faces:
        neighbours[a] |= {b, c}
        neighbours[b] |= {a, c}
        neighbours[c] |= {a, b}
    return [sorted(n) for n in neighbours]


@lru_cache(maxsize=1)
def _smoothing_operator() -> np.ndarray:
    """(778, 778) linear Taubin smoothing of the palm and finger roots (tips untouched)."""
    topo = topology()
    count = len(topo.kept_raw_ids)
    laplacian = np.zeros((count, count))
    for v, nbrs in enumerate(_neighbour_lists(topo.faces, count)):
        laplacian[v, nbrs] = 1.0 / len(nbrs)
        laplacian[v, v] = -1.0
    # how much each vertex moves: palm fully, the first rings of each finger less, the wrist not
    mobility = np.where(topo.finger_of_vertex < 0, 1.0, 0.0)
    for _ in range(2):  # spread a little onto the finger roots
        mobility = np.maximum(mobility, 0.5 * (np.abs(laplacian) @ mobility - mobility))
    raw = topo.kept_raw_ids
    mobility[raw < WRIST_LOOP] = 0.0
    step_in = np.eye(count) + 0.5 * mobility[:, None] * laplacian
    step_out = np.eye(count) - 0.53 * mobility[:, None] * laplacian
    operator = np.eye(count)
    for _ in range(SMOOTHING_STEPS):
        operator = step_out @ (step_in @ operator)
    return operator


def hand_vertices(design: dict) -> np.ndarray:
    """(778, 3) rest vertices of the hand built from ``design``, metres."""
    return _smoothing_operator() @ raw_positions(design)[topology().kept_raw_ids]
