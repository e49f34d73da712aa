"""Trained weights exported as float16 .npz (no pickle) and loaded back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handkit.geometry import intrinsics
from handkit.train import TrainConfig, load_run, train
from handkit.train.export import export_weights, load_weights, read_info


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    threads = torch.get_num_threads()
    folder = tmp_path_factory.mktemp("export") / "run"
    train(TrainConfig(stage1_steps=2, stage2_steps=2, stage3_steps=1, batch_size=4,
                      pair_batch_size=2, lr=1e-3, threads=1), folder, progress=False)
    yield folder
    torch.set_num_threads(threads)


def test_export_and_load_give_the_same_hands_within_half_precision(run_folder, tmp_path):
    path = export_weights(run_folder, tmp_path / "w.npz", extra={"made_by": "test"})
    model = load_weights(path)
    assert model.info["made_by"] == "test" and model.config == load_run(run_folder).config
    run = load_run(run_folder)
    images, camera = torch.rand(3, 3, 64, 64), intrinsics(64).expand(3, 3, 3).float()
    with torch.no_grad():
        original, loaded = run.predictor(images, camera), model.predictor(images, camera)
    assert (original.joints - loaded.joints).norm(dim=-1).max() < 1.0  # mm
    assert not model.predictor.training and not model.aligner.training
    with np.load(path, allow_pickle=False) as archive:
        stored = [archive[n].dtype for n in archive.files if n.startswith("predictor/")]
    assert np.float16 in stored and not any("mano." in n for n in archive.files)


def test_files_that_are_not_handkit_weights_are_refused(tmp_path, run_folder):
    with pytest.raises(FileNotFoundError, match="no weights file"):
        load_weights(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a handkit weights file"):
        load_weights(tmp_path / "other.npz")
    np.savez(tmp_path / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable .npz of arrays"):
        load_weights(tmp_path / "pickled.npz")
    path = export_weights(run_folder, tmp_path / "w.npz")
    with np.load(path) as archive:
        arrays = {n: archive[n] for n in archive.files}
    arrays["predictor/pose_head.weight"] = arrays["predictor/pose_head.weight"][:, :5]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"pose_head.weight has shape \(18, 5\)"):
        load_weights(tmp_path / "bad.npz")


def test_the_description_is_read_without_the_weights(tmp_path, run_folder):
    path = export_weights(run_folder, tmp_path / "w.npz", extra={"table1_rows": [{"a": 1}]})
    info = read_info(path)
    assert info["table1_rows"] == [{"a": 1}] and info == load_weights(path).info
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a handkit weights file"):
        read_info(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="no weights file"):
        read_info(tmp_path / "missing.npz")
