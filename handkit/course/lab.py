"""JupyterLab on working copies of the notebooks: ``python -m handkit lab`` (``make lab``).

JupyterLab saves every open notebook about every two minutes. Opened in ``notebooks/``, the
committed, executed notebooks would change under a student's hands (and grow by the figure
snapshots the plotly renderer stores), so the next ``git pull`` of the course conflicts. Instead
JupyterLab opens **working copies** in a git-ignored folder (``my-notebooks/`` by default):

* the first launch copies every notebook from ``notebooks/`` (from an installed kit: the
  notebooks inside the package, :mod:`handkit.resources`) and says so; later launches copy
  only notebooks that are new there, and tell you which of your copies has a newer committed
  version;
* ``--reset NAME ...`` (or ``--reset`` for all) replaces copies by fresh ones; the old copies are
  kept in ``my-notebooks/.replaced/`` with a time stamp, so nothing is lost;
* ``notebooks/`` is never written.

JupyterLab's first-launch question "get notified about official Jupyter news?" covers the
figures; handkit switches it off for the JupyterLab of this Python environment only, with a
settings override in ``<sys.prefix>/share/jupyter/lab/settings/overrides.d/handkit.json``.

Usage::

    python -m handkit lab                          # copies in my-notebooks/, then JupyterLab
    python -m handkit lab --reset 01_mano_basics   # a fresh copy of one notebook
    python -m handkit lab --reset                  # fresh copies of all
    python -m handkit lab -- --no-browser --port 8899   # options after -- go to JupyterLab
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from handkit.course.kernels import DEFAULT_KERNEL, register_kernel
from handkit.errors import check_output_folder, command, refuse
from handkit.files import write_text_atomic
from handkit.resources import installed_course, notebooks_folder

#: Where the working copies go by default (git-ignored).
COPIES_DIR = Path("my-notebooks")
#: Inside the copies folder: which committed version each copy was made from.
MANIFEST = ".handkit-copies.json"
#: Inside the copies folder: copies replaced by --reset.
REPLACED_DIR = ".replaced"

#: JupyterLab settings handkit overrides: no news pop-up over the first figures.
LAB_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
#: Where JupyterLab reads settings overrides of one Python environment (relative to sys.prefix).
OVERRIDES_FILE = Path("share/jupyter/lab/settings/overrides.d/handkit.json")


@dataclass
class CopyReport:
    """What :func:`prepare_copies` did, notebook names (stems) per kind."""

    copied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)

    def lines(self, copies_dir: Path) -> list[str]:
        """Messages for the user, one per kind that happened."""
        out = []
        if self.copied:
            out.append(f"made working copies of {', '.join(self.copied)} in {copies_dir}/ "
                       f"(yours to edit; {_source_name()} stays as it is)")
        if self.replaced:
            out.append(f"replaced {', '.join(self.replaced)} by fresh copies; the old ones are "
                       f"in {copies_dir / REPLACED_DIR}/")
        if self.outdated:
            out.append(f"{_source_name()} has a newer version of {', '.join(self.outdated)}; "
                       f"your copies are unchanged (take the new one with: "
                       f"{reset_hint(copies_dir, self.outdated)})")
        return out


def _source_name() -> str:
    """How messages name the notebooks copies are made from."""
    return "notebooks/" if installed_course() is None else "the installed kit"


def reset_hint(copies_dir: Path, names: Sequence[str]) -> str:
    """The command that replaces these copies by fresh ones: ``make lab-reset`` in a checkout,
    ``python -m handkit lab --reset`` from an installed kit (no Makefile there)."""
    if installed_course() is None:
        return f"make lab-reset NOTEBOOK=\"{' '.join(names)}\""
    return f"python -m handkit lab --dir {copies_dir} --no-launch --reset {' '.join(names)}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(copies_dir: Path) -> dict[str, str]:
    path = copies_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}  # a damaged manifest only loses the "newer version" hints
    return manifest if isinstance(manifest, dict) else {}


def _copy_atomic(source: Path, target: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as handle:
        handle.write(source.read_bytes())
    os.replace(handle.name, target)


def prepare_copies(source_dir: Path, copies_dir: Path, *, reset: Sequence[str] | None = None,
                   now: datetime | None = None) -> CopyReport:
    """Make ``copies_dir`` hold a working copy of every notebook in ``source_dir``.

    Args:
        source_dir: the committed notebooks (never written).
        copies_dir: the working copies (created if missing).
        reset: notebook names (stems or file names) to replace by fresh copies; an empty list
            means all; None resets nothing.
        now: time stamp for replaced copies (default: now).

    Returns:
        which notebooks were copied, replaced, or have a newer committed version.

    Raises:
        FileNotFoundError: ``source_dir`` holds no notebook.
        ValueError: ``reset`` names a notebook that ``source_dir`` does not hold.
    """
    sources = {path.stem: path for path in sorted(Path(source_dir).glob("*.ipynb"))}
    if not sources:
        raise FileNotFoundError(f"no notebooks in {Path(source_dir).resolve()}; expected the "
                                f"course notebooks there (the default is the kit's own)")
    wanted = set(sources) if reset == [] else {Path(name).stem for name in (reset or [])}
    unknown = sorted(wanted - set(sources))
    if unknown:
        raise ValueError(f"cannot reset {unknown}: not in {source_dir}/ (it has "
                         f"{sorted(sources)})")
    copies_dir.mkdir(parents=True, exist_ok=True)
    manifest, report = _read_manifest(copies_dir), CopyReport()
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    for name, source in sources.items():
        target = copies_dir / source.name
        digest = _digest(source)
        if target.exists() and name in wanted:
            backup = copies_dir / REPLACED_DIR / f"{name}-{stamp}.ipynb"
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, backup)
            report.replaced.append(name)
        if not target.exists():
            _copy_atomic(source, target)
            manifest[name] = digest
            if name not in report.replaced:
                report.copied.append(name)
        elif manifest.get(name) not in (None, digest):
            report.outdated.append(name)
    write_text_atomic(copies_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return report


def install_lab_settings(prefix: str | Path = sys.prefix) -> Path:
    """Write handkit's JupyterLab settings overrides for the environment at ``prefix``.

    Returns:
        the overrides file (rewritten only when its content differs).
    """
    path = Path(prefix) / OVERRIDES_FILE
    text = json.dumps(LAB_SETTINGS, indent=2, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def lab_command(copies_dir: Path, extra: Sequence[str]) -> list[str]:
    """The JupyterLab command line: the copies folder as root, the handkit kernel by default."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={copies_dir}",
            "--MappingKernelManager.default_kernel_name=handkit", *extra]


def _parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(
        prog="python -m handkit lab",
        description="Open JupyterLab on working copies of the notebooks (notebooks/ stays as "
        "committed). Options after -- go to JupyterLab.",
    )
    parser.add_argument("--reset", nargs="*", metavar="NOTEBOOK",
                        help="replace these working copies (all, if none is named) by fresh "
                        "ones; the old ones go to <dir>/.replaced/")
    parser.add_argument("--dir", type=Path, default=COPIES_DIR,
                        help=f"folder of the working copies (default: {COPIES_DIR})")
    parser.add_argument("--source", type=Path, default=notebooks_folder(),
                        help="folder of the committed notebooks (default: the kit's, "
                        f"{notebooks_folder()})")
    parser.add_argument("--no-launch", action="store_true",
                        help="prepare the copies and the settings, do not start JupyterLab")
    return parser.parse_args(own), extra


@command("lab")
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m handkit lab``: see the module docstring."""
    args, extra = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_output_folder(args.dir, "--dir")
        report = prepare_copies(args.source, args.dir, reset=args.reset)
    except (FileNotFoundError, ValueError) as error:
        return refuse("lab", str(error))
    for line in report.lines(args.dir):
        print(f"handkit lab: {line}", file=sys.stderr)
    install_lab_settings()
    if args.no_launch:
        return 0
    kernel = register_kernel(DEFAULT_KERNEL)  # from an installed kit: nothing made it yet
    if kernel is not None:
        print(f"handkit lab: registered this Python as the Jupyter kernel '{DEFAULT_KERNEL}' "
              f"({kernel})", file=sys.stderr)
    print(f"handkit lab: JupyterLab on {args.dir}/ (fresh copy of one notebook: "
          f"{reset_hint(args.dir, ['01_mano_basics'])})", file=sys.stderr, flush=True)
    command = lab_command(args.dir, extra)
    sys.stdout.flush()
    # JupyterLab replaces this process, so Ctrl-C and SIGTERM reach it (and its kernels) directly
    os.execv(command[0], command)
    return 0  # not reached
