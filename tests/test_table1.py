"""The synthetic Table I pipeline and python -m handkit evaluate, on a tiny setting."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from handkit.data.video_format import VideoDataset
from handkit.evaluate_cli import main as evaluate_main
from handkit.evaluation import evaluate_split, read_video
from handkit.experiments.table1 import (
    PAPER_TABLE1,
    ROWS,
    SETTINGS,
    Table1Setting,
    claims,
    committed_seed1_path,
    evaluate_run,
    format_report,
    read_results,
    result_rows,
    run_table1,
    time_lines,
)
from handkit.inference import copy_nearest, interpolate
from handkit.train import input_transform, load_run
from handkit.viz.results import table1_figure

TINY = Table1Setting(
    name="tiny",
    data=dict(num_videos=4, num_frames=40, size=32, seed=3, label_every=16, val_fraction=0.0,
              test_fraction=0.25, params={"key_gap": [10, 20]}),
    train=dict(lr=1e-3, batch_size=4, pair_batch_size=2, stage1_steps=2, stage2_steps=2,
               stage3_steps=2, control_steps=2, checkpoint_every=10, threads=1),
    seeds=(0,), train_videos=1, vertices=False)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("table1") / "tiny"
    yield out, run_table1(TINY, out, progress=False)
    torch.set_num_threads(threads)


def test_every_row_on_both_splits_and_the_files(tiny_result):
    out, result = tiny_result
    methods = [name for name, _, _ in ROWS]
    for split in ("test", "train"):
        assert [r["method"] for r in result.rows if r["split"] == split] == methods
    test_rows = [r for r in result.rows if r["split"] == "test"]
    assert all(r["mpjpe"] > 0 and r["mpvpe"] is None for r in test_rows)  # vertices off
    counts = {r["distance"]: r["frames"] for r in result.distance_rows if r["split"] == "test"}
    assert counts["16-31"] == counts["32-64"] == 0  # K = 16: every frame within 8 of a label
    assert counts["1-15"] == test_rows[0]["frames"]
    for name in ("results.json", "table1.csv", "by_distance.csv", "report.txt", "table1.html"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(result.rows))
    assert (out / "seed0" / "final.pt").is_file() and (out / "seed0" / "control.pt").is_file()


def test_copy_and_interpolation_need_no_network_and_are_exact_at_labels(tiny_result):
    out, result = tiny_result
    run = load_run(out / "seed0")
    reader = VideoDataset(run.config.data, "test", label_every=run.config.label_every)
    transform = input_transform(run.config, reader, training=False)
    # another network (the stage-1 predictor) gives the same copy and interpolation rows
    other = evaluate_split(reader, run.baseline, run.aligner, modes=["copy", "interpolation"],
                           transform=transform, vertices=False, progress=False)
    assert other.overall["copy"]["mpjpe"] == result.value("Copy nearest label") > 0
    assert other.overall["interpolation"]["mpjpe"] == result.value("Interpolation") > 0
    # at each labelled frame both give the label itself; between labels copy gives N(u)'s
    video = read_video(reader, reader.video_ids[0], transform=transform)
    labels, mano = video.labels, run.aligner.mano
    copy, interpolation = copy_nearest(labels, mano=mano), interpolate(labels, mano=mano)
    frames = torch.as_tensor(labels.frames)
    not_the_label = [(p.mode, name) for p in (copy, interpolation) for name in ("root", "theta",
                     "beta") if not torch.equal(getattr(p, name)[frames],
                                                getattr(labels.params, name))]
    assert not_the_label == []
    nearest = labels.take(labels.nearest_rows())
    assert torch.equal(copy.theta, nearest.theta) and torch.equal(copy.root, nearest.root)
    truth = torch.as_tensor(video.truth["theta"][labels.frames], dtype=torch.float32)
    assert torch.allclose(labels.params.theta, truth)  # the labels are the ground truth there


def rows_one_predictor_at_a_time(folder, *, vertices, train_videos):
    """Table I rows of a run as evaluate_run made them before its shared pass: one evaluate_split
    per predictor (each reading every video and decoding its ground truth again)."""
    run = load_run(folder)
    rows, by_distance = [], []
    for split in ("test", "train"):
        reader = VideoDataset(run.config.data, split, label_every=run.config.label_every)
        if split == "train":
            reader = VideoDataset(run.config.data, split, label_every=run.config.label_every,
                                  videos=reader.video_ids[:train_videos])
        transform = input_transform(run.config, reader, training=False)
        results = {which: evaluate_split(reader, getattr(run, which), run.aligner,
                                         modes=[m for _, w, m in ROWS if w == which],
                                         transform=transform, vertices=vertices, progress=False)
                   for which in ("baseline", "control", "predictor")}
        for _, which, mode in ROWS:
            row, distance = result_rows(results[which], seed=run.config.seed, split=split,
                                        predictor=which, modes=[mode])
            rows += row
            by_distance += distance
    return rows, by_distance


def assert_same_rows(rows, expected):
    """The same rows, in order: equal keys and text, numbers equal to rel 1e-9 (NaN = NaN)."""
    assert [list(r) for r in rows] == [list(r) for r in expected]
    for row, want in zip(rows, expected, strict=True):
        for key, value in want.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-9, nan_ok=True), (want, key)
            else:
                assert row[key] == value, (want, key)


def test_the_shared_pass_gives_the_numbers_of_one_predictor_at_a_time(tiny_result):
    """evaluate_run reads each video and decodes its ground-truth vertices once for the three
    predictors (evaluate_predictors); every number, vertex columns included, is unchanged."""
    out, _ = tiny_result
    rows, distance = evaluate_run(out / "seed0", vertices=True, train_videos=1, progress=False)
    expected_rows, expected_distance = rows_one_predictor_at_a_time(out / "seed0", vertices=True,
                                                                    train_videos=1)
    assert len(rows) == 2 * len(ROWS) and all(r["mpvpe"] > 0 for r in rows)
    assert_same_rows(rows, expected_rows)
    assert_same_rows(distance, expected_distance)


def test_report_states_the_claims_with_the_papers_numbers(tiny_result):
    _, result = tiny_result
    report = format_report(result)
    base, prop = result.value("Baseline"), result.value("Propagation")
    line = next(x for x in report.splitlines() if "Propagation vs Baseline" in x)
    # the tiny setting has one test video: no interval, so the line claims nothing more
    assert line == (f"  Propagation vs Baseline: {prop:.1f} vs {base:.1f} mm, "
                    f"{100 * (base - prop) / base:.1f} % lower (paper: 44.0 vs 65.5, "
                    f"32.8 % lower)")
    paper = PAPER_TABLE1["Mini-HO-3D"]
    assert (f"{paper['Propagation'][4]:.1f}", f"{paper['Baseline'][4]:.1f}") == ("44.0", "65.5")
    printed = paper_row_printed(report, "Mini-HO-3D", "Propagation")
    assert printed == pytest.approx(paper["Propagation"], abs=0.05)  # printed to 0.1 mm
    align, control = result.value("Baseline + Align"), result.value("Control")
    assert (f"{align:.1f} vs {control:.1f} mm; per seed the control minus Baseline + Align is "
            f"{control - align:+.1f} mm") in report
    assert claims(result)[1] == line


def test_report_says_where_the_time_went(tiny_result):
    out, result = tiny_result
    stages = json.loads((out / "seed0" / "run.json").read_text())["seconds_this_call"]
    assert {f"  seed 0 {k}" for k in stages} <= set(result.seconds)
    lines = time_lines(result.seconds)
    total = sum(v for k, v in result.seconds.items() if not k.startswith(" "))
    assert lines[0] == f"Time (wall, s): {total:.0f} in all"
    assert any(line.startswith("  train seed 0 ") and line.endswith("%)") for line in lines)
    assert any(line.startswith("    seed 0 stage1 ") for line in lines)
    assert "\n".join(lines) in format_report(result)


def paper_row_printed(report: str, dataset: str, row: str) -> list[float]:
    """The numbers the report prints for one of the paper's rows."""
    lines = report.splitlines()
    start = next(k for k, x in enumerate(lines) if x.startswith(dataset))
    printed = next(x for x in lines[start:] if x.startswith(f"  {row}  "))
    return [float(v) for v in printed[len(row) + 2:].split()]


def with_seeds(result, baselines):
    """``result`` as if run on more seeds: seed k's rows, its Baseline MPJPE ``baselines[k]``."""
    rows = [{**r, "seed": k, "mpjpe": baselines[k] if r["method"] == "Baseline" else r["mpjpe"]}
            for k in range(len(baselines)) for r in result.rows]
    setting = replace(result.setting, seeds=tuple(range(len(baselines))))
    return replace(result, setting=setting, rows=rows)


def test_one_seed_reports_no_spread_and_several_seeds_their_spread(tiny_result):
    _, result = tiny_result
    one = claims(result)[-1]
    assert "no spread over seeds to report" in one and "spans" not in one
    two = claims(with_seeds(result, [30.0, 32.5]))[-1]
    assert "Baseline itself spans 2.5 mm over seeds" in two and "no spread" not in two


def test_a_second_call_reuses_the_trained_seed(tiny_result, monkeypatch):
    out, result = tiny_result

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run of the same config must be reused")

    monkeypatch.setattr("handkit.experiments.table1.train", no_training)
    again = run_table1(TINY, out, progress=False)
    assert again.rows == result.rows


def test_figure_has_a_bar_per_method(tiny_result):
    _, result = tiny_result
    fig = table1_figure(result.rows, result.distance_rows)
    assert [t.name for t in fig.data[::2]] == [name for name, _, _ in ROWS]
    with pytest.raises(ValueError, match="no rows for split 'val'"):
        table1_figure(result.rows, result.distance_rows, split="val")


def test_a_bin_without_frames_is_a_gap_not_nan():
    from handkit.experiments.table1 import bin_mpjpe

    rows = [{"seed": 0, "split": "test", "method": "Propagation", "frames": 10, "mpjpe": 20.0}]
    distance = [{"seed": 0, "split": "test", "method": "Propagation", "distance": d,
                 "frames": n, "mpjpe": v}
                for d, n, v in (("1-15", 6, 10.0), ("16-31", 4, 30.0), ("32-64", 0, math.nan))]
    assert [bin_mpjpe(r) for r in distance] == [10.0, 30.0, None]
    fig = table1_figure(rows, distance)
    assert list(fig.data[1].y) == [10.0, 30.0, None]  # JSON-safe for a FigureWidget
    json.dumps(fig.to_plotly_json(), allow_nan=False)


def test_evaluate_command_writes_the_rows_into_the_run(tiny_result, capsys):
    out, _ = tiny_result
    assert evaluate_main(["--run", str(out / "seed0"), "--no-vertices", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Propagation" in printed and "test videos" in printed
    rows = json.loads((out / "seed0" / "evaluation-test.json").read_text())["rows"]
    assert {r["method"] for r in rows} == {name for name, _, _ in ROWS}
    assert evaluate_main(["--run", str(out / "nothing"), "--quiet"]) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_settings_are_the_documented_ones():
    full = SETTINGS["full"]
    assert full.data["label_every"] == 128 and full.seeds == (0,)
    assert full.train["control_steps"] == full.train["stage3_steps"]
    assert SETTINGS["quick"].train["control_steps"] == SETTINGS["quick"].train["stage3_steps"]


def test_unseen_videos_are_new_videos_made_like_the_setting(tmp_path):
    from handkit.data.video_format import VideoDataset
    from handkit.evaluation import read_video, true_vertices
    from handkit.experiments.table1 import unseen_videos

    data = {**TINY.data, "num_frames": 20}
    path = unseen_videos(data, num_videos=2, seed=7, cache=tmp_path)
    again = unseen_videos(data, num_videos=2, seed=7, cache=tmp_path)
    assert path == again  # cached
    reader = VideoDataset(path)
    assert len(reader.video_ids) == 2 and len(reader) == 40
    assert reader.index["generator"]["seed"] == 7
    video = read_video(reader, reader.video_ids[0])
    assert video.images.shape == (20, 3, 32, 32) and list(video.labels.frames) == [0, 16, 19]
    from handkit.models import ManoDecoder

    verts = true_vertices(video.truth, np.array([3]), ManoDecoder())
    assert verts.shape == (1, 778, 3) and np.isfinite(verts.numpy()).all()


@pytest.mark.slow  # a few minutes
@pytest.mark.timeout(900)
def test_the_quick_setting_reproduces_the_main_result_near_labels(tmp_path):
    """python -m handkit experiment table1 --setting quick, as CI runs it. A short run shows
    honestly only that propagating a label beats the single-frame regressor where the label is
    near (the predictor is far from trained); the full setting is for the whole claim."""
    result = run_table1(SETTINGS["quick"], tmp_path / "quick", progress=False)
    test = [r for r in result.distance_rows if r["split"] == "test"]

    def near(method):
        return next(r["mpjpe"] for r in test if r["method"] == method and r["distance"] == "1-15")

    assert near("Propagation") < near("Baseline + Align")
    assert result.value("Propagation") < result.value("Baseline")
    assert all(math.isfinite(r["mpjpe"]) and r["mpjpe"] > 0 for r in result.rows)
    assert {r["method"] for r in result.rows} == {name for name, _, _ in ROWS}


def test_results_are_read_back_as_written(tiny_result, tmp_path):
    out, result = tiny_result
    rows, distance_rows = read_results(out / "results.json")
    assert rows == json.loads(json.dumps(result.rows))
    assert distance_rows == json.loads(json.dumps(result.distance_rows))
    with pytest.raises(FileNotFoundError, match="no Table I results"):
        read_results(tmp_path / "missing.json")


def test_the_committed_seed_1_run_is_the_full_setting():
    rows, distance_rows = read_results(committed_seed1_path())
    assert {r["seed"] for r in rows} == {1} and {r["split"] for r in rows} == {"test", "train"}
    # made before the fused-interp mode: every other row (experiments/fused_interp/ has it)
    missing = {name for name, _, _ in ROWS} - {r["method"] for r in rows}
    assert missing == {"Fused + Interpolation"}
    test = {r["method"]: r for r in rows if r["split"] == "test"}
    assert test["Baseline"]["frames"] == 7920  # the full setting's 10 test videos
    assert {r["distance"] for r in distance_rows} == {"1-15", "16-31", "32-64"}


def test_a_recipe_sets_its_training_switches(tmp_path, capsys):
    from handkit.errors import InputError
    from handkit.experiments.table1 import RECIPES, main, train_config

    paper = train_config(TINY, tmp_path, seed=0)
    anchored = train_config(replace(TINY, recipe="anchored"), tmp_path, seed=0)
    assert not paper.aligner_anchored and anchored.aligner_anchored
    assert anchored == paper.with_overrides(RECIPES["anchored"])
    with pytest.raises(InputError, match="unknown recipe 'nope'"):
        train_config(replace(TINY, recipe="nope"), tmp_path, seed=0)
    with pytest.raises(SystemExit):
        main(["--recipe", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("run", ["seed0_checkpoint", "seed1_paper", "seed1_anchored"])
def test_the_committed_fused_interp_rows_beat_both_label_baselines_in_every_bin(run):
    """experiments/fused_interp/README.md's claim, on each committed evaluation."""
    path = Path(__file__).resolve().parents[1] / "experiments" / "fused_interp" / f"{run}.json"
    rows = json.loads(path.read_text())["distance_rows"]
    mpjpe = {(r["method"], r["distance"]): r["mpjpe"] for r in rows if r["split"] == "test"}
    for distance in ("1-15", "16-31", "32-64"):
        best_label = min(mpjpe["Copy nearest label", distance], mpjpe["Interpolation", distance])
        assert mpjpe["Fused + Interpolation", distance] < best_label, (run, distance)


@pytest.mark.parametrize("run", ["seed0_checkpoint", "seed1_paper"])
def test_the_committed_paired_comparisons_are_whole_and_consistent(run):
    """experiments/paired_comparisons/: every pair in every band, each difference inside its
    interval, the verdicts those intervals give."""
    from handkit.experiments.table1_files import committed_comparisons

    comparisons = committed_comparisons(run)
    pairs = {(a, b) for a, b, _ in comparisons}
    assert ("propagation", "copy") in pairs and ("fused-interp", "interpolation") in pairs
    for a, b in pairs - {("align", "control"), ("align", "baseline")}:
        assert {band for x, y, band in comparisons if (x, y) == (a, b)} == {
            "all", "1-15", "16-31", "32-64"}
    for key, c in comparisons.items():
        assert c["low"] <= c["difference"] <= c["high"], key
        assert c["difference"] == pytest.approx(c["mean_a"] - c["mean_b"])
        assert c["a_below_b"] == (c["high"] < 0) and c["b_below_a"] == (c["low"] > 0), key
        assert c["videos"] == 10
    with pytest.raises(ValueError, match="run must be one of"):
        committed_comparisons("seed2")


@pytest.mark.parametrize("argv, recipe, folder", [
    (["--setting", "full"], "anchored", "table1-full-anchored"),  # the evidence's recipe
    (["--setting", "full", "--recipe", "paper"], "paper", "table1-full"),  # the committed runs'
    (["--setting", "quick"], "paper", "table1-quick"),
])
def test_the_full_setting_trains_the_anchored_recipe_unless_told(argv, recipe, folder, tmp_path,
                                                                   monkeypatch):
    from handkit.experiments import table1

    class Called(Exception):
        pass

    def record(setting, out, **_):
        raise Called(setting.recipe, Path(out).name)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(table1, "run_table1", record)
    with pytest.raises(Called) as called:
        table1.main(argv)
    assert called.value.args == (recipe, folder)
