"""Sphinx extension: the notebooks' saved outputs as a page can show them without a kernel.

The notebooks save every figure as plotly JSON only (``application/vnd.plotly.v1+json``), which
myst-nb does not render. Before myst-nb parses a notebook (Sphinx's ``source-read`` event), each
such output becomes an HTML output holding the figure's JSON; ``handkit-plotly.js`` draws it
with plotly's own JavaScript, copied from the installed ``plotly`` package into ``_static/`` and
added only to the pages that hold a figure. Nothing is fetched from the web.

An explorer (``handkit.widgets``) cannot live without a kernel: a saved notebook holds its
one-line note (``Explorer.note``, "... explorer: run this cell ...") or a widget view. Either
becomes a note saying to run the notebook to use the explorer, followed by a saved image of it
where the output has one.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import nbformat

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
#: How handkit's explorers' saved notes read (handkit.widgets.common.Explorer.note).
EXPLORER_NOTE = re.compile(r"\bexplorer: run this cell\b", re.IGNORECASE)
#: Marks a page's figures; the page then loads plotly and the script that draws them.
FIGURE_CLASS = "handkit-plotly"
NOTE_CLASS = "handkit-explorer-note"
PAGE_SCRIPTS = ("plotly.min.js", "handkit-plotly.js")


def figure_html(figure: dict) -> str:
    """A placeholder the page's script turns into the plotly figure ``figure`` (its JSON).

    >>> figure_html({"data": [], "layout": {"title": {"text": "</script>"}}})
    '<div class="handkit-plotly"><script type="application/json">{"data": [], "layout": \
{"title": {"text": "<\\\\/script>"}}}</script></div>'
    """
    payload = json.dumps(figure, ensure_ascii=False).replace("</", "<\\/")
    return f'<div class="{FIGURE_CLASS}"><script type="application/json">{payload}</script></div>'


def explorer_note_html(note: str) -> str:
    """The note shown in place of an explorer, with its saved one-line description.

    >>> explorer_note_html("MANO explorer: run this cell for sliders & a hand.")
    '<div class="handkit-explorer-note"><strong>Run this notebook to use the explorer.</strong> \
MANO explorer: run this cell for sliders &amp; a hand.</div>'
    """
    text = f" {html.escape(note.strip())}" if note.strip() else ""
    return (f'<div class="{NOTE_CLASS}"><strong>Run this notebook to use the explorer.'
            f"</strong>{text}</div>")


def is_explorer(data: dict) -> bool:
    """True for the saved output of a widget explorer: a widget view or an explorer's note."""
    text = data.get("text/plain", "")
    return WIDGET_MIME in data or bool(EXPLORER_NOTE.search(_joined(text)))


def static_outputs(output: dict) -> list[dict]:
    """The outputs a page shows in place of one saved output (often the output itself)."""
    data = output.get("data")
    if not data:
        return [output]
    if PLOTLY_MIME in data:
        return [_with_data(output, {"text/html": figure_html(data[PLOTLY_MIME])})]
    if is_explorer(data):
        note = _with_data(output, {"text/html": explorer_note_html(_joined(data.get("text/plain",
                                                                                  "")))})
        images = {mime: data[mime] for mime in IMAGE_MIMES if mime in data}
        return [note, _with_data(output, images)] if images else [note]
    return [output]


def static_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``notebook`` with every output replaced by :func:`static_outputs`; widget state dropped."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(new) for output in cell.outputs
                            for new in static_outputs(output)]
    return notebook


def _joined(text) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _with_data(output: dict, data: dict) -> dict:
    """A display output (``execute_result`` keeps its count) holding ``data`` only."""
    new = {key: value for key, value in output.items() if key not in ("data", "metadata")}
    return {**new, "data": data, "metadata": {}}


def _on_source_read(app, docname: str, source: list[str]) -> None:
    if Path(app.env.doc2path(docname)).suffix != ".ipynb":
        return
    notebook = nbformat.reads(source[0], as_version=4)
    source[0] = nbformat.writes(static_notebook(notebook))


def _on_page_context(app, pagename, templatename, context, doctree) -> None:
    if f'class="{FIGURE_CLASS}"' in context.get("body", ""):
        for script in PAGE_SCRIPTS:
            app.add_js_file(script)


def _copy_plotly(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        import plotly

        bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        shutil.copyfile(bundle, Path(app.outdir) / "_static" / "plotly.min.js")


def _outputs_beside_the_doctrees(app) -> None:
    """myst-nb writes its copy of each notebook (and of its images) to ``jupyter_execute/`` beside
    the output folder, which for ``site/`` is the repository's root: keep it with the doctrees."""
    folder = Path(app.doctreedir) / "jupyter_execute"
    app.env.mystnb_config = app.env.mystnb_config.copy(output_folder=str(folder))


def setup(app):
    app.connect("builder-inited", _outputs_beside_the_doctrees, priority=600)
    app.connect("source-read", _on_source_read)
    app.connect("html-page-context", _on_page_context)
    app.connect("build-finished", _copy_plotly)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
