"""Tests for handkit.data.synthetic (generator, CLI) and handkit.data.video_format (reader)."""

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import roma
import torch

from handkit.data import motion, synthetic, video_format
from handkit.data.pairs import labelled_mask
from handkit.data.record import FrameRecord
from handkit.mano.layer import ManoLayer
from handkit.mano.synthetic import load_synthetic_model
from handkit.npz import write_npz
from tests.set_compare import sha256, tree_differences

SMALL = dict(num_videos=3, num_frames=20, size=24, seed=5, label_every=8, show_progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("synth") / "set", **SMALL)


@pytest.fixture(scope="module")
def layer() -> ManoLayer:
    return ManoLayer(use_pca=False, flat_hand_mean=True, center_idx=0, dtype=torch.float64)


#: Annotations that must match exactly when a set is generated again on another machine.
EXACT_ARRAYS = ("labelled",)


def _copy_set(root: Path, copy: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            (copy / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(root)).write_bytes(path.read_bytes())


def _hashes(root: Path) -> dict[str, str]:
    """File name -> sha256: a small summary to assert on (never the bytes themselves)."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_reader_gives_records_with_labels_on_the_grid(dataset):
    data = video_format.VideoDataset(dataset)
    assert len(data) == 60 and data.video_ids == ("synth_000", "synth_001", "synth_002")
    record = data[9]
    assert isinstance(record, FrameRecord)
    assert record.image.shape == (24, 24, 3) and record.image.dtype == np.uint8
    assert (
        record.theta.shape == (48,)
        and record.joints.shape == (21, 3)
        and record.mask.shape == (24, 24)
    )
    assert (record.video_id, record.frame_index) == ("synth_000", 9)
    labelled = [r.frame_index for r in data.iter_video("synth_001") if r.labelled]
    assert labelled == [0, 8, 16, 19]
    splits = {s: video_format.VideoDataset(dataset, s).video_ids for s in ("train", "val", "test")}
    assert splits == {"train": ("synth_000",), "val": ("synth_001",), "test": ("synth_002",)}


def test_reader_takes_another_label_spacing(dataset):
    data = video_format.VideoDataset(dataset, "val", label_every=5)
    assert data.label_every == 5
    assert [r.frame_index for r in data.iter_video("synth_001") if r.labelled] == [0, 5, 10, 15, 19]
    assert data[3].joints.any()  # every frame keeps its ground truth
    with pytest.raises(ValueError, match="label_every must be None or an integer >= 1"):
        video_format.VideoDataset(dataset, label_every=0)


def test_reader_keeps_chosen_videos(dataset):
    data = video_format.VideoDataset(dataset, videos=["synth_002", "synth_000"])
    assert data.video_ids == ("synth_000", "synth_002") and len(data) == 40
    with pytest.raises(ValueError, match=r"no video\(s\) \['synth_001'\] in split 'train'"):
        video_format.VideoDataset(dataset, "train", videos=["synth_001"])


def test_ground_truth_follows_the_record_conventions(dataset, layer):
    video = video_format.VideoDataset(dataset).video("synth_002")
    _, joints = layer(torch.from_numpy(video.theta), torch.from_numpy(video.beta))
    np.testing.assert_allclose(joints.numpy() + video.root[:, None], video.joints, atol=1e-9)
    np.testing.assert_allclose(video.root, video.joints[:, 0])  # root = wrist
    assert np.all(video.beta == video.beta[0])  # one shape per video
    intrinsics = video.intrinsics[0]
    assert intrinsics[0, 2] == intrinsics[1, 2] == (24 - 1) / 2
    assert intrinsics[0, 0] == intrinsics[1, 1]
    uvw = video.joints @ intrinsics.T  # (T, 21, 3)
    centre_uv = (uvw[..., :2] / uvw[..., 2:]).mean(1)  # (T, 2)
    assert np.all(np.abs(centre_uv - intrinsics[:2, 2]) < 0.5 * 24)  # the hand stays in view
    depth = video.joints.mean(1)[:, 2]
    assert np.all((depth > 300) & (depth < 700))


def test_mask_is_the_visible_hand(dataset, layer):
    video = video_format.VideoDataset(dataset).video("synth_000")
    assert video.mask.any((1, 2)).all()
    verts, _ = layer(torch.from_numpy(video.theta), torch.from_numpy(video.beta))
    verts = verts.numpy() + video.root[:, None]
    uvw = verts @ video.intrinsics[0].T
    uv = uvw[..., :2] / uvw[..., 2:]  # (T, V, 2)
    for t in range(len(uv)):
        rows, cols = np.nonzero(video.mask[t])
        assert cols.min() >= uv[t, :, 0].min() - 1 and cols.max() <= uv[t, :, 0].max() + 1
        assert rows.min() >= uv[t, :, 1].min() - 1 and rows.max() <= uv[t, :, 1].max() + 1


def test_motion_is_smooth(dataset):
    video = video_format.VideoDataset(dataset).video("synth_001")
    step_mm = np.linalg.norm(np.diff(video.joints, axis=0), axis=-1).max()
    assert step_mm < 25.0
    rot = roma.rotvec_to_rotmat(torch.from_numpy(video.theta[:, :3]))
    step_rad = roma.rotmat_geodesic_distance(rot[1:], rot[:-1]).max()
    assert step_rad < 0.15
    assert np.abs(np.diff(video.theta[:, 3:], axis=0)).max() < 0.3


def test_smoothstep_keys_pass_through_keys_and_stay_in_range():
    keys = np.array([[0.0, 1.0], [2.0, -1.0], [1.0, 0.5]])
    frames = np.array([0, 10, 25])
    path = motion.interpolate_keys(keys, frames, 26)
    np.testing.assert_allclose(path[frames], keys)
    assert np.all(path.min(0) >= keys.min(0)) and np.all(path.max(0) <= keys.max(0))
    rotvecs = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rotations = roma.rotvec_to_rotmat(rotvecs).numpy()
    slerped = motion.slerp_keys(rotations, frames, 26)
    np.testing.assert_allclose(slerped[frames], rotations, atol=1e-9)
    np.testing.assert_allclose(
        slerped @ slerped.transpose(0, 2, 1), np.broadcast_to(np.eye(3), slerped.shape), atol=1e-9
    )


def test_facing_rotation_points_fingers_up_and_palm_to_the_camera(layer):
    rest = layer(torch.zeros(1, 48, dtype=torch.float64))[1][0].numpy()
    for palm_to_camera, z in ((True, -1.0), (False, 1.0)):
        R = motion.facing_rotation(rest, palm_to_camera=palm_to_camera)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
        up = R @ (rest[9] - rest[0])
        np.testing.assert_allclose(up / np.linalg.norm(up), [0, -1, 0], atol=1e-12)
        palm = R @ np.cross(rest[5] - rest[0], rest[17] - rest[0])
        assert (
            z * palm[2] / np.linalg.norm(palm) > 0.9
        )  # palm normal towards (-z) or away from the camera


def test_occluders_cover_frames_and_leave_the_mask(layer):
    params = synthetic.SynthParams(occluder_prob=1.0)
    alpha, colour = synthetic.occluder_layers(np.random.default_rng(0), 60, 32, params)
    assert alpha.max() == 1.0 and (alpha.max((1, 2)) == 0).any()  # covers some frames, not all
    video = synthetic.make_video(3, 0, 60, 32, 16, layer, params)
    assert video.occluded.any()
    clean = synthetic.make_video(3, 0, 60, 32, 16, layer, synthetic.SynthParams(occluder_prob=0.0))
    assert (video.mask <= clean.mask).all() and (video.mask.sum() < clean.mask.sum())
    assert not clean.occluded.any()


def test_same_seed_same_bytes_other_seed_other_frames(dataset, tmp_path):
    """Byte for byte on the same machine, in the same process (another CPU: within tolerances,
    see test_documented_command_reproduces_the_shipped_set)."""
    again = synthetic.generate_dataset(tmp_path / "again", **SMALL)
    assert _hashes(again) == _hashes(dataset)
    other = synthetic.generate_dataset(tmp_path / "other", **{**SMALL, "seed": 6, "num_videos": 1})
    a = np.load(dataset / "videos/synth_000/frames.npz")["frames"]
    b = np.load(other / "videos/synth_000/frames.npz")["frames"]
    assert not np.array_equal(a, b)
    with zipfile.ZipFile(dataset / "videos/synth_000/annotations.npz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_refuses_to_overwrite_and_leaves_nothing_on_failure(dataset, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        synthetic.generate_dataset(out, **SMALL)
    with pytest.raises(ValueError, match="holds no index.json"):
        synthetic.generate_dataset(out, **SMALL, force=True)
    assert (out / "notes.txt").read_text() == "mine"

    def broken_write(folder, video):
        if folder.name == "synth_001":
            raise RuntimeError("disk full")
        return original(folder, video)

    original = synthetic.write_video
    monkeypatch.setattr(synthetic, "write_video", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        synthetic.generate_dataset(tmp_path / "failed", **SMALL)
    # no temporary folder and no "failed" left; the (empty) lock files of both outputs stay
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".failed.handkit.lock", ".out.handkit.lock", "out"]


def test_force_replaces_a_data_set(tmp_path):
    out = synthetic.generate_dataset(
        tmp_path / "set", **{**SMALL, "num_videos": 1, "num_frames": 4}
    )
    synthetic.generate_dataset(out, **{**SMALL, "num_videos": 2, "num_frames": 4}, force=True)
    assert [v["id"] for v in video_format.read_index(out)["videos"]] == ["synth_000", "synth_001"]


def test_cli(tmp_path, capsys):
    args = [
        "--out",
        str(tmp_path / "cli"),
        "--videos",
        "1",
        "--frames",
        "5",
        "--size",
        "16",
        "--seed",
        "0",
        "--label-every",
        "2",
    ]
    assert synthetic.main(args) == 0
    index = json.loads((tmp_path / "cli" / "index.json").read_text())
    assert index["label_every"] == 2 and index["image_size"] == [16, 16]
    assert index["generator"]["seed"] == 0 and len(index["generator"]["mano_model_sha256"]) == 64
    assert synthetic.main(args) == 1  # not empty, no --force
    assert "not empty" in capsys.readouterr().err
    assert synthetic.main(args[:-2] + ["--label-every", "0"]) == 1


def test_reader_errors_name_the_file(dataset, tmp_path):
    broken = tmp_path / "broken"
    folder = broken / "videos" / "synth_000"
    folder.mkdir(parents=True)
    (broken / "index.json").write_text((dataset / "index.json").read_text())
    with pytest.raises(ValueError, match="frames.npz"):
        video_format.VideoDataset(broken)[0]
    video = video_format.read_video(dataset / "videos" / "synth_000")
    bad = dataclasses.replace(video, frames=np.array(video.frames), theta=video.theta[:, :45])
    with pytest.raises(
        ValueError, match=r"theta must be float64 \(20, 48\), found float64 \(20, 45\)"
    ):
        video_format.write_video(folder, bad)
    write_npz(
        folder / "annotations.npz", {**video.annotations(), "joints": video.joints[:, :20]}
    )
    write_npz(folder / "frames.npz", {"pixels": np.array(video.frames)})
    with pytest.raises(ValueError, match=r"frames.npz: expected arrays \['frames'\], found \['pix"):
        video_format.read_video(folder)
    write_npz(folder / "frames.npz", {"frames": np.array(video.frames)})
    with pytest.raises(ValueError, match=r"synth_000: joints must be float64 \(20, 21, 3\)"):
        video_format.read_video(folder)
    (broken / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="expected format 'handkit-videos'"):
        video_format.read_index(broken)
    with pytest.raises(ValueError, match="no such file"):
        video_format.read_index(tmp_path / "nowhere")


def test_reader_checks_the_labelled_grid(dataset, tmp_path):
    copy = tmp_path / "copy"
    _copy_set(dataset, copy)
    video = video_format.read_video(copy / "videos" / "synth_000")
    wrong = labelled_mask(20, 4)
    write_npz(
        copy / "videos/synth_000/annotations.npz", {**video.annotations(), "labelled": wrong}
    )
    with pytest.raises(ValueError, match="labelled mask"):
        video_format.VideoDataset(copy).video("synth_000")


def test_default_dataset_path_holds_the_sample_set_made_with_the_shipped_hand():
    path = synthetic.default_dataset_path()
    data = video_format.VideoDataset(path)
    assert {v["split"] for v in data.index["videos"]} == {"train", "val", "test"}
    assert data.index["label_every"] >= 1 and len(data) > 0
    shipped = ManoLayer(model=load_synthetic_model("right"))
    # Fails when the synthetic hand changed: regenerate (command in data_samples/README.md).
    assert data.index["generator"]["mano_model_sha256"] == synthetic.model_digest(shipped)


def _documented_command() -> list[str]:
    """The arguments of the regeneration command in data_samples/README.md."""
    readme = (synthetic.default_dataset_path().parent / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("python -m handkit data synth")]
    return line.split()[5:]


def test_documented_command_reproduces_the_shipped_set(tmp_path, monkeypatch):
    """index.json's values, the npz writer, and the last video rendered again (the others
    are read back from the shipped set to keep the test fast)."""
    shipped = synthetic.default_dataset_path()
    args = _documented_command()
    assert args[args.index("--out") + 1] == "data_samples/synthetic"
    args[args.index("--out") + 1] = str(tmp_path / "again")
    num_videos = int(args[args.index("--videos") + 1])
    original = synthetic.make_video

    def make_video(seed, video_index, *rest, **options):
        if video_index == num_videos - 1:
            return original(seed, video_index, *rest, **options)
        return video_format.read_video(shipped / "videos" / f"synth_{video_index:03d}")

    monkeypatch.setattr(synthetic, "make_video", make_video)
    assert synthetic.main(args) == 0
    # Within tolerances, not byte for byte: on another CPU (another SIMD path) the rendered
    # video differs by a grey level in a few pixels and its floats in the last bits.
    assert tree_differences(tmp_path / "again", shipped, exact=EXACT_ARRAYS) == []


def test_set_comparison_names_what_differs_and_fails_fast(tmp_path):
    """A changed pixel value, label or float beyond its tolerance is reported in one short line
    each (and the comparison of a multi-megabyte set never hands pytest the arrays to diff)."""
    shipped = synthetic.default_dataset_path() / "videos" / "synth_000"
    copy = tmp_path / "synth_000"
    copy.mkdir()
    with np.load(shipped / "annotations.npz") as stored:
        arrays = dict(stored)
    with np.load(shipped / "frames.npz") as stored:
        frames = stored["frames"].copy()
    arrays["labelled"][1] = True
    arrays["joints"][5, 3, 0] += 1e-6
    frames[0, 0, 0, 0] ^= 8
    write_npz(copy / "annotations.npz", arrays)
    write_npz(copy / "frames.npz", {"frames": frames})
    problems = tree_differences(copy, shipped, exact=EXACT_ARRAYS)
    assert len(problems) == 3 and all(len(line) < 200 for line in problems), problems
    assert [any(word in line for line in problems)
            for word in ("[labelled]: differs", "[joints]: 1 of", "up to 8")] == [True] * 3
    frames[0, 0, 0, 0] ^= 8
    frames.reshape(-1)[:10] ^= 1  # one grey level in 10 of 3.7 M values: within tolerance
    write_npz(copy / "frames.npz", {"frames": frames})
    assert tree_differences(copy, shipped, exact=EXACT_ARRAYS) == [
        line for line in problems if "frames.npz" not in line]


def test_cli_generator_flags_and_split_fractions_go_into_index_json(tmp_path):
    args = ["--out", str(tmp_path / "set"), "--videos", "5", "--frames", "3", "--size", "8",
            "--label-every", "2", "--fov-deg", "45", "--depth-mm", "300", "400",
            "--key-gap", "5", "9", "--occluder-prob", "0", "--val-fraction", "0.2",
            "--test-fraction", "0.4"]
    assert synthetic.main(args) == 0
    index = video_format.read_index(tmp_path / "set")
    params = index["generator"]["params"]
    assert (params["fov_deg"], params["depth_mm"], params["key_gap"]) == (45.0, [300, 400], [5, 9])
    assert params["occluder_prob"] == 0.0 and params["spread"] == synthetic.SynthParams().spread
    assert index["generator"]["split_fractions"] == {"val": 0.2, "test": 0.4}
    assert [v["split"] for v in index["videos"]] == ["train", "train", "val", "test", "test"]
    data = video_format.VideoDataset(tmp_path / "set")
    intrinsics = data.video("synth_000").intrinsics[0]
    # (S / 2) / tan(fov / 2)
    assert intrinsics[0, 0] == pytest.approx(4.0 / np.tan(np.radians(45) / 2))


def test_cli_has_a_flag_for_every_generator_parameter(capsys):
    with pytest.raises(SystemExit):
        synthetic.main(["--help"])
    text = capsys.readouterr().out
    for field in dataclasses.fields(synthetic.SynthParams):
        assert f"--{field.name.replace('_', '-')}" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--fov-deg", "180"], "fov_deg must be in"), (["--depth-mm", "500", "400"], "depth_mm"),
     (["--key-gap", "0", "5"], "key_gap"), (["--occluder-prob", "1.5"], "occluder_prob"),
     (["--val-fraction", "0.5", "--test-fraction", "0.5"], "leaving none for train"),
     (["--test-fraction", "-0.1"], "test_fraction must be in")],
)
def test_cli_rejects_bad_parameters(tmp_path, capsys, flags, message):
    args = ["--out", str(tmp_path / "x"), "--videos", "4", "--frames", "2", "--size", "8"]
    assert synthetic.main(args + flags) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_default_split_fractions_keep_the_former_rule():
    def former(video_index, num_videos):  # split_of before the fractions were parameters
        held = max(1, round(num_videos / 6)) if num_videos >= 3 else 0
        if video_index >= num_videos - held:
            return "test"
        return "val" if video_index >= num_videos - 2 * held else "train"

    for num_videos in range(1, 40):
        assert [synthetic.split_of(i, num_videos) for i in range(num_videos)] == [
            former(i, num_videos) for i in range(num_videos)
        ]
    assert synthetic.split_counts(10, val_fraction=0.0, test_fraction=0.3) == (0, 3)


def test_synth_params_are_checked():
    with pytest.raises(ValueError, match=r"pose_components must be an integer in 0..45, got 50"):
        synthetic.SynthParams(pose_components=50)
    with pytest.raises(ValueError, match=r"depth_mm must be a \(min, max\) pair"):
        synthetic.SynthParams(depth_mm=(1.0, 2.0, 3.0))
    assert synthetic.SynthParams(key_gap=[3, 4]).key_gap == (3, 4)


def test_truncated_files_are_named(dataset, tmp_path):
    copy = tmp_path / "copy"
    _copy_set(dataset, copy)
    frames = copy / "videos" / "synth_001" / "frames.npz"
    frames.write_bytes(frames.read_bytes()[:500])  # a partial copy
    with pytest.raises(ValueError, match="synth_001/frames.npz: cannot read this .npz archive"):
        video_format.VideoDataset(copy).video("synth_001")
    index = copy / "index.json"
    index.write_text(index.read_text()[:40])
    with pytest.raises(ValueError, match="index.json: not a valid JSON file"):
        video_format.VideoDataset(copy)
