"""Tests for handkit.data.batch: frame and pair batches from readers, the unlabelled-ground-truth
guard, DataLoader workers, transforms and the batched roll."""

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from handkit.data.batch import FrameBatch, PairBatch, roll_frame_batch
from handkit.data.crop import CropTransform, crop_record, project
from handkit.data.ho3d import HO3DReader
from handkit.data.loaders import FrameDataset, PairDataset, data_loader
from handkit.data.pairs import LabelledFrameSampler, LabelledPairSampler, PairSampler
from handkit.data.synthetic import default_dataset_path
from handkit.data.video_format import VideoDataset

HO3D = Path(__file__).resolve().parents[1] / "data_samples" / "ho3d_fixture"
GT = ("root", "theta", "beta", "joints")


@pytest.fixture(scope="module")
def train():
    return VideoDataset(default_dataset_path(), "train")


def assert_no_ground_truth(batch: FrameBatch, rows: torch.Tensor) -> None:
    """Rows ``rows`` carry zeros (no NaN) and no valid joint."""
    assert not batch.joint_valid[rows].any() and not batch.has_gt[rows].any()
    for name in GT:
        value = getattr(batch, name)[rows]
        assert torch.isfinite(value).all() and not value.any(), name


def test_frame_batch_holds_the_records(train):
    indices = [0, 1, 128, 300, 2399]
    batch = FrameDataset.collate([FrameDataset(train, hide_unlabelled=False)[i] for i in indices])
    assert batch.images.shape == (5, 3, 64, 64) and batch.images.dtype == torch.float32
    assert 0.0 <= batch.images.min() and batch.images.max() <= 1.0
    for row, index in enumerate(indices):
        record = train[index]
        np.testing.assert_allclose(batch.images[row].permute(1, 2, 0).numpy() * 255, record.image,
                                   atol=1e-4)
        for name in ("intrinsics",) + GT:
            np.testing.assert_allclose(getattr(batch, name)[row].numpy(), getattr(record, name),
                                       rtol=1e-6, atol=1e-4)
        assert bool(batch.labelled[row]) == record.labelled
        assert train.video_ids[int(batch.video[row])] == record.video_id
        assert int(batch.frame[row]) == record.frame_index
    expected = {"intrinsics": (5, 3, 3), "root": (5, 3), "theta": (5, 48), "beta": (5, 10),
                "joints": (5, 21, 3), "joint_valid": (5, 21), "labelled": (5,), "video": (5,)}
    assert {name: tuple(getattr(batch, name).shape) for name in expected} == expected
    assert batch.video.dtype == batch.frame.dtype == torch.int64
    assert batch.joint_valid.dtype == batch.labelled.dtype == torch.bool


def test_unlabelled_frames_carry_no_ground_truth_by_default(train):
    indices = list(range(1, 300, 7)) + [0, 128, 256, 299]
    dataset = FrameDataset(train)
    batch = FrameDataset.collate([dataset[i] for i in indices])
    unlabelled = ~batch.labelled
    assert unlabelled.sum() == 43 and batch.labelled.sum() == 4
    assert_no_ground_truth(batch, unlabelled)
    assert batch.joint_valid[batch.labelled].all()
    evaluation = FrameDataset.collate(
        [FrameDataset(train, hide_unlabelled=False)[i] for i in indices]
    )
    assert evaluation.joint_valid.all()
    torch.testing.assert_close(evaluation.images, batch.images)  # only the ground truth differs


def test_no_unlabelled_ground_truth_in_a_stage3_epoch_even_through_transforms(train):
    sampler = PairSampler(train.labelled_masks(), p_unlabelled=0.8, num_samples=96, seed=3)
    transform = CropTransform(out_size=48, max_rotation_rad=np.pi / 8)
    dataset = PairDataset(train, transform=transform)
    pairs = list(data_loader(dataset, sampler, batch_size=32))
    assert [len(p) for p in pairs] == [32, 32, 32]
    for pair in pairs:
        assert pair.s.labelled.all() and pair.s.joint_valid.all()
        unlabelled = ~pair.u_is_labelled
        assert unlabelled.any()
        assert_no_ground_truth(pair.u, unlabelled)
        assert pair.u.joint_valid[~unlabelled].all()
        assert torch.equal(pair.s.video, pair.u.video)


def test_ho3d_unannotated_frames_in_evaluation_mode():
    reader = HO3DReader(HO3D, sequences=["ABF12"], label_every=2)
    dataset = FrameDataset(reader, hide_unlabelled=False, transform=CropTransform(out_size=72))
    batch = data_loader(dataset, batch_size=8).__iter__().__next__()
    annotated = torch.from_numpy(reader.annotated_mask)
    assert torch.equal(batch.has_gt, annotated)
    assert_no_ground_truth(batch, ~annotated)
    for row in np.flatnonzero(reader.annotated_mask):  # the wrist marker after the crop
        u, v = np.rint(project(batch.joints[row, :1].double().numpy(),
                               batch.intrinsics[row].double().numpy())[0]).astype(int)
        assert batch.images[row, :, v, u].min() > 0.7


def test_loader_items_do_not_depend_on_workers(train):
    sampler = LabelledFrameSampler(train.labelled_masks(), num_samples=40, seed=2)
    dataset = FrameDataset(train, transform=CropTransform(out_size=32, max_rotation_rad=0.4))
    single = list(data_loader(dataset, sampler, batch_size=16))
    workers = list(data_loader(dataset, sampler, batch_size=16, num_workers=2))
    assert [len(b) for b in single] == [16, 16, 8]
    for a, b in zip(single, workers, strict=True):
        for name in ("images", "intrinsics", "theta", "video", "frame"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name))
    dataset.set_epoch(1)
    other = list(data_loader(dataset, sampler, batch_size=16))
    assert not torch.equal(other[0].images, single[0].images)  # other epoch, other rolls
    # the roll turns about the principal point
    torch.testing.assert_close(other[0].intrinsics, single[0].intrinsics)


def test_pair_frames_share_one_roll(train):
    item = next(iter(LabelledPairSampler(train.labelled_masks(), seed=1)))
    dataset = PairDataset(train, transform=CropTransform(out_size=64, max_rotation_rad=0.4))
    pair = dataset[item]
    plain = PairDataset(train)[item]
    for frames, rolled in ((plain.s, pair.s), (plain.u, pair.u)):
        # the roll is about the image centre: focal lengths kept, principal point turned
        torch.testing.assert_close(rolled.intrinsics[:, :2, :2], frames.intrinsics[:, :2, :2])
    turn_s = rolled_angle(plain.s, pair.s)
    torch.testing.assert_close(turn_s, rolled_angle(plain.u, pair.u))
    assert turn_s.abs() > 1e-3


def rolled_angle(before: FrameBatch, after: FrameBatch) -> torch.Tensor:
    a, b = before.joints[0, 9] - before.joints[0, 0], after.joints[0, 9] - after.joints[0, 0]
    return torch.atan2(b[1], b[0]) - torch.atan2(a[1], a[0])


def test_pair_items_must_agree_with_the_reader(train):
    dataset = PairDataset(train)
    with pytest.raises(ValueError, match="frame s = 1 of video 0 is not labelled"):
        dataset[(0, 1, 2, False)]
    with pytest.raises(ValueError, match="the sampler says u_is_labelled=True"):
        dataset[(0, 0, 3, True)]
    with pytest.raises(ValueError, match=r"pair items are \(video, s, u, u_is_labelled\)"):
        dataset[5]
    with pytest.raises(IndexError, match="frames out of range"):
        dataset[(0, 0, 400, False)]
    with pytest.raises(ValueError, match="a PairDataset needs a pair sampler"):
        data_loader(dataset, batch_size=4)


def test_frame_items_and_bad_records(train):
    dataset = FrameDataset(train)
    torch.testing.assert_close(dataset[(1, 128)].images, dataset[428].images)
    with pytest.raises(IndexError, match="frame index 2400 out of range"):
        dataset[2400]
    with pytest.raises(ValueError, match=r"frame items are \(video, frame\)"):
        dataset[(1, 2, 3)]
    ho3d = FrameDataset(HO3DReader(HO3D, sequences=["MC2"]))
    with pytest.raises(ValueError, match=r"square images \(S, S, 3\), got \(72, 96, 3\)"):
        ho3d[0]
    with pytest.raises(ValueError, match="frames must be a VideoFrames reader"):
        FrameDataset([train[0]])


def test_batch_checks_and_device_moves(train):
    batch = FrameDataset.collate([FrameDataset(train)[i] for i in (0, 1)])
    with pytest.raises(ValueError, match=r"FrameBatch.theta must be torch.float32 \(2, 48\)"):
        replace(batch, theta=batch.theta[:, :45])
    with pytest.raises(ValueError, match=r"FrameBatch.images must be torch.float32 \(2, 3, 64, "):
        replace(batch, images=batch.images.double())
    moved = batch.to("cpu")
    assert isinstance(moved, FrameBatch) and moved.images.device.type == "cpu"
    pair = PairBatch(batch, batch).to(torch.device("cpu"))
    assert len(pair) == 2 and torch.equal(pair.u_is_labelled, batch.labelled)
    with pytest.raises(ValueError, match="s and u of equal length"):
        PairBatch(batch, FrameDataset.collate([FrameDataset(train)[0]]))
    small = FrameDataset(train, transform=CropTransform(out_size=32))[0]
    with pytest.raises(ValueError, match=r"images of one size .* found sizes"):
        FrameBatch.collate([small, batch])


def test_from_records_hides_by_default(train):
    records = [train[0], train[1]]
    batch = FrameBatch.from_records(records, video_ids=train.video_ids)
    assert batch.joint_valid[0].all() and not batch.joint_valid[1].any()
    full = FrameBatch.from_records(records, video_ids=train.video_ids, hide_unlabelled=False)
    assert full.joint_valid.all() and full.theta[1].abs().sum() > 0
    with pytest.raises(ValueError, match="not among video_ids"):
        FrameBatch.from_records(records, video_ids=["other"])


def test_crop_transform_box_options(train):
    hidden = FrameDataset(train, transform=CropTransform(out_size=32, box="joints"))
    assert hidden[0].joint_valid.all()  # labelled: joints box allowed
    with pytest.raises(ValueError, match="box='joints' needs valid joints"):
        hidden[1]
    box = CropTransform(out_size=40, box=lambda record: (31.5, 31.5, 32.0))
    item = FrameDataset(train, transform=box)[0]
    torch.testing.assert_close(item.intrinsics[0, 0, 0],
                               FrameDataset(train)[0].intrinsics[0, 0, 0] * 40 / 32)
    with pytest.raises(ValueError, match="box must be 'image', 'joints' or a function"):
        CropTransform(out_size=32, box="hand")
    with pytest.raises(ValueError, match="out_size must be an integer >= 2"):
        CropTransform(out_size=1)


def test_roll_frame_batch_matches_the_per_item_roll(train):
    dataset = FrameDataset(train)
    batch = FrameDataset.collate([dataset[i] for i in (0, 1, 256, 299)])  # labelled, not, ...
    angles = torch.tensor([0.3, -0.2, 0.35, -0.1])
    rolled = roll_frame_batch(batch, angles=angles)
    for row, index in enumerate((0, 1, 256, 299)):
        transform = FixedRoll(float(angles[row]))
        expected = FrameDataset(train, transform=transform)[index]
        for name in ("intrinsics",) + GT:
            torch.testing.assert_close(getattr(rolled, name)[row], getattr(expected, name)[0],
                                       rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(rolled.images[row], expected.images[0], atol=2 / 255, rtol=0)
    assert_no_ground_truth(rolled, ~batch.labelled)
    drawn = roll_frame_batch(batch, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(drawn.images, batch.images)


class FixedRoll:
    """A transform rolling by a given angle about the centre of a 64-pixel image."""

    def __init__(self, angle):
        self.angle = angle

    def __call__(self, record, rng):
        return crop_record(record, out_size=64, rotation_rad=self.angle, box=(31.5, 31.5, 64.0))


def test_datasets_pickle_cheaply(train):
    train.video(train.video_ids[0])  # fill the reader's cache
    dataset = FrameDataset(train, transform=CropTransform(out_size=32))
    assert len(pickle.dumps(dataset)) < 100_000
    ho3d = PairDataset(HO3DReader(HO3D))
    assert len(pickle.dumps(ho3d)) < 200_000
