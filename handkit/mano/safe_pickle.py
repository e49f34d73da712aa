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
   matrices to dense arrays.

Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: Largest array (in elements) a CSC matrix may expand to, so a tiny file cannot ask for terabytes.
MAX_DENSE_ELEMENTS = 10**8


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that is not on the allow-list; nothing from it was run."""


class _Record:
    """Inert stand-in for an allowed global: records call arguments and ``BUILD`` state only."""

    __slots__ = ("args", "state")
    #: What the global is, for error messages.
    description = "an allowed global"

    def __new__(cls, *args):
        record = object.__new__(cls)
        record.args = args
        record.state = None
        return record

    def __setstate__(self, state):
        self.state = state

    def to_plain(self, convert: Callable[[Any], Any]) -> Any:
        """The plain value this record stands for; ``convert`` converts nested objects."""
        raise NotImplementedError


class _ArrayType(_Record):
    """``numpy.ndarray``: only valid as the type argument of ``_reconstruct``."""

    __slots__ = ()
    description = "numpy.ndarray"

    def __new__(cls, *args):
        raise pickle.UnpicklingError(
            "the pickle calls numpy.ndarray directly, which numpy's own pickles never do"
        )


class _Dtype(_Record):
    """``numpy.dtype(name, align, copy)`` plus its state tuple; numeric dtypes only."""

    __slots__ = ()
    description = "numpy.dtype"
    _NAME = re.compile(r"[biufc][0-9]{1,2}")

    def to_plain(self, convert):
        name = convert(self.args[0]) if self.args else None
        if not isinstance(name, str) or not self._NAME.fullmatch(name):
            raise pickle.UnpicklingError(
                f"numpy.dtype must name a numeric type such as 'f8', found {name!r}"
            )
        dtype = np.dtype(name)
        if self.state is not None:
            state = convert(self.state)
            if (
                not isinstance(state, tuple)
                or len(state) < 5
                or any(s is not None for s in state[2:5])
            ):
                raise pickle.UnpicklingError(
                    f"numpy.dtype state must be a plain-dtype tuple, found {state!r}"
                )
            if state[1] not in ("<", ">", "|", "="):
                raise pickle.UnpicklingError(
                    f"numpy.dtype byte order must be one of < > | =, found {state[1]!r}"
                )
            if state[1] in ("<", ">"):
                dtype = dtype.newbyteorder(state[1])
        return dtype


def _as_bytes(raw: Any, what: str) -> bytes:
    """Raw data: bytes, or a Python 2 ``str`` that ``encoding="latin1"`` turned into text."""
    if isinstance(raw, str):
        return raw.encode("latin1")
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    raise pickle.UnpicklingError(f"{what} data must be bytes, found {type(raw).__name__}")


def _as_dtype(value: Any, what: str) -> np.dtype:
    if not isinstance(value, np.dtype):
        raise pickle.UnpicklingError(f"{what} needs a numpy.dtype, found {type(value).__name__}")
    return value


def _as_shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(n, int) and n >= 0 for n in value
    ):
        raise pickle.UnpicklingError(
            f"{what} must be a tuple of non-negative ints, found {value!r}"
        )
    return tuple(value)


class _ArrayCall(_Record):
    """``_reconstruct(ndarray, (0,), b"b")``, BUILD with (version, shape, dtype, fortran, raw)."""

    __slots__ = ()
    description = "numpy.core.multiarray._reconstruct"

    def to_plain(self, convert):
        if not self.args or self.args[0] is not _ArrayType:
            raise pickle.UnpicklingError("_reconstruct may only build numpy.ndarray")
        state = self.state
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # drop the version number
        if not isinstance(state, tuple) or len(state) != 4:
            raise pickle.UnpicklingError(
                f"array state must be (version, shape, dtype, fortran, data), found {state!r}"
            )
        shape = _as_shape(convert(state[0]), "array shape")
        dtype = _as_dtype(convert(state[1]), "an array")
        raw = _as_bytes(convert(state[3]), "array")
        expected = math.prod(shape) * dtype.itemsize
        if len(raw) != expected:
            raise pickle.UnpicklingError(
                f"array of shape {shape} and dtype {dtype} needs {expected} bytes, found {len(raw)}"
            )
        fortran = convert(state[2])
        if not isinstance(fortran, (bool, int)):
            raise pickle.UnpicklingError(
                f"array fortran flag must be a bool, found {type(fortran).__name__}"
            )
        order = "F" if fortran else "C"
        return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy(order=order)


class _Scalar(_Record):
    """``scalar(dtype, raw)``: one numpy scalar, decoded like array data."""

    __slots__ = ()
    description = "numpy.core.multiarray.scalar"

    def to_plain(self, convert):
        if len(self.args) != 2:
            raise pickle.UnpicklingError(
                f"numpy scalar needs (dtype, data), found {len(self.args)} arguments"
            )
        dtype = _as_dtype(convert(self.args[0]), "a numpy scalar")
        raw = _as_bytes(convert(self.args[1]), "numpy scalar")
        if len(raw) != dtype.itemsize:
            raise pickle.UnpicklingError(
                f"numpy scalar of dtype {dtype} needs {dtype.itemsize} bytes, found {len(raw)}"
            )
        return np.frombuffer(raw, dtype=dtype)[0]


class _Set(_Record):
    """``set([items])`` as protocol 2 writes it."""

    __slots__ = ()
    description = "set"

    def to_plain(self, convert):
        if self.args == ():
            return set()
        if len(self.args) != 1 or not isinstance(self.args[0], list):
            raise pickle.UnpicklingError("set must be called with one list")
        return set(convert(self.args[0]))


class _Encode(_Record):
    """``_codecs.encode(text, "latin1")``: how Python 3 writes bytes at protocol 2."""

    __slots__ = ()
    description = "_codecs.encode"

    def to_plain(self, convert):
        if (
            len(self.args) != 2
            or not isinstance(self.args[0], str)
            or self.args[1] not in ("latin1", "latin-1")
        ):
            raise pickle.UnpicklingError(
                f"_codecs.encode is only accepted as encode(text, 'latin1'), found {self.args!r}"
            )
        return self.args[0].encode("latin1")


def _state_dict(record: _Record, keys: Iterable[str]) -> dict:
    state = record.state
    if not isinstance(state, dict):
        raise pickle.UnpicklingError(
            f"{record.description} state must be a dict, found {type(state).__name__}"
        )
    missing = [k for k in keys if k not in state]
    if missing:
        raise pickle.UnpicklingError(
            f"{record.description} state is missing {missing}; found keys {sorted(map(str, state))}"
        )
    return state


def _as_array(value: Any, what: str, kinds: str = "biufc") -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        found = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise pickle.UnpicklingError(
            f"{what} must be a numpy array of kind {kinds!r}, found {found}"
        )
    return value


class _Ch(_Record):
    """chumpy ``Ch``: its value is the array under ``x``; ``_``-prefixed bookkeeping is ignored."""

    __slots__ = ()
    description = "chumpy.ch.Ch"

    def to_plain(self, convert):
        return _as_array(convert(_state_dict(self, ["x"])["x"]), "chumpy Ch.x")


class _Select(_Record):
    """chumpy ``Select``: ``a`` flattened, indexed by ``idxs``, reshaped to ``preferred_shape``."""

    __slots__ = ()
    description = "chumpy.reordering.Select"

    def to_plain(self, convert):
        state = _state_dict(self, ["a", "idxs", "preferred_shape"])
        flat = _as_array(convert(state["a"]), "chumpy Select.a").ravel()
        idxs = _as_array(convert(state["idxs"]), "chumpy Select.idxs", kinds="iu").ravel()
        shape = _as_shape(convert(state["preferred_shape"]), "chumpy Select.preferred_shape")
        if math.prod(shape) != idxs.size:
            raise pickle.UnpicklingError(
                f"chumpy Select: {idxs.size} idxs cannot fill preferred_shape {shape}"
            )
        if idxs.size and (idxs.min() < 0 or idxs.max() >= flat.size):
            raise pickle.UnpicklingError(
                f"chumpy Select: idxs must lie in 0..{flat.size - 1}, "
                f"found {idxs.min()}..{idxs.max()}"
            )
        return flat[idxs].reshape(shape)


class _Csc(_Record):
    """scipy ``csc_matrix``, converted to a dense array (duplicate entries add up, as in scipy)."""

    __slots__ = ()
    description = "scipy.sparse.csc_matrix"

    def to_plain(self, convert):
        state = _state_dict(self, ["_shape", "data", "indices", "indptr"])
        shape = _as_shape(convert(state["_shape"]), "csc_matrix _shape")
        data = _as_array(convert(state["data"]), "csc_matrix data").ravel()
        indices = _as_array(convert(state["indices"]), "csc_matrix indices", kinds="iu").ravel()
        indptr = _as_array(convert(state["indptr"]), "csc_matrix indptr", kinds="iu").ravel()
        if len(shape) != 2 or shape[0] * shape[1] > MAX_DENSE_ELEMENTS:
            raise pickle.UnpicklingError(
                f"csc_matrix _shape must be 2-D with at most {MAX_DENSE_ELEMENTS} elements, "
                f"found {shape}"
            )
        rows, cols = shape
        if (
            indptr.size != cols + 1
            or indptr[0] != 0
            or np.any(np.diff(indptr.astype(np.int64)) < 0)
        ):
            raise pickle.UnpicklingError(
                f"csc_matrix indptr must rise from 0 over {cols + 1} entries, "
                f"found {indptr.size} entries"
            )
        if not data.size == indices.size == indptr[-1]:
            raise pickle.UnpicklingError(
                "csc_matrix needs indptr[-1] == len(data) == len(indices), "
                f"found {indptr[-1]}, {data.size}, {indices.size}"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= rows):
            raise pickle.UnpicklingError(f"csc_matrix row indices must lie in 0..{rows - 1}")
        dense = np.zeros(shape, dtype=data.dtype)
        counts = np.diff(indptr.astype(np.int64))  # (cols,) entries per column
        columns = np.repeat(np.arange(cols), counts)  # (nnz,) column of each entry
        np.add.at(dense, (indices, columns), data)
        return dense


# Each allowed global, with why a MANO file (or a numpy pickle inside it) needs it.
_STAND_INS: dict[tuple[str, str], type[_Record]] = {
    # Every numpy array: Python 2 files name numpy.core, files re-saved with numpy >= 2 numpy._core.
    ("numpy.core.multiarray", "_reconstruct"): _ArrayCall,
    ("numpy._core.multiarray", "_reconstruct"): _ArrayCall,
    # The type argument of _reconstruct (never called itself).
    ("numpy", "ndarray"): _ArrayType,
    # The dtype of each array or scalar (checked to be numeric).
    ("numpy", "dtype"): _Dtype,
    # numpy scalars a re-saving script or chumpy's bookkeeping may hold; decoded with the same
    # checks as array data, so they add no capability.
    ("numpy.core.multiarray", "scalar"): _Scalar,
    ("numpy._core.multiarray", "scalar"): _Scalar,
    # chumpy keeps sets in its private state; Python 2 and Python 3 spellings.
    ("__builtin__", "set"): _Set,
    ("builtins", "set"): _Set,
    # Python 3 writes bytes (array data) at protocol 2 as encode(text, "latin1").
    ("_codecs", "encode"): _Encode,
    # shapedirs is a Select wrapping a Ch.
    ("chumpy.ch", "Ch"): _Ch,
    ("chumpy.reordering", "Select"): _Select,
    # J_regressor; scipy.sparse.csc is the old module path, scipy.sparse._csc the current one.
    ("scipy.sparse.csc", "csc_matrix"): _Csc,
    ("scipy.sparse._csc", "csc_matrix"): _Csc,
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

    def find_class(self, module: str, name: str) -> type[_Record]:
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
        if isinstance(obj, _Record):
            return obj.to_plain(self.convert)
        if isinstance(obj, type) and issubclass(obj, _Record):
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
