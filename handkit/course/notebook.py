"""Small helpers every notebook uses: seeding and thread setting, plotly output, results JSON."""

from __future__ import annotations

import json
import math
import os
import random

import numpy as np
import plotly.io as pio
import torch

from handkit.files import write_text_atomic


def setup(seed: int, threads: int | None = None) -> None:
    """Seed python, numpy and torch; limit torch's threads; render plotly as plain figure JSON.

    Args:
        seed: the notebook's ``seed`` parameter.
        threads: torch intra-op threads; None keeps torch's default, which follows
            ``OMP_NUM_THREADS`` when that is set.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(int(threads))
    # Plain figure JSON (no HTML with random div ids): JupyterLab draws it, nbval can compare it.
    pio.renderers.default = "plotly_mimetype"


def _plain(value):
    """JSON-ready copy: tensors/arrays to lists, floats rounded to 4 decimals, NaN rejected."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"results must be finite numbers, got {value}")
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_results(path: str | os.PathLike, results: dict) -> dict:
    """Write a notebook's key results to ``path`` as JSON (atomically); return what was written."""
    plain = _plain(results)
    write_text_atomic(path, json.dumps(plain, indent=2, sort_keys=True))
    return plain
