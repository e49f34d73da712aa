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
and ``report.txt`` (the table printed with the paper's numbers beside it).
"""

from __future__ import annotations

import argparse
import csv
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

from handkit.data.datasets import DATASET_DEFAULTS, TABLE1_COLUMNS
from handkit.data.synth_params import SynthParams
from handkit.data.synthetic import generate_dataset
from handkit.data.video_format import INDEX_FILE, VideoDataset
from handkit.errors import InputError, check_output_folder, command
from handkit.evaluation import evaluate_split, table_rows
from handkit.metrics import METRIC_KEYS
from handkit.train import TrainConfig, input_transform, load_run, open_reader, train
from handkit.train.checkpoint import FINAL

#: Paper, Table I (Sec. V-C): test rows, mm (F-scores in [0, 1]), by data set title; the numbers
#: live in :data:`handkit.data.datasets.DATASET_DEFAULTS`.
PAPER_TABLE1 = {defaults.title: dict(defaults.paper_table1["test"])
                for defaults in DATASET_DEFAULTS.values() if defaults.paper_table1}
#: The paper's column order (Table I) as :mod:`handkit.metrics` keys.
COLUMNS = TABLE1_COLUMNS
COLUMN_TITLES = ("F@5", "F@15", "MPVPE", "MPVPE (P)", "MPJPE", "MPJPE (T)", "MPJPE (SD)",
                 "MPJPE (P)")
#: Table I rows: (row name, which trained predictor, inference mode).
ROWS = (
    ("Baseline", "baseline", "regression"),
    ("Baseline + Align", "predictor", "regression"),
    ("Control", "control", "regression"),
    ("Propagation", "predictor", "propagation"),
    ("Copy nearest label", "predictor", "copy"),
    ("Interpolation", "predictor", "interpolation"),
    ("Bidirectional", "predictor", "bidirectional"),
    ("Gated", "predictor", "gated"),
    ("Fused", "predictor", "fused"),
)


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
    """

    name: str
    data: dict[str, Any]
    train: dict[str, Any]
    seeds: tuple[int, ...]
    train_videos: int
    vertices: bool = True


#: Hand motion of the Table I videos: motion key poses 40-100 frames apart (the generator's
#: default, 20-50, moves the hand so fast that a label 30 frames away is rarely informative,
#: and 60-150 so slowly that interpolating two labels is as good as anything; see README).
TABLE1_KEY_GAP = [40, 100]

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
    """The training config of one seed (what its run folder's ``config.json`` holds)."""
    return TrainConfig.from_dict({**setting.train, "data": str(data), "seed": seed})


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
    run = load_run(folder)
    config = run.config
    if config.dataset != "synthetic" and (data is not None or train_videos is not None):
        raise ValueError(f"data= and train_videos= apply to synthetic runs; this run trained on "
                         f"{config.dataset!r} (its data_root is in its config)")
    seed = config.seed if seed is None else seed
    rows, by_distance = [], []
    for split in splits:
        reader = (open_reader(config, split) if data is None  # the run's own data set
                  else VideoDataset(data, split, label_every=config.label_every))
        if split == "train" and train_videos is not None:  # a synthetic set (checked above)
            reader = VideoDataset(reader.root, split, label_every=config.label_every,
                                  videos=reader.video_ids[:train_videos])
        transform = input_transform(config, reader, training=False)
        results = {}
        for which in ("baseline", "control", "predictor"):
            predictor = getattr(run, which)
            if predictor is None:
                continue
            modes = [m for _, w, m in ROWS if w == which]
            results[which] = evaluate_split(reader, predictor, run.aligner, modes=modes,
                                            transform=transform, vertices=vertices,
                                            progress=progress)
        for name, which, mode in ROWS:
            if which not in results:
                continue
            result = results[which]
            table = {row["mode"]: row for row in table_rows(result)}[mode]
            rows.append({"seed": seed, "split": split, "method": name, "frames": table["frames"],
                         **{key: table[key] for key in METRIC_KEYS}})
            for (low, high), count, value in zip(result.bins, result.bin_counts,
                                                 result.by_distance[mode], strict=True):
                by_distance.append({"seed": seed, "split": split, "method": name,
                                    "distance": f"{low}-{high}", "frames": count,
                                    "mpjpe": value})
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
        began = time.perf_counter()
        rows, distance = evaluate_run(folder, data=data, train_videos=setting.train_videos,
                                      vertices=setting.vertices, progress=progress)
        result.rows += rows
        result.distance_rows += distance
        result.seconds[f"evaluate seed {seed}"] = time.perf_counter() - began
    save_results(result, out)
    return result


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


def _cell(value: float | None, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.3f}" if key.startswith("f") else f"{value:.1f}"


def format_report(result: Table1Result) -> str:
    """The table per split (mean over seeds, and each seed's MPJPE), the distance breakdown,
    the paper's Table I beside it, and what the numbers say about the main claims."""
    seeds = result.setting.seeds
    title = (f"Synthetic Table I ({result.setting.name}; seeds {list(seeds)}; unlabelled "
             f"frames; mm, F in [0, 1])")
    lines = format_table(result.rows, result.distance_rows, title=title)
    return "\n".join(lines + _paper_lines(NAME_WIDTH) + [""] + claims(result))


#: Width of the method column in printed tables.
NAME_WIDTH = max(len(name) for name, _, _ in ROWS) + 2


def format_table(rows: Sequence[dict], distance_rows: Sequence[dict], *, title: str
                 ) -> list[str]:
    """Printed Table I: per split the paper's columns (means over seeds; each seed's MPJPE when
    there are several), then test MPJPE by distance to the nearest label."""
    seeds = sorted({r["seed"] for r in rows})
    width = NAME_WIDTH
    header = _header("method", width)
    if len(seeds) > 1:
        header += "".join(f"{'seed ' + str(s):>9}" for s in seeds)
    lines = [title, ""]
    for split in dict.fromkeys(r["split"] for r in rows):
        lines += [f"{split} videos", header]
        for name, _, _ in ROWS:
            mine = [r for r in rows if r["method"] == name and r["split"] == split]
            if not mine:
                continue
            cells = [_cell(_mean_of(mine, key), key) for key in COLUMNS]
            line = f"{name:<{width}}" + "".join(f"{c:>11}" for c in cells)
            if len(seeds) > 1:
                line += "".join(f"{_mean_of([r for r in mine if r['seed'] == s], 'mpjpe'):>9.1f}"
                                for s in seeds)
            lines.append(line)
        lines.append("")
    return lines + _distance_lines(distance_rows, width) + [""]


def _mean_of(rows: Sequence[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.mean(values)) if values else None


def _distance_lines(distance_rows: Sequence[dict], width: int) -> list[str]:
    test = [r for r in distance_rows if r["split"] == "test"] or list(distance_rows)
    bins = list(dict.fromkeys(r["distance"] for r in test))
    lines = [f"{test[0]['split']} MPJPE by distance to the nearest label |u - N(u)| (frames)",
             f"{'method':<{width}}" + "".join(f"{b:>11}" for b in bins)]
    for name, _, _ in ROWS:
        cells = [[r["mpjpe"] for r in test if r["method"] == name and r["distance"] == b]
                 for b in bins]
        if any(cells):
            values = [float(np.nanmean(c)) if c and not np.all(np.isnan(c)) else float("nan")
                      for c in cells]
            lines.append(f"{name:<{width}}" + "".join(f"{_cell(v, 'mpjpe'):>11}" for v in values))
    counts = [next(r["frames"] for r in test if r["distance"] == b) for b in bins]
    return lines + [f"{'(frames)':<{width}}" + "".join(f"{c:>11}" for c in counts)]


def _header(first: str, width: int) -> str:
    return f"{first:<{width}}" + "".join(f"{t:>11}" for t in COLUMN_TITLES)


def _paper_row(name: str, values: Sequence[float], width: int) -> str:
    """One of the paper's rows: ``values`` in :data:`COLUMNS` order."""
    return f"{name:<{width}}" + "".join(f"{_cell(v, k):>11}"
                                        for v, k in zip(values, COLUMNS, strict=True))


def _paper_lines(width: int) -> list[str]:
    lines = ["The paper's Table I, test rows (real data, K = 128), for reference"]
    for dataset, rows in PAPER_TABLE1.items():
        lines.append(_header(dataset, width))
        lines += [_paper_row(f"  {name}", values, width) for name, values in rows.items()]
    return lines


def paper_rows_lines(dataset: str, split: str) -> list[str]:
    """The paper's Table I rows of ``dataset`` ("ho3d", "interhand") and ``split``, printed to
    sit below a run's own rows (empty for the synthetic set, or a split Table I lacks)."""
    if dataset == "synthetic" or split not in ("test", "train"):
        return []
    title = DATASET_DEFAULTS[dataset].title
    lines = [f"The paper's Table I, {title}, {split} videos (K = 128), beside yours",
             _header("method", NAME_WIDTH)]
    lines += [_paper_row(name, values, NAME_WIDTH)
              for name, values in DATASET_DEFAULTS[dataset].paper_table1[split].items()]
    return lines + [""]


def claims(result: Table1Result) -> list[str]:
    """The paper's main result and the kit's aims, checked on the test videos (MPJPE)."""
    test = {name: result.value(name) for name, _, _ in ROWS
            if any(r["method"] == name and r["split"] == "test" for r in result.rows)}
    base, prop = test["Baseline"], test["Propagation"]
    lines = ["Claims on the test videos (MPJPE, mean over seeds):",
             f"  Propagation vs Baseline: {prop:.1f} vs {base:.1f} mm, "
             f"{100 * (base - prop) / base:.1f} % lower (paper: 44.0 vs 65.5, 32.8 % lower)",
             f"  Propagation vs Copy nearest label: {prop:.1f} vs {test['Copy nearest label']:.1f}"
             f" mm", f"  Propagation vs Interpolation: {prop:.1f} vs "
             f"{test['Interpolation']:.1f} mm (interpolation uses two labels, propagation one)"]
    if "Control" in test:
        gains = [result.value("Control", seed=s) - result.value("Baseline + Align", seed=s)
                 for s in result.setting.seeds]
        spread = [result.value("Baseline", seed=s) for s in result.setting.seeds]
        per_seed = ", ".join(f"{g:+.1f}" for g in gains)
        lines.append(f"  Baseline + Align vs Control (same extra training, no aligner): "
                     f"{test['Baseline + Align']:.1f} vs {test['Control']:.1f} mm; per seed "
                     f"the control minus Baseline + Align is {per_seed} mm; Baseline itself "
                     f"spans {max(spread) - min(spread):.1f} mm over seeds (paper's gain over "
                     f"Baseline: 2.5 mm)")
    return lines


@command("experiment table1")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit experiment table1``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m handkit experiment table1",
                                     description="The synthetic Table I (train, evaluate, report).")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", help="instead of the setting's seeds")
    parser.add_argument("--out", type=Path, help="results folder (default runs/table1-SETTING)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.seeds and min(args.seeds) < 0:
        raise InputError(f"--seeds must be integers >= 0, got {args.seeds}")
    out = check_output_folder(args.out or Path("runs") / f"table1-{args.setting}", "--out")
    began = time.perf_counter()
    result = run_table1(SETTINGS[args.setting], out, seeds=args.seeds, progress=not args.quiet)
    print(format_report(result))
    print(f"\n{time.perf_counter() - began:.0f} s; results in {out}", file=sys.stderr)
    return 0


#: Where the shipped checkpoint lives, relative to the repository root.
SAMPLE_CHECKPOINT = Path("data_samples") / "checkpoint" / "table1_full_seed0.npz"


def export_sample_checkpoint(out: str | Path = SAMPLE_CHECKPOINT, *, runs: str | Path = "runs",
                             seed: int = 0, progress: bool = True) -> Path:
    """The checkpoint shipped in ``data_samples/``: the full Table I setting's run of ``seed``
    (trained first if ``runs/table1-full`` does not hold it), its final Hand Predictor and Pose
    Aligner in float16 (:func:`handkit.train.export.export_weights`), described by how its data
    were generated and the run's own Table I rows (Baseline and Control included)."""
    from handkit.train.export import export_weights

    setting = SETTINGS["full"]
    folder = Path(runs) / "table1-full"
    rows, distance = _saved_rows(folder, setting, seed)
    if not rows:  # train (or reuse) and evaluate
        result = run_table1(setting, folder, seeds=[seed], progress=progress)
        rows = [r for r in result.rows if r["seed"] == seed]
        distance = [r for r in result.distance_rows if r["seed"] == seed]
    extra = {"made_by": f"python -m handkit experiment sample-checkpoint --seed {seed}",
             "setting": asdict(replace(setting, seeds=(seed,))), "table1_rows": rows,
             "table1_distance_rows": distance}
    return export_weights(folder / f"seed{seed}", out, extra=extra)


def sample_checkpoint_path() -> Path:
    """The shipped checkpoint in this handkit repository (``data_samples/checkpoint``)."""
    path = Path(__file__).resolve().parents[1] / SAMPLE_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"expected the shipped checkpoint at {path}; make it with "
                                "python -m handkit experiment sample-checkpoint")
    return path


def _saved_rows(folder: Path, setting: Table1Setting, seed: int) -> tuple[list, list]:
    """The rows of ``seed`` that ``folder/results.json`` holds for this setting (else empty)."""
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
