"""The kit installed from a wheel, away from the checkout.

The wheel is built from a copy of the repository's sources (no network: the installed setuptools
builds it), installed into a fresh virtual environment that reuses this environment's
dependencies through a ``.pth`` file, and used from a temporary folder outside the repository:
``python -m handkit init`` copies the course there and ``python -m handkit run`` executes
notebooks 01-03 in the kernel ``init`` registered. About a minute, most of it the notebooks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: What the wheel is built from (pyproject.toml names the rest of the repository nowhere).
SOURCES = ("pyproject.toml", "README.md", "handkit", "notebooks", "data_samples", "experiments")
#: The notebooks run from the installed kit.
RUN = ("01_mano_basics", "02_sparse_videos", "03_hand_predictor")

# about a minute on two cores; the limit leaves room for a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.timeout(900)]


def run(command: list, cwd: Path, timeout: float = 300) -> str:
    """Run a command with the environment minus what points back into the checkout; its output,
    or a failure showing it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}"
    return done.stdout


def build_wheel(work: Path) -> Path:
    """The wheel of a clean copy of the sources (no build/ or egg-info of the checkout's own)."""
    source = work / "source"
    skip = shutil.ignore_patterns("__pycache__", "runs", ".*", "*.egg-info")
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", work / "dist", source], cwd=work)
    (wheel,) = (work / "dist").glob("handkit-*.whl")
    shutil.rmtree(source)  # 40 MB less left in the temporary folder
    return wheel


def fresh_venv(work: Path) -> Path:
    """A new virtual environment that sees this one's packages (a ``.pth`` file) but not the
    checkout's handkit (the editable install's hook is not run there); its Python."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               cwd=work).strip()
    ours = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    Path(site, "handkit_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, the fresh environment's Python, a work folder outside the repository)."""
    work = tmp_path_factory.mktemp("wheel")
    assert REPO not in work.parents
    wheel = build_wheel(work)
    python = fresh_venv(work)
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--ignore-installed", "--quiet", wheel], cwd=work)
    return wheel, python, work


def test_the_wheel_carries_the_course(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = sorted(path.name for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for name in notebooks:
        assert f"handkit/_course/notebooks/{name}" in names
    for path in (REPO / "data_samples").rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            assert f"handkit/_course/{path.relative_to(REPO)}" in names, path
    assert "handkit/_course/data_samples/checkpoint/table1_full_seed0.npz" in names
    assert any(name.startswith("handkit/mano/assets/") for name in names)
    print(f"\nwheel: {wheel.name}, {wheel.stat().st_size / 1e6:.1f} MB")


def test_init_and_run_from_the_installed_kit(installed):
    _, python, work = installed
    where = run([python, "-c", "import handkit, handkit.resources as r; "
                 "print(handkit.__file__); print(r.course_root())"], cwd=work).split()
    venv = python.parent.parent
    assert all(venv in Path(path).parents for path in where), where
    said = run([python, "-m", "handkit", "init", "course"], cwd=work)
    assert "registered this Python as the Jupyter kernel 'handkit'" in said, said
    assert str(venv) in said  # the sample data are read from the installed package
    notebooks = [Path("course") / f"{name}.ipynb" for name in RUN]
    ran = run([python, "-m", "handkit", "run", *notebooks, "--out-dir", "out"], cwd=work,
              timeout=400)
    for name in RUN:
        results = json.loads((work / "out" / f"{name}.json").read_text())
        assert results and (work / "out" / f"{name}.ipynb").is_file(), name
    print(f"\n{said}{ran}")
    refused = subprocess.run([python, "-m", "handkit", "init", "course"], cwd=work, text=True,
                             capture_output=True)
    assert refused.returncode == 1
    assert refused.stderr.startswith("handkit init: course is not empty (")


def test_lab_makes_working_copies_from_the_installed_kit(installed):
    _, python, work = installed
    said = run([python, "-m", "handkit", "lab", "--dir", "copies", "--no-launch"], cwd=work)
    assert "made working copies of 01_mano_basics," in said
    assert "(yours to edit; the installed kit stays as it is)" in said
    assert len(list((work / "copies").glob("[0-9][0-9]_*.ipynb"))) == 8
