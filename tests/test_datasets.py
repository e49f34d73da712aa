"""Tests for handkit.data.datasets: open_dataset, the per-set defaults, the label-only crop and
the batches the real-data fixtures give through it."""

import json
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from handkit.data.crop import CropTransform, crop_matrix, project
from handkit.data.datasets import (
    DATASET_DEFAULTS,
    TABLE1_COLUMNS,
    FullImageBox,
    GroundTruthBox,
    HandCrop,
    LabelBox,
    labelled_root_depths_mm,
    network_input,
    open_dataset,
    paper_table1,
)
from handkit.data.ho3d import HO3DReader, mini_ho3d
from handkit.data.interhand import InterHandReader
from handkit.data.loaders import FrameDataset, PairDataset, data_loader
from handkit.data.pairs import LabelledFrameSampler, PairSampler, nearest_labelled
from handkit.data.record import without_ground_truth
from handkit.data.video_format import VideoDataset
from handkit.mano.loading import load_model

DATA = Path(__file__).resolve().parents[1] / "data_samples"
HO3D, INTERHAND = DATA / "ho3d_fixture", DATA / "interhand_fixture"
HANDS_MEAN = np.array(json.loads((INTERHAND / "fixture_truth.json").read_text())["hands_mean"])
#: Mini-InterHand selection thresholds that fit the tiny fixture.
SMALL = {"min_frames": 4, "num_val": 1, "num_test": 2}
S = 64


def open_fixture(name: str, split: str = "train", **options):
    if name == "ho3d":
        return open_dataset("ho3d", split, root=HO3D, **options)
    return open_dataset("interhand", split, root=INTERHAND, hands_mean=HANDS_MEAN, **SMALL,
                        **options)


@pytest.fixture(scope="module", params=["ho3d", "interhand"])
def real(request):
    """(dataset name, train reader of its fixture)."""
    return request.param, open_fixture(request.param)


# ----------------------------------------------------------------------------- open_dataset
def test_open_dataset_gives_the_mini_splits_of_each_set(monkeypatch):
    synthetic = open_dataset("synthetic", "val")
    assert isinstance(synthetic, VideoDataset) and synthetic.label_every == 128
    assert open_dataset("synthetic", "val", label_every=16).label_every == 16
    for split, expected in (("train", ("ABF12", "MC2")), ("val", ("BB12",)), ("test", ("ABF10",))):
        reader = open_fixture("ho3d", split)
        assert isinstance(reader, HO3DReader) and reader.video_ids == expected
        assert reader.video_ids == mini_ho3d(HO3D, split).video_ids
    interhand = open_fixture("interhand", "test", label_every=2)
    assert isinstance(interhand, InterHandReader) and interhand.label_every == 2
    assert len(interhand.video_ids) == 2
    monkeypatch.setenv("HANDKIT_HO3D_ROOT", str(HO3D))
    assert open_dataset("ho3d", "val").video_ids == ("BB12",)
    # one config passes mano_root for every set: only Mini-InterHand uses it
    assert open_dataset("ho3d", "val", mano_root="/no/mano").video_ids == ("BB12",)


def test_interhand_hands_mean_defaults_to_the_mano_model_in_use(monkeypatch):
    monkeypatch.delenv("HANDKIT_MANO_ROOT", raising=False)
    reader = open_dataset("interhand", "train", root=INTERHAND, **SMALL)
    np.testing.assert_array_equal(reader.hands_mean, load_model(None, "right").hands_mean)


def test_open_dataset_refuses_bad_requests(monkeypatch):
    monkeypatch.delenv("HANDKIT_HO3D_ROOT", raising=False)
    with pytest.raises(ValueError, match="dataset must be one of"):
        open_dataset("freihand", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        open_dataset("synthetic", "eval")
    with pytest.raises(ValueError, match="pass root=... or set HANDKIT_HO3D_ROOT"):
        open_dataset("ho3d", "train")
    with pytest.raises(ValueError, match="min_frames applies to dataset 'interhand' only"):
        open_dataset("ho3d", "train", root=HO3D, min_frames=4)
    with pytest.raises(ValueError, match="hands_mean applies to dataset 'interhand' only"):
        open_dataset("synthetic", "train", hands_mean=HANDS_MEAN)
    with pytest.raises(ValueError, match="label_every must be None or an integer >= 1"):
        open_dataset("synthetic", "train", label_every=0)
    with pytest.raises(FileNotFoundError, match="train folder not found"):
        open_dataset("ho3d", "train", root=INTERHAND)


# ----------------------------------------------------------------------------- defaults
def test_defaults_carry_d_off_crop_size_and_the_papers_table1():
    assert {n: d.d_off_mm for n, d in DATASET_DEFAULTS.items()} == {
        "synthetic": 500.0, "ho3d": 400.0, "interhand": 1100.0}
    assert DATASET_DEFAULTS["synthetic"].image_size is None
    assert DATASET_DEFAULTS["ho3d"].image_size == DATASET_DEFAULTS["interhand"].image_size == 128
    from handkit.experiments.table1 import (  # the synthetic Table I quotes the same
        COLUMNS,
        PAPER_TABLE1,
    )

    assert TABLE1_COLUMNS == COLUMNS
    for name in ("ho3d", "interhand"):
        rows = DATASET_DEFAULTS[name].paper_table1
        assert dict(rows["test"]) == PAPER_TABLE1[DATASET_DEFAULTS[name].title]
        assert set(rows["train"]) == {"Baseline", "Baseline + Align", "Propagation"}
    assert paper_table1("interhand", "train")["Baseline"]["mpjpe_sd"] == 12.006
    assert paper_table1("synthetic") == {}
    with pytest.raises(ValueError, match="'test' and 'train' rows"):
        paper_table1("ho3d", "val")


def test_labelled_root_depths(real):
    name, reader = real
    depths = labelled_root_depths_mm(reader)
    assert len(depths) == reader.labelled_mask.sum() and (depths > 300).all()


# ----------------------------------------------------------------------------- crops
def crop_of(transform, record, seed=0):
    return transform(record, np.random.default_rng(seed))


def test_labelled_crops_hold_their_valid_joints_and_k_is_exact(real):
    name, reader = real
    transform = network_input(name, image_size=S, training=False, reader=reader)
    for index in np.flatnonzero(reader.labelled_mask):
        record = reader[index]
        crop = crop_of(transform, record)
        assert crop.image.shape == (S, S, 3) and crop.image.dtype == np.uint8
        u, v, side = transform.box(record)
        np.testing.assert_allclose(crop.intrinsics,
                                   crop_matrix(np.array([u, v]), side, S) @ record.intrinsics)
        valid = record.joint_valid
        uv = project(crop.joints[valid], crop.intrinsics)
        assert (uv >= 0).all() and (uv <= S - 1).all(), (record.video_id, record.frame_index)
        np.testing.assert_allclose(crop.joints, record.joints)  # no roll: 3D unchanged
        (wu, wv), = np.rint(uv[:1]).astype(int)
        # the white wrist marker, where the crop's intrinsics project it
        assert crop.image[wv, wu].min() > 180


def test_unlabelled_crops_never_read_the_frames_annotation(real, monkeypatch):
    name, reader = real
    guarded = open_fixture(name)
    original = guarded._annotation

    def labelled_only(video_id, frame_index):
        if not guarded.labelled_mask[guarded.video_indices(video_id)[frame_index]]:
            raise AssertionError(f"read the annotation of unlabelled {video_id}/{frame_index}")
        return original(video_id, frame_index)

    monkeypatch.setattr(guarded, "_annotation", labelled_only)
    from_guarded = network_input(name, image_size=S, training=False, reader=guarded)
    from_reader = network_input(name, image_size=S, training=False, reader=reader)
    leaking = network_input(name, image_size=S, training=False, reader=guarded,
                            box="ground_truth")
    unlabelled = np.flatnonzero(~reader.labelled_mask)
    assert len(unlabelled) > 3
    for index in unlabelled:
        record = reader[index]  # full ground truth (evaluation mode)
        nan = replace(record, **{n: np.full_like(getattr(record, n), np.nan)
                                 for n in ("root", "theta", "beta", "joints")})
        expected = crop_of(from_reader, record)
        for variant in (record, without_ground_truth(record), nan):
            crop = crop_of(from_guarded, variant)
            np.testing.assert_array_equal(crop.image, expected.image)
            np.testing.assert_array_equal(crop.intrinsics, expected.intrinsics)
        with pytest.raises(AssertionError, match="read the annotation of unlabelled"):
            crop_of(leaking, record)  # box="ground_truth" does read it: that is the leak


def test_label_box_is_the_nearest_labels_box_widened_with_the_distance(real):
    name, reader = real
    boxes = LabelBox.from_reader(reader, widen_per_frame=0.05)
    for video_pos, video_id in enumerate(reader.video_ids):
        mask = reader.labelled_masks()[video_pos]
        frames, table = boxes.labels[video_id]
        assert frames.tolist() == np.flatnonzero(mask).tolist()
        nearest = nearest_labelled(mask)
        for frame, index in enumerate(reader.video_indices(video_id)):
            record = without_ground_truth(reader[index])
            u, v, side = boxes(record)
            row = frames.tolist().index(nearest[frame])
            assert (u, v) == tuple(table[row, :2])
            cap = max(table[row, 2], max(record.image.shape[:2]))
            expected = min(table[row, 2] * (1 + 0.05 * abs(frame - nearest[frame])), cap)
            assert side == pytest.approx(expected)


def test_training_jitter_moves_hand_boxes_but_keeps_labelled_joints_inside(real):
    name, reader = real
    transform = network_input(name, image_size=S, training=True, reader=reader)
    assert transform.jitter == 0.1
    record = reader[int(np.flatnonzero(reader.labelled_mask)[0])]
    crops = [crop_of(transform, record, seed) for seed in range(20)]
    assert len({c.intrinsics.tobytes() for c in crops}) == 20
    for crop in crops:  # margin 0.25 with jitter 0.1: the joints cannot leave the crop
        uv = project(crop.joints[record.joint_valid], crop.intrinsics)
        assert (uv >= 0).all() and (uv <= S - 1).all()
    np.testing.assert_array_equal(crop_of(transform, record, 3).image, crops[3].image)


def test_network_input_per_data_set():
    synthetic = open_dataset("synthetic", "test")
    assert network_input("synthetic", training=True, reader=synthetic) is None
    assert network_input("synthetic", image_size=64, training=True, reader=synthetic) is None
    resize = network_input("synthetic", image_size=96, training=False, reader=synthetic)
    assert isinstance(resize, CropTransform) and crop_of(resize, synthetic[1]).image.shape == (
        96, 96, 3)
    hand = network_input("synthetic", training=True, reader=synthetic, box="labels")
    assert isinstance(hand, HandCrop) and hand.out_size == 64  # the set's own size
    ho3d = open_fixture("ho3d")
    default = network_input("ho3d", training=False, reader=ho3d)
    assert default.out_size == 128 and isinstance(default.box, LabelBox) and default.jitter == 0
    full = network_input("ho3d", image_size=S, training=False, box="full_image")
    assert isinstance(full.box, FullImageBox)
    crop = crop_of(full, ho3d[0])  # 96 x 72: the whole frame, padded to 96 x 96
    assert crop.image.shape == (S, S, 3) and crop.image[:5].max() == 0
    leak = network_input("ho3d", training=False, reader=ho3d, box="ground_truth")
    assert isinstance(leak.box, GroundTruthBox)
    with pytest.raises(ValueError, match="needs the reader"):
        network_input("interhand", training=True)
    with pytest.raises(ValueError, match="box must be None or one of"):
        network_input("ho3d", training=True, reader=ho3d, box="joints")
    with pytest.raises(ValueError, match="training must be True or False"):
        network_input("ho3d", training=1, reader=ho3d)
    with pytest.raises(ValueError, match="jitter must be in"):
        HandCrop(out_size=S, box=FullImageBox(), jitter=1.5)
    with pytest.raises(ValueError, match="LabelBox has no video"):
        LabelBox.from_reader(ho3d)(open_fixture("ho3d", "val")[0])


# ----------------------------------------------------------------------------- batches
def test_real_fixtures_feed_frame_and_pair_batches(real):
    name, reader = real
    masks = reader.labelled_masks()
    transform = network_input(name, image_size=S, training=True, reader=reader)
    frames = FrameDataset(reader, transform=transform, seed=1)
    sampler = LabelledFrameSampler(masks, num_samples=6, seed=0)
    batch = next(iter(data_loader(frames, sampler, batch_size=6)))
    assert batch.images.shape == (6, 3, S, S) and batch.labelled.all()
    assert batch.has_gt.all() and torch.isfinite(batch.intrinsics).all()
    pairs = PairDataset(reader, transform=transform, seed=1)
    pair_sampler = PairSampler(masks, p_unlabelled=0.8, num_samples=8, seed=0)
    pair = next(iter(data_loader(pairs, pair_sampler, batch_size=8)))
    assert pair.s.images.shape == pair.u.images.shape == (8, 3, S, S)
    assert pair.s.labelled.all() and pair.s.has_gt.all()
    unlabelled = ~pair.u_is_labelled
    assert unlabelled.any() and not pair.u.has_gt[unlabelled].any()
    assert not pair.u.joints[unlabelled].any() and torch.equal(pair.s.video, pair.u.video)
    evaluation = FrameDataset(reader, hide_unlabelled=False, transform=network_input(
        name, image_size=S, training=False, reader=reader))
    everything = next(iter(data_loader(evaluation, batch_size=len(reader))))
    assert torch.equal(everything.has_gt, torch.from_numpy(reader.annotated_mask))


def test_transforms_and_datasets_pickle_for_spawned_workers(real):
    name, reader = real
    transform = network_input(name, image_size=S, training=True, reader=reader)
    copy = pickle.loads(pickle.dumps(transform))
    record = reader[1]
    np.testing.assert_array_equal(crop_of(copy, record).image, crop_of(transform, record).image)
    assert len(pickle.dumps(PairDataset(reader, transform=transform))) < 200_000


# ----------------------------------------------------------------------------- network view
def test_open_frames_shows_the_real_frames_as_the_predictor_sees_them():
    from handkit.data.datasets import NetworkFrames, open_frames

    frames = open_frames("ho3d", "train", root=HO3D, label_every=4, image_size=S)
    reader = open_fixture("ho3d", label_every=4)
    assert isinstance(frames, NetworkFrames) and frames.image_size == (S, S)
    assert frames.video_ids == reader.video_ids
    np.testing.assert_array_equal(frames.labelled_mask, reader.labelled_mask)
    arrays = frames.split_arrays()  # intrinsics from the boxes, without decoding the images
    for index in range(len(frames)):
        record = frames[index]
        assert record.image.shape == (S, S, 3)
        np.testing.assert_array_equal(arrays.intrinsics[index], record.intrinsics)
        np.testing.assert_array_equal(record.joints, reader[index].joints)  # camera space kept
    # the synthetic set needs no view at its own size
    assert isinstance(open_frames("synthetic", "val"), VideoDataset)


def test_network_frames_refuse_a_jittered_crop():
    from handkit.data.datasets import NetworkFrames

    reader = open_fixture("ho3d")
    jittered = HandCrop(out_size=S, box=LabelBox.from_reader(reader), jitter=0.1)
    with pytest.raises(ValueError, match="without jitter, got jitter=0.1"):
        NetworkFrames(reader, jittered)
