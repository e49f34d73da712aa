"""nbval compares what is stable across machines: figures by structure, numbers rounded.

Floating-point sums differ in their last bits on another CPU (another SIMD path) or at another
thread count. Compared byte for byte, a notebook executed on one machine fails nbval on the next:
a saved plotly figure embeds float arrays (``bdata``) and rendered images
(``data:image/png;base64``), and a printed 6.6187e-04 becomes 6.6188e-04. This plugin makes
nbval compare

- for every ``application/vnd.plotly.v1+json`` output, the figure's structure: trace types,
  names and modes, how many values each trace holds, titles, axis titles and annotation texts
  (the numbers behind a figure are checked by the notebook's own asserts, at a tolerance);
- printed text (streams and ``text/plain``) word for word, with decimal numbers allowed to differ
  by :data:`LAST_DIGIT_UNITS` units in their last printed digit or by :data:`RELATIVE`
  (an MPJPE averaged in float32 over thousands of frames moves by ~1e-5 of itself, 69.0746 vs
  69.0739 mm); integers must match exactly.

Loaded by the repository's ``conftest.py``; ``tests/nbval_sanitize.cfg`` still replaces times,
paths and addresses first.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

import nbformat

from handkit.progress import DISABLE_VARIABLE

PLOTLY = "application/vnd.plotly.v1+json"
#: Trace keys whose length says how much a trace shows (not the values themselves).
SIZED_KEYS = ("x", "y", "z", "i", "j", "k", "text", "values", "labels", "r", "theta")
#: Trace keys kept as they are (what a trace is and how it is labelled).
TRACE_KEYS = ("type", "name", "mode", "orientation", "showlegend", "legendgroup")
#: Bytes per item of plotly's typed-array dtypes.
ITEM_SIZES = {"f8": 8, "f4": 4, "i4": 4, "u4": 4, "i2": 2, "u2": 2, "i1": 1, "u1": 1}


def value_count(value: Any) -> int | None:
    """How many numbers a trace property holds: a list's length, or a typed array's size."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and "bdata" in value:
        if "shape" in value:
            count = 1
            for size in str(value["shape"]).split(","):
                count *= int(size)
            return count
        return len(base64.b64decode(value["bdata"])) // ITEM_SIZES.get(value.get("dtype"), 1)
    return None


def _title(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("text")
    return value if isinstance(value, str) else None


def _axis_titles(layout: dict) -> dict[str, str | None]:
    titles = {}
    for key, value in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            titles[key] = _title(value.get("title"))
        elif key.startswith("scene") and isinstance(value, dict):
            for axis in ("xaxis", "yaxis", "zaxis"):
                titles[f"{key}.{axis}"] = _title(value.get(axis, {}).get("title"))
    return titles


def figure_structure(figure: dict) -> dict[str, Any]:
    """What nbval compares of a plotly figure (see the module docstring)."""
    traces = []
    for trace in figure.get("data", []):
        summary = {key: trace[key] for key in TRACE_KEYS if key in trace}
        summary["sizes"] = {key: value_count(trace[key]) for key in SIZED_KEYS if key in trace}
        if "source" in trace:  # an image trace: that there is one, not its pixels
            summary["source"] = str(trace["source"]).split(",")[0]
        traces.append(summary)
    layout = figure.get("layout", {})
    annotations = list(layout.get("annotations", []))
    for key, value in layout.items():
        if key.startswith("scene") and isinstance(value, dict):
            annotations += value.get("annotations", [])
    return {
        "traces": traces,
        "title": _title(layout.get("title")),
        "axis_titles": _axis_titles(layout),
        "annotations": [note.get("text") for note in annotations],
        "images": len(layout.get("images", [])),
    }


def with_figure_structures(outputs: list) -> list:
    """The outputs with every plotly figure replaced by its structure."""
    changed = []
    for output in outputs:
        data = output.get("data")
        if data and PLOTLY in data:
            output = nbformat.from_dict(
                {**output, "data": {**data, PLOTLY: figure_structure(data[PLOTLY])}})
        changed.append(output)
    return changed


#: A printed decimal number (with an optional exponent) or integer.
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
#: Printed decimals may differ by this many units in their last digit, or by this fraction.
LAST_DIGIT_UNITS = 2
RELATIVE = 1e-4


def _last_digit_unit(text: str) -> float:
    """The value of one unit in the last printed digit of a decimal ("6.6187e-04" -> 1e-08)."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _numbers_close(first: str, second: str) -> bool:
    if first == second:
        return True
    if not any(c in first + second for c in ".eE"):  # integers: exact
        return False
    a, b = float(first), float(second)
    unit = max(_last_digit_unit(first), _last_digit_unit(second))
    return abs(a - b) <= max(LAST_DIGIT_UNITS * unit * (1 + 1e-9), RELATIVE * max(abs(a), abs(b)))


def texts_close(first: str, second: str) -> bool:
    """Whether two printed texts are the same but for decimals a few last-digit units apart."""
    words_a, words_b = NUMBER.split(first), NUMBER.split(second)
    numbers_a, numbers_b = NUMBER.findall(first), NUMBER.findall(second)
    return (words_a == words_b and len(numbers_a) == len(numbers_b)
            and all(_numbers_close(a, b) for a, b in zip(numbers_a, numbers_b, strict=True)))


def _texts(output) -> list[tuple[str, Any]]:
    """(comparison key, text) of an output's printed parts: its stream, or its text/plain."""
    if output.get("output_type") == "stream":
        return [(output.get("name"), output.get("text", ""))]
    data = output.get("data") or {}
    return [("text/plain", data["text/plain"])] if "text/plain" in data else []


def _with_text(output, key: str, text: str):
    if key == "text/plain":
        return nbformat.from_dict({**output, "data": {**output["data"], key: text}})
    return nbformat.from_dict({**output, "text": text})


def with_close_numbers_as_stored(test: list, ref: list, sanitize) -> list:
    """``test`` with each printed text that is :func:`texts_close` to the stored one (after
    ``sanitize``) replaced by the stored text, so nbval finds them equal; others unchanged."""
    stored: dict[str, list[str]] = {}
    for output in ref:
        for key, text in _texts(output):
            stored.setdefault(key, []).append(text)
    seen: dict[str, int] = {}
    changed = []
    for output in test:
        for key, text in _texts(output):
            position = seen[key] = seen.get(key, -1) + 1
            if position < len(stored.get(key, [])):
                want = stored[key][position]
                if isinstance(text, str) and isinstance(want, str) and text != want and \
                        texts_close(sanitize(text), sanitize(want)):
                    output = _with_text(output, key, want)
        changed.append(output)
    return changed


def pytest_configure(config) -> None:
    """Wrap nbval's output comparison (once): figures by structure, numbers rounded. With
    ``--nbval``, the kernels it starts draw no progress bars, as the executors that saved the
    notebooks drew none (:mod:`handkit.progress`)."""
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        os.environ[DISABLE_VARIABLE] = "1"
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to change
        return
    if getattr(IPyNbCell.compare_outputs, "compares_figure_structure", False):
        return
    original = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        test = with_close_numbers_as_stored(test, ref, self.sanitize)
        return original(self, with_figure_structures(test), with_figure_structures(ref),
                        skip_compare)

    compare_outputs.compares_figure_structure = True
    IPyNbCell.compare_outputs = compare_outputs
