"""The synthetic Table I: ``python -m handkit experiment table1 [--setting quick|full]``.

The paper's Table I compares, on the **unlabelled frames** of sparsely labelled train and test
videos (K = 128), the single-frame predictor after stage 1 (*Baseline*), after stage 3
(*Baseline + Align*, scenario 1) and annotation propagation with the Pose Aligner (scenario 2).
This experiment reproduces that comparison on handkit's synthetic videos and adds rows the
paper does not report, so a reader can tell what propagation buys:

* *Control*: the stage-1 predictor trained on for as many steps and images as stage 3 costs,
  without the aligner ("alignment helped" vs "more training helped");
* *Copy nearest label* and *Interpolation* between the two neighbouring labels (no network);
* *Bidirectional*, *Gated* and *Fused* propagation (issue 10's modes).

Errors are also broken down by the distance |u - N(u)| to the nearest label.

A setting (:data:`SETTINGS`) fixes everything: the generated data set (seeded, cached in
``runs/cache/``), the training config (saved with each run) and the seeds. Each seed trains
into ``<out>/seed<k>/`` (an interrupted run resumes, a finished one is reused); the results go
to ``<out>/results.json``, ``table1.csv``, ``by_distance.csv``, ``table1.html`` (a bar chart)
and ``report.txt`` (the table printed with the paper's numbers beside it). The rows, their
names and their printed form live in :mod:`handkit.experiments.table1_format`; writing and
reading the results files and the paths of the shipped checkpoint and committed seed-1 results in
:mod:`handkit.experiments.table1_files` (both re-exported here).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from handkit.data.synth_params import SynthParams
from handkit.data.synthetic import generate_dataset
from handkit.data.video_format import INDEX_FILE, VideoDataset
from handkit.errors import InputError, check_output_folder, command
from handkit.evaluation import evaluate_predictors
from handkit.evaluation_result import EvaluationResult
from handkit.experiments.table1_files import (  # noqa: F401 (re-exported: handkit.experiments.table1 names them)
    COMMITTED_SEED1,
    SAMPLE_CHECKPOINT,
    committed_seed1_path,
    read_results,
    sample_checkpoint_path,
    save_results,
    saved_rows,
)
from handkit.experiments.table1_format import (  # noqa: F401 (re-exported: handkit.experiments.table1 names them)
    COLUMN_TITLES,
    COLUMNS,
    MODE_NAMES,
    NAME_WIDTH,
    PAPER_TABLE1,
    ROWS,
    claims,
    format_report,
    format_table,
    method_name,
    method_order,
    paper_rows_lines,
    result_rows,
    time_lines,
)
from handkit.models.precision import PRECISIONS
from handkit.train import TrainConfig, input_transform, load_run, open_reader, train
from handkit.train.checkpoint import FINAL


@dataclass(frozen=True)
class Table1Setting:
    """Everything one Table I experiment depends on.

    Attributes:
        name: "quick" or "full".
        data: arguments of :func:`handkit.data.synthetic.generate_dataset` (``params`` as a dict
            of :class:`~handkit.data.synth_params.SynthParams` overrides).
        train: :class:`~handkit.train.TrainConfig` values (``data`` is filled in).
        seeds: training seeds, one run each.
        train_videos: how many training videos the train rows are measured on (the first
            ones), so evaluation stays short.
        vertices: measure the vertex columns (MPVPE, F-scores) too.
        recipe: the training recipe, a name of :data:`RECIPES` (overrides of ``train``).
    """

    name: str
    data: dict[str, Any]
    train: dict[str, Any]
    seeds: tuple[int, ...]
    train_videos: int
    vertices: bool = True
    recipe: str = "paper"


#: Hand motion of the Table I videos: motion key poses 40-100 frames apart (the generator's
#: default, 20-50, moves the hand so fast that a label 30 frames away is rarely informative,
#: and 60-150 so slowly that interpolating two labels is as good as anything; see docs/table1.md).
TABLE1_KEY_GAP = [40, 100]

#: Training recipes: name -> TrainConfig overrides on top of a setting's training. "paper":
#: Eqs. 3-7 as the paper writes them. "anchored": the Pose Aligner's displacements are
#: phi(gamma, dz) - phi(gamma, 0), so a frame whose features equal the label's gets the label
#: unchanged; the ablations (``experiments/ablation_full/``) found that the paper's aligner,
#: never trained on similar frames, moves a label by phi(gamma, 0) next to it.
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {},
    "anchored": {"aligner_anchored": True},
}

#: The recipe ``experiment table1`` trains when ``--recipe`` is not given, per setting: the
#: full setting trains the anchored aligner, which the ablations found 3.8 / 4.0 mm better within
#: 15 frames of a label (seeds 0 / 1) and nowhere worse; other settings, and every committed
#: run, the paper's recipe (``--recipe paper``).
DEFAULT_RECIPES: dict[str, str] = {"full": "anchored"}


def default_recipe(setting_name: str) -> str:
    """The recipe ``experiment table1 --setting setting_name`` trains by default."""
    return DEFAULT_RECIPES.get(setting_name, "paper")


SETTINGS = {
    "full": Table1Setting(
        name="full",
        data=dict(num_videos=50, num_frames=800, size=64, seed=0, label_every=128,
                  val_fraction=0.0, test_fraction=0.2, params={"key_gap": TABLE1_KEY_GAP}),
        train=dict(lr=1e-3, lr_schedule="cosine", batch_size=64, pair_batch_size=32,
                   stage1_steps=600, stage2_steps=600, stage3_steps=500, control_steps=500,
                   rotation_aug_rad=math.pi / 8, checkpoint_every=250),
        seeds=(0,), train_videos=10),
    "quick": Table1Setting(
        name="quick",
        data=dict(num_videos=8, num_frames=256, size=64, seed=0, label_every=64,
                  val_fraction=0.0, test_fraction=0.25, params={"key_gap": TABLE1_KEY_GAP}),
        train=dict(lr=1e-3, lr_schedule="cosine", batch_size=32, pair_batch_size=16,
                   stage1_steps=120, stage2_steps=100, stage3_steps=40, control_steps=40,
                   rotation_aug_rad=math.pi / 8, checkpoint_every=100),
        seeds=(0,), train_videos=2, vertices=False),
}


@dataclass
class Table1Result:
    """What :func:`run_table1` measured: one row per (seed, split, method)."""

    setting: Table1Setting
    rows: list[dict[str, Any]] = field(default_factory=list)
    distance_rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def value(self, method: str, key: str = "mpjpe", *, split: str = "test",
              seed: int | None = None) -> float:
        """``key`` of ``method`` on ``split``, for one seed or the mean over seeds."""
        values = [r[key] for r in self.rows if r["method"] == method and r["split"] == split
                  and (seed is None or r["seed"] == seed)]
        if not values:
            raise KeyError(f"no row {method!r} on {split!r} (seed {seed})")
        return float(np.mean(values))


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def dataset_for(setting: Table1Setting, cache: Path, *, progress: bool = True) -> Path:
    """The setting's data set, generated once (seeded, so the same bytes) and cached."""
    folder = cache / f"synthetic-{setting.name}-{_digest(setting.data)}"
    if (folder / INDEX_FILE).is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{folder.name}.lock", "w") as lock:  # parallel runs make it only once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / INDEX_FILE).is_file():
            data = dict(setting.data)
            params = SynthParams(**{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in data.pop("params").items()})
            generate_dataset(folder, **data, params=params, force=folder.exists(),
                             show_progress=progress)
    return folder


def train_config(setting: Table1Setting, data: Path, seed: int) -> TrainConfig:
    """The training config of one seed (what its run folder's ``config.json`` holds): the
    setting's training, then its recipe's overrides (:data:`RECIPES`)."""
    if setting.recipe not in RECIPES:
        raise InputError(f"unknown recipe {setting.recipe!r}; known: {list(RECIPES)}")
    config = TrainConfig.from_dict({**setting.train, "data": str(data), "seed": seed})
    return config.with_overrides(RECIPES[setting.recipe])


def _train_seed(config: TrainConfig, folder: Path, *, progress: bool) -> None:
    """Train into ``folder``: reuse a finished run of this config, resume an unfinished one."""
    if (folder / FINAL).is_file():
        saved = TrainConfig.from_dict(json.loads((folder / "config.json").read_text()))
        if saved == config:
            return
        train(config, folder, force=True, progress=progress)
    elif (folder / "checkpoint.pt").is_file():
        train(config, folder, resume=True, progress=progress)
    else:
        train(config, folder, progress=progress)


def evaluate_run(folder: str | Path, *, splits: Sequence[str] = ("test", "train"),
                 data: str | Path | None = None, train_videos: int | None = None,
                 vertices: bool = True, seed: int | None = None, progress: bool = True
                 ) -> tuple[list[dict], list[dict]]:
    """Table I rows of a finished run folder: every row of :data:`ROWS` its run can give
    (Baseline and Control need the run's stage 1 and control), on the unlabelled frames.

    Args:
        folder: a finished run (``final.pt``).
        splits: the splits evaluated.
        data: a synthetic data set's folder (default: the run's own, from its config; a run on a
            real set always evaluates on its own, ``data_root`` and ``mano_root`` of its config).
        train_videos: evaluate only the first videos of the train split (None: all).
        vertices: also the vertex columns (MPVPE, F-scores; slower).
        seed: written into each row (default: the run's seed).
        progress: progress bars.
    Returns:
        (rows: one per split and method, with the metric keys; distance rows: one per split,
        method and distance bin).
    """
    results = evaluate_run_results(folder, splits=splits, data=data, train_videos=train_videos,
                                   vertices=vertices, progress=progress)
    return table1_rows(results, seed=load_run(folder).config.seed if seed is None else seed)


def evaluate_run_results(folder: str | Path, *, splits: Sequence[str] = ("test", "train"),
                         data: str | Path | None = None, train_videos: int | None = None,
                         vertices: bool = True, progress: bool = True
                         ) -> dict[str, dict[str, EvaluationResult]]:
    """What :func:`evaluate_run` tabulates: split -> predictor ("baseline", "control",
    "predictor") -> its :class:`~handkit.evaluation_result.EvaluationResult`, with per-frame
    errors for paired comparisons (:mod:`handkit.comparison`). Arguments as there."""
    run = load_run(folder)
    config = run.config
    if config.dataset != "synthetic" and (data is not None or train_videos is not None):
        raise ValueError(f"data= and train_videos= apply to synthetic runs; this run trained on "
                         f"{config.dataset!r} (its data_root is in its config)")
    results = {}
    for split in splits:
        reader = (open_reader(config, split) if data is None  # the run's own data set
                  else VideoDataset(data, split, label_every=config.label_every))
        if split == "train" and train_videos is not None:  # a synthetic set (checked above)
            reader = VideoDataset(reader.root, split, label_every=config.label_every,
                                  videos=reader.video_ids[:train_videos])
        transform = input_transform(config, reader, training=False)
        predictors = {which: getattr(run, which) for which in ("baseline", "control", "predictor")
                      if getattr(run, which) is not None}
        modes = {which: [m for _, w, m in ROWS if w == which] for which in predictors}
        # one pass over the split: each video read and its ground truth decoded once for all
        results[split] = evaluate_predictors(reader, predictors, run.aligner, modes,
                                             transform=transform, vertices=vertices,
                                             progress=progress)
    return results


def table1_rows(results: dict[str, dict[str, EvaluationResult]], *, seed: int
                ) -> tuple[list[dict], list[dict]]:
    """The rows of :func:`evaluate_run` from :func:`evaluate_run_results`' results, in the
    paper's row order."""
    rows, by_distance = [], []
    for split, by_predictor in results.items():
        for _, which, mode in ROWS:
            if which in by_predictor:
                row, distance = result_rows(by_predictor[which], seed=seed, split=split,
                                            predictor=which, modes=[mode])
                rows += row
                by_distance += distance
    return rows, by_distance


def bin_mpjpe(row: dict) -> float | None:
    """A distance row's MPJPE (:func:`evaluate_run`), None for a bin without frames (no frame
    is 32-64 frames from a label when K = 16): JSON and plotly widgets take None, not NaN."""
    value = float(row["mpjpe"])
    return value if row["frames"] > 0 and math.isfinite(value) else None


def run_table1(setting: Table1Setting, out: str | Path, *, seeds: Sequence[int] | None = None,
               cache: str | Path | None = None, progress: bool = True) -> Table1Result:
    """Generate (or reuse) the data, train each seed (or resume/reuse), evaluate, save.

    Args:
        setting: one of :data:`SETTINGS` (or your own).
        out: results folder; each seed trains into ``out/seed<k>``.
        seeds: instead of the setting's seeds.
        cache: where generated data sets are kept (default: ``runs/cache`` next to ``out``).
        progress: progress bars.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setting = replace(setting, seeds=tuple(seeds)) if seeds else setting
    result = Table1Result(setting)
    began = time.perf_counter()
    data = dataset_for(setting, Path(cache) if cache else out.parent / "cache", progress=progress)
    result.seconds["data"] = time.perf_counter() - began
    for seed in setting.seeds:
        folder = out / f"seed{seed}"
        began = time.perf_counter()
        _train_seed(train_config(setting, data, seed), folder, progress=progress)
        result.seconds[f"train seed {seed}"] = time.perf_counter() - began
        stages = json.loads((folder / "run.json").read_text())["seconds_this_call"]
        result.seconds.update({f"  seed {seed} {k}": v for k, v in stages.items()})
        began = time.perf_counter()
        rows, distance = evaluate_run(folder, data=data, train_videos=setting.train_videos,
                                      vertices=setting.vertices, progress=progress)
        result.rows += rows
        result.distance_rows += distance
        result.seconds[f"evaluate seed {seed}"] = time.perf_counter() - began
    save_results(result, out)
    return result


@command("experiment table1")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit experiment table1``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m handkit experiment table1",
                                     description="The synthetic Table I (train, evaluate, report).")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", help="instead of the setting's seeds")
    parser.add_argument("--out", type=Path, help="results folder (default runs/table1-SETTING, "
                        "plus -RECIPE for a recipe other than paper)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--precision", choices=PRECISIONS, help="training's --precision "
                        "(default: the setting's, fp32)")
    parser.add_argument("--compile", action="store_true", help="training's --compile true")
    parser.add_argument("--recipe", choices=list(RECIPES),
                        help="training recipe: paper (Eqs. 3-7 as written) or anchored "
                             "(default: anchored for --setting full, paper otherwise)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    args.recipe = args.recipe or default_recipe(args.setting)
    if args.seeds and min(args.seeds) < 0:
        raise InputError(f"--seeds must be integers >= 0, got {args.seeds}")
    suffix = "" if args.recipe == "paper" else f"-{args.recipe}"
    out = check_output_folder(args.out or Path("runs") / f"table1-{args.setting}{suffix}",
                              "--out")
    began = time.perf_counter()
    setting = SETTINGS[args.setting]
    extra = {"precision": args.precision} if args.precision else {}
    setting = replace(setting, recipe=args.recipe, train={**setting.train, **extra, **(
        {"compile": True} if args.compile else {})})
    result = run_table1(setting, out, seeds=args.seeds, progress=not args.quiet)
    print(format_report(result))
    print(f"\n{time.perf_counter() - began:.0f} s; results in {out}", file=sys.stderr)
    return 0


def export_sample_checkpoint(out: str | Path = SAMPLE_CHECKPOINT, *, runs: str | Path = "runs",
                             seed: int = 0, progress: bool = True) -> Path:
    """The checkpoint shipped in ``data_samples/``: the full Table I setting's run of ``seed``
    (trained first if ``runs/table1-full`` does not hold it), its final Hand Predictor and Pose
    Aligner in float16 (:func:`handkit.train.export.export_weights`), described by how its data
    were generated and the run's own Table I rows (Baseline and Control included)."""
    from handkit.train.export import export_weights

    setting = SETTINGS["full"]
    folder = Path(runs) / "table1-full"
    rows, distance = saved_rows(folder, setting, seed)
    if not rows:  # train (or reuse) and evaluate
        result = run_table1(setting, folder, seeds=[seed], progress=progress)
        rows = [r for r in result.rows if r["seed"] == seed]
        distance = [r for r in result.distance_rows if r["seed"] == seed]
    extra = {"made_by": f"python -m handkit experiment sample-checkpoint --seed {seed}",
             "setting": asdict(replace(setting, seeds=(seed,))), "table1_rows": rows,
             "table1_distance_rows": distance}
    return export_weights(folder / f"seed{seed}", out, extra=extra)


@command("experiment sample-checkpoint")
def sample_checkpoint_main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit experiment sample-checkpoint``: see :func:`export_sample_checkpoint`."""
    parser = argparse.ArgumentParser(
        prog="python -m handkit experiment sample-checkpoint",
        description="Train (or reuse) the full Table I run of one seed and write its weights "
                    f"to {SAMPLE_CHECKPOINT} (float16, about 25 MB).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=SAMPLE_CHECKPOINT)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--precision", choices=PRECISIONS, help="training's --precision "
                        "(default: the setting's, fp32)")
    parser.add_argument("--compile", action="store_true", help="training's --compile true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    check_output_folder(args.out.parent, "the folder of --out")
    check_output_folder(Path("runs"), "the runs folder")
    path = export_sample_checkpoint(args.out, seed=args.seed, progress=not args.quiet)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def unseen_videos(data: dict[str, Any], *, num_videos: int = 2, seed: int = 1000,
                  cache: str | Path = Path("runs") / "cache", progress: bool = False) -> Path:
    """A few new videos made like a setting's (``data``: its generator arguments, e.g. a shipped
    checkpoint's ``info["setting"]["data"]``) but from another seed, so no model trained on the
    setting has seen them; generated once and cached. Read them with ``VideoDataset(path)``."""
    values = {**data, "num_videos": num_videos, "seed": seed, "val_fraction": 0.0,
              "test_fraction": 0.0}
    setting = Table1Setting(name="unseen", data=values, train={}, seeds=(), train_videos=0)
    return dataset_for(setting, Path(cache), progress=progress)
