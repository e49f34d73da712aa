"""handkit.evaluation: Table I on the unlabelled frames of a reader (Sec. V-C), by distance to the
nearest label, with per-frame errors; the gate calibrated from labelled frames only."""

import csv
import io
import math

import numpy as np
import pytest
import torch

import handkit.evaluation
from handkit.data import CropTransform, VideoDataset, VideoFrames, labelled_mask
from handkit.evaluation import (
    DISTANCE_BINS,
    calibrate_gate_on_reader,
    distance_bins,
    distance_rows,
    evaluate_predictors,
    evaluate_split,
    table_rows,
    truth_vertices,
)
from handkit.inference import (
    GateParams,
    VideoLabels,
    encode_video,
    predict_video,
)
from handkit.metrics import METRIC_KEYS, evaluate
from handkit.models import HandParams, HandPredictor, ManoDecoder, PoseAligner

SAMPLES = "data_samples/synthetic"
FRAMES = 40
LABEL_EVERY = 16


class ArrayReader(VideoFrames):
    """Videos held in arrays, 32 px (the sample videos' first frames, 2x2-averaged).

    ``poison``: "nan" or "zeros" replaces the ground truth of every frame outside S_V, to show
    that a computation never reads it. ``opened`` records every frame index read.
    """

    def __init__(self, videos, *, label_every=LABEL_EVERY, poison=None):
        self.arrays = videos
        super().__init__({v: np.ones(len(a["intrinsics"]), bool) for v, a in videos.items()},
                         label_every=label_every)
        self.poison = poison
        self.opened = []

    def __getitem__(self, index):
        self.opened.append(int(index))
        return super().__getitem__(index)

    def _image(self, video_id, frame_index):
        return self.arrays[video_id]["frames"][frame_index]

    def _annotation(self, video_id, frame_index):
        a = self.arrays[video_id]
        out = {k: a[k][frame_index].copy()
               for k in ("intrinsics", "root", "theta", "beta", "joints")}
        out["joint_valid"] = np.ones(21, bool)
        grid = labelled_mask(len(a["intrinsics"]), self.label_every)
        if self.poison and not grid[frame_index]:
            fill = np.nan if self.poison == "nan" else 0.0
            out |= {k: np.full_like(out[k], fill) for k in ("root", "theta", "beta", "joints")}
        return out


def small_videos(count=2):
    dataset = VideoDataset(SAMPLES, split="test")
    videos = {}
    for video_id in dataset.video_ids[:count]:
        v = dataset.video(video_id)
        frames = v.frames[:FRAMES].astype(np.float64)
        frames = frames.reshape(FRAMES, 32, 2, 32, 2, 3).mean(axis=(2, 4))  # 2x2 means
        intrinsics = v.intrinsics[:FRAMES].copy()
        intrinsics[:, :2, :2] /= 2
        intrinsics[:, :2, 2] = intrinsics[:, :2, 2] / 2 - 0.25  # centres: u' = (u + 0.5) / 2 - 0.5
        videos[video_id] = {"frames": np.round(frames).astype(np.uint8), "intrinsics": intrinsics,
                            **{k: getattr(v, k)[:FRAMES] for k in ("root", "theta", "beta",
                                                                   "joints")}}
    return videos


@pytest.fixture(scope="module")
def videos():
    return small_videos()


@pytest.fixture(scope="module")
def modules():
    torch.manual_seed(0)
    predictor = HandPredictor()
    aligner = PoseAligner()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # an aligner that moves
        for name, child in aligner.named_modules():
            if name.split(".")[-1] == "output":
                child.weight.copy_(0.01 * torch.randn(child.weight.shape, generator=generator))
                child.bias.copy_(0.01 * torch.randn(child.bias.shape, generator=generator))
    return predictor, aligner


@pytest.fixture(scope="module")
def result(videos, modules):
    predictor, aligner = modules
    return evaluate_split(ArrayReader(videos), predictor, aligner, progress=False)


def test_only_unlabelled_frames_are_scored(videos, result):
    grid = labelled_mask(FRAMES, LABEL_EVERY)  # 0, 16, 32, 39
    assert result.num_frames == 2 * (FRAMES - 4)
    assert set(result.frames.frame.tolist()) == set(np.flatnonzero(~grid).tolist())
    assert [f.tolist() for f in result.label_frames] == [[0, 16, 32, 39]] * 2
    assert result.video_ids == tuple(videos) and result.skipped == {}
    assert set(result.overall) == set(result.frames.metrics) == set(result.modes)
    assert result.calibration is not None and result.gate == result.calibration.gate


def test_overall_metrics_are_the_metrics_of_those_frames(videos, modules, result):
    predictor, aligner = modules
    reader = ArrayReader(videos)
    pred_j, pred_v, gt_j, gt_params = [], [], [], []
    for a in videos.values():
        images = torch.from_numpy(a["frames"]).permute(0, 3, 1, 2).float() / 255
        intrinsics = torch.as_tensor(a["intrinsics"], dtype=torch.float32)
        features = encode_video(predictor, images, intrinsics)
        frames = np.flatnonzero(reader.labelled_masks()[0])
        labels = VideoLabels(frames, HandParams(*(torch.as_tensor(a[k][frames],
                                                                  dtype=torch.float32)
                                                  for k in ("root", "theta", "beta"))),
                             num_frames=FRAMES)
        out = predict_video(features, labels, modes=["propagation"], aligner=aligner)
        rows = ~labels.mask
        pred_j.append(out["propagation"].joints[rows])
        pred_v.append(out["propagation"].verts[rows])
        gt_j.append(a["joints"][rows])
        gt_params.append([torch.as_tensor(a[k][rows], dtype=torch.float32)
                          for k in ("root", "theta", "beta")])
    with torch.no_grad():
        gt_v = torch.cat([ManoDecoder()(*p)[0] for p in gt_params])
    expected = evaluate(torch.cat(pred_j), np.concatenate(gt_j), torch.cat(pred_v), gt_v)
    for key in METRIC_KEYS:
        assert result.overall["propagation"][key] == pytest.approx(expected[key], rel=1e-5), key
    per_frame = result.frames.mpjpe("propagation")
    assert per_frame.mean() == pytest.approx(expected["mpjpe"], rel=1e-5)


def test_distance_bins(videos, modules, result):
    # K = 16: every unlabelled frame lies within 8 frames of a label
    expected = np.array([min(abs(u - s) for s in (0, 16, 32, 39)) for u in range(FRAMES)])
    assert np.array_equal(result.frames.distance, expected[result.frames.frame])
    assert result.bins == DISTANCE_BINS and result.bin_counts == (72, 0, 0)
    assert result.by_distance["copy"][0] == pytest.approx(result.overall["copy"]["mpjpe"])
    assert all(math.isnan(v) for v in result.by_distance["copy"][1:])
    # labels 0 and 39 only: distances 1..19, two bins
    predictor, aligner = modules
    far = evaluate_split(ArrayReader(videos), predictor, aligner, modes=["copy", "regression"],
                         label_every=39, vertices=False, progress=False)
    distance = far.frames.distance
    assert far.bin_counts == (int(((distance >= 1) & (distance <= 15)).sum()),
                              int(((distance >= 16) & (distance <= 31)).sum()), 0)
    assert far.bin_counts[:2] == (2 * 30, 2 * 8)
    in_bin = far.frames.video[(distance >= 16)]
    assert len(in_bin) == 16
    mpjpe = far.frames.mpjpe("copy")
    assert far.by_distance["copy"][1] == pytest.approx(mpjpe[distance >= 16].mean())
    assert far.overall["copy"]["f5"] is None  # vertices=False
    assert distance_bins(100) == DISTANCE_BINS + ((65, 128),)
    assert distance_bins(300)[-1] == (257, 512)


def test_tables_for_csv_and_plotly(result):
    rows = table_rows(result)
    assert [r["mode"] for r in rows] == list(result.modes)
    assert rows[1]["method"] == "Propagation (scenario 2)"
    assert {"f5", "f15", "mpvpe", "mpvpe_p", "mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p",
            "mpjpe_1-15", "mpjpe_16-31", "mpjpe_32-64"} <= set(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    assert buffer.getvalue().count("\n") == len(rows) + 1
    long = distance_rows(result)
    assert len(long) == len(result.modes) * len(result.bins)
    assert long[0] == {"mode": "regression", "method": "Regression (scenario 1)",
                       "distance": "1-15", "frames": 72,
                       "mpjpe": result.by_distance["regression"][0]}


def test_the_gate_is_fitted_without_unlabelled_ground_truth(videos, modules, result):
    predictor, aligner = modules
    clean_reader, poisoned_reader = ArrayReader(videos), ArrayReader(videos, poison="nan")
    clean = calibrate_gate_on_reader(clean_reader, predictor, aligner)
    poisoned = calibrate_gate_on_reader(poisoned_reader, predictor, aligner)
    assert poisoned.gate == clean.gate
    assert np.array_equal(poisoned.scores, clean.scores)
    labelled = np.flatnonzero(poisoned_reader.labelled_mask)
    assert sorted(set(poisoned_reader.opened)) == labelled.tolist()  # nothing else was opened
    # inside evaluate_split too: zeroed unlabelled ground truth changes the errors, not the gate
    zeroed = evaluate_split(ArrayReader(videos, poison="zeros"), predictor, aligner,
                            modes=["gated"], vertices=False, progress=False)
    assert zeroed.gate == result.gate
    assert zeroed.overall["gated"]["mpjpe"] != result.overall["gated"]["mpjpe"]


def test_a_given_gate_is_used(videos, modules, result):
    predictor, aligner = modules
    out = evaluate_split(ArrayReader(videos), predictor, aligner,
                         modes=["gated", "regression", "propagation"],
                         gate=GateParams(threshold=-math.inf), vertices=False, progress=False)
    assert out.calibration is None
    assert out.overall["gated"]["mpjpe"] == pytest.approx(out.overall["regression"]["mpjpe"])
    assert out.overall["propagation"]["mpjpe"] == pytest.approx(
        result.overall["propagation"]["mpjpe"])


def test_a_crop_transform_feeds_the_predictor_its_size(videos, modules):
    predictor, aligner = modules
    sized = HandPredictor(image_size=64)
    sized.load_state_dict(predictor.state_dict())
    reader = ArrayReader(videos)
    with pytest.raises(ValueError, match=r"images must be \(64, 64, 3\) for the predictor, got "
                                         r"\[\(32, 32, 3\)\]: give transform=CropTransform"):
        evaluate_split(reader, sized, aligner, modes=["regression"], progress=False)
    out = evaluate_split(reader, sized, aligner, modes=["regression", "copy"], vertices=False,
                         transform=CropTransform(out_size=64), progress=False)
    assert out.num_frames == 72
    with pytest.raises(ValueError, match=r"box='joints' needs valid joints"):  # GT is hidden
        evaluate_split(reader, sized, aligner, modes=["regression"], progress=False,
                       transform=CropTransform(out_size=64, box="joints"))


def test_bad_inputs_are_refused(videos, modules):
    predictor, aligner = modules
    reader = ArrayReader(videos)
    with pytest.raises(ValueError, match=r"must not roll the camera for evaluation, got "
                                         r"max_rotation_rad=0\.3"):
        evaluate_split(reader, predictor, aligner, progress=False,
                       transform=CropTransform(out_size=32, max_rotation_rad=0.3))
    with pytest.raises(ValueError, match=r"reader must be a VideoFrames reader, got dict"):
        evaluate_split(videos, predictor, aligner, progress=False)
    with pytest.raises(ValueError, match=r"modes \['bidirectional', 'fused', 'fused-interp', "
                                         r"'gated', 'propagation'\] "
                                         r"need the aligner, got aligner=None"):
        evaluate_split(reader, predictor, progress=False)
    with pytest.raises(ValueError, match=r"no video of the reader can be evaluated: "
                                         r"\{'synth_010': 'no unlabelled annotated frame'"):
        evaluate_split(reader, predictor, modes=["regression"], label_every=1, progress=False)


def assert_same_result(got, want):
    """Two EvaluationResults with the same frames and numbers (rel 1e-9; NaN = NaN) for the
    modes of ``got`` (``want`` may have more)."""
    assert (got.video_ids, got.bins, got.bin_counts) == (
        want.video_ids, want.bins, want.bin_counts)
    assert np.array_equal(got.frames.frame, want.frames.frame)
    for mode in got.modes:
        assert got.overall[mode] == pytest.approx(want.overall[mode], rel=1e-9), mode
        assert got.by_distance[mode] == pytest.approx(want.by_distance[mode], rel=1e-9,
                                                      nan_ok=True), mode
        for key, values in want.frames.metrics[mode].items():
            np.testing.assert_allclose(got.frames.metrics[mode][key], values, rtol=1e-9)
    if want.gate is not None:
        assert got.gate.score == want.gate.score
        assert (got.gate.threshold, got.gate.temperature) == pytest.approx(
            (want.gate.threshold, want.gate.temperature), rel=1e-9)


def test_several_predictors_share_one_read_and_one_ground_truth_per_video(
        videos, modules, result, monkeypatch):
    predictor, aligner = modules
    torch.manual_seed(2)
    other = HandPredictor()  # another network (its heads start at zero: move them)
    with torch.no_grad():
        for head in (other.pose_head, other.shape_head, other.root_head):
            head.weight.normal_(0.0, 0.01)
    decoded = []

    def counted(*args, **kwargs):
        decoded.append(len(args[1]))
        return truth_vertices(*args, **kwargs)

    monkeypatch.setattr(handkit.evaluation, "truth_vertices", counted)
    reader = ArrayReader(videos)
    both = evaluate_predictors(reader, {"first": predictor, "other": other}, aligner,
                               {"first": ["propagation", "gated"], "other": ["regression"]},
                               progress=False)
    assert sorted(reader.opened) == list(range(len(reader)))  # every frame read once
    assert decoded == [FRAMES - 4] * 2  # one per video (vertices, k-d trees), scored frames
    assert list(both) == ["first", "other"]
    assert both["first"].modes == ("propagation", "gated")
    assert_same_result(both["first"], result)  # evaluate_split of every mode
    alone = evaluate_split(ArrayReader(videos), other, aligner, modes=["regression"],
                           progress=False)
    assert_same_result(both["other"], alone)
    assert both["other"].calibration is None and both["first"].calibration is not None
    assert both["other"].overall["regression"]["mpjpe"] != result.overall["regression"]["mpjpe"]


def test_evaluate_predictors_refuses_mismatched_arguments(videos, modules):
    predictor, aligner = modules
    reader = ArrayReader(videos)
    with pytest.raises(ValueError, match=r"predictors must be a non-empty dict name -> "
                                         r"HandPredictor, got HandPredictor"):
        evaluate_predictors(reader, predictor, aligner, progress=False)
    with pytest.raises(ValueError, match=r"predictors must be a non-empty dict"):
        evaluate_predictors(reader, {}, aligner, progress=False)
    with pytest.raises(ValueError, match=r"modes must give the modes of each predictor "
                                         r"\['a', 'b'\], got modes for \['a'\]"):
        evaluate_predictors(reader, {"a": predictor, "b": predictor}, aligner,
                            {"a": ["regression"]}, progress=False)
    sized = HandPredictor(image_size=64)
    with pytest.raises(ValueError, match=r"images must be \(64, 64, 3\) for the predictor, got "
                                         r"\[\(32, 32, 3\)\]"):
        evaluate_predictors(reader, {"a": predictor, "b": sized}, aligner, ["regression"],
                            progress=False)
