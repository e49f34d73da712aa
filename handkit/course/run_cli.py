"""``python -m handkit run``: every notebook headless into ``runs/<timestamp>/``, key numbers.

``make run`` calls it: each notebook in ``notebooks/`` runs at its default parameters
(:func:`handkit.course.run.run_notebooks`) into ``runs/<timestamp>/``::

    python -m handkit run                                   # all notebooks, defaults
    python -m handkit run notebooks/01_mano_basics.ipynb -p seed 3 --out-dir runs/seed3
    python -m handkit run my-course/01_mano_basics.ipynb    # a folder made by handkit init

It prints a short table per notebook, a few of its key numbers (:data:`KEY_NUMBERS`), and
says where the rest lie: every number the notebooks wrote is in ``results.txt``
(:func:`format_results_table`) and each notebook's JSON next to its executed copy.

``python -m handkit run --in-place`` (what ``make notebooks`` calls) instead re-executes the
notebooks at their defaults and saves them where they are, as they are committed.

The kernels inherit the environment, so ``OMP_NUM_THREADS`` set by the caller (``make`` sets 2
unless it is already set) limits torch's threads inside the notebooks. A refused input (no
notebooks, a wrong parameter, an ``--out-dir`` that cannot be written) ends with one line on
stderr and exit status 1, as does a notebook that fails (:mod:`handkit.errors`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from handkit.course.kernels import DEFAULT_KERNEL, NotebookRunError
from handkit.course.lab import MANIFEST
from handkit.course.run import execute_in_place, parse_value, run_notebooks, scalar_numbers
from handkit.errors import InputError, check_output_folder, command, refuse

#: The numbers shown for each of the kit's notebooks after ``make run`` (dotted keys of the
#: notebook's JSON; a key also stands for every number under it, ``mpjpe`` -> ``mpjpe.Copy``).
#: Another notebook shows its first :data:`OTHER_NUMBERS` numbers.
KEY_NUMBERS = {
    "01_mano_basics": ("num_verts", "hand_length_mm", "pca_max_vertex_move_mm",
                       "max_pose_corrective_mm"),
    "02_sparse_videos": ("num_frames", "labelled_percent", "mean_distance_to_nearest_label",
                         "copy_nearest_label_error_mm"),
    "03_hand_predictor": ("num_parameters", "untrained_error_mm", "fitted_error_mm",
                          "unseen_error_mm"),
    "04_pose_alignment": ("copy_error_mm", "fitted_error_mm", "fit_loss_drop"),
    "05_losses": ("log10_L_pred", "log10_L_align", "log10_L_total", "mm_over_m"),
    "06_three_stage_training": ("train_seconds", "mpjpe_mm", "resumed_identical_tensors",
                                "tensors"),
    "07_evaluation": ("frames", "mpjpe"),
    "08_experiments": ("mpjpe", "sweep_propagation_gain_mm"),
}
OTHER_NUMBERS = 5

#: Every number of every notebook, as one table, in the run folder.
RESULTS_TXT = "results.txt"


def _format_number(value: int | float) -> str:
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def format_results_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Plain-text table (notebook | key | value) of the scalar numbers in each result dict.

    Nested dicts appear as dotted keys (``metrics.mpjpe``); strings, lists, bools and ``None``
    are left out. Floats show 4 significant digits.

    >>> print(format_results_table({"01_mano_basics": {"num_verts": 778, "err_mm": 0.12345}}))
    notebook        key        value
    --------------  ---------  ------
    01_mano_basics  num_verts     778
    01_mano_basics  err_mm     0.1235
    """
    rows = []
    for notebook, values in results.items():
        numbers = scalar_numbers(values)
        if not numbers:
            rows.append((notebook, "(no numbers)", ""))
        rows.extend((notebook, key, _format_number(value)) for key, value in numbers)
    if not rows:
        return "(no results)"
    w_nb, w_key, w_value = (max(len(row[i]) for row in [("notebook", "key", "value"), *rows])
                            for i in range(3))
    lines = [
        f"{'notebook':<{w_nb}}  {'key':<{w_key}}  value",
        f"{'-' * w_nb}  {'-' * w_key}  {'-' * w_value}",
    ]
    lines += [
        f"{nb:<{w_nb}}  {key:<{w_key}}  {value:>{w_value}}".rstrip() for nb, key, value in rows
    ]
    return "\n".join(lines)


def key_numbers(notebook: str, values: Mapping[str, Any]) -> list[tuple[str, int | float]]:
    """The numbers of :data:`KEY_NUMBERS` that ``values`` holds, in that order (the first few,
    for another notebook), as (dotted key, number).

    >>> key_numbers("07_evaluation", {"mpjpe": {"Copy": 2.5}, "frames": 9, "seed": 0})
    [('frames', 9), ('mpjpe.Copy', 2.5)]
    """
    numbers = scalar_numbers(values)
    if notebook not in KEY_NUMBERS:
        return numbers[:OTHER_NUMBERS]
    return [(key, value) for name in KEY_NUMBERS[notebook] for key, value in numbers
            if key == name or key.startswith(f"{name}.")]


def format_summary(results: Mapping[str, Mapping[str, Any]], out_dir: str | Path) -> str:
    """A short table per notebook (:func:`key_numbers`), each naming the JSON with the rest.

    >>> print(format_summary({"nb": {"a": 1.23456, "b": {"c": 2}}}, "runs/x"))
    nb: 2 of 2 numbers (all in runs/x/nb.json)
      a    1.235
      b.c      2
    """
    blocks = []
    for notebook, values in results.items():
        shown, total = key_numbers(notebook, values), len(scalar_numbers(values))
        lines = [f"{notebook}: {len(shown)} of {total} numbers "
                 f"(all in {Path(out_dir) / f'{notebook}.json'})"]
        if shown:
            width = max(len(key) for key, _ in shown)
            texts = [_format_number(value) for _, value in shown]
            value_width = max(len(text) for text in texts)
            lines += [f"  {key:<{width}}  {text:>{value_width}}"
                      for (key, _), text in zip(shown, texts, strict=True)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no results)"


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m handkit run",
        description="Execute notebooks headless with papermill into runs/<timestamp>/ and print "
        "the key numbers each one writes.",
    )
    parser.add_argument(
        "notebooks", nargs="*", type=Path,
        help="notebooks to run (default: notebooks/*.ipynb; in a folder made by python -m "
        "handkit init, its notebooks)"
    )
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="set a parameter in every notebook run; VALUE is read as a Python literal",
    )
    parser.add_argument(
        "--out-dir", type=Path, help="where executed notebooks and JSON go (default: runs/<time>)"
    )
    kernels = parser.add_mutually_exclusive_group()
    kernels.add_argument(
        "--kernel", default=DEFAULT_KERNEL, help=f"Jupyter kernel (default: {DEFAULT_KERNEL})"
    )
    kernels.add_argument(
        "--current-env", action="store_true", help="run the notebooks in this Python instead"
    )
    parser.add_argument(
        "--in-place", action="store_true",
        help="re-execute the notebooks at their defaults and save them where they are "
        "(what `make notebooks` does); not with -p, --out-dir or --current-env",
    )
    args = parser.parse_args(list(argv))
    if args.in_place and (args.parameter or args.out_dir or args.current_env):
        parser.error("--in-place runs the defaults in a named kernel: drop -p, --out-dir and "
                     "--current-env")
    return args


def default_notebooks() -> list[Path]:
    """The notebooks ``run`` takes when none is named: ``notebooks/*.ipynb`` of the working
    folder (a checkout), else the course notebooks of a folder that ``python -m handkit init``
    (or ``lab``) made, which holds their record :data:`handkit.course.lab.MANIFEST`."""
    found = sorted(Path("notebooks").glob("*.ipynb"))
    if not found and Path(MANIFEST).is_file():
        found = sorted(Path().glob("[0-9][0-9]_*.ipynb"))
    return found


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@command("run")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit run``: see the module docstring."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    notebooks = args.notebooks or default_notebooks()
    if not notebooks:
        raise InputError(f"no notebooks given and none in {Path('notebooks').resolve()}; run "
                         "from the repository root or a folder made by python -m handkit init, "
                         "or name the notebooks")
    out_dir = args.out_dir or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    if not args.in_place:
        check_output_folder(out_dir, "--out-dir")
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    target = "in place" if args.in_place else f"-> {out_dir}"
    header = [f"handkit run: {len(notebooks)} notebook(s) {target}  (OMP_NUM_THREADS={threads})"]

    def log(line: str) -> None:  # the header once the checks passed and the first notebook runs
        while header:
            _log(header.pop())
        _log(line)

    try:
        if args.in_place:
            execute_in_place(notebooks, args.kernel, log=log)
            return 0
        results = run_notebooks(
            notebooks, out_dir,
            parameters={name: parse_value(value) for name, value in args.parameter},
            kernel=None if args.current_env else args.kernel,
            progress_bar=sys.stderr.isatty() and not os.environ.get("CI"), log=log,
        )
    except NotebookRunError as error:
        return refuse("run", f"FAILED: {error}")
    except (ValueError, FileNotFoundError) as error:
        return refuse("run", str(error))
    (Path(out_dir) / RESULTS_TXT).write_text(format_results_table(results) + "\n")
    print(format_summary(results, out_dir))
    _log(f"\nevery number: {Path(out_dir) / RESULTS_TXT}; executed notebooks and their JSON "
         f"files: {out_dir}")
    return 0
