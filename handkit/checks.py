"""Values of a config dataclass checked against their annotations, as a config file gives them.

JSON and YAML give numbers, text and booleans that may not be what a field declares: YAML reads
``1e-3`` as text, ``true`` is a boolean, ``2.5`` is no count of steps. :func:`check_fields` checks
each field of ``int``, ``float``, ``bool`` or ``str`` (each optionally ``| None``):

* ``int``: an integer (numpy's too), never a bool; ``2.5`` and also ``3.0`` are refused (a float
  in a count is a mistake somewhere, and ``config.json`` always writes counts as integers);
* ``float``: a finite number (an integer becomes a float); never a bool, NaN or infinity;
* ``bool``: ``True`` or ``False`` only; ``str``: text only.

Fields of other types are left to the class.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import fields
from typing import Any

from handkit.errors import InputError, number_text_hint

_EXPECTED = {"int": "an integer", "float": "a finite number", "bool": "true or false",
             "str": "text"}


def _declared(annotation: Any) -> tuple[str | None, bool]:
    """(base type name or None, nullable) of an annotation such as ``"int | None"``."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    parts = [part.strip() for part in text.split("|")]
    nullable = "None" in parts
    bases = [part for part in parts if part != "None"]
    base = bases[0] if len(bases) == 1 and bases[0] in _EXPECTED else None
    return base, nullable


def _found(value: Any) -> str:
    """``'1e-3' (text) (a number read as text: ...)``, ``True (a boolean)``, ``2.5 (float)``."""
    kind = {str: "text", bool: "a boolean"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind}){number_text_hint(value)}"


def check_value(name: str, value: Any, base: str) -> Any:
    """``value`` as the declared ``base`` type ("int", "float", "bool", "str") wants it.

    Raises:
        InputError: ``"stage1_steps must be an integer, got 2.5 (float)"``.

    >>> check_value("lr", 1, "float"), check_value("seed", 3, "int")
    (1.0, 3)
    >>> check_value("stage1_steps", True, "int")
    Traceback (most recent call last):
    ...
    handkit.errors.InputError: stage1_steps must be an integer, got True (a boolean)
    """
    ok = False
    if base == "bool":
        ok = isinstance(value, bool)
    elif base == "str":
        ok = isinstance(value, str)
    elif not isinstance(value, bool):
        if base == "int" and isinstance(value, numbers.Integral):
            return int(value)
        if base == "float" and isinstance(value, numbers.Real):
            ok = math.isfinite(value)
            value = float(value) if ok else value
    if not ok:
        raise InputError(f"{name} must be {_EXPECTED[base]}, got {_found(value)}")
    return value


def field_problems(instance: Any) -> list[str]:
    """Check every ``int``/``float``/``bool``/``str`` field of a (frozen) dataclass instance;
    store the converted values (an int where a float is declared becomes a float); return one
    message per wrong field."""
    problems = []
    for f in fields(instance):
        base, nullable = _declared(f.type)
        value = getattr(instance, f.name)
        if base is None or (value is None and nullable):
            continue
        try:
            checked = check_value(f.name, value, base)
        except InputError as error:
            problems.append(str(error))
            continue
        if checked is not value:
            object.__setattr__(instance, f.name, checked)
    return problems


def check_fields(instance: Any, what: str) -> None:
    """:func:`field_problems`, raising them together.

    Raises:
        InputError: ``"training config: lr must be a finite number, got inf (float)"``; every
            wrong field, separated by ``"; "``.
    """
    problems = field_problems(instance)
    if problems:
        raise InputError(f"{what}: " + "; ".join(problems))
