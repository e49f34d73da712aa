"""Jupyter kernels for headless runs, and the error a failed run raises.

On Linux and macOS, headless kernels talk to their client over Unix sockets in a private
temporary folder, not TCP ports: two runs side by side (a sweep's workers, a test suite run
in parallel) cannot be handed the same free port, a known jupyter_client race that can make a
run fail or hang. Elsewhere they use TCP, with CurveZMQ keys where the kernel declares support
(ipykernel 7 does): their sockets are encrypted, and the kernel does not warn, once per
notebook, that it runs over TCP without encryption.

``kernel=None`` everywhere means "the Python running this code" (like nbval's
``--nbval-current-env``), so no kernelspec has to be installed.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import zmq
from ipykernel.kernelspec import RESOURCES, get_kernel_dict, install
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager

#: Longest a single notebook cell may run (s) before the run is stopped with an error, so a
#: headless run can never hang (every notebook's defaults take well under a minute).
CELL_TIMEOUT_S = 600

#: The Jupyter kernel ``make run`` registers for the repository's ``.venv``.
DEFAULT_KERNEL = "handkit"

#: The name JupyterLab shows for :data:`DEFAULT_KERNEL`, and what its kernels' environment sets
#: (idle OpenMP threads sleep: see the Makefile), as ``make setup`` registers it.
KERNEL_DISPLAY_NAME = "Python (handkit)"
KERNEL_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}

#: Kernel name used when ``kernel=None``: the Python running this code.
_CURRENT_ENV_KERNEL = "handkit-current-env"


class NotebookRunError(RuntimeError):
    """A notebook failed or did not write its JSON; the message names notebook and cell.

    Attributes:
        cell: ``"In [5], the cell starting 'x = f()'"`` when a cell raised, else ``None``.
        error: the notebook's error, ``"ValueError: boom"``, when a cell raised, else ``None``.
    """

    def __init__(self, message: str, *, cell: str | None = None, error: str | None = None):
        super().__init__(message)
        self.cell = cell
        self.error = error


class _CurrentEnvKernelSpecManager(KernelSpecManager):
    """Hands out a kernel running ``sys.executable``, whatever kernel name is asked for."""

    def get_kernel_spec(self, kernel_name):
        return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())


#: Unix sockets: Linux and macOS (zmq's ``ipc://``); Windows kernels use TCP.
_HAS_UNIX_SOCKETS = os.name == "posix" and zmq.has("ipc")


def _socket_path_prefix() -> str:
    """An absolute, short path prefix for one kernel's sockets (``<prefix>-<n>``), in a fresh
    private folder: client and kernel run in different folders, so it must be absolute, and a
    Unix socket's path may hold only about 100 bytes."""
    return str(Path(tempfile.mkdtemp(prefix="hk-")) / "k")


class _HeadlessKernelManager(AsyncKernelManager):
    """Unix sockets where the system has them (see the module's docstring), else TCP with
    CurveZMQ keys when the kernelspec declares ``supported_encryption: curve``
    (jupyter_client's ``transport_encryption="auto"``)."""

    def __init__(self, **kwargs: Any) -> None:
        if _HAS_UNIX_SOCKETS:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", _socket_path_prefix())
        elif "transport_encryption" in self.class_trait_names() and zmq.has("curve"):
            kwargs.setdefault("transport_encryption", "auto")
        super().__init__(**kwargs)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self.transport == "ipc" and not restart:
            shutil.rmtree(Path(self.ip).parent, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class _CurrentEnvKernelManager(_HeadlessKernelManager):
    """Starts kernels in the Python running this code (like nbval's ``--nbval-current-env``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kernel_spec_manager=_CurrentEnvKernelSpecManager(), **kwargs)


def _installed_kernel_spec(kernel: str):
    try:
        return KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise NotebookRunError(
            f"Jupyter kernel {kernel!r} is not installed for this Python ({sys.executable}). "
            f"`make run` registers the 'handkit' kernel; by hand: {sys.executable} -m ipykernel "
            f"install --sys-prefix --name handkit. Or use this Python instead: kernel=None "
            f"(--current-env on the command line)."
        ) from None


def register_kernel(name: str = DEFAULT_KERNEL) -> Path | None:
    """Register this Python as the Jupyter kernel ``name``, as ``make setup`` does, unless a
    kernel of that name already runs this Python.

    The kernel goes into this environment (``sys.prefix``), or the user's Jupyter folder where
    the environment cannot be written (a system Python).

    Returns:
        the kernel's folder when it was written, None when it was there already.
    """
    try:
        if KernelSpecManager().get_kernel_spec(name).argv[0] == sys.executable:
            return None
    except NoSuchKernel:
        pass
    options = {"kernel_name": name, "display_name": KERNEL_DISPLAY_NAME,
               "env": dict(KERNEL_ENV)}
    try:
        return Path(install(prefix=sys.prefix, **options))
    except PermissionError:
        return Path(install(user=True, **options))


def kernel_options(kernel: str | None) -> dict[str, Any]:
    """papermill keyword arguments that select the kernel, after checking it exists."""
    if kernel is None:
        return {
            "kernel_name": _CURRENT_ENV_KERNEL,
            "kernel_manager_class": _CurrentEnvKernelManager,
        }
    _installed_kernel_spec(kernel)
    return {"kernel_name": kernel, "kernel_manager_class": _HeadlessKernelManager}


