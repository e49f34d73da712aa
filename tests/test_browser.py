"""The notebooks in a real browser: JupyterLab + headless Chromium, driven like a student would.

For every notebook in notebooks/: write its alternate parameters (``ALT_PARAMETERS`` in
tests/notebook_parameters.py, the set papermill runs in tests/test_notebooks.py) into the
parameters cell of its working copy, open the copy, Run All, wait for the kernel, check that no
output is an error, that every plotly figure is drawn (rendered, not blank, not raw JSON, no lost
WebGL context), that the explorers' sliders are there and moving one changes its figure, that
after 50 slider moves at most 12 WebGL contexts are live and every figure is still drawn, and
that the page logged no uncaught JavaScript error, and that the numbers the run wrote to
``out_json`` differ from the committed notebook's (tests/notebook_results.py; papermill makes
this run instead where Chromium is missing). The defaults are run by nbval (``make test``), so
the browser runs the other set, which is also cheaper where it trains (06, 07, 08). New
notebooks are covered without changes here (they need an ``ALT_PARAMETERS`` entry anyway).

Needs the Debian package ``chromium`` (Playwright drives it; its own browser download is not
used); skipped, with the reason in the summary, where it is missing. Screenshots and one JSON
report per notebook go to runs/browser-test/<time>/.
"""

from __future__ import annotations

import ast
import json
import os
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from tests.browser_lab import CHROMIUM_ARGS, ROOT, WEBGL_BUDGET, LabServer, chromium_path
from tests.notebook_parameters import ALT_PARAMETERS, parameters_cell
from tests.notebook_results import check_alternate_results

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.timeout(600)]

CHROMIUM = chromium_path()
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("the browser test must run in CI, but /usr/bin/chromium is missing (.ci/run "
                "installs the Debian package chromium)", pytrace=False)
if CHROMIUM is None:
    pytest.skip("browser test skipped: no Chromium at /usr/bin/chromium (Debian: apt-get install "
                "chromium; .ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser test skipped: playwright "
                               "is not installed (pip install -e .[dev])")

NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def run_folder():
    folder = ROOT / "runs" / "browser-test" / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    return folder


def committed_bytes() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((ROOT / "notebooks").glob("*"))
            if path.is_file()}


@pytest.fixture(scope="module")
def committed():
    return committed_bytes()


@pytest.fixture(scope="module")
def lab(run_folder, committed):
    server = LabServer(run_folder, parameters=ALT_PARAMETERS)
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(name, lab, browser, run_folder):
    from tests.browser_lab import exercise_notebook

    assert name in ALT_PARAMETERS, (
        f"add an entry for {name!r} to ALT_PARAMETERS in tests/notebook_parameters.py"
    )
    copy = nbformat.read(Path(lab.folder) / "notebooks" / f"{name}.ipynb", as_version=4)
    values = {statement.targets[0].id: ast.literal_eval(statement.value)
              for statement in ast.parse(parameters_cell(copy).source).body}
    assert {k: values.get(k) for k in ALT_PARAMETERS[name]} == ALT_PARAMETERS[name], (
        f"{name}: the working copy's parameters cell does not hold ALT_PARAMETERS"
    )
    report = exercise_notebook(browser, lab, name, run_folder)
    assert not report.problems, (
        f"{name} in JupyterLab: " + "; ".join(report.problems)
        + f" (screenshots and report in {run_folder})"
    )
    assert report.webgl_after_moves["live"] <= WEBGL_BUDGET
    assert report.moves >= 50 or report.explorers == 0, report
    assert report.figures > 0, f"{name}: no plotly figure found in the page"
    written = Path(lab.folder) / "notebooks" / values["out_json"]
    assert written.is_file(), f"{name}: Run All in JupyterLab wrote no {written}"
    check_alternate_results(ROOT / "notebooks" / f"{name}.ipynb", ALT_PARAMETERS[name],
                            json.loads(written.read_text()), "JupyterLab")


def test_jupyterlab_worked_on_copies_and_left_notebooks_untouched(lab, committed):
    # runs after the notebooks were opened, run and autosaved in JupyterLab
    copies = Path(lab.folder) / "notebooks"
    assert sorted(path.stem for path in copies.glob("*.ipynb")) == NOTEBOOKS
    assert committed_bytes() == committed
