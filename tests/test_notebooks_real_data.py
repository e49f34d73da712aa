"""The real-data switch of notebooks 03-08: each runs with ``dataset="ho3d"`` and
``data_root`` pointing at the HO-3D fixture (a stand-in for the release; its sequences have 8
frames, so K and the gaps are small). Notebook 07 evaluates a run trained on the fixture here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from handkit.course.run import run_notebooks
from handkit.train import TrainConfig, train
from tests.notebook_results import numbers_in

ROOT = Path(__file__).resolve().parent.parent
HO3D = str(ROOT / "data_samples" / "ho3d_fixture")
REAL = {"dataset": "ho3d", "data_root": HO3D}

#: Parameters fitting the fixture (8-frame sequences), on top of REAL.
FIXTURE_PARAMETERS = {
    "03_hand_predictor": {"num_frames": 2, "fit_steps": 40},
    "04_pose_alignment": {"video": 1, "label_every": 2, "gap": 1, "fit_steps": 40},
    "05_losses": {"num_pairs": 4},
    "06_three_stage_training": {"label_every": 4, "stage1_steps": 10, "stage2_steps": 4,
                                "stage3_steps": 4, "batch_size": 4, "pair_batch_size": 2,
                                "stop_after": 6},
    "08_experiments": {"label_every": 4, "stage1_steps": 4, "stage2_steps": 2,
                       "stage3_steps": 2, "batch_size": 8},
}


def run(name: str, folder: Path, **parameters) -> dict:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    results = run_notebooks([path], folder, {**REAL, **parameters}, kernel=None)[name]
    numbers = numbers_in(results)
    assert numbers and all(math.isfinite(n) for n in numbers), results
    return results


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURE_PARAMETERS))
def test_notebook_runs_on_the_ho3d_fixture(name, tmp_path):
    results = run(name, tmp_path, **FIXTURE_PARAMETERS[name])
    if name == "03_hand_predictor":
        assert results["d_off_mm"] == 400.0  # HO-3D's d_off
        assert results["image_size"] == 128  # the label-box crop, not the 640 x 480 frame
    if name == "08_experiments":
        assert results["frames"] == 3  # ABF10: 8 frames, labels 0, 4, 7 (one unannotated)


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_07_evaluates_a_run_trained_on_the_fixture(tmp_path):
    config = TrainConfig(dataset="ho3d", data_root=HO3D, label_every=4, image_size=32,
                         stage1_steps=2, stage2_steps=2, stage3_steps=2, batch_size=4,
                         pair_batch_size=2, threads=1)
    train(config, tmp_path / "run", progress=False)
    results = run("07_evaluation", tmp_path / "nb", checkpoint=str(tmp_path / "run"),
                  vertices=False)
    assert results["frames"] == 3 and results["checkpoint_test_mpjpe"] == {}


@pytest.mark.notebook
def test_notebook_07_asks_for_a_checkpoint_trained_on_a_real_set(tmp_path):
    from handkit.course.kernels import NotebookRunError

    with pytest.raises(NotebookRunError, match="give checkpoint= a run folder"):
        run_notebooks([ROOT / "notebooks" / "07_evaluation.ipynb"], tmp_path, REAL, kernel=None)
