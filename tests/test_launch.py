"""Binder and Colab: the launch cells of the notebooks and the Binder environment. (Neither
service can be reached from here: these tests check the files, not a launch.)"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest

from handkit.course.editions import LAUNCH_TAG, reading_minutes
from handkit.course.launch import (
    INSTALL_ID,
    LINKS_ID,
    apply_launch_cells,
    github_repository,
    install_source,
    repository_url,
    update_notebooks,
)
from handkit.errors import InputError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
URL = "https://github.com/someone/handkit"


def test_every_notebook_has_the_launch_cells_of_the_repository_address():
    url = repository_url()
    assert github_repository(url)
    stale = update_notebooks(REPO / "notebooks", url, write=False)
    assert not stale, f"run python -m handkit course badges: {stale}"
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        code = [cell for cell in cells if cell.cell_type == "code"]
        assert cells[0].id == LINKS_ID and code[0].id == INSTALL_ID, path.name
        assert f"blob/main/notebooks/{path.name}" in cells[0].source
        assert f"labpath=notebooks%2F{path.name}" in cells[0].source
        assert code[0].outputs == [], f"{path.name}: the Colab cell printed something"


def run_cell(source: str) -> tuple[str, list]:
    """Execute a cell's code here, with ``subprocess.run`` recorded instead of run."""
    calls = []
    fake = types.SimpleNamespace(run=lambda *args, **kwargs: calls.append((args, kwargs)))
    out = io.StringIO()
    real = sys.modules["subprocess"]
    sys.modules["subprocess"] = fake
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(source, "<colab cell>", "exec"), {})
    finally:
        sys.modules["subprocess"] = real
    return out.getvalue(), calls


def test_the_install_cell_does_nothing_off_colab_and_installs_on_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert run_cell(install_source(URL)) == ("", [])
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    printed, calls = run_cell(install_source(URL))
    assert printed == "" and len(calls) == 1
    (command,), options = calls[0]
    assert command[1:] == ["-m", "pip", "install", "--quiet",
                           "handkit @ git+https://github.com/someone/handkit@main"]
    assert options == {"check": True}


def test_launch_cells_are_inserted_once_and_follow_the_address():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · title"),
        nbformat.v4.new_code_cell("import numpy as np", execution_count=1),
    ])
    assert apply_launch_cells(notebook, "01_a.ipynb", URL) == ["inserted links",
                                                               "inserted install"]
    assert [cell.id for cell in notebook.cells[:3:2]] == [LINKS_ID, INSTALL_ID]
    assert [cell.metadata.get("tags") for cell in notebook.cells[:3]] == [
        [LAUNCH_TAG], None, [LAUNCH_TAG]]
    assert apply_launch_cells(notebook, "01_a.ipynb", URL) == []
    notebook.cells[2].execution_count = 1
    moved = "https://github.com/elsewhere/kit"
    assert apply_launch_cells(notebook, "01_a.ipynb", moved) == ["updated links",
                                                                 "updated install"]
    assert "github/elsewhere/kit/blob/main/notebooks/01_a.ipynb" in notebook.cells[0].source
    assert notebook.cells[2].execution_count == 1 and len(notebook.cells) == 4


def test_the_launch_cells_do_not_count_as_reading_time():
    body = [nbformat.v4.new_markdown_cell("word " * 450), nbformat.v4.new_code_cell("x = 1")]
    notebook = nbformat.v4.new_notebook(cells=list(body))
    before = reading_minutes(notebook)
    apply_launch_cells(notebook, "01_a.ipynb", URL)
    assert reading_minutes(notebook) == before == 10


@pytest.mark.parametrize("url", ["https://gitlab.com/o/r", "github.com/o/r", "https://github.com/o"])
def test_an_address_that_is_not_a_github_repository_is_refused_in_one_line(url):
    with pytest.raises(InputError, match=r"expected https://github.com/OWNER/NAME") as error:
        github_repository(url)
    assert "\n" not in str(error.value)


def pinned(text: str, name: str) -> str:
    match = re.search(rf'^\s*"?{name}==([\w.]+)"?', text, flags=re.MULTILINE)
    assert match, f"{name} is not pinned"
    return match[1]


def test_binder_installs_the_kit_with_the_pinned_cpu_torch():
    requirements = (REPO / "binder" / "requirements.txt").read_text()
    pyproject = (REPO / "pyproject.toml").read_text()
    for name in ("torch", "torchvision"):
        assert pinned(requirements, name) == pinned(pyproject, name), name
    lines = [line.strip() for line in requirements.splitlines()]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "." in lines  # the repository itself, with its other dependencies
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "ipykernel install --sys-prefix --name handkit" in post_build
