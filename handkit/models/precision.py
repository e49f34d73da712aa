"""Which float type the Hand Predictor's encoder computes in: ``--precision fp32|bf16|auto``.

With "bf16" the ResNet-18 encoder runs under :func:`torch.autocast` in bfloat16 (convolutions and
matrix products in bfloat16, the rest as autocast decides); its features z^r, z^theta are cast
back to float32, so the regressor, MANO, the aligner and the losses stay in float32. "auto"
takes bf16 only where the hardware computes it natively (a GPU that supports it, or a CPU with
AVX-512 BF16 or AMX), float32 elsewhere: emulated bfloat16 is slower than float32.
"""

from __future__ import annotations

import torch

PRECISIONS = ("fp32", "bf16", "auto")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 in hardware (not emulated through float32)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    return False


def encoder_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the encoder for ``precision`` on ``device``; None: float32.

    Raises:
        ValueError: an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


def describe(precision: str, device: torch.device) -> str:
    """``precision`` as it resolves on ``device``, in words (for logs and run.json)."""
    dtype = encoder_dtype(precision, device)
    name = "bf16" if dtype is torch.bfloat16 else "fp32"
    native = " (native)" if dtype is torch.bfloat16 and native_bf16(device) else (
        " (emulated: no native bf16 here)" if dtype is torch.bfloat16 else "")
    return f"{precision} -> {name}{native}"
