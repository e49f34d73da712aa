"""Tests for handkit.mano.safe_pickle: real numpy/scipy pickles load, nothing else runs."""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import re
import struct

import numpy as np
import pytest
import scipy.sparse as sp

from handkit.mano import safe_pickle
from handkit.mano.safe_pickle import MANO_ALLOWED_GLOBALS, UnsafePickleError, load_restricted
from tests.mano_pickle_fixtures import (
    FakeCh,
    FakeCsc,
    FakeSelect,
    GlobalCall,
    GlobalRef,
    PickleWriter,
)


def _load(data: bytes, **kwargs):
    return load_restricted(io.BytesIO(data), **kwargs)


ARRAYS = {
    "float64": np.arange(12.0).reshape(3, 4),
    "float32_fortran": np.asfortranarray(np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)),
    "int32_big_endian": np.arange(-3, 3, dtype=">i4"),
    "uint32": np.array([0, 2**32 - 1], dtype=np.uint32),
    "bool": np.array([True, False, True]),
    "complex128": np.array([1 + 2j, -3j]),
    "zero_dim": np.array(7, dtype=np.int64),
    "non_contiguous": np.arange(20).reshape(4, 5)[::2, 1::2],
}


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_pickles_load_like_pickle(protocol):
    obj = {
        **ARRAYS,
        "scalar": np.float64(1.25),
        "int_scalar": np.int32(-5),
        "set": {"a", "b"},
        "bytes": b"\x00\xffraw",
        "nested": [(1, 2.5, None, True), {"k": "text"}],
    }
    loaded = _load(pickle.dumps(obj, protocol=protocol))
    assert loaded.keys() == obj.keys()
    for name, array in ARRAYS.items():
        assert loaded[name].dtype == array.dtype, name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)
        assert loaded[name].flags.writeable
    assert loaded["float32_fortran"].flags.f_contiguous
    assert type(loaded["scalar"]) is np.float64 and loaded["scalar"] == 1.25
    assert type(loaded["int_scalar"]) is np.int32 and loaded["int_scalar"] == -5
    assert {k: loaded[k] for k in ("set", "bytes", "nested")} == {
        k: obj[k] for k in ("set", "bytes", "nested")
    }


def test_shared_arrays_stay_shared():
    array = np.arange(3.0)
    loaded = _load(pickle.dumps([array, array], protocol=2))
    assert loaded[0] is loaded[1]


@pytest.mark.parametrize("protocol", [2, 4])
def test_csc_matrix_becomes_scipy_dense(protocol):
    # column 0 holds row 2 twice (duplicates add up) and unsorted rows; column 1 is empty
    matrix = sp.csc_matrix(
        (np.array([1.0, 2.0, 3.0, 4.0]), np.array([2, 0, 2, 1]), np.array([0, 3, 3, 4])), (3, 3)
    )
    dense = _load(pickle.dumps(matrix, protocol=protocol))
    assert isinstance(dense, np.ndarray)
    np.testing.assert_array_equal(dense, matrix.toarray())
    assert dense[2, 0] == 4.0


def test_select_indexes_flattened_array():
    a = FakeCh(np.arange(24.0).reshape(4, 6))
    idxs = np.array([23, 0, 5, 7, 7, 1])
    data = PickleWriter().dumps(FakeSelect(a, idxs, (3, 2)))
    np.testing.assert_array_equal(_load(data), np.arange(24.0)[idxs].reshape(3, 2))


def test_python2_strings_become_text():
    loaded = _load(PickleWriter(python3=False).dumps({"bs_style": "lbs", "raw": b"\xe9"}))
    assert loaded == {"bs_style": "lbs", "raw": "\xe9"}  # a Python 2 str: latin1 text


# --- refusals -------------------------------------------------------------------------------


def _command_payloads(marker) -> dict[str, bytes]:
    """Pickles that create ``marker`` when loaded with plain ``pickle.loads``."""
    touch = f"touch {marker}"
    create = f"open({str(marker)!r}, 'w').close()"
    getattr_chain = PickleWriter(python3=True).global_("builtins", "getattr").op(b"(")
    getattr_chain.call("builtins", "__import__", "os").write("system").op(
        b"tR"
    )  # getattr(__import__("os"), "system")
    getattr_chain.write((touch,)).op(b"R")
    return {
        "os.system": PickleWriter(python3=True).dumps(GlobalCall("os", "system", (touch,))),
        "posix.system": PickleWriter(python3=True).dumps(GlobalCall("posix", "system", (touch,))),
        "builtins.eval": PickleWriter(python3=True).dumps(
            GlobalCall("builtins", "eval", (create,))
        ),
        "__builtin__.eval": PickleWriter(python3=False).dumps(
            GlobalCall("__builtin__", "eval", (create,))
        ),
        "builtins.exec": PickleWriter(python3=True).dumps(
            GlobalCall("builtins", "exec", (create,))
        ),
        "numpy.testing._private.utils.runstring": PickleWriter(python3=True).dumps(
            GlobalCall("numpy.testing._private.utils", "runstring", (create, {}))
        ),
        "builtins.getattr": getattr_chain.finish(),
        "posix.system (pickled by pickle.dumps, protocol 4)": pickle.dumps(
            _SystemCall(touch), protocol=4
        ),
    }


class _SystemCall:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_command_payloads_are_live(tmp_path):
    """Control: the payloads below really run their command under plain pickle."""
    for label, data in _command_payloads(tmp_path / "marker").items():
        marker = tmp_path / "marker"
        pickle.loads(data)
        assert marker.exists(), label
        marker.unlink()


@pytest.mark.parametrize(
    "label",
    [
        "os.system",
        "posix.system",
        "builtins.eval",
        "__builtin__.eval",
        "builtins.exec",
        "numpy.testing._private.utils.runstring",
        "builtins.getattr",
        "posix.system (pickled by pickle.dumps, protocol 4)",
    ],
)
def test_command_payloads_are_refused(tmp_path, label):
    marker = tmp_path / "marker"
    with pytest.raises(UnsafePickleError) as info:
        _load(_command_payloads(marker)[label])
    assert label.split(" ")[0] in str(info.value)
    assert "not a MANO model file" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name, args",
    [
        ("subprocess", "Popen", (["touch", "x"],)),
        ("numpy", "load", ("x.npy",)),
        ("numpy.testing", "assert_equal", (1, 1)),
        ("pickle", "loads", (b"",)),
        ("copyreg", "_reconstructor", ()),
        ("numpy", "ndarray.tofile", ()),  # dotted names are attribute chains at protocol 4
        ("numpy.core.multiarray", "scalar.__globals__", ()),
        ("chumpy", "ch", ()),  # a module, not the allowed class
        ("scipy.sparse", "csc_matrix", ()),  # right class, module path no MANO file uses
    ],
)
def test_other_globals_are_refused(module, name, args):
    with pytest.raises(UnsafePickleError, match=re.escape(f"{module}.{name}")):
        _load(PickleWriter(python3=True).dumps(GlobalCall(module, name, args)))


def test_payload_inside_mano_state_is_refused(tmp_path):
    marker = tmp_path / "marker"
    ch = FakeCh(
        np.zeros(3), bookkeeping={"_cache": GlobalCall("os", "system", (f"touch {marker}",))}
    )
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        _load(PickleWriter().dumps({"J": ch}))
    assert not marker.exists()


def test_extension_registry_goes_through_the_allow_list(tmp_path):
    code = 0x7FF0
    copyreg.add_extension("os", "system", code)
    try:
        data = (
            PickleWriter()
            .op(b"\x83" + struct.pack("<H", code))
            .write((f"touch {tmp_path / 'marker'}",))
        )
        with pytest.raises(UnsafePickleError, match=r"os\.system"):
            _load(data.op(b"R").finish())
    finally:
        copyreg.remove_extension("os", "system", code)
    assert not (tmp_path / "marker").exists()


def test_persistent_ids_are_refused():
    with pytest.raises(UnsafePickleError, match="persistent id"):
        _load(PickleWriter().write("anything").op(b"Q").finish())


def _array_state(dtype, raw: bytes, shape=(2,)) -> bytes:
    """``_reconstruct(ndarray, ...)`` with a hand-made dtype and data."""
    w = PickleWriter().call(
        "numpy.core.multiarray", "_reconstruct", GlobalRef("numpy", "ndarray"), (0,), b"b"
    )
    return w.write((1, shape, dtype, False, raw)).op(b"b").finish()


@pytest.mark.parametrize(
    "data, message",
    [
        # ndarray itself called with arguments, or built by NEWOBJ
        (
            PickleWriter().dumps(GlobalCall("numpy", "ndarray", ((2,), "f8"))),
            "numpy.ndarray directly",
        ),
        (
            PickleWriter().global_("numpy", "ndarray").op(b")\x81").finish(),
            "numpy.ndarray directly",
        ),
        # _reconstruct asked for another type
        (
            PickleWriter()
            .call("numpy.core.multiarray", "_reconstruct", GlobalRef("chumpy.ch", "Ch"), (0,), b"b")
            .finish(),
            "only build numpy.ndarray",
        ),
        # dtype abuse: object arrays, odd names, dicts
        (_array_state(GlobalCall("numpy", "dtype", ("O8", 0, 1)), b"\x00" * 16), "numeric type"),
        (
            _array_state(
                GlobalCall("numpy", "dtype", ({"names": ["a"], "formats": ["O"]}, 0, 1)), b""
            ),
            "numeric",
        ),
        (
            _array_state(GlobalCall("numpy", "dtype", ("f8", 0, 1)), b"\x00" * 15),
            "needs 16 bytes, found 15",
        ),
        # a shape whose size would overflow int64 still has to match the bytes present
        (
            _array_state(GlobalCall("numpy", "dtype", ("f8", 0, 1)), b"", shape=(2**40, 2**40)),
            "found 0",
        ),
        # _codecs.encode may only undo Python 3's latin1 trick
        (
            PickleWriter(python3=True).dumps(GlobalCall("_codecs", "encode", ("x", "rot13"))),
            "latin1",
        ),
        (
            PickleWriter(python3=True).dumps(GlobalCall("_codecs", "encode", (b"x", "zlib_codec"))),
            "latin1",
        ),
        # set over something that is not a list
        (
            PickleWriter().dumps(GlobalCall("__builtin__", "set", (FakeCh(np.zeros(2)),))),
            "one list",
        ),
        # an allowed class named but never instantiated
        (PickleWriter().global_("chumpy.ch", "Ch").finish(), "never used"),
        # broken chumpy / scipy state
        (
            PickleWriter().dumps(FakeSelect(FakeCh(np.zeros(4)), np.array([0, 4]), (2,))),
            "idxs must lie in 0..3",
        ),
        (
            PickleWriter().dumps(FakeSelect(FakeCh(np.zeros(4)), np.array([0, 1]), (3,))),
            "cannot fill",
        ),
        (
            PickleWriter().dumps(
                FakeCsc((10**6, 10**6), np.zeros(0), np.zeros(0, int), np.zeros(1, int))
            ),
            "at most",
        ),
        (
            PickleWriter().dumps(FakeCsc((2, 2), np.ones(1), np.array([5]), np.array([0, 1, 1]))),
            "row indices",
        ),
        # a list that contains itself (EMPTY_LIST, BINPUT 0, BINGET 0, APPEND)
        (PickleWriter().op(b"]q\x00h\x00a").finish(), "reference cycle"),
    ],
)
def test_abuse_of_allowed_globals_is_refused(data, message):
    with pytest.raises(pickle.UnpicklingError, match=message) as info:
        _load(data)
    assert "not a MANO model file" in str(info.value)


def test_build_cannot_change_the_stand_in_classes():
    before = dict(vars(safe_pickle.Ch))
    state = {"__setstate__": None, "to_plain": None}
    for data in (
        PickleWriter().global_("chumpy.ch", "Ch").write(state).op(b"b").finish(),
        PickleWriter().global_("chumpy.ch", "Ch").write((None, state)).op(b"b").finish(),
    ):
        with pytest.raises(pickle.UnpicklingError):
            _load(data)
    assert dict(vars(safe_pickle.Ch)) == before


def test_allowed_restricts_further_and_rejects_unknown_pairs():
    data = PickleWriter().dumps(FakeCh(np.zeros(2)))
    np.testing.assert_array_equal(_load(data), np.zeros(2))
    with pytest.raises(UnsafePickleError, match=r"chumpy\.ch\.Ch.*not a numpy file"):
        _load(data, allowed=MANO_ALLOWED_GLOBALS - {("chumpy.ch", "Ch")}, expected="a numpy file")
    with pytest.raises(ValueError, match="os"):
        _load(data, allowed=MANO_ALLOWED_GLOBALS | {("os", "system")})


def test_allow_list_is_exact_pairs():
    assert all(
        isinstance(m, str) and isinstance(n, str) and "." not in n for m, n in MANO_ALLOWED_GLOBALS
    )
    assert {m for m, _ in MANO_ALLOWED_GLOBALS} <= {
        "numpy",
        "numpy.core.multiarray",
        "numpy._core.multiarray",
        "__builtin__",
        "builtins",
        "_codecs",
        "chumpy.ch",
        "chumpy.reordering",
        "scipy.sparse.csc",
        "scipy.sparse._csc",
    }


def test_path_and_file_object_both_load(tmp_path):
    path = tmp_path / "array.pkl"
    path.write_bytes(pickle.dumps(np.arange(4), protocol=2))
    np.testing.assert_array_equal(load_restricted(path), np.arange(4))
    np.testing.assert_array_equal(load_restricted(str(path)), np.arange(4))
    with open(path, "rb") as file:
        np.testing.assert_array_equal(load_restricted(file), np.arange(4))
    path.write_bytes(PickleWriter().dumps(GlobalCall("os", "system", ("true",))))
    with pytest.raises(UnsafePickleError, match=str(path)):
        load_restricted(path)
