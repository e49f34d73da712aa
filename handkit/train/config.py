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

import yaml

from handkit.checks import field_problems
from handkit.data.datasets import DATASET_DEFAULTS, DATASET_NAMES
from handkit.errors import InputError, read_text, yaml_problem
from handkit.losses import LossConfig
from handkit.models.precision import PRECISIONS

#: Stage names, in training order (Sec. IV); "control" is the extra row of the synthetic Table I.
STAGES = ("stage1", "stage2", "stage3")
LR_SCHEDULES = ("constant", "cosine")
STAGE2_BACKWARD_TARGETS = ("prediction", "label")
BACKWARD_DETACH = ("none", "aligned", "predicted")
STAGE2_ROLLS = ("independent", "shared")


def _at_least(low: float):
    return lambda value: value >= low


#: name -> (test, what the value must be) for TrainConfig's numbers (None always passes).
_RANGES = {
    "lr": (lambda v: v > 0, "> 0"),
    **{name: (_at_least(1), ">= 1") for name in (
        "batch_size", "pair_batch_size", "accumulate", "max_gap", "num_near_labelled",
        "checkpoint_every", "log_every", "label_every", "threads")},
    **{name: (_at_least(0), ">= 0") for name in (
        "stage1_steps", "stage2_steps", "stage3_steps", "control_steps", "seed")},
    "p_unlabelled": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "rotation_aug_rad": (lambda v: 0 <= v <= math.pi, "in [0, pi]"),
    "image_size": (_at_least(32), ">= 32"),
    "d_off_mm": (lambda v: v > 0, "> 0"),
}


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
            N processes take the same steps as one with ``accumulate`` N (to float sums).
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
        stage2_roll: how stage 2 rolls a pair's two labelled frames: "independent" (each by its
            own angle, so the aligner also learns a relative roll) or "shared" (both by one
            angle, as stage 3 rolls its pairs and as video frames are at inference).
    Model (ablations):
        aligner_anchored: the Pose Aligner's displacements are phi(gamma_b, dz) - phi(gamma_b, 0)
            (:class:`handkit.models.PoseAligner`, ``anchored``): equal features carry the label
            unchanged, at any weights. Off: Eqs. 3-4 as written.
    Sampling (Sec. IV):
        p_unlabelled: stage-3 probability of an unlabelled I_u.
        max_gap: stage-3 unlabelled I_u satisfy |u - s| < max_gap.
        num_near_labelled: labelled I_u among the labels nearest s (s included).
        rotation_aug_rad: rolls in [-a, a] (Appendix C: pi/8) in every stage: stages 1 and 3
            and the control roll each image (a pair's two frames by the same angle), stage 2
            as ``stage2_roll`` says; 0 switches augmentation off.
    Run:
        seed: everything random is a function of it (initial weights, batches, rolls).
        checkpoint_every: steps between checkpoints (and at every stage's end).
        log_every: steps between rows of the loss curves.
        device: "cpu", "cuda" or "auto".
        threads: torch threads; None leaves torch's default (OMP_NUM_THREADS).
        precision: the predictor encoder's float type in training: "fp32", "bf16" (autocast;
            MANO, the heads, the aligner and the losses stay float32) or "auto" (bf16 where the
            CPU or GPU computes it natively, else fp32; :mod:`handkit.models.precision`).
        sync_batchnorm: with several processes on GPUs, normalise BatchNorm over all processes'
            groups (torch's SyncBatchNorm); off: each group by its own statistics.
        compile: compile the predictor's encoder with ``torch.compile`` (its first steps wait
            for the compiler; then each step is faster: ``python -m handkit bench model
            --compile``). The float sums change, so runs with and without differ slightly.
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
    stage2_roll: str = "independent"
    aligner_anchored: bool = False
    p_unlabelled: float = 0.5
    max_gap: int = 64
    num_near_labelled: int = 3
    rotation_aug_rad: float = math.pi / 8
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    device: str = "cpu"
    threads: int | None = None
    precision: str = "fp32"
    sync_batchnorm: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        """Check every value's type (:mod:`handkit.checks`: integers, finite numbers, text)
        and range; raise :class:`~handkit.errors.InputError` naming each wrong one."""
        problems = field_problems(self)
        if not problems:
            problems = [f"{name} must be {expected}, got {getattr(self, name)!r}"
                        for name, (ok, expected) in _RANGES.items()
                        if getattr(self, name) is not None and not ok(getattr(self, name))]
        if problems:
            raise InputError("; ".join(problems))
        for name, allowed in (("lr_schedule", LR_SCHEDULES), ("device", ("cpu", "cuda", "auto")),
                              ("precision", PRECISIONS),
                              ("stage2_backward_target", STAGE2_BACKWARD_TARGETS),
                              ("backward_detach", BACKWARD_DETACH),
                              ("stage2_roll", STAGE2_ROLLS)):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.dataset not in DATASET_NAMES:
            raise InputError(f"dataset must be one of {DATASET_NAMES}, got {self.dataset!r}")
        if self.dataset != "synthetic" and self.data != "synthetic":
            raise InputError(f"data={self.data!r} names a synthetic set's folder; the folder of "
                             f"{self.dataset!r} goes in data_root")
        if self.dataset == "synthetic" and self.data_root is not None:
            raise InputError(f"data_root is for the real sets; the synthetic set's folder goes "
                             f"in data (got data_root={self.data_root!r})")
        if not isinstance(self.loss, LossConfig):
            raise InputError(f"loss must be a LossConfig, got {type(self.loss).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (what ``config.json`` holds); :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from plain values; unknown names are refused, listing the known ones."""
        if not isinstance(values, dict):
            raise InputError(f"a training config is a mapping of names to values, got "
                             f"{type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(map(str, set(values) - known))
        if unknown:
            raise InputError(f"unknown training config name(s) {unknown}; known: {sorted(known)}")
        values = dict(values)
        if "loss" in values:
            loss = values["loss"]
            if not isinstance(loss, (dict, LossConfig)):
                raise InputError(f"loss must be a mapping of lambdas, got {loss!r}")
            if isinstance(loss, dict):
                loss_names = {f.name for f in fields(LossConfig)}
                wrong = sorted(map(str, set(loss) - loss_names))
                if wrong:
                    raise InputError(f"unknown loss name(s) {wrong}; known: {sorted(loss_names)}")
                try:
                    values["loss"] = LossConfig(**loss)
                except InputError as error:  # each problem starts with its name: lambda_j ...
                    raise InputError("; ".join(f"loss.{problem}" for problem
                                               in str(error).split("; "))) from None
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
    """The mapping a JSON (``.json``) or YAML (``.yaml``, ``.yml``) config file holds.

    Raises:
        FileNotFoundError: no file at ``path``.
        handkit.errors.InputError: a file that is not UTF-8 text, not valid JSON / YAML, or
            not a mapping; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training config at {path}")
    kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
    text = read_text(path, kind)
    try:
        values = yaml.safe_load(text) if kind == "YAML" else json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON: {error}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML: {yaml_problem(error)}") from None
    if not isinstance(values, dict):
        found = "an empty file" if values is None else type(values).__name__
        raise InputError(f"{path}: a training config holds a mapping of names to values, "
                         f"found {found}")
    return values


def config_from_file(path: str | Path) -> TrainConfig:
    """The config a JSON or YAML file holds (each wrong value named with the file)."""
    values = read_config_file(path)
    try:
        return TrainConfig.from_dict(values)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None


def run_config(folder: str | Path) -> TrainConfig:
    """The config a run folder was trained with (its ``config.json``)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a run folder")
    return config_from_file(path)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None
                ) -> TrainConfig:
    """Defaults, then the file at ``path`` (if any), then ``overrides``."""
    config = config_from_file(path) if path else TrainConfig()
    return config.with_overrides(overrides or {})


def same_run(first: TrainConfig, second: TrainConfig) -> bool:
    """Whether two configs describe the same run (what --resume requires); threads may differ."""
    return replace(first, threads=None) == replace(second, threads=None)
