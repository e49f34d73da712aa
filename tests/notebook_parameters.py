"""The notebooks' alternate parameters, shared by the papermill test and the browser test.

``ALT_PARAMETERS`` is run by papermill (tests/test_notebooks.py) and, written into the
parameters cell of each working copy by :func:`set_parameters`, by the browser test
(tests/test_browser.py). The defaults are run by nbval over the committed notebooks.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import nbformat

#: A non-default parameter set per notebook. Every notebook needs an entry; choose values that
#: change the numbers it writes, stay cheap, and leave every figure and explorer in place (the
#: browser test runs them in JupyterLab and checks each figure and slider).
ALT_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_mano_basics": {"seed": 1, "ncomps": 10},
    "02_sparse_videos": {"seed": 1, "label_every": 32, "max_gap": 16, "num_pairs": 500},
    "03_hand_predictor": {"seed": 1, "num_frames": 3, "fit_steps": 30, "d_off_mm": 450.0},
    "04_pose_alignment": {"seed": 1, "video": 1, "gap": 40, "fit_steps": 40},
    "05_losses": {"seed": 1, "num_pairs": 4, "head_std": 0.02, "length_unit_mm": 1.0},
    # the defaults' steps and batch sizes: with fewer steps (12/12/4) or half the batches, the
    # checks cell's claim that halving K helps copy and interpolation more than the networks
    # failed
    "06_three_stage_training": {"seed": 1, "label_every": 64, "lambda_align": 0.5,
                                "stop_after": 10},
    "07_evaluation": {"num_videos": 2, "num_frames": 400, "video_seed": 1001, "vertices": False},
    # batch_size 8 (default 32): training a quarter as long, the checks hold (measured: 24 s
    # for the papermill run against 52 s at 32)
    "08_experiments": {"seed": 1, "label_every": 64, "lambda_align": 1.0, "num_videos": 4,
                       "num_frames": 256, "stage1_steps": 20, "stage2_steps": 10,
                       "stage3_steps": 10, "batch_size": 8},
}


def parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The one code cell tagged ``parameters``."""
    cells = [cell for cell in notebook.cells
             if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{len(cells)} code cells tagged 'parameters', want 1")
    return cells[0]


def with_values(source: str, values: Mapping[str, Any]) -> str:
    """``source`` (``name = value  # comment`` lines) with the values of ``values`` replaced.

    Only the value of each named assignment changes; comments and the other lines stay.

    >>> with_values("seed = 0  # the seed\\nsteps = 10\\n", {"seed": 1})
    'seed = 1  # the seed\\nsteps = 10\\n'
    >>> with_values("seed = 0\\n", {"sead": 1})
    Traceback (most recent call last):
    ...
    ValueError: not set in the parameters cell: ['sead']
    """
    found = {}
    for statement in ast.parse(source).body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id in values):
            found[statement.targets[0].id] = statement.value
    missing = sorted(set(values) - set(found))
    if missing:
        raise ValueError(f"not set in the parameters cell: {missing}")
    lines = source.splitlines(keepends=True)
    # from the last assignment up, so earlier positions stay valid
    for name, node in sorted(found.items(), key=lambda item: item[1].lineno, reverse=True):
        new = repr(values[name])
        if ast.literal_eval(new) != values[name]:
            raise ValueError(f"{name}: {values[name]!r} is not a plain Python literal")
        first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
        # ast's columns count UTF-8 bytes
        head = first.encode()[:node.col_offset].decode()
        tail = last.encode()[node.end_col_offset:].decode()
        lines[node.lineno - 1:node.end_lineno] = [head + new + tail]
    return "".join(lines)


def set_parameters(path, values: Mapping[str, Any]) -> None:
    """Write ``values`` into the parameters cell of the notebook file at ``path`` (in place)."""
    notebook = nbformat.read(path, as_version=4)
    cell = parameters_cell(notebook)
    cell.source = with_values(cell.source, values)
    nbformat.write(notebook, path)
