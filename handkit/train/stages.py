"""What each training stage is (Sec. IV): the modules it trains, its loss terms, its curves.

* stage 1: the Hand Predictor on labelled frames, L_pred (Eq. 6);
* stage 2: the Pose Aligner alone on pairs of labelled frames, L_align (Eq. 8);
* stage 3: both on pairs (u, s = N(u)), L_total (Eq. 9);
* control (the synthetic Table I's extra row): a copy of the stage-1 predictor, L_pred.

:func:`stage_parameters` is what the runner hands each stage's Adam optimiser, and
:func:`trainable_parameters` counts the same lists part by part, so a table of "what each stage
updates" cannot drift from the code that trains. :func:`read_curves` reads the loss curves a
run wrote (``curves/<stage>.csv``). Introduced in ``notebooks/06_three_stage_training.ipynb``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handkit.models import HandPredictor, PoseAligner
from handkit.train.config import STAGES

#: The modules each stage trains, by role; "control" is its own copy of the predictor.
STAGE_MODULES = {
    "stage1": ("predictor",),
    "control": ("control",),
    "stage2": ("aligner",),
    "stage3": ("predictor", "aligner"),
}
#: One line per stage: what it trains, on what, with which loss (Sec. IV).
STAGE_TITLES = {
    "stage1": "stage 1: Hand Predictor, L_pred on labelled frames",
    "control": "control: stage-1 predictor trained on, L_pred",
    "stage2": "stage 2: Pose Aligner, L_align on labelled pairs",
    "stage3": "stage 3: both, L_total on pairs (u, s = N(u))",
}
#: The columns of ``curves/<stage>.csv`` worth plotting, with their names in the paper: the
#: stage's objective first, then its main terms (unweighted; Eqs. 5-9).
STAGE_CURVE_TERMS = {
    "stage1": {"total": "L_pred", "joints": "L_J"},
    "control": {"total": "L_pred", "joints": "L_J"},
    "stage2": {"total": "L_align", "forward": "L_u→s", "backward": "L_u←s"},
    "stage3": {"total": "L_total", "pred_total": "L_pred", "align_total": "L_align"},
}
#: What the parts of the two modules are (rows of :func:`trainable_parameters`).
PART_DESCRIPTIONS = {
    "predictor.encoder": "ψ: ResNet-18 and the z^r projection",
    "predictor.pose_body": "π^θ: hidden layers on z^θ",
    "predictor.pose_head": "π^θ: 18 pose values (3 global + 15 PCA)",
    "predictor.shape_head": "π^θ: 10 shape values β",
    "predictor.root_body": "π^r: hidden layer on z^r",
    "predictor.root_head": "π^r: (d_f, t_u, t_v)",
    "predictor.mano": "MANO layer (fixed arrays, no parameters)",
    "aligner.root_net": "φ^r: root aligner (Eq. 3)",
    "aligner.theta_net": "φ^θ: rotation aligner (Eq. 4)",
    "aligner.mano": "MANO layer (fixed arrays, no parameters)",
}


def _check_stage(stage: str, allowed: tuple[str, ...]) -> None:
    if stage not in allowed:
        raise ValueError(f"stage must be one of {allowed}, got {stage!r}")


def stage_modules(stage: str, predictor: HandPredictor, aligner: PoseAligner,
                  control: HandPredictor | None = None) -> list[nn.Module]:
    """The modules ``stage`` trains (:data:`STAGE_MODULES`), in order.

    Args:
        stage: "stage1", "stage2", "stage3" or "control".
        predictor, aligner: the run's modules.
        control: the control's predictor (needed for "control" only).
    """
    _check_stage(stage, tuple(STAGE_MODULES))
    if stage == "control" and control is None:
        raise ValueError("stage 'control' trains the control predictor: pass control=")
    modules = {"predictor": predictor, "aligner": aligner, "control": control}
    return [modules[role] for role in STAGE_MODULES[stage]]


def stage_parameters(stage: str, predictor: HandPredictor, aligner: PoseAligner,
                     control: HandPredictor | None = None) -> list[nn.Parameter]:
    """The parameters ``stage``'s Adam optimiser updates: those of :func:`stage_modules`."""
    return [p for module in stage_modules(stage, predictor, aligner, control)
            for p in module.parameters()]


@dataclass(frozen=True)
class ParameterTable:
    """Parameters per part of the two modules, and how many of them each stage trains.

    Attributes:
        parts: "predictor.encoder", ..., "aligner.theta_net" (the modules' children).
        sizes: (P,) parameters of each part.
        trained: stage -> (P,) parameters of each part in that stage's optimiser.
    """

    parts: tuple[str, ...]
    sizes: tuple[int, ...]
    trained: dict[str, tuple[int, ...]]

    def stage_total(self, stage: str) -> int:
        """Parameters ``stage`` updates in all."""
        return sum(self.trained[stage])

    def text(self) -> str:
        """The table as fixed-width text: a row per part, a column per stage, and totals."""
        stages = list(self.trained)
        width = max(len(name) for name in (*self.parts, "total"))
        described = max(len(PART_DESCRIPTIONS.get(p, "")) for p in self.parts)
        titles = [s.replace("stage", "stage ") for s in stages]
        header = (f"{'part':{width}s}  {'what it is':{described}s}  {'parameters':>10s}"
                  + "".join(f"  {t:>10s}" for t in titles))
        lines = [header, "-" * len(header)]
        for k, part in enumerate(self.parts):
            cells = "".join(f"  {_count(self.trained[s][k], self.sizes[k]):>10s}"
                            for s in stages)
            lines.append(f"{part:{width}s}  {PART_DESCRIPTIONS.get(part, ''):{described}s}  "
                         f"{self.sizes[k]:>10,d}{cells}")
        totals = "".join(f"  {self.stage_total(s):>10,d}" for s in stages)
        lines += ["-" * len(header),
                  f"{'total':{width}s}  {'':{described}s}  {sum(self.sizes):>10,d}{totals}"]
        return "\n".join(lines)


def _count(trained: int, size: int) -> str:
    """A cell of the table: the count, "frozen" (not trained) or "-" (nothing to train)."""
    if not size:
        return "-"
    return f"{trained:,d}" if trained else "frozen"


def trainable_parameters(predictor: HandPredictor, aligner: PoseAligner, *,
                         stages: tuple[str, ...] = STAGES) -> ParameterTable:
    """Which parameters each stage trains, counted per part of the predictor and the aligner.

    The counts come from :func:`stage_parameters`, the lists the runner gives each stage's
    optimiser. A part with parameters that a stage does not train is frozen in that stage.

    Args:
        predictor, aligner: the modules (fresh or trained: only their structure matters).
        stages: columns, from "stage1", "stage2", "stage3".

    Example:
        >>> table = trainable_parameters(HandPredictor(), PoseAligner())
        >>> table.stage_total("stage3") == table.stage_total("stage1") + table.stage_total(
        ...     "stage2") == sum(table.sizes)
        True
    """
    for stage in stages:
        _check_stage(stage, STAGES)
    parts: list[tuple[str, list[nn.Parameter]]] = []
    for role, module in (("predictor", predictor), ("aligner", aligner)):
        in_children = set()
        for name, child in module.named_children():
            parameters = list(child.parameters())
            in_children |= {id(p) for p in parameters}
            parts.append((f"{role}.{name}", parameters))
        own = [p for p in module.parameters() if id(p) not in in_children]
        if own:
            parts.append((f"{role} (own)", own))
    trained = {}
    for stage in stages:
        ids = {id(p) for p in stage_parameters(stage, predictor, aligner) if p.requires_grad}
        trained[stage] = tuple(sum(p.numel() for p in ps if id(p) in ids) for _, ps in parts)
    return ParameterTable(parts=tuple(name for name, _ in parts),
                          sizes=tuple(sum(p.numel() for p in ps) for _, ps in parts),
                          trained=trained)


def read_curves(folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The loss curves of a run folder: stage -> column -> (N,) float64 values.

    Columns are ``step``, ``lr`` and the loss terms the stage logged (see
    :data:`STAGE_CURVE_TERMS`); stages are in training order, those without a file left out.
    """
    folder = Path(folder)
    curves = {}
    for stage in ("stage1", "control", "stage2", "stage3"):
        path = folder / "curves" / f"{stage}.csv"
        if not path.is_file():
            continue
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            continue
        curves[stage] = {name: np.array([float(r[name]) for r in rows]) for name in rows[0]}
    if not curves:
        raise FileNotFoundError(f"no loss curves in {folder / 'curves'}")
    return curves


def same_weights(first: nn.Module | dict, second: nn.Module | dict) -> tuple[int, int]:
    """(tensors equal bit for bit, tensors in all) of two modules' state dicts (weights and
    buffers such as BatchNorm statistics), e.g. a resumed run against an uninterrupted one."""
    a = first.state_dict() if isinstance(first, nn.Module) else first
    b = second.state_dict() if isinstance(second, nn.Module) else second
    if a.keys() != b.keys():
        raise ValueError(f"the state dicts hold different tensors: "
                         f"{sorted(set(a) ^ set(b))[:5]}")
    equal = sum(bool(torch.equal(a[k].cpu(), b[k].cpu())) for k in a)
    return equal, len(a)
