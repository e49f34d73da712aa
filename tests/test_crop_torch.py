"""The batched torch roll crop gives what the numpy crop_record gives, item by item, and keeps
the joints on their image content."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from handkit.data.crop import MAX_ROTATION_RAD, camera_roll, crop_record, project
from handkit.data.crop_torch import roll_crop_batch
from handkit.geometry import intrinsics
from tests.test_crop import MARKED, assert_markers_under_projections, marked_record

FIELDS = ("intrinsics", "joints", "root", "theta")


def stacked(records, name, dtype=torch.float64):
    return torch.as_tensor(np.stack([getattr(r, name) for r in records]), dtype=dtype)


def batch_args(records, *, channels_last=False):
    images = torch.from_numpy(np.stack([r.image for r in records]))  # (B, H, W, C)
    return (
        images if channels_last else images.permute(0, 3, 1, 2),
        *(stacked(records, name) for name in FIELDS),
    )


def coordinate_records(seeds, focals=(290.0, 310.0)):
    """Records whose float64 image holds each pixel's own (u, v, u + v): exact comparisons."""
    v, u = np.mgrid[0:160, 0:200].astype(np.float64)
    image = np.stack([u, v, u + v], axis=-1)
    return [replace(marked_record(seed, *focals), image=image, mask=None) for seed in seeds]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("use_boxes", [False, True])
def test_matches_crop_record_item_by_item(channels_last, use_boxes):
    records = coordinate_records(range(4))
    angles = [0.3, -MAX_ROTATION_RAD, 0.0, 1.0]
    boxes = [(100.0 + 5 * k, 80.0 - 3 * k, 150.0 + 10 * k) for k in range(4)]
    expected = [
        crop_record(r, out_size=48, margin=0.3, rotation_rad=a, box=b if use_boxes else None)
        for r, a, b in zip(records, angles, boxes, strict=True)
    ]
    out = roll_crop_batch(
        *batch_args(records, channels_last=channels_last), out_size=48, margin=0.3,
        angles=torch.tensor(angles, dtype=torch.float64),
        boxes=torch.tensor(boxes, dtype=torch.float64) if use_boxes else None,
    )
    images = out.images if channels_last else out.images.permute(0, 2, 3, 1)
    for k, crop in enumerate(expected):
        np.testing.assert_allclose(images[k].numpy(), crop.image, atol=1e-9)
        for name in FIELDS:
            np.testing.assert_allclose(getattr(out, name)[k].numpy(), getattr(crop, name),
                                       atol=1e-9, err_msg=name)
        # the image map and the camera roll agree: M K = K' Rz
        np.testing.assert_allclose(out.matrices[k].numpy() @ records[k].intrinsics,
                                   crop.intrinsics @ camera_roll(angles[k]), atol=1e-9)


def test_uint8_images_match_and_markers_stay_under_their_joints():
    records = [marked_record(seed, 300.0, 280.0) for seed in range(3)]
    angles = torch.tensor([0.35, -0.2, 0.1], dtype=torch.float64)
    out = roll_crop_batch(*batch_args(records), out_size=128, angles=angles)
    assert out.images.dtype == torch.uint8 and out.images.shape == (3, 3, 128, 128)
    for k, record in enumerate(records):
        crop = crop_record(record, out_size=128, rotation_rad=float(angles[k]))
        difference = np.abs(out.images[k].permute(1, 2, 0).numpy().astype(int) - crop.image)
        assert difference.max() <= 1  # float rounding at .5 only
        rolled = replace(crop, image=out.images[k].permute(1, 2, 0).numpy(),
                         intrinsics=out.intrinsics[k].numpy(), joints=out.joints[k].numpy())
        assert_markers_under_projections(rolled)


def test_float32_on_the_batch_path_keeps_projections_on_content():
    records = [marked_record(seed) for seed in range(2)]
    images, *rest = batch_args(records)
    out = roll_crop_batch(images.float() / 255, *(t.float() for t in rest), out_size=96,
                          angles=torch.tensor([0.3, -0.3]))
    assert out.images.dtype == torch.float32 and out.intrinsics.dtype == torch.float32
    for k in range(2):
        uv = project(out.joints[k].double().numpy(), out.intrinsics[k].double().numpy())
        for joint, colour in MARKED.items():
            u, v = np.rint(uv[joint]).astype(int)
            np.testing.assert_allclose(out.images[k, :, v, u].numpy() * 255, colour, atol=40)


def test_drawn_angles_are_seeded_bounded_and_turn_the_pose():
    records = [marked_record(seed) for seed in range(3)] * 20
    args = batch_args(records)
    draws = [
        roll_crop_batch(*args, out_size=32, generator=torch.Generator().manual_seed(seed))
        for seed in (0, 0, 1)
    ]
    torch.testing.assert_close(draws[0].angles, draws[1].angles)
    assert not torch.equal(draws[0].angles, draws[2].angles)
    angles = draws[0].angles
    assert angles.abs().max() <= MAX_ROTATION_RAD and angles.min() < -0.2 and angles.max() > 0.2
    turned = torch.linalg.vector_norm(draws[0].joints - args[2], dim=-1)  # (B, J)
    assert turned.max() > 1.0  # joints turned about the optical axis...
    torch.testing.assert_close(draws[0].joints[..., 2], args[2][..., 2])  # ...keeping depth
    small = roll_crop_batch(*args, out_size=32, max_rotation_rad=0.01,
                            generator=torch.Generator().manual_seed(0))
    assert small.angles.abs().max() <= 0.01


def test_invalid_joints_are_ignored_by_the_box():
    records = coordinate_records([5, 6])
    valid = np.ones((2, 21), bool)
    valid[:, 10:] = False
    masked = [replace(r, joint_valid=m) for r, m in zip(records, valid, strict=True)]
    expected = [crop_record(r, out_size=40, rotation_rad=0.2) for r in masked]
    out = roll_crop_batch(*batch_args(records), out_size=40, angles=torch.full((2,), 0.2,
                          dtype=torch.float64), joint_valid=torch.from_numpy(valid))
    for k, crop in enumerate(expected):
        np.testing.assert_allclose(out.intrinsics[k].numpy(), crop.intrinsics, atol=1e-9)


def test_bad_inputs_are_named():
    images, intrinsics, joints, root, theta = batch_args([marked_record(0), marked_record(1)])
    with pytest.raises(ValueError, match=r"theta must have shape \(2, 48\) .*got \(2, 45\)"):
        roll_crop_batch(images, intrinsics, joints, root, theta[:, :45], out_size=8)
    with pytest.raises(ValueError, match=r"images must have shape \(2, 3, H, W\)"):
        roll_crop_batch(images[:, :2], intrinsics, joints, root, theta, out_size=8)
    with pytest.raises(ValueError, match=r"angles must have shape \(2,\), got \(3,\)"):
        roll_crop_batch(images, intrinsics, joints, root, theta, out_size=8, angles=torch.zeros(3))
    valid = torch.ones(2, 21, dtype=torch.bool)
    valid[1] = False
    with pytest.raises(ValueError, match=r"batch items \[1\] have no valid joint"):
        roll_crop_batch(images, intrinsics, joints, root, theta, out_size=8, joint_valid=valid)
    with pytest.raises(ValueError, match=r"joint_valid must have shape \(2, 21\)"):
        roll_crop_batch(images, intrinsics, joints, root, theta, out_size=8,
                        joint_valid=valid[:, :5])


def test_rolled_float_images_stay_in_the_input_range():
    # all-white frames: bilinear weights that sum to 1 + 1 ulp in float32 gave 1.0000001
    # (the predictor refuses images outside [0, 1])
    generator = torch.Generator().manual_seed(0)
    size = 32
    centre = (size - 1) / 2
    out = roll_crop_batch(
        torch.ones(64, 3, size, size), intrinsics(size).float().expand(64, 3, 3).clone(),
        torch.zeros(64, 21, 3), torch.zeros(64, 3), torch.zeros(64, 48), out_size=size,
        generator=generator, boxes=torch.tensor([[centre, centre, float(size)]]).expand(64, 3))
    assert float(out.images.max()) == 1.0 and float(out.images.min()) >= 0.0
