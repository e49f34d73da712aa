"""``python -m handkit train``: the three training stages from the command line.

::

    python -m handkit train --out runs/first                      # defaults (TrainConfig)
    python -m handkit train --config my.yaml --out runs/k64 --label-every 64 --lambda-align 1
    python -m handkit train --out runs/first --resume              # continue an interrupted run
    python -m handkit train --out runs/first --force               # start it over
    torchrun --nproc-per-node 2 -m handkit train --out runs/ddp    # two processes (see
                                                                   # handkit.train.distributed)

Every field of :class:`handkit.train.TrainConfig` has a flag (``--stage1-steps``, ``--lr``,
``--rotation-aug-rad`` ...), and so do the loss weights (``--lambda-j``, ``--lambda-theta``,
``--lambda-beta``, ``--lambda-align``, ``--length-unit-mm``). A config file (JSON or YAML) is
read first, flags override it; the result is saved as ``<out>/config.json``. ``--resume``
without ``--config`` takes the run's own ``config.json``.
"""

from __future__ import annotations

import argparse
import sys
import typing
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from handkit.errors import (
    check_output_folder,
    command,
    describe_os_error,
    is_user_path_error,
    refuse,
)
from handkit.losses import LossConfig
from handkit.train.config import TrainConfig, load_config, run_config
from handkit.train.runner import RunFolderError, print_note, train
from handkit.train.steps import TrainingDiverged


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parser_type(annotation) -> typing.Callable[[str], object]:
    """str -> value for a field annotated ``int``, ``float``, ``str`` or ``... | None``."""
    text = str(annotation)
    base = (int if text.startswith("int") else float if text.startswith("float")
            else _boolean if text.startswith("bool") else str)

    def convert(value: str):
        if "None" in text and value.lower() == "none":
            return None
        return base(value)

    convert.__name__ = base.__name__  # argparse names the type in its error messages
    return convert


def _boolean(value: str) -> bool:
    """"true"/"false" (also 1/0, yes/no) -> bool."""
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if value.lower() not in words:
        raise ValueError(f"expected true or false, got {value!r}")
    return words[value.lower()]


_boolean.__name__ = "bool"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m handkit train",
        description="Train the Hand Predictor and the Pose Aligner in three stages (Sec. IV).",
    )
    parser.add_argument("--config", type=Path, help="JSON or YAML file of TrainConfig values")
    parser.add_argument("--out", type=Path, required=True, help="the run folder, e.g. runs/NAME")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--force", action="store_true", help="overwrite the run in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--stop-after", type=int, metavar="STEPS",
                        help="stop with a checkpoint after this many steps (resume later)")
    options = parser.add_argument_group("training config (TrainConfig; default in brackets)")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        if f.name == "loss":
            continue
        options.add_argument(_flag(f.name), dest=f.name, type=_parser_type(f.type),
                             default=argparse.SUPPRESS, metavar=f.name.upper(),
                             help=f"[{getattr(defaults, f.name)}]")
    for f in fields(LossConfig):
        options.add_argument(_flag(f.name), dest=f"loss.{f.name}", type=float,
                             default=argparse.SUPPRESS, metavar="VALUE",
                             help=f"[{getattr(defaults.loss, f.name)}]")
    return parser


@command("train")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit train``: see the module docstring. A refused input (a wrong config
    value or file, an --out that cannot be written, no GPU for --device cuda) or a failed run
    ends with one line on stderr and exit status 1 (:mod:`handkit.errors`)."""
    args = vars(_parser().parse_args(sys.argv[1:] if argv is None else argv))
    out, resume, force, quiet, stop_after = (args.pop(k) for k in ("out", "resume", "force",
                                                                    "quiet", "stop_after"))
    config_path = args.pop("config")
    try:
        if resume and config_path is None and (out / "config.json").is_file():
            config = run_config(out).with_overrides(args)
        else:
            config = load_config(config_path, args)
        check_output_folder(out, "--out")
        result = train(config, out, resume=resume, force=force, progress=not quiet,
                       stop_after=stop_after, log=print_note)
    except (RunFolderError, TrainingDiverged, ValueError, FileNotFoundError) as error:
        return refuse("train", str(error))
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        if not is_user_path_error(error):
            raise
        return refuse("train", f"cannot write in {out}: {describe_os_error(error)}")
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"handkit train: {'finished' if result.finished else 'stopped'} in {out} ({seconds})")
    return 0
