"""The course website (``make site``): built offline from the committed notebooks, and checked in
a real browser.

The site is built once per module into a scratch folder, with the flags ``make site`` uses and,
where the system allows it, inside a network namespace of its own (``unshare --net``), so the
build has no network at all. Cheap checks read the built files: a page per notebook and per
docs/*.md page, the saved outputs there (never executed: a probe notebook whose code would fail
shows its saved output), every figure in place, nothing loaded from another host. The browser
test serves the site on 127.0.0.1 and opens every page in headless Chromium: HTTP 200, every
plotly figure drawn and not blank, no request leaving 127.0.0.1, no page error, no console
error. Screenshots of the front page, of every page with figures and of every figure go to
runs/site-test/<time>/, with a JSON report of each page's figures, time and problems.
"""

from __future__ import annotations

import contextlib
import doctest
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from tests.browser_lab import CHROMIUM_ARGS, MIN_INK, ROOT, chromium_path, ink

sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import notebook_outputs  # noqa: E402
import offline_check  # noqa: E402
import plain_math  # noqa: E402
from notebook_outputs import FIGURE_CLASS, NOTE_CLASS, PLOTLY_MIME, is_explorer  # noqa: E402
from offline_check import external_loads  # noqa: E402

#: sphinx-build's options in ``make site`` (test_the_makefile_builds_with_these_flags).
SPHINX_FLAGS = ["-b", "html", "-c", "docs", "-d", "build/site-doctrees", "-E", "-W",
                "--keep-going", "-q", ".", "site"]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
#: Every HTML page of the site, relative to its root.
PAGES = (["index.html", "genindex.html", "search.html"]
         + [f"notebooks/{path.stem}.html" for path in NOTEBOOKS]
         + [f"docs/{path.stem}.html" for path in DOC_PAGES])
BUILD_SECONDS = 120


def offline_prefix() -> list[str]:
    """``unshare --net --map-root-user`` where this system can run a command without a network."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "--map-root-user", "true"],
                                  capture_output=True).returncode == 0:
        return [unshare, "--net", "--map-root-user"]
    return []


def build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``make site``'s build of ``source`` (a folder holding docs/ and notebooks/) into ``out``."""
    flags = [str(out / ".doctrees") if flag == "build/site-doctrees" else flag
             for flag in SPHINX_FLAGS]
    flags[-2:] = [str(source), str(out)]
    flags[flags.index("docs")] = str(source / "docs")
    command = [*offline_prefix(), sys.executable, "-m", "sphinx", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=BUILD_SECONDS,
                          cwd=source)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.perf_counter()
    result = build(ROOT, out)
    seconds = time.perf_counter() - start
    assert result.returncode == 0 and not result.stderr.strip(), (
        f"make site's build failed or warned:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    print(f"site built in {seconds:.1f} s")
    return out


@pytest.mark.parametrize("module", [notebook_outputs, offline_check, plain_math],
                         ids=lambda module: module.__name__)
def test_the_extensions_examples_hold(module):
    # docs/_ext/ is outside the doctest paths of make test (handkit/, tests/)
    failed, tried = doctest.testmod(module)
    assert tried > 0 and failed == 0


def test_the_makefile_builds_with_these_flags():
    recipe = (ROOT / "Makefile").read_text()
    assert "/bin/sphinx-build " + " ".join(SPHINX_FLAGS) + "\n" in recipe


def test_every_notebook_and_page_has_a_page(site):
    built = sorted(str(path.relative_to(site)) for path in site.rglob("*.html")
                   if not path.relative_to(site).parts[0].startswith("_"))
    assert built == sorted(PAGES)


def test_the_front_page_lists_every_notebook_in_order():
    front = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(\.\./notebooks/([^)]+)\.ipynb\)", front)
    assert links == [path.stem for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_page_shows_its_saved_outputs(site, path):
    notebook = nbformat.read(path, as_version=4)
    page = (site / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    figures = sum(PLOTLY_MIME in output.get("data", {}) for output in outputs)
    explorers = sum(is_explorer(output.get("data", {})) for output in outputs)
    assert page.count(f'<div class="{FIGURE_CLASS}">') == figures
    assert page.count(f'<div class="{NOTE_CLASS}">') == explorers
    assert ("plotly.min.js" in page) == (figures > 0)
    shown = _page_text(page)
    for text in [output.text for output in outputs if output.output_type == "stream"][:3]:
        first = text.strip().splitlines()[0]
        assert first in shown, f"{path.name}: saved output {first!r} not on its page"


def test_the_site_ships_plotly_from_the_installed_package(site):
    import plotly

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert (site / "_static" / "plotly.min.js").read_bytes() == shipped.read_bytes()


def test_no_page_loads_from_another_host(site):
    assert external_loads(site) == {}


def test_no_link_points_to_a_missing_file_or_to_shared():
    for path in [ROOT / "README.md", *DOC_PAGES]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "(shared/" not in text, path
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:|#", target):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name} links {target}"


def test_the_build_shows_saved_outputs_and_never_executes(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(ROOT / "docs" / "_ext", tmp_path / "docs" / "_ext")
    for name in ("conf.py", "_static", "_extra"):
        source = ROOT / "docs" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / "docs" / name)
    (tmp_path / "docs" / "index.md").write_text(
        "# Probe\n\n```{toctree}\n../notebooks/probe\n```\n\n```{toctree}\n:glob:\n\n*\n```\n")
    (tmp_path / "docs" / "more.md").write_text("# More\n\nA page.\n")
    nbformat.write(_probe_notebook(), tmp_path / "notebooks" / "probe.ipynb")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr[-3000:]
    # myst-nb's copies of the notebooks stay with the doctrees, not beside site/
    assert sorted(path.name for path in tmp_path.iterdir()) == ["docs", "notebooks", "site"]
    page = (tmp_path / "site" / "notebooks" / "probe.html").read_text(encoding="utf-8")
    shown = _page_text(page)
    assert "saved, never executed" in shown and "output of a run" not in shown
    assert page.count(f'<div class="{FIGURE_CLASS}">') == 1
    assert "Run this notebook to use the explorer." in page and "Probe explorer" in page
    assert "data:image/png" in page or "/_images/" in page  # the explorer's saved image
    assert "Open the probe" in page and 'src="https://badge.example' not in page


def _probe_notebook() -> nbformat.NotebookNode:
    """A notebook whose code would fail if run; its saved outputs are what the page must show."""
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
           "RU5ErkJggg==")
    code = nbformat.v4.new_code_cell(
        "print('output' + ' of a run')\nraise RuntimeError('run')", execution_count=1,
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="saved, never executed\n"),
                 nbformat.v4.new_output("display_data", data={
                     PLOTLY_MIME: {"data": [{"type": "bar", "y": [1, 2]}], "layout": {}}}),
                 nbformat.v4.new_output("execute_result", execution_count=1, data={
                     "text/plain": "Probe explorer: run this cell for sliders.",
                     "image/png": png})])
    badge = ("[![Open the probe](https://badge.example/badge.svg)]"
             "(https://badge.example/open)")
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"}}
    return nbformat.v4.new_notebook(metadata=metadata, cells=[
        nbformat.v4.new_markdown_cell(f"# Probe\n\n{badge}"), code])


def _page_text(page: str) -> str:
    """What a page shows as text: its HTML without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# ----------------------------------------------------------------------------- in a browser

CHROMIUM = chromium_path()
#: Every address but the local server's (data: and blob: addresses are not requests to a host).
NOT_LOCAL = re.compile(r"^(?!http://127\.0\.0\.1[:/])")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging; the browser may keep what it got (plotly's 4.6 MB script
    is then read once, not once a page)."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=600")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """An HTTP server of ``folder`` on 127.0.0.1 (a free port); yields its address."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None and os.environ.get("CI"):
        pytest.fail("the site's browser test must run in CI, but /usr/bin/chromium is missing "
                    "(.ci/run installs the Debian package chromium)", pytrace=False)
    if CHROMIUM is None:
        pytest.skip("site browser test skipped: no Chromium at /usr/bin/chromium (Debian: "
                    "apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="site browser test skipped: "
                                   "playwright is not installed (pip install -e .[dev])")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots():
    folder = ROOT / "runs" / "site-test" / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    return folder


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_every_page_in_a_browser(server, browser, shots):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        report = {page: _visit(context, server, page, shots) for page in PAGES}
    finally:
        context.close()
    (shots / "report.json").write_text(json.dumps(report, indent=2))
    problems = [f"{page}: {problem}" for page, seen in report.items()
                for problem in seen["problems"]]
    assert not problems, "\n".join(problems) + f"\n(screenshots and report in {shots})"
    assert sum(seen["figures"] for seen in report.values()) > 0


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_the_browser_check_sees_what_it_must_refuse(browser, tmp_path):
    (tmp_path / "bad.html").write_text(
        '<!DOCTYPE html><html><head><script src="https://cdn.example/lib.js"></script></head>'
        '<body><div class="handkit-plotly"></div><script>undefinedFunction()</script>'
        "</body></html>")
    context = browser.new_context()
    try:
        with serve(tmp_path) as address:
            seen = _visit(context, address, "bad.html", tmp_path, figure_timeout_s=1)
            missing = _visit(context, address, "missing.html", tmp_path)
    finally:
        context.close()
    problems = "\n".join(seen["problems"])
    assert "request leaving 127.0.0.1: https://cdn.example/lib.js" in problems
    assert "page error" in problems and "figure 0 not drawn" in problems
    assert any("HTTP 404" in problem for problem in missing["problems"])


def _visit(context, server: str, name: str, shots: Path, *, figure_timeout_s: float = 60) -> dict:
    """Open one page in a tab of its own; return its figure count and every problem seen."""
    page = context.new_page()
    problems: list[str] = []
    start = time.perf_counter()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console error: {message.text}")
            if message.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(
        f"request failed: {request.url} ({request.failure})"))
    # every request is seen here, not intercepted: a route handler still pending when the page
    # closed (the front page's instant redirect) once hung page.close()
    page.on("request", functools.partial(_record_outside, problems=problems))
    page.on("response", lambda response: problems.append(
        f"HTTP {response.status}: {response.url}") if response.status >= 400 else None)
    try:
        response = page.goto(f"{server}/{name}", wait_until="load")
        if response is None or response.status != 200:
            problems.append(f"HTTP {response and response.status}")
        if name == "index.html":  # it forwards to the front page: let that load first
            page.wait_for_url(f"{server}/docs/index.html", wait_until="load", timeout=30_000)
        figures = _check_figures(page, name, shots, problems, figure_timeout_s)
        if figures or name == "docs/index.html":  # the others are text: no picture needed
            page.screenshot(path=str(shots / (name.replace("/", "-") + ".png")))
    finally:
        page.close()
    return {"figures": figures, "seconds": round(time.perf_counter() - start, 2),
            "problems": problems}


def _record_outside(request, *, problems: list[str]) -> None:
    if NOT_LOCAL.match(request.url) and not request.url.startswith(("data:", "blob:")):
        problems.append(f"request leaving 127.0.0.1: {request.url}")


def _check_figures(page, name: str, shots: Path, problems: list[str],
                   timeout_s: float) -> int:
    """Every figure holder drawn by plotly (an SVG inside) and not blank."""
    holders = page.locator(f"div.{FIGURE_CLASS}")
    count = holders.count()
    if count:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function(
                f"n => document.querySelectorAll('div.{FIGURE_CLASS} .js-plotly-plot "
                f".main-svg').length >= n", arg=count, timeout=timeout_s * 1000)
        except PlaywrightTimeout:
            pass  # each figure not drawn is reported below
    for index in range(count):
        holder = holders.nth(index)
        if not holder.locator(".js-plotly-plot .main-svg").count():
            problems.append(f"figure {index} not drawn")
            continue
        png = holder.screenshot()  # scrolls it into view first
        (shots / f"{name.replace('/', '-')[:-5]}-figure{index:02d}.png").write_bytes(png)
        covered = ink(png)
        if covered < MIN_INK:
            problems.append(f"figure {index} blank (ink {covered:.3f})")
    return count
