"""Progress bars: none in a notebook executed headless and saved (execute_in_place, papermill),
where a kernel's ipywidget bar would be saved frozen at "0%"; live elsewhere."""

from __future__ import annotations

import io
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from handkit.course.run import execute_in_place, run_notebooks
from handkit.progress import DISABLE_VARIABLE, bars_disabled, headless_bars, progress_bar
from tests.test_notebook_runner import WRITE_JSON, make_notebook, test_kernel  # noqa: F401

#: Bars as handkit's training and evaluation draw them (tqdm.auto: a widget in a kernel), and a
#: plain tqdm bar (text on stderr; tqdm's own default follows TQDM_DISABLE, tqdm.notebook's not).
BARS = ("from handkit.progress import progress_bar\nfrom tqdm import tqdm\n"
        "for _ in progress_bar(range(16), desc='stage1'):\n    pass\n"
        "for _ in tqdm(range(8), desc='other'):\n    pass")
#: What a saved progress bar looks like: "stage1:   0%|   | 0/16 [00:00<?, ?it/s]".
BAR_TEXT = re.compile(r"\d+%\||it/s\]|s/it\]")


def bar_texts(path) -> list[str]:
    """Every saved output text (streams and text/plain) that shows a progress bar."""
    texts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            texts += [text] if BAR_TEXT.search(text) else []
    return texts


@pytest.fixture
def no_variable(monkeypatch):
    """The test process without TQDM_DISABLE (nbval runs set it)."""
    monkeypatch.delenv(DISABLE_VARIABLE, raising=False)


@pytest.mark.notebook
def test_a_kernel_left_alone_saves_bars_frozen_at_zero(tmp_path, test_kernel,  # noqa: F811
                                                       no_variable):
    """Why: a kernel's tqdm.auto bar is a widget whose saved text is its first state."""
    nb = make_notebook(tmp_path / "bars.ipynb", BARS)
    notebook = nbformat.read(nb, as_version=4)
    NotebookClient(notebook, kernel_name=test_kernel, timeout=120).execute()
    nbformat.write(notebook, nb)
    texts = bar_texts(nb)
    assert texts[0].startswith("stage1:   0%|") and "0/16 [00:00<?, ?it/s]" in texts[0]
    assert "other: 100%|" in texts[-1]  # the text bar ends finished


@pytest.mark.notebook
def test_a_notebook_executed_in_place_saves_no_bar(tmp_path, test_kernel,  # noqa: F811
                                                   no_variable):
    nb = make_notebook(tmp_path / "bars.ipynb", BARS, WRITE_JSON)
    execute_in_place([nb], test_kernel)
    executed = nbformat.read(nb, as_version=4)
    assert [cell.execution_count for cell in executed.cells] == [1, 2, 3, 4]  # all ran
    assert bar_texts(nb) == []
    assert DISABLE_VARIABLE not in os.environ  # only the kernel had it


@pytest.mark.notebook
def test_a_papermill_run_saves_no_bar(tmp_path, no_variable):
    nb = make_notebook(tmp_path / "nbs" / "bars.ipynb", BARS, WRITE_JSON)
    run_notebooks([nb], tmp_path / "out", kernel=None)
    assert (tmp_path / "out" / "bars.ipynb").is_file()
    assert bar_texts(tmp_path / "out" / "bars.ipynb") == []


def test_bars_follow_the_variable(monkeypatch, no_variable):
    def disabled(show=True):
        with progress_bar(range(2), show=show, file=io.StringIO()) as bar:
            return bar.disable

    assert not disabled() and disabled(show=False)
    for value, expected in (("1", True), ("true", True), ("0", False), ("", False)):
        monkeypatch.setenv(DISABLE_VARIABLE, value)
        assert bars_disabled() is expected and disabled() is expected
    monkeypatch.setenv(DISABLE_VARIABLE, "0")
    with headless_bars():
        assert os.environ[DISABLE_VARIABLE] == "1"
    assert os.environ[DISABLE_VARIABLE] == "0"  # restored
