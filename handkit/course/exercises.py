"""What an exercise's test cell calls: compare the student's function with handkit's.

An exercise in a notebook is two cells (see :mod:`handkit.course.editions` for the markers):

* the **solution cell** defines a function, e.g. ``rodrigues(axis_angle)``; in the student
  edition its body is a stub that raises ``NotImplementedError`` with a hint;
* the **test cell** calls :func:`check` on one visible case (a friendly message and the hint when
  the answer is wrong; a note, not an error, while the exercise is not done), then, in the
  instructor edition only, :func:`hidden_check` on cases the student does not see.

The cell after the test cell picks the function the lesson goes on with,
:func:`yours_or_handkit`: the student's once its check passed, handkit's otherwise (and it says
which), so every later cell runs whether or not the exercise is done.

>>> import torch
>>> check("0.0", lambda x: 2 * x, lambda x: x + x, torch.ones(2))
Exercise 0.0: ✓ matches handkit on the visible case.
>>> def stub(x):
...     raise NotImplementedError("Exercise 0.0: return 2 x")
>>> check("0.0", stub, lambda x: x + x, torch.ones(2))
Exercise 0.0 is not done yet (NotImplementedError: Exercise 0.0: return 2 x).
>>> yours_or_handkit("0.0", stub, abs).__name__
Exercise 0.0 not done: the cells below use handkit's abs.
'abs'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

#: exercise id -> whether its visible check passed in this kernel (set by :func:`check`).
_PASSED: dict[str, bool] = {}


class ExerciseMismatch(AssertionError):
    """The student's function returned something other than handkit's function."""


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    return None


def difference(yours: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-5,
               where: str = "the result") -> str | None:
    """How ``yours`` differs from ``expected`` in words, or None when they agree.

    Tensors and arrays are compared by type (tensor or array), by kind of number (booleans,
    integers, floats: an int 0/1 mask indexes differently from a bool one), by shape, then by
    value within ``atol + rtol * |expected|`` (booleans and integers exactly); numbers likewise;
    tuples, lists, dicts and dataclasses field by field (a dataclass: every differing field).

    >>> difference(np.zeros(3), np.zeros((1, 3)))
    'the result has shape (3,); expected (1, 3)'
    >>> difference((1.0, 2.0), (1.0, 2.5))
    'the result[1] is 2.0; expected 2.5'
    """
    expected_array = _as_array(expected)
    if expected_array is not None:
        array = _as_array(yours)
        if array is None:
            return f"{where} is a {type(yours).__name__}; expected a {type(expected).__name__}"
        if isinstance(expected, torch.Tensor) != isinstance(yours, torch.Tensor):
            return f"{where} is a {type(yours).__name__}; expected a {type(expected).__name__}"
        kinds = {"b": "booleans", "i": "integers", "u": "integers", "f": "floats",
                 "c": "complex numbers"}
        if kinds.get(array.dtype.kind) != kinds.get(expected_array.dtype.kind):
            return (f"{where} holds {kinds.get(array.dtype.kind, array.dtype)} ({array.dtype}); "
                    f"expected {kinds.get(expected_array.dtype.kind, expected_array.dtype)}")
        if array.shape != expected_array.shape:
            return f"{where} has shape {tuple(array.shape)}; expected {tuple(expected_array.shape)}"
        if expected_array.dtype.kind in "bi" or array.dtype.kind in "b":
            wrong = array != expected_array
        else:
            wrong = ~np.isclose(array.astype(np.float64), expected_array.astype(np.float64),
                                atol=atol, rtol=rtol)
        if wrong.any():
            index = tuple(int(i) for i in np.argwhere(wrong)[0])
            return (f"{where} differs at {int(wrong.sum())} of {wrong.size} entries; at index "
                    f"{index}: {array[index]!r}, expected {expected_array[index]!r}")
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if not isinstance(yours, (int, float, np.number)) or isinstance(yours, bool):
            return f"{where} is a {type(yours).__name__}; expected a number"
        if not math.isclose(float(yours), float(expected), abs_tol=atol, rel_tol=rtol):
            return f"{where} is {yours!r}; expected {expected!r}"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(yours, (tuple, list)) or len(yours) != len(expected):
            return f"{where} should be a {type(expected).__name__} of {len(expected)} items"
        for index, (mine, theirs) in enumerate(zip(yours, expected, strict=True)):
            found = difference(mine, theirs, atol=atol, rtol=rtol, where=f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(yours, dict) or set(yours) != set(expected):
            return f"{where} should be a dict with keys {sorted(expected)}"
        for key in expected:
            found = difference(yours[key], expected[key], atol=atol, rtol=rtol,
                               where=f"{where}[{key!r}]")
            if found:
                return found
        return None
    if dataclasses.is_dataclass(expected):  # every differing field: "total" alone says little
        found = [difference(getattr(yours, field.name, None), getattr(expected, field.name),
                            atol=atol, rtol=rtol, where=f"{where}.{field.name}")
                 for field in dataclasses.fields(expected)]
        return "; ".join(text for text in found if text) or None
    return None if yours == expected else f"{where} is {yours!r}; expected {expected!r}"


def _name(function: Callable) -> str:
    return getattr(function, "__name__", type(function).__name__)


def check(exercise: str, yours: Callable, reference: Callable, *args: Any, atol: float = 1e-6,
          rtol: float = 1e-5, hint: str = "") -> None:
    """The visible check of a test cell: ``yours(*args)`` against ``reference(*args)``.

    Prints that they agree, or, while ``yours`` raises ``NotImplementedError``, that the exercise
    is not done (nothing is raised, so the notebook goes on); :func:`yours_or_handkit` then knows
    which function to hand on. Returns None, so a test cell shows no ``True`` / ``False``.

    Raises:
        ExerciseMismatch: they disagree; the message says where, and adds ``hint``.
    """
    _PASSED[exercise] = False
    try:
        answer = yours(*args)
    except NotImplementedError as error:
        print(f"Exercise {exercise} is not done yet (NotImplementedError: {error}).")
        return
    found = difference(answer, reference(*args), atol=atol, rtol=rtol)
    if found:
        more = f" Hint: {hint}" if hint else ""
        raise ExerciseMismatch(f"Exercise {exercise}: {_name(yours)}: {found}.{more}")
    _PASSED[exercise] = True
    print(f"Exercise {exercise}: ✓ matches handkit on the visible case.")


def hidden_check(exercise: str, yours: Callable, reference: Callable, *args: Any,
                 atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """A hidden test: like :func:`check`, but an unfinished exercise fails too.

    Raises:
        ExerciseMismatch: ``yours(*args)`` disagrees with ``reference(*args)``.
        NotImplementedError: ``yours`` is still the stub.
    """
    found = difference(yours(*args), reference(*args), atol=atol, rtol=rtol)
    if found:
        raise ExerciseMismatch(f"Exercise {exercise}: {_name(yours)}: {found}.")


def yours_or_handkit(exercise: str, yours: Callable, reference: Callable) -> Callable:
    """The function the lesson goes on with: ``yours`` once its check passed, else ``reference``.

    Prints which one the cells below use.
    """
    if _PASSED.get(exercise):
        print(f"Exercise {exercise} done: the cells below use your {_name(yours)}.")
        return yours
    print(f"Exercise {exercise} not done: the cells below use handkit's {_name(reference)}.")
    return reference
