"""Choose the MANO model: the official files when pointed at them, else the embedded one."""

from __future__ import annotations

import os
from pathlib import Path

from handkit.mano.model import SIDES, ManoModel

#: Environment variable naming a folder with MANO_RIGHT.pkl / MANO_LEFT.pkl.
MANO_ROOT_ENV = "HANDKIT_MANO_ROOT"


def load_model(mano_root: str | Path | None = None, side: str = "right") -> ManoModel:
    """The MANO model for ``side``.

    Args:
        mano_root: folder holding the official ``MANO_RIGHT.pkl`` / ``MANO_LEFT.pkl``. When None,
            the ``HANDKIT_MANO_ROOT`` environment variable is used; when that is unset too, the
            embedded synthetic MANO-format model (no download needed).
        side: "right" or "left".
    Returns:
        A validated ``ManoModel`` in metres.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    root = mano_root if mano_root is not None else os.environ.get(MANO_ROOT_ENV) or None
    if root is None:
        from handkit.mano.synthetic import load_synthetic_model

        return load_synthetic_model(side)
    from handkit.mano.official import find_model_file, load_official_model

    return load_official_model(find_model_file(root, side), side)
