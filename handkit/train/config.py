"""One object holds every choice of a training run (Sec. IV), saved next to the run.

:class:`TrainConfig` is filled from its defaults (the paper's where it gives one), a JSON or YAML
file, and ``--name value`` flags, in that order; :meth:`TrainConfig.to_dict` is what
``config.json`` in the run folder holds, so a run can be repeated exactly.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from handkit.data.datasets import DATASET_DEFAULTS, DATASET_NAMES
from handkit.losses import LossConfig

#: Stage names, in training order (Sec. IV); "control" is the extra row of the synthetic Table I.
STAGES = ("stage1", "stage2", "stage3")
LR_SCHEDULES = ("constant", "cosine")
STAGE2_BACKWARD_TARGETS = ("prediction", "label")
BACKWARD_DETACH = ("none", "aligned", "predicted")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run.

    Data:
        dataset: "synthetic" (handkit's videos), "ho3d" (Mini-HO-3D) or "interhand"
            (Mini-InterHand): :func:`handkit.data.datasets.open_dataset`.
        data: the synthetic set: "synthetic" (the shipped sample set, ``data_samples/synthetic``)
            or the folder of a set in the same format (``python -m handkit data synth``).
        data_root: the real sets' folder (HO-3D: the one holding ``train/``; InterHand2.6M: the
            one holding ``annotations/`` and ``images/``); None: the environment variable
            ``HANDKIT_HO3D_ROOT`` / ``HANDKIT_INTERHAND_ROOT``.
        split: the split trained on.
        label_every: K of S_V (Sec. II-A); None: the set's own (128 for the real sets).
        image_size: the predictor's input size S; None: the set's default (the synthetic frames
            as they are; a 128-pixel crop around the nearest label's hand box for the real sets,
            :func:`handkit.data.datasets.network_input`).
    Model:
        d_off_mm: d_off of Fig. 2; None: the data set's (500 mm synthetic, 400 mm HO-3D,
            1100 mm InterHand2.6M; :data:`handkit.data.datasets.DATASET_DEFAULTS`).
        mano_root: official MANO folder, or None for the embedded hand.
    Optimisation (Sec. IV: Adam, lr 5e-5, batch 64):
        lr: Adam's learning rate in every stage.
        lr_schedule: "constant" (the paper) or "cosine" (decay to 0 over each stage).
        batch_size: labelled frames per stage-1 step.
        pair_batch_size: pairs per stage-2/3 step (stage 3 sees twice as many images).
        stage1_steps, stage2_steps, stage3_steps: steps of each stage; 0 skips a stage.
        accumulate: groups per process per step, one backward pass each (gradient
            accumulation): a step's batch is cut into processes x accumulate groups (see
            :mod:`handkit.train.distributed`); BatchNorm normalises each group on its own.
        control_steps: steps of the "control" (the stage-1 predictor trained on with L_pred at
            2 x pair_batch_size labelled frames a step, no aligner; Table I's control row), 0
            for none.
    Losses (Eqs. 5-10):
        loss: the lambdas and the length unit (:class:`handkit.losses.LossConfig`).
        stage2_backward_target: what Eq. 7's backward term compares with in stage 2, where u is
            labelled too: "prediction" (J_u^reg, the paper's Eq. 7 as written) or "label" (J_u*).
        backward_detach: which side of Eq. 7's L_{u<-s} is held fixed in stage 3: "none" (both
            learn), "aligned" (J_u^align is the target: the term only pulls the predictor towards
            the propagated label, as Sec. II-C describes its role) or "predicted" (J_u^reg is the
            target: only the aligner learns from it).
    Sampling (Sec. IV):
        p_unlabelled: stage-3 probability of an unlabelled I_u.
        max_gap: stage-3 unlabelled I_u satisfy |u - s| < max_gap.
        num_near_labelled: labelled I_u among the labels nearest s (s included).
        rotation_aug_rad: rolls in [-a, a] (Appendix C: pi/8) in stages 1 and 3 and the control;
            0 switches augmentation off.
    Run:
        seed: everything random is a function of it (initial weights, batches, rolls).
        checkpoint_every: steps between checkpoints (and at every stage's end).
        log_every: steps between rows of the loss curves.
        device: "cpu", "cuda" or "auto".
        threads: torch threads; None leaves torch's default (OMP_NUM_THREADS).
    """

    dataset: str = "synthetic"
    data: str = "synthetic"
    data_root: str | None = None
    split: str = "train"
    label_every: int | None = None
    image_size: int | None = None
    d_off_mm: float | None = None
    mano_root: str | None = None
    lr: float = 5e-5
    lr_schedule: str = "constant"
    batch_size: int = 64
    pair_batch_size: int = 64
    stage1_steps: int = 400
    stage2_steps: int = 400
    stage3_steps: int = 400
    control_steps: int = 0
    accumulate: int = 1
    loss: LossConfig = field(default_factory=LossConfig)
    stage2_backward_target: str = "prediction"
    backward_detach: str = "none"
    p_unlabelled: float = 0.5
    max_gap: int = 64
    num_near_labelled: int = 3
    rotation_aug_rad: float = math.pi / 8
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "pair_batch_size": self.pair_batch_size >= 1,
            "stage1_steps": self.stage1_steps >= 0,
            "stage2_steps": self.stage2_steps >= 0,
            "stage3_steps": self.stage3_steps >= 0,
            "control_steps": self.control_steps >= 0,
            "accumulate": self.accumulate >= 1,
            "p_unlabelled": 0 <= self.p_unlabelled <= 1,
            "max_gap": self.max_gap >= 1,
            "num_near_labelled": self.num_near_labelled >= 1,
            "rotation_aug_rad": 0 <= self.rotation_aug_rad <= math.pi,
            "seed": self.seed >= 0,
            "checkpoint_every": self.checkpoint_every >= 1,
            "log_every": self.log_every >= 1,
            "label_every": self.label_every is None or self.label_every >= 1,
            "image_size": self.image_size is None or self.image_size >= 32,
            "threads": self.threads is None or self.threads >= 1,
            "d_off_mm": self.d_off_mm is None or self.d_off_mm > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise ValueError(f"invalid training config: {shown} (see TrainConfig's docstring "
                             f"for the allowed values)")
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("device", ("cpu", "cuda", "auto")),
                              ("stage2_backward_target", STAGE2_BACKWARD_TARGETS),
                              ("backward_detach", BACKWARD_DETACH)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"dataset must be one of {DATASET_NAMES}, got {self.dataset!r}")
        if self.dataset != "synthetic" and self.data != "synthetic":
            raise ValueError(f"data={self.data!r} names a synthetic set's folder; the folder of "
                             f"{self.dataset!r} goes in data_root")
        if self.dataset == "synthetic" and self.data_root is not None:
            raise ValueError(f"data_root is for the real sets; the synthetic set's folder goes "
                             f"in data (got data_root={self.data_root!r})")
        if not isinstance(self.loss, LossConfig):
            raise ValueError(f"loss must be a LossConfig, got {type(self.loss).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (what ``config.json`` holds); :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from plain values; unknown names are refused, listing the known ones."""
        if not isinstance(values, dict):
            raise ValueError(f"a training config is a mapping of names to values, got "
                             f"{type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training config name(s) {unknown}; known: {sorted(known)}")
        values = dict(values)
        if "loss" in values:
            loss = values["loss"]
            if not isinstance(loss, (dict, LossConfig)):
                raise ValueError(f"loss must be a mapping of lambdas, got {loss!r}")
            if isinstance(loss, dict):
                loss_names = {f.name for f in fields(LossConfig)}
                wrong = sorted(set(loss) - loss_names)
                if wrong:
                    raise ValueError(f"unknown loss name(s) {wrong}; known: {sorted(loss_names)}")
                values["loss"] = LossConfig(**loss)
        return cls(**values)

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with ``overrides`` (``"loss.lambda_align"`` reaches into the loss weights)."""
        values = self.to_dict()
        for name, value in overrides.items():
            if name.startswith("loss."):
                values["loss"][name.removeprefix("loss.")] = value
            else:
                values[name] = value
        return TrainConfig.from_dict(values)

    def d_off(self) -> float:
        """d_off (mm): ``d_off_mm``, or the data set's default when it is None."""
        return DATASET_DEFAULTS[self.dataset].d_off_mm if self.d_off_mm is None else self.d_off_mm

    def steps(self, stage: str) -> int:
        """Steps of ``stage`` ("stage1", "stage2", "stage3" or "control")."""
        return getattr(self, f"{stage}_steps")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a JSON (``.json``) or YAML (``.yaml``, ``.yml``) config file holds."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training config at {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except (json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a training config holds a mapping of names to values, got "
                         f"{type(values).__name__}")
    return values


def run_config(folder: str | Path) -> TrainConfig:
    """The config a run folder was trained with (its ``config.json``)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a run folder")
    return TrainConfig.from_dict(read_config_file(path))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None
                ) -> TrainConfig:
    """Defaults, then the file at ``path`` (if any), then ``overrides``."""
    config = TrainConfig.from_dict(read_config_file(path)) if path else TrainConfig()
    return config.with_overrides(overrides or {})


def same_run(first: TrainConfig, second: TrainConfig) -> bool:
    """Whether two configs describe the same run (what --resume requires); threads may differ."""
    return replace(first, threads=None) == replace(second, threads=None)
