"""The inert records of :mod:`handkit.mano.safe_pickle`: what each allowed global of a MANO
pickle becomes while the file is read (calling or instantiating one only stores its arguments,
``BUILD`` only its state), and how each is checked and turned into a plain value afterwards
(numpy arrays decoded from raw bytes with a numeric dtype, chumpy ``Ch``/``Select`` to the
arrays they hold, scipy CSC matrices to dense arrays). Nothing here imports or calls numpy's,
scipy's or chumpy's own classes for a file's contents.
"""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

#: Largest array (in elements) a CSC matrix may expand to, so a tiny file cannot ask for terabytes.
MAX_DENSE_ELEMENTS = 10**8


class Record:
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


class ArrayType(Record):
    """``numpy.ndarray``: only valid as the type argument of ``_reconstruct``."""

    __slots__ = ()
    description = "numpy.ndarray"

    def __new__(cls, *args):
        raise pickle.UnpicklingError(
            "the pickle calls numpy.ndarray directly, which numpy's own pickles never do"
        )


class Dtype(Record):
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


def as_bytes(raw: Any, what: str) -> bytes:
    """Raw data: bytes, or a Python 2 ``str`` that ``encoding="latin1"`` turned into text."""
    if isinstance(raw, str):
        return raw.encode("latin1")
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    raise pickle.UnpicklingError(f"{what} data must be bytes, found {type(raw).__name__}")


def as_dtype(value: Any, what: str) -> np.dtype:
    if not isinstance(value, np.dtype):
        raise pickle.UnpicklingError(f"{what} needs a numpy.dtype, found {type(value).__name__}")
    return value


def as_shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(n, int) and n >= 0 for n in value
    ):
        raise pickle.UnpicklingError(
            f"{what} must be a tuple of non-negative ints, found {value!r}"
        )
    return tuple(value)


class ArrayCall(Record):
    """``_reconstruct(ndarray, (0,), b"b")``, BUILD with (version, shape, dtype, fortran, raw)."""

    __slots__ = ()
    description = "numpy.core.multiarray._reconstruct"

    def to_plain(self, convert):
        if not self.args or self.args[0] is not ArrayType:
            raise pickle.UnpicklingError("_reconstruct may only build numpy.ndarray")
        state = self.state
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]  # drop the version number
        if not isinstance(state, tuple) or len(state) != 4:
            raise pickle.UnpicklingError(
                f"array state must be (version, shape, dtype, fortran, data), found {state!r}"
            )
        shape = as_shape(convert(state[0]), "array shape")
        dtype = as_dtype(convert(state[1]), "an array")
        raw = as_bytes(convert(state[3]), "array")
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


class Scalar(Record):
    """``scalar(dtype, raw)``: one numpy scalar, decoded like array data."""

    __slots__ = ()
    description = "numpy.core.multiarray.scalar"

    def to_plain(self, convert):
        if len(self.args) != 2:
            raise pickle.UnpicklingError(
                f"numpy scalar needs (dtype, data), found {len(self.args)} arguments"
            )
        dtype = as_dtype(convert(self.args[0]), "a numpy scalar")
        raw = as_bytes(convert(self.args[1]), "numpy scalar")
        if len(raw) != dtype.itemsize:
            raise pickle.UnpicklingError(
                f"numpy scalar of dtype {dtype} needs {dtype.itemsize} bytes, found {len(raw)}"
            )
        return np.frombuffer(raw, dtype=dtype)[0]


class SetRecord(Record):
    """``set([items])`` as protocol 2 writes it."""

    __slots__ = ()
    description = "set"

    def to_plain(self, convert):
        if self.args == ():
            return set()
        if len(self.args) != 1 or not isinstance(self.args[0], list):
            raise pickle.UnpicklingError("set must be called with one list")
        return set(convert(self.args[0]))


class Encode(Record):
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


def state_dict(record: Record, keys: Iterable[str]) -> dict:
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


def as_array(value: Any, what: str, kinds: str = "biufc") -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        found = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise pickle.UnpicklingError(
            f"{what} must be a numpy array of kind {kinds!r}, found {found}"
        )
    return value


class Ch(Record):
    """chumpy ``Ch``: its value is the array under ``x``; ``_``-prefixed bookkeeping is ignored."""

    __slots__ = ()
    description = "chumpy.ch.Ch"

    def to_plain(self, convert):
        return as_array(convert(state_dict(self, ["x"])["x"]), "chumpy Ch.x")


class Select(Record):
    """chumpy ``Select``: ``a`` flattened, indexed by ``idxs``, reshaped to ``preferred_shape``."""

    __slots__ = ()
    description = "chumpy.reordering.Select"

    def to_plain(self, convert):
        state = state_dict(self, ["a", "idxs", "preferred_shape"])
        flat = as_array(convert(state["a"]), "chumpy Select.a").ravel()
        idxs = as_array(convert(state["idxs"]), "chumpy Select.idxs", kinds="iu").ravel()
        shape = as_shape(convert(state["preferred_shape"]), "chumpy Select.preferred_shape")
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


class Csc(Record):
    """scipy ``csc_matrix``, converted to a dense array (duplicate entries add up, as in scipy)."""

    __slots__ = ()
    description = "scipy.sparse.csc_matrix"

    def to_plain(self, convert):
        state = state_dict(self, ["_shape", "data", "indices", "indptr"])
        shape = as_shape(convert(state["_shape"]), "csc_matrix _shape")
        data = as_array(convert(state["data"]), "csc_matrix data").ravel()
        indices = as_array(convert(state["indices"]), "csc_matrix indices", kinds="iu").ravel()
        indptr = as_array(convert(state["indptr"]), "csc_matrix indptr", kinds="iu").ravel()
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
