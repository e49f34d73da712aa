"""The MANO model as plain arrays, and the constants of MANO's joint layout.

A :class:`ManoModel` is what every MANO source (the embedded synthetic model, an
official ``MANO_RIGHT.pkl``) is turned into before :class:`handkit.mano.ManoLayer`
uses it. It holds numpy arrays only: no chumpy, no scipy sparse matrices.

Shape letters: V = 778 vertices, F = 1538 faces, 16 MANO joints, 21 output joints.
Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

NUM_VERTS = 778
NUM_FACES = 1538
NUM_MANO_JOINTS = 16
NUM_JOINTS = 21
NUM_BETAS = 10
NUM_POSE_FEATURES = 135  # 15 joints x (R - I) flattened row-major

SIDES = ("right", "left")

#: Parent of each of MANO's 16 joints; the wrist (0) has none (-1).
#: MANO's own order: 0 wrist, 1-3 index, 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb.
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

#: Fingertip vertex ids per side, ordered thumb, index, middle, ring, pinky (manopth's choice).
TIP_VERTEX_IDS = {
    "right": (745, 317, 444, 556, 673),
    "left": (745, 317, 445, 556, 673),
}

#: Index into [16 MANO joints, 5 tips] giving handkit's (= manopth's) 21-joint order:
#: wrist, then thumb, index, middle, ring, pinky, each as three joints from the palm
#: outwards followed by the tip.
MANO_TO_OUTPUT_ORDER = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)

FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")

#: Names of the 21 output joints, in output order.
JOINT_NAMES = ("wrist",) + tuple(
    f"{finger}_{part}" for finger in FINGER_NAMES for part in ("mcp", "pip", "dip", "tip")
)

#: Parent of each of the 21 output joints (for drawing skeletons); the wrist has none (-1).
OUTPUT_PARENTS = (-1,) + tuple(
    p for f in range(5) for p in (0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f)
)


@dataclass(frozen=True, eq=False)
class ManoModel:
    """The arrays of one MANO hand model, in metres.

    Attributes:
        v_template: (V, 3) rest-pose mesh of the mean shape.
        shapedirs: (V, 3, 10) shape blend shapes (Sec. III-A, beta).
        posedirs: (V, 3, 135) pose-corrective blend shapes, applied to (R_j - I) of joints 1-15.
        j_regressor: (16, V) dense joint regressor; rest joints = j_regressor @ shaped vertices.
        weights: (V, 16) linear-blend-skinning weights, rows sum to 1.
        faces: (F, 3) int64 triangle vertex ids.
        parents: (16,) int64 kinematic tree; parents[0] == -1.
        hands_components: (45, 45) PCA pose basis, rows are components.
        hands_mean: (45,) mean finger pose in axis-angle.
        side: "right" or "left".
        source: where the arrays came from (a path, or "synthetic").
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    parents: np.ndarray
    hands_components: np.ndarray
    hands_mean: np.ndarray
    side: str = "right"
    source: str = "unknown"

    #: Expected shape of each array field.
    SHAPES = {
        "v_template": (NUM_VERTS, 3),
        "shapedirs": (NUM_VERTS, 3, NUM_BETAS),
        "posedirs": (NUM_VERTS, 3, NUM_POSE_FEATURES),
        "j_regressor": (NUM_MANO_JOINTS, NUM_VERTS),
        "weights": (NUM_VERTS, NUM_MANO_JOINTS),
        "faces": (NUM_FACES, 3),
        "parents": (NUM_MANO_JOINTS,),
        "hands_components": (45, 45),
        "hands_mean": (45,),
    }

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {self.side!r}")
        for name, shape in self.SHAPES.items():
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):
                raise ValueError(
                    f"MANO model ({self.source}): {name} must be a numpy array of shape "
                    f"{shape}, got {type(value).__name__}"
                )
            if value.shape != shape:
                raise ValueError(
                    f"MANO model ({self.source}): {name} must have shape {shape}, "
                    f"got {value.shape}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"MANO model ({self.source}): {name} contains NaN or inf")
        if self.faces.min() < 0 or self.faces.max() >= NUM_VERTS:
            raise ValueError(
                f"MANO model ({self.source}): faces must index vertices 0..{NUM_VERTS - 1}, "
                f"found {self.faces.min()}..{self.faces.max()}"
            )
        if tuple(int(p) for p in self.parents) != MANO_PARENTS:
            raise ValueError(
                f"MANO model ({self.source}): parents must be MANO's tree {MANO_PARENTS}, "
                f"got {tuple(int(p) for p in self.parents)}"
            )

    @classmethod
    def from_arrays(
        cls, arrays: dict, *, side: str = "right", source: str = "unknown"
    ) -> ManoModel:
        """Build a model from a dict of array-likes, casting to float64 / int64.

        ``parents`` may be given directly, or as MANO's ``kintree_table`` (2, 16) whose
        first row holds the parents with the root stored as 2**32 - 1.
        """
        has_tree = "kintree_table" in arrays
        missing = [k for k in cls.SHAPES
                   if k not in arrays and not (k == "parents" and has_tree)]
        if missing:
            raise ValueError(f"MANO model ({source}): missing arrays {missing}")
        kwargs = {}
        for name in cls.SHAPES:
            if name == "parents" and "parents" not in arrays:
                table = np.asarray(arrays["kintree_table"])
                if table.ndim != 2 or table.shape[0] != 2:
                    raise ValueError(
                        f"MANO model ({source}): kintree_table must have shape (2, 16), "
                        f"got {table.shape}"
                    )
                parents = table[0].astype(np.int64)
                parents[0] = -1
                kwargs[name] = parents
                continue
            dtype = np.int64 if name in ("faces", "parents") else np.float64
            kwargs[name] = np.ascontiguousarray(np.asarray(arrays[name]).astype(dtype))
        return cls(**kwargs, side=side, source=source)

    @property
    def tip_vertex_ids(self) -> tuple[int, ...]:
        """Fingertip vertex ids for this side (thumb, index, middle, ring, pinky)."""
        return TIP_VERTEX_IDS[self.side]

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name (for saving)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in self.SHAPES}
