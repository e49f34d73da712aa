"""Reproducible ``.npz`` files: the same arrays always give the same bytes.

``np.savez_compressed`` stamps the current time into every zip entry; here every entry has a
fixed date, Unix attributes and the order of the given dict. ``np.load`` reads the result.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], *, compresslevel: int = 6) -> None:
    """Write ``arrays`` as a deflate-compressed .npz whose bytes depend only on its inputs.

    The archive is built in memory and written in one go, so a failure while building it
    leaves no half-written file.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            entry.create_system = 3  # Unix, on every platform
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, _npy_bytes(array), compress_type=zipfile.ZIP_DEFLATED,
                             compresslevel=compresslevel)
    Path(path).write_bytes(buffer.getvalue())
