"""HO-3D reader and Mini-HO-3D splits, on the self-made fixture (tests/make_dataset_fixtures.py)."""

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import roma
import torch
from PIL import Image

from handkit.benchmarks import data as bench_data
from handkit.benchmarks.data import write_ho3d_like_tree
from handkit.data import ho3d
from handkit.data.crop import project
from handkit.data.ho3d import (
    ALL_NONE,
    CAMERA_BORROWED,
    NO_HAND,
    NO_META,
    HO3DReader,
    load_meta,
    mini_ho3d,
)
from handkit.data.pairs import labelled_mask
from handkit.data.splits import MINI_HO3D_TEST, MINI_HO3D_VAL, mini_ho3d_sequences
from handkit.mano.safe_pickle import UnsafePickleError

FIXTURE = Path(__file__).resolve().parents[1] / "data_samples" / "ho3d_fixture"
TRUTH = json.loads((FIXTURE / "fixture_truth.json").read_text())
REST_JOINTS_MM = np.array(TRUTH["rest_joints_mm"])
FLIP = np.diag([1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def reader():
    return HO3DReader(FIXTURE)


def annotated_records(reader):
    return [reader[i] for i in np.flatnonzero(reader.annotated_mask)]


def rotmat(rotvec):
    return roma.rotvec_to_rotmat(torch.as_tensor(rotvec)).numpy()


def test_indexes_every_frame_of_every_sequence(reader):
    assert reader.video_ids == ("ABF10", "ABF12", "BB12", "MC2")
    assert reader.lengths == (5, 8, 5, 5) and len(reader) == 23
    for video_id, length in zip(reader.video_ids, reader.lengths, strict=True):
        records = list(reader.iter_video(video_id))
        assert [r.frame_index for r in records] == list(range(length))
        assert {r.video_id for r in records} == {video_id}


def test_joints_are_flipped_reordered_and_in_mm(reader):
    for index in np.flatnonzero(reader.annotated_mask):
        record = reader[index]
        meta_dir = FIXTURE / "train" / record.video_id / "meta"
        raw = load_meta(meta_dir / f"{record.frame_index:04d}.pkl")
        raw_joints = np.asarray(raw["handJoints3D"], dtype=np.float64)  # MANO order, m, OpenGL
        np.testing.assert_allclose(record.joints[0], FLIP @ raw_joints[0] * 1000, atol=1e-6)
        np.testing.assert_allclose(record.joints[4], FLIP @ raw_joints[16] * 1000, atol=1e-6)
        np.testing.assert_allclose(record.joints[8], FLIP @ raw_joints[17] * 1000, atol=1e-6)
        np.testing.assert_allclose(record.root, record.joints[0])
        np.testing.assert_allclose(record.intrinsics, raw["camMat"])
        assert 300 < record.root[2] < 1000  # in front of the camera, in mm
        assert record.joint_valid.all() and record.joint_valid.dtype == bool


def test_global_rotation_is_expressed_in_the_flipped_camera_frame(reader):
    for record in annotated_records(reader):
        expected = REST_JOINTS_MM @ rotmat(record.theta[:3]).T
        np.testing.assert_allclose(record.joints - record.root, expected, atol=0.05)


def test_projected_wrist_and_thumb_tip_land_on_their_image_markers(reader):
    for record in annotated_records(reader):
        (u0, v0), (u4, v4) = np.rint(project(record.joints[[0, 4]], record.intrinsics)).astype(int)
        assert record.image.shape == (72, 96, 3) and record.image.dtype == np.uint8
        assert record.image[v0, u0].min() > 200  # white wrist marker
        red = record.image[v4, u4].astype(int)
        assert red[0] > 200 and red[1] < 60 and red[2] < 60  # red thumb-tip marker


def test_finger_pose_is_taken_as_absolute(tmp_path):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / "MC2", root / "train" / "MC2")
    meta_path = root / "train" / "MC2" / "meta" / "0001.pkl"
    meta = load_meta(meta_path)
    fingers = np.random.default_rng(0).normal(0, 0.3, 45)
    meta["handPose"] = np.concatenate([meta["handPose"][:3], fingers])
    meta_path.write_bytes(pickle.dumps(meta, protocol=2))
    record = HO3DReader(root)[1]
    np.testing.assert_allclose(record.theta[3:], fingers)  # flat_hand_mean=True: no mean added


def test_unannotated_frame_is_never_labelled_and_has_no_valid_joint():
    reader = HO3DReader(FIXTURE, label_every=1)
    seq, frame = TRUTH["unannotated"]
    index = reader.video_indices(seq)[int(frame)]
    record = reader[index]
    assert not reader.annotated_mask[index] and not record.labelled
    assert not record.joint_valid.any()
    assert reader.labelled_mask.sum() == reader.annotated_mask.sum() == 17


def test_labelled_frames_follow_the_label_grid():
    reader = HO3DReader(FIXTURE, sequences=["MC2"], label_every=2)
    assert [r.labelled for r in reader.iter_video("MC2")] == [True, False, True, False, True]


def test_mini_ho3d_split_names():
    assert "MC1" in MINI_HO3D_TEST and "MCI" not in MINI_HO3D_TEST
    assert len(MINI_HO3D_VAL) == 4 and len(MINI_HO3D_TEST) == 12
    assert not set(MINI_HO3D_VAL) & set(MINI_HO3D_TEST)
    available = list(MINI_HO3D_VAL + MINI_HO3D_TEST) + ["ABF12", "MC2", "SM2"]
    assert mini_ho3d_sequences(available, "train") == ["ABF12", "MC2", "SM2"]
    assert mini_ho3d_sequences(available, "val") == sorted(MINI_HO3D_VAL)
    assert mini_ho3d_sequences(available, "test") == sorted(MINI_HO3D_TEST)
    with pytest.raises(ValueError, match="split must be one of"):
        mini_ho3d_sequences(available, "eval")


def test_mini_ho3d_readers_on_fixture():
    assert mini_ho3d(FIXTURE, "train").video_ids == ("ABF12", "MC2")
    assert mini_ho3d(FIXTURE, "val").video_ids == ("BB12",)
    assert mini_ho3d(FIXTURE, "test").video_ids == ("ABF10",)


def test_reads_v2_png_images(tmp_path):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / "ABF10", root / "train" / "ABF10")
    for jpg in (root / "train" / "ABF10" / "rgb").glob("*.jpg"):
        Image.open(jpg).save(jpg.with_suffix(".png"))
        jpg.unlink()
    record = HO3DReader(root)[0]
    assert record.image.shape == (72, 96, 3)


def test_missing_folders_and_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "train")):
        HO3DReader(tmp_path)
    with pytest.raises(FileNotFoundError, match="rgb"):
        HO3DReader(FIXTURE, sequences=["NOPE1"])
    with pytest.raises(ValueError, match="missing_meta must be one of"):
        HO3DReader(FIXTURE, missing_meta="skip")
    shutil.copytree(FIXTURE / "train" / "MC2", tmp_path / "train" / "MC2")
    (tmp_path / "train" / "MC2" / "meta" / "0003.pkl").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 images have no meta file.*MC2/meta/0003.pkl"):
        HO3DReader(tmp_path, missing_meta="error")
    assert HO3DReader(tmp_path).summary().unannotated == {NO_META: ("MC2/0003",)}


class _RunsCode:
    def __reduce__(self):
        return (os.mkdir, ("pwned",))


def test_meta_pickle_with_foreign_class_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "0000.pkl"
    path.write_bytes(pickle.dumps({"handPose": _RunsCode()}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"(posix|nt|os)\.mkdir"):
        load_meta(path)
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------- HO-3D v3 quirks
QUIRKS = TRUTH["quirks_sequence"]
QUIRKS_INTRINSICS = np.array(TRUTH["quirks_K"])


def quirk_records(reader, names):
    return [reader[reader.video_indices(QUIRKS)[int(name)]] for name in names]


@pytest.mark.parametrize("kind", ["all_none_meta", "no_meta_file", "no_hand"])
def test_v3_frames_without_annotation_keep_their_image_and_the_sequence_camera(reader, kind):
    for record in quirk_records(reader, TRUTH[kind]):
        assert not record.labelled and not record.joint_valid.any()
        for name in ("root", "theta", "beta", "joints"):
            value = getattr(record, name)
            assert np.all(value == 0) and np.isfinite(value).all(), name
        # this sequence's camera
        np.testing.assert_allclose(record.intrinsics, QUIRKS_INTRINSICS, rtol=1e-6)
        assert record.image.shape == (72, 96, 3) and record.image.max() > 200  # a hand marker


def test_v3_quirks_sequence_is_read_with_its_annotated_frames(reader):
    indices = reader.video_indices(QUIRKS)
    unannotated = {int(n) for k in ("all_none_meta", "no_meta_file", "no_hand") for n in TRUTH[k]}
    assert reader.annotated_mask[indices].tolist() == [
        frame not in unannotated for frame in range(len(indices))
    ]
    for record in quirk_records(reader, ["0001", "0005", "0007"]):
        assert record.joint_valid.all()
        (u0, v0), = np.rint(project(record.joints[:1], record.intrinsics)).astype(int)
        assert record.image[v0, u0].min() > 200  # the wrist marker under the projected wrist
    # K = 128: grid frames 0 and 7; frame 0 has every meta value None, so only 7 is labelled
    assert np.flatnonzero(reader.labelled_masks()[reader.video_ids.index(QUIRKS)]).tolist() == [7]


def test_summary_says_what_the_reader_did(reader):
    summary = reader.summary()
    assert (summary.videos, summary.frames, summary.annotated) == (4, 23, 17)
    names = {reason: set(frames) for reason, frames in summary.unannotated.items()}
    assert names == {
        NO_HAND: {f"{QUIRKS}/{n}" for n in TRUTH["no_hand"]} | {"/".join(TRUTH["unannotated"])},
        ALL_NONE: {f"{QUIRKS}/{n}" for n in TRUTH["all_none_meta"]},
        NO_META: {f"{QUIRKS}/{n}" for n in TRUTH["no_meta_file"]},
    }
    assert sum(map(len, summary.unannotated.values())) == summary.frames - summary.annotated
    borrowed = {f"{QUIRKS}/{n}" for n in TRUTH["all_none_meta"] + TRUTH["no_meta_file"]}
    assert set(summary.notes[CAMERA_BORROWED]) == borrowed
    text = str(summary)
    assert "4 videos, 23 frames, 17 annotated" in text and "2 frames, " + NO_META in text


def test_whole_mini_split_with_quirks_is_readable():
    train = mini_ho3d(FIXTURE, "train")
    records = [train[i] for i in range(len(train))]
    assert len(records) == 13 and sum(r.joint_valid.any() for r in records) == 8
    arrays = train.split_arrays()
    np.testing.assert_array_equal(arrays.joint_valid, [r.joint_valid for r in records])
    np.testing.assert_allclose(arrays.intrinsics, [r.intrinsics for r in records])


def test_borrowed_camera_is_the_nearest_frame_s(tmp_path):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / QUIRKS, root / "train" / QUIRKS)
    for frame, scale in (("0001", 1.0), ("0005", 2.0), ("0007", 3.0)):  # cameras told apart
        path = root / "train" / QUIRKS / "meta" / f"{frame}.pkl"
        meta = load_meta(path)
        meta["camMat"] = meta["camMat"] * np.array([[scale, 1, 1], [1, scale, 1], [1, 1, 1]])
        path.write_bytes(pickle.dumps(meta, protocol=2))
    reader = HO3DReader(root)
    focal = [reader[i].intrinsics[0, 0] / QUIRKS_INTRINSICS[0, 0] for i in range(len(reader))]
    # frames 0..7: all-None, fx1, no meta, no meta, all-None, fx2, hand None (own camMat), fx3
    np.testing.assert_allclose(focal, [1, 1, 1, 1, 2, 2, 1, 3], rtol=1e-6)


def test_sequence_without_any_camera_is_refused_naming_it(tmp_path):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / QUIRKS, root / "train" / QUIRKS)
    for path in (root / "train" / QUIRKS / "meta").glob("*.pkl"):
        path.write_bytes(pickle.dumps(dict.fromkeys(load_meta(path)), protocol=2))
    with pytest.raises(ValueError, match=rf"{QUIRKS}/meta: no meta file of this sequence has a"):
        HO3DReader(root)


def test_broken_files_are_named(tmp_path):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / "MC2", root / "train" / "MC2")
    meta_path = root / "train" / "MC2" / "meta" / "0002.pkl"
    good = meta_path.read_bytes()
    meta_path.write_bytes(good[: len(good) // 2])  # truncated download
    with pytest.raises(pickle.UnpicklingError, match="MC2/meta/0002.pkl"):
        HO3DReader(root, label_every=2)  # frame 2 is on the grid: read by the build
    lazy = HO3DReader(root)  # K = 128: frame 2 is off the grid, read when first needed
    for read in (lambda: lazy[2], lambda: lazy.annotated_mask, lazy.summary, lazy.split_arrays):
        with pytest.raises(pickle.UnpicklingError, match="MC2/meta/0002.pkl"):
            read()
    meta = load_meta(FIXTURE / "train" / "MC2" / "meta" / "0002.pkl")
    for key, value in (("handJoints3D", np.zeros((16, 3))), ("camMat", np.eye(4))):
        meta_path.write_bytes(pickle.dumps({**meta, key: value}, protocol=2))
        with pytest.raises(ValueError, match=rf"MC2/meta/0002.pkl: '{key}' must have shape"):
            HO3DReader(root, label_every=2)
        with pytest.raises(ValueError, match=rf"MC2/meta/0002.pkl: '{key}' must have shape"):
            HO3DReader(root)[2]
    meta_path.write_bytes(good)
    image_path = root / "train" / "MC2" / "rgb" / "0001.jpg"
    image_path.write_bytes(image_path.read_bytes()[:100])
    reader = HO3DReader(root)
    with pytest.raises(ValueError, match="MC2/rgb/0001.jpg: cannot read this HO-3D image"):
        reader[1]
    image_path.unlink()
    with pytest.raises(FileNotFoundError, match="MC2/rgb/0001.jpg"):
        reader[1]


# ----------------------------------------------------------------------------- lazy index
def count_meta_reads(monkeypatch) -> list[Path]:
    """Record every meta file the HO-3D reader loads (in order)."""
    reads: list[Path] = []

    def recording(path):
        reads.append(Path(path))
        return load_meta(path)

    monkeypatch.setattr(ho3d, "load_meta", recording)
    return reads


def test_build_reads_only_the_grid_frames_metas(tmp_path, monkeypatch):
    write_ho3d_like_tree(tmp_path, sequences=3, frames=300)  # frames 96, 193, 290: all None
    reads = count_meta_reads(monkeypatch)
    reader = HO3DReader(tmp_path, label_every=32)
    grid = np.flatnonzero(labelled_mask(300, 32))  # 0, 32, ..., 288, 299
    assert sorted((p.parent.parent.name, int(p.stem)) for p in reads) == sorted(
        (seq, int(k)) for seq in reader.video_ids for k in grid
    )
    labelled = reader.labelled_masks()
    assert [np.flatnonzero(m).tolist() for m in labelled] == [
        [int(k) for k in grid if k != 96]] * 3  # frame 96 has an all-None meta
    mask = reader.annotated_mask  # now every meta file: each read exactly once
    assert len(reads) == len(set(reads)) == 900
    assert np.flatnonzero(~mask).tolist() == [k + 300 * s for s in range(3) for k in (96, 193, 290)]
    np.testing.assert_array_equal(reader.labelled_mask, mask & np.tile(labelled_mask(300, 32), 3))
    record = reader[reader.video_indices("BB10")[193]]  # borrows its neighbour's camMat
    assert not record.joint_valid.any() and record.intrinsics[0, 0] > 600
    assert len(reads) == 901  # the frame's own meta again; its neighbours' are remembered
    assert reader.summary().unannotated == {
        ALL_NONE: tuple(f"{seq}/{k:04d}" for seq in reader.video_ids for k in (96, 193, 290))
    }


def test_lazy_reads_agree_with_a_fully_read_reader():
    lazy, full = HO3DReader(FIXTURE), HO3DReader(FIXTURE)
    _ = full.annotated_mask  # every meta read before any record
    for index in reversed(range(len(lazy))):  # cameras borrowed from frames not read yet
        a, b = lazy[index], full[index]
        for name in ("intrinsics", "root", "theta", "beta", "joints", "joint_valid"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert a.labelled == b.labelled
    assert lazy.summary() == full.summary()


def test_first_camera_is_looked_for_off_the_grid(tmp_path, monkeypatch):
    root = tmp_path / "ho3d"
    shutil.copytree(FIXTURE / "train" / QUIRKS, root / "train" / QUIRKS)
    path = root / "train" / QUIRKS / "meta" / "0007.pkl"  # grid frames 0 (all None) and 7
    path.write_bytes(pickle.dumps({**load_meta(path), "camMat": None}, protocol=2))
    reads = count_meta_reads(monkeypatch)
    reader = HO3DReader(root)
    assert [p.stem for p in reads] == ["0000", "0007", "0001"]  # 1 is the first with a camera
    # 7's nearest: 6 (own camMat)
    np.testing.assert_allclose(reader[7].intrinsics, QUIRKS_INTRINSICS, rtol=1e-6)
    assert reader.labelled_mask.tolist() == [False] * 7 + [True]


def test_reader_pickles_small_after_a_full_read():
    reader = HO3DReader(FIXTURE)
    _ = reader.annotated_mask
    assert len(pickle.dumps(reader)) < 20_000


def test_bench_data_command_runs(tmp_path, capsys):
    assert bench_data.main(["--sequences", "2", "--frames", "40", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 sequences, 80 frames, 4 labelled at K = 128" in out
    assert "build HO3DReader" in out and "open_dataset('ho3d', 'train')" in out
