"""The ablation experiment (handkit.experiments.ablation) at a tiny setting: every variant trains
(branched from the Table I run of its seed), is evaluated beside copy and interpolation per distance
bin with bootstrap intervals, and a second call reuses every run; and the switches it flips."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from handkit.bootstrap import video_bootstrap
from handkit.errors import InputError
from handkit.experiments.ablation import ALIGNER_MODES, LABEL_MODES, VARIANTS, main, run_ablation
from handkit.inference import MODE_TITLES
from handkit.train import TrainConfig
from handkit.train.stage_steps import StageSteps
from tests.test_table1 import TINY


@pytest.fixture(scope="module")
def tiny_ablation(tmp_path_factory):
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("ablation") / "tiny"
    yield out, run_ablation(TINY, out, variants=["detach_aligned", "anchored"], progress=False)
    torch.set_num_threads(threads)


def test_every_variant_is_evaluated_beside_the_label_references(tiny_ablation):
    out, result = tiny_ablation
    seen = {(row["variant"], row["mode"]) for row in result.rows}
    assert seen == ({("table1", mode) for mode in LABEL_MODES + ALIGNER_MODES}
                    | {(v, mode) for v in ("detach_aligned", "anchored") for mode in ALIGNER_MODES})
    for row in result.rows:  # the tiny setting has one test video: no interval to give
        assert row["videos"] == (1 if row["frames"] else 0)
        assert row["ci_low"] is None and row["ci_high"] is None
    every = [r for r in result.rows if r["distance"] == "all"]
    assert all(r["frames"] > 0 and np.isfinite(r["mpjpe"]) for r in every)
    branched = json.loads((out / "seed0" / "anchored" / "run.json").read_text())
    assert set(branched["seconds_this_call"]) == {"stage2", "stage3"}  # stage 1 shared
    with (out / "ablation.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(result.rows)
    report = (out / "report.txt").read_text()
    assert "anchored: Propagation" in report and "Copy nearest label" in report


def test_a_second_call_reuses_every_run(tiny_ablation, capsys):
    out, result = tiny_ablation
    before = {p: p.stat().st_mtime_ns for p in out.glob("seed0/*/final.pt")}
    again = run_ablation(TINY, out, variants=["anchored"], progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.glob("seed0/*/final.pt")} == before
    # the earlier call's rows are kept (detach_aligned too), none evaluated again
    assert again.rows == json.loads(json.dumps(result.rows))
    assert not any(key.endswith("evaluate") for key in set(again.seconds) - set(result.seconds))


def test_unknown_variants_are_refused(tmp_path, capsys):
    with pytest.raises(InputError, match=r"unknown variant\(s\) \['nope'\]"):
        run_ablation(TINY, tmp_path, variants=["nope"], progress=False)
    assert main(["--out", str(tmp_path / "cli"), "--variants", "nope", "--quiet"]) == 1
    assert "unknown variant(s) ['nope']" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert set(VARIANTS) >= {"table1", "detach_aligned", "stage2_shared_roll", "anchored"}


def test_stage_2_shared_rolls_give_a_pair_one_angle():
    config = TrainConfig(stage2_roll="shared")
    steps = StageSteps(config, None, [], frames=None, pairs=None)
    angles = steps.rolls_stage2(step=3, size=5)
    torch.testing.assert_close(angles[:5], angles[5:])
    independent = StageSteps(TrainConfig(), None, [], frames=None, pairs=None)
    own = independent.rolls_stage2(step=3, size=5)
    assert own.shape == (10,) and not torch.equal(own[:5], own[5:])


def test_video_bootstrap_resamples_videos_not_frames():
    # two videos of very different error, many frames each: resampling frames would give a
    # narrow interval; resampling the two videos gives one spanning most of the gap
    errors = np.r_[np.full(500, 10.0), np.full(500, 30.0)]
    videos = np.r_[np.zeros(500), np.ones(500)]
    low, high = video_bootstrap(errors, videos)
    assert low == 10.0 and high == 30.0
    one = video_bootstrap(np.array([5.0, 7.0]), np.array([3, 3]))
    assert one == (6.0, 6.0)
    with pytest.raises(ValueError, match="errors and videos must both be"):
        video_bootstrap(np.zeros(3), np.zeros(2))


def test_tiny_motion_sweep_writes_the_map(tmp_path):
    from handkit.experiments.motion_sweep import MODES, format_winners, run_motion_sweep
    from handkit.viz.motion_map import winner_map_figure

    threads = torch.get_num_threads()
    try:
        rows = run_motion_sweep(TINY, tmp_path / "sweep", ks=[4, 8],
                                levels=["keyframes", "natural-fast"], seeds=[0], progress=False)
    finally:
        torch.set_num_threads(threads)
    points = {(r["motion"], r["label_every"]) for r in rows}
    assert points == {(m, k) for m in ("keyframes", "natural-fast") for k in (4, 8)}
    assert {r["mode"] for r in rows} == set(MODES)
    with (tmp_path / "sweep" / "results.csv").open() as handle:
        wide = list(csv.DictReader(handle))
    assert len(wide) == 4 and {"label_every", "motion", "seed",
                               "mpjpe.Interpolation", "mpjpe.Propagation (scenario 2).1-15"} \
        <= set(wide[0])
    with (tmp_path / "sweep" / "winners.csv").open() as handle:
        winners = list(csv.DictReader(handle))
    assert {(w["motion"], w["label_every"], w["distance"]) for w in winners} >= {
        ("keyframes", "4", "all"), ("natural-fast", "8", "all")}
    figure = winner_map_figure(winners)
    assert len(figure.data) >= 1 and (tmp_path / "sweep" / "map.html").is_file()
    assert "K=8" in format_winners(rows)
    # the two motion levels made two data sets; each K trained its own run
    assert len([p for p in (tmp_path / "cache").glob("synthetic-tiny-*") if p.is_dir()]) == 2
    assert len(list((tmp_path / "sweep").glob("*__K*__seed0/final.pt"))) == 4
    summary = (tmp_path / "sweep" / "summary.md").read_text().splitlines()
    assert len(summary) == 2 + 4 and summary[2].startswith("| keyframes | 8 |")  # K sparsest first


def _point_rows(motion, label_every, mpjpe):
    return [{"motion": motion, "label_every": label_every, "seed": 0, "recipe": "paper",
             "seconds": 7, "mode": mode, "method": mode.title(), "distance": "all",
             "frames": 10, "videos": 2, "mpjpe": mpjpe + i, "ci_low": None if i else 1.5,
             "ci_high": None if i else 2.5} for i, mode in enumerate(("copy", "fused"))]


def test_sweep_calls_add_their_points_to_the_saved_ones(tmp_path):
    from handkit.experiments.motion_sweep import merge_saved, read_long, save_sweep

    save_sweep(_point_rows("natural", 128, 10.0) + _point_rows("natural", 64, 20.0), tmp_path)
    saved = read_long(tmp_path / "results_long.csv")
    assert saved == _point_rows("natural", 128, 10.0) + _point_rows("natural", 64, 20.0)
    # another call evaluates K = 64 again and a new point: K = 128 is kept, K = 64 replaced
    fresh = _point_rows("natural", 64, 30.0) + _point_rows("keyframes", 16, 40.0)
    merged = merge_saved(tmp_path / "results_long.csv", fresh)
    assert merged == _point_rows("natural", 128, 10.0) + fresh
    assert merge_saved(tmp_path / "missing.csv", fresh) == fresh
    save_sweep(merged, tmp_path)
    assert not list(tmp_path.glob("*.partial"))
    with (tmp_path / "results.csv").open() as handle:
        assert [(r["motion"], r["label_every"]) for r in csv.DictReader(handle)] == [
            ("natural", "128"), ("natural", "64"), ("keyframes", "16")]


def test_the_table_reads_back_and_draws(tiny_ablation):
    from handkit.experiments.ablation import read_ablation
    from handkit.viz.ablation import ablation_figure

    out, result = tiny_ablation
    rows = read_ablation(out / "ablation.csv")
    assert [r["mpjpe"] for r in rows] == pytest.approx([r["mpjpe"] for r in result.rows])
    figure = ablation_figure(rows, mode="fused")
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert [bar.name for bar in bars] == ["table1", "detach_aligned", "anchored"]
    references = {t.name: t.marker.color for t in figure.data if t.type == "scatter"}
    assert references == {"Copy nearest label": "#bcbd22", "Interpolation": "#2ca02c"}
    with pytest.raises(FileNotFoundError, match="no ablation table"):
        read_ablation(out / "missing.csv")


def test_each_variant_is_compared_with_the_table1_run_on_the_same_frames(tiny_ablation):
    from handkit.experiments.ablation_paired import read_frame_errors

    out, result = tiny_ablation
    assert read_frame_errors(out / "seed0" / "anchored") is not None
    paired = {(r["variant"], r["mode"], r["against"], r["distance"]): r for r in result.paired}
    assert {(v, m, a) for v, m, a, _ in paired} == {
        (v, m, a) for v in ("detach_aligned", "anchored") for m in ALIGNER_MODES
        for a in ("table1", "copy")}
    mean = {(r["variant"], r["mode"]): r["mpjpe"] for r in result.rows if r["distance"] == "all"}
    for variant in ("detach_aligned", "anchored"):  # the paired mean is the rows' difference
        row = paired[variant, "propagation", "table1", "all"]
        assert row["difference"] == pytest.approx(
            mean[variant, "propagation"] - mean["table1", "propagation"], abs=1e-6)
        row = paired[variant, "fused", "copy", "all"]
        assert row["difference"] == pytest.approx(
            mean[variant, "fused"] - mean["table1", "copy"], abs=1e-6)
    with (out / "paired.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(result.paired)
    assert "Paired differences (mm)" in (out / "report.txt").read_text()


def test_a_steady_gap_between_runs_is_called_and_other_frames_are_refused():
    from handkit.experiments.ablation_paired import compare_runs

    rng = np.random.default_rng(0)
    videos = np.repeat(np.arange(6), 20)
    hardness = np.repeat(rng.uniform(10, 60, 6), 20)  # videos of very different difficulty
    distance = np.tile(np.r_[np.arange(1, 11), np.arange(10, 0, -1)], 6) * 4
    reference = {"video": videos, "frame": np.arange(120), "distance": distance,
                 "joints": np.full(120, 21.0), "bins": np.array([[1, 15], [16, 31], [32, 64]]),
                 "mpjpe.propagation": hardness + rng.normal(0, 1, 120)}
    variant = {**reference, "mpjpe.propagation": reference["mpjpe.propagation"] - 2.0}
    found = compare_runs(variant, reference, "propagation", "propagation")
    assert set(found) == {"all", "1-15", "16-31", "32-64"}
    for band in found.values():  # 2 mm below on every video: the interval is 2 mm below 0
        assert band["difference"] == pytest.approx(-2.0) and band["high"] < 0
    shifted = {**variant, "frame": variant["frame"] + 1}
    with pytest.raises(ValueError, match="evaluated on different frames"):
        compare_runs(shifted, reference, "propagation", "propagation")


def test_the_summary_table_names_each_bins_winner_with_its_margin():
    from handkit.experiments.motion_sweep import summary_table

    rows = _point_rows("natural", 64, 20.0) + _point_rows("natural-fast", 128, 10.0)
    for row in rows:
        row["method"] = MODE_TITLES[row["mode"]]
    lines = summary_table(rows).splitlines()
    assert lines[0].startswith("| motion | K | copy, all |") and "winner all" in lines[0]
    # natural first (slower), copy 20.0 [1.5, 2.5] wins by 1 mm, its interval below fused's 21
    assert lines[2] == "| natural | 64 | 20.0 [1.5, 2.5] | — | — | copy 20.0 (−1.0) |"
    assert lines[3].startswith("| natural-fast | 128 | 10.0 [1.5, 2.5] |")
    rows[0]["ci_high"] = 21.5  # now the winner's interval reaches the runner-up
    assert summary_table(rows).splitlines()[2].endswith("| copy 20.0 (~−1.0) |")


def test_the_label_gap_at_natural_speed_is_k_times_the_speed():
    from handkit.experiments.motion_sweep import label_gap_at_natural_speed

    gaps = [label_gap_at_natural_speed(level, k) for level, k in
            (("natural-slow", 64), ("natural", 32), ("natural-fast", 16))]
    assert gaps == [32.0, 32.0, 32.0]
    assert label_gap_at_natural_speed("keyframes", 128) is None  # no speed to scale by
    with pytest.raises(ValueError, match=r"motion level must be one of .*got 'natral'"):
        label_gap_at_natural_speed("natral", 32)
