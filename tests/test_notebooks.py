"""The notebooks: one parameters cell, a papermill run at other parameters, outputs committed
for nbval. (nbval itself runs in `make test` with --nbval over notebooks/*.ipynb: it executes
every notebook at its defaults, fails on any cell error, and compares the outputs with the
committed ones; each notebook's last cell, tagged `checks`, asserts its claims.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from handkit.course.parameters import OUT_JSON
from handkit.course.run import run_notebooks
from tests.browser_lab import browser_available
from tests.notebook_parameters import ALT_PARAMETERS
from tests.notebook_results import check_alternate_results, code_cells

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SANITIZE_CONFIG = Path(__file__).with_name("nbval_sanitize.cfg")

#: Notebooks the kit must have (docs/notebooks.md and the website's front page list them).
EXPECTED_NOTEBOOKS = ("01_mano_basics", "02_sparse_videos", "03_hand_predictor",
                      "04_pose_alignment", "05_losses", "06_three_stage_training",
                      "07_evaluation", "08_experiments")

#: nbval's markers for cells whose output it does not compare (comments and tags).
NBVAL_UNCHECKED = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "nbval-ignore-output", "nbval-skip")


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
def test_alternate_parameters_run_and_change_the_committed_numbers(path, tmp_path):
    """papermill runs the notebook at ALT_PARAMETERS; the numbers it writes are finite and,
    beyond echoes of the parameters themselves and timings, differ from those the committed
    notebook (executed at the defaults; nbval re-runs it there) wrote. Where the browser test
    runs, it makes this run and this check in JupyterLab instead (one run per parameter set)."""
    if browser_available():
        pytest.skip("the browser test runs the alternate parameters (tests/test_browser.py)")
    assert path.stem in ALT_PARAMETERS, (
        f"add an entry for {path.stem!r} to ALT_PARAMETERS in tests/notebook_parameters.py"
    )
    parameters = ALT_PARAMETERS[path.stem]
    alternate = run_notebooks([path], tmp_path, parameters, kernel=None)[path.stem]
    check_alternate_results(path, parameters, alternate, "papermill")


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
