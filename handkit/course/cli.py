"""``python -m handkit course build|grade|list``: the graded track of the course.

::

    python -m handkit course build --out course/          # course/student/, course/instructor/
    python -m handkit course list                         # exercises, points, minutes
    python -m handkit course grade alice/*.ipynb --json grades.json

``grade`` exits 0 whenever grading ran, whatever the score; 1 when it could not grade a file
(unreadable, or not one of the kit's notebooks), naming the file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import nbformat

from handkit.course.editions import build, exercises, reading_minutes, source_notebooks
from handkit.course.grade import SOURCE_NOTEBOOKS, grade_notebook, read_submission
from handkit.course.grade import instructor_notebook as match_instructor
from handkit.errors import InputError
from handkit.files import write_text_atomic


def build_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handkit course build",
        description="Write OUT/student/ (stubs, no hidden tests, no outputs) and "
                    "OUT/instructor/ (complete) from the course notebooks.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two editions")
    parser.add_argument("--source", type=Path, default=SOURCE_NOTEBOOKS,
                        help="the source notebooks (default: the kit's notebooks/)")
    parser.add_argument("--force", action="store_true",
                        help="replace editions already in OUT")
    args = parser.parse_args(argv)
    try:
        listing = build(args.source, args.out, force=args.force)
    except (FileExistsError, FileNotFoundError, ValueError) as error:
        raise InputError(str(error)) from None
    count = sum(len(items) for items in listing.values())
    print(f"built {len(listing)} notebooks with {count} exercises into {args.out}/student/ and "
          f"{args.out}/instructor/")
    return 0


def list_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handkit course list",
        description="The exercises of the course notebooks, and the study time per notebook.")
    parser.add_argument("--source", type=Path, default=SOURCE_NOTEBOOKS)
    args = parser.parse_args(argv)
    study = []
    for path in source_notebooks(args.source):
        notebook = nbformat.read(path, as_version=4)
        items = exercises(notebook, path.name)
        for exercise in items:
            print(f"{exercise.id:5s} {exercise.title:44s} {exercise.points:2d} points  "
                  f"~{exercise.minutes:3d} min  ({path.name})")
        study.append((path.name, reading_minutes(notebook), sum(e.minutes for e in items),
                      sum(e.points for e in items)))
    print(f"\n{'notebook':32s} reading  exercises  points")
    for name, reading, minutes, points in study:
        print(f"{name:32s} {reading:4d} min  {minutes:4d} min  {points:6d}")
    totals = [sum(row[i] for row in study) for i in (1, 2, 3)]
    print(f"{'total':32s} {totals[0]:4d} min  {totals[1]:4d} min  {totals[2]:6d}")
    return 0


def grade_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handkit course grade",
        description="Run submitted notebooks with the hidden tests; print and save the points.")
    parser.add_argument("notebooks", nargs="+", type=Path, help="submitted .ipynb files")
    parser.add_argument("--json", type=Path, help="write the points here as JSON")
    parser.add_argument("--instructor", type=Path, default=SOURCE_NOTEBOOKS,
                        help="the instructor notebooks (default: the kit's notebooks/)")
    parser.add_argument("--kernel", default=None,
                        help="Jupyter kernel name (default: this Python)")
    args = parser.parse_args(argv)
    for path in args.notebooks:  # every file is checked before the first one runs
        try:
            read_submission(path)
            match_instructor(path, args.instructor)
        except ValueError as error:
            raise InputError(str(error)) from None
    grades = []
    for index, path in enumerate(args.notebooks, start=1):
        print(f"[{index}/{len(args.notebooks)}] grading {path} ...", flush=True)
        grade = grade_notebook(path, args.instructor, kernel=args.kernel)
        print("\n".join(grade.lines()), flush=True)
        grades.append(grade)
    points, max_points = sum(g.points for g in grades), sum(g.max_points for g in grades)
    print(f"all notebooks: {points} / {max_points} points")
    if args.json:
        report = {"points": points, "max_points": max_points,
                  "notebooks": {str(path): grade.as_dict()
                                for path, grade in zip(args.notebooks, grades, strict=True)}}
        write_text_atomic(args.json, json.dumps(report, indent=2))
    return 0
