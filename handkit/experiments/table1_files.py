"""Table I's files: the results folder a run writes (:func:`save_results`) and reads back
(:func:`read_results`, :func:`saved_rows`), and where this repository keeps the shipped
checkpoint (:data:`SAMPLE_CHECKPOINT`) and the committed seed-1 results
(:data:`COMMITTED_SEED1`). :mod:`handkit.experiments.table1` runs the experiment and re-exports
these names.

A results folder holds ``results.json`` (the setting, the rows and distance rows of
:mod:`handkit.experiments.table1_format`, the seconds each part took), ``table1.csv``,
``by_distance.csv``, ``report.txt`` and ``table1.html`` (a bar chart).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handkit.experiments.table1_format import format_report
from handkit.resources import course_path
from handkit.train.checkpoint import FINAL

if TYPE_CHECKING:
    from handkit.experiments.table1 import Table1Result, Table1Setting

#: Where the shipped checkpoint lives, relative to the repository root (and to the installed
#: package's course folder, :mod:`handkit.resources`).
SAMPLE_CHECKPOINT = Path("data_samples") / "checkpoint" / "table1_full_seed0.npz"

#: The full setting's seed-1 run (``--setting full --seeds 1``), committed beside the shipped
#: seed-0 checkpoint so notebooks 07 and 08 can compare two seeds without training.
COMMITTED_SEED1 = Path("experiments") / "table1_full_seed1" / "results.json"


def save_results(result: Table1Result, out: Path) -> None:
    """``results.json``, ``table1.csv``, ``by_distance.csv``, ``report.txt``, ``table1.html``."""
    from handkit.viz.results import table1_figure  # plotly only when saving

    (out / "results.json").write_text(json.dumps({
        "setting": asdict(result.setting), "rows": result.rows,
        "distance_rows": result.distance_rows,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
    }, indent=2, default=_plain) + "\n")
    for name, rows in (("table1.csv", result.rows), ("by_distance.csv", result.distance_rows)):
        with (out / name).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    (out / "report.txt").write_text(format_report(result) + "\n")
    table1_figure(result.rows, result.distance_rows).write_html(out / "table1.html",
                                                                 include_plotlyjs=True)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def read_results(path: str | Path) -> tuple[list[dict], list[dict]]:
    """The rows and distance rows of a Table I run's ``results.json`` (:func:`save_results`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Table I results at {path}; make them with python -m handkit "
                                "experiment table1")
    saved = json.loads(path.read_text())
    return saved["rows"], saved["distance_rows"]


def saved_rows(folder: Path, setting: Table1Setting, seed: int) -> tuple[list, list]:
    """The rows and distance rows of ``seed`` that ``folder/results.json`` holds for this
    setting's data and training, when the seed's run there is finished (else empty lists)."""
    path = folder / "results.json"
    if not path.is_file() or not (folder / f"seed{seed}" / FINAL).is_file():
        return [], []
    saved = json.loads(path.read_text())
    same = {k: saved["setting"][k] for k in ("data", "train")} == \
        json.loads(json.dumps({"data": setting.data, "train": setting.train}))
    if not same:
        return [], []
    return ([r for r in saved["rows"] if r["seed"] == seed],
            [r for r in saved["distance_rows"] if r["seed"] == seed])


def sample_checkpoint_path() -> Path:
    """The shipped checkpoint (``data_samples/checkpoint``), in the checkout or the installed
    package (:mod:`handkit.resources`)."""
    path = course_path(*SAMPLE_CHECKPOINT.parts)
    if not path.is_file():
        raise FileNotFoundError(f"expected the shipped checkpoint at {path}; make it with "
                                "python -m handkit experiment sample-checkpoint")
    return path


def committed_seed1_path() -> Path:
    """The committed seed-1 results of the full setting, in the checkout or the installed
    package (:mod:`handkit.resources`)."""
    return course_path(*COMMITTED_SEED1.parts)


#: The fused-interp mode's evaluations of trained full-setting runs (``experiments/fused_interp/``).
FUSED_INTERP_RUNS = ("seed0_checkpoint", "seed1_paper", "seed1_anchored")


def committed_fused_interp(run: str) -> list[dict]:
    """The committed by-distance rows of one :data:`FUSED_INTERP_RUNS` evaluation (test split),
    in the checkout or the installed package."""
    if run not in FUSED_INTERP_RUNS:
        raise ValueError(f"run must be one of {FUSED_INTERP_RUNS}, got {run!r}")
    path = course_path("experiments", "fused_interp", f"{run}.json")
    return json.loads(path.read_text())["distance_rows"]


#: Paired comparisons of modes on the full setting's test videos
#: (``experiments/paired_comparisons/``): the shipped seed-0 checkpoint and the seed-1 run.
PAIRED_RUNS = ("seed0_checkpoint", "seed1_paper")


def committed_comparisons(run: str) -> dict[tuple, dict]:
    """The committed paired comparisons of one :data:`PAIRED_RUNS` run: (a, b, band) -> the
    comparison's fields (:class:`handkit.comparison.Comparison`: mean_a, mean_b, difference,
    low, high, a_below_b, b_below_a); band is "all" or a distance bin such as "1-15"."""
    if run not in PAIRED_RUNS:
        raise ValueError(f"run must be one of {PAIRED_RUNS}, got {run!r}")
    path = course_path("experiments", "paired_comparisons", f"{run}.json")
    return {(c["a"], c["b"], "all" if c["distance"] is None else "{}-{}".format(*c["distance"])): c
            for c in json.loads(path.read_text())}
