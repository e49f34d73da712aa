"""Why does training make the Pose Aligner worse than the label it starts from? Ablations.

``python -m handkit experiment ablation --setting full --seeds 0 1`` trains Table I's run of
each seed (``table1``: the setting's recipe, the paper's Eqs. 3-7 as written), then, for each
other variant, a run that differs from it in one switch of stages 2 and 3, branched from that
run's stage 1 (:func:`handkit.train.branch.branch`: the same run as one trained from the start,
at a third of the cost). Each run's aligner modes are evaluated on the test videos' unlabelled
frames beside the two label-only references (copy the nearest label, interpolate the two
around), per distance |u - N(u)| to the nearest label, each with a 95 % bootstrap interval over
the test videos (:mod:`handkit.bootstrap`).

Writes into ``--out`` (default ``runs/ablation-SETTING``): ``seed<k>/<variant>/`` (the run
folders), ``ablation.csv`` (one row per seed, variant, method and distance bin, and "all"),
``paired.csv`` (each variant's aligner modes minus the Table I run's, and minus copying the
nearest label, on the same frames, with paired 95 % intervals:
:mod:`handkit.experiments.ablation_paired`), ``report.txt`` (the tables, also printed) and
``results.json`` (rows and seconds); each run folder keeps its per-frame errors
(``test_errors.npz``). The tables and report are rewritten after every run, so a long
ablation can be read while it goes on. A later
call into the same folder keeps the rows saved before and adds its own (a finished run is
reused, and not evaluated again when its rows are there).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from handkit.data.video_format import VideoDataset
from handkit.errors import InputError, check_output_folder, command
from handkit.evaluation import evaluate_split
from handkit.experiments.ablation_paired import (
    format_paired,
    paired_rows,
    read_frame_errors,
    save_frame_errors,
)
from handkit.experiments.interval_rows import read_result_rows, result_rows
from handkit.experiments.table1 import (
    SETTINGS,
    Table1Setting,
    _train_seed,
    dataset_for,
    train_config,
)
from handkit.inference import MODE_TITLES
from handkit.resources import course_path
from handkit.train import TrainConfig, input_transform, load_run, train
from handkit.train.branch import branch
from handkit.train.checkpoint import FINAL, LATEST

#: name -> (what it changes, TrainConfig overrides). "table1" is the setting's own run.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "table1": ("Table I's run: Eqs. 3-7 as written", {}),
    "detach_aligned": ("stage 3's L_{u<-s} (Eq. 7) trains the predictor only",
                       {"backward_detach": "aligned"}),
    "stage2_shared_roll": ("stage 2 rolls both frames of a pair by one angle",
                           {"stage2_roll": "shared"}),
    "anchored": ("phi(gamma, dz) - phi(gamma, 0): equal features copy the label",
                 {"aligner_anchored": True}),
    "all_three": ("the three switches above together",
                  {"backward_detach": "aligned", "stage2_roll": "shared",
                   "aligner_anchored": True}),
}
#: The committed full-setting ablation (``experiments/ablation_full/``), read by notebook 08.
COMMITTED_ABLATION = Path("experiments") / "ablation_full" / "ablation.csv"
#: Modes that do not depend on training (evaluated once per seed) and those that do.
LABEL_MODES = ("copy", "interpolation")
ALIGNER_MODES = ("propagation", "bidirectional", "fused")


@dataclass
class AblationResult:
    """Rows (one per seed, variant, mode and distance bin), paired differences against the
    Table I run (:mod:`handkit.experiments.ablation_paired`) and the wall time of each part."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    paired: list[dict[str, Any]] = field(default_factory=list)  # ablation_paired.paired_rows


def _train_branch(source: Path, config: TrainConfig, folder: Path, *, progress: bool) -> None:
    """Reuse a finished run of ``config`` in ``folder``, resume an unfinished one, or branch
    one from ``source``'s stage 1 and train its stages 2 and 3."""
    if (folder / FINAL).is_file():
        saved = TrainConfig.from_dict(json.loads((folder / "config.json").read_text()))
        if saved == config:
            return
        raise InputError(f"{folder} holds a finished run of another config; remove it or "
                         f"choose another --out")
    if not (folder / LATEST).is_file():
        branch(source, config, folder)
    train(config, folder, resume=True, progress=progress)


def evaluate_variant(folder: Path, data: Path, modes: Sequence[str], *, seed: int,
                     variant: str, progress: bool) -> list[dict[str, Any]]:
    """Rows of ``modes`` for the finished run in ``folder`` on the test split of ``data``."""
    run = load_run(folder)
    reader = VideoDataset(data, "test", label_every=run.config.label_every)
    transform = input_transform(run.config, reader, training=False)
    result = evaluate_split(reader, run.predictor, run.aligner, modes=modes, transform=transform,
                            vertices=False, progress=progress)
    save_frame_errors(result, folder)  # for the paired intervals (ablation_paired.py)
    return result_rows(result, seed=seed, variant=variant)


def run_ablation(setting: Table1Setting, out: str | Path, *, variants: Sequence[str],
                 seeds: Sequence[int] | None = None, cache: str | Path | None = None,
                 progress: bool = True) -> AblationResult:
    """Train and evaluate ``variants`` (names of :data:`VARIANTS`; "table1" always runs, as the
    source of the others' stage 1) on each seed; save after every run (see the module
    docstring)."""
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise InputError(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result, began = earlier_result(out), time.perf_counter()
    data = dataset_for(setting, Path(cache) if cache else out.parent / "cache", progress=progress)
    result.seconds["data"] = time.perf_counter() - began
    names = ["table1"] + [name for name in variants if name != "table1"]
    for seed in seeds or setting.seeds:
        base = train_config(setting, data, seed)
        for name in names:
            folder, began = out / f"seed{seed}" / name, time.perf_counter()
            config = base.with_overrides(VARIANTS[name][1])
            reused = (folder / FINAL).is_file()
            if name == "table1":
                _train_seed(config, folder, progress=progress)
            else:
                _train_branch(out / f"seed{seed}" / "table1", config, folder, progress=progress)
            modes = (LABEL_MODES if name == "table1" else ()) + ALIGNER_MODES
            if (reused and _has_rows(result.rows, seed, name, modes)
                    and read_frame_errors(folder) is not None):
                continue  # a reused run whose rows and errors an earlier call saved
            result.seconds[f"seed {seed} {name} train"] = time.perf_counter() - began
            began = time.perf_counter()
            rows = evaluate_variant(folder, data, modes, seed=seed, variant=name,
                                    progress=progress)
            result.rows = [r for r in result.rows
                           if (r["seed"], r["variant"]) != (seed, name)] + rows
            result.seconds[f"seed {seed} {name} evaluate"] = time.perf_counter() - began
            result.paired = _paired(result, out)
            save_ablation(result, out)
    result.paired = _paired(result, out)  # also when every run was reused
    return result


def _paired(result: AblationResult, out: Path) -> list[dict[str, Any]]:
    return paired_rows(out, sorted({r["seed"] for r in result.rows}), list(VARIANTS),
                       ALIGNER_MODES)


def earlier_result(out: Path) -> AblationResult:
    """What an earlier call saved in ``out`` (``results.json``), or nothing: a call adds its
    seeds and variants to the table instead of replacing it."""
    path = out / "results.json"
    if not path.is_file():
        return AblationResult()
    saved = json.loads(path.read_text())
    return AblationResult(rows=list(saved["rows"]), seconds=dict(saved["seconds"]))


def _has_rows(rows: Sequence[dict[str, Any]], seed: int, variant: str, modes: Sequence[str]
              ) -> bool:
    return set(modes) <= {r["mode"] for r in rows if (r["seed"], r["variant"]) == (seed, variant)}


def committed_ablation() -> Path:
    """The committed ablation table of the kit (:data:`COMMITTED_ABLATION`), in the checkout
    or the installed package (:mod:`handkit.resources`)."""
    return course_path(*COMMITTED_ABLATION.parts)


def read_ablation(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an ``ablation.csv``, numbers as numbers (empty cells as None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ablation table at {path}; python -m handkit experiment "
                                f"ablation writes one")
    return read_result_rows(path, {"seed": int})


def save_ablation(result: AblationResult, out: Path) -> None:
    """``ablation.csv``, ``results.json`` and ``report.txt`` in ``out``."""
    _write_rows(out / "ablation.csv", result.rows)
    (out / "results.json").write_text(json.dumps(
        {"rows": result.rows, "seconds": {k: round(v, 1) for k, v in result.seconds.items()}},
        indent=2) + "\n")
    if result.paired:
        _write_rows(out / "paired.csv", result.paired)
    report = format_ablation(result.rows)
    if result.paired:
        report += "\n\n" + format_paired(result.paired)
    (out / "report.txt").write_text(report + "\n")


def _write_rows(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def format_ablation(rows: Sequence[dict[str, Any]]) -> str:
    """Per seed: the label-only references, then each variant's aligner modes; MPJPE (mm)
    [95 % interval over test videos] per distance bin."""
    bins = list(dict.fromkeys(row["distance"] for row in rows))
    lines = []
    for seed in dict.fromkeys(row["seed"] for row in rows):
        mine = [row for row in rows if row["seed"] == seed]
        lines += [f"Seed {seed}: MPJPE (mm) [95 % interval over test videos] by distance to "
                  f"the nearest label", f"  {'':38}" + "".join(f"{b:>22}" for b in bins)]
        for variant in dict.fromkeys(row["variant"] for row in mine):
            for mode in dict.fromkeys(r["mode"] for r in mine if r["variant"] == variant):
                label = (MODE_TITLES[mode] if mode in LABEL_MODES
                         else f"{variant}: {MODE_TITLES[mode].split(' (')[0]}")
                cells = {r["distance"]: r for r in mine
                         if r["variant"] == variant and r["mode"] == mode}
                lines.append(f"  {label[:38]:38}" + "".join(_cell(cells.get(b)) for b in bins))
        lines.append("")
    lines.append("Variants: " + "; ".join(f"{name}: {VARIANTS[name][0]}" for name in
                                          dict.fromkeys(row["variant"] for row in rows)))
    return "\n".join(lines)


def _cell(row: dict[str, Any] | None) -> str:
    if row is None or row["mpjpe"] is None:
        return f"{'-':>22}"
    if row["ci_low"] is None:  # one video: no interval
        return f"{row['mpjpe']:>8.1f}{'':14}"
    return f"{row['mpjpe']:>8.1f} [{row['ci_low']:5.1f}, {row['ci_high']:5.1f}]"


@command("experiment ablation")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit experiment ablation``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m handkit experiment ablation",
                                     description="Ablations of the aligner's training "
                                                 "(stages 2 and 3), branched from Table I's run.")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", help="instead of the setting's seeds")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), metavar="NAME",
                        help=f"of {list(VARIANTS)} (default: all)")
    parser.add_argument("--out", type=Path, help="results folder (default runs/ablation-SETTING)")
    parser.add_argument("--compile", action="store_true", help="training's --compile true")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.seeds and min(args.seeds) < 0:
        raise InputError(f"--seeds must be integers >= 0, got {args.seeds}")
    out = check_output_folder(args.out or Path("runs") / f"ablation-{args.setting}", "--out")
    setting = SETTINGS[args.setting]
    if args.compile:
        setting = replace(setting, train={**setting.train, "compile": True})
    began = time.perf_counter()
    result = run_ablation(setting, out, variants=args.variants, seeds=args.seeds,
                          progress=not args.quiet)
    print(format_ablation(result.rows))
    if result.paired:
        print("\n" + format_paired(result.paired))
    print(f"\n{time.perf_counter() - began:.0f} s; results in {out}", file=sys.stderr)
    return 0
