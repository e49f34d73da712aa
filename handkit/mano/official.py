"""Find and read the official MANO model files (``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``).

The files come from the MANO website under the MANO licence; handkit never ships them. They are
Python 2 pickles naming chumpy and scipy classes: :func:`load_official_model` reads them with
:func:`handkit.mano.safe_pickle.load_restricted` (no chumpy needed, nothing in the file runs)
and turns them into a :class:`~handkit.mano.model.ManoModel`.

Introduced in ``notebooks/01_mano_basics.ipynb``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handkit.mano.loading import MANO_ROOT_ENV
from handkit.mano.model import NUM_MANO_JOINTS, SIDES, ManoModel
from handkit.mano.safe_pickle import load_restricted

#: File name of the official model per side.
MANO_FILE_NAMES = {"right": "MANO_RIGHT.pkl", "left": "MANO_LEFT.pkl"}

MANO_WEBSITE = "https://mano.is.tue.mpg.de"

#: Official key -> ManoModel field, where they differ.
_RENAMES = {"J_regressor": "j_regressor", "f": "faces"}

#: Shape of each array handkit uses, under the official file's key names: ManoModel's shapes,
#: with ``parents`` stored as the (2, 16) ``kintree_table``.
OFFICIAL_SHAPES = {
    {field: key for key, field in _RENAMES.items()}.get(field, field): shape
    for field, shape in ManoModel.SHAPES.items()
    if field != "parents"
} | {"kintree_table": (2, NUM_MANO_JOINTS)}

#: How the official files store the root's parent in ``kintree_table`` (uint32 -1).
ROOT_PARENT = 2**32 - 1


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def find_model_file(mano_root: str | os.PathLike | None, side: str) -> Path:
    """Path of ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` for ``side``.

    Args:
        mano_root: folder holding the file (directly or in its ``models/`` subfolder, as in
            the MANO download). When None, the ``HANDKIT_MANO_ROOT`` environment variable.
        side: "right" or "left".
    Raises:
        ValueError: ``side`` is not "right" or "left".
        FileNotFoundError: no folder was given, or the file is not there; the message says
            where to get the files and how to point handkit at them.
    """
    _check_side(side)
    name = MANO_FILE_NAMES[side]
    root = mano_root if mano_root is not None else os.environ.get(MANO_ROOT_ENV) or None
    if root is None:
        raise FileNotFoundError(f"no MANO folder given: looking for {name}. {_how_to_get(name)}")
    candidates = [Path(root) / name, Path(root) / "models" / name]
    for path in candidates:
        if path.is_file():
            return path
    searched = " or ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"expected the official MANO file {name} at {searched}, but it is not there. "
        + _how_to_get(name)
    )


def _how_to_get(name: str) -> str:
    return (
        f"The official files come from the MANO website ({MANO_WEBSITE}: free registration, "
        f"MANO licence; they may not be redistributed, so handkit does not include them). "
        f"Download them, then pass mano_root=<folder containing {name}> or set the "
        f"{MANO_ROOT_ENV} environment variable to that folder."
    )


def load_official_model(path: str | os.PathLike, side: str) -> ManoModel:
    """Read an official MANO pickle into a :class:`ManoModel`, without chumpy.

    ``J_regressor`` (sparse) becomes the dense ``j_regressor``, ``f`` becomes ``faces`` and
    ``kintree_table`` becomes ``parents`` (root -1). ``hands_coeffs``, ``J``, ``bs_type`` and
    ``bs_style`` are not needed and are ignored.

    Args:
        path: a ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl`` file.
        side: "right" or "left"; must match the file name when it is one of those two.
    Raises:
        ValueError: bad ``side``, missing keys, or an array of the wrong shape (the message
            names the key, the expected and the found shape).
        handkit.mano.safe_pickle.UnsafePickleError: the file names something a MANO file never
            does (nothing in it is run).
    """
    _check_side(side)
    path = Path(path)
    for other_side, other_name in MANO_FILE_NAMES.items():
        if path.name == other_name and other_side != side:
            raise ValueError(
                f"{path} is the {other_side} hand's file, but side={side!r} was asked for"
            )
    data = load_restricted(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a MANO file holds a dict, found {type(data).__name__}")
    missing = [key for key in OFFICIAL_SHAPES if key not in data]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}; a MANO file has {list(OFFICIAL_SHAPES)}")
    for key, shape in OFFICIAL_SHAPES.items():
        _check_array(path, key, data[key], shape)
    root_parent = int(data["kintree_table"][0, 0])
    if root_parent not in (ROOT_PARENT, -1):
        raise ValueError(
            f"{path}: kintree_table[0, 0] must be the root marker {ROOT_PARENT}, "
            f"found {root_parent}"
        )
    arrays = {_RENAMES.get(key, key): data[key] for key in OFFICIAL_SHAPES}
    return ManoModel.from_arrays(arrays, side=side, source=str(path))


def _check_array(path: Path, key: str, value, shape: tuple[int, ...]) -> None:
    if not isinstance(value, np.ndarray):
        raise ValueError(
            f"{path}: {key} must be an array of shape {shape}, found {type(value).__name__}"
        )
    if value.shape != shape:
        raise ValueError(f"{path}: {key} must have shape {shape}, found {value.shape}")
