"""InterHand2.6M reader and Mini-InterHand splits, on the self-made fixture
(tests/make_dataset_fixtures.py)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from handkit.data.crop import project
from handkit.data.interhand import (
    BAD_WRIST,
    NO_FIT,
    InterHandReader,
    annotation_path,
    mini_interhand,
)
from handkit.data.splits import VideoInfo, mini_interhand_videos

FIXTURE = Path(__file__).resolve().parents[1] / "data_samples" / "interhand_fixture"
TRUTH = json.loads((FIXTURE / "fixture_truth.json").read_text())
REST_JOINTS_MM = np.array(TRUTH["rest_joints_mm"])
HANDS_MEAN = np.array(TRUTH["hands_mean"])
SPECIAL_VIDEO = "Capture0/0000_right_rom/cam400002"
SMALL = {"min_frames": 4, "num_val": 1, "num_test": 2}


def load(kind, split="val"):
    return json.loads(annotation_path(FIXTURE, split, kind).read_text())


@pytest.fixture(scope="module")
def reader():
    return InterHandReader(FIXTURE, "val", hands_mean=HANDS_MEAN)


def annotated_records(reader):
    return [reader[i] for i in np.flatnonzero(reader.annotated_mask)]


def frame_idx_of(video_id, frame_index, split="val"):
    """The dataset's frame_idx of a reader frame, from data.json (sorted by frame_idx)."""
    capture, seq, cam = video_id.split("/")
    frames = sorted(
        im["frame_idx"] for im in load("data", split)["images"]
        if (f"Capture{im['capture']}", im["seq_name"], f"cam{im['camera']}") == (capture, seq, cam)
    )
    return frames[frame_index]


def test_videos_are_camera_views_with_frames_sorted(reader):
    assert reader.video_ids[0] == SPECIAL_VIDEO
    assert len(reader.video_ids) == 6 and len(reader) == 27
    cameras = load("camera")["0"]
    rot, pos = np.array(cameras["camrot"]["400002"]), np.array(cameras["campos"]["400002"])
    world = load("joint_3d")["0"]
    for record in reader.iter_video(SPECIAL_VIDEO):
        frame_idx = frame_idx_of(SPECIAL_VIDEO, record.frame_index)
        right_wrist = np.array(world[str(frame_idx)]["world_coord"])[20]
        if record.joint_valid.any():
            np.testing.assert_allclose(record.joints[0], rot @ (right_wrist - pos), atol=1e-6)
    assert [frame_idx_of(SPECIAL_VIDEO, i) for i in range(5)] == [100, 103, 106, 109, 112]


def test_joints_are_reordered_into_camera_space_in_mm(reader):
    for record in annotated_records(reader):
        capture = record.video_id.split("/")[0].removeprefix("Capture")
        camera = record.video_id.split("/cam")[1]
        cam = load("camera")[capture]
        rot, pos = np.array(cam["camrot"][camera]), np.array(cam["campos"][camera])
        frame_idx = frame_idx_of(record.video_id, record.frame_index)
        world = np.array(load("joint_3d")[capture][str(frame_idx)]["world_coord"])  # (42, 3)
        # handkit wrist, thumb tip, thumb base, pinky tip <- InterHand 20, 0, 3, 16
        for ours, theirs in ((0, 20), (4, 0), (1, 3), (20, 16)):
            np.testing.assert_allclose(record.joints[ours], rot @ (world[theirs] - pos), atol=1e-6)
        np.testing.assert_allclose(record.root, record.joints[0])
        assert 700 < record.root[2] < 1100  # mm, in front of the camera
        focal, princpt = cam["focal"][camera], cam["princpt"][camera]
        np.testing.assert_allclose(record.intrinsics[[0, 1, 0, 1], [0, 1, 2, 2]], focal + princpt)


def test_mano_pose_is_turned_into_the_camera_and_made_absolute(reader):
    for record in annotated_records(reader):
        rot = roma.rotvec_to_rotmat(torch.as_tensor(record.theta[:3])).numpy()
        np.testing.assert_allclose(record.joints - record.root, REST_JOINTS_MM @ rot.T, atol=1e-3)
        # the fixture's fitted finger pose is -hands_mean: absolute pose zero once the mean is added
        np.testing.assert_allclose(record.theta[3:], 0.0, atol=1e-5)
        assert record.beta.shape == (10,) and np.abs(record.beta).max() > 0


def test_projected_wrist_lands_on_its_image_marker(reader):
    for record in annotated_records(reader):
        (u, v), = np.rint(project(record.joints[:1], record.intrinsics)).astype(int)
        assert record.image.shape == (64, 64, 3)
        assert record.image[v, u].min() > 200


def test_invalid_joints_and_missing_fits_are_flagged():
    reader = InterHandReader(FIXTURE, "val", hands_mean=HANDS_MEAN, label_every=1)
    indices = reader.video_indices(SPECIAL_VIDEO)
    by_frame_idx = {frame_idx_of(SPECIAL_VIDEO, k): indices[k] for k in range(len(indices))}
    thumb_tip_missing = reader[by_frame_idx[TRUTH["bad_thumb_tip_frame"]]]
    assert not thumb_tip_missing.joint_valid[4] and thumb_tip_missing.joint_valid.sum() == 20
    assert thumb_tip_missing.labelled
    for frame_idx in (TRUTH["bad_wrist_frame"], TRUTH["no_mano_frame"]):
        record = reader[by_frame_idx[frame_idx]]
        assert not reader.annotated_mask[by_frame_idx[frame_idx]]
        assert not record.labelled and not record.joint_valid.any()
    # the left-hand frame of a right-then-left video has no right-hand annotation
    assert reader.annotated_mask[list(reader.video_indices(reader.video_ids[4]))].tolist() == [
        True, True, True, True, False
    ]
    assert not (reader.labelled_mask & ~reader.annotated_mask).any()


def test_mini_interhand_splits_on_fixture():
    def ids(split, **kw):
        return mini_interhand(FIXTURE, split, hands_mean=HANDS_MEAN, **{**SMALL, **kw}).video_ids

    assert ids("train") == (SPECIAL_VIDEO, "Capture0/0000_right_rom/cam400004")
    assert ids("val") == ("Capture1/0004_right_rom/cam400006",)
    right_only_test = {
        "Capture0/0100_right_a/cam400002", "Capture0/0100_right_a/cam400004",
        "Capture0/0101_right_b/cam400002", "Capture0/0102_right_c/cam400002",
    }
    test = ids("test")
    assert len(test) == 2 and set(test) <= right_only_test
    assert ids("test") == test  # seeded
    assert len({ids("test", seed=seed) for seed in range(8)}) > 1
    assert set(ids("test", num_test=10)) == right_only_test
    assert ids("train", min_frames=6) == ()


def infos(*specs):
    return [VideoInfo(name, frames, frozenset(types)) for name, frames, types in specs]


def test_mini_interhand_video_filter_thresholds():
    videos = infos(
        ("a", 10, {"right"}), ("b", 9, {"right"}), ("c", 12, {"right", "left"}),
        ("d", 30, {"interacting"}), ("e", 10, {"right"}), ("f", 11, {"right"}),
    )
    assert mini_interhand_videos(videos, "train", min_frames=10, num_val=2) == ["a"]
    assert mini_interhand_videos(videos, "val", min_frames=10, num_val=2) == ["e", "f"]
    assert mini_interhand_videos(videos, "val", min_frames=10, num_val=5) == ["a", "e", "f"]
    assert mini_interhand_videos(videos, "train", min_frames=10, num_val=5) == []
    test = mini_interhand_videos(videos, "test", min_frames=9, num_test=3, seed=1)
    assert len(test) == 3 and set(test) <= {"a", "b", "e", "f"}
    assert test == sorted(test, key="abcdef".index)  # kept in dataset order
    with pytest.raises(ValueError, match="split must be one of"):
        mini_interhand_videos(videos, "dev")


def test_errors_name_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="InterHand2.6M_val_data.json"):
        InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)
    with pytest.raises(ValueError, match=r"hands_mean must have shape \(45,\)"):
        InterHandReader(FIXTURE, "val", hands_mean=np.zeros(48))
    with pytest.raises(ValueError, match="official split must be one of"):
        InterHandReader(FIXTURE, "dev", hands_mean=HANDS_MEAN)
    with pytest.raises(ValueError, match="videos not in"):
        InterHandReader(FIXTURE, "val", hands_mean=HANDS_MEAN, videos=["Capture9/x/cam1"])
    shutil.copytree(FIXTURE / "annotations", tmp_path / "annotations")
    (tmp_path / "annotations" / "val" / "InterHand2.6M_val_MANO_NeuralAnnot.json").unlink()
    with pytest.raises(FileNotFoundError, match="InterHand2.6M_val_MANO_NeuralAnnot.json"):
        InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)
    shutil.copy(FIXTURE / "annotations" / "val" / "InterHand2.6M_val_MANO_NeuralAnnot.json",
                tmp_path / "annotations" / "val")
    no_images = InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)
    with pytest.raises(FileNotFoundError, match=r"images/val/Capture0/0000_right_rom/cam400002"):
        no_images[0]


def copy_annotations(tmp_path):
    shutil.copytree(FIXTURE / "annotations", tmp_path / "annotations")
    return lambda kind: annotation_path(tmp_path, "val", kind)


@pytest.mark.parametrize("kind", ["data", "camera", "joint_3d", "MANO_NeuralAnnot"])
@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_truncated_json_is_named(tmp_path, kind, keep):
    path = copy_annotations(tmp_path)(kind)
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])  # a partial download
    with pytest.raises(ValueError, match=rf"InterHand2.6M_val_{kind}.json: not valid JSON"):
        InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)


def test_malformed_annotations_are_named(tmp_path):
    path = copy_annotations(tmp_path)

    def rewrite(kind, change):
        content = json.loads(path(kind).read_text())
        change(content)
        path(kind).write_text(json.dumps(content))

    def fails(pattern):
        with pytest.raises(ValueError, match=pattern):
            InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)

    original = {kind: path(kind).read_text() for kind in ("data", "camera", "joint_3d")}
    rewrite("data", lambda d: d["images"][3].pop("frame_idx"))
    fails(r"InterHand2.6M_val_data.json: an image entry has no \['frame_idx'\]")
    path("data").write_text("[1, 2]")
    fails("InterHand2.6M_val_data.json: expected a JSON object, found a list")
    path("data").write_text(original["data"])
    rewrite("data", lambda d: d["annotations"][0].update(joint_valid=[[1]] * 5))
    fails(r"InterHand2.6M_val_data.json: annotation of image \d+ needs joint_valid")
    path("data").write_text(original["data"])
    rewrite("camera", lambda c: c["0"]["camrot"].pop("400002"))
    fails(r"InterHand2.6M_val_camera.json: no '400002' for capture 0, camera 400002")
    path("camera").write_text(original["camera"])
    rewrite("joint_3d", lambda j: j["0"]["100"].update(world_coord=[[0, 0, 0]] * 21))
    fails(r"InterHand2.6M_val_joint_3d.json: capture 0, frame 100: expected world_coord")
    path("joint_3d").write_text(original["joint_3d"])
    rewrite("MANO_NeuralAnnot", lambda m: m["0"]["100"]["right"].update(pose=[0.0] * 45))
    fails(r"InterHand2.6M_val_MANO_NeuralAnnot.json: capture 0, frame 100: expected a right")


def test_summary_counts_unannotated_frames_by_reason(reader):
    summary = reader.summary()
    assert (summary.frames, summary.annotated) == (27, 22)
    counts = {reason: len(names) for reason, names in summary.unannotated.items()}
    # frame 106 (no fit) and 109 (invalid wrist) in both cameras of 0000; the left-hand frame
    assert counts == {NO_FIT: 3, BAD_WRIST: 2}
    assert f"{SPECIAL_VIDEO}@{TRUTH['bad_wrist_frame']}" in summary.unannotated[BAD_WRIST]
    assert f"{SPECIAL_VIDEO}@{TRUTH['no_mano_frame']}" in summary.unannotated[NO_FIT]
    assert "22 annotated" in str(summary)


def test_corrupt_image_is_named(tmp_path):
    shutil.copytree(FIXTURE / "annotations", tmp_path / "annotations")
    shutil.copytree(FIXTURE / "images", tmp_path / "images")
    reader = InterHandReader(tmp_path, "val", hands_mean=HANDS_MEAN)
    image = tmp_path / "images" / "val" / "Capture0/0000_right_rom/cam400002/image00100.jpg"
    image.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="image00100.jpg: cannot read this InterHand2.6M image"):
        reader[0]
