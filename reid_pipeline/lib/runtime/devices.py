"""Which device and number format a model runs on, and how much GPU memory it may take."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resolve_device(device: str) -> str:
    """``auto`` becomes cuda, then mps, then cpu, whichever this machine has."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda:0"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(precision: str, device: str) -> torch.dtype:
    """``auto`` is fp16 on a GPU and fp32 elsewhere (CPU half precision is slow or unsupported)."""
    import torch

    if precision == "auto":
        return torch.float16 if device.startswith(("cuda", "mps")) else torch.float32
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def cap_gpu_memory(device: str, fraction: float) -> None:
    """Make the CUDA allocator refuse to grow past ``fraction`` of the card (an out-of-memory error
    then comes early and the batch size backs off, instead of starving other processes on the GPU)."""
    if not device.startswith("cuda"):
        return
    import torch

    index = torch.device(device).index or 0
    torch.cuda.set_per_process_memory_fraction(fraction, index)
