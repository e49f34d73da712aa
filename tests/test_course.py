"""handkit.course editions and grading on a tiny throwaway course (the real notebooks: see
tests/test_course_notebooks.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from handkit.__main__ import main as handkit_main
from handkit.course.editions import (
    ExerciseFormatError,
    build,
    exercises,
    reading_minutes,
    stub_solution,
    student_edition,
)
from handkit.course.exercises import ExerciseMismatch, check, hidden_check, yours_or_handkit
from handkit.course.grade import GradingError, grade_notebook, instructor_notebook

REPO = Path(__file__).resolve().parents[1]

SOLUTION = '''def double(x):
    """2 x."""
    ### BEGIN SOLUTION
    # HINT: return x times 2, same shape
    secret_line = 2 * x
    return secret_line
    ### END SOLUTION'''

TESTS = '''# Exercise 9.1 · Doubling · 3 points · about 5 min
check("9.1", double, lambda x: x + x, 3)
### BEGIN HIDDEN TESTS
hidden_check("9.1", double, lambda x: x + x, 5)
### END HIDDEN TESTS'''


def course_notebook(solution: str = SOLUTION, tests: str = TESTS) -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_code_cell("from handkit.course.exercises import check, hidden_check, "
                      "yours_or_handkit"),
        new_code_cell("seed = 0\nout_json = 'out.json'", metadata={"tags": ["parameters"]}),
        new_markdown_cell("### Exercise 9.1 · Doubling"),
        new_code_cell(solution),
        new_code_cell(tests),
        new_code_cell('double = yours_or_handkit("9.1", double, lambda x: x + x)\n'
                      'print(double(4))', outputs=[]),
        new_markdown_cell("the answer is 8", metadata={"tags": ["instructor-only"]}),
    ])


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    nbformat.write(course_notebook(), folder / "09_demo.ipynb")
    return folder


def test_exercises_are_read_from_the_markers():
    (exercise,) = exercises(course_notebook())
    assert (exercise.id, exercise.title, exercise.points, exercise.minutes) == (
        "9.1", "Doubling", 3, 5)
    assert exercise.hint == "return x times 2, same shape"
    assert (exercise.solution_cell, exercise.test_cell) == (3, 4)


def test_student_edition_has_stubs_no_hidden_tests_no_answers_no_outputs():
    notebook = course_notebook()
    notebook.cells[5].outputs = [nbformat.v4.new_output("stream", text="8\n")]
    student = student_edition(notebook, "09_demo.ipynb")
    text = "\n".join(cell.source for cell in student.cells)
    assert "secret_line" not in text and "HIDDEN" not in text and "hidden_check(" not in text
    assert 'raise NotImplementedError("Exercise 9.1: return x times 2, same shape")' in text
    assert "the answer is 8" not in text
    assert all(not cell.get("outputs") for cell in student.cells if cell.cell_type == "code")
    assert student.cells[4].metadata["nbgrader"]["points"] == 3
    assert student.cells[3].metadata["nbgrader"]["solution"] is True
    assert notebook.cells[5].outputs, "the source notebook is not modified"


def test_stub_keeps_the_indentation_and_escapes_quotes():
    source = ('def f():\n        ### BEGIN SOLUTION\n        # HINT: say "hi"\n'
              '        ### END SOLUTION')
    assert stub_solution(source, "1.1", "x").splitlines()[1] == (
        '        raise NotImplementedError("Exercise 1.1: say \\"hi\\"")')


@pytest.mark.parametrize("solution, tests, message", [
    (SOLUTION.replace("    # HINT: return x times 2, same shape\n", ""), TESTS, "HINT"),
    (SOLUTION.replace("    ### END SOLUTION", ""), TESTS, "expected one"),
    (SOLUTION, TESTS.replace("# Exercise 9.1 ·", "# Exercise 9.1 -"), "no test cell"),
])
def test_malformed_exercises_are_refused_naming_the_cell(solution, tests, message):
    with pytest.raises(ExerciseFormatError, match=message) as error:
        exercises(course_notebook(solution, tests), "09_demo.ipynb")
    assert "09_demo.ipynb, cell" in str(error.value)


def test_build_writes_both_editions_and_refuses_to_overwrite(source, tmp_path):
    out = tmp_path / "out"
    listing = build(source, out)
    assert [e["id"] for e in listing["09_demo.ipynb"]] == ["9.1"]
    instructor = nbformat.read(out / "instructor" / "09_demo.ipynb", as_version=4)
    assert "secret_line" in instructor.cells[3].source
    assert "secret_line" not in (out / "student" / "09_demo.ipynb").read_text()
    with pytest.raises(FileExistsError, match="--force"):
        build(source, out)
    build(source, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["instructor", "student"]


def test_a_broken_source_leaves_the_editions_as_they_were(source, tmp_path):
    out = tmp_path / "out"
    build(source, out)
    before = (out / "student" / "09_demo.ipynb").read_text()
    nbformat.write(course_notebook(SOLUTION.replace("    ### END SOLUTION", "")),
                   source / "09_demo.ipynb")
    with pytest.raises(ExerciseFormatError):
        build(source, out, force=True)
    assert (out / "student" / "09_demo.ipynb").read_text() == before


def test_checks_say_not_done_match_or_what_differs(capsys):
    def stub(x):
        raise NotImplementedError("Exercise 9.9: return 2 x")

    assert check("9.9", stub, lambda x: 2 * x, 1) is None
    assert "not done yet" in capsys.readouterr().out
    assert yours_or_handkit("9.9", stub, abs) is abs
    with pytest.raises(NotImplementedError):
        hidden_check("9.9", stub, lambda x: 2 * x, 1)
    with pytest.raises(ExerciseMismatch, match=r"shape \(2,\); expected \(3,\).*Hint: twice"):
        check("9.9", lambda x: np.zeros(2), lambda x: np.zeros(3), 1, hint="twice")
    assert yours_or_handkit("9.9", stub, abs) is abs, "a failed check keeps handkit's"
    check("9.9", lambda x: 2.0 * x, lambda x: x + x, 1.5)
    mine = lambda x: x  # noqa: E731
    assert yours_or_handkit("9.9", mine, abs) is mine


@pytest.mark.notebook
def test_grading_gives_full_marks_to_the_instructor_and_zero_to_a_stub(source, tmp_path):
    out = tmp_path / "out"
    build(source, out)
    instructor = grade_notebook(out / "instructor" / "09_demo.ipynb", source)
    assert (instructor.points, instructor.max_points, instructor.other_errors) == (3, 3, [])
    student = grade_notebook(out / "student" / "09_demo.ipynb", source)
    assert (student.points, student.max_points, student.other_errors) == (0, 3, [])
    assert "NotImplementedError" in student.exercises["9.1"].error


@pytest.mark.notebook
def test_a_tampered_test_cell_is_replaced_and_a_wrong_answer_gets_zero(source, tmp_path):
    build(source, tmp_path / "out")
    submission = nbformat.read(tmp_path / "out" / "student" / "09_demo.ipynb", as_version=4)
    submission.cells[3].source = "def double(x):\n    return 2 * x if x < 4 else 0"
    submission.cells[4].source = "# Exercise 9.1 · Doubling · 3 points · about 5 min\npass"
    path = tmp_path / "09_demo-alice.ipynb"
    nbformat.write(submission, path)
    grade = grade_notebook(path, source)
    assert grade.points == 0 and "ExerciseMismatch" in grade.exercises["9.1"].error


def test_a_file_that_is_not_a_kit_notebook_is_refused(source, tmp_path):
    with pytest.raises(GradingError, match="09_demo.ipynb"):
        instructor_notebook(tmp_path / "10_other.ipynb", source)


@pytest.mark.notebook
def test_grade_command_prints_and_writes_json_and_exits_0_whatever_the_score(
        source, tmp_path, capsys):
    build(source, tmp_path / "out")
    report = tmp_path / "grades.json"
    student = tmp_path / "out" / "student" / "09_demo.ipynb"
    code = handkit_main(["course", "grade", str(student), "--instructor", str(source),
                         "--json", str(report)])
    assert code == 0
    assert "0 / 3" in capsys.readouterr().out
    graded = json.loads(report.read_text())
    assert graded["notebooks"][str(student)]["exercises"]["9.1"]["max_points"] == 3
    assert (graded["points"], graded["max_points"]) == (0, 3)


def test_grade_command_exits_1_naming_an_unreadable_file(source, tmp_path, capsys):
    bad = tmp_path / "09_demo.ipynb"
    bad.write_text("not json")
    assert handkit_main(["course", "grade", str(bad), "--instructor", str(source)]) == 1
    assert str(bad) in capsys.readouterr().err


def test_build_command(source, tmp_path, capsys):
    assert handkit_main(["course", "build", "--source", str(source), "--out",
                         str(tmp_path / "o")]) == 0
    assert "1 exercises" in capsys.readouterr().out
    assert handkit_main(["course", "build", "--source", str(source), "--out",
                         str(tmp_path / "o")]) == 1
    assert "--force" in capsys.readouterr().err


def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, text=True,
                          capture_output=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_lab_track_opens_working_copies_of_the_chosen_edition():
    dry = _make("-n", "lab", "TRACK=student").stdout
    assert "-m handkit course build --out build/course --force" in dry
    assert "-m handkit lab --source build/course/student --dir my-notebooks-student" in dry
    plain = _make("-n", "lab").stdout
    assert "-m handkit lab --source notebooks --dir my-notebooks -- " in plain
    wrong = _make("course-edition", "TRACK=teacher")
    assert wrong.returncode != 0 and "TRACK must be student or instructor" in wrong.stderr


def test_reading_time_counts_words_and_code_cells_but_not_answer_keys():
    notebook = new_notebook(cells=[new_markdown_cell("word " * 900), new_code_cell("x = 1"),
                                   new_markdown_cell("word " * 5000,
                                                     metadata={"tags": ["instructor-only"]})])
    assert reading_minutes(notebook) == 10  # 9 + 1 min; 11 would round up to 15


def test_list_command_prints_exercises_and_study_time(source, capsys):
    assert handkit_main(["course", "list", "--source", str(source)]) == 0
    out = capsys.readouterr().out
    assert "9.1   Doubling" in out and "3 points" in out
    assert "09_demo.ipynb" in out and "total" in out


def test_a_record_names_every_field_that_differs():
    from dataclasses import dataclass

    from handkit.course.exercises import difference

    @dataclass
    class Loss:
        total: float
        joints: float
        theta: float

    found = difference(Loss(1.0, 0.5, 0.2), Loss(2.0, 1.5, 0.2))
    assert "result.total is 1.0" in found and "result.joints is 0.5" in found
    assert "theta" not in found


def test_arrays_must_have_the_expected_type_and_kind_of_number():
    from handkit.course.exercises import difference

    mask = np.array([True, False])
    assert "holds integers (int64); expected booleans" in difference(mask.astype(np.int64), mask)
    assert "is a ndarray; expected a Tensor" in difference(np.zeros(2), torch.zeros(2))
    assert difference(torch.zeros(2, dtype=torch.float32), torch.zeros(2, dtype=torch.float64)) \
        is None
