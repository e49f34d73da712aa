"""Comparing generated files with the shipped ones at tolerances that say what matters.

Floating-point sums depend on the CPU's SIMD path and the thread count, so a file regenerated on
another machine may differ from the shipped one in the last bits of a float, or by one grey level
in a pixel at the edge of a triangle. These helpers return a short list of human-readable
differences (empty when the files agree), never the arrays themselves: pytest never has a
multi-megabyte value to diff, and a failure names the file, the array and how far off it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

#: Floats agree to this relative tolerance by dtype (with an absolute floor of the tolerance x
#: the array's largest magnitude, for values near zero): float64 to ~1e-9, float32 to a few ulps.
FLOAT_RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-6, np.dtype(np.float16): 1e-3}
#: uint8 images and boolean masks: at most this fraction of values may differ, images by at most
#: MAX_GREY_STEP grey levels.
MAX_CHANGED_FRACTION = 1e-4
MAX_GREY_STEP = 1


def sha256(path: Path) -> str:
    """The file's sha256 (to say whether two files are byte-identical without showing them)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def array_differences(name: str, got: np.ndarray, want: np.ndarray) -> list[str]:
    """What differs between two arrays beyond the tolerances (see the module docstring)."""
    if got.dtype != want.dtype or got.shape != want.shape:
        return [f"{name}: {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}"]
    if got.size == 0:
        return []
    if np.issubdtype(want.dtype, np.floating):
        rtol = FLOAT_RTOL[want.dtype]
        scale = float(np.max(np.abs(want))) or 1.0
        error = np.abs(got.astype(np.float64) - want.astype(np.float64))
        bound = rtol * (np.abs(want.astype(np.float64)) + scale)
        if not np.all(error <= bound) or not np.array_equal(np.isnan(got), np.isnan(want)):
            worst = float(np.nanmax(error / bound))
            return [f"{name}: {int(np.sum(~(error <= bound)))} of {want.size} values beyond "
                    f"rtol {rtol:g} (max error {float(np.nanmax(error)):.3g}, "
                    f"{worst:.3g} x the bound)"]
        return []
    if want.dtype == np.uint8 or want.dtype == np.bool_:
        step = np.abs(got.astype(np.int16) - want.astype(np.int16))
        changed = int(np.count_nonzero(step))
        problems = []
        if changed > MAX_CHANGED_FRACTION * want.size:
            problems.append(f"{name}: {changed} of {want.size} values differ (allowed "
                            f"{MAX_CHANGED_FRACTION:g} of them)")
        if int(step.max()) > MAX_GREY_STEP:
            problems.append(f"{name}: values differ by up to {int(step.max())} (allowed "
                            f"{MAX_GREY_STEP})")
        return problems
    changed = int(np.count_nonzero(got != want))
    return [f"{name}: {changed} of {want.size} values differ (integers must match)"] if changed \
        else []


def npz_differences(got: Path, want: Path, *, exact: tuple[str, ...] = ()) -> list[str]:
    """Array by array differences of two .npz files; arrays named in ``exact`` must be equal."""
    with np.load(got, allow_pickle=False) as a, np.load(want, allow_pickle=False) as b:
        if sorted(a.files) != sorted(b.files):
            return [f"{got.name}: arrays {sorted(a.files)}, expected {sorted(b.files)}"]
        problems = []
        for key in b.files:
            label = f"{got.parent.name}/{got.name}[{key}]"
            if key in exact:
                if not np.array_equal(a[key], b[key]):
                    problems.append(f"{label}: differs (must match exactly)")
            else:
                problems += array_differences(label, a[key], b[key])
        return problems


def tree_differences(got: Path, want: Path, *, exact: tuple[str, ...] = ()) -> list[str]:
    """Differences between two folders of .npz and .json files: the same file names, JSON
    values equal, .npz arrays within the tolerances (``exact`` arrays equal); other files
    byte-identical (compared through their sha256)."""
    names = {p.relative_to(want) for p in want.rglob("*") if p.is_file()}
    found = {p.relative_to(got) for p in got.rglob("*") if p.is_file()}
    if names != found:
        return [f"files missing {sorted(map(str, names - found))}, "
                f"unexpected {sorted(map(str, found - names))}"]
    problems = []
    for name in sorted(names):
        a, b = got / name, want / name
        if name.suffix == ".npz":
            problems += npz_differences(a, b, exact=exact)
        elif name.suffix == ".json":
            if json.loads(a.read_text()) != json.loads(b.read_text()):
                problems.append(f"{name}: JSON values differ")
        elif sha256(a) != sha256(b):
            problems.append(f"{name}: bytes differ")
    return problems
