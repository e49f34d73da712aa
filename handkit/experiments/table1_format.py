"""Table I rows and their printed form: which method each row is, the rows of an evaluation
result, the printed table and report. :mod:`handkit.experiments.table1` runs the experiment and
re-exports these names.

A row is a dict ``{"seed", "split", "method", "frames", <metric keys>, "mpjpe_ci_low",
"mpjpe_ci_high"}``; a distance row is ``{"seed", "split", "method", "distance", "frames",
"mpjpe", "ci_low", "ci_high"}``: the intervals are 95 % bootstrap intervals over the evaluated
videos (:mod:`handkit.bootstrap`; results saved before they existed have none, and print
without). :func:`result_rows` makes both
from an :class:`~handkit.evaluation.EvaluationResult`, naming each row's method itself, so no
key of the result can overwrite it. The printed table (:func:`format_table`) and the figure
(:func:`handkit.viz.results.table1_figure`) list every method their rows hold: the rows of
:data:`ROWS` in the paper's order, then any other method in the order it first appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from handkit.bootstrap import video_bootstrap
from handkit.data.datasets import DATASET_DEFAULTS, TABLE1_COLUMNS
from handkit.inference import MODE_TITLES
from handkit.metrics import METRIC_KEYS

if TYPE_CHECKING:
    from handkit.evaluation import EvaluationResult
    from handkit.experiments.table1 import Table1Result

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
    ("Fused + Interpolation", "predictor", "fused-interp"),
)
#: Table I name of each inference mode run with the final (aligned) predictor.
MODE_NAMES = {mode: name for name, which, mode in ROWS if which == "predictor"}
#: Width of the method column in printed tables.
NAME_WIDTH = max(len(name) for name, _, _ in ROWS) + 2


def method_name(mode: str, predictor: str = "predictor") -> str:
    """The Table I name of ``mode`` run with ``predictor`` ("baseline", "control" or
    "predictor"); a pair :data:`ROWS` lacks gets the mode's title.

    >>> method_name("copy"), method_name("regression", "baseline")
    ('Copy nearest label', 'Baseline')
    """
    names = {(which, m): name for name, which, m in ROWS}
    return names.get((predictor, mode), MODE_TITLES.get(mode, mode))


def result_rows(result: EvaluationResult, *, seed: int = 0, split: str = "test",
                predictor: str = "predictor", modes: Sequence[str] | None = None
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Table I rows of one :func:`~handkit.evaluation.evaluate_split` result, ready for
    :func:`format_table` and :func:`~handkit.viz.results.table1_figure`.

    Args:
        result: what ``evaluate_split`` returned.
        seed, split: written into every row.
        predictor: which predictor ``result`` evaluated ("baseline", "control", "predictor"):
            names the rows (:func:`method_name`).
        modes: the modes to keep (default: every mode of ``result``, in its order).
    Returns:
        (rows: one per mode, distance rows: one per mode and distance bin); every row's
        ``method`` is the mode's own name.
    """
    rows, by_distance = [], []
    frames = result.frames
    for mode in result.modes if modes is None else modes:
        name = method_name(mode, predictor)
        metrics = {key: result.overall[mode][key] for key in METRIC_KEYS}
        everywhere = np.ones(len(frames.frame), dtype=bool)
        rows.append({"seed": seed, "split": split, "method": name,
                     "frames": result.num_frames, **metrics,
                     **_interval(frames, mode, everywhere, "mpjpe_ci")})
        for (low, high), count, value in zip(result.bins, result.bin_counts,
                                             result.by_distance[mode], strict=True):
            in_bin = (frames.distance >= low) & (frames.distance <= high)
            by_distance.append({"seed": seed, "split": split, "method": name,
                                "distance": f"{low}-{high}", "frames": count, "mpjpe": value,
                                **_interval(frames, mode, in_bin, "ci")})
    return rows, by_distance


def _interval(frames, mode: str, mask: np.ndarray, prefix: str) -> dict[str, float | None]:
    """``<prefix>_low`` and ``<prefix>_high``: the 95 % bootstrap interval of the MPJPE of
    ``mode`` on the frames in ``mask``, over videos (:func:`handkit.bootstrap.video_bootstrap`);
    None with frames of fewer than two videos (nothing to resample)."""
    if len(np.unique(frames.video[mask])) < 2:
        return {f"{prefix}_low": None, f"{prefix}_high": None}
    low, high = video_bootstrap(frames.mpjpe(mode)[mask], frames.video[mask],
                                weights=frames.joints[mask])
    return {f"{prefix}_low": low, f"{prefix}_high": high}


def method_order(rows: Sequence[dict]) -> list[str]:
    """Every method of ``rows``: those of :data:`ROWS` in the paper's order, then the others
    in the order they first appear (so a printed table or a figure never drops one).

    >>> method_order([{"method": "Mine"}, {"method": "Propagation"}, {"method": "Baseline"}])
    ['Baseline', 'Propagation', 'Mine']
    """
    present = list(dict.fromkeys(r["method"] for r in rows))
    known = [name for name, _, _ in ROWS if name in present]
    return known + [name for name in present if name not in known]


def _cell(value: float | None, key: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.3f}" if key.startswith("f") else f"{value:.1f}"


def format_table(rows: Sequence[dict], distance_rows: Sequence[dict], *, title: str
                 ) -> list[str]:
    """Printed Table I: per split the paper's columns (means over seeds; each seed's MPJPE when
    there are several), then test MPJPE by distance to the nearest label. Every method of the
    rows is printed (:func:`method_order`)."""
    seeds = sorted({r["seed"] for r in rows})
    width = max([NAME_WIDTH] + [len(m) + 2 for m in method_order(rows)])
    header = _header("method", width)
    intervals = all(r.get("mpjpe_ci_low") is not None for r in rows)
    if intervals:
        header += f"{'MPJPE 95 % CI':>16}"
    if len(seeds) > 1:
        header += "".join(f"{'seed ' + str(s):>9}" for s in seeds)
    lines = [title, ""]
    for split in dict.fromkeys(r["split"] for r in rows):
        lines += [f"{split} videos", header]
        for name in method_order(rows):
            mine = [r for r in rows if r["method"] == name and r["split"] == split]
            if not mine:
                continue
            cells = [_cell(_mean_of(mine, key), key) for key in COLUMNS]
            line = f"{name:<{width}}" + "".join(f"{c:>11}" for c in cells)
            if intervals:
                line += f"{_interval_text(mine, 'mpjpe_ci'):>16}"
            if len(seeds) > 1:
                line += "".join(f"{_mean_of([r for r in mine if r['seed'] == s], 'mpjpe'):>9.1f}"
                                for s in seeds)
            lines.append(line)
        lines.append("")
    return lines + _distance_lines(distance_rows, width) + [""]


def _interval_text(rows: Sequence[dict], prefix: str) -> str:
    """``[low, high]`` of one seed's row; over several seeds, the lowest low and highest high
    (the interval of any seed)."""
    lows = [r[f"{prefix}_low"] for r in rows if r.get(f"{prefix}_low") is not None]
    highs = [r[f"{prefix}_high"] for r in rows if r.get(f"{prefix}_high") is not None]
    return f"[{min(lows):.1f}, {max(highs):.1f}]" if lows else "-"


def _mean_of(rows: Sequence[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.mean(values)) if values else None


def _distance_lines(distance_rows: Sequence[dict], width: int) -> list[str]:
    test = [r for r in distance_rows if r["split"] == "test"] or list(distance_rows)
    bins = list(dict.fromkeys(r["distance"] for r in test))
    lines = [f"{test[0]['split']} MPJPE by distance to the nearest label |u - N(u)| (frames)",
             f"{'method':<{width}}" + "".join(f"{b:>11}" for b in bins)]
    intervals = all(r.get("ci_low") is not None or not r["frames"] for r in test)
    cell = 24 if intervals else 11
    lines[-1] = f"{'method':<{width}}" + "".join(f"{b:>{cell}}" for b in bins)
    for name in method_order(test):
        mine = [[r for r in test if r["method"] == name and r["distance"] == b] for b in bins]
        values = [[r["mpjpe"] for r in c] for c in mine]
        means = [float(np.nanmean(v)) if v and not np.all(np.isnan(v)) else float("nan")
                 for v in values]
        texts = [_cell(m, "mpjpe") + (f" {_interval_text(c, 'ci')}" if intervals and c and
                                      c[0]["frames"] else "")
                 for m, c in zip(means, mine, strict=True)]
        lines.append(f"{name:<{width}}" + "".join(f"{t:>{cell}}" for t in texts))
    counts = [next(r["frames"] for r in test if r["distance"] == b) for b in bins]
    return lines + [f"{'(frames)':<{width}}" + "".join(f"{c:>{cell}}" for c in counts)]


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


def format_report(result: Table1Result) -> str:
    """The table per split (mean over seeds, and each seed's MPJPE), the distance breakdown,
    the paper's Table I beside it, and what the numbers say about the main claims."""
    seeds = result.setting.seeds
    title = (f"Synthetic Table I ({result.setting.name}; seeds {list(seeds)}; unlabelled "
             f"frames; mm, F in [0, 1])")
    lines = format_table(result.rows, result.distance_rows, title=title)
    return "\n".join(lines + _paper_lines(NAME_WIDTH) + [""] + claims(result)
                     + [""] + time_lines(result.seconds))


def time_lines(seconds: dict[str, float]) -> list[str]:
    """Where the time went: data, each seed's training (and its stages) and evaluation."""
    if not seconds:
        return []
    total = sum(v for k, v in seconds.items() if not k.startswith(" "))
    lines = [f"Time (wall, s): {total:.0f} in all"]
    for name, value in seconds.items():
        share = "" if name.startswith(" ") else f" ({100 * value / max(total, 1e-9):.0f} %)"
        lines.append(f"  {name:<24s} {value:8.1f}{share}")
    return lines


def _seed_spread(result: Table1Result) -> str:
    """How much Baseline moves over the seeds, or that one seed has no spread to report."""
    seeds = result.setting.seeds
    if len(seeds) < 2:
        return (f"one seed ({seeds[0]}), so no spread over seeds to report (--seeds 0 1 "
                f"measures it)")
    spread = [result.value("Baseline", seed=s) for s in seeds]
    return f"Baseline itself spans {max(spread) - min(spread):.1f} mm over seeds"


def supported(rows: Sequence[dict], first: str, second: str) -> str | None:
    """Which of two methods is lower on the test videos where the intervals say so: the lower
    one's MPJPE interval lies below the other's MPJPE on every seed (the same method on each);
    None where they do not (or the rows carry no intervals)."""
    test = [r for r in rows if r["split"] == "test"]
    winners = set()
    for seed in {r["seed"] for r in test}:
        a, b = (next((r for r in test if r["seed"] == seed and r["method"] == m), None)
                for m in (first, second))
        if a is None or b is None or a.get("mpjpe_ci_high") is None \
                or b.get("mpjpe_ci_high") is None:
            return None
        low, high = (a, b) if a["mpjpe"] < b["mpjpe"] else (b, a)
        if low["mpjpe_ci_high"] >= high["mpjpe"]:
            return None
        winners.add(low["method"])
    return winners.pop() if len(winners) == 1 else None


def _support(result: Table1Result, first: str, second: str) -> str:
    if not all(r.get("mpjpe_ci_high") is not None for r in result.rows):
        return ""
    lower = supported(result.rows, first, second)
    return (f"; {lower} is lower beyond the intervals" if lower
            else "; within the intervals: no difference claimed")


def claims(result: Table1Result) -> list[str]:
    """The paper's main result and the kit's aims, checked on the test videos (MPJPE)."""
    test = {name: result.value(name) for name in method_order(result.rows)
            if any(r["method"] == name and r["split"] == "test" for r in result.rows)}
    base, prop = test["Baseline"], test["Propagation"]
    lines = ["Claims on the test videos (MPJPE, mean over seeds; a difference is called out "
             "only where, on every seed, the lower method's 95 % interval lies below the other's "
             "mean):",
             f"  Propagation vs Baseline: {prop:.1f} vs {base:.1f} mm, "
             f"{100 * (base - prop) / base:.1f} % lower (paper: 44.0 vs 65.5, 32.8 % lower)"
             f"{_support(result, 'Propagation', 'Baseline')}",
             f"  Propagation vs Copy nearest label: {prop:.1f} vs {test['Copy nearest label']:.1f}"
             f" mm{_support(result, 'Propagation', 'Copy nearest label')}",
             f"  Propagation vs Interpolation: {prop:.1f} vs "
             f"{test['Interpolation']:.1f} mm (interpolation uses two labels, propagation one)"
             f"{_support(result, 'Propagation', 'Interpolation')}"]
    if "Control" in test:
        gains = [result.value("Control", seed=s) - result.value("Baseline + Align", seed=s)
                 for s in result.setting.seeds]
        per_seed = ", ".join(f"{g:+.1f}" for g in gains)
        lines.append(f"  Baseline + Align vs Control (same extra training, no aligner): "
                     f"{test['Baseline + Align']:.1f} vs {test['Control']:.1f} mm; per seed "
                     f"the control minus Baseline + Align is {per_seed} mm; "
                     f"{_seed_spread(result)} (paper's gain over Baseline: 2.5 mm)")
    return lines
