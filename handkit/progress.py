"""Progress bars: live in a terminal and in JupyterLab, absent where a notebook runs headless.

In a Jupyter kernel ``tqdm.auto`` draws a bar as an ipywidget. The saved notebook keeps only
the widget's plain-text form, taken when the bar was first shown (``0%| 0/16 [00:00<?,
?it/s]``), and handkit drops widget views when it saves (no frontend ever drew them): an
executed and saved notebook showed bars frozen at 0 %. So the executors that save notebooks
(:func:`handkit.course.run.execute_in_place`, :func:`handkit.course.run.run_notebook`:
``make notebooks``, ``make run``, sweeps, papermill in the tests, nbval) start their kernels with
``TQDM_DISABLE=1`` (:func:`headless_bars`): tqdm then draws no bar by default, and handkit's
bars (:func:`progress_bar`) none at all, so a saved notebook holds no bar. A student's kernel
in JupyterLab, started without it, shows live bars.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

#: The environment variable tqdm (4.66 and later) reads as its ``disable`` default.
DISABLE_VARIABLE = "TQDM_DISABLE"


def bars_disabled() -> bool:
    """Whether the environment turns progress bars off (``TQDM_DISABLE`` set, and not to
    "", "0", "false" or "no"), read when a bar starts."""
    return os.environ.get(DISABLE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def progress_bar(iterable: Iterable | None = None, *, show: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm.auto.tqdm(iterable, **kwargs)``, drawn only when ``show`` and the environment
    allows it (:func:`bars_disabled`)."""
    return tqdm(iterable, disable=not show or bars_disabled(), **kwargs)


@contextmanager
def headless_bars() -> Iterator[None]:
    """Within the block, processes started (notebook kernels) draw no progress bars: sets
    ``TQDM_DISABLE=1`` and restores the variable afterwards."""
    before = os.environ.get(DISABLE_VARIABLE)
    os.environ[DISABLE_VARIABLE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DISABLE_VARIABLE, None)
        else:
            os.environ[DISABLE_VARIABLE] = before
