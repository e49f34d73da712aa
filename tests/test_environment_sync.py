"""pyproject.toml is the one dependency list; environment.yml must repeat it, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10; pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"
#: Entries environment.yml needs that are not Python package dependencies.
CONDA_ONLY = {"python", "pip"}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of '-', '_', '.' as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_environment_dependencies(path: Path) -> tuple[list[str], list[str]]:
    """(conda entries, pip entries) of a conda environment file.

    Reads the subset such files use: a top-level ``dependencies:`` block of ``- item`` lines, one
    of which may be ``- pip:`` followed by a more indented ``- item`` list.
    """
    conda, pip = [], []
    in_dependencies, pip_indent = False, None
    for raw in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            in_dependencies, pip_indent = text == "dependencies:", None
            continue
        if not in_dependencies:
            continue
        if not text.startswith("- "):
            raise ValueError(f"{path.name}: expected '- item' under dependencies, got {raw!r}")
        item = text[2:].strip().strip("'\"")
        if pip_indent is not None and indent > pip_indent:
            pip.append(item)
        elif item == "pip:":
            pip_indent = indent
        else:
            pip_indent = None
            conda.append(item)
    return conda, pip


def split_conda_spec(entry: str) -> tuple[str, SpecifierSet]:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", entry)
    if not match:
        raise ValueError(f"cannot read conda entry {entry!r}")
    return normalize(match[1]), SpecifierSet(match[2].replace(" ", ""))


def environment_specs() -> dict[str, SpecifierSet]:
    """name -> version specifier of every package environment.yml installs by name."""
    conda, pip = read_environment_dependencies(ENVIRONMENT)
    specs = dict(split_conda_spec(entry) for entry in conda)
    for entry in pip:
        if entry.startswith("-"):  # pip options such as "-e .[dev]"
            continue
        requirement = Requirement(entry)
        specs[normalize(requirement.name)] = requirement.specifier
    return specs


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def runtime_requirements() -> dict[str, Requirement]:
    return {normalize(r.name): r for r in map(Requirement, pyproject()["project"]["dependencies"])}


def test_every_runtime_dependency_is_in_environment_yml():
    missing = sorted(set(runtime_requirements()) - set(environment_specs()))
    assert not missing, f"pyproject.toml dependencies missing from environment.yml: {missing}"


def test_environment_yml_lists_nothing_pyproject_does_not():
    extra = sorted(set(environment_specs()) - set(runtime_requirements()) - CONDA_ONLY)
    assert not extra, f"environment.yml installs packages pyproject.toml does not list: {extra}"


def test_versions_agree():
    specs = environment_specs()
    differing = {
        name: (str(requirement.specifier), str(specs[name]))
        for name, requirement in runtime_requirements().items()
        if name in specs and requirement.specifier != specs[name]
    }
    assert not differing, f"(pyproject.toml, environment.yml) specifiers differ: {differing}"
    assert specs["python"] == SpecifierSet(pyproject()["project"]["requires-python"])


def test_environment_yml_installs_handkit_itself_with_pip():
    _, pip = read_environment_dependencies(ENVIRONMENT)
    assert any(re.fullmatch(r"-e\s+\.(\[dev\])?", entry) for entry in pip), pip


def test_torch_and_torchvision_are_pinned_as_a_pair():
    requirements = runtime_requirements()
    assert str(requirements["torch"].specifier).startswith("==")
    assert str(requirements["torchvision"].specifier).startswith("==")


def test_chumpy_is_never_a_dependency():
    config = pyproject()
    extras = config["project"].get("optional-dependencies", {}).values()
    declared = [
        *config["project"]["dependencies"],
        *(requirement for extra in extras for requirement in extra),
        *config["build-system"]["requires"],
    ]
    names = {normalize(Requirement(r).name) for r in declared} | set(environment_specs())
    assert "chumpy" not in names


def test_small_yaml_reader_agrees_with_a_real_yaml_parser():
    yaml = pytest.importorskip("yaml")
    parsed = yaml.safe_load(ENVIRONMENT.read_text())["dependencies"]
    conda = [entry for entry in parsed if isinstance(entry, str)]
    pip = [entry for block in parsed if isinstance(block, dict) for entry in block["pip"]]
    assert read_environment_dependencies(ENVIRONMENT) == (conda, pip)
