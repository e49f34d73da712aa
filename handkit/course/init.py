"""``python -m handkit init DIR``: the course in a folder of your own (an installed kit's start).

::

    python -m handkit init my-course               # the eight notebooks into my-course/
    python -m handkit init my-course --force       # replace what my-course/ holds
    python -m handkit run my-course/01_mano_basics.ipynb
    python -m handkit lab --dir my-course          # JupyterLab on them

``DIR`` gets the course notebooks, executed as they are committed, and a short README. What
they read (the sample videos, the shipped checkpoint, the committed results, the embedded hand)
stays in the installed package, where the kit finds it wherever the notebooks run
(:mod:`handkit.resources`). ``DIR`` also gets the record that ``python -m handkit lab`` keeps of
its working copies, so ``lab --dir DIR`` treats the notebooks as yours and says when a newer
kit has a newer version of one.

``DIR`` is written whole: built in a temporary folder next to it, then renamed, so a failure
leaves nothing half-written. A ``DIR`` that holds anything is refused unless ``--force``, which
replaces it (its old content is deleted once the new one is in place). The Jupyter kernel
"handkit" (``run`` and ``lab`` start the notebooks in it) is registered for this Python when it
is missing, as ``make setup`` does in a checkout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from handkit.course.editions import source_notebooks
from handkit.course.kernels import DEFAULT_KERNEL, register_kernel
from handkit.course.lab import prepare_copies
from handkit.errors import InputError, check_output_folder, command
from handkit.files import temporary_name
from handkit.resources import installed_course, notebooks_folder, sample_path

#: The note written next to the notebooks.
README = "README.md"


def check_target(target: Path, *, force: bool) -> None:
    """Refuse a ``target`` that is a file, holds something (unless ``force``), or holds the
    current folder (it cannot be replaced under a running shell).

    Raises:
        InputError: one line naming ``target`` and what it holds.
    """
    check_output_folder(target, "DIR")
    if not target.exists():
        return
    entries = sorted(path.name for path in target.iterdir())
    if entries and not force:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise InputError(f"{target} is not empty ({len(entries)} entries: {shown}); expected a "
                         "new or empty folder, or add --force to replace what it holds")
    here = Path.cwd().resolve()
    if here == target.resolve() or target.resolve() in here.parents:
        raise InputError(f"{target} holds the current folder {here}; expected a folder outside "
                         "it (run the command from elsewhere)")


def readme_text(names: Sequence[str]) -> str:
    """The note ``init`` leaves next to the notebooks."""
    first = names[0] if names else "01_mano_basics.ipynb"
    where = installed_course() or "the handkit checkout"
    return "\n".join([
        f"# handkit course notebooks (handkit {_version()})",
        "",
        "Copied by `python -m handkit init`; they are yours to edit and run.",
        "",
        f"- run one headless: `python -m handkit run {first}` (executed copies and numbers go to",
        "  `runs/<time>/` of the folder you run it from);",
        "- JupyterLab on them: `python -m handkit lab --dir .` (kernel \"Python (handkit)\").",
        "",
        f"The sample data, the shipped checkpoint and the committed results are read from {where};",
        "nothing needs to be downloaded.",
        "",
    ])


def _version() -> str:
    try:
        return metadata.version("handkit")
    except metadata.PackageNotFoundError:
        return "not installed"


def _fill(folder: Path, source: Path) -> list[str]:
    """Copy the course notebooks and write the README into the new ``folder``."""
    prepare_copies(source, folder)
    names = [path.name for path in source_notebooks(folder)]
    (folder / README).write_text(readme_text(names), encoding="utf-8")
    return names


def _swap_in(new: Path, target: Path) -> None:
    """Put the finished ``new`` folder at ``target``, deleting what ``target`` held after."""
    if not target.exists():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=temporary_name(target.name)))
    os.rename(target, old / target.name)
    try:
        new.rename(target)
    except BaseException:
        os.rename(old / target.name, target)
        raise
    shutil.rmtree(old)


def init_course(target: str | Path, *, force: bool = False,
                source: str | Path | None = None) -> list[str]:
    """Write the course notebooks (and :data:`README`) into ``target`` as one step.

    Args:
        target: the folder to make (missing or empty; any with ``force``).
        force: replace what ``target`` holds.
        source: the notebooks to copy (default: the kit's, :func:`handkit.resources`).

    Returns:
        the notebook file names written.

    Raises:
        InputError: ``target`` is refused (:func:`check_target`).
        FileNotFoundError: ``source`` holds no course notebook.
    """
    target = Path(target)
    check_target(target, force=force)
    source = Path(source) if source is not None else notebooks_folder()
    source_notebooks(source)  # refuses a folder without notebooks, before anything is written
    target.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=target.parent, prefix=temporary_name(target.name)))
    try:
        new.chmod(0o755)
        names = _fill(new, source)
        _swap_in(new, target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return names


@command("init")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit init``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m handkit init",
        description="Copy the course notebooks into DIR (the sample data stay in the installed "
        "package) and register the 'handkit' Jupyter kernel if it is missing.")
    parser.add_argument("dir", type=Path, metavar="DIR", help="the folder to make (new or empty)")
    parser.add_argument("--force", action="store_true", help="replace what DIR holds")
    args = parser.parse_args(argv)
    try:
        names = init_course(args.dir, force=args.force)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
    print(f"handkit init: {len(names)} notebooks in {args.dir}/ ({names[0]} ... {names[-1]}); "
          f"they read the sample data from {sample_path()}")
    kernel = register_kernel(DEFAULT_KERNEL)
    if kernel is not None:
        print(f"handkit init: registered this Python as the Jupyter kernel "
              f"'{DEFAULT_KERNEL}' ({kernel})")
    print(f"next: python -m handkit run {args.dir / names[0]}   or   "
          f"python -m handkit lab --dir {args.dir}")
    return 0
