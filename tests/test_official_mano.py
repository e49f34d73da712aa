"""Tests for handkit.mano.official: official-format MANO pickles load without chumpy."""

from __future__ import annotations

import importlib
import pickle
import pickletools
import sys

import numpy as np
import pytest
import torch

from handkit.mano import ManoLayer
from handkit.mano.model import MANO_PARENTS
from handkit.mano.official import MANO_ROOT_ENV, find_model_file, load_official_model
from handkit.mano.safe_pickle import UnsafePickleError, load_restricted
from tests.mano_pickle_fixtures import (
    GENUINE_GLOBALS,
    RESAVE_GLOBALS,
    FakeCh,
    GlobalCall,
    PickleWriter,
    as_file_objects,
    official_arrays,
    write_mano_pickle,
)


@pytest.fixture(scope="module")
def arrays():
    return official_arrays(seed=3)


def _globals_named(data: bytes) -> set[tuple[str, str]]:
    return {tuple(arg.split(" ")) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


@pytest.mark.parametrize("python3, expected", [(False, GENUINE_GLOBALS), (True, RESAVE_GLOBALS)])
def test_fixture_names_exactly_the_real_files_globals(tmp_path, arrays, python3, expected):
    data = write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", arrays, python3=python3).read_bytes()
    assert data[:2] == b"\x80\x02"  # protocol 2
    assert _globals_named(data) == expected


class _Recorder:
    """Stands in for chumpy / scipy classes when checking the fixture with numpy's own code."""

    def __setstate__(self, state):
        self.state = state


class _NumpyUnpickler(pickle.Unpickler):
    """Trusted, test-only: numpy's real functions for numpy globals."""

    def find_class(self, module, name):
        if module.startswith("numpy"):
            module = module.replace("numpy.core", "numpy._core")
        if module in ("chumpy.ch", "chumpy.reordering", "scipy.sparse.csc"):
            return _Recorder
        return super().find_class(module, name)


def test_fixture_arrays_decode_with_numpy_itself(tmp_path, arrays):
    """The fixture writer is checked against numpy's own unpickling, not just handkit's."""
    path = write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", arrays)
    with open(path, "rb") as file:
        data = _NumpyUnpickler(file, encoding="latin1").load()
    for key in (
        "v_template",
        "posedirs",
        "weights",
        "f",
        "kintree_table",
        "hands_components",
        "hands_mean",
    ):
        assert data[key].dtype == arrays[key].dtype, key
        np.testing.assert_array_equal(data[key], arrays[key], err_msg=key)
    assert data["f"].dtype == np.uint32 and data["kintree_table"][0, 0] == 2**32 - 1
    select = data["shapedirs"].state
    assert (
        select["a"].state["x"].shape != arrays["shapedirs"].shape
    )  # not already in the selected shape
    assert isinstance(
        select["a"].state["_dirty_vars"], set
    )  # chumpy's bookkeeping, with a set in it
    assert set(data["J_regressor"].state) == {"_shape", "data", "indices", "indptr", "maxprint"}
    assert data["bs_type"] == "lrotmin"


@pytest.mark.parametrize("python3", [False, True], ids=["python2_file", "python3_resave"])
def test_official_format_loads_without_chumpy(tmp_path, arrays, python3):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("chumpy")
    path = write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", arrays, python3=python3)
    model = load_official_model(path, "right")
    assert "chumpy" not in sys.modules
    for key in ("v_template", "shapedirs", "posedirs", "weights", "hands_components", "hands_mean"):
        np.testing.assert_array_equal(getattr(model, key), arrays[key], err_msg=key)
    np.testing.assert_array_equal(model.j_regressor, arrays["J_regressor"])
    np.testing.assert_array_equal(model.faces, arrays["f"])
    assert model.faces.dtype == np.int64
    assert tuple(model.parents) == MANO_PARENTS
    assert model.side == "right" and model.source == str(path)


@pytest.mark.parametrize("python3", [False, True], ids=["python2_file", "python3_resave"])
def test_unused_keys_load_too(tmp_path, arrays, python3):
    data = load_restricted(write_mano_pickle(tmp_path / "m.pkl", arrays, python3=python3))
    np.testing.assert_array_equal(data["J"], arrays["J"])  # a chumpy Ch in the file
    np.testing.assert_array_equal(data["hands_coeffs"], arrays["hands_coeffs"])
    assert (data["bs_type"], data["bs_style"]) == ("lrotmin", "lbs")


def test_left_file_loads_as_left(tmp_path, arrays):
    model = load_official_model(write_mano_pickle(tmp_path / "MANO_LEFT.pkl", arrays), "left")
    assert model.side == "left"
    assert model.tip_vertex_ids == (745, 317, 445, 556, 673)


def _with(arrays: dict, key: str, value) -> dict:
    return {**arrays, key: value}


@pytest.mark.parametrize(
    "key, value, expected, found",
    [
        ("hands_mean", np.zeros(44), "(45,)", "(44,)"),
        ("v_template", np.zeros((777, 3)), "(778, 3)", "(777, 3)"),
        ("f", np.zeros((1538, 4), np.uint32), "(1538, 3)", "(1538, 4)"),
        ("J_regressor", np.ones((16, 777)), "(16, 778)", "(16, 777)"),  # written as CSC
        ("shapedirs", np.zeros((778, 3, 9)), "(778, 3, 10)", "(778, 3, 9)"),  # written as Select
        ("kintree_table", np.zeros((2, 15), np.int64), "(2, 16)", "(2, 15)"),
        ("posedirs", "not an array", "(778, 3, 135)", "str"),
    ],
)
def test_wrong_shapes_name_key_expected_and_found(tmp_path, arrays, key, value, expected, found):
    path = write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", _with(arrays, key, value))
    with pytest.raises(ValueError) as info:
        load_official_model(path, "right")
    message = str(info.value)
    assert key in message and expected in message and found in message


def test_missing_keys_are_named(tmp_path, arrays):
    partial = {k: v for k, v in arrays.items() if k not in ("posedirs", "f")}
    with pytest.raises(ValueError, match=r"missing keys \['posedirs', 'f'\]"):
        load_official_model(write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", partial), "right")


@pytest.mark.parametrize(
    "joint,parent,message",
    [(0, 7, "kintree_table"), (5, 3, "parents")],  # a bad root marker; a bad tree
)
def test_bad_root_marker_and_tree_are_refused(tmp_path, arrays, joint, parent, message):
    table = arrays["kintree_table"].copy()
    table[0, joint] = parent
    with pytest.raises(ValueError, match=message):
        load_official_model(
            write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", _with(arrays, "kintree_table", table)),
            "right",
        )


def test_side_is_checked(tmp_path, arrays):
    path = write_mano_pickle(tmp_path / "MANO_LEFT.pkl", arrays)
    with pytest.raises(ValueError, match="left hand's file"):
        load_official_model(path, "right")
    with pytest.raises(ValueError, match="side must be one of"):
        load_official_model(path, "both")
    with pytest.raises(ValueError, match="side must be one of"):
        find_model_file(tmp_path, "Right")


def test_malicious_model_file_is_refused(tmp_path, arrays):
    marker = tmp_path / "marker"
    objects = as_file_objects(arrays)
    objects["J"] = FakeCh(
        arrays["J"], bookkeeping={"_cache": GlobalCall("os", "system", (f"touch {marker}",))}
    )
    path = tmp_path / "MANO_RIGHT.pkl"
    path.write_bytes(PickleWriter().dumps(objects))
    with pytest.raises(UnsafePickleError, match=r"os\.system.*not a MANO model file"):
        load_official_model(path, "right")
    assert not marker.exists()


# --- finding the files ------------------------------------------------------------------------


def test_find_model_file_uses_mano_root_then_models_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(MANO_ROOT_ENV, raising=False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "MANO_LEFT.pkl").write_bytes(b"")
    (tmp_path / "MANO_RIGHT.pkl").write_bytes(b"")
    assert find_model_file(tmp_path, "right") == tmp_path / "MANO_RIGHT.pkl"
    assert find_model_file(str(tmp_path), "left") == tmp_path / "models" / "MANO_LEFT.pkl"


def test_environment_variable_is_honoured(tmp_path, monkeypatch):
    env_root, arg_root = tmp_path / "env", tmp_path / "arg"
    for root in (env_root, arg_root):
        root.mkdir()
        (root / "MANO_RIGHT.pkl").write_bytes(b"")
    monkeypatch.setenv(MANO_ROOT_ENV, str(env_root))
    assert find_model_file(None, "right") == env_root / "MANO_RIGHT.pkl"
    assert find_model_file(arg_root, "right") == arg_root / "MANO_RIGHT.pkl"  # the argument wins


def _assert_guidance(message: str) -> None:
    for text in (
        "https://mano.is.tue.mpg.de",
        "registration",
        "licence",
        "redistributed",
        "mano_root=",
        MANO_ROOT_ENV,
    ):
        assert text in message, text


def test_missing_file_explains_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(MANO_ROOT_ENV, raising=False)
    with pytest.raises(FileNotFoundError) as info:
        find_model_file(tmp_path, "left")
    message = str(info.value)
    _assert_guidance(message)
    assert "MANO_LEFT.pkl" in message and str(tmp_path / "MANO_LEFT.pkl") in message


def test_missing_file_via_environment_and_no_root_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv(MANO_ROOT_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        find_model_file(None, "right")
    _assert_guidance(str(info.value))
    monkeypatch.delenv(MANO_ROOT_ENV)
    with pytest.raises(FileNotFoundError, match="no MANO folder given") as info:
        find_model_file(None, "right")
    _assert_guidance(str(info.value))


def test_mano_layer_reads_the_official_format(tmp_path, arrays, monkeypatch):
    """End to end: ManoLayer(mano_root=...) and $HANDKIT_MANO_ROOT reach the official loader."""
    write_mano_pickle(tmp_path / "MANO_RIGHT.pkl", arrays)
    layer = ManoLayer(mano_root=tmp_path, use_pca=False, flat_hand_mean=True, dtype=torch.float64)
    assert layer.model.source == str(tmp_path / "MANO_RIGHT.pkl")
    verts, _ = layer(torch.zeros(1, 48), torch.zeros(1, 10))
    np.testing.assert_allclose(verts[0].numpy(), arrays["v_template"] * 1000, atol=1e-9)  # mm
    monkeypatch.setenv(MANO_ROOT_ENV, str(tmp_path))
    assert ManoLayer().model.source == str(tmp_path / "MANO_RIGHT.pkl")
