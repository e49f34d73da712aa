"""handkit.widgets.training: the re-training explorer (K, lambda_align, Train, progress bar)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from handkit.losses import LossConfig
from handkit.train import TrainConfig, train
from handkit.widgets.training import METHODS, evaluate_training_run, slider, training_explorer

#: A few steps of each stage on the shipped sample set.
TINY = TrainConfig(stage1_steps=2, stage2_steps=2, stage3_steps=2, batch_size=4,
                   pair_batch_size=2, log_every=1, lr=1e-3, threads=1, label_every=128)



@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "first"
    train(TINY, folder, progress=False)
    return evaluate_training_run(folder, split="val")


def test_a_run_is_evaluated_on_the_unlabelled_frames_of_the_split(first_run):
    run = first_run
    assert run.config == TINY and run.split == "val" and run.label_every == 128
    assert tuple(run.mpjpe) == METHODS
    assert all(np.isfinite(v) and v > 0 for v in run.mpjpe.values())
    assert run.frames == 2 * 300 - 2 * 4  # two val videos, four labels each
    assert set(run.by_distance["Propagation"]) == {"1-15", "16-31", "32-64"}
    assert set(run.final_loss) == {"stage1", "stage2", "stage3"}
    assert [t.name for t in run.result_figure.data[::2]] == list(METHODS)  # bars per method
    assert len(run.curves_figure.data) == 8  # 2 + 3 + 3 curves
    assert run.summary().startswith("K = 128, λ_align = 0.1: MPJPE (mm) on 592 val")


def test_train_retrains_with_the_sliders_values_and_redraws(first_run, tmp_path):
    explorer = training_explorer(TINY, tmp_path / "explore", initial=first_run)
    assert explorer.result is first_run  # nothing trained on creation
    (live, curves) = explorer.figures
    before = live.to_dict()["data"]
    slider(explorer, "label_every").value = 64
    slider(explorer, "lambda_align").value = 1.0
    assert explorer.result is first_run  # moving only sets the values
    explorer.button.click()
    run = explorer.result
    assert (run.label_every, run.lambda_align) == (64, pytest.approx(1.0))
    assert run.config == TINY.with_overrides({"label_every": 64,
                                              "loss.lambda_align": run.lambda_align})
    assert run.mpjpe["Copy nearest label"] < first_run.mpjpe["Copy nearest label"]  # more labels
    assert explorer.figures == (live, curves) and live.to_dict()["data"] != before  # in place
    bar, status = explorer.children[2].children[1].children
    assert bar.value == bar.max == 6 and bar.bar_style == "success"
    assert status.value.startswith("done in")
    table = explorer.summary.value
    assert table.count("<tr") == 3 and "font-weight:bold" in table.split("<tr")[-1]  # 2 runs
    assert not explorer.button.disabled


def test_arguments_are_checked(first_run, tmp_path):
    with pytest.raises(ValueError, match="label_every = 8 is outside"):
        training_explorer(dataclasses.replace(TINY, label_every=8), tmp_path, show=False,
                          k_range=(16, 256))
    # the default range widens to hold a small K and half of it (short test videos)
    small = training_explorer(dataclasses.replace(TINY, label_every=8), tmp_path, show=False)
    assert (slider(small, "label_every").min, slider(small, "label_every").max) == (4, 256)
    other = dataclasses.replace(TINY, loss=LossConfig(lambda_align=100.0))
    with pytest.raises(ValueError, match="lambda_align = 100.0 is outside"):
        training_explorer(other, tmp_path, show=False)
    with pytest.raises(ValueError, match=r"initial must be .* \(it differs in seed\)"):
        training_explorer(dataclasses.replace(TINY, seed=3), tmp_path, initial=first_run,
                          show=False)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        evaluate_training_run(tmp_path / "empty")


def test_a_saved_explorer_says_to_run_the_cell(first_run, tmp_path):
    explorer = training_explorer(TINY, tmp_path, initial=first_run, show=False)
    assert explorer._repr_mimebundle_()["text/plain"].startswith("Training explorer: run this")
    assert [c.description for c in explorer.controls.values()] == ["K (label spacing)", "λ_align"]
