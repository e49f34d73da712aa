"""The kit away from a checkout, without building a wheel: where the course files are found
(handkit.resources), what the wheel is configured to take, and ``python -m handkit init``.
(tests/test_wheel.py builds and installs the wheel and runs notebooks from it.)"""

from __future__ import annotations

import glob
import json
import re
import sys
from pathlib import Path

import pytest

from handkit import resources
from handkit.course import init as init_module
from handkit.course.init import README, init_course
from handkit.course.lab import MANIFEST, reset_hint
from handkit.course.run_cli import default_notebooks
from handkit.data.synthetic import default_dataset_path
from handkit.experiments.ablation import committed_ablation
from handkit.experiments.k_lambda import committed_sweep_table
from handkit.experiments.motion_sweep import committed_motion_sweep
from handkit.experiments.table1 import committed_seed1_path, sample_checkpoint_path
from handkit.experiments.table1_files import PAIRED_RUNS, committed_comparisons

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = None

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
needs_tomllib = pytest.mark.skipif(tomllib is None, reason="reading pyproject.toml needs 3.11")


def setuptools_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


@needs_tomllib
def test_every_folder_of_handkit_with_code_is_a_package_of_the_wheel():
    listed = set(setuptools_config()["packages"])
    code = {".".join(path.parent.relative_to(REPO).parts)
            for path in (REPO / "handkit").rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(code - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


@needs_tomllib
def test_every_course_file_pattern_of_the_wheel_matches_files_of_the_checkout():
    config = setuptools_config()
    for package, patterns in config["package-data"].items():
        folder = REPO / config.get("package-dir", {}).get(package, package.replace(".", "/"))
        for pattern in patterns:
            found = [p for p in glob.glob(str(folder / pattern), recursive=True)
                     if Path(p).is_file()]
            assert found, f"{package}: {pattern!r} matches no file in {folder}"


def test_the_readers_find_the_course_files_of_the_checkout():
    assert resources.installed_course() is None  # a checkout: no handkit/_course
    assert resources.course_root() == REPO
    for path in (default_dataset_path(), sample_checkpoint_path(), committed_seed1_path(),
                 committed_sweep_table(), committed_ablation(), committed_motion_sweep()):
        assert path.exists() and REPO in path.parents, path
    for run in PAIRED_RUNS:  # notebook 08 reads them through resources
        assert committed_comparisons(run)
    assert sorted(p.name for p in resources.notebooks_folder().glob("*.ipynb")) == NOTEBOOKS


def test_an_installed_package_is_read_from_its_course_folder(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "handkit"
    synthetic = package / "_course" / "data_samples" / "synthetic"
    synthetic.mkdir(parents=True)
    (synthetic / "index.json").write_text("{}")
    monkeypatch.setattr(resources, "_package_folder", lambda: package)
    assert resources.installed_course() == package / "_course"
    assert default_dataset_path() == synthetic
    with pytest.raises(FileNotFoundError, match="expected the shipped checkpoint at .*_course"):
        sample_checkpoint_path()


def test_init_copies_the_notebooks_as_committed(tmp_path):
    target = tmp_path / "course"
    names = init_course(target)
    assert names == NOTEBOOKS
    for name in names:
        assert (target / name).read_bytes() == (REPO / "notebooks" / name).read_bytes()
    assert "python -m handkit run 01_mano_basics.ipynb" in (target / README).read_text()
    assert set(json.loads((target / MANIFEST).read_text())) == {Path(n).stem for n in names}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]  # no temporary left
    with pytest.raises(ValueError, match="is not empty"):
        init_course(target)


def test_init_takes_an_empty_folder_and_force_replaces_a_full_one(tmp_path):
    target = tmp_path / "course"
    target.mkdir()
    init_course(target)
    (target / "mine.txt").write_text("old")
    init_course(target, force=True)
    assert not (target / "mine.txt").exists() and (target / NOTEBOOKS[0]).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]


def run_init(argv, monkeypatch, capsys):
    """``python -m handkit init`` in this process, without registering a kernel."""
    monkeypatch.setattr(init_module, "register_kernel", lambda name: None)
    status = init_module.main(argv)
    return status, capsys.readouterr()


def test_init_refuses_a_folder_that_holds_something_in_one_line(tmp_path, monkeypatch, capsys):
    target = tmp_path / "course"
    target.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (target / name).write_text("mine")
    status, out = run_init([str(target)], monkeypatch, capsys)
    assert status == 1 and out.out == ""
    assert out.err == (f"handkit init: {target} is not empty (4 entries: a.txt, b.txt, c.txt, "
                       "...); expected a new or empty folder, or add --force to replace what it "
                       "holds\n")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "b.txt", "c.txt", "d.txt"]


def test_init_refuses_a_file_and_the_current_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    status, out = run_init([str(tmp_path / "file")], monkeypatch, capsys)
    assert status == 1
    assert out.err == f"handkit init: DIR {tmp_path / 'file'} is a file, expected a folder\n"
    here = tmp_path / "here"
    here.mkdir()
    (here / "x").write_text("x")
    monkeypatch.chdir(here)
    status, out = run_init([".", "--force"], monkeypatch, capsys)
    assert status == 1 and "holds the current folder" in out.err and (here / "x").is_file()


def test_init_says_what_it_did_and_what_comes_next(tmp_path, monkeypatch, capsys):
    status, out = run_init([str(tmp_path / "course")], monkeypatch, capsys)
    assert status == 0
    assert f"handkit init: 8 notebooks in {tmp_path / 'course'}/" in out.out
    assert f"python -m handkit run {tmp_path / 'course' / NOTEBOOKS[0]}" in out.out


def test_a_failed_init_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(folder, source):
        (folder / "01_half.ipynb").write_text("{")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(init_module, "_fill", fail)
    for target in (tmp_path / "new", tmp_path / "full"):
        if target.name == "full":
            target.mkdir()
            (target / "mine.txt").write_text("kept")
        with pytest.raises(OSError, match="No space"):
            init_course(target, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]


def test_run_without_names_takes_the_notebooks_of_a_folder_made_by_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_notebooks() == []
    (tmp_path / "01_a.ipynb").write_text("{}")
    assert default_notebooks() == []  # not a course folder: no record of the copies
    (tmp_path / MANIFEST).write_text("{}")
    assert default_notebooks() == [Path("01_a.ipynb")]


def test_lab_names_the_reset_command_of_a_checkout_or_an_installed_kit(tmp_path, monkeypatch):
    assert reset_hint(Path("my-notebooks"), ["01_a"]) == 'make lab-reset NOTEBOOK="01_a"'
    (tmp_path / "handkit" / "_course").mkdir(parents=True)
    monkeypatch.setattr(resources, "_package_folder", lambda: tmp_path / "handkit")
    assert reset_hint(Path("course"), ["01_a", "02_b"]) == (
        "python -m handkit lab --dir course --no-launch --reset 01_a 02_b")


def test_no_reader_builds_a_course_path_from_its_own_file():
    """The checkout's folders are found through handkit.resources only (a path made from
    ``__file__``'s parents points into site-packages when installed from a wheel)."""
    offenders = [str(path.relative_to(REPO)) for path in (REPO / "handkit").rglob("*.py")
                 if re.search(r"Path\(__file__\)[^\n]*\.parents\[", path.read_text())]
    assert not offenders, f"read course files through handkit.resources: {offenders}"
