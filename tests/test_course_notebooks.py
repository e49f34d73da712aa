"""The graded track on the real notebooks: both editions built, graded, and free of solutions.

The instructor editions must earn full marks on every exercise (their code is the sources',
which nbval runs; one is graded here end to end); untouched student editions zero points, with
every cell outside the test cells running (through the fallbacks to handkit's functions), which
is also what running a student edition with papermill needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from handkit.course.editions import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    build,
    exercises,
    source_notebooks,
)
from handkit.course.grade import SOURCE_NOTEBOOKS, grade_notebook
from tests.notebook_parameters import ALT_PARAMETERS, set_parameters

NOTEBOOKS = [path.name for path in source_notebooks(SOURCE_NOTEBOOKS)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    build(SOURCE_NOTEBOOKS, out)
    return out


def _marked_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside, found = source.splitlines(), False, []
    for line in lines:
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside and line.strip():
            found.append(line.strip())
    return found


def test_every_notebook_01_to_07_has_two_exercises_and_08_an_open_one():
    counts = {name[:2]: len(exercises(nbformat.read(SOURCE_NOTEBOOKS / name, as_version=4),
                                      name)) for name in NOTEBOOKS}
    assert all(2 <= counts[f"0{n}"] <= 4 for n in range(1, 8)), counts
    assert counts["08"] >= 1, counts


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_solution_or_hidden_test_line_reaches_the_student(editions, name):
    source = nbformat.read(SOURCE_NOTEBOOKS / name, as_version=4)
    student = (editions / "student" / name).read_text()
    outside = "\n".join(line for cell in source.cells for line in cell.source.splitlines()
                        if line.strip() not in {BEGIN_SOLUTION, END_SOLUTION})
    secret = set()
    for cell in source.cells:
        secret.update(_marked_lines(cell.source, BEGIN_SOLUTION, END_SOLUTION))
        secret.update(_marked_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN))
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in student
    # Lines that also appear elsewhere in the lesson (e.g. "return result") prove nothing.
    telling = {line for line in secret if outside.count(line) <= 1 and len(line) > 8}
    leaked = [line for line in telling if line.replace('"', '\\"') in student]
    assert not leaked, f"{name}: solution or hidden-test lines in the student edition: {leaked}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_instructor_editions_run_the_code_nbval_runs(editions, name):
    """An instructor edition is its source with nbgrader's metadata: the same code cells.

    The nbval run of notebooks/ in ``make test`` executes that code and fails on any error, so
    every test cell of every instructor edition runs without error there, which is what full
    marks are; the next test grades one instructor edition end to end."""
    source = nbformat.read(SOURCE_NOTEBOOKS / name, as_version=4)
    instructor = nbformat.read(editions / "instructor" / name, as_version=4)
    assert [(c.cell_type, c.source) for c in instructor.cells] == [
        (c.cell_type, c.source) for c in source.cells]
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in instructor.cells if c.metadata.get("nbgrader", {}).get("points")}
    assert points == {f"{e.grade_id}-tests": e.points for e in exercises(source, name)}


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_an_instructor_edition_earns_full_marks(editions):
    grade = grade_notebook(editions / "instructor" / "01_mano_basics.ipynb")
    assert grade.points == grade.max_points > 0, grade.lines()
    assert grade.other_errors == [], grade.lines()


@pytest.fixture(scope="module")
def alternate_sources(tmp_path_factory):
    """The source notebooks with their alternate parameters (``ALT_PARAMETERS``, which the
    browser test runs too): cheaper than the defaults where they train or evaluate."""
    folder = tmp_path_factory.mktemp("alternate")
    for name in NOTEBOOKS:
        shutil.copy(SOURCE_NOTEBOOKS / name, folder / name)
        set_parameters(folder / name, ALT_PARAMETERS[name[:-len(".ipynb")]])
    return folder


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.timeout(1800)
def test_untouched_student_editions_earn_zero_and_every_other_cell_runs(editions,
                                                                         alternate_sources):
    """Graded at the alternate parameters (the grader takes the instructor's parameters cell):
    the defaults of the same code run in nbval."""
    for name in NOTEBOOKS:
        grade = grade_notebook(editions / "student" / name, alternate_sources)
        assert grade.points == 0 < grade.max_points, grade.lines()
        assert grade.other_errors == [], grade.lines()
        for exercise in grade.exercises.values():
            assert exercise.error and "NotImplementedError" in exercise.error, grade.lines()


def test_the_teachers_page_lists_every_exercise_and_the_readme_their_totals():
    page = (ROOT / "docs" / "teachers.md").read_text(encoding="utf-8")
    every = []
    for name in NOTEBOOKS:
        for exercise in exercises(nbformat.read(SOURCE_NOTEBOOKS / name, as_version=4), name):
            row = (f"| {exercise.id} (`{name[:-6]}`) | {exercise.title} | {exercise.points} | "
                   f"{exercise.minutes} min |")
            assert row in page, f"docs/teachers.md's exercise table lacks {row}"
            every.append(exercise)
    hours, minutes = divmod(sum(exercise.minutes for exercise in every), 60)
    totals = (f"{len(every)} exercises, {sum(exercise.points for exercise in every)} points, "
              f"about {hours} h {minutes:02d} min")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert totals in " ".join(readme.split()), f"README.md's teachers' summary lacks {totals!r}"
