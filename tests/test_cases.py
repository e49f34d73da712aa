"""handkit.cases: failure cases of an evaluation and the hands that show them."""

import numpy as np
import pytest
import torch

from handkit.cases import (
    case_gallery,
    case_hands,
    cases_at,
    occluded_frames,
    regression_better_share,
    worst_rows,
)
from handkit.data import VideoDataset
from handkit.data.synthetic import generate_dataset
from handkit.evaluation import evaluate_split, read_video
from handkit.inference import encode_video, predict_video
from handkit.models import HandPredictor, PoseAligner


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = generate_dataset(tmp_path_factory.mktemp("cases") / "set", num_videos=2,
                            num_frames=40, size=32, seed=3, label_every=16,
                            show_progress=False)
    reader = VideoDataset(root)
    torch.manual_seed(0)
    predictor, aligner = HandPredictor().eval(), PoseAligner().eval()
    with torch.no_grad():  # output layers away from zero, so propagation is not a copy
        for layer in (aligner.root_net.output, aligner.theta_net.output):
            layer.weight.normal_(0.0, 0.01)
    result = evaluate_split(reader, predictor, aligner, modes=("regression", "propagation"),
                            vertices=False, progress=False)
    return reader, predictor, aligner, result


def test_worst_rows_are_the_largest_errors_kept_apart():
    errors = np.array([1.0, 7.0, 6.9, 6.8, 2.0, 5.0])
    video = np.array([0, 0, 0, 0, 1, 1])
    frame = np.array([0, 40, 41, 42, 0, 3])
    assert worst_rows(errors, 3, video=video, frame=frame, apart=32) == [1, 5, 0]
    assert worst_rows(errors, 2, video=video, frame=frame, apart=1) == [1, 2]
    only_second = video == 1
    assert worst_rows(errors, 5, video=video, frame=frame, where=only_second) == [5]  # 3 apart
    assert worst_rows(errors, 5, video=video, frame=frame, apart=1, where=only_second) == [5, 4]


def test_case_hands_are_the_whole_videos_hands_at_that_frame(evaluated):
    reader, predictor, aligner, result = evaluated
    worst = worst_rows(result.frames.mpjpe("propagation"), 2, video=result.frames.video,
                       frame=result.frames.frame)
    for case in cases_at(result, worst, reader):
        video = read_video(reader, case.video_id)
        with torch.no_grad():
            whole = predict_video(encode_video(predictor, video.images, video.intrinsics),
                                  video.labels, modes=("regression", "propagation"),
                                  aligner=aligner)
            shown = case_hands(reader, case, predictor, aligner)
        for mode in ("regression", "propagation"):
            np.testing.assert_allclose(getattr(shown, mode),
                                       whole[mode].joints[case.frame].numpy(), atol=1e-3)
        np.testing.assert_array_equal(shown.truth, video.truth["joints"][case.frame])
        error = np.linalg.norm(shown.propagation - shown.truth, axis=1).mean()
        assert error == pytest.approx(case.errors["propagation"], rel=1e-3)


def test_occlusion_flags_and_the_share_a_perfect_gate_would_send_to_regression(evaluated):
    reader, _, _, result = evaluated
    flags = occluded_frames(result, reader)
    assert flags.shape == result.frames.frame.shape and flags.dtype == bool
    first = reader.video(result.video_ids[0]).occluded
    rows = result.frames.video == 0
    np.testing.assert_array_equal(flags[rows], first[result.frames.frame[rows]])
    shares = regression_better_share(result)
    assert len(shares) == len(result.bins)
    frames = result.frames
    better = frames.mpjpe("regression") < frames.mpjpe("propagation")
    low, high = result.bins[0]
    in_first = (frames.distance >= low) & (frames.distance <= high)
    assert shares[0] == pytest.approx(better[in_first].mean())


def test_gallery_draws_one_panel_per_case_with_three_skeletons(evaluated):
    reader, predictor, aligner, result = evaluated
    cases = cases_at(result, [0, len(result.frames.frame) - 1], reader)
    figure = case_gallery(reader, cases, ["first", "last"], predictor, aligner, title="t")
    titles = [note.text for note in figure.layout.annotations]
    assert len(titles) == 2 and titles[0].startswith("first: ") and "propagation" in titles[0]
    names = {trace.name for trace in figure.data if trace.name}
    assert {"ground truth", "propagation (scenario 2)", "regression (scenario 1)"} <= names
    with pytest.raises(ValueError, match="one reason per case"):
        case_gallery(reader, cases, ["only one"], predictor, aligner)
