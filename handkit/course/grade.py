"""Grade submitted notebooks: run them with the instructor's hidden tests put back.

For each submission, the matching instructor notebook (same file name, or a name that starts
with the kit notebook's, e.g. ``01_mano_basics-alice.ipynb``) gives the exercises. The
submission's test cells and its ``parameters`` cell are replaced by the instructor's (so the
hidden tests run, and at the notebook's defaults), then the notebook is executed top to bottom
in a scratch folder with errors allowed: an exercise's points are earned when its test cell
runs without an error. A stub's ``NotImplementedError`` is an unearned exercise, not a crash;
errors in other cells are listed too.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from handkit.course.editions import Exercise, exercise_header, exercises
from handkit.course.kernels import CELL_TIMEOUT_S, kernel_options
from handkit.progress import headless_bars
from handkit.resources import notebooks_folder

#: The kit's source notebooks, in the checkout or the installed package
#: (:mod:`handkit.resources`): the instructor edition (solutions included).
SOURCE_NOTEBOOKS = notebooks_folder()


class GradingError(ValueError):
    """A submission could not be graded (unreadable, or not one of the kit's notebooks)."""


@dataclass
class ExerciseGrade:
    title: str
    points: int
    max_points: int
    error: str | None = None


@dataclass
class NotebookGrade:
    """The grade of one submission."""

    submission: str
    notebook: str
    exercises: dict[str, ExerciseGrade]
    other_errors: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(grade.points for grade in self.exercises.values())

    @property
    def max_points(self) -> int:
        return sum(grade.max_points for grade in self.exercises.values())

    def as_dict(self) -> dict:
        return {"submission": self.submission, "notebook": self.notebook,
                "points": self.points, "max_points": self.max_points,
                "exercises": {key: asdict(grade) for key, grade in self.exercises.items()},
                "other_errors": self.other_errors}

    def lines(self) -> list[str]:
        rows = [f"{self.submission} ({self.notebook})"]
        for key, grade in self.exercises.items():
            note = f"   {grade.error}" if grade.error else ""
            rows.append(f"  {key:5s} {grade.title[:38]:38s} {grade.points:3d} / "
                        f"{grade.max_points}{note}")
        rows.append(f"  {'total':44s} {self.points:3d} / {self.max_points}")
        rows.extend(f"  also raised: {error}" for error in self.other_errors)
        return rows


def read_submission(path: str | Path) -> nbformat.NotebookNode:
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise GradingError(f"{path}: no such file") from None
    except Exception as error:  # nbformat raises several kinds for a file that is not JSON
        raise GradingError(f"{path}: not a readable notebook ({type(error).__name__}: "
                           f"{error})") from None


def instructor_notebook(submission: Path, instructor_dir: Path) -> Path:
    """The kit notebook a submission is a copy of, by its file name."""
    kit = sorted(Path(instructor_dir).glob("[0-9][0-9]_*.ipynb"))
    for path in kit:
        if submission.name == path.name or submission.stem.startswith(path.stem):
            return path
    names = ", ".join(path.name for path in kit) or f"none found in {instructor_dir}"
    raise GradingError(f"{submission}: not one of the kit's notebooks (expected a file named "
                       f"like one of: {names})")


def _error_text(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            value = str(output.evalue).strip().splitlines()
            return f"{output.ename}: {value[0] if value else ''}"[:200]
    return None


def _tagged(cells, tag: str) -> int | None:
    return next((i for i, c in enumerate(cells) if tag in c.metadata.get("tags", [])), None)


def grading_copy(submission: nbformat.NotebookNode, instructor: nbformat.NotebookNode,
                 exercise_list: list[Exercise]) -> tuple[nbformat.NotebookNode, dict[str, int]]:
    """The submission with the instructor's test and parameters cells put back.

    Returns:
        the notebook to execute, and exercise id -> index of its test cell there (exercises
        whose test cell the student deleted are absent).
    """
    notebook = copy.deepcopy(submission)
    where = {}
    for index, cell in enumerate(notebook.cells):
        header = exercise_header(cell.source) if cell.cell_type == "code" else None
        if header:
            where[header["id"]] = index
    for exercise in exercise_list:
        if exercise.id in where:
            notebook.cells[where[exercise.id]].source = instructor.cells[exercise.test_cell].source
    mine, theirs = _tagged(notebook.cells, "parameters"), _tagged(instructor.cells, "parameters")
    if mine is not None and theirs is not None:
        notebook.cells[mine].source = instructor.cells[theirs].source
    wanted = {exercise.id for exercise in exercise_list}
    return notebook, {key: value for key, value in where.items() if key in wanted}


def grade_notebook(path: str | Path, instructor_dir: str | Path = SOURCE_NOTEBOOKS, *,
                   kernel: str | None = None, cell_timeout: float = CELL_TIMEOUT_S
                   ) -> NotebookGrade:
    """Execute one submission with the hidden tests and return its points per exercise.

    Raises:
        GradingError: the file is unreadable or is not one of the kit's notebooks.
    """
    path = Path(path)
    submission = read_submission(path)
    source = instructor_notebook(path, Path(instructor_dir))
    instructor = nbformat.read(source, as_version=4)
    exercise_list = exercises(instructor, source.name)
    notebook, test_cells = grading_copy(submission, instructor, exercise_list)
    options = kernel_options(kernel)
    with tempfile.TemporaryDirectory(prefix="handkit-grade-") as scratch, headless_bars():
        NotebookClient(notebook, allow_errors=True, interrupt_on_timeout=True,
                       timeout=cell_timeout, record_timing=False, store_widget_state=True,
                       resources={"metadata": {"path": scratch}}, **options).execute()
    grades, graded = {}, set(test_cells.values())
    for exercise in exercise_list:
        if exercise.id not in test_cells:
            grades[exercise.id] = ExerciseGrade(exercise.title, 0, exercise.points,
                                                "its test cell is missing from the submission")
            continue
        error = _error_text(notebook.cells[test_cells[exercise.id]])
        grades[exercise.id] = ExerciseGrade(exercise.title, 0 if error else exercise.points,
                                            exercise.points, error)
    others = [f"cell {i}: {_error_text(cell)}" for i, cell in enumerate(notebook.cells)
              if i not in graded and _error_text(cell)]
    return NotebookGrade(path.name, source.name, grades, others)
