"""Where the course files are: the notebooks, the sample data, the committed results.

The kit reads these files in two situations, and this module is the one place that knows both:

* **installed from a wheel** (``pip install handkit-*.whl``): the files travel inside the
  package, in ``handkit/_course/`` (``pyproject.toml`` maps ``notebooks/``, ``data_samples/``
  and the committed ``experiments/`` results there), and are found with
  :mod:`importlib.resources`;
* **a git checkout** (``pip install -e .``, what ``make setup`` does): no ``_course`` folder is
  inside the package, and the files are where the repository keeps them, next to ``handkit/``.

Every reader of a shipped file asks :func:`course_path` (or one of its shorthands); none builds
a path from ``__file__`` or from the working directory.

>>> course_path("data_samples", "synthetic").name
'synthetic'
>>> (course_path("notebooks") / "01_mano_basics.ipynb").is_file()
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The folder of the installed package that holds the course files in a wheel.
COURSE_FOLDER = "_course"
#: The course's folders, as the repository names them (and ``handkit/_course/`` in a wheel).
NOTEBOOKS, DATA_SAMPLES, EXPERIMENTS = "notebooks", "data_samples", "experiments"


def _package_folder() -> Path:
    """The folder of the imported ``handkit`` package (files on disk, not a zip archive)."""
    folder = resources.files("handkit")
    if not isinstance(folder, Path):
        raise FileNotFoundError(f"handkit is imported from {folder}, expected a folder on disk; "
                                "install it with pip (not as a zip archive)")
    return folder


def installed_course() -> Path | None:
    """``handkit/_course`` of an installed wheel, or None in a git checkout."""
    folder = _package_folder() / COURSE_FOLDER
    return folder if folder.is_dir() else None


def course_root() -> Path:
    """The folder holding ``notebooks/``, ``data_samples/`` and ``experiments/``: the package's
    ``_course`` folder when installed from a wheel, else the checkout's root (the folder that
    holds ``handkit/``)."""
    return installed_course() or _package_folder().parent


def course_path(*parts: str) -> Path:
    """A course file or folder, e.g. ``course_path("data_samples", "synthetic")``; whether it
    exists is for the caller to check (and to say what makes it, when it does not)."""
    return course_root().joinpath(*parts)


def notebooks_folder() -> Path:
    """The course notebooks (committed, executed)."""
    return course_path(NOTEBOOKS)


def sample_path(*parts: str) -> Path:
    """A file or folder under ``data_samples/`` (the sample videos, fixtures, checkpoint)."""
    return course_path(DATA_SAMPLES, *parts)


def committed_path(*parts: str) -> Path:
    """A committed result under ``experiments/`` (the tables notebooks 07 and 08 read)."""
    return course_path(EXPERIMENTS, *parts)
