"""The notebooks: one parameters cell, papermill runs at default and other parameters, outputs
committed for nbval. (nbval itself runs in `make test` with --nbval over notebooks/*.ipynb.)"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from handkit.experiments import OUT_JSON, run_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SANITIZE_CONFIG = Path(__file__).with_name("nbval_sanitize.cfg")

#: Notebooks the kit must have (the README's notebook table lists them).
EXPECTED_NOTEBOOKS = ("01_mano_basics", "02_sparse_videos", "03_hand_predictor",
                      "04_pose_alignment", "05_losses", "06_three_stage_training",
                      "07_evaluation", "08_experiments")

#: A non-default parameter set per notebook, run by papermill in addition to the defaults.
#: Every notebook needs an entry; choose values that change the numbers it writes and stay cheap.
ALT_PARAMETERS = {
    "01_mano_basics": {"seed": 1, "ncomps": 10},
    "02_sparse_videos": {"seed": 1, "label_every": 32, "max_gap": 16, "num_pairs": 500},
    "03_hand_predictor": {"seed": 1, "num_frames": 3, "fit_steps": 30, "d_off_mm": 450.0},
    "04_pose_alignment": {"seed": 1, "video": 1, "gap": 40, "fit_steps": 40},
    "05_losses": {"seed": 1, "num_pairs": 4, "head_std": 0.02, "length_unit_mm": 1.0},
    "06_three_stage_training": {"seed": 1, "label_every": 64, "lambda_align": 0.5,
                                "stop_after": 10},
    "07_evaluation": {"num_videos": 2, "num_frames": 400, "video_seed": 1001, "vertices": False},
    "08_experiments": {"seed": 1, "label_every": 64, "lambda_align": 1.0, "num_videos": 4,
                       "num_frames": 256, "stage1_steps": 20, "stage2_steps": 10,
                       "stage3_steps": 10},
}

#: nbval's markers for cells whose output it does not compare (comments and tags).
NBVAL_UNCHECKED = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "nbval-ignore-output", "nbval-skip")


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def numbers_in(value) -> list[float]:
    """Every int or float (bools excluded) in nested dicts and lists."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers_in(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers_in(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    return []


def test_expected_notebooks_exist():
    found = {path.stem for path in NOTEBOOKS}
    missing = [name for name in EXPECTED_NOTEBOOKS if name not in found]
    assert not missing, f"notebooks missing from {NOTEBOOK_DIR}: {missing}"
    stale = sorted(set(ALT_PARAMETERS) - found)
    assert not stale, f"ALT_PARAMETERS names notebooks that do not exist: {stale}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_one_parameters_cell_after_the_imports(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} code cells tagged 'parameters', want 1"
    assert tagged[0] > 0, f"{path.name}: the first code cell is for imports, not parameters"
    statements = ast.parse(cells[tagged[0]].source).body
    names = []
    for statement in statements:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, (
            f"{path.name}: the parameters cell should hold only `name = value` lines, "
            f"found {ast.unparse(statement)!r}"
        )
        ast.literal_eval(statement.value)  # papermill and `-p` can only override plain values
        names.append(ast.unparse(statement.targets[0]))
    assert OUT_JSON in names, f"{path.name}: the parameters cell does not set {OUT_JSON}"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_runs_with_default_and_alternate_parameters(path, tmp_path):
    assert path.stem in ALT_PARAMETERS, (
        f"add an entry for {path.stem!r} to ALT_PARAMETERS in tests/test_notebooks.py"
    )
    runs = {
        "default": {},
        "alternate": ALT_PARAMETERS[path.stem],
    }
    results = {}
    for run, parameters in runs.items():
        results[run] = run_notebooks([path], tmp_path / run, parameters, kernel=None)[path.stem]
        numbers = numbers_in(results[run])
        assert numbers, f"{path.name} ({run} parameters) wrote no numbers: {results[run]}"
        assert all(math.isfinite(n) for n in numbers), f"{path.name} ({run}): {results[run]}"
    assert results["alternate"] != results["default"], (
        f"{path.name}: {ALT_PARAMETERS[path.stem]} changed none of the numbers it writes; "
        "are those parameters used?"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebook_is_executed_and_mostly_checked_by_nbval(path):
    notebook = nbformat.read(path, as_version=4)
    cells = code_cells(notebook)
    redo = "re-execute it with `make notebooks`"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "handkit", (
        f"{path.name} was not executed with the handkit kernel; {redo}"
    )
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(cells)} in order; {redo}"
    )

    def checked(cell):
        tags = cell.metadata.get("tags", [])
        return not any(marker in cell.source or marker in tags for marker in NBVAL_UNCHECKED)

    unchecked = [i for i, cell in enumerate(cells) if not checked(cell)]
    assert len(unchecked) <= len(cells) / 2, (
        f"{path.name}: nbval would compare the outputs of only {len(cells) - len(unchecked)} "
        f"of {len(cells)} code cells (unchecked: {unchecked}); mark fewer cells"
    )
    assert any(cell.outputs for cell in cells if checked(cell)), (
        f"{path.name}: no cell that nbval compares has an output"
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<Layer object at 0x7f3a2b9c10>", "<Layer object at 0xADDRESS>"),
        (
            "100%|##########| 50/50 [00:01<00:00, 35.21it/s]",
            "100%|##########| 50/50 [TQDM-TIMES]",
        ),
        ("  4%|4         | 2/50 [00:00<?, ?it/s]", "  4%|4         | 2/50 [TQDM-TIMES]"),
        ("epoch 3: 12.5it/s", "epoch 3: RATE"),
        ("forward pass took 1.25 ms, total 3s", "forward pass took DURATION, total DURATION"),
        ("wrote /tmp/tmpk2x9/out.json", "wrote TMP-PATH"),
        ('<div id="0b6f2b8e-3c1d-4e5f-9a7b-1c2d3e4f5a6b">', '<div id="UUID">'),
        ("started 2024-05-01 12:30:59.123", "started DATE-TIME"),
        # numbers that carry meaning stay as they are
        ("MPJPE 12.3 mm over 778 vertices, 5 samples, 3 steps", None),
    ],
)
def test_sanitize_patterns_hide_volatile_text_only(text, expected):
    patterns = get_sanitize_patterns(SANITIZE_CONFIG.read_text())
    assert len(patterns) == SANITIZE_CONFIG.read_text().count("\nregex: ")
    sanitized = text
    for regex, replacement in patterns:
        sanitized = re.sub(regex, replacement, sanitized)
    assert sanitized == (text if expected is None else expected)
