"""The real-data switch: TrainConfig(dataset=..., data_root=...) trains and evaluates on the
HO-3D fixture through the same batch adapter, with the set's d_off and label-box crops; the
evaluate command prints the paper's rows beside. (The fixture is tiny: numbers mean nothing,
only that every piece fits.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from handkit.data.datasets import DATASET_DEFAULTS, HandCrop, LabelBox
from handkit.data.ho3d import HO3DReader
from handkit.evaluate_cli import main as evaluate_main
from handkit.experiments.table1 import evaluate_run
from handkit.train import TrainConfig, input_transform, load_run, open_reader, train
from handkit.train.cli import main as train_main

HO3D = Path(__file__).resolve().parents[1] / "data_samples" / "ho3d_fixture"
#: A few steps on the fixture's sequences (8 frames each; a label every 4 frames).
TINY = TrainConfig(dataset="ho3d", data_root=str(HO3D), label_every=4, image_size=32,
                   stage1_steps=2, stage2_steps=2, stage3_steps=2, batch_size=4,
                   pair_batch_size=2, lr=1e-3, threads=1, log_every=1, max_gap=4)



@pytest.fixture(scope="module")
def ho3d_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "ho3d"
    train(TINY, folder, progress=False)
    return folder


def test_a_real_config_opens_the_set_with_its_d_off_and_label_box_crops():
    assert TINY.d_off() == DATASET_DEFAULTS["ho3d"].d_off_mm == 400.0
    assert TrainConfig().d_off() == 500.0 and TrainConfig(d_off_mm=450.0).d_off() == 450.0
    reader = open_reader(TINY, "test")
    assert isinstance(reader, HO3DReader) and reader.video_ids == ("ABF10",)
    assert reader.label_every == 4
    transform = input_transform(TINY, reader, training=False)
    assert isinstance(transform, HandCrop) and isinstance(transform.box, LabelBox)
    assert transform.out_size == 32 and transform.jitter == 0
    record = transform(reader[1], np.random.default_rng(0))
    assert record.image.shape == (32, 32, 3)
    # the synthetic set keeps its frames as they are (no transform at its own size)
    assert input_transform(TrainConfig(), open_reader(TrainConfig()), training=True) is None


def test_a_run_on_the_fixture_trains_every_stage_and_evaluates_its_test_split(ho3d_run):
    run = load_run(ho3d_run)
    assert run.config == TINY and run.predictor.d_off_mm == 400.0
    saved = json.loads((ho3d_run / "config.json").read_text())
    assert saved["dataset"] == "ho3d" and saved["data_root"] == str(HO3D)
    rows, distance = evaluate_run(ho3d_run, splits=("test",), vertices=False, progress=False)
    methods = {r["method"] for r in rows}
    assert {"Baseline", "Baseline + Align", "Propagation", "Interpolation"} <= methods
    reader = open_reader(TINY, "test")
    unlabelled = int((reader.annotated_mask & ~reader.labelled_mask).sum())
    assert unlabelled > 0
    assert all(r["frames"] == unlabelled for r in rows)
    assert all(math.isfinite(r["mpjpe"]) and r["mpjpe"] > 0 for r in rows)
    assert distance and {r["split"] for r in distance} == {"test"}


def test_evaluate_prints_the_papers_rows_beside_a_real_run(ho3d_run, capsys):
    assert evaluate_main(["--run", str(ho3d_run), "--split", "test", "--no-vertices",
                          "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "The paper's Table I, Mini-HO-3D, test videos (K = 128), beside yours" in out
    assert "44.0" in out.split("beside yours")[1]  # the paper's Propagation MPJPE
    assert (ho3d_run / "evaluation-test.json").is_file()


def test_the_train_command_takes_the_dataset_flags(tmp_path, capsys):
    code = train_main(["--out", str(tmp_path / "cli"), "--dataset", "ho3d", "--data-root",
                       str(HO3D), "--label-every", "4", "--image-size", "32", "--stage1-steps",
                       "1", "--stage2-steps", "0", "--stage3-steps", "0", "--batch-size", "4",
                       "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert (config["dataset"], config["d_off_mm"]) == ("ho3d", None)


@pytest.mark.parametrize(("values", "message"), [
    ({"dataset": "freihand"}, r"dataset must be one of \('synthetic', 'ho3d', 'interhand'\)"),
    ({"dataset": "ho3d", "data": "/some/folder"}, "the folder of 'ho3d' goes in data_root"),
    ({"data_root": "/x"}, "data_root is for the real sets"),
    ({"d_off_mm": -1.0}, r"d_off_mm must be > 0, got -1\.0"),
])
def test_a_wrong_data_choice_is_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_a_real_set_without_a_folder_names_the_variable(monkeypatch):
    monkeypatch.delenv("HANDKIT_INTERHAND_ROOT", raising=False)
    with pytest.raises(ValueError, match="HANDKIT_INTERHAND_ROOT"):
        open_reader(TrainConfig(dataset="interhand"))


def test_data_and_train_videos_options_are_refused_for_a_real_run(ho3d_run):
    with pytest.raises(ValueError, match="apply to synthetic runs"):
        evaluate_run(ho3d_run, splits=("train",), train_videos=1, progress=False)


@pytest.mark.parametrize("name", ["ho3d", "interhand"])
def test_the_papers_table1_config_for_each_real_set_loads(name):
    from handkit.train import load_config

    path = Path(__file__).resolve().parents[1] / "experiments" / f"table1_{name}.yaml"
    config = load_config(path)
    assert (config.dataset, config.label_every, config.lr, config.batch_size) == (
        name, 128, 5e-5, 64)
    assert config.stage1_steps == 40_000 and config.d_off() == DATASET_DEFAULTS[name].d_off_mm
    assert config.rotation_aug_rad == pytest.approx(math.pi / 8)
