"""The label-based and aligner modes of the shipped seed-0 checkpoint on the full Table I test
videos (joint columns): how the seed-0 rows of experiments/fused_interp/ were made.

    .venv/bin/python experiments/fused_interp/evaluate_checkpoint.py > seed0_checkpoint.txt

The checkpoint holds the final Hand Predictor and Pose Aligner of the full setting's seed-0 run
(float16 weights, read back as float32); its Baseline and Control are not in it. The data set is
the setting's, generated once into runs/cache/ (the same as training used).
"""

from __future__ import annotations

import json
from pathlib import Path

from handkit.data.datasets import VideoDataset
from handkit.evaluation import evaluate_split
from handkit.experiments.table1 import SETTINGS, dataset_for
from handkit.experiments.table1_files import sample_checkpoint_path
from handkit.experiments.table1_format import format_table, result_rows
from handkit.train.export import load_weights
from handkit.train.parts import input_transform

MODES = ("propagation", "copy", "interpolation", "bidirectional", "fused", "fused-interp")


def main() -> None:
    weights = load_weights(sample_checkpoint_path())
    data = dataset_for(SETTINGS["full"], Path("runs") / "cache", progress=False)
    reader = VideoDataset(data, "test", label_every=weights.config.label_every)
    result = evaluate_split(reader, weights.predictor, weights.aligner, modes=MODES,
                            transform=input_transform(weights.config, reader, training=False),
                            vertices=False, progress=False)
    rows, distance = result_rows(result, seed=0, split="test")
    print("\n".join(format_table(rows, distance, title="shipped seed-0 checkpoint (test split, "
                                 "unlabelled frames; mm)")))
    out = Path(__file__).with_name("seed0_checkpoint.json")
    out.write_text(json.dumps({"rows": rows, "distance_rows": distance}, indent=1) + "\n")


if __name__ == "__main__":
    main()
