"""Load pickles that may name only an allow-list of globals, running nothing they contain.

Unpickling an untrusted file can run any function the file names (``os.system``, ``eval``...).
The official MANO files are pickles, and they name chumpy classes that handkit does not install.
So :func:`load_restricted` reads them in two passes:

1. A restricted unpickler maps each allowed ``(module, name)`` global to an **inert record**:
   calling or instantiating it only stores the arguments, and ``BUILD`` only stores the state.
   Nothing from numpy, scipy or chumpy is imported or called while the file is read. Any other
   global is refused with :class:`UnsafePickleError`.
2. The records are checked and converted to plain values: numpy arrays (decoded from their raw
   bytes with a numeric dtype), chumpy ``Ch``/``Select`` to the arrays they hold, scipy CSC
   matrices to dense arrays. The records and their checks are in
   :mod:`handkit.mano.pickle_records`; the allow-list, the unpickler and the loader are here.

Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from handkit.mano.pickle_records import (
    MAX_DENSE_ELEMENTS,  # noqa: F401 (re-exported)
    ArrayCall,
    ArrayType,
    Ch,
    Csc,
    Dtype,
    Encode,
    Record,
    Scalar,
    Select,
    SetRecord,
)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that is not on the allow-list; nothing from it was run."""


# Each allowed global, with why a MANO file (or a numpy pickle inside it) needs it.
_STAND_INS: dict[tuple[str, str], type[Record]] = {
    # Every numpy array: Python 2 files name numpy.core, files re-saved with numpy >= 2 numpy._core.
    ("numpy.core.multiarray", "_reconstruct"): ArrayCall,
    ("numpy._core.multiarray", "_reconstruct"): ArrayCall,
    # The type argument of _reconstruct (never called itself).
    ("numpy", "ndarray"): ArrayType,
    # The dtype of each array or scalar (checked to be numeric).
    ("numpy", "dtype"): Dtype,
    # numpy scalars a re-saving script or chumpy's bookkeeping may hold; decoded with the same
    # checks as array data, so they add no capability.
    ("numpy.core.multiarray", "scalar"): Scalar,
    ("numpy._core.multiarray", "scalar"): Scalar,
    # chumpy keeps sets in its private state; Python 2 and Python 3 spellings.
    ("__builtin__", "set"): SetRecord,
    ("builtins", "set"): SetRecord,
    # Python 3 writes bytes (array data) at protocol 2 as encode(text, "latin1").
    ("_codecs", "encode"): Encode,
    # shapedirs is a Select wrapping a Ch.
    ("chumpy.ch", "Ch"): Ch,
    ("chumpy.reordering", "Select"): Select,
    # J_regressor; scipy.sparse.csc is the old module path, scipy.sparse._csc the current one.
    ("scipy.sparse.csc", "csc_matrix"): Csc,
    ("scipy.sparse._csc", "csc_matrix"): Csc,
}

#: The globals a genuine MANO file (Python 2) or a Python 3 re-save of it may name.
MANO_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(_STAND_INS)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves allowed globals to inert records and refuses everything else."""

    def __init__(self, file: BinaryIO, allowed: frozenset, source: str, expected: str):
        super().__init__(file, encoding="latin1")  # Python 2 str -> text holding the raw bytes
        self._allowed = allowed
        self._source = source
        self._expected = expected

    def find_class(self, module: str, name: str) -> type[Record]:
        if (module, name) not in self._allowed:
            raise UnsafePickleError(
                f"refused to load the global {module}.{name} named in {self._source}: it is not "
                f"on the allow-list for {self._expected}, so this is not {self._expected} "
                "(nothing in it was run)"
            )
        return _STAND_INS[(module, name)]

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"refused a persistent id in {self._source}: this is not {self._expected} "
            "(nothing in it was run)"
        )


class _Converter:
    """Turns a loaded tree of records, containers and atoms into plain values."""

    _ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None))

    def __init__(self):
        self._done: dict[int, Any] = {}  # id(source object) -> converted value (keeps sharing)
        self._active: set[int] = set()  # ids being converted, to detect reference cycles

    def convert(self, obj: Any) -> Any:
        if isinstance(obj, self._ATOMS):
            return obj
        key = id(obj)
        if key in self._done:
            return self._done[key]
        if key in self._active:
            raise pickle.UnpicklingError("the pickle contains a reference cycle")
        self._active.add(key)
        try:
            result = self._convert_new(obj)
        finally:
            self._active.discard(key)
        self._done[key] = result
        return result

    def _convert_new(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            return {self.convert(k): self.convert(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple, set, frozenset)):
            return type(obj)(self.convert(item) for item in obj)
        if isinstance(obj, Record):
            return obj.to_plain(self.convert)
        if isinstance(obj, type) and issubclass(obj, Record):
            raise pickle.UnpicklingError(
                f"{obj.description} is named but never used the way numpy or chumpy use it"
            )
        raise pickle.UnpicklingError(f"unexpected object of type {type(obj).__name__}")


def load_restricted(
    path_or_file: str | os.PathLike | BinaryIO,
    *,
    allowed: Iterable[tuple[str, str]] = MANO_ALLOWED_GLOBALS,
    expected: str = "a MANO model file",
) -> Any:
    """Load a pickle that may only name ``allowed`` globals, without running anything in it.

    Args:
        path_or_file: a path, or a binary file object.
        allowed: ``(module, name)`` pairs to accept; a subset of :data:`MANO_ALLOWED_GLOBALS`.
        expected: what the file should be, for error messages.
    Returns:
        The unpickled value with numpy arrays in place of arrays, chumpy objects and CSC
        matrices (dense); dicts, lists, tuples, sets, str, bytes and numbers as they are.
    Raises:
        UnsafePickleError: the file names a global outside ``allowed``.
        pickle.UnpicklingError: the file is malformed or holds values of the wrong kind.

    >>> import io, pickle, numpy as np
    >>> load_restricted(io.BytesIO(pickle.dumps({"x": np.arange(3)}, protocol=2)))["x"]
    array([0, 1, 2])
    """
    allowed = frozenset(allowed)
    unknown = allowed - MANO_ALLOWED_GLOBALS
    if unknown:
        raise ValueError(
            f"allowed must be a subset of MANO_ALLOWED_GLOBALS, found extra {sorted(unknown)}"
        )
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as file:
            return _load(file, allowed, str(Path(path_or_file)), expected)
    return _load(
        path_or_file, allowed, str(getattr(path_or_file, "name", "<file object>")), expected
    )


def _load(file: BinaryIO, allowed: frozenset, source: str, expected: str) -> Any:
    try:
        loaded = _RestrictedUnpickler(file, allowed, source, expected).load()
        return _Converter().convert(loaded)
    except UnsafePickleError:
        raise
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(f"{source} is not {expected}: {exc}") from exc
    except Exception as exc:  # malformed streams raise many kinds of errors; report them uniformly
        raise pickle.UnpicklingError(
            f"{source} is not {expected}: {type(exc).__name__}: {exc}"
        ) from exc
