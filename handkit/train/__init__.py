"""Three-stage training of the Hand Predictor and the Pose Aligner (Sec. IV).

``python -m handkit train --config FILE --out runs/NAME [--resume] [--force]`` runs
:func:`train`; notebooks call it directly. Introduced in
``notebooks/06_three_stage_training.ipynb``.
"""

from handkit.train.checkpoint import load_checkpoint, save_checkpoint
from handkit.train.config import STAGES, TrainConfig, load_config, run_config
from handkit.train.runner import (
    ORDER,
    RunFolderError,
    TrainedRun,
    TrainResult,
    input_transform,
    learning_rate,
    load_run,
    open_reader,
    train,
)
from handkit.train.stages import (
    STAGE_CURVE_TERMS,
    STAGE_MODULES,
    STAGE_TITLES,
    ParameterTable,
    read_curves,
    same_weights,
    stage_modules,
    stage_parameters,
    trainable_parameters,
)
from handkit.train.steps import TrainingDiverged

__all__ = [
    "ORDER",
    "STAGES",
    "STAGE_CURVE_TERMS",
    "STAGE_MODULES",
    "STAGE_TITLES",
    "ParameterTable",
    "RunFolderError",
    "TrainConfig",
    "TrainResult",
    "TrainedRun",
    "TrainingDiverged",
    "learning_rate",
    "load_checkpoint",
    "load_config",
    "load_run",
    "input_transform",
    "open_reader",
    "run_config",
    "read_curves",
    "same_weights",
    "save_checkpoint",
    "stage_modules",
    "stage_parameters",
    "train",
    "trainable_parameters",
]
