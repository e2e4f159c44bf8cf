"""Lazy imports of the optional training / GPU stacks, with errors that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

TRAIN_EXTRA = "pip install -e '.[train]'"
GPU_EXTRA = "pip install -e '.[gpu]' (a separate environment: see README, 'GPU stack')"
MMLU_EXTRA = "pip install -e '.[turkishmmlu]' (lm-eval-harness)"
_COMMANDS = {"train": TRAIN_EXTRA, "gpu": GPU_EXTRA, "turkishmmlu": MMLU_EXTRA}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, extra: str = "train") -> ModuleType:
    """Import `module` or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        command = _COMMANDS[extra]
        raise MissingExtra(
            f"the student stage needs the Python package {module!r}, which is not installed ({exc}). "
            f"Install the {extra!r} extra: {command}"
        ) from exc


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA device. Without torch there is no CUDA path."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def require_cuda(what: str) -> None:
    """Fail clearly when a GPU-only path is asked for on a machine without CUDA."""
    if not cuda_available():
        raise RuntimeError(
            f"{what} needs a CUDA GPU, and torch sees none on this machine. Use the CPU path "
            f"(PEFT + TRL, {TRAIN_EXTRA}) or run on a GPU machine with {GPU_EXTRA}."
        )


def hardware() -> str:
    """A short description of the compute device, for the registry."""
    torch = require("torch")
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    import os
    import platform

    return f"cpu:{platform.machine()}x{os.cpu_count()}"
