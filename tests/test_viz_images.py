"""Tests for handkit.viz.images: frame and strip figures."""

import base64
import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from handkit.viz import images


def _decode(source: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    return np.array(Image.open(io.BytesIO(base64.b64decode(source[len(prefix) :]))))


def test_png_source_round_trips_uint8_and_float():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_decode(images.png_source(image)), image)
    as_float = torch.from_numpy(image / 255.0)
    np.testing.assert_array_equal(_decode(images.png_source(as_float)), image)


def test_frame_figure_with_skeleton():
    image = np.zeros((16, 20, 3), np.uint8)
    joints = np.random.default_rng(1).uniform(0, 15, size=(21, 2))
    fig = images.frame_figure(image, joints_2d=joints, title="t=3")
    assert isinstance(fig, go.Figure)
    assert [type(t).__name__ for t in fig.data] == ["Image", "Scatter"]
    assert np.isnan(np.asarray(fig.data[1].x, dtype=float)).sum() == 20  # 20 bones, one gap each
    assert tuple(fig.layout.yaxis.range) == (15.5, -0.5)  # rows grow downwards
    with pytest.raises(ValueError, match=r"joints_2d must have shape \(21, 2\), got \(20, 2\)"):
        images.frame_figure(image, joints_2d=joints[:20])
    with pytest.raises(ValueError, match=r"image must have shape \(H, W, 3\), got \(16, 20\)"):
        images.frame_figure(image[..., 0])


def test_strip_marks_exactly_the_labelled_frames():
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    fig = images.strip_figure(frames, [0, 5, 10, 15], [True, False, False, True])
    assert sum(isinstance(t, go.Image) for t in fig.data) == 4
    assert len(fig.layout.shapes) == 2
    captions = [a.text for a in fig.layout.annotations]
    assert captions == ["t=0 labelled", "t=5", "t=10", "t=15 labelled"]
    with pytest.raises(ValueError, match="got 4, 3, 4"):
        images.strip_figure(frames, [0, 5, 10], [True, False, False, True])
