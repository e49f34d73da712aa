"""Sphinx settings of the course website (``make site``).

The site is built from the repository root (``sphinx-build -c docs . site``): the pages in
docs/ and the committed, executed notebooks in notebooks/, shown with their saved outputs and
never executed. Everything a page loads ships with the site: the theme's files, plotly's
JavaScript copied from the installed ``plotly`` package, and no MathJax (the few formulas are
drawn as HTML by ``plain_math``). ``offline_check`` fails the build when a page would load
anything from another host.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "handkit"
author = "the handkit authors"
copyright = "the handkit authors"

extensions = ["myst_nb", "notebook_outputs", "plain_math", "offline_check"]

# The sources: this folder's pages and the notebooks; nothing else of the repository.
root_doc = "docs/index"
include_patterns = ["docs/*.md", "notebooks/*.ipynb"]
exclude_patterns = [".*", "_build", "build", "site", "runs", "my-notebooks*", "notebooks/runs",
                    "docs/_*", "handkit", "tests", "data_samples", "dist"]

# Notebooks: shown as committed, never executed; stderr kept like any other output.
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
# ipywidgets' embedding scripts come from a CDN: never added (no notebook saves widget state).
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_title = "handkit: a course on semi-supervised 3D hand pose estimation"
html_static_path = ["_static"]
html_css_files = ["handkit.css"]
html_extra_path = ["_extra"]
# a favicon of our own: without one the browser asks every page for /favicon.ico (a 404)
html_favicon = "_static/favicon.svg"
html_math_renderer = "plain"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
# The figures are drawn on white: light by default (the reader can still switch to dark).
html_context = {"default_mode": "light"}
html_theme_options = {
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
