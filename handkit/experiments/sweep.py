"""Parameter sweeps: one notebook run with papermill at every point of a grid.

Any notebook with a cell tagged ``parameters`` that writes its key numbers to ``out_json`` can
be swept (see :mod:`handkit.course.run` for single runs)::

    python -m handkit sweep --notebook notebooks/08_experiments.ipynb \\
        --grid label_every=16,32,64,128 lambda_align=0,0.01,0.1,1 --out runs/sweep-k-lambda
    python -m handkit sweep --notebook notebooks/02_sparse_videos.ipynb \\
        --grid-file experiments/grid_example.yaml -p num_pairs 500 --workers 2 --out runs/s2

Each ``--grid NAME=V1,V2`` sweeps one parameter; the points are the Cartesian product, the first
name varying slowest. Values are Python literals (``0.01``, ``True``, ``None``, ``'text'``; a
bare word is text). ``-p NAME VALUE`` fixes a parameter for every point. A grid file (YAML or
TOML) holds ``fixed:`` values and ``grid:`` lists; ``--grid`` and ``-p`` add to it and win.
Before anything runs, every name and value is checked against the notebook's parameters cell
(:func:`handkit.course.parameters.check_parameter_values`).

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
import json
import multiprocessing
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from handkit.course.kernels import CELL_TIMEOUT_S, DEFAULT_KERNEL, NotebookRunError, kernel_options
from handkit.course.run import parse_value, read_results, run_notebook
from handkit.errors import check_output_folder, command
from handkit.experiments.sweep_plan import (
    SweepPlan,
    SweepPoint,
    canonical,
    load_grid_file,
    parse_grid_option,
    plan_sweep,
)
from handkit.experiments.sweep_results import (  # noqa: F401 (the file names, re-exported)
    FIGURE_HTML,
    FIGURE_PNG,
    POINT_FILE,
    RESULTS_CSV,
    SWEEP_FILE,
    PointOutcome,
    SweepOutcome,
    format_sweep_table,
    write_table_and_figure,
)
from handkit.files import (
    FolderInUseError,
    folder_lock,
    remove_stale_temporaries,
    removed_note,
    write_text_atomic,
)


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
            or canonical(record.get("parameters")) != canonical(point.parameters)):
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
            default of :func:`handkit.course.run.run_notebook`).

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
    return {"notebook": Path(str(notebook)).name, "fixed": json.loads(canonical(fixed)),
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
    csv_path, figure_path, png_note = write_table_and_figure(plan, ordered, out_dir)
    description.update(finished=datetime.now().isoformat(timespec="seconds"),
                       points=len(ordered), ran=len(todo),
                       failed=sum(not outcome.ok for outcome in ordered))
    write_text_atomic(out_dir / SWEEP_FILE, json.dumps(description, indent=2, default=repr) + "\n")
    return SweepOutcome(out_dir, ordered, csv_path, figure_path, png_note)


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m handkit sweep",
        description="Run a notebook with papermill at every point of a parameter grid; keep each "
        "executed notebook and JSON, write results.csv and a plotly figure "
        "(handkit.experiments.sweep).",
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
