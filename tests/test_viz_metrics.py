import numpy as np
import pytest

from handkit.viz.metrics import (
    alignment_figure,
    distance_error_figure,
    fscore_figure,
    timeline_error_figure,
)


@pytest.fixture(scope="module")
def hand():
    rng = np.random.default_rng(0)
    return rng.normal(size=(21, 3)) * 40 + [0, 0, 500]


def test_alignment_panels_report_errors_that_shrink(hand):
    moved = hand * 1.2 + [30.0, -20.0, 80.0]  # scaled and shifted: SD and P forgive it
    fig = alignment_figure(moved, hand)
    errors = [float(a.text.split("<br>")[1].split()[0]) for a in fig.layout.annotations]
    assert errors[0] > errors[1] > 0 and errors[3] == pytest.approx(0.0, abs=0.05)
    assert len(fig.data) == 8  # ground truth and prediction in four panels
    with pytest.raises(ValueError, match="plane must be one of"):
        alignment_figure(hand, hand, plane="side")


def test_fscore_figure_counts_points_within_the_threshold():
    rng = np.random.default_rng(1)
    gt = rng.uniform(-50, 50, size=(200, 3))
    fig = fscore_figure(gt.copy(), gt, threshold_mm=5.0)
    assert "F@5 mm = 1.000" in fig.layout.title.text
    far = gt + rng.normal(size=gt.shape) * 30  # noise Procrustes cannot remove
    assert float(fig.layout.title.text.split("= ")[1].split()[0]) > float(
        fscore_figure(far, gt).layout.title.text.split("= ")[1].split()[0])


def test_timeline_and_distance_figures_check_shapes():
    frame = np.arange(1, 10)
    fig = timeline_error_figure(frame, {"Propagation": frame * 2.0}, [0, 10])
    assert list(fig.data[0].y) == list((frame * 2.0).round(1))
    with pytest.raises(ValueError, match=r"errors\['Copy'\] must have shape \(9,\)"):
        timeline_error_figure(frame, {"Copy": np.ones(3)}, [0])
    distance = np.array([1, 2, 5, 6])
    fig = distance_error_figure(distance, {"Copy": np.array([1.0, 3.0, 10.0, 20.0])},
                                bin_width=4)
    assert list(fig.data[0].y) == [2.0, 15.0]
