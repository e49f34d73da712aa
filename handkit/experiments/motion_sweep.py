"""How sparse can labels be, and for which footage is learned propagation worth training?

``python -m handkit experiment motion-sweep --setting full --ks 16 32 64 128 --motions
keyframes natural-slow natural natural-fast --seeds 0`` generates the setting's videos once per
motion level (:data:`MOTION_LEVELS`, :mod:`handkit.data.motion`), trains one run per (motion,
K, seed) with the setting's training at labels every K frames, and evaluates every mode on the
test videos' unlabelled frames per distance to the nearest label, with 95 % bootstrap intervals
over test videos (:mod:`handkit.experiments.interval_rows`).

Each run is ``--recipe``'s (:data:`RECIPES`), without the control (no row needs it): its
stage-3 pairs keep u within K / 2 of s (``max_gap``), so s = N(u) as Eq. 10 samples it at every K.

Writes into ``--out`` (default ``runs/motion-sweep-SETTING``): one run folder per point
(``<motion>__K<k>__seed<s>/``), ``results_long.csv`` (one row per point, mode and distance bin),
``results.csv`` (one row per point: ``label_every``, ``motion``, ``seed``, then
``mpjpe.<Method>`` overall and ``mpjpe.<Method>.<bin>`` per bin), ``winners.csv`` (per point
and bin, the method with the lowest MPJPE and by how much), ``summary.md`` (a Markdown table,
a row per point: :func:`summary_table`) and ``map.html`` (the figure:
:func:`handkit.viz.motion_map.winner_map_figure`). Everything is rewritten after each point; a
second call reuses finished runs, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from handkit.data.motion import MOTION_LEVELS
from handkit.data.video_format import VideoDataset
from handkit.errors import InputError, check_output_folder, command
from handkit.evaluation import evaluate_split
from handkit.experiments.interval_rows import read_result_rows, result_rows
from handkit.experiments.table1 import (
    RECIPES,
    SETTINGS,
    Table1Setting,
    _train_seed,
    dataset_for,
    train_config,
)
from handkit.files import folder_lock, write_text_atomic
from handkit.inference import MODE_TITLES
from handkit.resources import course_path
from handkit.train import input_transform, load_run

#: The modes evaluated at every point.
MODES = ("regression", "copy", "interpolation", "propagation", "bidirectional", "fused",
         "fused-interp")


#: The committed sweep's long table, relative to the repository root (and to the installed
#: package's course folder, :mod:`handkit.resources`).
COMMITTED_MOTION_SWEEP = Path("experiments") / "sweep_motion_k" / "results_long.csv"


def label_gap_at_natural_speed(level: str, label_every: int) -> float | None:
    """How far the hand moves between two labels, in frames of natural-speed motion: K times
    the level's ``motion_speed`` (e.g. 32 for natural K = 32, natural-fast K = 16 and
    natural-slow K = 64). None for the keyframe model, which has no speed.

    Raises:
        ValueError: ``level`` is not one of :data:`MOTION_LEVELS`.
    """
    if level not in MOTION_LEVELS:
        raise ValueError(f"motion level must be one of {list(MOTION_LEVELS)}, got {level!r}")
    speed = MOTION_LEVELS[level].get("motion_speed")
    return None if speed is None else float(speed) * label_every


def committed_motion_sweep() -> Path:
    """The committed motion x K sweep (:data:`COMMITTED_MOTION_SWEEP`), in the checkout or the
    installed package."""
    return course_path(*COMMITTED_MOTION_SWEEP.parts)


def motion_setting(setting: Table1Setting, level: str) -> Table1Setting:
    """``setting`` with its videos made by motion level ``level``."""
    data = dict(setting.data)
    data["params"] = {**data.get("params", {}), **MOTION_LEVELS[level]}
    return replace(setting, name=f"{setting.name}-{level}", data=data)


def point_config(setting: Table1Setting, data: Path, *, label_every: int, seed: int,
                 recipe: str):
    """The training config of one point: the setting's, the recipe's, labels every K, no
    control, stage-3 gaps below K / 2 (at least 1)."""
    config = train_config(replace(setting, recipe=recipe), data, seed)
    return config.with_overrides({"label_every": label_every, "control_steps": 0,
                                  "max_gap": max(1, min(config.max_gap, label_every // 2))})


def run_motion_sweep(setting: Table1Setting, out: str | Path, *, ks: Sequence[int],
                     levels: Sequence[str], seeds: Sequence[int], recipe: str = "paper",
                     cache: str | Path | None = None, progress: bool = True
                     ) -> list[dict[str, Any]]:
    """Train and evaluate every (motion level, K, seed); return the long rows (see the module
    docstring for the files written)."""
    unknown = sorted(set(levels) - set(MOTION_LEVELS))
    if unknown:
        raise InputError(f"unknown motion level(s) {unknown}; known: {list(MOTION_LEVELS)}")
    if recipe not in RECIPES:
        raise InputError(f"unknown recipe {recipe!r}; known: {list(RECIPES)}")
    if not ks or min(ks) < 2:
        raise InputError(f"--ks must be label spacings >= 2, got {list(ks)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache) if cache else out.parent / "cache"
    rows: list[dict[str, Any]] = []
    for level in levels:
        data = dataset_for(motion_setting(setting, level), cache, progress=progress)
        for label_every in ks:
            for seed in seeds:
                config = point_config(setting, data, label_every=label_every, seed=seed,
                                      recipe=recipe)
                folder = out / f"{level}__K{label_every}__seed{seed}"
                began = time.perf_counter()
                _train_seed(config, folder, progress=progress)
                run = load_run(folder)
                reader = VideoDataset(data, "test", label_every=label_every)
                result = evaluate_split(
                    reader, run.predictor, run.aligner, modes=MODES, vertices=False,
                    transform=input_transform(run.config, reader, training=False),
                    progress=progress)
                rows += result_rows(result, motion=level, label_every=label_every, seed=seed,
                                    recipe=recipe, seconds=round(time.perf_counter() - began))
                with folder_lock(out, what="handkit experiment motion-sweep", wait=True):
                    save_sweep(merge_saved(out / "results_long.csv", rows), out)
    return rows


_POINT = ("motion", "label_every", "seed", "recipe")


def read_long(path: Path) -> list[dict[str, Any]]:
    """The rows of a saved ``results_long.csv`` with their types (empty cells -> None)."""
    return read_result_rows(path, {"label_every": int, "seed": int, "seconds": int})


def merge_saved(path: Path, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows saved in ``path`` (if any) whose point (motion, K, seed, recipe) is not among
    ``rows``', then ``rows``."""
    if not path.is_file():
        return list(rows)
    fresh = {tuple(row[key] for key in _POINT) for row in rows}
    kept = [row for row in read_long(path) if tuple(row[key] for key in _POINT) not in fresh]
    return kept + list(rows)


def wide_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per point: motion, label_every, seed, then mpjpe.<Method> and its bins."""
    points: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (row["motion"], row["label_every"], row["seed"])
        point = points.setdefault(key, {"label_every": row["label_every"],
                                        "motion": row["motion"], "seed": row["seed"]})
        suffix = "" if row["distance"] == "all" else f".{row['distance']}"
        point[f"mpjpe.{row['method']}{suffix}"] = row["mpjpe"]
        point[f"ci.{row['method']}{suffix}"] = (
            None if row["ci_low"] is None else f"{row['ci_low']:.1f}-{row['ci_high']:.1f}")
    return list(points.values())


def winners(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per point and distance bin with at least two methods: the method with the lowest MPJPE,
    the runner-up, and the margin (mm); ``clear`` says whether the winner's interval lies below
    the runner-up's mean."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        if row["mpjpe"] is not None:
            key = (row["motion"], row["label_every"], row["seed"], row["distance"])
            groups.setdefault(key, []).append(row)
    out = []
    for (motion, label_every, seed, distance), members in groups.items():
        if len(members) < 2:  # nothing to beat
            continue
        best, second = sorted(members, key=lambda r: r["mpjpe"])[:2]
        out.append({"motion": motion, "label_every": label_every, "seed": seed,
                    "distance": distance, "winner": best["method"],
                    "runner_up": second["method"], "margin_mm": second["mpjpe"] - best["mpjpe"],
                    "clear": best["ci_high"] is not None and best["ci_high"] < second["mpjpe"]})
    return out


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` through a temporary file, so a reader never sees half."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())


def save_sweep(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """The CSV files and the figure of the module docstring."""
    from handkit.viz.motion_map import winner_map_figure  # plotly only when saving

    _write_csv(out / "results_long.csv", rows)
    _write_csv(out / "results.csv", wide_rows(rows))
    _write_csv(out / "winners.csv", winners(rows))
    write_text_atomic(out / "summary.md", summary_table(rows) + "\n")
    write_text_atomic(out / "map.html",
                      winner_map_figure(winners(rows)).to_html(include_plotlyjs=True))


def format_winners(rows: Sequence[dict[str, Any]]) -> str:
    """The map in words: per motion level and K, each bin's winner and margin."""
    lines = ["Who wins (lowest MPJPE) per motion, K and distance to the nearest label:"]
    for row in winners(rows):
        lines.append(f"  {row['motion']:>13} K={row['label_every']:<4} seed {row['seed']} "
                     f"{row['distance']:>6}: {row['winner']} by {row['margin_mm']:.1f} mm over "
                     f"{row['runner_up']}{'' if row['clear'] else ' (within its interval)'}")
    return "\n".join(lines)


def summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """The sweep as one Markdown table, a row per point (slowest motion first, then K from the
    sparsest): the MPJPE over all frames [95 % interval] of copy, interpolation and
    propagation, then per distance bin the winner, its MPJPE and its margin over the runner-up
    ("~": the winner's interval reaches the runner-up's mean)."""
    cell = {(r["motion"], r["label_every"], r["seed"], r["method"], r["distance"]): r
            for r in rows}
    won = {(w["motion"], w["label_every"], w["seed"], w["distance"]): w for w in winners(rows)}
    bins = [b for b in ("1-15", "16-31", "32-64", "all") if any(r["distance"] == b for r in rows)]
    order = list(MOTION_LEVELS)
    points = sorted({(r["motion"], r["label_every"], r["seed"]) for r in rows},
                    key=lambda p: (order.index(p[0]) if p[0] in order else len(order), -p[1],
                                   p[2]))
    lines = ["| motion | K | copy, all | interpolation, all | propagation, all | "
             + " | ".join(f"winner {b}" for b in bins) + " |",
             "|---|---|---|---|---|" + "---|" * len(bins)]
    for point in points:
        lines.append(f"| {point[0]} | {point[1]} | "
                     + " | ".join(_overall(cell.get((*point, MODE_TITLES[mode], "all")))
                                  for mode in ("copy", "interpolation", "propagation"))
                     + " | " + " | ".join(_winner(won.get((*point, b)), cell, point, b)
                                          for b in bins) + " |")
    return "\n".join(lines)


def _overall(row: dict[str, Any] | None) -> str:
    """"48.9 [46.1, 51.5]" (no interval: the mean alone; no row: a dash)."""
    if row is None or row["mpjpe"] is None:
        return "—"
    interval = "" if row["ci_low"] is None else f" [{row['ci_low']:.1f}, {row['ci_high']:.1f}]"
    return f"{row['mpjpe']:.1f}{interval}"


def _winner(won: dict[str, Any] | None, cell: dict[tuple, dict[str, Any]], point: tuple,
            band: str) -> str:
    """"fused-interp 27.2 (−1.9)": the winner's mode, MPJPE and margin ("~−" if unclear)."""
    if won is None:
        return "—"
    best = cell[(*point, won["winner"], band)]
    return (f"{best['mode']} {best['mpjpe']:.1f} "
            f"({'' if won['clear'] else '~'}−{won['margin_mm']:.1f})")


@command("experiment motion-sweep")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit experiment motion-sweep``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m handkit experiment motion-sweep",
                                     description="Who wins per label spacing K and motion.")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="quick")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128], metavar="K")
    parser.add_argument("--motions", nargs="+", default=list(MOTION_LEVELS), metavar="LEVEL",
                        help=f"of {list(MOTION_LEVELS)} (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="paper")
    parser.add_argument("--out", type=Path, help="default runs/motion-sweep-SETTING")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = check_output_folder(args.out or Path("runs") / f"motion-sweep-{args.setting}", "--out")
    began = time.perf_counter()
    run_motion_sweep(SETTINGS[args.setting], out, ks=args.ks, levels=args.motions,
                     seeds=args.seeds, recipe=args.recipe, progress=not args.quiet)
    print(format_winners(read_long(out / "results_long.csv")))
    print(f"\n{time.perf_counter() - began:.0f} s; results in {out}", file=sys.stderr)
    return 0


__all__ = ["COMMITTED_MOTION_SWEEP", "MODE_TITLES", "MOTION_LEVELS", "RECIPES",
           "committed_motion_sweep", "main", "merge_saved", "read_long", "run_motion_sweep",
           "summary_table", "winners"]
