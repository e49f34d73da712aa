"""What handkit knows of each data set: its d_off (Fig. 2), crop size, label spacing K and the
paper's Table I rows (:data:`DATASET_DEFAULTS`), so a notebook prints them beside its own
results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DATASET_NAMES = ("synthetic", "ho3d", "interhand")
#: Table I's columns (the paper's order) as :mod:`handkit.metrics` keys.
TABLE1_COLUMNS = ("f5", "f15", "mpvpe", "mpvpe_p", "mpjpe", "mpjpe_t", "mpjpe_sd", "mpjpe_p")


def _rows(*rows: tuple) -> dict[str, tuple[float, ...]]:
    return {name: tuple(values) for name, *values in rows}


@dataclass(frozen=True)
class DatasetDefaults:
    """What handkit uses for one data set unless told otherwise.

    Attributes:
        title: the set's name in the paper or the docs.
        d_off_mm: d_off of Fig. 2, mm: the predictor's wrist depth at zero output
            (d_z = f d_f + d_off); a typical wrist depth of the set.
        d_off_reason: where ``d_off_mm`` comes from (printable).
        image_size: the crop side S the networks see; None: the set's frames as they are.
        label_every: K of S_V (None: the set's own, ``index.json``).
        root_env: environment variable :func:`open_dataset` reads when ``root`` is None.
        paper_table1: the paper's Table I (K = 128, unlabelled frames) for this set:
            split ("test", "train") -> row ("Baseline", "Baseline + Align", "Propagation") ->
            the 8 values in :data:`TABLE1_COLUMNS` order (mm; F-scores in [0, 1]). Empty for
            the synthetic set.
    """

    title: str
    d_off_mm: float
    d_off_reason: str
    image_size: int | None
    label_every: int | None
    root_env: str | None
    paper_table1: Mapping[str, Mapping[str, tuple[float, ...]]] = field(default_factory=dict)


#: Per-data-set defaults (see :class:`DatasetDefaults`). Table I values: paper, Sec. V-C.
DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    "synthetic": DatasetDefaults(
        title="handkit synthetic videos",
        d_off_mm=500.0,
        d_off_reason="the generator's wrists lie 300-720 mm away, 517 mm on average",
        image_size=None,
        label_every=None,
        root_env=None,
    ),
    "ho3d": DatasetDefaults(
        title="Mini-HO-3D",
        d_off_mm=400.0,
        d_off_reason="Hasson et al.'s code (handobjectconsist, meshreg/models/project.py: "
                     "recover_3d_proj(..., off_z=0.4) in metres), whose hand branch the paper's "
                     "baseline is",
        image_size=128,
        label_every=128,
        root_env="HANDKIT_HO3D_ROOT",
        paper_table1={
            "test": _rows(
                ("Baseline", 0.483, 0.944, 64.813, 10.688, 65.507, 39.424, 46.351, 10.892),
                ("Baseline + Align", 0.459, 0.940, 62.337, 11.105, 63.013, 40.169, 45.275,
                 11.272),
                ("Propagation", 0.677, 0.977, 43.083, 7.825, 44.014, 39.723, 38.426, 7.681),
            ),
            "train": _rows(
                ("Baseline", 0.666, 0.980, 25.577, 7.508, 25.610, 21.173, 20.011, 7.523),
                ("Baseline + Align", 0.662, 0.979, 25.891, 7.587, 25.957, 22.544, 20.487,
                 7.565),
                ("Propagation", 0.666, 0.978, 27.169, 7.820, 27.232, 23.785, 21.766, 7.613),
            ),
        },
    ),
    "interhand": DatasetDefaults(
        title="Mini-InterHand",
        d_off_mm=1100.0,
        d_off_reason="InterHand2.6M's cameras stand about 1.1 m from the hands: in the four "
                     "real annotation samples mmpose ships (tests/data/interhand2.6m; 4 "
                     "captures, 4 cameras) the wrists lie 1072-1160 mm from the camera; check "
                     "yours with np.median(labelled_root_depths_mm(reader))",
        image_size=128,
        label_every=128,
        root_env="HANDKIT_INTERHAND_ROOT",
        paper_table1={
            "test": _rows(
                ("Baseline", 0.457, 0.935, 40.349, 10.490, 41.282, 26.291, 21.555, 11.914),
                ("Baseline + Align", 0.465, 0.937, 39.257, 10.353, 40.242, 23.270, 20.300,
                 11.821),
                ("Propagation", 0.573, 0.938, 20.480, 9.646, 22.153, 19.981, 18.288, 11.837),
            ),
            "train": _rows(
                ("Baseline", 0.573, 0.958, 14.060, 8.382, 15.116, 13.981, 12.006, 9.887),
                ("Baseline + Align", 0.584, 0.958, 13.812, 8.325, 14.943, 13.689, 11.765,
                 9.908),
                ("Propagation", 0.666, 0.960, 13.552, 7.688, 15.393, 13.823, 12.383, 10.278),
            ),
        },
    ),
}


def check_dataset_name(name: str) -> DatasetDefaults:
    """The defaults of data set ``name``; ValueError naming the known sets for another name."""
    if name not in DATASET_NAMES:
        raise ValueError(f"dataset must be one of {DATASET_NAMES}, got {name!r}")
    return DATASET_DEFAULTS[name]


def paper_table1(name: str, split: str = "test") -> dict[str, dict[str, float]]:
    """The paper's Table I rows for data set ``name`` and ``split`` ("test" or "train"):
    row -> column (:data:`TABLE1_COLUMNS`) -> value; empty for the synthetic set.

    >>> paper_table1("ho3d")["Propagation"]["mpjpe"]
    44.014
    """
    defaults = check_dataset_name(name)
    if split not in ("test", "train"):
        raise ValueError(f"Table I has 'test' and 'train' rows, got split {split!r}")
    rows = defaults.paper_table1.get(split, {})
    return {row: dict(zip(TABLE1_COLUMNS, values, strict=True)) for row, values in rows.items()}


__all__ = ["DATASET_DEFAULTS", "DATASET_NAMES", "TABLE1_COLUMNS", "DatasetDefaults",
           "check_dataset_name", "paper_table1"]
