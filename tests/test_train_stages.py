"""handkit.train.stages: what each stage trains (the runner's own lists), curves, weight checks."""

from __future__ import annotations

import pytest
import torch

import handkit.train.runner as runner_module
from handkit.models import HandPredictor, PoseAligner
from handkit.train import (
    STAGE_CURVE_TERMS,
    STAGES,
    TrainConfig,
    read_curves,
    same_weights,
    stage_parameters,
    train,
    trainable_parameters,
)

TINY = dict(stage1_steps=2, control_steps=1, stage2_steps=2, stage3_steps=2, batch_size=4,
            pair_batch_size=2, log_every=1, lr=1e-3, threads=1)


@pytest.fixture(scope="module")
def modules():
    torch.manual_seed(0)
    return HandPredictor(), PoseAligner()



def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_table_partitions_both_modules_and_each_stage_trains_its_own(modules):
    predictor, aligner = modules
    table = trainable_parameters(predictor, aligner)
    assert list(table.trained) == list(STAGES)
    assert sum(table.sizes) == count(predictor) + count(aligner)  # every parameter, once
    assert table.stage_total("stage1") == count(predictor)
    assert table.stage_total("stage2") == count(aligner)
    assert table.stage_total("stage3") == count(predictor) + count(aligner)
    for stage, trained in table.trained.items():
        assert all(0 <= n <= size for n, size in zip(trained, table.sizes, strict=True)), stage
    rows = dict(zip(table.parts, zip(*table.trained.values(), strict=True), strict=True))
    assert rows["predictor.encoder"][1] == 0 and rows["aligner.theta_net"][0] == 0
    assert rows["predictor.mano"] == rows["aligner.mano"] == (0, 0, 0)  # fixed arrays only
    text = table.text()
    assert "frozen" in text and f"{count(predictor):,d}" in text
    assert text.splitlines()[0].endswith("stage 1     stage 2     stage 3")


def test_a_parameter_without_gradient_is_not_counted(modules):
    predictor, aligner = modules
    head = predictor.root_head.weight
    head.requires_grad_(False)
    try:
        table = trainable_parameters(predictor, aligner, stages=("stage1",))
        assert table.stage_total("stage1") == count(predictor) - head.numel()
    finally:
        head.requires_grad_(True)


def test_the_counts_are_what_the_runner_gives_each_optimiser(tmp_path, monkeypatch):
    given = {}
    real_adam = runner_module.adam

    def spy(parameters, config, device):
        given[len(given)] = list(parameters)
        return real_adam(parameters, config, device)

    monkeypatch.setattr(runner_module, "adam", spy)
    result = train(TrainConfig(**TINY), tmp_path / "run", progress=False)
    ran = ["stage1", "control", "stage2", "stage3"]  # the runner's order
    table = trainable_parameters(result.predictor, result.aligner)
    for k, stage in enumerate(ran):
        numel = sum(p.numel() for p in given[k])
        if stage == "control":
            assert numel == count(result.predictor)  # its own copy of the predictor
            assert not {id(p) for p in given[k]} & {id(p) for p in result.predictor.parameters()}
        else:
            assert numel == table.stage_total(stage), stage
            ours = stage_parameters(stage, result.predictor, result.aligner)
            assert [id(p) for p in given[k]] == [id(p) for p in ours], stage


def test_stage_names_are_checked(modules):
    predictor, aligner = modules
    with pytest.raises(ValueError, match=r"stage must be one of .*got 'stage4'"):
        stage_parameters("stage4", predictor, aligner)
    with pytest.raises(ValueError, match="pass control="):
        stage_parameters("control", predictor, aligner)
    with pytest.raises(ValueError, match=r"stage must be one of \('stage1', 'stage2', 'stage3'\)"):
        trainable_parameters(predictor, aligner, stages=("control",))


def test_read_curves_gives_every_logged_step_of_every_stage(tmp_path):
    config = TrainConfig(**{**TINY, "control_steps": 0, "stage1_steps": 3})
    train(config, tmp_path / "run", progress=False)
    curves = read_curves(tmp_path / "run")
    assert list(curves) == ["stage1", "stage2", "stage3"]
    assert curves["stage1"]["step"].tolist() == [0.0, 1.0, 2.0]
    for stage, columns in curves.items():
        assert set(STAGE_CURVE_TERMS[stage]) <= set(columns), stage
        assert all(len(v) == len(columns["step"]) for v in columns.values())
        assert (columns["total"] > 0).all() and columns["lr"].tolist() == [1e-3] * len(
            columns["step"])
    with pytest.raises(FileNotFoundError, match="no loss curves"):
        read_curves(tmp_path / "nothing")


def test_same_weights_counts_identical_tensors(modules):
    predictor, _ = modules
    state = {k: v.clone() for k, v in predictor.state_dict().items()}
    total = len(state)
    assert same_weights(predictor, state) == (total, total)
    name = next(iter(state))
    state[name] = state[name] + 1e-7  # one tensor off in its last bits
    assert same_weights(predictor, state) == (total - 1, total)
    with pytest.raises(ValueError, match="different tensors"):
        same_weights(predictor, {name: state[name]})
