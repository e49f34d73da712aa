"""Run notebooks headless with papermill and tabulate the numbers they write.

Every notebook has one cell tagged ``parameters``; one of its parameters, ``out_json``, names the
JSON file where the notebook writes its key numbers. :func:`run_notebooks` executes notebooks
with chosen parameters into a folder, pointing each ``out_json`` into that folder, and returns
what they wrote; :func:`scalar_numbers` lists the numbers in it.
:func:`check_parameters` refuses, before anything runs, a parameter the notebook does not
define or a value of another type than its default's (``0.5`` where ``seed = 0`` is declared);
an int is accepted, as a float, where the default is a float. :mod:`handkit.experiments.sweep`
runs one notebook over a grid of parameters with the same pieces.

``python -m handkit run`` (what ``make run`` and ``make notebooks`` call) is
:mod:`handkit.run_cli`.

Kernels are started with CurveZMQ keys where the kernel declares support (ipykernel 7 does):
their sockets are encrypted, and the kernel does not warn, once per notebook, that it runs over
TCP without encryption.
"""

from __future__ import annotations

import ast
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
import zmq
from ipykernel.kernelspec import RESOURCES, get_kernel_dict
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from handkit.errors import number_text_hint
from handkit.progress import headless_bars

#: The parameter every notebook uses for the path of the JSON file it writes.
OUT_JSON = "out_json"

#: Longest a single notebook cell may run (s) before the run is stopped with an error, so a
#: headless run can never hang (every notebook's defaults take well under a minute).
CELL_TIMEOUT_S = 600

#: The Jupyter kernel ``make run`` registers for the repository's ``.venv``.
DEFAULT_KERNEL = "handkit"

#: Kernel name used when ``kernel=None``: the Python running this code.
_CURRENT_ENV_KERNEL = "handkit-current-env"


class NotebookRunError(RuntimeError):
    """A notebook failed or did not write its JSON; the message names notebook and cell.

    Attributes:
        cell: ``"In [5], the cell starting 'x = f()'"`` when a cell raised, else ``None``.
        error: the notebook's error, ``"ValueError: boom"``, when a cell raised, else ``None``.
    """

    def __init__(self, message: str, *, cell: str | None = None, error: str | None = None):
        super().__init__(message)
        self.cell = cell
        self.error = error


class _CurrentEnvKernelSpecManager(KernelSpecManager):
    """Hands out a kernel running ``sys.executable``, whatever kernel name is asked for."""

    def get_kernel_spec(self, kernel_name):
        return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())


class _EncryptedKernelManager(AsyncKernelManager):
    """Provisions CurveZMQ keys when the kernelspec declares ``supported_encryption: curve``
    (jupyter_client's ``transport_encryption="auto"``); plain TCP otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        if "transport_encryption" in self.class_trait_names() and zmq.has("curve"):
            kwargs.setdefault("transport_encryption", "auto")
        super().__init__(**kwargs)


class _CurrentEnvKernelManager(_EncryptedKernelManager):
    """Starts kernels in the Python running this code (like nbval's ``--nbval-current-env``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kernel_spec_manager=_CurrentEnvKernelSpecManager(), **kwargs)


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters a notebook's ``parameters`` cell defines, as papermill reads them.

    Returns:
        name -> papermill's description (a dict with ``default``, ``inferred_type_name``, ...).
    """
    return papermill.inspect_notebook(str(notebook))


#: Type names a parameters cell may use in an annotation (``seed: int = 0``) -> the type.
_ANNOTATION_TYPES = {
    "int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple,
    "dict": dict,
}


@dataclass(frozen=True)
class ParameterSpec:
    """One line of a notebook's ``parameters`` cell: ``name = default  # help``.

    Attributes:
        name: the variable name.
        default: the default as written in the cell (source text, e.g. ``'"train"'``).
        types: the accepted types, from an annotation (``x: int = 3``, ``Optional[float]``) or
            else the type of the default; ``None`` when unknown (a ``None`` default or an
            expression such as ``Path("x")``): then any value is accepted.
        nullable: ``None`` is accepted too (a ``None`` default or an ``Optional`` annotation).
        help: the cell's comment on that line.
    """

    name: str
    default: str
    types: tuple[type, ...] | None
    nullable: bool
    help: str = ""

    @property
    def type_name(self) -> str:
        """``"int"``, ``"float | None"``, ``"any"``."""
        if self.types is None:
            return "any"
        names = [t.__name__ for t in self.types] + (["None"] if self.nullable else [])
        return " | ".join(names)

    def coerce(self, value: Any) -> Any:
        """``value`` if the cell accepts it (an int becomes a float where a float is declared).

        Raises:
            TypeError: a value of another type, e.g. ``0.5`` where an ``int`` is declared.

        >>> ParameterSpec("lambda_align", "0.1", (float,), False).coerce(1)
        1.0
        >>> ParameterSpec("label_every", "128", (int,), False).coerce(0.5)
        Traceback (most recent call last):
        ...
        TypeError: label_every=0.5 is float, but the notebook declares int (label_every = 128)
        """
        if self.types is None or (value is None and self.nullable):
            return value
        if isinstance(value, bool):  # bool is an int subclass: only a declared bool takes it
            accepted = bool in self.types
        elif isinstance(value, int) and float in self.types and int not in self.types:
            return float(value)
        elif isinstance(value, (list, tuple)):
            accepted = list in self.types or tuple in self.types
        else:
            accepted = type(value) in self.types
        if not accepted:
            numeric = int in self.types or float in self.types
            hint = number_text_hint(value) if numeric else ""
            raise TypeError(
                f"{self.name}={value!r} is {type(value).__name__}, but the notebook declares "
                f"{self.type_name} ({self.name} = {self.default}){hint}"
            )
        return value


def _annotation_types(annotation: str) -> tuple[tuple[type, ...], bool] | None:
    """(types, nullable) from ``int``, ``Optional[float]``, ``str | None``; None if unknown."""
    text = annotation.replace(" ", "")
    nullable = False
    if text.startswith("Optional[") and text.endswith("]"):
        text, nullable = text[len("Optional["):-1], True
    types = []
    for part in text.split("|"):
        if part in ("None", "NoneType"):
            nullable = True
        elif part.split("[")[0] in _ANNOTATION_TYPES:
            types.append(_ANNOTATION_TYPES[part.split("[")[0]])
        else:
            return None
    return (tuple(types), nullable) if types else None


def parameter_specs(notebook: str | Path) -> dict[str, ParameterSpec]:
    """What a notebook's ``parameters`` cell declares, with the type each parameter accepts.

    Papermill reports an annotation's type (``seed: int = 0``); without one (the handkit
    notebooks write ``seed = 0  # help``) the type of the default's literal is used.

    Returns:
        name -> :class:`ParameterSpec`, in the cell's order.
    """
    specs = {}
    for name, info in notebook_parameters(notebook).items():
        declared = _annotation_types(info.get("inferred_type_name") or "None")
        if declared is None:
            try:
                default = ast.literal_eval(info["default"])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                declared = (None, True)  # an expression: its type is not known before it runs
            else:
                declared = (None, True) if default is None else ((type(default),), False)
        specs[name] = ParameterSpec(name, info["default"], declared[0], declared[1],
                                    info.get("help") or "")
    return specs


def describe_parameters(specs: Mapping[str, ParameterSpec]) -> str:
    """One line per settable parameter: ``name = default  (type)  help`` (``out_json`` left out)."""
    shown = [spec for spec in specs.values() if spec.name != OUT_JSON]
    if not shown:
        return "  (none besides out_json)"
    width = max(len(f"{spec.name} = {spec.default}") for spec in shown)
    type_width = max(len(spec.type_name) for spec in shown) + 2
    return "\n".join(
        f"  {f'{spec.name} = {spec.default}':<{width}}  {f'({spec.type_name})':<{type_width}}"
        f"  {spec.help}".rstrip()
        for spec in shown
    )


def check_parameter_values(
    notebook: str | Path, values: Iterable[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """Check (name, value) pairs against a notebook's parameters cell; return them coerced.

    Several values of one name may be checked at once (a sweep's grid). Every problem is
    collected into one error that lists the notebook's parameters with defaults and types.

    Returns:
        the pairs in order, ints turned into floats where a float is declared.

    Raises:
        ValueError: the notebook declares no ``out_json``, ``out_json`` is among the names (it
            is chosen by the caller), a name is unknown, or a value has the wrong type.
    """
    notebook = Path(notebook)
    specs = parameter_specs(notebook)
    if OUT_JSON not in specs:
        raise ValueError(
            f"{notebook.name}: its parameters cell does not define {OUT_JSON!r}; every notebook "
            f"needs one cell tagged 'parameters' that sets {OUT_JSON} (found: {sorted(specs)})"
        )
    values = list(values)
    if any(name == OUT_JSON for name, _ in values):
        raise ValueError(
            f"{OUT_JSON!r} is chosen by run_notebooks and the sweep (out_dir/<notebook>.json)"
        )
    unknown = sorted({name for name, _ in values if name not in specs})
    problems = [f"{notebook.name}: unknown parameter(s) {unknown}"] if unknown else []
    checked = []
    for name, value in values:
        if name in specs:
            try:
                checked.append((name, specs[name].coerce(value)))
            except TypeError as error:
                problems.append(f"{notebook.name}: wrong type: {error}")
    if problems:
        raise ValueError(
            "\n".join(problems) + f"\nThe parameters cell of {notebook.name} defines "
            f"(name = default  (type)  help):\n{describe_parameters(specs)}"
        )
    return checked


def check_parameters(notebook: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`check_parameter_values` for one set of parameters: names and types, coerced."""
    return dict(check_parameter_values(notebook, parameters.items()))


def _installed_kernel_spec(kernel: str):
    try:
        return KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise NotebookRunError(
            f"Jupyter kernel {kernel!r} is not installed for this Python ({sys.executable}). "
            f"`make run` registers the 'handkit' kernel; by hand: {sys.executable} -m ipykernel "
            f"install --sys-prefix --name handkit. Or use this Python instead: kernel=None "
            f"(--current-env on the command line)."
        ) from None


def kernel_options(kernel: str | None) -> dict[str, Any]:
    """papermill keyword arguments that select the kernel, after checking it exists."""
    if kernel is None:
        return {
            "kernel_name": _CURRENT_ENV_KERNEL,
            "kernel_manager_class": _CurrentEnvKernelManager,
        }
    _installed_kernel_spec(kernel)
    return {"kernel_name": kernel, "kernel_manager_class": _EncryptedKernelManager}


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
            kernel_manager_class=_EncryptedKernelManager,
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit run``: :func:`handkit.run_cli.main`."""
    from handkit.run_cli import main as run_main

    return run_main(argv)
