"""``python -m handkit evaluate --run runs/NAME [--split test]``: Table I rows of a trained run.

Evaluates every row the run can give (:data:`handkit.experiments.table1.ROWS`: Baseline and Control
when the run has a stage 1 and a control, Baseline + Align, Propagation, Copy, Interpolation,
Bidirectional, Gated) on the unlabelled frames of a split of the run's data, prints the table,
and writes ``evaluation-<split>.json`` and ``evaluation-<split>.csv`` into the run folder. A run
on Mini-HO-3D or Mini-InterHand also prints the paper's Table I rows for that set and split.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from handkit.errors import check_output_folder, command, positive_int, refuse
from handkit.experiments.table1 import evaluate_run, format_table, paper_rows_lines
from handkit.train import RunFolderError
from handkit.train.config import run_config
from handkit.train.folder import evaluation_lock, write_evaluation


@command("evaluate")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit evaluate``: see the module docstring. A run folder that cannot be
    written is refused before anything is computed (one line, exit status 1)."""
    parser = argparse.ArgumentParser(prog="python -m handkit evaluate",
                                     description="Table I rows of a trained run folder.")
    parser.add_argument("--run", type=Path, required=True, help="the run folder (runs/NAME)")
    parser.add_argument("--split", default="test", help="test (default), train or val")
    parser.add_argument("--videos", type=positive_int, help="only the split's first N videos")
    parser.add_argument("--no-vertices", action="store_true",
                        help="joint columns only (faster; no MPVPE or F-scores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.run.is_dir():  # the results are written there: refuse before computing them
        check_output_folder(args.run, "--run")
    try:  # the run folder is locked: no training or other evaluation writes into it meanwhile
        with evaluation_lock(args.run):
            rows, distance = evaluate_run(args.run, splits=(args.split,), train_videos=args.videos,
                                          vertices=not args.no_vertices, progress=not args.quiet)
            write_evaluation(args.run, args.split, rows, distance)
    except (FileNotFoundError, ValueError, RunFolderError) as error:
        return refuse("evaluate", str(error))
    if args.videos is not None and args.split != "train":
        print("handkit evaluate: --videos applies to the train split only", file=sys.stderr)
    out = args.run / f"evaluation-{args.split}"
    print("\n".join(format_table(rows, distance, title=f"{args.run} ({args.split} split, "
                                 "unlabelled frames; mm, F in [0, 1])")))
    print("\n".join(paper_rows_lines(run_config(args.run).dataset, args.split)))
    print(f"written: {out}.json, {out}.csv", file=sys.stderr)
    return 0
