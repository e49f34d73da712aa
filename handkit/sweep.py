"""Parameter sweeps: one notebook run with papermill at every point of a grid.

Any notebook with a cell tagged ``parameters`` that writes its key numbers to ``out_json`` can
be swept (see :mod:`handkit.experiments` for single runs)::

    python -m handkit sweep --notebook notebooks/08_experiments.ipynb \\
        --grid label_every=16,32,64,128 lambda_align=0,0.01,0.1,1 --out runs/sweep-k-lambda
    python -m handkit sweep --notebook notebooks/02_sparse_videos.ipynb \\
        --grid-file experiments/grid_example.yaml -p num_pairs 500 --workers 2 --out runs/s2

Each ``--grid NAME=V1,V2`` sweeps one parameter; the points are the Cartesian product, the first
name varying slowest. Values are Python literals (``0.01``, ``True``, ``None``, ``'text'``; a
bare word is text). ``-p NAME VALUE`` fixes a parameter for every point. A grid file (YAML or
TOML) holds ``fixed:`` values and ``grid:`` lists; ``--grid`` and ``-p`` add to it and win.
Before anything runs, every name and value is checked against the notebook's parameters cell
(:func:`handkit.experiments.check_parameter_values`).

Layout of ``--out`` (e.g. ``runs/sweep-k-lambda/``)::

    sweep.json                        the notebook, grid, fixed values, kernel, workers, command
    results.csv                       a row per point: the swept and fixed parameters, status,
                                      seconds, every number of the point's JSON (nested keys
                                      dotted; a key named like a column gets "result."), folder,
                                      failing cell and error
    results.html                      the figure (results.png too where a system Chromium is
                                      available: through kaleido, else Playwright)
    label_every=16__lambda_align=0.0/ one folder per point, named by its swept values
        08_experiments.ipynb          the executed notebook (with the traceback if it failed)
        08_experiments.json           what the notebook wrote to out_json
        point.json                    its record: notebook, parameters, status, seconds, cell,
                                      error, OMP_NUM_THREADS

Re-running the same command skips every point whose ``point.json`` says "ok" for the same
notebook name and parameters and whose JSON is still there; failed and new points run. (A
changed notebook alone does not redo finished points: delete their folders, or the folder.)

**One sweep per folder.** A sweep folder belongs to one notebook, one set of fixed values and
one set of swept names (recorded in ``sweep.json``): a sweep with other ones (``-p num_pairs
50`` over a sweep made with 100) is refused with one line; choose another ``--out``. Values
may be added to the swept names (new points run, done ones are kept). While a sweep runs it
holds the folder's lock (:func:`handkit.files.folder_lock`): a second sweep into the same folder
stops at once with one line naming the holder. Temporaries an interrupted sweep left are
removed on the next run (one line says so).

**Workers and threads.** ``--workers N`` runs N points at once, each in its own process (spawned;
papermill changes the process's working directory, so threads cannot share one) starting its
own kernel. The caller's threads T are ``OMP_NUM_THREADS`` if set, else the CPUs this process
may use; with N > 1 workers each kernel's environment gets ``OMP_NUM_THREADS = max(1, T // N)``
(N is capped at the number of points to run), so N x threads <= T whenever N <= T, and
``OMP_WAIT_POLICY=PASSIVE`` unless the caller set it. With one worker the kernel inherits the
caller's environment unchanged. A notebook should write its side outputs next to ``out_json``,
not into a fixed folder, so that parallel points do not collide.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import itertools
import json
import multiprocessing
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from handkit.errors import InputError, check_output_folder, command, read_text, yaml_problem
from handkit.experiments import (
    CELL_TIMEOUT_S,
    DEFAULT_KERNEL,
    NotebookRunError,
    check_parameter_values,
    kernel_options,
    parse_value,
    read_results,
    run_notebook,
    scalar_numbers,
)
from handkit.files import (
    FolderInUseError,
    folder_lock,
    remove_stale_temporaries,
    removed_note,
    write_text_atomic,
)
from handkit.viz.sweep import sweep_figure, write_png

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

POINT_FILE = "point.json"
SWEEP_FILE = "sweep.json"
RESULTS_CSV = "results.csv"
FIGURE_HTML = "results.html"
FIGURE_PNG = "results.png"

#: Columns of results.csv besides the parameters and the numbers.
STATUS_COLUMNS = ("status", "seconds")
TRAILING_COLUMNS = ("folder", "cell", "error")

#: Longest point folder name; longer ones are cut and end in a hash of the values.
_FOLDER_NAME_MAX = 120


@dataclass(frozen=True)
class SweepPoint:
    """One grid point.

    Attributes:
        swept: name -> value of the swept parameters, in grid order.
        parameters: every parameter given to the notebook (fixed ones, then swept ones).
        folder: name of the point's subfolder, e.g. ``"label_every=16__lambda_align=0.0"``.
    """

    swept: dict[str, Any]
    parameters: dict[str, Any]
    folder: str

    @property
    def label(self) -> str:
        """``"label_every=16, lambda_align=0.0"``."""
        return ", ".join(f"{name}={value!r}" for name, value in self.swept.items())


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: values coerced to the declared types (an int where a float is declared
    becomes a float), the points in product order."""

    notebook: Path
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    points: tuple[SweepPoint, ...]


@dataclass(frozen=True)
class PointOutcome:
    """A point after the sweep: ``record`` is its ``point.json`` (status "ok" or "failed",
    seconds, cell, error, message); ``results`` the dict its JSON holds (None if it failed);
    ``skipped``: done by an earlier run, not run again."""

    point: SweepPoint
    record: dict[str, Any]
    results: dict[str, Any] | None
    skipped: bool

    @property
    def ok(self) -> bool:
        return self.record.get("status") == "ok"


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` did and wrote: the points in grid order and the output paths;
    ``png_note`` is one line saying where the PNG went or why it was skipped."""

    out_dir: Path
    points: tuple[PointOutcome, ...]
    csv_path: Path
    figure_path: Path
    png_note: str

    @property
    def failed(self) -> list[PointOutcome]:
        return [outcome for outcome in self.points if not outcome.ok]


def parse_grid_values(text: str) -> list[Any]:
    """The values of one ``--grid`` option: comma-separated Python literals, else text.

    >>> parse_grid_values("0,0.01,True,None,'a,b'")
    [0, 0.01, True, None, 'a,b']
    >>> parse_grid_values("train,val")
    ['train', 'val']
    """
    try:
        return list(ast.literal_eval(f"({text},)"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise ValueError(f"empty value in {text!r}; expected V1,V2,...") from None
        return [parse_value(part) for part in parts]


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``"label_every=16,32"`` -> ``("label_every", [16, 32])``."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip().isidentifier() or not values.strip():
        raise ValueError(f"--grid expects NAME=V1,V2,... (e.g. label_every=16,32), got {text!r}")
    return name.strip(), parse_grid_values(values)


def load_grid_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) grid file.

    It holds ``fixed:`` (name -> value, the same at every point) and ``grid:`` (name -> list
    of values), both optional; nothing else.

    Returns:
        (fixed, grid).

    Raises:
        ValueError: another extension, unreadable content, unknown keys, or a grid entry that
            is not a non-empty list.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise ValueError(f"a grid file ends in .yaml, .yml or .toml; got {path.name}")
    if suffix == ".toml" and tomllib is None:
        raise ValueError(f"{path}: TOML grid files need Python 3.11 or newer; use YAML")
    text = read_text(path, suffix[1:].upper())
    try:
        data = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        raise InputError(f"{path}: cannot read it as {suffix[1:].upper()}: "
                         f"{yaml_problem(error)}") from None
    data = {} if data is None else data
    if not isinstance(data, dict) or set(data) - {"fixed", "grid"}:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected the keys 'fixed' and 'grid'; found {found}")
    fixed, grid = data.get("fixed") or {}, data.get("grid") or {}
    for key, value in (("fixed", fixed), ("grid", grid)):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must map names to values; got {value!r}")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"{path}: grid.{name} must be a non-empty list of values, e.g. [16, 32]; got "
                f"{values!r} (a single value belongs under fixed:)"
            )
    return dict(fixed), {name: list(values) for name, values in grid.items()}


def _canonical(values: Any) -> str:
    """JSON text that is equal for equal parameters (tuples and lists alike, keys sorted)."""
    return json.dumps(values, sort_keys=True, default=repr)


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


def point_folder_name(swept: Mapping[str, Any]) -> str:
    """Folder name showing the swept values; characters unsafe in paths become ``_``.

    >>> point_folder_name({"label_every": 16, "lambda_align": 0.01, "split": "val"})
    'label_every=16__lambda_align=0.01__split=val'
    """
    name = "__".join(f"{key}={_value_text(value)}" for key, value in swept.items())
    if len(name) > _FOLDER_NAME_MAX:
        name = f"{name[:_FOLDER_NAME_MAX - 9]}-{_digest(swept)}"
    return name


def _digest(values: Any) -> str:
    return hashlib.sha1(_canonical(values).encode()).hexdigest()[:8]


def plan_sweep(
    notebook: str | Path, grid: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any] | None = None
) -> SweepPlan:
    """Check a sweep against the notebook's parameters cell and list its points.

    Args:
        notebook: path of the ``.ipynb`` file.
        grid: name -> values to sweep (at least one name, each with at least one value).
        fixed: name -> value given at every point.

    Raises:
        FileNotFoundError: no notebook there.
        ValueError: nothing to sweep, a name both fixed and swept, a value listed twice, or
            (listing the notebook's parameters with defaults and types) an unknown name or a
            value of the wrong type.
    """
    notebook, fixed = Path(notebook), dict(fixed or {})
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}")
    if not grid or not all(len(values) for values in grid.values()):
        raise ValueError(f"nothing to sweep: give --grid NAME=V1,V2 or a grid file with grid: "
                         f"lists; got grid {dict(grid)}")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"{both} both swept (grid) and fixed (-p or fixed:); keep one")
    pairs = [*fixed.items(), *((name, value) for name, values in grid.items() for value in values)]
    checked = check_parameter_values(notebook, pairs)
    fixed = dict(checked[: len(fixed)])
    swept_values: dict[str, list[Any]] = {name: [] for name in grid}
    for name, value in checked[len(fixed):]:
        if _canonical(value) in map(_canonical, swept_values[name]):
            raise ValueError(f"grid {name} lists {value!r} twice: {list(grid[name])}")
        swept_values[name].append(value)
    combos = [dict(zip(swept_values, values, strict=True))
              for values in itertools.product(*swept_values.values())]
    folders = [point_folder_name(swept) for swept in combos]
    folders = [f"{folder}-{_digest(swept)}" if folders.count(folder) > 1 else folder
               for folder, swept in zip(folders, combos, strict=True)]
    points = tuple(SweepPoint(swept, {**fixed, **swept}, folder)
                   for swept, folder in zip(combos, folders, strict=True))
    return SweepPlan(notebook, fixed, swept_values, points)


def caller_threads() -> int:
    """Threads this process may use: ``OMP_NUM_THREADS`` if set, else its CPUs."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_worker(workers: int, threads: int) -> int:
    """Threads for each of ``workers`` parallel kernels sharing ``threads``: at least 1.

    >>> [threads_per_worker(workers, 8) for workers in (1, 2, 3, 16)]
    [8, 4, 2, 1]
    """
    return max(1, threads // workers)


def _init_worker(environment: Mapping[str, str]) -> None:
    os.environ.update(environment)


def _run_point(notebook: str, point_dir: str, parameters: dict[str, Any],
               kernel: str | None, cell_timeout: float | None = None) -> dict[str, Any]:
    """Run one point (in a worker process or the caller's) and write its ``point.json``.

    Any error is caught and recorded (status "failed"), so the other points still run.
    """
    notebook_path, folder = Path(notebook), Path(point_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / POINT_FILE).unlink(missing_ok=True)
    record = {"notebook": notebook_path.name, "parameters": parameters, "status": "ok",
              "cell": None, "error": None, "message": None,
              "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    start = time.perf_counter()
    try:
        run_notebook(notebook_path, folder, parameters, kernel, cell_timeout=cell_timeout)
    except NotebookRunError as error:
        record.update(status="failed", cell=error.cell, error=error.error or str(error),
                      message=str(error))
    except Exception as error:  # e.g. a kernel that died: recorded, the sweep goes on
        record.update(status="failed", error=f"{type(error).__name__}: {error}",
                      message=f"{notebook_path.name}: {type(error).__name__}: {error}")
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["finished"] = datetime.now().isoformat(timespec="seconds")
    write_text_atomic(folder / POINT_FILE, json.dumps(record, indent=2, default=repr) + "\n")
    return record


def _earlier_outcome(point: SweepPoint, folder: Path, notebook: Path) -> PointOutcome | None:
    """The point's earlier successful run, if its record matches and its JSON is there."""
    try:
        record = json.loads((folder / POINT_FILE).read_text())
        results = read_results(folder / f"{notebook.stem}.json", notebook_name=notebook.name)
    except (OSError, ValueError, NotebookRunError):
        return None
    if (not isinstance(record, dict) or record.get("status") != "ok"
            or record.get("notebook") != notebook.name
            or _canonical(record.get("parameters")) != _canonical(point.parameters)):
        return None
    return PointOutcome(point, record, results, skipped=True)


def _execute(plan: SweepPlan, todo: Sequence[SweepPoint], out_dir: Path, kernel: str | None,
             workers: int, threads: int | None, cell_timeout: float | None,
             report: Callable[[SweepPoint, dict[str, Any]], None]) -> None:
    """Run the points, ``workers`` at a time; ``report`` gets each record as it finishes."""
    tasks = {point.folder: (str(plan.notebook), str(out_dir / point.folder), point.parameters,
                            kernel, cell_timeout) for point in todo}
    if workers <= 1:
        for point in todo:
            report(point, _run_point(*tasks[point.folder]))
        return
    environment = {"OMP_NUM_THREADS": str(threads),
                   "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(environment,)) as pool:
        futures = {pool.submit(_run_point, *tasks[point.folder]): point for point in todo}
        try:
            for future in as_completed(futures):
                point = futures[future]
                try:
                    record = future.result()
                except Exception as error:  # the worker process itself died
                    record = {"notebook": plan.notebook.name, "parameters": point.parameters,
                              "status": "failed", "cell": None, "seconds": None,
                              "error": f"{type(error).__name__}: {error}",
                              "message": f"worker process failed: {type(error).__name__}: {error}"}
                report(point, record)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def results_rows(plan: SweepPlan, outcomes: Sequence[PointOutcome]
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    """The results table: (columns, a row per point), rows as name -> value.

    Columns: the swept parameters, the fixed ones, status, seconds, every scalar number of the
    points' JSON (dotted keys; prefixed ``result.`` when named like another column), folder,
    cell, error. A failed point leaves its numbers empty (None).
    """
    reserved = [*plan.grid, *plan.fixed, *STATUS_COLUMNS, *TRAILING_COLUMNS]
    metrics: dict[str, None] = {}
    rows = []
    for outcome in outcomes:
        numbers = {(f"result.{key}" if key in reserved else key): value
                   for key, value in scalar_numbers(outcome.results or {})}
        metrics.update(dict.fromkeys(numbers))
        record = outcome.record
        rows.append({**outcome.point.swept, **plan.fixed, "status": record.get("status"),
                     "seconds": record.get("seconds"), **numbers,
                     "folder": outcome.point.folder, "cell": record.get("cell"),
                     "error": record.get("error")})
    columns = [*plan.grid, *plan.fixed, *STATUS_COLUMNS, *metrics, *TRAILING_COLUMNS]
    return columns, [{column: row.get(column) for column in columns} for row in rows]


def _csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        return json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(row[column]) for column in columns] for row in rows)
    return buffer.getvalue()


def run_sweep(
    notebook: str | Path,
    grid: Mapping[str, Sequence[Any]],
    out_dir: str | Path,
    *,
    fixed: Mapping[str, Any] | None = None,
    workers: int = 1,
    kernel: str | None = DEFAULT_KERNEL,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    command: str | None = None,
    cell_timeout: float | None = None,
) -> SweepOutcome:
    """Run a notebook at every grid point and write the table and figure (module docstring).

    Args:
        notebook: path of the ``.ipynb`` file (a ``parameters`` cell that sets ``out_json``).
        grid: name -> list of values to sweep.
        out_dir: the sweep folder (created; points already done there are skipped).
        fixed: name -> value given at every point.
        workers: points run at once (>= 1), threads split between them.
        kernel: name of an installed Jupyter kernel, or ``None`` for this Python.
        progress: a tqdm progress bar over runs on stderr (the command line shows it when
            stderr is a terminal; elsewhere, e.g. in CI logs, the per-point lines suffice).
        log: called with one line per point and a summary line (e.g. ``print``).
        command: the command line, recorded in ``sweep.json``.
        cell_timeout: seconds one cell of a point may run before the point fails (None: the
            default of :func:`handkit.experiments.run_notebook`).

    Returns:
        a :class:`SweepOutcome`; failed points are in ``.failed`` (nothing is raised for them).

    Raises:
        ValueError, FileNotFoundError: the sweep is refused before any run (:func:`plan_sweep`,
            or ``out_dir`` holds a sweep of another notebook, fixed values or swept names).
        NotebookRunError: the kernel is not installed.
        FolderInUseError: another sweep is running into ``out_dir``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    plan = plan_sweep(notebook, grid, fixed)
    kernel_options(kernel)
    out_dir = Path(out_dir).resolve()
    with folder_lock(out_dir, what="handkit sweep"):
        check_same_sweep(out_dir, plan)
        removed = remove_stale_temporaries(out_dir, *(out_dir / p.folder for p in plan.points))
        note = removed_note(removed, out_dir)
        if note and log:
            log(note)
        return _run_locked(plan, out_dir, workers=workers, kernel=kernel, progress=progress,
                           log=log, command=command, cell_timeout=cell_timeout)


def _sweep_identity(notebook: str, fixed: Any, grid: Any) -> dict[str, Any]:
    return {"notebook": Path(str(notebook)).name, "fixed": json.loads(_canonical(fixed)),
            "swept names": sorted(grid)}


def check_same_sweep(out_dir: Path, plan: SweepPlan) -> None:
    """Refuse (ValueError, one line) a sweep into a folder whose ``sweep.json`` records another
    notebook, other fixed values or other swept names."""
    try:
        recorded = json.loads((out_dir / SWEEP_FILE).read_text())
        earlier = _sweep_identity(recorded["notebook"], recorded["fixed"], recorded["grid"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # no sweep there yet (or no readable record: nothing to compare with)
    now = _sweep_identity(str(plan.notebook), plan.fixed, plan.grid)
    if earlier != now:
        differs = [key for key in now if now[key] != earlier[key]]
        shown = "; ".join(f"{key} {earlier[key]} there, {now[key]} now" for key in differs)
        raise ValueError(f"{out_dir} holds another sweep ({shown}); a sweep folder keeps one "
                         f"notebook, fixed values and swept names: choose another --out")


def _run_locked(plan: SweepPlan, out_dir: Path, *, workers: int, kernel: str | None,
                progress: bool, log: Callable[[str], None] | None, command: str | None,
                cell_timeout: float | None) -> SweepOutcome:
    """:func:`run_sweep` once the folder is locked and checked."""
    outcomes = {point.folder: _earlier_outcome(point, out_dir / point.folder, plan.notebook)
                for point in plan.points}
    todo = [point for point in plan.points if outcomes[point.folder] is None]
    parallel = min(workers, len(todo))
    threads = threads_per_worker(parallel, caller_threads()) if parallel > 1 else None
    description = {
        "notebook": str(plan.notebook), "grid": plan.grid, "fixed": plan.fixed,
        "kernel": kernel or "current env", "workers": workers,
        "omp_num_threads_per_worker": threads or os.environ.get("OMP_NUM_THREADS"),
        "command": command, "started": datetime.now().isoformat(timespec="seconds"),
    }
    write_text_atomic(out_dir / SWEEP_FILE, json.dumps(description, indent=2, default=repr) + "\n")
    say = log or (lambda line: None)
    say(f"sweep of {plan.notebook.name}: {len(plan.points)} points, "
        f"{len(plan.points) - len(todo)} already done, {len(todo)} to run on {max(parallel, 1)} "
        f"worker(s) ({f'OMP_NUM_THREADS={threads} each' if threads else 'threads inherited'})")

    with tqdm(total=len(plan.points), initial=len(plan.points) - len(todo), unit="run",
              desc="sweep", file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        def report(point: SweepPoint, record: dict[str, Any]) -> None:
            results = None
            if record["status"] == "ok":
                results = read_results(out_dir / point.folder / f"{plan.notebook.stem}.json",
                                       notebook_name=plan.notebook.name)
            outcomes[point.folder] = PointOutcome(point, record, results, skipped=False)
            status = "ok" if record["status"] == "ok" else f"FAILED ({record['error']})"
            with bar.external_write_mode(file=sys.stderr):
                say(f"{point.label}: {status} in {record['seconds']} s")
            bar.update()

        _execute(plan, todo, out_dir, kernel, parallel, threads, cell_timeout, report)

    ordered = tuple(outcomes[point.folder] for point in plan.points)
    csv_path, figure_path, png_note = _write_table_and_figure(plan, ordered, out_dir)
    description.update(finished=datetime.now().isoformat(timespec="seconds"),
                       points=len(ordered), ran=len(todo),
                       failed=sum(not outcome.ok for outcome in ordered))
    write_text_atomic(out_dir / SWEEP_FILE, json.dumps(description, indent=2, default=repr) + "\n")
    return SweepOutcome(out_dir, ordered, csv_path, figure_path, png_note)


def _write_table_and_figure(plan: SweepPlan, outcomes: Sequence[PointOutcome], out_dir: Path
                            ) -> tuple[Path, Path, str]:
    """results.csv, results.html and (where possible) results.png: (csv, html, PNG note)."""
    columns, rows = results_rows(plan, outcomes)
    csv_path = out_dir / RESULTS_CSV
    write_text_atomic(csv_path, _csv_text(columns, rows))
    first_metric = len(plan.grid) + len(plan.fixed) + len(STATUS_COLUMNS)
    failed = sum(not outcome.ok for outcome in outcomes)
    fig = sweep_figure(rows, swept=list(plan.grid),
                       metrics=columns[first_metric:-len(TRAILING_COLUMNS)],
                       title=f"{plan.notebook.stem}: sweep over {', '.join(plan.grid)}"
                       + (f" ({failed} failed point(s) left out)" if failed else ""))
    figure_path = out_dir / FIGURE_HTML
    # plotly.js inside the file (4.6 MB): the figure opens offline and in CI artifacts
    write_text_atomic(figure_path, fig.to_html(include_plotlyjs=True, full_html=True))
    return csv_path, figure_path, write_png(fig, out_dir / FIGURE_PNG)


def format_sweep_table(outcome: SweepOutcome) -> str:
    """Plain text: a line per point with its swept values, status and seconds."""
    header = [*outcome.points[0].point.swept, "status", "seconds"]
    lines = [[*(repr(v) for v in p.point.swept.values()),
              ("ok (earlier run)" if p.skipped else "ok") if p.ok else "FAILED",
              str(p.record.get("seconds"))] for p in outcome.points]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join("  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True))
                     .rstrip() for row in [header, ["-" * w for w in widths], *lines])


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m handkit sweep",
        description="Run a notebook with papermill at every point of a parameter grid; keep each "
        "executed notebook and JSON, write results.csv and a plotly figure (handkit.sweep).",
    )
    parser.add_argument("--notebook", type=Path, required=True, help="the notebook to sweep")
    parser.add_argument(
        "--grid", nargs="+", action="extend", default=[], metavar="NAME=V1,V2",
        help="a swept parameter and its values (Python literals), e.g. label_every=16,32,64",
    )
    parser.add_argument("--grid-file", type=Path, help="YAML or TOML file with fixed: and grid:")
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="a fixed parameter for every point; VALUE is read as a Python literal",
    )
    parser.add_argument("--out", type=Path, required=True, help="the sweep folder")
    parser.add_argument("--workers", type=int, default=1,
                        help="notebooks run at once, threads split between them (default 1)")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT_S, metavar="SECONDS",
                        help=f"seconds one cell may run (default {CELL_TIMEOUT_S})")
    kernels = parser.add_mutually_exclusive_group()
    kernels.add_argument(
        "--kernel", default=DEFAULT_KERNEL, help=f"Jupyter kernel (default: {DEFAULT_KERNEL})"
    )
    kernels.add_argument(
        "--current-env", action="store_true", help="run the notebooks in this Python instead"
    )
    args = parser.parse_args(list(argv))
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.cell_timeout <= 0:
        parser.error(f"--cell-timeout must be positive, got {args.cell_timeout}")
    if not args.grid and not args.grid_file:
        parser.error("nothing to sweep: give --grid NAME=V1,V2 ... or --grid-file FILE")
    return args


@command("sweep")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit sweep``: see the module docstring. Exit code 1 if any point failed,
    or with one line on stderr if the sweep is refused (:mod:`handkit.errors`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        check_output_folder(args.out, "--out")
        fixed, grid = load_grid_file(args.grid_file) if args.grid_file else ({}, {})
        grid.update(parse_grid_option(text) for text in args.grid)
        fixed.update({name: parse_value(value) for name, value in args.parameter})
        outcome = run_sweep(
            args.notebook, grid, args.out, fixed=fixed, workers=args.workers,
            kernel=None if args.current_env else args.kernel, log=log,
            progress=sys.stderr.isatty(),
            command=shlex.join(["python", "-m", "handkit", "sweep", *argv]),
            cell_timeout=args.cell_timeout,
        )
    except (ValueError, FileNotFoundError, NotebookRunError, FolderInUseError) as error:
        print(f"handkit sweep: refused: {error}", file=sys.stderr)
        return 1
    print(format_sweep_table(outcome))
    print(f"\ntable: {outcome.csv_path}\nfigure: {outcome.figure_path}\n{outcome.png_note}",
          file=sys.stderr)
    if outcome.failed:
        print(f"handkit sweep: {len(outcome.failed)} of {len(outcome.points)} point(s) failed "
              "(re-run the same command to redo only those):", file=sys.stderr)
        for failed in outcome.failed:
            message = (failed.record.get("message") or "").replace("\n", "\n    ")
            print(f"  {failed.point.label}: {message}", file=sys.stderr)
        return 1
    return 0
