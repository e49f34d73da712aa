"""Tests for handkit.data.frames: the readers' base class (index maps, per-video masks, whole-split
arrays, summaries), on a toy reader, the shipped synthetic set and the HO-3D fixture."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handkit.data.frames import VideoFrames, read_rgb_image
from handkit.data.ho3d import HO3DReader
from handkit.data.pairs import LabelledFrameSampler, PairSampler
from handkit.data.synthetic import default_dataset_path
from handkit.data.video_format import VideoDataset

HO3D = Path(__file__).resolve().parents[1] / "data_samples" / "ho3d_fixture"


class ToyFrames(VideoFrames):
    """Frames whose joints encode (video, frame): joints[:, 0] = video, joints[:, 1] = frame."""

    def _image(self, video_id, frame_index):
        return np.full((4, 4, 3), frame_index, dtype=np.uint8)

    def _annotation(self, video_id, frame_index):
        video = self.video_ids.index(video_id)
        joints = np.zeros((21, 3))
        joints[:, :2] = video, frame_index
        return {"intrinsics": np.eye(3), "root": joints[0], "theta": np.zeros(48),
                "beta": np.zeros(10),
                "joints": joints, "joint_valid": np.ones(21, bool)}


@pytest.fixture(scope="module")
def toy():
    lengths = {"a": 7, "b": 1, "c": 12}
    return ToyFrames({k: np.ones(n, bool) for k, n in lengths.items()}, label_every=4)


@pytest.fixture(scope="module")
def synthetic():
    return VideoDataset(default_dataset_path(), "train")


def test_index_of_and_locate_are_inverse(toy):
    index = np.arange(len(toy))
    video, frame = toy.locate(index)
    np.testing.assert_array_equal(toy.index_of(video, frame), index)
    for i in (0, 6, 7, 8, 19):
        record = toy[i]
        assert toy.index_of(toy.video_ids.index(record.video_id), record.frame_index) == i
    assert isinstance(toy.index_of(2, 3), int) and toy.index_of(2, 3) == 11
    np.testing.assert_array_equal(toy.index_of(2, [[0], [11]]), [[8], [19]])  # broadcasts


@pytest.mark.parametrize(
    ("video", "frame", "message"),
    [(3, 0, "video positions must lie in 0..2"), (-1, 0, "video positions"),
     (1, 1, r"frames out of range for their videos, \(video, frame\): \[\[1, 1\]\]"),
     ([0, 0], [6, 7], r"\[\[0, 7\]\]")],
)
def test_index_of_rejects_out_of_range(toy, video, frame, message):
    with pytest.raises(IndexError, match=message):
        toy.index_of(video, frame)


def test_index_of_rejects_non_integers_and_locate_bad_indices(toy):
    with pytest.raises(ValueError, match="must be integers"):
        toy.index_of(0, 1.5)
    with pytest.raises(IndexError, match=r"dataset indices must lie in 0..19, got \[20\]"):
        toy.locate([3, 20])


def test_sampler_items_map_to_labelled_records(synthetic):
    masks = synthetic.labelled_masks()
    assert [m.size for m in masks] == list(synthetic.lengths)
    np.testing.assert_array_equal(np.concatenate(masks), synthetic.labelled_mask)
    items = LabelledFrameSampler(masks, seed=1).draw()  # (L, 2)
    index = synthetic.index_of(items[:, 0], items[:, 1])
    assert synthetic.labelled_mask[index].all() and len(set(index.tolist())) == len(items)
    pairs = PairSampler(masks, num_samples=200).draw()  # (N, 4) video, s, u, u_is_labelled
    u_index = synthetic.index_of(pairs[:, 0], pairs[:, 2])
    np.testing.assert_array_equal(synthetic.labelled_mask[u_index], pairs[:, 3].astype(bool))


def test_masks_are_copies(toy):
    toy.labelled_masks()[0][:] = False
    toy.annotated_masks()[0][:] = False
    assert toy.labelled_mask[0] and toy.annotated_mask[0]


def test_split_arrays_stack_what_records_hold(toy):
    arrays = toy.split_arrays(images=True)
    assert len(arrays) == 20 and arrays.images.shape == (20, 4, 4, 3)
    np.testing.assert_array_equal(arrays.joints[:, 0, 0], arrays.video)
    np.testing.assert_array_equal(arrays.joints[:, 0, 1], arrays.frame)
    np.testing.assert_array_equal(arrays.images[:, 0, 0, 0], arrays.frame)
    np.testing.assert_array_equal(arrays.labelled, toy.labelled_mask)


def test_synthetic_split_arrays_equal_the_records(synthetic):
    arrays = synthetic.split_arrays(images=True)
    assert arrays.images.shape == (len(synthetic), 64, 64, 3)
    for i in (0, 5, 299, 300, len(synthetic) - 1):
        record = synthetic[i]
        np.testing.assert_array_equal(arrays.images[i], record.image)
        for name in ("intrinsics", "root", "theta", "beta", "joints", "joint_valid"):
            np.testing.assert_array_equal(getattr(arrays, name)[i], getattr(record, name))
        assert arrays.labelled[i] == record.labelled
        assert synthetic.video_ids[arrays.video[i]] == record.video_id
        assert arrays.frame[i] == record.frame_index
    assert arrays.annotated.all() and arrays.labelled.sum() == 32
    assert synthetic.split_arrays().images is None


def test_ho3d_split_arrays_equal_the_records():
    reader = HO3DReader(HO3D)
    arrays = reader.split_arrays()
    for i in range(len(reader)):
        record = reader[i]
        for name in ("intrinsics", "root", "theta", "beta", "joints", "joint_valid"):
            np.testing.assert_array_equal(getattr(arrays, name)[i], getattr(record, name))
    np.testing.assert_array_equal(arrays.annotated, reader.annotated_mask)


def test_summary_of_a_reader_without_reasons():
    frames = ToyFrames({"a": np.array([True, False, True]), "b": np.ones(2, bool)}, label_every=1)
    summary = frames.summary()
    assert (summary.videos, summary.frames, summary.annotated, summary.labelled) == (2, 5, 4, 4)
    assert summary.unannotated == {"no annotation": ("a/1",)} and summary.notes == {}
    assert str(summary).splitlines()[0] == "ToyFrames: 2 videos, 5 frames, 4 annotated, 4 labelled"
    with pytest.raises(ValueError, match="must name each of the 1 unannotated frames once"):
        ToyFrames({"a": np.array([True, False])}, unannotated={"x": ["a/0", "a/1"]})


def test_a_video_without_labelled_frame_still_samples():
    frames = ToyFrames({"a": np.array([False, True, True]), "b": np.ones(5, bool)}, label_every=4)
    masks = frames.labelled_masks()
    assert masks[0].tolist() == [False, False, True]
    frames = ToyFrames({"a": np.array([False, True, False]), "b": np.ones(5, bool)}, label_every=4)
    masks = frames.labelled_masks()
    assert not masks[0].any()
    items = LabelledFrameSampler(masks).draw()
    assert set(items[:, 0].tolist()) == {1}
    pairs = PairSampler(masks, num_samples=50).draw()
    assert set(pairs[:, 0].tolist()) == {1}


def test_synthetic_reader_pickles_without_its_cache(synthetic):
    synthetic.video(synthetic.video_ids[0])
    assert len(pickle.dumps(synthetic)) < 100_000
    copy = pickle.loads(pickle.dumps(synthetic))
    np.testing.assert_array_equal(copy[3].image, synthetic[3].image)


def test_read_rgb_image_names_the_file(tmp_path):
    path = tmp_path / "frame.png"
    Image.fromarray(np.zeros((3, 5), np.uint8)).save(path)  # grey -> RGB
    assert read_rgb_image(path, dataset="X").shape == (3, 5, 3)
    with pytest.raises(FileNotFoundError, match="X image not found: expected .*nope.png"):
        read_rgb_image(tmp_path / "nope.png", dataset="X")
    path.write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="frame.png: cannot read this X image"):
        read_rgb_image(path, dataset="X")
