"""Write MANO-format pickles at test time, in the official files' format, without chumpy.

The official ``MANO_RIGHT.pkl`` is a protocol-2 pickle written by Python 2 that names chumpy and
scipy classes. Python 3's pickler cannot name a module that is not importable, so this module
writes the opcodes itself. Every array here is random (see ``tests/random_mano.py``); nothing
from the real MANO files is used or stored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.random_mano import random_model

#: The globals a genuine (Python 2) MANO file names.
GENUINE_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("__builtin__", "set"),
        ("chumpy.ch", "Ch"),
        ("chumpy.reordering", "Select"),
        ("scipy.sparse.csc", "csc_matrix"),
    }
)

#: The globals a Python 3 re-save (protocol 2, numpy >= 2, current scipy) names.
RESAVE_GLOBALS = frozenset(
    {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("builtins", "set"),
        ("_codecs", "encode"),
        ("chumpy.ch", "Ch"),
        ("chumpy.reordering", "Select"),
        ("scipy.sparse._csc", "csc_matrix"),
    }
)

ROOT_PARENT = 2**32 - 1


@dataclass
class FakeCh:
    """What to write as a chumpy ``Ch``: its array plus private bookkeeping state."""

    x: np.ndarray
    bookkeeping: dict = field(
        default_factory=lambda: {"_dirty_vars": {"x"}, "_itr": None, "_parents": {}}
    )


@dataclass
class FakeSelect:
    """What to write as a chumpy ``Select`` over ``a``."""

    a: FakeCh
    idxs: np.ndarray
    preferred_shape: tuple


@dataclass
class FakeCsc:
    """What to write as a scipy ``csc_matrix``."""

    shape: tuple
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray


@dataclass
class GlobalCall:
    """What to write as ``module.name(*args)``: how a malicious pickle runs code."""

    module: str
    name: str
    args: tuple = ()


@dataclass
class GlobalRef:
    """What to write as a bare reference to ``module.name`` (no call)."""

    module: str
    name: str


class PickleWriter:
    """Protocol-2 opcodes for plain values, numpy arrays and the fake classes above.

    ``python3=False`` writes like Python 2 (strings and array data as byte strings, old module
    paths); ``python3=True`` like Python 3 (text as unicode, bytes via ``_codecs.encode``).
    """

    def __init__(self, python3: bool = False):
        self.python3 = python3
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def dumps(self, obj) -> bytes:
        """The complete pickle of ``obj``."""
        self.write(obj)
        return self.finish()

    def finish(self) -> bytes:
        return bytes(self.out + b".")  # STOP

    def op(self, code: bytes) -> PickleWriter:
        self.out += code
        return self

    def global_(self, module: str, name: str) -> PickleWriter:
        return self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def call(self, module: str, name: str, *args) -> PickleWriter:
        """``module.name(*args)`` via REDUCE."""
        self.global_(module, name)
        self.write(tuple(args))
        return self.op(b"R")

    def write(self, obj) -> PickleWriter:
        if obj is None:
            return self.op(b"N")
        if isinstance(obj, bool):
            return self.op(b"\x88" if obj else b"\x89")
        if isinstance(obj, int):
            return self._int(obj)
        if isinstance(obj, float):
            return self.op(b"G" + struct.pack(">d", obj))
        if isinstance(obj, str):
            return self._text(obj)
        if isinstance(obj, bytes):
            return self._bytes(obj)
        if isinstance(obj, tuple):
            return self._tuple(obj)
        if isinstance(obj, list):
            return self._items(b"]", obj, b"e")
        if isinstance(obj, dict):
            return self._items(b"}", [x for kv in obj.items() for x in kv], b"u")
        if isinstance(obj, set):
            return self.call(*self._set_global(), sorted(obj))
        if isinstance(obj, np.ndarray):
            return self._array(obj)
        if isinstance(obj, np.dtype):
            return self._dtype(obj)
        if isinstance(obj, GlobalRef):
            return self.global_(obj.module, obj.name)
        if isinstance(obj, GlobalCall):
            return self.call(obj.module, obj.name, *obj.args)
        if isinstance(obj, FakeCh):
            return self._object(("chumpy.ch", "Ch"), {"x": obj.x, **obj.bookkeeping})
        if isinstance(obj, FakeSelect):
            state = {
                "a": obj.a,
                "idxs": obj.idxs,
                "preferred_shape": obj.preferred_shape,
                "_dirty_vars": set(),
            }
            return self._object(("chumpy.reordering", "Select"), state)
        if isinstance(obj, FakeCsc):
            state = {
                "_shape": obj.shape,
                "data": obj.data,
                "indices": obj.indices,
                "indptr": obj.indptr,
            }
            module = "scipy.sparse._csc" if self.python3 else "scipy.sparse.csc"
            return self._object((module, "csc_matrix"), {**state, "maxprint": 50})
        raise TypeError(f"cannot write {type(obj).__name__}")

    def _int(self, n: int) -> PickleWriter:
        if 0 <= n < 256:
            return self.op(b"K" + bytes([n]))
        if -(2**31) <= n < 2**31:
            return self.op(b"J" + struct.pack("<i", n))
        raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
        return self.op(b"\x8a" + bytes([len(raw)]) + raw)  # LONG1

    def _text(self, text: str) -> PickleWriter:
        if self.python3:
            raw = text.encode("utf-8")
            return self.op(b"X" + struct.pack("<I", len(raw)) + raw)  # BINUNICODE
        return self._bytes(text.encode("latin1"))  # a Python 2 str is a byte string

    def _bytes(self, raw: bytes) -> PickleWriter:
        if self.python3:
            return self.call("_codecs", "encode", raw.decode("latin1"), "latin1")
        if len(raw) < 256:
            return self.op(b"U" + bytes([len(raw)]) + raw)  # SHORT_BINSTRING
        return self.op(b"T" + struct.pack("<I", len(raw)) + raw)  # BINSTRING

    def _tuple(self, items: tuple) -> PickleWriter:
        if len(items) == 0:
            return self.op(b")")
        if len(items) > 3:
            self.op(b"(")  # MARK
        for item in items:
            self.write(item)
        return self.op(b"t" if len(items) > 3 else bytes([0x84 + len(items)]))  # TUPLE or TUPLE1..3

    def _items(self, empty: bytes, items: list, add: bytes) -> PickleWriter:
        self.op(empty)
        if items:
            self.op(b"(")
            for item in items:
                self.write(item)
            self.op(add)
        return self

    def _set_global(self) -> tuple[str, str]:
        return ("builtins", "set") if self.python3 else ("__builtin__", "set")

    def _object(self, global_name: tuple[str, str], state: dict) -> PickleWriter:
        """A new-style object: ``cls.__new__(cls)`` (NEWOBJ), then BUILD with its state dict."""
        self.global_(*global_name).op(b")\x81")
        return self.write(state).op(b"b")

    def _array(self, array: np.ndarray) -> PickleWriter:
        """numpy's pickle: ``_reconstruct(ndarray, (0,), b"b")``, then BUILD with the data."""
        module = "numpy._core.multiarray" if self.python3 else "numpy.core.multiarray"
        self.global_(module, "_reconstruct").global_("numpy", "ndarray")
        self.write((0,)).write(b"b").op(b"\x87R")  # TUPLE3, REDUCE
        data = np.ascontiguousarray(array)
        self.write((1, data.shape, data.dtype, False, data.tobytes()))
        return self.op(b"b")

    def _dtype(self, dtype: np.dtype) -> PickleWriter:
        flags = (False, True) if self.python3 else (0, 1)
        self.call("numpy", "dtype", dtype.str[1:], *flags)
        return self.write((3, dtype.str[0], None, None, None, -1, -1, 0)).op(b"b")


def official_arrays(seed: int = 0) -> dict:
    """Random but valid contents of a MANO file, under the official key names, as plain values."""
    model = random_model(seed)
    rng = np.random.default_rng(seed + 1)
    kintree_table = np.stack(
        [np.where(model.parents < 0, ROOT_PARENT, model.parents), np.arange(16)]
    )
    return {
        "v_template": model.v_template,
        "shapedirs": model.shapedirs,
        "posedirs": model.posedirs,
        "J_regressor": model.j_regressor,
        "weights": model.weights,
        "f": model.faces.astype(np.uint32),
        "kintree_table": kintree_table.astype(np.int64),
        "hands_components": model.hands_components,
        "hands_mean": model.hands_mean,
        "hands_coeffs": rng.normal(size=(30, 45)),
        "J": model.j_regressor @ model.v_template,
        "bs_type": "lrotmin",
        "bs_style": "lbs",
    }


def select_from_larger_ch(array: np.ndarray, rng: np.random.Generator) -> FakeSelect:
    """A ``Select`` whose ``Ch`` holds a larger (N, 1) array, ``array`` at permuted ``idxs``."""
    pool = rng.normal(size=array.size + 257)
    idxs = rng.permutation(pool.size)[: array.size]
    pool[idxs] = array.ravel()
    return FakeSelect(FakeCh(pool.reshape(-1, 1)), idxs, array.shape)


def csc_from_dense(dense: np.ndarray) -> FakeCsc:
    """The CSC triplet of ``dense`` (entries column by column), with scipy's int32 index arrays."""
    cols, rows = np.nonzero(dense.T)  # sorted by column, then row
    indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(dense, axis=0))])
    return FakeCsc(dense.shape, dense[rows, cols], rows.astype(np.int32), indptr.astype(np.int32))


def as_file_objects(arrays: dict, seed: int = 0) -> dict:
    """``arrays`` with the official files' wrappers: shapedirs a Select, J_regressor CSC, J a Ch."""
    objects = dict(arrays)
    if isinstance(objects.get("shapedirs"), np.ndarray):
        objects["shapedirs"] = select_from_larger_ch(
            objects["shapedirs"], np.random.default_rng(seed)
        )
    if isinstance(objects.get("J_regressor"), np.ndarray) and objects["J_regressor"].ndim == 2:
        objects["J_regressor"] = csc_from_dense(objects["J_regressor"])
    if isinstance(objects.get("J"), np.ndarray):
        objects["J"] = FakeCh(objects["J"])
    return objects


def write_mano_pickle(path: Path, arrays: dict, *, python3: bool = False) -> Path:
    """Write ``arrays`` (see :func:`official_arrays`) as a MANO pickle at ``path``.

    ``python3=False`` gives the genuine Python 2 format; ``True`` a Python 3 re-save.
    """
    path.write_bytes(PickleWriter(python3=python3).dumps(as_file_objects(arrays)))
    return path
