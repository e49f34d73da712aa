"""A sweep's grid: its options and grid files parsed, checked against the notebook's
parameters cell, and its points named (:func:`plan_sweep`; :mod:`handkit.experiments.sweep`
runs them)."""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handkit.course.parameters import check_parameter_values
from handkit.course.run import parse_value
from handkit.errors import InputError, read_text, yaml_problem

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None


#: Longest point folder name; longer ones are cut and end in a hash of the values.
_FOLDER_NAME_MAX = 120


@dataclass(frozen=True)
class SweepPoint:
    """One grid point.

    Attributes:
        swept: name -> value of the swept parameters, in grid order.
        parameters: every parameter given to the notebook (fixed ones, then swept ones).
        folder: name of the point's subfolder, e.g. ``"label_every=16__lambda_align=0.0"``.
    """

    swept: dict[str, Any]
    parameters: dict[str, Any]
    folder: str

    @property
    def label(self) -> str:
        """``"label_every=16, lambda_align=0.0"``."""
        return ", ".join(f"{name}={value!r}" for name, value in self.swept.items())


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: values coerced to the declared types (an int where a float is declared
    becomes a float), the points in product order."""

    notebook: Path
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    points: tuple[SweepPoint, ...]


def parse_grid_values(text: str) -> list[Any]:
    """The values of one ``--grid`` option: comma-separated Python literals, else text.

    >>> parse_grid_values("0,0.01,True,None,'a,b'")
    [0, 0.01, True, None, 'a,b']
    >>> parse_grid_values("train,val")
    ['train', 'val']
    """
    try:
        return list(ast.literal_eval(f"({text},)"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise ValueError(f"empty value in {text!r}; expected V1,V2,...") from None
        return [parse_value(part) for part in parts]


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``"label_every=16,32"`` -> ``("label_every", [16, 32])``."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip().isidentifier() or not values.strip():
        raise ValueError(f"--grid expects NAME=V1,V2,... (e.g. label_every=16,32), got {text!r}")
    return name.strip(), parse_grid_values(values)


def load_grid_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Read a YAML (``.yaml``, ``.yml``) or TOML (``.toml``) grid file.

    It holds ``fixed:`` (name -> value, the same at every point) and ``grid:`` (name -> list
    of values), both optional; nothing else.

    Returns:
        (fixed, grid).

    Raises:
        ValueError: another extension, unreadable content, unknown keys, or a grid entry that
            is not a non-empty list.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml"):
        raise ValueError(f"a grid file ends in .yaml, .yml or .toml; got {path.name}")
    if suffix == ".toml" and tomllib is None:
        raise ValueError(f"{path}: TOML grid files need Python 3.11 or newer; use YAML")
    text = read_text(path, suffix[1:].upper())
    try:
        data = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        raise InputError(f"{path}: cannot read it as {suffix[1:].upper()}: "
                         f"{yaml_problem(error)}") from None
    data = {} if data is None else data
    if not isinstance(data, dict) or set(data) - {"fixed", "grid"}:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected the keys 'fixed' and 'grid'; found {found}")
    fixed, grid = data.get("fixed") or {}, data.get("grid") or {}
    for key, value in (("fixed", fixed), ("grid", grid)):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must map names to values; got {value!r}")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"{path}: grid.{name} must be a non-empty list of values, e.g. [16, 32]; got "
                f"{values!r} (a single value belongs under fixed:)"
            )
    return dict(fixed), {name: list(values) for name, values in grid.items()}


def canonical(values: Any) -> str:
    """JSON text that is equal for equal parameters (tuples and lists alike, keys sorted)."""
    return json.dumps(values, sort_keys=True, default=repr)


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


def point_folder_name(swept: Mapping[str, Any]) -> str:
    """Folder name showing the swept values; characters unsafe in paths become ``_``.

    >>> point_folder_name({"label_every": 16, "lambda_align": 0.01, "split": "val"})
    'label_every=16__lambda_align=0.01__split=val'
    """
    name = "__".join(f"{key}={_value_text(value)}" for key, value in swept.items())
    if len(name) > _FOLDER_NAME_MAX:
        name = f"{name[:_FOLDER_NAME_MAX - 9]}-{_digest(swept)}"
    return name


def _digest(values: Any) -> str:
    return hashlib.sha1(canonical(values).encode()).hexdigest()[:8]


def plan_sweep(
    notebook: str | Path, grid: Mapping[str, Sequence[Any]], fixed: Mapping[str, Any] | None = None
) -> SweepPlan:
    """Check a sweep against the notebook's parameters cell and list its points.

    Args:
        notebook: path of the ``.ipynb`` file.
        grid: name -> values to sweep (at least one name, each with at least one value).
        fixed: name -> value given at every point.

    Raises:
        FileNotFoundError: no notebook there.
        ValueError: nothing to sweep, a name both fixed and swept, a value listed twice, or
            (listing the notebook's parameters with defaults and types) an unknown name or a
            value of the wrong type.
    """
    notebook, fixed = Path(notebook), dict(fixed or {})
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}")
    if not grid or not all(len(values) for values in grid.values()):
        raise ValueError(f"nothing to sweep: give --grid NAME=V1,V2 or a grid file with grid: "
                         f"lists; got grid {dict(grid)}")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ValueError(f"{both} both swept (grid) and fixed (-p or fixed:); keep one")
    pairs = [*fixed.items(), *((name, value) for name, values in grid.items() for value in values)]
    checked = check_parameter_values(notebook, pairs)
    fixed = dict(checked[: len(fixed)])
    swept_values: dict[str, list[Any]] = {name: [] for name in grid}
    for name, value in checked[len(fixed):]:
        if canonical(value) in map(canonical, swept_values[name]):
            raise ValueError(f"grid {name} lists {value!r} twice: {list(grid[name])}")
        swept_values[name].append(value)
    combos = [dict(zip(swept_values, values, strict=True))
              for values in itertools.product(*swept_values.values())]
    folders = [point_folder_name(swept) for swept in combos]
    folders = [f"{folder}-{_digest(swept)}" if folders.count(folder) > 1 else folder
               for folder, swept in zip(folders, combos, strict=True)]
    points = tuple(SweepPoint(swept, {**fixed, **swept}, folder)
                   for swept, folder in zip(combos, folders, strict=True))
    return SweepPlan(notebook, fixed, swept_values, points)


