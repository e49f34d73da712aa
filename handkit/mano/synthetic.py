"""The embedded synthetic MANO-format hand model: no licence download needed.

A deterministic generator builds a right hand with MANO's layout (778 vertices, 1538 faces, a
16-edge wrist opening, 16 joints in MANO's order, manopth's fingertip vertex ids
317/444/556/673/745) and ships it as ``handkit/mano/assets/synthetic_right.npz``. The left
hand is its mirror image (x -> -x). It is *not* MANO: it is a stand-in with the same arrays.

Rest pose (metres): the hand is flat, fingers point along -x, the back of the hand faces +y
(palm faces -y), the thumb is on the +z side; the wrist joint is near x = +0.088 and the
middle-finger knuckle near the origin. Wrist joint to middle knuckle 88 mm, palm about 75 mm
wide at the knuckles and 34 mm thick, middle finger 93 mm from knuckle joint to tip.

How it is built:
- mesh: a palm tube opened at the wrist, splitting into four finger tubes and webs at the
  knuckles, a thumb tube leaving through the palm's side; each finger closed by a tip vertex;
- skinning weights: each finger segment follows its bone, blending over a few mm at a joint;
- joint regressor: non-negative weights over the vertices round each joint, centred on it;
- pose correctives (``posedirs``): skin bulging out round a bending joint, linear in R - I;
- pose PCA: learnt by SVD from sampled natural poses (fist, point, pinch, grasp, OK sign, ...)
  mixed at random, with noise, within physiological limits;
- shape directions, one unit of beta being about one standard deviation of adult hands:

  ====  ====================  ===========================================================
  beta  name                  effect of beta > 0
  ====  ====================  ===========================================================
  0     size                  the whole hand 5 % bigger (every bone longer)
  1     palm_width            knuckles and wrist 6 % further apart sideways
  2     finger_length         index, middle, ring and pinky bones 5 % longer
  3     thumb_length          thumb bones 6 % longer and a little thicker
  4     finger_thickness      the four fingers 7 % thicker (bones unchanged)
  5     palm_thickness        palm and wrist 8 % thicker (back to palm)
  6     palm_length           wrist and thumb base 6 mm / 4 mm further from the knuckles
  7     index_ring_ratio      index bones 4 % longer, ring bones 4 % shorter
  8     pinky_length          pinky bones 7 % longer
  9     thenar                fleshier thumb base (thenar bulge, wider thumb base)
  ====  ====================  ===========================================================

Command line: ``python -m handkit.mano.synthetic --out PATH`` regenerates the shipped file:
byte for byte on the machine that wrote it; elsewhere the arrays agree to float32 precision and a
quad whose diagonals are equally long may be cut along the other one. Introduced in
``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import io
from pathlib import Path

import numpy as np

from handkit.mano._synth_mesh import default_design, skeleton
from handkit.mano._synth_poses import (
    NAMED_POSES,
    angles_to_axis_angle,
    named_pose_angles,
    pose_pca,
    sample_natural_poses,
)
from handkit.mano._synth_rig import (
    bone_directions,
    joint_regressor,
    pose_correctives,
    skinning_weights,
)
from handkit.mano._synth_topology import hand_vertices, topology
from handkit.mano.model import MANO_PARENTS, SIDES, ManoModel
from handkit.npz import write_npz

SHAPE_DIRECTION_NAMES = (
    "size", "palm_width", "finger_length", "thumb_length", "finger_thickness",
    "palm_thickness", "palm_length", "index_ring_ratio", "pinky_length", "thenar",
)
ASSET_NAME = "synthetic_right.npz"
POSE_SAMPLES = 4000
POSE_SEED = 20240611
_MIRROR = np.array([-1.0, 1.0, 1.0])  # diagonal of M, the x -> -x reflection


def _shape_design(design: dict, direction: int, amount: float) -> dict:
    """A copy of ``design`` moved ``amount`` units along shape direction ``direction``."""
    d = {key: np.array(value, dtype=np.float64) for key, value in design.items()}
    t = amount
    if direction == 0:
        for key in ("wrist", "mcp", "bones", "half_width", "cmc", "wrist_half",
                    "crease_offset", "thenar_bulge"):
            d[key] = d[key] * (1 + 0.05 * t)
    elif direction == 1:
        d["mcp"][:, 2] = d["mcp"][1, 2] + (d["mcp"][:, 2] - d["mcp"][1, 2]) * (1 + 0.06 * t)
        d["cmc"][2] *= 1 + 0.06 * t
        d["wrist_half"][0] *= 1 + 0.06 * t
    elif direction == 2:
        d["bones"][:4] *= 1 + 0.05 * t
    elif direction == 3:
        d["bones"][4] *= 1 + 0.06 * t
        d["half_width"][4] *= 1 + 0.03 * t
    elif direction == 4:
        d["half_width"][:4] *= 1 + 0.07 * t
    elif direction == 5:
        d["palm_thickness_scale"] = d["palm_thickness_scale"] * (1 + 0.08 * t)
        d["wrist_half"][1] *= 1 + 0.08 * t
    elif direction == 6:
        d["wrist"][0] += 0.006 * t
        d["cmc"][0] += 0.004 * t
    elif direction == 7:
        d["bones"][0] *= 1 + 0.04 * t
        d["bones"][2] *= 1 - 0.04 * t
    elif direction == 8:
        d["bones"][3] *= 1 + 0.07 * t
    else:
        d["thenar_bulge"] = d["thenar_bulge"] + 0.003 * t
        d["half_width"][4, :2] *= 1 + 0.08 * t
    return d


def shape_directions(design: dict, step: float = 1e-3) -> np.ndarray:
    """(778, 3, 10) vertex offsets per unit of each beta (central differences of the mesh)."""
    columns = [
        (hand_vertices(_shape_design(design, k, step))
         - hand_vertices(_shape_design(design, k, -step))) / (2 * step)
        for k in range(len(SHAPE_DIRECTION_NAMES))
    ]
    return np.stack(columns, axis=-1)


def build_synthetic_model() -> ManoModel:
    """Generate the right synthetic hand (deterministic, float64, metres).

    Takes a few seconds. Returns a ``ManoModel`` with side "right" and source "synthetic".
    """
    design = default_design()
    topo = topology()
    vertices = hand_vertices(design)  # (778, 3)
    joints, _ = skeleton(design)  # (16, 3)
    weights = skinning_weights(vertices, topo, design)  # (778, 16)
    regressor = joint_regressor(vertices, joints)  # (16, 778)
    posedirs = pose_correctives(vertices, weights, regressor @ vertices, bone_directions(design))
    components, mean = pose_pca(sample_natural_poses(POSE_SAMPLES, POSE_SEED, design))
    return ManoModel(
        v_template=vertices, shapedirs=shape_directions(design), posedirs=posedirs,
        j_regressor=regressor, weights=weights, faces=topo.faces.copy(),
        parents=np.array(MANO_PARENTS, dtype=np.int64), hands_components=components,
        hands_mean=mean, side="right", source="synthetic",
    )


def _mirror_axis_angles(pose: np.ndarray) -> np.ndarray:
    """Axis-angles (..., 3k) of mirrored rotations M R M: (wx, wy, wz) -> (wx, -wy, -wz)."""
    per_joint = pose.reshape(pose.shape[:-1] + (-1, 3))
    return (per_joint * -_MIRROR).reshape(pose.shape)


def mirror_model(model: ManoModel) -> ManoModel:
    """The other hand, by the reflection M = diag(-1, 1, 1) (x -> -x).

    Vertices and shape directions are reflected; faces reversed so normals still point out;
    a rotation R becomes M R M, so the pose feature R - I becomes M (R - I) M and
    posedirs[v, a, (c, d)] gains the factor M_aa M_cc M_dd; PCA poses are mirrored
    axis-angles; regressor and weights are unchanged.
    """
    sign_cd = np.outer(_MIRROR, _MIRROR).ravel()  # (9,) M_cc M_dd for feature 3c + d
    posedirs = model.posedirs * _MIRROR[None, :, None] * np.tile(sign_cd, 15)[None, None, :]
    other = "left" if model.side == "right" else "right"
    return ManoModel(
        v_template=model.v_template * _MIRROR, shapedirs=model.shapedirs * _MIRROR[:, None],
        posedirs=posedirs, j_regressor=model.j_regressor.copy(), weights=model.weights.copy(),
        faces=model.faces[:, ::-1].copy(), parents=model.parents.copy(),
        hands_components=_mirror_axis_angles(model.hands_components),
        hands_mean=_mirror_axis_angles(model.hands_mean), side=other,
        source=f"mirrored {model.source}",
    )


def named_hand_pose(name: str, side: str = "right") -> np.ndarray:
    """(45,) axis-angle finger pose of a named pose for the synthetic hand (no PCA).

    Names: flat, relaxed, fist, point, pinch, ok, grasp, spread, victory, thumbs_up, claw.
    Use it with ``ManoLayer(use_pca=False, flat_hand_mean=True)`` after 3 global values.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    pose = angles_to_axis_angle(named_pose_angles(name), default_design())
    return pose if side == "right" else _mirror_axis_angles(pose)


def _stored_arrays(model: ManoModel) -> dict[str, np.ndarray]:
    """The arrays as stored: floats as float32, faces as uint16, parents as int8.

    Floats are first rounded to 1e-10 so that last-bit differences of the float64 build (e.g.
    BLAS summing in another order with another thread count) cannot change the stored bytes.
    """
    stored = {}
    for name, value in model.arrays().items():
        if name == "faces":
            stored[name] = value.astype(np.uint16)
        elif name == "parents":
            stored[name] = value.astype(np.int8)
        else:
            stored[name] = (np.round(value, 10) + 0.0).astype(np.float32)  # + 0.0: no -0.0
    return stored


def save_model_npz(model: ManoModel, path: str | Path) -> None:
    """Write ``model`` as a compressed .npz, byte for byte the same for the same model.

    Unlike ``np.savez_compressed`` no clock time is stored: every zip entry has a fixed date,
    and entries follow ``ManoModel.SHAPES`` order. Loadable with ``np.load``.
    """
    write_npz(path, _stored_arrays(model), compresslevel=9)


def load_synthetic_model(side: str = "right") -> ManoModel:
    """The shipped synthetic hand for ``side`` ("right", or "left" = mirrored right), float64."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    data = (importlib.resources.files("handkit.mano") / "assets" / ASSET_NAME).read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        right = ManoModel.from_arrays(dict(arrays), side="right", source="synthetic")
    return right if side == "right" else mirror_model(right)


def _default_asset_path() -> Path:
    return Path(__file__).resolve().parent / "assets" / ASSET_NAME


def main(argv: list[str] | None = None) -> int:
    """``python -m handkit.mano.synthetic [--out PATH]``: regenerate the shipped model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=_default_asset_path(),
                        help="where to write the .npz (default: the shipped asset)")
    args = parser.parse_args(argv)
    save_model_npz(build_synthetic_model(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


__all__ = [
    "NAMED_POSES", "SHAPE_DIRECTION_NAMES", "build_synthetic_model", "load_synthetic_model",
    "mirror_model", "named_hand_pose", "save_model_npz", "shape_directions",
]

if __name__ == "__main__":
    raise SystemExit(main())
