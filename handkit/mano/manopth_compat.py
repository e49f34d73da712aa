"""Build a manopth ``ManoLayer`` from a handkit ``ManoModel``, where manopth is installed.

handkit never needs manopth. Where it happens to be importable, the benchmark and the
cross-check tests run manopth on the *same* arrays as handkit (e.g. the embedded synthetic
model, which manopth cannot read itself because it loads pickles with chumpy). This only
hands manopth its input arrays; all computation is manopth's own.
"""

from __future__ import annotations

import importlib.util
from unittest import mock

import numpy as np

from handkit.mano.model import ManoModel


def manopth_available() -> bool:
    """True when ``import manopth.manolayer`` would work."""
    try:
        return importlib.util.find_spec("manopth.manolayer") is not None
    except (ImportError, ValueError):
        return False


class _ArrayWithR:
    """Stands in for a chumpy array: manopth reads ``.r``."""

    def __init__(self, array: np.ndarray):
        self.r = array


class _DenseAsSparse:
    """Stands in for the sparse regressor: manopth calls ``.toarray()``."""

    def __init__(self, array: np.ndarray):
        self._array = array

    def toarray(self) -> np.ndarray:
        return self._array


def _manopth_arguments(model: ManoModel) -> dict:
    """The dict manopth's loader would return for an official file holding ``model``."""
    parents = model.parents.astype(np.int64).copy()
    parents[0] = 2**32 - 1
    return {
        "betas": _ArrayWithR(np.zeros(model.shapedirs.shape[-1])),
        "shapedirs": _ArrayWithR(model.shapedirs),
        "posedirs": _ArrayWithR(model.posedirs),
        "v_template": _ArrayWithR(model.v_template),
        "J_regressor": _DenseAsSparse(model.j_regressor),
        "weights": _ArrayWithR(model.weights),
        "f": model.faces.astype(np.uint32),
        "hands_components": model.hands_components,
        "hands_mean": model.hands_mean,
        "kintree_table": np.stack([parents, np.arange(len(parents))]),
    }


def make_manopth_layer(model: ManoModel, **options):
    """manopth's ``ManoLayer(**options)`` running on ``model``'s arrays.

    Raises:
        ImportError: manopth is not installed.
    """
    if not manopth_available():
        raise ImportError("manopth is not installed; handkit.mano.ManoLayer does not need it")
    from manopth import manolayer

    arguments = _manopth_arguments(model)
    with mock.patch.object(manolayer, "ready_arguments", lambda path: arguments):
        return manolayer.ManoLayer(mano_root="<handkit model>", side=model.side, **options)
