"""What a notebook wrote to ``out_json``, and the check that an alternate-parameter run wrote
other numbers than the committed notebook (shared by the papermill test in
tests/test_notebooks.py and the browser test in tests/test_browser.py: each alternate run happens
once, in the browser where Chromium exists, through papermill otherwise)."""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from handkit.course.parameters import OUT_JSON


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



def check_alternate_results(path: Path, parameters: Mapping[str, Any], alternate: dict,
                            how: str) -> None:
    """Assert that ``alternate`` (what the notebook at ``path`` wrote, run by ``how`` at
    ``parameters``) holds finite numbers, echoes the parameters it names, and, beyond those
    echoes and timings, differs from what the committed notebook (at its defaults) wrote."""
    default = committed_results(path)
    assert numbers_in(default), f"{path.name}: the committed notebook wrote no numbers: {default}"
    assert all(math.isfinite(n) for n in numbers_in(default)), f"{path.name}: {default}"
    numbers = numbers_in(alternate)
    assert numbers, f"{path.name} ({parameters}) wrote no numbers: {alternate}"
    assert all(math.isfinite(n) for n in numbers), f"{path.name} ({parameters}): {alternate}"

    echoed = {name: alternate[name] for name in parameters if name in alternate}
    assert all(same(value, parameters[name]) for name, value in echoed.items()), (
        f"{path.name}: the results named like parameters {echoed} do not hold the values "
        f"given, {parameters}; did {how}'s values reach the notebook?"
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
