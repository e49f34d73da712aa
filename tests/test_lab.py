import json
from datetime import datetime

import pytest

from handkit.course.lab import (
    LAB_SETTINGS,
    MANIFEST,
    REPLACED_DIR,
    install_lab_settings,
    lab_command,
    main,
    prepare_copies,
)


@pytest.fixture
def course(tmp_path):
    source = tmp_path / "notebooks"
    source.mkdir()
    for name in ("01_a", "02_b"):
        (source / f"{name}.ipynb").write_text(f'{{"cells": [], "name": "{name}"}}')
    return source, tmp_path / "my-notebooks"


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_first_launch_copies_every_notebook_and_leaves_the_source_alone(course):
    source, copies = course
    before = snapshot(source)
    report = prepare_copies(source, copies)
    assert report.copied == ["01_a", "02_b"] and not report.replaced and not report.outdated
    assert (copies / "01_a.ipynb").read_bytes() == (source / "01_a.ipynb").read_bytes()
    assert snapshot(source) == before
    assert "made working copies of 01_a, 02_b" in report.lines(copies)[0]
    again = prepare_copies(source, copies)
    assert not (again.copied or again.replaced or again.outdated) and again.lines(copies) == []


def test_a_students_changes_survive_and_new_notebooks_are_added(course):
    source, copies = course
    prepare_copies(source, copies)
    (copies / "01_a.ipynb").write_text("my edits")
    (source / "03_c.ipynb").write_text("{}")
    report = prepare_copies(source, copies)
    assert report.copied == ["03_c"]
    assert (copies / "01_a.ipynb").read_text() == "my edits"


def test_a_newer_committed_version_is_reported_not_applied(course):
    source, copies = course
    prepare_copies(source, copies)
    (copies / "02_b.ipynb").write_text("my edits")
    (source / "02_b.ipynb").write_text('{"updated": true}')
    report = prepare_copies(source, copies)
    assert report.outdated == ["02_b"]
    assert (copies / "02_b.ipynb").read_text() == "my edits"
    assert 'make lab-reset NOTEBOOK="02_b"' in report.lines(copies)[0]


def test_reset_one_keeps_the_old_copy(course):
    source, copies = course
    prepare_copies(source, copies)
    (copies / "01_a.ipynb").write_text("my edits")
    report = prepare_copies(source, copies, reset=["01_a.ipynb"], now=datetime(2026, 1, 2, 3, 4, 5))
    assert report.replaced == ["01_a"] and not report.copied
    assert (copies / "01_a.ipynb").read_bytes() == (source / "01_a.ipynb").read_bytes()
    assert (copies / REPLACED_DIR / "01_a-20260102-030405.ipynb").read_text() == "my edits"
    assert json.loads((copies / MANIFEST).read_text()).keys() == {"01_a", "02_b"}


def test_reset_all_and_unknown_names(course):
    source, copies = course
    prepare_copies(source, copies)
    assert prepare_copies(source, copies, reset=[]).replaced == ["01_a", "02_b"]
    with pytest.raises(ValueError, match=r"cannot reset \['09_x'\]: not in"):
        prepare_copies(source, copies, reset=["09_x"])
    with pytest.raises(FileNotFoundError, match="no notebooks in"):
        prepare_copies(copies / "empty", copies)


def test_lab_settings_switch_off_the_news_popup(tmp_path):
    path = install_lab_settings(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.d/handkit.json"
    assert json.loads(path.read_text()) == LAB_SETTINGS
    assert LAB_SETTINGS["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_command_line_prepares_without_launching(course, capsys, monkeypatch, tmp_path):
    source, copies = course
    settings = tmp_path / "settings.json"
    monkeypatch.setattr("handkit.course.lab.install_lab_settings", lambda: settings)
    assert main(["--source", str(source), "--dir", str(copies), "--no-launch"]) == 0
    assert "made working copies" in capsys.readouterr().err
    assert main(["--source", str(source), "--dir", str(copies), "--reset", "nope",
                 "--no-launch"]) == 1
    assert "cannot reset ['nope']" in capsys.readouterr().err
    command = lab_command(copies, ["--no-browser"])
    assert command[1:3] == ["-m", "jupyterlab"] and command[-1] == "--no-browser"
    assert f"--ServerApp.root_dir={copies}" in command
