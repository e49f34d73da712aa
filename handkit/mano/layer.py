"""``ManoLayer``: MANO as a torch module with manopth's arguments and conventions.

gamma = (r, theta, beta) -> mesh (B, 778, 3) and joints (B, 21, 3) in millimetres
(paper Sec. II-A). The maths is in :mod:`handkit.mano.lbs`; this module loads a model,
registers its arrays as buffers and checks inputs. Introduced in
``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handkit.mano import lbs
from handkit.mano.loading import load_model
from handkit.mano.model import MANO_PARENTS, NUM_JOINTS, SIDES, ManoModel

ROOT_ROT_MODES = ("axisang", "rot6d")
JOINT_ROT_MODES = ("axisang", "rotmat")
METRES_TO_MM = 1000.0


@dataclass(frozen=True)
class ManoSteps:
    """The intermediate results of one forward pass (for teaching), all in millimetres.

    Attributes:
        rotmats: (B, 16, 3, 3) local joint rotations.
        shaped_verts: (B, 778, 3) template + shape blend (rest pose).
        rest_joints: (B, 16, 3) joints regressed from the shaped rest mesh.
        posed_rest_verts: (B, 778, 3) shaped verts + pose correctives, still in rest pose.
        posed_joints: (B, 16, 3) joints after the kinematic chain.
        verts: (B, 778, 3) skinned vertices (what ``forward`` returns, before centring/trans).
        joints: (B, 21, 3) output joints (likewise).
    """

    rotmats: torch.Tensor
    shaped_verts: torch.Tensor
    rest_joints: torch.Tensor
    posed_rest_verts: torch.Tensor
    posed_joints: torch.Tensor
    verts: torch.Tensor
    joints: torch.Tensor


class ManoLayer(torch.nn.Module):
    """MANO hand model layer, argument-compatible with manopth's ``ManoLayer``.

    Args:
        mano_root: folder with the official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``; None uses
            ``$HANDKIT_MANO_ROOT`` if set, else the embedded synthetic model.
        side: "right" or "left".
        use_pca: pose given as PCA coefficients (True) or 45 axis-angle values (False).
        ncomps: number of PCA components (1..45) when ``use_pca``.
        flat_hand_mean: True: zero coefficients give a flat hand; False: the mean pose.
        center_idx: output joint (0..20) moved to the origin when ``trans`` is None or all zero.
        root_rot_mode: "axisang" (3 values) or "rot6d" (6 values) for the global rotation.
        joint_rot_mode: "axisang" or "rotmat" (then ``use_pca`` must be False and the pose is
            (B, 16, 3, 3) rotation matrices); ignored when ``use_pca`` (as in manopth).
        model: a ``ManoModel`` to use instead of loading one (then ``mano_root`` must be None).
        dtype: floating dtype of the model buffers (float32 like manopth, or float64). Inputs
            are cast to it. Prefer this over ``.double()``, which would upcast float32 buffers.

    Example:
        >>> layer = ManoLayer(ncomps=6)
        >>> verts, joints = layer(torch.zeros(2, 9), torch.zeros(2, 10))
        >>> tuple(verts.shape), tuple(joints.shape)
        ((2, 778, 3), (2, 21, 3))
    """

    def __init__(
        self,
        mano_root: str | Path | None = None,
        side: str = "right",
        use_pca: bool = True,
        ncomps: int = 6,
        flat_hand_mean: bool = True,
        center_idx: int | None = None,
        root_rot_mode: str = "axisang",
        joint_rot_mode: str = "axisang",
        *,
        model: ManoModel | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        _check_options(side, use_pca, ncomps, center_idx, root_rot_mode, joint_rot_mode)
        if model is None:
            model = load_model(mano_root, side)
        elif mano_root is not None:
            raise ValueError("give either mano_root or model, not both")
        elif model.side != side:
            raise ValueError(f"side={side!r} but the given model is a {model.side} hand")
        self.model = model
        self.side = side
        self.use_pca = bool(use_pca)
        self.ncomps = int(ncomps) if use_pca else 45
        self.flat_hand_mean = bool(flat_hand_mean)
        self.center_idx = center_idx
        self.root_rot_mode = root_rot_mode
        self.joint_rot_mode = "axisang" if use_pca else joint_rot_mode
        self.rot = 3 if root_rot_mode == "axisang" else 6
        self.tip_vertex_ids = model.tip_vertex_ids
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self._register_model_buffers(model, dtype)

    def _register_model_buffers(self, model: ManoModel, dtype: torch.dtype) -> None:
        def buf(name, array, buffer_dtype=dtype):
            array = np.ascontiguousarray(array)
            self.register_buffer(name, torch.as_tensor(array, dtype=buffer_dtype))

        num_verts = model.v_template.shape[0]
        shape_rows = model.shapedirs.reshape(num_verts * 3, -1).T  # (10, V*3)
        pose_rows = model.posedirs.reshape(num_verts * 3, -1).T  # (135, V*3)
        # (10, 16, 3): the regressor applied to each shape direction
        joint_shapedirs = np.einsum("jv,vck->kjc", model.j_regressor, model.shapedirs)
        buf("v_template", model.v_template)
        buf("blend_dirs", np.concatenate([shape_rows, pose_rows], 0))  # (145, V*3)
        buf("joint_template", model.j_regressor @ model.v_template)  # (16, 3)
        buf("joint_shapedirs", joint_shapedirs.reshape(joint_shapedirs.shape[0], -1))  # (10, 48)
        buf("weights", model.weights)
        buf("faces", model.faces, torch.long)
        buf("hands_components", model.hands_components)
        buf("selected_comps", model.hands_components[: self.ncomps])
        mean = np.zeros(45) if self.flat_hand_mean else model.hands_mean
        buf("hands_mean", mean)

    @property
    def th_faces(self) -> torch.Tensor:
        """manopth's name for ``faces`` (F, 3)."""
        return self.faces

    @property
    def num_betas(self) -> int:
        return self.joint_shapedirs.shape[0]

    def expected_pose_shape(self) -> str:
        """The pose input shape this layer takes, as text for messages and docs."""
        if self.joint_rot_mode == "rotmat":
            return "(B, 16, 3, 3)"
        return f"(B, {self.rot + self.ncomps})"

    def pose_to_rotmats(self, pose_coeffs: torch.Tensor) -> torch.Tensor:
        """Pose input -> local rotation matrices (B, 16, 3, 3), joint 0 = global rotation.

        PCA coefficients map to axis-angles as coeffs @ components[:ncomps] + mean; the
        global rotation never goes through PCA.
        """
        batch = pose_coeffs.shape[0]
        if self.joint_rot_mode == "rotmat":
            return lbs.project_to_rotation(pose_coeffs)
        finger_coeffs = pose_coeffs[:, self.rot:]  # (B, ncomps)
        if self.use_pca:
            finger_coeffs = finger_coeffs @ self.selected_comps  # (B, 45)
        finger_axis_angles = (finger_coeffs + self.hands_mean).reshape(batch, 15, 3)
        finger_rot = lbs.axis_angle_to_rotmat(finger_axis_angles)  # (B, 15, 3, 3)
        if self.root_rot_mode == "axisang":
            root_rot = lbs.axis_angle_to_rotmat(pose_coeffs[:, :3])
        else:
            root_rot = lbs.rot6d_to_rotmat(pose_coeffs[:, :6])
        return torch.cat([root_rot[:, None], finger_rot], 1)  # (B, 16, 3, 3)

    def forward(
        self,
        pose_coeffs: torch.Tensor,
        betas: torch.Tensor | None = None,
        trans: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MANO forward pass.

        Args:
            pose_coeffs: ``expected_pose_shape()``: global rotation (3 axis-angle or 6D) then
                ``ncomps`` PCA coefficients or 45 axis-angles; or (B, 16, 3, 3) rotations.
            betas: (B, 10) shape, or None for the mean shape.
            trans: (B, 3) translation in metres, or None. When None or all zero, the output is
                centred on joint ``center_idx`` (if set); otherwise trans is added, no centring.
        Returns:
            verts (B, 778, 3) and joints (B, 21, 3), millimetres, joints in handkit/manopth order.
        """
        pose_coeffs, betas, trans = self._check_inputs(pose_coeffs, betas, trans)
        rotmats = self.pose_to_rotmats(pose_coeffs)
        rest_joints = lbs.regress_rest_joints(self.joint_template, self.joint_shapedirs, betas)
        coefficients = torch.cat([betas, lbs.pose_features(rotmats)], 1)  # (B, 145)
        posed_rest = lbs.blend_vertices(self.v_template, self.blend_dirs, coefficients)
        global_rot, global_pos = lbs.kinematic_chain(rotmats, rest_joints, MANO_PARENTS)
        verts = lbs.skin_vertices(posed_rest, self.weights, global_rot, global_pos, rest_joints)
        joints = lbs.select_output_joints(global_pos, verts, self.tip_vertex_ids)
        verts, joints = self._place(verts, joints, trans)
        return verts * METRES_TO_MM, joints * METRES_TO_MM

    def steps(self, pose_coeffs: torch.Tensor, betas: torch.Tensor | None = None) -> ManoSteps:
        """Run the forward pass step by step and return every intermediate (mm), for teaching."""
        pose_coeffs, betas, _ = self._check_inputs(pose_coeffs, betas, None)
        num_betas = self.num_betas
        rotmats = self.pose_to_rotmats(pose_coeffs)
        shaped = lbs.blend_vertices(self.v_template, self.blend_dirs[:num_betas], betas)
        rest_joints = lbs.regress_rest_joints(self.joint_template, self.joint_shapedirs, betas)
        features = lbs.pose_features(rotmats)
        posed_rest = shaped + (features @ self.blend_dirs[num_betas:]).reshape(shaped.shape)
        global_rot, global_pos = lbs.kinematic_chain(rotmats, rest_joints, MANO_PARENTS)
        verts = lbs.skin_vertices(posed_rest, self.weights, global_rot, global_pos, rest_joints)
        joints = lbs.select_output_joints(global_pos, verts, self.tip_vertex_ids)
        mm = METRES_TO_MM
        return ManoSteps(rotmats, shaped * mm, rest_joints * mm, posed_rest * mm,
                         global_pos * mm, verts * mm, joints * mm)

    def _place(self, verts, joints, trans):
        """Add ``trans`` (metres), or centre on ``center_idx`` when trans is None / all zero."""
        if trans is None or not bool(trans.any()):
            if self.center_idx is not None:
                center = joints[:, self.center_idx: self.center_idx + 1]  # (B, 1, 3)
                return verts - center, joints - center
            return verts, joints
        return verts + trans[:, None], joints + trans[:, None]

    def _check_inputs(self, pose_coeffs, betas, trans):
        pose_coeffs = _as_float_tensor("pose_coeffs", pose_coeffs, self.v_template)
        if self.joint_rot_mode == "rotmat":
            ok = pose_coeffs.dim() == 4 and pose_coeffs.shape[1:] == (16, 3, 3)
        else:
            ok = pose_coeffs.dim() == 2 and pose_coeffs.shape[1] == self.rot + self.ncomps
        if not ok:
            raise ValueError(
                f"pose_coeffs must have shape {self.expected_pose_shape()} "
                f"({self._pose_layout()}), got {tuple(pose_coeffs.shape)}"
            )
        batch = pose_coeffs.shape[0]
        if betas is None:
            betas = self.v_template.new_zeros(batch, self.num_betas)
        betas = _as_float_tensor("betas", betas, self.v_template)
        _check_shape("betas", betas, (batch, self.num_betas), f"(B, {self.num_betas})", batch)
        if trans is not None:
            trans = _as_float_tensor("trans", trans, self.v_template)
            _check_shape("trans", trans, (batch, 3), "(B, 3) in metres", batch)
        return pose_coeffs, betas, trans

    def _pose_layout(self) -> str:
        if self.joint_rot_mode == "rotmat":
            return "16 rotation matrices"
        root = "3 axis-angle" if self.rot == 3 else "6D rotation"
        rest = f"{self.ncomps} PCA coefficients" if self.use_pca else "45 axis-angle values"
        return f"{root} global rotation + {rest}"

    def extra_repr(self) -> str:
        return (
            f"side={self.side!r}, use_pca={self.use_pca}, ncomps={self.ncomps}, "
            f"flat_hand_mean={self.flat_hand_mean}, center_idx={self.center_idx}, "
            f"root_rot_mode={self.root_rot_mode!r}, joint_rot_mode={self.joint_rot_mode!r}, "
            f"source={self.model.source!r}"
        )


def _check_options(side, use_pca, ncomps, center_idx, root_rot_mode, joint_rot_mode) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    if use_pca and not (isinstance(ncomps, (int, np.integer)) and 1 <= ncomps <= 45):
        raise ValueError(f"ncomps must be an integer in 1..45 when use_pca=True, got {ncomps!r}")
    if center_idx is not None and not (
        isinstance(center_idx, (int, np.integer)) and 0 <= center_idx < NUM_JOINTS
    ):
        raise ValueError(f"center_idx must be None or a joint index 0..20, got {center_idx!r}")
    if root_rot_mode not in ROOT_ROT_MODES:
        raise ValueError(f"root_rot_mode must be one of {ROOT_ROT_MODES}, got {root_rot_mode!r}")
    if joint_rot_mode not in JOINT_ROT_MODES:
        raise ValueError(f"joint_rot_mode must be one of {JOINT_ROT_MODES}, got {joint_rot_mode!r}")
    if joint_rot_mode == "rotmat" and not use_pca and root_rot_mode != "axisang":
        raise ValueError("joint_rot_mode='rotmat' takes all 16 rotations as matrices; "
                         "root_rot_mode must stay 'axisang'")


def _as_float_tensor(name: str, value, like: torch.Tensor) -> torch.Tensor:
    """A floating tensor on ``like``'s device and dtype, or a ValueError saying what was given."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value.to(device=like.device, dtype=like.dtype)


def _check_shape(name, value, expected, text, batch) -> None:
    if tuple(value.shape) != expected:
        raise ValueError(f"{name} must have shape {text} with B={batch}, got {tuple(value.shape)}")
