"""Run notebooks headless with papermill and tabulate the numbers they write.

:func:`run_notebooks` executes notebooks with chosen parameters into a folder, pointing each
``out_json`` (:mod:`handkit.course.parameters`) into that folder, and returns what they wrote;
:func:`scalar_numbers` lists the numbers in it. :func:`execute_in_place` re-executes the
committed notebooks (``make notebooks``). :mod:`handkit.experiments.sweep` runs one notebook over
a grid of parameters with the same pieces; ``python -m handkit run`` is
:mod:`handkit.course.run_cli`.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat
import papermill
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from handkit.course.kernels import (
    CELL_TIMEOUT_S,
    DEFAULT_KERNEL,
    NotebookRunError,
    _HeadlessKernelManager,
    _installed_kernel_spec,
    kernel_options,
)
from handkit.course.parameters import OUT_JSON, check_parameters
from handkit.progress import headless_bars


def read_results(json_path: str | Path, *, notebook_name: str) -> dict[str, Any]:
    """Load the JSON file a notebook wrote; it must exist and hold a JSON object."""
    json_path = Path(json_path)
    if not json_path.is_file():
        raise NotebookRunError(
            f"{notebook_name} ran but did not write {json_path}; a notebook must write its key "
            f"numbers to the file named by its {OUT_JSON!r} parameter"
        )
    results = json.loads(json_path.read_text())
    if not isinstance(results, dict):
        raise NotebookRunError(
            f"{notebook_name} wrote {type(results).__name__} to {json_path}; expected a JSON object"
        )
    return results


def run_notebook(
    notebook: str | Path,
    out_dir: str | Path,
    parameters: Mapping[str, Any],
    kernel: str | None = DEFAULT_KERNEL,
    *,
    progress_bar: bool = False,
    cell_timeout: float | None = None,
) -> dict[str, Any]:
    """Execute one notebook with papermill and return the JSON it writes.

    The notebook runs with its own folder as working directory (so its relative paths work);
    the executed copy goes to ``out_dir/<name>.ipynb`` and its ``out_json`` parameter is set to
    ``out_dir/<name>.json`` (a file left there by an earlier run is deleted first).

    Args:
        notebook: path of an ``.ipynb`` file.
        out_dir: folder for the executed notebook and the JSON file (created if missing).
        parameters: values for the ``parameters`` cell, already checked with
            :func:`check_parameters`.
        kernel: name of an installed Jupyter kernel, or ``None`` for the Python running this
            function.
        progress_bar: papermill's per-cell progress bar.
        cell_timeout: seconds one cell may run; None: ``CELL_TIMEOUT_S`` (a long training cell
            at big parameters needs more).

    Returns:
        the dict the notebook's JSON file holds.

    Raises:
        NotebookRunError: the kernel is missing, a cell raised (``.cell`` and ``.error`` say
            which and what) or ran longer than ``cell_timeout``, or no JSON object was written.
    """
    notebook = Path(notebook)
    cell_timeout = CELL_TIMEOUT_S if cell_timeout is None else cell_timeout
    options = kernel_options(kernel)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    json_path = out_dir / f"{notebook.stem}.json"
    json_path.unlink(missing_ok=True)  # a file from an earlier run must not pass for this one
    try:
        with headless_bars():  # no frozen progress bar in the saved notebook
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters={**parameters, OUT_JSON: str(json_path)},
                cwd=str(notebook.resolve().parent),
                progress_bar=progress_bar,
                execution_timeout=cell_timeout,
                **options,
            )
    except papermill.PapermillExecutionError as error:
        first_line = error.source.strip().splitlines()[0] if error.source.strip() else ""
        cell = f"In [{error.exec_count}], the cell starting {first_line!r}"
        raise NotebookRunError(
            f"{notebook.name} failed at {cell}: {error.ename}: {error.evalue}\n"
            f"The executed notebook, with the traceback, is at {executed}",
            cell=cell,
            error=f"{error.ename}: {error.evalue}",
        ) from error
    except CellTimeoutError as error:
        raise NotebookRunError(
            f"{notebook.name}: a cell ran longer than {cell_timeout} s ({error})"
        ) from error
    return read_results(json_path, notebook_name=notebook.name)


def run_notebooks(
    notebooks: Iterable[str | Path],
    out_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    kernel: str | None = DEFAULT_KERNEL,
    *,
    progress_bar: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute notebooks one after the other and collect the JSON each writes.

    Each notebook runs as :func:`run_notebook` describes, into ``out_dir``. The first failure
    stops the run.

    Args:
        notebooks: paths of ``.ipynb`` files.
        out_dir: folder for executed notebooks and JSON files (created if missing).
        parameters: values for the ``parameters`` cell, applied to every notebook; each name
            must be defined there and each value must have the declared type (checked with
            :func:`check_parameters` before anything runs).
        kernel: name of an installed Jupyter kernel, or ``None`` for the Python running this
            function.
        progress_bar: papermill's per-cell progress bar.
        log: called with one line of progress per notebook (e.g. ``print``).

    Returns:
        notebook stem (``"01_mano_basics"``) -> the dict its JSON file holds.

    Raises:
        FileNotFoundError: a notebook does not exist.
        ValueError: a notebook lacks ``out_json``, or a parameter is unknown to it or has the
            wrong type.
        NotebookRunError: a kernel is missing, a cell raised, or a notebook wrote no JSON.
    """
    notebooks = [Path(nb) for nb in notebooks]
    for notebook in notebooks:
        if not notebook.is_file():
            raise FileNotFoundError(f"no notebook at {notebook}")
    checked = {notebook: check_parameters(notebook, parameters or {}) for notebook in notebooks}
    kernel_options(kernel)  # a missing kernel is reported before anything runs

    results = {}
    for index, notebook in enumerate(notebooks, start=1):
        prefix = f"[{index}/{len(notebooks)}] {notebook.name}"
        if log:
            log(f"{prefix} ...")
        start = time.perf_counter()
        results[notebook.stem] = run_notebook(
            notebook, out_dir, checked[notebook], kernel, progress_bar=progress_bar
        )
        if log:
            log(f"{prefix} done in {time.perf_counter() - start:.1f} s")
    return results


def _describe_failed_cell(notebook: nbformat.NotebookNode) -> str:
    """``In [n], the cell starting '...'`` for the first cell with an error output."""
    for cell in notebook.cells:
        if any(output.output_type == "error" for output in cell.get("outputs", [])):
            lines = cell.source.strip().splitlines()
            return f"In [{cell.execution_count}], the cell starting {(lines or [''])[0]!r}"
    return "a cell"


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widget_views(notebook: nbformat.NotebookNode) -> None:
    """Keep only the plain-text form of widget outputs.

    The widget state is not saved, so a widget view would have no model to show: JupyterLab
    would show "Error displaying widget" or a raw repr. The plain text stays instead (handkit's
    explorers say there to run the cell); running the cell shows the live widget again.
    """
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(_WIDGET_VIEW, None)


def execute_in_place(
    notebooks: Iterable[str | Path],
    kernel: str = DEFAULT_KERNEL,
    *,
    log: Callable[[str], None] | None = None,
) -> None:
    """Re-execute notebooks top to bottom at their default parameters and save them in place.

    The saved notebook names ``kernel`` as its kernel (JupyterLab opens it there) and holds no
    per-cell timestamps, no widget state, no widget views (only their plain-text form, see
    :func:`_drop_widget_views`) and no progress bars (:func:`handkit.progress.headless_bars`),
    so it stays small and executing it again changes only what the
    code changed. A notebook that fails is left as it was.

    Args:
        notebooks: paths of ``.ipynb`` files; each runs in its own folder.
        kernel: name of an installed Jupyter kernel.
        log: called with one line of progress per notebook (e.g. ``print``).

    Raises:
        FileNotFoundError: a notebook does not exist.
        NotebookRunError: the kernel is missing or a cell raised.
    """
    notebooks = [Path(nb) for nb in notebooks]
    missing = [str(nb) for nb in notebooks if not nb.is_file()]
    if missing:
        raise FileNotFoundError(f"no notebook at {', '.join(missing)}")
    spec = _installed_kernel_spec(kernel)
    for index, path in enumerate(notebooks, start=1):
        prefix = f"[{index}/{len(notebooks)}] {path.name}"
        if log:
            log(f"{prefix} ...")
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        notebook.metadata["kernelspec"] = {
            "name": kernel, "display_name": spec.display_name, "language": spec.language
        }
        client = NotebookClient(
            notebook,
            kernel_name=kernel,
            kernel_manager_class=_HeadlessKernelManager,
            record_timing=False,
            timeout=CELL_TIMEOUT_S,
            # True: nbclient's Output-widget hook fails without its state (KeyError);
            # the state is dropped below before saving.
            store_widget_state=True,
            resources={"metadata": {"path": str(path.resolve().parent)}},
        )
        try:
            with headless_bars():  # no frozen progress bar in the saved notebook
                client.execute()
        except CellExecutionError as error:
            raise NotebookRunError(
                f"{path.name} failed at {_describe_failed_cell(notebook)}: {error.ename}: "
                f"{error.evalue}\n{path} was left unchanged"
            ) from error
        except CellTimeoutError as error:
            raise NotebookRunError(
                f"{path.name}: a cell ran longer than {CELL_TIMEOUT_S} s ({error})\n"
                f"{path} was left unchanged"
            ) from error
        notebook.metadata.pop("widgets", None)
        _drop_widget_views(notebook)
        nbformat.write(notebook, path)
        if log:
            log(f"{prefix} saved in {time.perf_counter() - start:.1f} s")


def scalar_numbers(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, int | float]]:
    """(dotted key, number) for every int or float, nested dicts included; bools are skipped."""
    rows = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(scalar_numbers(value, prefix=f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((name, value))
    return rows


def parse_value(text: str) -> Any:
    """A Python literal (``3``, ``0.5``, ``True``, ``None``, ``'a b'``), else the text itself.

    >>> [parse_value(text) for text in ("3", "0.01", "True", "None", "'a b'", "train")]
    [3, 0.01, True, None, 'a b', 'train']
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
