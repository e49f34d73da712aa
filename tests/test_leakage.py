"""No inference mode reads an unlabelled frame's ground truth: with every unlabelled frame's
annotation poisoned in the reader, every mode of handkit.evaluation.evaluate_split predicts
exactly what it predicts from the clean reader (the gate calibrated on the same labels too)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import handkit.evaluation
from handkit.data.crop import CropTransform
from handkit.data.record import FrameRecord
from handkit.data.video_format import VideoDataset
from handkit.evaluation import evaluate_split
from handkit.inference import MODES, predict_video
from handkit.models import HandPredictor, PoseAligner
from tests.test_inference import randomise_output_layers

SAMPLES = "data_samples/synthetic"
VIDEO = "synth_010"
#: Ground-truth fields of a record that a poisoned reader replaces.
TRUTH = ("root", "theta", "beta", "joints", "verts")
#: What a prediction holds, compared field by field.
FIELDS = ("root", "theta", "beta", "joints", "verts", "weight")


class PoisonedDataset(VideoDataset):
    """A VideoDataset whose unlabelled frames carry poisoned ground truth: NaN, or random
    values of the same size (seeded by the frame); labelled frames are untouched."""

    def __init__(self, *args, poison: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.poison = poison

    def _read(self, video_id: str, frame_index: int, labelled: bool) -> FrameRecord:
        """The clean record, its ground truth poisoned when the frame is unlabelled."""
        record = super()._read(video_id, frame_index, labelled)
        if labelled:
            return record
        rng = np.random.default_rng(frame_index)
        values = {}
        for name in TRUTH:
            clean = getattr(record, name)
            if clean is not None:
                values[name] = (np.full_like(clean, np.nan) if self.poison == "nan"
                                else 100.0 * rng.standard_normal(clean.shape))
        return replace(record, **values)


def same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    """Both None, or equal tensors (NaN nowhere)."""
    return (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


@pytest.fixture(scope="module")
def networks():
    """An untrained predictor and an aligner whose output layers move (so every mode does)."""
    torch.manual_seed(0)
    predictor = HandPredictor().eval()
    torch.manual_seed(1)
    return predictor, randomise_output_layers(PoseAligner()).eval()


class _Predicted(Exception):
    """Raised once the video's predictions are made: nothing after them is compared."""


def run_every_mode(reader, networks, monkeypatch):
    """evaluate_split with every mode (input 32 px) up to its predictions: returns (the gate
    it calibrated, mode -> prediction). Scoring is skipped (NaN ground truth is refused)."""
    seen = {}

    def spy(*args, **kwargs):
        seen.update(gate=kwargs["gate_params"], predictions=predict_video(*args, **kwargs))
        raise _Predicted

    monkeypatch.setattr(handkit.evaluation, "predict_video", spy)
    predictor, aligner = networks
    with pytest.raises(_Predicted):
        evaluate_split(reader, predictor, aligner, modes=MODES, vertices=False,
                       transform=CropTransform(out_size=32), progress=False)
    return seen["gate"], seen["predictions"]


@pytest.fixture(scope="module")
def clean_run(networks):
    """The unpoisoned reader's gate and predictions (computed once)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return run_every_mode(VideoDataset(SAMPLES, "test", videos=[VIDEO]), networks,
                              monkeypatch)


def test_the_poisoned_reader_hides_only_unlabelled_truth():
    clean = VideoDataset(SAMPLES, "test", videos=[VIDEO])
    poisoned = PoisonedDataset(SAMPLES, "test", videos=[VIDEO], poison="nan")
    labelled = np.flatnonzero(clean.labelled_mask)
    assert np.array_equal(poisoned[int(labelled[1])].theta, clean[int(labelled[1])].theta)
    assert np.isnan(poisoned[1].theta).all() and np.isfinite(clean[1].theta).all()
    assert np.array_equal(poisoned[1].image, clean[1].image)


@pytest.mark.parametrize("poison", ["nan", "random"])
def test_every_mode_predicts_the_same_without_unlabelled_truth(poison, networks, clean_run,
                                                               monkeypatch):
    gate, before = clean_run
    reader = PoisonedDataset(SAMPLES, "test", videos=[VIDEO], poison=poison)
    assert not np.array_equal(reader[1].root, VideoDataset(SAMPLES, "test")[1].root)
    poisoned_gate, after = run_every_mode(reader, networks, monkeypatch)
    assert list(before) == list(after) == list(MODES)  # every mode ran
    different = [(mode, name) for mode in MODES for name in FIELDS
                 if not same(getattr(before[mode], name), getattr(after[mode], name))]
    assert different == []
    assert gate == poisoned_gate  # calibrated on the labels alone
    assert 0 < float(after["gated"].weight.mean()) < 1  # the gate really chooses per frame
