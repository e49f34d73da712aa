"""Drive JupyterLab in headless Chromium the way a student does (for tests/test_browser.py).

A :class:`LabServer` starts ``python -m handkit lab`` (the launcher ``make lab`` uses) on
127.0.0.1 with a token, on working copies in a scratch folder (with the parameters the caller
gives written into their parameters cells) and with scratch Jupyter config, runtime, settings and
workspace folders (never the user's ``~/.jupyter``).
:func:`exercise_notebook` opens one notebook, runs all its cells from the Run menu, waits for the
kernel to be idle (the status bar's kernel status), plays with every explorer's sliders through
the DOM, and returns what it saw: WebGL contexts, figures drawn or not, errors.

WebGL contexts are counted by wrapping ``HTMLCanvasElement.getContext`` before the page loads:
a context is *live* until it is lost or garbage-collected (Chromium keeps at most 16 live per
page and drops the oldest beyond that, which blanks its figure).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from handkit.course.lab import prepare_copies
from tests.notebook_parameters import set_parameters

ROOT = Path(__file__).resolve().parent.parent
#: Live WebGL contexts a notebook may hold after Run All and the slider moves (issue #7).
WEBGL_BUDGET = 12
#: Slider moves per notebook.
MOVES = 50
#: A drawn figure has at least this share of non-white pixels (a lost 3D scene leaves a title).
MIN_INK = 0.01

CHROMIUM_ARGS = [
    "--no-sandbox", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-gpu",
]

WEBGL_COUNTER = """
(() => {
  const pairs = [];
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = getContext.call(this, type, ...rest);
    if (ctx && /webgl/i.test(String(type)) && !pairs.some(p => p.ctx.deref() === ctx)) {
      pairs.push({ctx: new WeakRef(ctx), canvas: new WeakRef(this)});
    }
    return ctx;
  };
  window.__handkitWebGL = {
    count() {
      const live = pairs.map(p => p.ctx.deref()).filter(c => c && !c.isContextLost());
      return {created: pairs.length, live: live.length,
              attached: live.filter(c => c.canvas.isConnected).length};
    },
    lostIn(element) {
      return pairs.filter(p => {
        const canvas = p.canvas.deref(), ctx = p.ctx.deref();
        return canvas && element.contains(canvas) && (!ctx || ctx.isContextLost());
      }).length;
    },
  };
})();
"""

KERNEL_IDLE = """() => {
  const bar = document.querySelector('#jp-main-statusbar');
  return !!bar && /\\|\\s*Idle/.test(bar.innerText);
}"""

RUN_STARTED = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .some(p => p.textContent.includes('*'))"""

RUN_FINISHED = """() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
  if (prompts.some(p => p.textContent.includes('*'))) return false;
  const numbered = prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
  const failed = document.querySelector(
    '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]');
  return prompts.length > 0 && (numbered || !!failed);
}"""

MODEL_ERRORS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.context.model.toJSON().cells;
  const errors = [];
  cells.forEach((cell, i) => (cell.outputs || []).forEach(out => {
    if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
  }));
  const plotly = cells.flatMap(c => c.outputs || [])
    .filter(o => o.data && o.data['application/vnd.plotly.v1+json']).length;
  return {errors, plotly};
}"""


#: Outputs drawn by JupyterLab's plotly renderer (not shown as raw JSON or text).
RENDERED_PLOTLY = """() => [...document.querySelectorAll('.jp-Notebook .jp-RenderedPlotly')]
  .filter(out => out.querySelector('.main-svg')).length"""


def chromium_path() -> str | None:
    """The system Chromium (Debian package ``chromium``), or None."""
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_available() -> bool:
    """True where tests/test_browser.py runs: Chromium and Playwright are both installed."""
    return chromium_path() is not None and importlib.util.find_spec("playwright") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``python -m handkit lab`` on working copies in ``folder``, scratch Jupyter folders.

    ``parameters`` (notebook stem -> values) are written into the parameters cell of those
    copies before JupyterLab starts (:func:`tests.notebook_parameters.set_parameters`); the
    launcher keeps copies that exist, and ``notebooks`` is only read.
    """

    def __init__(self, folder: Path, *, notebooks: Path = ROOT / "notebooks",
                 parameters: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.folder = folder
        if parameters:
            copies = folder / "notebooks"
            prepare_copies(notebooks, copies)
            for name, values in parameters.items():
                set_parameters(copies / f"{name}.ipynb", values)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        scratch = folder / "jupyter"
        env = dict(os.environ)
        for variable, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                              ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                              ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
            (scratch / sub).mkdir(parents=True, exist_ok=True)
            env[variable] = str(scratch / sub)
        lab_args = ["--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                    f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True"]
        self._sockets = None
        if os.name == "posix":  # kernels on Unix sockets: no TCP port to race other tests for
            self._sockets = tempfile.mkdtemp(prefix="hk-lab-")  # short: a socket path is short
            env["JUPYTER_RUNTIME_DIR"] = self._sockets
            lab_args.append("--KernelManager.transport=ipc")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lab_args.append("--allow-root")
        command = [sys.executable, "-m", "handkit", "lab", "--source", str(notebooks),
                   "--dir", str(folder / "notebooks"), "--", *lab_args]
        self.log_path = folder / "jupyterlab.log"
        self._log = self.log_path.open("w")
        # a session of its own: close() can stop the server and every kernel it started
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited; see {self.log_path}:\n"
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer within {timeout_s} s; see {self.log_path}")

    def close(self) -> None:
        """Stop JupyterLab and its kernels (SIGTERM to the session, then SIGKILL)."""
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # kernels may outlive the server by a moment
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)


@dataclass
class NotebookReport:
    """What :func:`exercise_notebook` saw in one notebook."""

    name: str
    webgl_opened: dict = field(default_factory=dict)
    webgl_after_run_all: dict = field(default_factory=dict)
    webgl_after_moves: dict = field(default_factory=dict)
    run_all_s: float = 0.0
    moves_s: float = 0.0
    moves: int = 0
    figures: int = 0
    explorers: int = 0
    sliders: int = 0
    problems: list[str] = field(default_factory=list)

    def save(self, folder: Path) -> None:
        (folder / f"{self.name}.json").write_text(json.dumps(asdict(self), indent=2))


def ink(png: bytes) -> float:
    """Share of pixels that are clearly not white."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return float((np.abs(255 - pixels) > 40).any(-1).mean())


def _wait(page, condition: str, *, timeout_s: float, what: str, settle: int = 2) -> None:
    """Wait until the JS ``condition`` holds on ``settle`` polls in a row, 0.25 s apart."""
    deadline, streak = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        streak = streak + 1 if page.evaluate(condition) else 0
        if streak >= settle:
            return
        time.sleep(0.25)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


def wait_idle(page, timeout_s: float = 120.0, *, settle: int = 2) -> None:
    _wait(page, KERNEL_IDLE, timeout_s=timeout_s, what="the kernel becoming idle", settle=settle)


def _figure_state(figure) -> str:
    """A fingerprint of what a plotly figure element shows (its data, as plotly holds it)."""
    return figure.evaluate("el => JSON.stringify(el.data || []).length + ':' + "
                           "JSON.stringify(el.data || []).slice(0, 20000)")


def check_figures(page, report: NotebookReport, shots: Path, stage: str) -> None:
    """Every plotly figure drawn: rendered, not blank, no lost WebGL context inside."""
    figures = page.locator(".jp-Notebook .js-plotly-plot")
    report.figures = figures.count()
    for index in range(report.figures):
        figure = figures.nth(index)
        figure.scroll_into_view_if_needed()
        page.wait_for_timeout(150)
        png = figure.screenshot()
        (shots / f"{report.name}-{stage}-figure{index:02d}.png").write_bytes(png)
        lost = figure.evaluate("el => window.__handkitWebGL.lostIn(el)")
        covered = ink(png)
        if lost or covered < MIN_INK or not figure.locator(".main-svg").count():
            report.problems.append(f"{stage}: figure {index} not drawn (lost WebGL contexts "
                                   f"{lost}, ink {covered:.3f}); see {shots}")


def _move_explorers(page, report: NotebookReport, shots: Path) -> None:
    """One slider per explorer must change its figure; then MOVES moves in all."""
    explorers = page.locator(".jp-Notebook .handkit-explorer")
    report.explorers = explorers.count()
    handles = []
    for e in range(report.explorers):
        explorer = explorers.nth(e)
        own = explorer.locator(".noUi-handle")
        report.sliders += own.count()
        if not own.count():
            report.problems.append(f"explorer {e} shows no slider")
            continue
        figure = explorer.locator(".js-plotly-plot").first
        before_state, before_png = _figure_state(figure), figure.screenshot()
        own.first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        wait_idle(page)
        button = explorer.locator(".handkit-run-button")
        if button.count():  # a slow explorer recomputes when its button is pressed
            button.first.click()
            page.wait_for_timeout(300)
            wait_idle(page, timeout_s=300)
        page.wait_for_timeout(400)
        after_png = figure.screenshot()
        if _figure_state(figure) == before_state or after_png == before_png:
            (shots / f"{report.name}-explorer{e}-before.png").write_bytes(before_png)
            (shots / f"{report.name}-explorer{e}-after.png").write_bytes(after_png)
            report.problems.append(f"explorer {e}: moving its first slider did not change its "
                                   f"figure; see {shots}")
        report.moves += 1
        handles.extend(own.nth(k) for k in range(own.count()))
    start = time.monotonic()
    while handles and report.moves < MOVES:
        handle = handles[report.moves % len(handles)]
        handle.scroll_into_view_if_needed()
        handle.focus()
        page.keyboard.press("ArrowRight" if report.moves < MOVES // 2 + 1 else "ArrowLeft")
        page.wait_for_timeout(100)
        wait_idle(page, settle=1)
        report.moves += 1
    report.moves_s = round(time.monotonic() - start, 1)
    wait_idle(page)
    for e in range(report.explorers):
        explorers.nth(e).screenshot(path=str(shots / f"{report.name}-explorer{e}-after-moves.png"))


def exercise_notebook(browser, server: LabServer, name: str, shots: Path) -> NotebookReport:
    """Open ``name``, Run All, move sliders; return what was seen (problems listed)."""
    report = NotebookReport(name)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.add_init_script(WEBGL_COUNTER)
    try:
        page.goto(f"{server.base}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token="
                  f"{server.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(1500)
        report.webgl_opened = page.evaluate("window.__handkitWebGL.count()")
        text = page.locator(".jp-Notebook").inner_text()
        for raw in ("(children=", "Error displaying widget", "model not found"):
            if raw in text:
                report.problems.append(f"before running, an output shows {raw!r}")
        notes = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="run this cell")
        for k in range(notes.count()):  # what a saved explorer shows before its cell is run
            notes.nth(k).scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            notes.nth(k).screenshot(path=str(shots / f"{name}-explorer{k}-before-run.png"))
        start = time.monotonic()
        page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        try:  # the saved prompts are numbered as a finished run's are: see the run start first
            _wait(page, RUN_STARTED, timeout_s=10, what="Run All starting", settle=1)
        except TimeoutError:
            pass  # a notebook that runs in a blink; the checks below still hold
        _wait(page, RUN_FINISHED, timeout_s=300, what=f"Run All of {name}")
        wait_idle(page)
        report.run_all_s = round(time.monotonic() - start, 1)
        page.wait_for_timeout(2000)  # widgets and figures draw after the kernel is idle
        report.webgl_after_run_all = page.evaluate("window.__handkitWebGL.count()")
        model = page.evaluate(MODEL_ERRORS)
        report.problems += [f"error output in {e}" for e in model["errors"]]
        rendered = page.evaluate(RENDERED_PLOTLY)
        if rendered != model["plotly"]:
            report.problems.append(f"{model['plotly']} plotly outputs, {rendered} rendered")
        _move_explorers(page, report, shots)
        page.wait_for_timeout(1000)
        report.webgl_after_moves = page.evaluate("window.__handkitWebGL.count()")
        if report.webgl_after_moves["live"] > WEBGL_BUDGET:
            report.problems.append(f"{report.webgl_after_moves['live']} live WebGL contexts "
                                   f"after Run All and {report.moves} moves (budget "
                                   f"{WEBGL_BUDGET})")
        check_figures(page, report, shots, "after-moves")
        text = page.locator(".jp-Notebook").inner_text()
        if "Error displaying widget" in text:
            report.problems.append("a widget shows 'Error displaying widget'")
        if page.get_by_text("official Jupyter news").count():
            report.problems.append("the 'official Jupyter news' pop-up is showing")
        report.problems += [f"uncaught JavaScript error: {e}" for e in page_errors]
    except Exception as error:  # a timeout or a missing element: report it with a screenshot
        report.problems.append(f"{type(error).__name__}: {error}")
    finally:
        if report.problems:
            page.screenshot(path=str(shots / f"{name}-failure.png"), full_page=True)
        page.close()
    report.save(shots)
    return report
