"""Three-stage training: stages update what they should, exact resume, NaN stops, run folders."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

import handkit.train.steps as steps_module
from handkit.train import (
    RunFolderError,
    TrainConfig,
    TrainingDiverged,
    learning_rate,
    load_checkpoint,
    load_config,
    load_run,
    train,
)
from handkit.train.cli import main as train_main

#: A run of a few steps on the shipped sample set, every stage and the control.
TINY = dict(stage1_steps=3, control_steps=2, stage2_steps=3, stage3_steps=3, batch_size=4,
            pair_batch_size=2, checkpoint_every=2, log_every=1, lr=1e-3, threads=1)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_run_writes_its_folder_and_loads_back(tmp_path):
    result = train(TrainConfig(**TINY), tmp_path / "run", progress=False)
    folder = result.folder
    assert result.finished and set(result.seconds) == {"stage1", "control", "stage2", "stage3"}
    for name in ("config.json", "checkpoint.pt", "stage1.pt", "control.pt", "final.pt",
                 "run.json", "curves/stage1.csv", "curves/stage3.csv"):
        assert (folder / name).is_file(), name
    assert TrainConfig.from_dict(json.loads((folder / "config.json").read_text())) == \
        TrainConfig(**TINY)
    curve = (folder / "curves" / "stage3.csv").read_text().splitlines()
    assert curve[0].startswith("step,lr,total,pred_total,pred_joints") and len(curve) == 4
    run = load_run(folder)
    assert same(weights(run.predictor), weights(result.predictor))
    assert not same(weights(run.baseline), weights(run.predictor))  # stage 3 changed it
    assert not same(weights(run.control), weights(run.baseline))
    assert not run.predictor.training and not run.aligner.training


def test_each_stage_updates_only_its_modules(tmp_path, monkeypatch):
    seen = {}
    real_step = steps_module.accumulate_step

    def spy(optimizer, *args, **kwargs):
        names = {id(p) for group in optimizer.param_groups for p in group["params"]}
        seen.setdefault(len(seen), names)
        return real_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(steps_module, "accumulate_step", spy)
    config = TrainConfig(**{**TINY, "stage1_steps": 1, "control_steps": 0, "stage2_steps": 1,
                            "stage3_steps": 1})
    result = train(config, tmp_path / "run", progress=False)
    predictor = {id(p) for p in result.predictor.parameters()}
    aligner = {id(p) for p in result.aligner.parameters()}
    assert seen[0] == predictor  # stage 1: the predictor only, never the aligner
    assert seen[1] == aligner  # stage 2: the aligner only
    assert seen[2] == predictor | aligner  # stage 3: both


def test_stage2_leaves_the_predictor_exactly_as_stage1_left_it(tmp_path):
    config = TrainConfig(**{**TINY, "control_steps": 0, "stage3_steps": 0})
    result = train(config, tmp_path / "run", progress=False)
    baseline = load_checkpoint(tmp_path / "run" / "stage1.pt")["predictor"]
    assert same(baseline, weights(result.predictor))  # BatchNorm statistics included


def test_interrupted_and_resumed_ends_bit_for_bit_like_uninterrupted(tmp_path):
    config = TrainConfig(**TINY)
    whole = train(config, tmp_path / "whole", progress=False)
    for stop in (2, 4, 7):  # inside stage 1, inside the control, inside stage 2
        folder = tmp_path / f"stopped{stop}"
        first = train(config, folder, progress=False, stop_after=stop)
        assert not first.finished
        with pytest.raises(RunFolderError, match="unfinished run: --resume"):
            train(config, folder, progress=False)
        resumed = train(config, folder, resume=True, progress=False)
        assert resumed.finished
        assert same(weights(resumed.predictor), weights(whole.predictor)), stop
        assert same(weights(resumed.aligner), weights(whole.aligner)), stop
        assert same(load_checkpoint(folder / "control.pt")["predictor"],
                    load_checkpoint(tmp_path / "whole" / "control.pt")["predictor"])
        whole_curve = (tmp_path / "whole" / "curves" / "stage3.csv").read_text()
        assert (folder / "curves" / "stage3.csv").read_text() == whole_curve


def test_bf16_trains_differently_and_resumes_bit_for_bit(tmp_path):
    """--precision bf16 (encoder autocast; emulated on CPUs without native bf16, so slow: one
    step of each trained stage): exact resume holds in it too, and it changes the weights."""
    config = TrainConfig(**{**TINY, "stage1_steps": 2, "control_steps": 0, "stage2_steps": 1,
                            "stage3_steps": 1, "precision": "bf16"})
    whole = train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "stopped", progress=False, stop_after=1)
    resumed = train(config, tmp_path / "stopped", resume=True, progress=False)
    assert same(weights(resumed.predictor), weights(whole.predictor))
    assert same(weights(resumed.aligner), weights(whole.aligner))
    assert whole.predictor.encoder_dtype is torch.bfloat16
    fp32 = train(replace(config, precision="fp32"), tmp_path / "fp32", progress=False)
    assert not same(weights(fp32.predictor), weights(whole.predictor))
    summary = json.loads((tmp_path / "whole" / "run.json").read_text())
    assert summary["precision"].startswith("bf16 -> bf16")


@pytest.mark.timeout(600)
def test_compiled_encoder_trains_and_resumes_bit_for_bit(tmp_path):
    """--compile true: torch.compile on the encoder (the first step waits for the compiler);
    the weights keep their names, the control gets its own compiled copy, resume is exact."""
    config = TrainConfig(**{**TINY, "stage1_steps": 2, "control_steps": 1, "stage2_steps": 0,
                            "stage3_steps": 0, "compile": True})
    whole = train(config, tmp_path / "whole", progress=False)
    train(config, tmp_path / "stopped", progress=False, stop_after=1)
    resumed = train(config, tmp_path / "stopped", resume=True, progress=False)
    assert same(weights(resumed.predictor), weights(whole.predictor))
    saved = load_checkpoint(tmp_path / "whole" / "control.pt")["predictor"]
    assert saved.keys() == whole.predictor.state_dict().keys()  # no "_orig_mod." names
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["compiled_encoder"]


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    config = TrainConfig(**{**TINY, "control_steps": 0, "stage2_steps": 0, "stage3_steps": 1})
    first = train(config, tmp_path / "a", progress=False)
    again = train(config, tmp_path / "b", progress=False)
    other = train(TrainConfig(**{**config.to_dict(), "seed": 1, "loss": config.loss}),
                  tmp_path / "c", progress=False)
    assert same(weights(first.predictor), weights(again.predictor))
    assert not same(weights(first.predictor), weights(other.predictor))


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss = steps_module.predictor_loss
    calls = {"n": 0}

    def failing(*args, **kwargs):
        loss = real_loss(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:  # stage 1, step 2
            return type(loss)(total=loss.total * float("nan"), joints=loss.joints * float("nan"),
                              theta=loss.theta, beta=loss.beta, config=loss.config)
        return loss

    monkeypatch.setattr(steps_module, "predictor_loss", failing)
    folder = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"stage1, step 2: loss term 'total' is nan.*"
                                               r"last good checkpoint \(stage1, step 2\)"):
        train(TrainConfig(**TINY), folder, progress=False)
    state = load_checkpoint(folder / "checkpoint.pt")
    assert (state["stage"], state["step"]) == ("stage1", 2)
    assert not (folder / "final.pt").exists()


def test_a_finished_run_is_not_overwritten_without_force(tmp_path):
    config = TrainConfig(**{**TINY, "control_steps": 0, "stage2_steps": 0, "stage3_steps": 0})
    folder = tmp_path / "run"
    train(config, folder, progress=False)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="already holds a finished run"):
        train(config, folder, progress=False)
    with pytest.raises(RunFolderError, match=r"holds a finished run \(final.pt\): nothing to "
                                             r"resume"):
        train(config, folder, resume=True, progress=False)
    train(config, folder, force=True, progress=False)
    assert (folder / "notes.txt").read_text() == "mine"  # force removes only run files
    with pytest.raises(RunFolderError, match="nothing to resume"):
        train(config, tmp_path / "empty", resume=True, progress=False)


def test_config_from_file_flags_and_errors(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("stage1_steps: 7\nlr_schedule: cosine\nloss:\n  lambda_align: 1.0\n")
    config = load_config(path, {"loss.lambda_j": 2.0, "label_every": 64})
    assert (config.stage1_steps, config.lr_schedule, config.label_every) == (7, "cosine", 64)
    assert (config.loss.lambda_align, config.loss.lambda_j) == (1.0, 2.0)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown training config name\(s\) \['stage_1'\]"):
        TrainConfig.from_dict({"stage_1": 3})
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        TrainConfig(batch_size=0)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        load_config(tmp_path / "bad.json")


def test_on_step_reports_every_step(tmp_path):
    seen = []
    config = TrainConfig(**{**TINY, "control_steps": 0})
    train(config, tmp_path / "run", progress=False, on_step=lambda *a: seen.append(a))
    assert seen[:3] == [("stage1", 1, 3), ("stage1", 2, 3), ("stage1", 3, 3)]
    assert len(seen) == 9 and seen[-1] == ("stage3", 3, 3)


def test_learning_rate_schedules():
    assert learning_rate(TrainConfig(lr=0.1), 5, 10) == 0.1
    cosine = TrainConfig(lr=0.1, lr_schedule="cosine")
    assert learning_rate(cosine, 0, 10) == pytest.approx(0.1)
    assert learning_rate(cosine, 5, 10) == pytest.approx(0.05)
    assert learning_rate(cosine, 10, 10) == pytest.approx(0.0)


def test_command_line_trains_and_resumes(tmp_path, capsys):
    folder = tmp_path / "cli"
    flags = ["--out", str(folder), "--quiet", "--stage1-steps", "2", "--stage2-steps", "1",
             "--stage3-steps", "1", "--batch-size", "4", "--pair-batch-size", "2",
             "--lambda-align", "0.5", "--threads", "1"]
    assert train_main(flags) == 0
    assert "finished in" in capsys.readouterr().out
    saved = json.loads((folder / "config.json").read_text())
    assert saved["loss"]["lambda_align"] == 0.5 and saved["stage1_steps"] == 2
    assert train_main(flags) == 1
    assert "already holds a finished run" in capsys.readouterr().err
    assert train_main(["--out", str(folder), "--resume"]) == 1
    assert "holds a finished run (final.pt): nothing to resume" in capsys.readouterr().err
    assert train_main([*flags, "--force", "--stop-after", "1"]) == 0
    assert train_main(["--out", str(folder), "--stage1-steps", "0", "--resume"]) == 1
    assert "another config" in capsys.readouterr().err
