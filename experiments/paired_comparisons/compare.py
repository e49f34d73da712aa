"""Paired 95 % intervals (over the 10 test videos) of the differences the docs and notebooks
talk about, on the full synthetic Table I's test split: how the files of
experiments/paired_comparisons/ were made (NAME.txt, the printed list; NAME.json, the same).

    .venv/bin/python experiments/paired_comparisons/compare.py checkpoint seed0_checkpoint
    .venv/bin/python experiments/paired_comparisons/compare.py \
        runs/ablation-full/seed1/table1 seed1_paper

"checkpoint" is the shipped seed-0 checkpoint (final predictor and aligner only, so no
Baseline or Control rows); a run folder adds the stage-1 Baseline and the Control. Every
difference is mode a minus mode b on the same frames (handkit.comparison.compare_modes); an
interval below 0 says a is below b on resampled sets of test videos too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from handkit.comparison import compare_modes
from handkit.data.video_format import VideoDataset
from handkit.evaluation import evaluate_predictors
from handkit.evaluation_result import FrameErrors
from handkit.experiments.table1 import SETTINGS, dataset_for
from handkit.experiments.table1_files import sample_checkpoint_path
from handkit.train import input_transform, load_run
from handkit.train.export import load_weights

MODES = ("regression", "propagation", "copy", "interpolation", "bidirectional", "fused",
         "fused-interp")
BANDS = (None, (1, 15), (16, 31), (32, 64))
#: (a, b): the comparisons made in every band.
PAIRS = (("propagation", "copy"), ("propagation", "interpolation"), ("interpolation", "copy"),
         ("bidirectional", "propagation"), ("fused-interp", "copy"),
         ("fused-interp", "interpolation"), ("propagation", "regression"))
#: Scenario 1 against the Control and the Baseline (runs only), over all frames.
REGRESSION_PAIRS = (("align", "control"), ("align", "baseline"))


def main(which: str, name: str) -> None:
    if which == "checkpoint":
        weights = load_weights(sample_checkpoint_path())
        config, aligner, predictors = weights.config, weights.aligner, {
            "align": weights.predictor}
    else:
        run = load_run(which)
        config, aligner = run.config, run.aligner
        predictors = {"align": run.predictor, "control": run.control, "baseline": run.baseline}
    data = dataset_for(SETTINGS["full"], Path("runs") / "cache", progress=False)
    reader = VideoDataset(data, "test", label_every=config.label_every)
    modes = {name: (MODES if name == "align" else ("regression",)) for name in predictors}
    results = evaluate_predictors(reader, predictors, aligner, modes, vertices=False,
                                  transform=input_transform(config, reader, training=False),
                                  progress=False)
    frames = results["align"].frames
    comparisons = [compare_modes(frames, a, b, distance=band) for a, b in PAIRS for band in BANDS]
    if len(predictors) > 1:  # scenario 1 of each predictor, on the same frames
        merged = FrameErrors(video=frames.video, frame=frames.frame, distance=frames.distance,
                             joints=frames.joints, metrics={
                                 name: results[name].frames.metrics["regression"]
                                 for name in predictors})
        comparisons += [compare_modes(merged, a, b) for a, b in REGRESSION_PAIRS]
    lines = [f"{which}: {results['align'].num_frames} unlabelled frames of "
             f"{len(results['align'].video_ids)} test videos; a - b in mm, 95 % paired interval"]
    lines += [f"  {comparison}" for comparison in comparisons]
    print("\n".join(lines))
    here = Path(__file__).parent
    (here / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (here / f"{name}.json").write_text(json.dumps(
        [{**vars(c), "a_below_b": c.a_below_b, "b_below_a": c.b_below_a} for c in comparisons],
        indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py checkpoint|RUN_FOLDER NAME")
    main(sys.argv[1], sys.argv[2])
