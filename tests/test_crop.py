"""Crops keep the intrinsics exact: projected joints stay on the same image content; the roll is a
rigid camera rotation about the optical axis."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from handkit.data.crop import (
    MAX_ROTATION_RAD,
    camera_roll,
    crop_record,
    joint_box,
    project,
    random_roll_crop,
    warp_image,
)
from handkit.data.ho3d import HO3DReader
from handkit.data.record import FrameRecord

FIXTURE = Path(__file__).resolve().parents[1] / "data_samples" / "ho3d_fixture"
#: A distinct colour per marked joint (wrist, thumb tip, index tip, pinky tip).
MARKED = {0: (255, 0, 0), 4: (0, 255, 0), 8: (0, 0, 255), 20: (255, 255, 0)}


def rotmat(rotvec):
    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec)).numpy()


def marked_record(seed: int, fx: float = 300.0, fy: float = 300.0) -> FrameRecord:
    """A 160 x 200 image with a 7 x 7 coloured block at each of four projected joints; the hand
    is about 60 px from the principal point, so that a wrong principal point shows."""
    rng = np.random.default_rng(seed)
    intrinsics = np.array([[fx, 0.0, 40.0], [0.0, fy, 30.0], [0.0, 0.0, 1.0]])
    root = np.array([rng.uniform(90, 110), rng.uniform(80, 100), 600.0])
    offsets = rng.uniform(-60, 60, (21, 3)) * [1, 1, 0.3]
    offsets[0] = 0
    for a, b in ((0, 4), (0, 8), (0, 20), (4, 8), (4, 20), (8, 20)):  # keep markers apart
        while np.linalg.norm(offsets[a, :2] - offsets[b, :2]) < 30:
            offsets[b, :2] = rng.uniform(-60, 60, 2)
    joints = root + offsets
    image = np.zeros((160, 200, 3), dtype=np.uint8)
    for joint, colour in MARKED.items():
        u, v = np.rint(project(joints[joint : joint + 1], intrinsics)[0]).astype(int)
        image[v - 3 : v + 4, u - 3 : u + 4] = colour
    theta = np.concatenate([rng.normal(0, 0.5, 3), rng.normal(0, 0.2, 45)])
    return FrameRecord(
        image=image, intrinsics=intrinsics, root=root, theta=theta, beta=np.zeros(10),
        joints=joints,
        joint_valid=np.ones(21, dtype=bool), labelled=True, video_id="synthetic", frame_index=0,
        verts=joints[[0, 4, 8]] + 1.0, mask=image.any(axis=2),
    )


def assert_markers_under_projections(record: FrameRecord) -> None:
    uv = project(record.joints, record.intrinsics)
    for joint, colour in MARKED.items():
        u, v = np.rint(uv[joint]).astype(int)
        np.testing.assert_allclose(record.image[v, u], colour, atol=40, err_msg=f"joint {joint}")
        assert record.mask[v, u]


@pytest.mark.parametrize("seed", range(3))
def test_crop_keeps_projections_on_the_same_content(seed):
    record = marked_record(seed)
    crop = crop_record(record, out_size=128, margin=0.3)
    assert crop.image.shape == (128, 128, 3) and crop.image.dtype == np.uint8
    assert_markers_under_projections(crop)
    uv = project(crop.joints, crop.intrinsics)
    assert uv.min() >= 0 and uv.max() <= 127  # the box holds every joint
    np.testing.assert_allclose(crop.joints, record.joints)  # 3D is untouched by a crop
    np.testing.assert_allclose(crop.intrinsics[0, 0] / crop.intrinsics[1, 1],
                               record.intrinsics[0, 0] / record.intrinsics[1, 1])


@pytest.mark.parametrize("angle", [0.35, -MAX_ROTATION_RAD, 1.0])
@pytest.mark.parametrize("focals", [(300.0, 300.0), (290.0, 320.0)])
def test_roll_is_a_camera_rotation_consistent_with_the_image(angle, focals):
    record = marked_record(7, *focals)
    rolled = crop_record(record, out_size=128, rotation_rad=angle)
    assert_markers_under_projections(rolled)
    roll = camera_roll(angle)
    np.testing.assert_allclose(rolled.joints, record.joints @ roll.T)
    np.testing.assert_allclose(rolled.root, roll @ record.root)
    np.testing.assert_allclose(rolled.verts, record.verts @ roll.T)
    np.testing.assert_allclose(rolled.joints[:, 2], record.joints[:, 2])  # depth kept
    expected_rot = roll @ rotmat(record.theta[:3])
    np.testing.assert_allclose(rotmat(rolled.theta[:3]), expected_rot, atol=1e-12)
    np.testing.assert_allclose(rolled.theta[3:], record.theta[3:])
    # still pinhole intrinsics without skew
    assert rolled.intrinsics[0, 1] == 0 and rolled.intrinsics[1, 0] == 0


@pytest.mark.parametrize("angle", [0.0, 0.3])
def test_every_crop_pixel_shows_where_its_ray_met_the_original_image(angle):
    """Exact (sub-pixel) check of the crop's intrinsics against the warp, with an image holding its
    own coordinates."""
    record = marked_record(2, 290.0, 310.0)
    v, u = np.mgrid[0:160, 0:200].astype(np.float64)
    record = replace(record, image=np.stack([u, v], axis=-1), mask=None)  # (H, W, 2) float
    crop = crop_record(record, out_size=48, margin=0.3, rotation_rad=angle)
    v_out, u_out = np.mgrid[0:48, 0:48]
    pixels = np.stack([u_out, v_out, np.ones_like(u_out)], -1).reshape(-1, 3)  # (S*S, 3)
    rays = pixels @ np.linalg.inv(crop.intrinsics).T @ camera_roll(angle)  # in the unrolled camera
    expected = project(rays, record.intrinsics).reshape(48, 48, 2)
    inside = np.all((expected >= 0) & (expected <= [199, 159]), axis=-1)  # (S, S)
    assert inside.mean() > 0.9
    np.testing.assert_allclose(crop.image[inside], expected[inside], atol=1e-9)


def test_roll_turns_the_image_by_the_angle_when_focals_match():
    record = marked_record(3)
    angle = 0.3
    plain = crop_record(record, out_size=128, box=(100.0, 80.0, 160.0))
    rolled = crop_record(record, out_size=128, rotation_rad=angle, box=(100.0, 80.0, 160.0))
    wrist_to_tip = [project(r.joints[[0, 8]], r.intrinsics) for r in (plain, rolled)]
    before, after = (uv[1] - uv[0] for uv in wrist_to_tip)
    turned = np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0])
    np.testing.assert_allclose(np.angle(np.exp(1j * turned)), angle, atol=1e-9)


def test_random_roll_is_seeded_and_bounded():
    record = marked_record(1)
    first = random_roll_crop(record, np.random.default_rng(5), out_size=64)
    again = random_roll_crop(record, np.random.default_rng(5), out_size=64)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_allclose(first.intrinsics, again.intrinsics)
    angles = []
    for seed in range(20):
        out = random_roll_crop(record, np.random.default_rng(seed), out_size=64)
        relative = rotmat(out.theta[:3]) @ rotmat(record.theta[:3]).T  # = Rz(angle)
        angles.append(np.arctan2(relative[1, 0], relative[0, 0]))
    assert max(np.abs(angles)) <= MAX_ROTATION_RAD + 1e-9 and np.ptp(angles) > 0.1


def test_crop_of_a_real_layout_frame_keeps_the_wrist_marker():
    record = HO3DReader(FIXTURE, sequences=["MC2"])[1]
    crop = crop_record(record, out_size=96, margin=0.4, rotation_rad=0.3)
    (u, v), = np.rint(project(crop.joints[:1], crop.intrinsics)).astype(int)
    assert crop.image[v, u].min() > 180


def test_identity_warp_keeps_the_image():
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(warp_image(image, np.eye(3), 32), image)
    mask = image[..., 0] > 128
    warped = warp_image(mask, np.eye(3), 32, nearest=True)
    assert warped.dtype == bool and np.array_equal(warped, mask)


def test_frames_without_valid_joints_need_a_box():
    record = replace(marked_record(0), joint_valid=np.zeros(21, dtype=bool))
    with pytest.raises(ValueError, match="no valid joint to crop around; pass box"):
        crop_record(record)
    crop = crop_record(record, out_size=64, box=(100.0, 80.0, 120.0))
    assert crop.image.shape == (64, 64, 3)
    with pytest.raises(ValueError, match=r"uv must have shape \(N, 2\)"):
        joint_box(np.zeros((0, 2)))
