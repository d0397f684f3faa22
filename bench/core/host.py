"""The host a run executes on: its device, what its CPU can do natively, and the cores it may use.

Machine capability is asked here, never in the trainer or a model, so the run identity (which resolves
``precision="auto"``), the trainer and ``bench perf`` agree on one answer.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
from pathlib import Path

import torch

from bench.core.errors import ConfigError


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' requested but no CUDA device is available")
    return torch.device(device)


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix products run natively here: CUDA with bf16, or a CPU with AVX-512 BF16 or AMX.

    Elsewhere bf16 autocast is emulated and slower than fp32, so ``precision="auto"`` keeps fp32.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return device.type == "cpu" and bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask: a container's or ``taskset``'s limit).

    The feature pool, the run executors and tuning size their workers by it, so a process limited to a
    few cores does not start one worker per core of the machine.
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name``, else ``lscpu``), else ``platform``'s."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        for line in out.splitlines():
            if line.strip().lower().startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware() -> str:
    """This machine in one line (CPU model and count, GPU if any, torch): the ``bench.hardware`` tag, so a
    wall time in a report can be read against the machine that produced it."""
    parts = [f"{cpu_name()} x {os.cpu_count()} CPUs"]
    if torch.cuda.is_available():
        parts.append(f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}")
    parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)
