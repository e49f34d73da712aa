"""The notebooks: one parameters cell, a papermill run at other parameters, outputs committed
for nbval. (nbval itself runs in `make test` with --nbval over notebooks/*.ipynb: it executes
every notebook at its defaults, fails on any cell error, and compares the outputs with the
committed ones; each notebook's last cell, tagged `checks`, asserts its claims.)"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from handkit.experiments import OUT_JSON, run_notebooks
from tests.notebook_parameters import ALT_PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SANITIZE_CONFIG = Path(__file__).with_name("nbval_sanitize.cfg")

#: Notebooks the kit must have (the README's notebook table lists them).
EXPECTED_NOTEBOOKS = ("01_mano_basics", "02_sparse_videos", "03_hand_predictor",
                      "04_pose_alignment", "05_losses", "06_three_stage_training",
                      "07_evaluation", "08_experiments")

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


def committed_results(path: Path) -> dict:
    """What the committed notebook wrote to ``out_json`` at its defaults.

    The last cell (tagged ``checks``) ends with ``write_results(out_json, results)``, whose
    return value (the dict written, floats rounded to 4 decimals) is that cell's output.
    """
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in code_cells(notebook) if "checks" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: {len(cells)} code cells tagged 'checks', want 1"
    assert cells[0].source.rstrip().endswith(f"write_results({OUT_JSON}, results)"), (
        f"{path.name}: the 'checks' cell should end with write_results({OUT_JSON}, results)"
    )
    shown = [output.data["text/plain"] for output in cells[0].outputs
             if output.output_type == "execute_result"]
    assert len(shown) == 1, (
        f"{path.name}: the 'checks' cell has no output of write_results; re-execute it with "
        "`make notebooks`"
    )
    return ast.literal_eval(shown[0])


def leaves(value, path: tuple = ()) -> dict[tuple, object]:
    """Every value that is not a dict or list in nested dicts and lists, by its path of keys."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {path: value}
    return {k: v for key, item in items for k, v in leaves(item, (*path, key)).items()}


#: Numbers within 1 % of each other (or 0.01 apart) count as the same: the committed training
#: numbers come from another machine (their cells are NBVAL_IGNORE_OUTPUT) and may differ from
#: this machine's a little. (Measured: every notebook's alternate run changes at least one
#: compared number by more than 30 %.)
SAME_RELATIVE = 0.01


def same(a, b) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=SAME_RELATIVE, abs_tol=SAME_RELATIVE)
    return a == b


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_alternate_parameters_run_and_change_the_committed_numbers(path, tmp_path):
    """papermill runs the notebook at ALT_PARAMETERS; the numbers it writes are finite and,
    beyond echoes of the parameters themselves and timings, differ from those the committed
    notebook (executed at the defaults; nbval re-runs it there) wrote."""
    assert path.stem in ALT_PARAMETERS, (
        f"add an entry for {path.stem!r} to ALT_PARAMETERS in tests/notebook_parameters.py"
    )
    parameters = ALT_PARAMETERS[path.stem]
    default = committed_results(path)
    assert numbers_in(default), f"{path.name}: the committed notebook wrote no numbers: {default}"
    assert all(math.isfinite(n) for n in numbers_in(default)), f"{path.name}: {default}"

    alternate = run_notebooks([path], tmp_path, parameters, kernel=None)[path.stem]
    numbers = numbers_in(alternate)
    assert numbers, f"{path.name} ({parameters}) wrote no numbers: {alternate}"
    assert all(math.isfinite(n) for n in numbers), f"{path.name} ({parameters}): {alternate}"

    echoed = {name: alternate[name] for name in parameters if name in alternate}
    assert all(same(value, parameters[name]) for name, value in echoed.items()), (
        f"{path.name}: the results named like parameters {echoed} do not hold the values "
        f"given, {parameters}; did papermill's values reach the notebook?"
    )
    before, after = leaves(default), leaves(alternate)
    compared = [key for key in before.keys() & after.keys()  # not parameters, not timings
                if not any(str(k) in parameters or "seconds" in str(k) for k in key)]
    assert compared, (
        f"{path.name}: the committed results share no key with this run's {sorted(alternate)}; "
        "re-execute the notebook with `make notebooks`"
    )
    changed = [key for key in compared if not same(before[key], after[key])]
    assert changed, (
        f"{path.name}: {parameters} changed none of the {len(compared)} results it writes "
        f"(beyond the parameters and timings), against the committed notebook's; are those "
        "parameters used?"
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
