"""Student and instructor editions of the notebooks, made from the one source in ``notebooks/``.

The source notebooks hold every exercise solved, so papermill, nbval and the browser test keep
running them. Exercises use nbgrader's markers, so a teacher can switch to nbgrader:

* a **solution cell** holds ``### BEGIN SOLUTION`` / ``### END SOLUTION``; the first line after
  the begin marker is ``# HINT: ...``. In the student edition the marked lines become
  ``raise NotImplementedError("Exercise N.M: <hint>")`` at the marker's indentation;
* the **test cell** after it starts with ``# Exercise N.M · <title> · <P> points · about <T>
  min`` and holds ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, removed in the student
  edition;
* a cell tagged ``instructor-only`` (an answer key) is left out of the student edition.

The student edition has its outputs cleared; the instructor edition is the source, complete.
Both editions' exercise cells carry nbgrader's cell metadata (``grade_id``, ``points``, ...).
"""

from __future__ import annotations

import copy
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
HINT_PREFIX = "# HINT:"
INSTRUCTOR_ONLY = "instructor-only"
#: The tag of the Binder/Colab launch cells (:mod:`handkit.course.launch`): not course content.
LAUNCH_TAG = "launch"
EDITIONS = ("student", "instructor")

_HEADER = re.compile(
    r"^# Exercise (?P<id>\d+\.\d+) · (?P<title>.+?) · (?P<points>\d+) points? · "
    r"about (?P<minutes>\d+) min\s*$"
)


class ExerciseFormatError(ValueError):
    """A notebook's exercise cells do not follow the markers this module reads."""


@dataclass(frozen=True)
class Exercise:
    """One graded exercise of a notebook.

    Attributes:
        id: ``"1.2"``: notebook 01, second exercise.
        title: what the student writes, e.g. ``"Rodrigues' formula"``.
        points: the test cell's points.
        minutes: estimated time for a student.
        hint: the stub's message in the student edition.
        solution_cell, test_cell: indices of the two cells in the notebook.
    """

    id: str
    title: str
    points: int
    minutes: int
    hint: str
    solution_cell: int
    test_cell: int

    @property
    def grade_id(self) -> str:
        return f"exercise-{self.id}"


def exercise_header(source: str) -> dict | None:
    """The parsed ``# Exercise N.M · title · P points · about T min`` first line, or None."""
    match = _HEADER.match(source.split("\n", 1)[0])
    return match.groupdict() if match else None


def _region(lines: list[str], begin: str, end: str, where: str) -> tuple[int, int] | None:
    """(begin line, end line) of the one marked region in ``lines``, or None without markers."""
    starts = [i for i, line in enumerate(lines) if line.strip() == begin]
    ends = [i for i, line in enumerate(lines) if line.strip() == end]
    if not starts and not ends:
        return None
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ExerciseFormatError(
            f"{where}: expected one {begin!r} followed by one {end!r}; found {len(starts)} and "
            f"{len(ends)}"
        )
    return starts[0], ends[0]


def solution_hint(source: str, where: str) -> str:
    """The ``# HINT:`` line right after ``### BEGIN SOLUTION``."""
    lines = source.split("\n")
    region = _region(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    if region is None:
        raise ExerciseFormatError(f"{where}: no {BEGIN_SOLUTION!r} marker")
    first = lines[region[0] + 1].strip() if region[0] + 1 < len(lines) else ""
    if not first.startswith(HINT_PREFIX):
        raise ExerciseFormatError(
            f"{where}: the line after {BEGIN_SOLUTION!r} must be '{HINT_PREFIX} <what to "
            f"return, in which shape>'; found {first!r}"
        )
    return first[len(HINT_PREFIX):].strip()


def stub_solution(source: str, exercise: str, where: str) -> str:
    """``source`` with its solution region replaced by ``raise NotImplementedError(...)``.

    >>> print(stub_solution("def f(x):\\n    ### BEGIN SOLUTION\\n    # HINT: return 2 x\\n"
    ...                     "    return 2 * x\\n    ### END SOLUTION", "0.1", "test"))
    def f(x):
        raise NotImplementedError("Exercise 0.1: return 2 x")
    """
    lines = source.split("\n")
    region = _region(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    if region is None:
        return source
    hint = solution_hint(source, where)
    indent = lines[region[0]][: len(lines[region[0]]) - len(lines[region[0]].lstrip())]
    message = f"Exercise {exercise}: {hint}".replace("\\", "\\\\").replace('"', '\\"')
    stub = f'{indent}raise NotImplementedError("{message}")'
    return "\n".join(lines[: region[0]] + [stub] + lines[region[1] + 1:])


def strip_hidden_tests(source: str, where: str) -> str:
    """``source`` without its hidden-tests region (markers included)."""
    lines = source.split("\n")
    region = _region(lines, BEGIN_HIDDEN, END_HIDDEN, where)
    if region is None:
        return source
    return "\n".join(lines[: region[0]] + lines[region[1] + 1:]).rstrip()


def exercises(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[Exercise]:
    """The exercises of a notebook, in order; each test cell pairs with the solution cell
    before it.

    Raises:
        ExerciseFormatError: a test cell without a solution cell before it, a solution cell
            without a test cell after it, unbalanced markers, a missing hint, a repeated id.
    """
    found, pending = [], None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        if BEGIN_SOLUTION in cell.source:
            if pending is not None:
                raise ExerciseFormatError(f"{where}: a second solution cell before the test "
                                          f"cell of the one in cell {pending[0]}")
            pending = (index, solution_hint(cell.source, where))
            continue
        header = exercise_header(cell.source)
        if header is None:
            continue
        if pending is None:
            raise ExerciseFormatError(f"{where}: exercise {header['id']}'s test cell has no "
                                      f"solution cell before it")
        found.append(Exercise(header["id"], header["title"], int(header["points"]),
                              int(header["minutes"]), pending[1], pending[0], index))
        pending = None
    if pending is not None:
        raise ExerciseFormatError(f"{name}, cell {pending[0]}: a solution cell with no test cell "
                                  f"('# Exercise N.M · title · P points · about T min') after it")
    ids = [exercise.id for exercise in found]
    if len(set(ids)) != len(ids):
        raise ExerciseFormatError(f"{name}: exercise ids repeat: {ids}")
    return found


def _nbgrader_metadata(cell, *, grade_id: str, solution: bool, points: int | None) -> None:
    meta = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def _with_metadata(notebook: nbformat.NotebookNode, name: str
                   ) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """A copy whose exercise cells carry nbgrader's metadata, and its exercises."""
    notebook = copy.deepcopy(notebook)
    found = exercises(notebook, name)
    for exercise in found:
        _nbgrader_metadata(notebook.cells[exercise.solution_cell],
                           grade_id=exercise.grade_id, solution=True, points=None)
        _nbgrader_metadata(notebook.cells[exercise.test_cell],
                           grade_id=f"{exercise.grade_id}-tests", solution=False,
                           points=exercise.points)
    return notebook, found


def instructor_edition(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The source, complete (solutions, hidden tests, answer keys, outputs), with metadata."""
    return _with_metadata(notebook, name)[0]


def student_edition(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Stubs for solutions, no hidden tests, no ``instructor-only`` cells, no outputs."""
    edition, found = _with_metadata(notebook, name)
    ids = {exercise.solution_cell: exercise.id for exercise in found}
    cells = []
    for index, cell in enumerate(edition.cells):
        if INSTRUCTOR_ONLY in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            where = f"{name}, cell {index}"
            if index in ids:
                cell.source = stub_solution(cell.source, ids[index], where)
            cell.source = strip_hidden_tests(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    edition.cells = cells
    return edition


#: Reading pace for :func:`reading_minutes`: words of text per minute, minutes per code cell.
WORDS_PER_MINUTE = 100
MINUTES_PER_CODE_CELL = 1.0


def reading_minutes(notebook: nbformat.NotebookNode) -> int:
    """An estimate of the time to read and run a notebook, exercises not included: its
    markdown at :data:`WORDS_PER_MINUTE` (technical text with formulas) plus
    :data:`MINUTES_PER_CODE_CELL` per code cell (read it, run it, look at the output), rounded up
    to 5 minutes. Answer keys (``instructor-only``) and the launch cells (Binder and Colab
    links, Colab's install cell) are not counted."""
    words = cells = 0
    for cell in notebook.cells:
        if {INSTRUCTOR_ONLY, LAUNCH_TAG} & set(cell.metadata.get("tags", [])):
            continue
        if cell.cell_type == "markdown":
            words += len(cell.source.split())
        elif cell.cell_type == "code":
            cells += 1
    minutes = words / WORDS_PER_MINUTE + cells * MINUTES_PER_CODE_CELL
    return int(5 * -(-minutes // 5))


def source_notebooks(source_dir: str | Path) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks of ``source_dir``, sorted; refuses a folder without any."""
    paths = sorted(Path(source_dir).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {Path(source_dir)}")
    return paths


def build(source_dir: str | Path, out_dir: str | Path, *, force: bool = False) -> dict:
    """Write ``out_dir/student/`` and ``out_dir/instructor/`` from every source notebook.

    Everything is built in a temporary folder first: a notebook with broken markers leaves
    ``out_dir`` as it was.

    Returns:
        notebook file name -> list of its exercises (as dicts).

    Raises:
        FileExistsError: an edition folder exists and is not empty, and ``force`` is False.
        ExerciseFormatError: a source notebook's exercise cells are malformed.
    """
    out_dir = Path(out_dir)
    for edition in EDITIONS:
        target = out_dir / edition
        if target.exists() and any(target.iterdir()) and not force:
            raise FileExistsError(f"{target} exists and is not empty; pass --force to replace it")
    listing = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".building-") as scratch:
        for edition in EDITIONS:
            (Path(scratch) / edition).mkdir()
        for path in source_notebooks(source_dir):
            notebook = nbformat.read(path, as_version=4)
            listing[path.name] = [asdict(e) for e in exercises(notebook, path.name)]
            nbformat.write(instructor_edition(notebook, path.name),
                           Path(scratch) / "instructor" / path.name)
            nbformat.write(student_edition(notebook, path.name),
                           Path(scratch) / "student" / path.name)
        for edition in EDITIONS:
            shutil.rmtree(out_dir / edition, ignore_errors=True)
            (Path(scratch) / edition).rename(out_dir / edition)
    return listing
