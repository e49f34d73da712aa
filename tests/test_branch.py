"""Branching a run from another run's stage 1 (handkit.train.branch): the branched run ends
with the weights a run of its config trained from the start has, bit for bit; configs that
change what stage 1 reads are refused before anything is written."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from handkit.errors import InputError
from handkit.train import TrainConfig, train
from handkit.train.branch import BRANCH_FILE, branch, shared_differences
from handkit.train.checkpoint import LATEST
from tests.test_train import TINY, same, weights

#: Every switch an ablation of stages 2 and 3 can flip, flipped.
ABLATION = dict(backward_detach="aligned", stage2_roll="shared", aligner_anchored=True,
                max_gap=5, p_unlabelled=0.75)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished TINY run (stage 1, control, stages 2 and 3): (config, folder, result)."""
    threads = torch.get_num_threads()
    config, folder = TrainConfig(**TINY), tmp_path_factory.mktemp("branch") / "source"
    yield config, folder, train(config, folder, progress=False)
    torch.set_num_threads(threads)


def test_a_branched_run_ends_like_the_run_trained_from_the_start(source, tmp_path):
    config, folder, trained = source
    ablation = replace(config, **ABLATION).with_overrides({"loss.lambda_align": 1.0})
    whole = train(ablation, tmp_path / "whole", progress=False)

    branch(folder, ablation, tmp_path / "branched")
    branched = train(ablation, tmp_path / "branched", resume=True, progress=False)
    assert same(weights(branched.predictor), weights(whole.predictor))
    assert same(weights(branched.aligner), weights(whole.aligner))
    # the switches changed the training (the source ran the same steps without them)
    assert not same(weights(branched.aligner), weights(trained.aligner))
    summary = json.loads((tmp_path / "branched" / "run.json").read_text())
    assert summary["stages_done"] == ["stage1", "control", "stage2", "stage3"]
    assert set(summary["seconds_this_call"]) == {"stage2", "stage3"}  # stage 1 not trained
    note = json.loads((tmp_path / "branched" / BRANCH_FILE).read_text())
    assert note["stages_from_source"] == ["stage1", "control"]


def test_a_branch_may_drop_the_control(source, tmp_path):
    config, folder, _ = source
    without = replace(config, control_steps=0, stage3_steps=1)
    whole = train(without, tmp_path / "whole", progress=False)
    branch(folder, without, tmp_path / "branched")
    assert not (tmp_path / "branched" / "control.pt").exists()
    branched = train(without, tmp_path / "branched", resume=True, progress=False)
    assert same(weights(branched.aligner), weights(whole.aligner))


@pytest.mark.parametrize("change,named", [
    ({"lr": 1e-4}, "lr"), ({"seed": 1}, "seed"), ({"stage1_steps": 4}, "stage1_steps"),
    ({"control_steps": 1}, "control_steps"), ({"loss": {"lambda_j": 0.1}}, "loss.lambda_j"),
])
def test_a_change_stage_1_reads_is_refused_and_nothing_written(tmp_path, change, named):
    source = TrainConfig(**TINY)
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(source.to_dict()))
    other = TrainConfig.from_dict({**source.to_dict(), **change})
    assert shared_differences(source, other) == [named]
    with pytest.raises(InputError, match=rf"differs in \['{named}'\]"):
        branch(folder, other, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_source_without_stage_1_or_an_occupied_folder_is_refused(tmp_path):
    source = TrainConfig(**TINY)
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(source.to_dict()))
    with pytest.raises(FileNotFoundError, match="stage1.pt"):
        branch(folder, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / LATEST).write_bytes(b"")
    with pytest.raises(InputError, match="already holds a run"):
        branch(folder, source, tmp_path / "taken")


def test_the_anchored_aligner_copies_a_label_to_a_frame_with_the_same_features():
    from handkit.models import PoseAligner
    from handkit.models.records import HandFeatures, HandParams

    torch.manual_seed(0)
    aligner = PoseAligner(anchored=True)
    for parameter in aligner.parameters():  # any weights, not the zero-initialised outputs
        torch.nn.init.normal_(parameter, std=0.1)
    gamma = HandParams(root=torch.tensor([[10.0, -5.0, 500.0]]), theta=0.3 * torch.randn(1, 48),
                       beta=torch.zeros(1, 10))
    z = HandFeatures(z_r=torch.randn(1, 512), z_theta=torch.randn(1, 512))
    out = aligner(gamma, z, z)
    torch.testing.assert_close(out.root, gamma.root)
    torch.testing.assert_close(out.theta48, gamma.theta)
    other = HandFeatures(z_r=torch.randn(1, 512), z_theta=torch.randn(1, 512))
    assert not torch.allclose(aligner(gamma, other, z).theta48, gamma.theta)
    aligner.anchored = False  # the paper's Eqs. 3-4: equal features still move the label
    assert not torch.allclose(aligner(gamma, z, z).theta48, gamma.theta)
