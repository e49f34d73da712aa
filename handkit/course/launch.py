"""The notebooks' launch cells: Binder and Colab links, and the cell that installs handkit on Colab.

``python -m handkit course badges`` writes two cells, tagged :data:`LAUNCH_TAG`, into each
course notebook:

* a markdown cell at the top, with a link that opens the notebook on Binder (built from
  ``binder/``) and one that opens it in Colab;
* a code cell before the imports that installs handkit from the repository when it runs on
  Colab (``"google.colab"`` is imported there before any cell runs) and does nothing, printing
  nothing, anywhere else, so headless runs, nbval and JupyterLab see no difference.

Both are made from one address, ``[project.urls] Repository`` in ``pyproject.toml``: change it
there (the placeholder owner stands until the repository is published), run the command, and
every link follows. The links are plain text (no badge images): a page of the offline course
website must not fetch anything from another server. ``--check`` changes nothing and exits 1 when
a notebook's launch cells are missing or name another address.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

import nbformat

from handkit.course.editions import LAUNCH_TAG, source_notebooks
from handkit.errors import InputError
from handkit.resources import course_root, installed_course, notebooks_folder

#: The ids of the two launch cells (fixed, so rewriting them changes only their text).
LINKS_ID, INSTALL_ID = "launch-links", "colab-install"
#: The branch the links open.
BRANCH = "main"

_GITHUB = re.compile(r"https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(\.git)?/?")


def repository_url() -> str:
    """``[project.urls] Repository``: from ``pyproject.toml`` in a checkout, else (an installed
    kit, or Python 3.10 without :mod:`tomllib`) from the installed package's metadata."""
    pyproject = course_root() / "pyproject.toml"
    if installed_course() is None and pyproject.is_file() and sys.version_info >= (3, 11):
        import tomllib

        urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
        where = str(pyproject)
    else:
        entries = metadata.metadata("handkit").get_all("Project-URL") or []
        urls = dict(entry.split(", ", 1) for entry in entries)
        where = "the installed handkit's metadata"
    if "Repository" not in urls:
        raise InputError(f"{where}: expected a Repository address under [project.urls], found "
                         f"{sorted(urls) or 'none'}")
    return urls["Repository"]


def github_repository(url: str) -> tuple[str, str]:
    """(owner, name) of a GitHub address.

    >>> github_repository("https://github.com/someone/handkit")
    ('someone', 'handkit')
    """
    match = _GITHUB.fullmatch(url)
    if not match:
        raise InputError(f"Repository address {url!r}: expected https://github.com/OWNER/NAME "
                         "(Binder and Colab open notebooks from GitHub)")
    return match["owner"], match["repo"]


def binder_url(url: str, notebook: str) -> str:
    """The Binder address that opens ``notebooks/<notebook>`` in JupyterLab.

    >>> binder_url("https://github.com/o/r", "01_a.ipynb")
    'https://mybinder.org/v2/gh/o/r/main?labpath=notebooks%2F01_a.ipynb'
    """
    owner, repo = github_repository(url)
    return f"https://mybinder.org/v2/gh/{owner}/{repo}/{BRANCH}?labpath=" + quote(
        f"notebooks/{notebook}", safe="")


def colab_url(url: str, notebook: str) -> str:
    """The Colab address of ``notebooks/<notebook>`` on GitHub.

    >>> colab_url("https://github.com/o/r", "01_a.ipynb")
    'https://colab.research.google.com/github/o/r/blob/main/notebooks/01_a.ipynb'
    """
    owner, repo = github_repository(url)
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{BRANCH}/notebooks/" \
           f"{notebook}"


def links_source(url: str, notebook: str) -> str:
    """The markdown of the links cell."""
    return (f"**Run this notebook online:** [on Binder]({binder_url(url, notebook)}) "
            f"(JupyterLab with handkit installed; a few minutes to start) · "
            f"[in Colab]({colab_url(url, notebook)}) (its first code cell installs handkit). "
            f"On your computer: `make lab` in the repository, or `python -m handkit init` "
            f"from an installed kit.")


def install_source(url: str) -> str:
    """The code of the Colab install cell: nothing happens, and nothing is printed, elsewhere."""
    owner, repo = github_repository(url)
    return "\n".join([
        "# On Colab only: install handkit from GitHub (a few minutes); elsewhere this does nothing",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    import subprocess",
        "",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",',
        f'                    "handkit @ git+https://github.com/{owner}/{repo}@{BRANCH}"],',
        "                   check=True)",
    ])


def _launch_cell(notebook: nbformat.NotebookNode, cell_id: str):
    return next((cell for cell in notebook.cells if cell.get("id") == cell_id), None)


def apply_launch_cells(notebook: nbformat.NotebookNode, name: str, url: str) -> list[str]:
    """Write the two launch cells into ``notebook`` (in memory): insert the missing ones, update
    the text of the others.

    Returns:
        what changed: ``"inserted links"``, ``"updated install"``, ... (empty: up to date).
    """
    wanted = {LINKS_ID: links_source(url, name), INSTALL_ID: install_source(url)}
    changes = []
    for cell_id, source in wanted.items():
        cell = _launch_cell(notebook, cell_id)
        what = "links" if cell_id == LINKS_ID else "install"
        if cell is None:
            _insert(notebook, cell_id, source)
            changes.append(f"inserted {what}")
        elif cell.source != source:
            cell.source = source
            changes.append(f"updated {what}")
    return changes


def _insert(notebook: nbformat.NotebookNode, cell_id: str, source: str) -> None:
    """A new launch cell: the links first in the notebook, the install cell before the first
    code cell (the imports)."""
    if cell_id == LINKS_ID:
        cell, index = nbformat.v4.new_markdown_cell(source), 0
    else:
        cell = nbformat.v4.new_code_cell(source)
        index = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "code"),
                     len(notebook.cells))
    cell.id = cell_id
    cell.metadata["tags"] = [LAUNCH_TAG]
    notebook.cells.insert(index, cell)


def update_notebooks(folder: Path, url: str, *, write: bool = True) -> dict[str, list[str]]:
    """:func:`apply_launch_cells` on every course notebook of ``folder``, saved when ``write``.

    Returns:
        notebook file name -> its changes, for the notebooks that changed (or would change).
    """
    changed = {}
    for path in source_notebooks(folder):
        notebook = nbformat.read(path, as_version=4)
        changes = apply_launch_cells(notebook, path.name, url)
        if changes:
            changed[path.name] = changes
            if write:
                nbformat.write(notebook, path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit course badges``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m handkit course badges",
        description="Write each notebook's Binder and Colab links and Colab install cell from "
        "[project.urls] Repository in pyproject.toml.")
    parser.add_argument("--source", type=Path, default=notebooks_folder(),
                        help="the course notebooks (default: the kit's notebooks/)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when a notebook's launch cells are stale")
    args = parser.parse_args(argv)
    url = repository_url()
    github_repository(url)
    try:
        changed = update_notebooks(args.source, url, write=not args.check)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    for name, changes in changed.items():
        print(f"{name}: {', '.join(changes)}")
    if args.check and changed:
        raise InputError(f"{len(changed)} notebook(s) lack the launch cells for {url}; write "
                         "them with: python -m handkit course badges")
    inserted = [name for name, changes in changed.items() if "inserted install" in changes]
    print(f"launch cells of {args.source} {'checked' if args.check else 'written'} for {url} "
          f"({len(changed)} changed)")
    if inserted and not args.check:
        print("re-execute the notebooks that got a new code cell: make notebooks")
    return 0
