"""A notebook's ``parameters`` cell: what it defines, and checks of the values a run sets.

Every notebook has one cell tagged ``parameters``; one of its parameters, ``out_json``, names the
JSON file where the notebook writes its key numbers. :func:`check_parameters` refuses, before
anything runs, a parameter the notebook does not define or a value of another type than its
default's (``0.5`` where ``seed = 0`` is declared); an int is accepted, as a float, where the
default is a float.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import papermill

from handkit.errors import number_text_hint

#: The parameter every notebook uses for the path of the JSON file it writes.
OUT_JSON = "out_json"


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters a notebook's ``parameters`` cell defines, as papermill reads them.

    Returns:
        name -> papermill's description (a dict with ``default``, ``inferred_type_name``, ...).
    """
    return papermill.inspect_notebook(str(notebook))


#: Type names a parameters cell may use in an annotation (``seed: int = 0``) -> the type.
_ANNOTATION_TYPES = {
    "int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple,
    "dict": dict,
}


@dataclass(frozen=True)
class ParameterSpec:
    """One line of a notebook's ``parameters`` cell: ``name = default  # help``.

    Attributes:
        name: the variable name.
        default: the default as written in the cell (source text, e.g. ``'"train"'``).
        types: the accepted types, from an annotation (``x: int = 3``, ``Optional[float]``) or
            else the type of the default; ``None`` when unknown (a ``None`` default or an
            expression such as ``Path("x")``): then any value is accepted.
        nullable: ``None`` is accepted too (a ``None`` default or an ``Optional`` annotation).
        help: the cell's comment on that line.
    """

    name: str
    default: str
    types: tuple[type, ...] | None
    nullable: bool
    help: str = ""

    @property
    def type_name(self) -> str:
        """``"int"``, ``"float | None"``, ``"any"``."""
        if self.types is None:
            return "any"
        names = [t.__name__ for t in self.types] + (["None"] if self.nullable else [])
        return " | ".join(names)

    def coerce(self, value: Any) -> Any:
        """``value`` if the cell accepts it (an int becomes a float where a float is declared).

        Raises:
            TypeError: a value of another type, e.g. ``0.5`` where an ``int`` is declared.

        >>> ParameterSpec("lambda_align", "0.1", (float,), False).coerce(1)
        1.0
        >>> ParameterSpec("label_every", "128", (int,), False).coerce(0.5)
        Traceback (most recent call last):
        ...
        TypeError: label_every=0.5 is float, but the notebook declares int (label_every = 128)
        """
        if self.types is None or (value is None and self.nullable):
            return value
        if isinstance(value, bool):  # bool is an int subclass: only a declared bool takes it
            accepted = bool in self.types
        elif isinstance(value, int) and float in self.types and int not in self.types:
            return float(value)
        elif isinstance(value, (list, tuple)):
            accepted = list in self.types or tuple in self.types
        else:
            accepted = type(value) in self.types
        if not accepted:
            numeric = int in self.types or float in self.types
            hint = number_text_hint(value) if numeric else ""
            raise TypeError(
                f"{self.name}={value!r} is {type(value).__name__}, but the notebook declares "
                f"{self.type_name} ({self.name} = {self.default}){hint}"
            )
        return value


def _annotation_types(annotation: str) -> tuple[tuple[type, ...], bool] | None:
    """(types, nullable) from ``int``, ``Optional[float]``, ``str | None``; None if unknown."""
    text = annotation.replace(" ", "")
    nullable = False
    if text.startswith("Optional[") and text.endswith("]"):
        text, nullable = text[len("Optional["):-1], True
    types = []
    for part in text.split("|"):
        if part in ("None", "NoneType"):
            nullable = True
        elif part.split("[")[0] in _ANNOTATION_TYPES:
            types.append(_ANNOTATION_TYPES[part.split("[")[0]])
        else:
            return None
    return (tuple(types), nullable) if types else None


def parameter_specs(notebook: str | Path) -> dict[str, ParameterSpec]:
    """What a notebook's ``parameters`` cell declares, with the type each parameter accepts.

    Papermill reports an annotation's type (``seed: int = 0``); without one (the handkit
    notebooks write ``seed = 0  # help``) the type of the default's literal is used.

    Returns:
        name -> :class:`ParameterSpec`, in the cell's order.
    """
    specs = {}
    for name, info in notebook_parameters(notebook).items():
        declared = _annotation_types(info.get("inferred_type_name") or "None")
        if declared is None:
            try:
                default = ast.literal_eval(info["default"])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                declared = (None, True)  # an expression: its type is not known before it runs
            else:
                declared = (None, True) if default is None else ((type(default),), False)
        specs[name] = ParameterSpec(name, info["default"], declared[0], declared[1],
                                    info.get("help") or "")
    return specs


def describe_parameters(specs: Mapping[str, ParameterSpec]) -> str:
    """One line per settable parameter: ``name = default  (type)  help`` (``out_json`` left out)."""
    shown = [spec for spec in specs.values() if spec.name != OUT_JSON]
    if not shown:
        return "  (none besides out_json)"
    width = max(len(f"{spec.name} = {spec.default}") for spec in shown)
    type_width = max(len(spec.type_name) for spec in shown) + 2
    return "\n".join(
        f"  {f'{spec.name} = {spec.default}':<{width}}  {f'({spec.type_name})':<{type_width}}"
        f"  {spec.help}".rstrip()
        for spec in shown
    )


def check_parameter_values(
    notebook: str | Path, values: Iterable[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    """Check (name, value) pairs against a notebook's parameters cell; return them coerced.

    Several values of one name may be checked at once (a sweep's grid). Every problem is
    collected into one error that lists the notebook's parameters with defaults and types.

    Returns:
        the pairs in order, ints turned into floats where a float is declared.

    Raises:
        ValueError: the notebook declares no ``out_json``, ``out_json`` is among the names (it
            is chosen by the caller), a name is unknown, or a value has the wrong type.
    """
    notebook = Path(notebook)
    specs = parameter_specs(notebook)
    if OUT_JSON not in specs:
        raise ValueError(
            f"{notebook.name}: its parameters cell does not define {OUT_JSON!r}; every notebook "
            f"needs one cell tagged 'parameters' that sets {OUT_JSON} (found: {sorted(specs)})"
        )
    values = list(values)
    if any(name == OUT_JSON for name, _ in values):
        raise ValueError(
            f"{OUT_JSON!r} is chosen by run_notebooks and the sweep (out_dir/<notebook>.json)"
        )
    unknown = sorted({name for name, _ in values if name not in specs})
    problems = [f"{notebook.name}: unknown parameter(s) {unknown}"] if unknown else []
    checked = []
    for name, value in values:
        if name in specs:
            try:
                checked.append((name, specs[name].coerce(value)))
            except TypeError as error:
                problems.append(f"{notebook.name}: wrong type: {error}")
    if problems:
        raise ValueError(
            "\n".join(problems) + f"\nThe parameters cell of {notebook.name} defines "
            f"(name = default  (type)  help):\n{describe_parameters(specs)}"
        )
    return checked


def check_parameters(notebook: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`check_parameter_values` for one set of parameters: names and types, coerced."""
    return dict(check_parameter_values(notebook, parameters.items()))
