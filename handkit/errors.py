"""Input a user can fix, and how every command reports it: one line, never a traceback.

:class:`InputError` is raised where the kit checks what it was given (a flag, a config file or
value, a notebook parameter, an output folder); it is a :class:`ValueError`, so callers that
catch ``ValueError`` keep working. Each command's ``main`` is wrapped by :func:`command`, which
ends an :class:`InputError`, or an :class:`OSError` about the user's own paths or disk (not a
folder, read-only, full, no permission), with one line on stderr::

    handkit train: cfg.yaml: lr must be a number, got '1e-3' (text; YAML reads ...)

and exit status :data:`EXIT_REFUSED` (1); argparse's own usage errors keep status 2. Any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Exit status of a command that refused its input (and of one whose run failed).
EXIT_REFUSED = 1

#: OSError numbers that describe the user's paths or disk rather than a fault of the kit.
USER_PATH_ERRNOS = frozenset({
    errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM,
    errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP,
})


class InputError(ValueError):
    """Input the user can fix; the message is one line naming what was expected and found."""


def number_text_hint(value: Any) -> str:
    """A hint for a number that arrived as text, else ``""``.

    PyYAML follows YAML 1.1, where a float needs a dot: ``1e-3`` is read as the text "1e-3";
    any number in quotes (JSON's ``"4"``) is text too.

    >>> number_text_hint("1e-3")
    ' (a number read as text: YAML reads 1e-3 as text; write 1.0e-3 or 0.001)'
    >>> number_text_hint("4")
    ' (a number written as text: drop the quotes)'
    >>> number_text_hint("abc"), number_text_hint(3)
    ('', '')
    """
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    if "e" in value.lower() and "." not in value:
        return " (a number read as text: YAML reads 1e-3 as text; write 1.0e-3 or 0.001)"
    return " (a number written as text: drop the quotes)"


def read_text(path: Path, kind: str) -> str:
    """The text of a file the user gave (``kind``: "YAML", "JSON", ... for the message).

    Raises:
        InputError: not UTF-8 text (a binary file, another encoding), naming the file.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a {kind} text file (byte {error.object[error.start]:#04x} "
                         f"at position {error.start} is not UTF-8)") from None


def yaml_problem(error: Exception) -> str:
    """A YAML parse error in one line: ``line 2, column 6: mapping values are not allowed
    here`` (PyYAML's own message spans several lines)."""
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(error).split())


def is_user_path_error(error: BaseException) -> bool:
    """Whether ``error`` is an OSError about a path or disk the user chose (see the errnos),
    or a FileNotFoundError the kit raised naming what it looked for."""
    return isinstance(error, FileNotFoundError) or (
        isinstance(error, OSError) and error.errno in USER_PATH_ERRNOS)


def describe_os_error(error: OSError) -> str:
    """One line: ``runs/x/final.pt: No space left on device``."""
    if error.strerror is None:  # raised by the kit with a message
        return str(error)
    return f"{error.filename}: {error.strerror}" if error.filename else error.strerror


def refuse(command: str, message: str) -> int:
    """Print ``handkit <command>: <message>`` on stderr; return :data:`EXIT_REFUSED`."""
    print(f"handkit {command}: {message}", file=sys.stderr)
    return EXIT_REFUSED


def run_command(name: str, main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> int:
    """``main(argv)``, with the user's input errors ended as one line (see the module)."""
    try:
        return int(main(argv) or 0)
    except InputError as error:
        return refuse(name, str(error))
    except OSError as error:
        if not is_user_path_error(error):
            raise
        return refuse(name, describe_os_error(error))


def command(name: str) -> Callable[[Callable], Callable[[Sequence[str] | None], int]]:
    """Decorator for a command's ``main(argv)``: :func:`run_command` around it."""

    def wrap(main: Callable) -> Callable[[Sequence[str] | None], int]:
        @functools.wraps(main)
        def wrapped(argv: Sequence[str] | None = None) -> int:
            return run_command(name, main, sys.argv[1:] if argv is None else list(argv))

        return wrapped

    return wrap


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (``--repeats 0`` is refused by argparse, naming the flag).

    >>> positive_int("3")
    3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def check_output_folder(path: str | Path, what: str) -> Path:
    """Refuse an output folder that cannot be made or written, before any work starts.

    ``path`` may exist (a folder) or not (its nearest existing parent must be a writable
    folder). Root passes a permission check everywhere, but not on a read-only file system.

    Raises:
        InputError: ``path`` (or a parent) is a file, or the folder it is in is not writable.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise InputError(f"{what} {path}: {existing} is a broken link, expected a folder")
        existing = existing.parent
    if not existing.is_dir():
        if existing == path:
            raise InputError(f"{what} {path} is a file, expected a folder")
        raise InputError(f"{what} {path} cannot be made: {existing} is a file, expected a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_fs(existing) else "no write permission"
        raise InputError(f"{what} {path}: cannot write in {existing} ({reason})")
    return path


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False
