"""Files the kit writes: atomic text files, one writer per output folder, stale temporaries.

* :func:`write_text_atomic` writes through a temporary file and a rename: readers (and an
  interrupted run) never see half a file.
* :func:`folder_lock` holds an exclusive lock (``fcntl.flock`` on the hidden file
  :data:`LOCK_FILE` in the folder) while a command writes into a folder: a second command gets
  one line naming the folder and the holder (pid, host, command, since when). The operating
  system drops the lock when the holder's process ends, however it ends, so a killed run never
  leaves a folder locked. The lock file itself stays (deleting it would let two processes lock
  two different files of one name).
* Every temporary the kit makes starts with :data:`TEMP_PREFIX`, so that
  :func:`remove_stale_temporaries` can delete those a killed process left behind (under the
  folder's lock, where no live writer of the kit can own them) and nothing else.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

#: The lock file of an output folder (hidden; its text names the last holder).
LOCK_FILE = ".handkit.lock"
#: The start of the name of every temporary file or folder the kit makes.
TEMP_PREFIX = ".handkit-tmp-"


class FolderInUseError(RuntimeError):
    """Another process holds the folder's lock (or the lock file cannot be made)."""


def temporary_name(target: str) -> str:
    """The prefix of a temporary for ``target`` (a file or folder name): ``.handkit-tmp-NAME.``
    (``tempfile`` adds random characters after it)."""
    return f"{TEMP_PREFIX}{target}."


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename
    (the folder is created; the file is readable by all, 0644, as a plain write would make it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=temporary_name(path.name),
                                     suffix=".tmp", delete=False) as handle:
        try:
            handle.write(text)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
    return path


def _holder_text(what: str) -> str:
    argv = list(getattr(sys, "orig_argv", sys.argv)) or ["python"]  # python -m handkit ...
    command = " ".join([Path(argv[0]).name, *argv[1:]])
    since = datetime.now().isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()} ({what}: {command}) since {since}\n"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, *, what: str = "handkit",
                error: type[Exception] = FolderInUseError,
                lock_file: str | os.PathLike | None = None, wait: bool = False
                ) -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Args:
        folder: the output folder.
        what: what holds it, shown to a second process (e.g. ``"handkit train"``).
        error: the exception class raised when the lock is held elsewhere or cannot be made
            (callers pick the one their command line prints as one line).
        lock_file: another lock file than ``folder/.handkit.lock`` (for a folder that is
            replaced as a whole, e.g. a generated data set: a hidden file next to it).
        wait: wait for another holder to let go instead of raising (for short blocks, e.g.
            rewriting a results file that several processes add to).

    Raises:
        ``error``: another process holds it (the message names the folder and the holder), or
            the folder or lock file cannot be written (read-only, not a folder).
    """
    folder = Path(folder)
    path = Path(lock_file) if lock_file is not None else folder / LOCK_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - held open for the whole block
    except OSError as failure:
        raise error(f"cannot write into {path.parent}: {failure.strerror or failure}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as failure:
            if failure.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise error(f"{folder} is in use by {holder}; wait for it to end, or choose "
                        f"another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(_holder_text(what))
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()  # an empty lock file: nobody holds it
            handle.flush()


#: Temporaries of earlier versions of the kit: ``.NAME.RANDOM.tmp`` of a checkpoint.
_LEGACY_TEMP = re.compile(r"^\.(checkpoint|checkpoint\.prev|final|stage1|control)\.pt\.\w{8}\.tmp$")


def stale_temporaries(folder: str | os.PathLike, *, target: str | None = None) -> list[Path]:
    """The kit's temporaries in ``folder`` (not below it): names starting with
    :data:`TEMP_PREFIX` (only those of ``target`` if given), and checkpoint temporaries of
    earlier versions (``.checkpoint.pt.XXXXXXXX.tmp``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if target is not None:  # exactly NAME's: not those of NAME.v2 next to it
        mine = re.compile(rf"^{re.escape(temporary_name(target))}\w{{8}}(\.tmp)?$")
        return sorted(path for path in folder.iterdir() if mine.match(path.name))
    return sorted(path for path in folder.iterdir()
                  if path.name.startswith(TEMP_PREFIX) or _LEGACY_TEMP.match(path.name))


def remove_stale_temporaries(*folders: str | os.PathLike, target: str | None = None
                             ) -> list[tuple[Path, int]]:
    """Delete :func:`stale_temporaries` of each folder (files and folders); call it only while
    holding the folders' lock. Returns (path, bytes) of each removed one."""
    removed = []
    for folder in folders:
        for path in stale_temporaries(folder, target=target):
            size = _size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append((path, size))
    return removed


def removed_note(removed: list[tuple[Path, int]], where: str | os.PathLike) -> str | None:
    """One line saying which stale temporaries were removed from ``where`` (None if none)."""
    if not removed:
        return None
    size = sum(size for _, size in removed)
    names = [path.name for path, _ in removed]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return (f"removed {len(names)} stale temporar{'y' if len(names) == 1 else 'ies'} "
            f"({size / 1e6:.1f} MB) left in {where} by an interrupted run: {shown}")


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.lstat().st_size if path.exists() else 0
