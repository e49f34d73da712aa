"""A random but valid MANO-format model for tests that must not depend on the shipped one."""

from __future__ import annotations

import numpy as np

from handkit.mano.model import MANO_PARENTS, NUM_FACES, NUM_VERTS, ManoModel


def random_model(seed: int = 0, side: str = "right") -> ManoModel:
    """Arrays of MANO's sizes with plausible magnitudes (metres); not a hand."""
    rng = np.random.default_rng(seed)
    v_template = rng.normal(scale=0.05, size=(NUM_VERTS, 3))
    weights = rng.random((NUM_VERTS, 16)) ** 4
    weights /= weights.sum(1, keepdims=True)
    regressor = rng.random((16, NUM_VERTS)) * (rng.random((16, NUM_VERTS)) < 0.02)
    regressor[:, 0] += 1e-3  # no empty row
    regressor /= regressor.sum(1, keepdims=True)
    components, _ = np.linalg.qr(rng.normal(size=(45, 45)))
    return ManoModel(
        v_template=v_template,
        shapedirs=rng.normal(scale=0.005, size=(NUM_VERTS, 3, 10)),
        posedirs=rng.normal(scale=0.002, size=(NUM_VERTS, 3, 135)),
        j_regressor=regressor,
        weights=weights,
        faces=rng.integers(0, NUM_VERTS, size=(NUM_FACES, 3)),
        parents=np.array(MANO_PARENTS),
        hands_components=components.T.copy(),
        hands_mean=rng.normal(scale=0.2, size=45),
        side=side,
        source=f"random(seed={seed})",
    )
