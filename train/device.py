"""Choosing where to run, the precision to compute in, and the autocast context for it.

Devices: cuda first, then Apple's mps, then cpu; or whatever the user names.

Precision (`--precision auto|fp32|bf16|fp16`): bf16 and fp16 run the forward pass under
torch.autocast, which computes the matrix products in the 16-bit type and keeps softmax,
LayerNorm and the losses in fp32 (PyTorch's own per-op lists). bf16 has fp32's exponent range,
so it needs no loss scaling; fp16 needs a GradScaler, which the training loops create when
asked. `auto` picks bf16 on CUDA cards that compute it natively and fp32 everywhere else, and
says what it chose and why. On x86 CPUs whose flags list AVX512-BF16 or AMX it points to
`--precision bf16` (faster there; elsewhere bf16 on the CPU is emulated and slower than fp32)
but does not choose it until 5 seeds show the main job's MCC in bf16 within seed noise of
fp32 (bench/RESULTS.md, "bf16 on the CPU" holds the commands and the state of that study).

Left out on purpose: fp8, per-module precision, Apple-specific choices (mps stays fp32).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# CPU flags (as /proc/cpuinfo spells them) under which bf16 products run in hardware.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class DeviceError(ValueError):
    """A --device that is misspelt or that this machine does not have."""


def pick_device(name: str | None = None) -> torch.device:
    """The device `name` names (refused with DeviceError if this machine lacks it), or for
    None / "auto" the best one here."""
    if name and name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"--device {name}: not a device; expected auto, cpu, cuda, "
                              f"cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError(f"--device {name}: MPS is not available on this machine")
        if device.type not in ("cpu", "cuda", "mps"):
            raise DeviceError(f"--device {name}: minibert runs on cpu, cuda or mps")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.cache
def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags from the first `flags` line of cpuinfo; empty where there is
    none (macOS, Windows, or a missing file)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def resolve_precision(precision: str, device: torch.device,
                      flags: set[str] | None = None) -> tuple[str, str]:
    """(fp32 | bf16 | fp16, why). flags: the CPU's feature flags (default: cpu_flags())."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision, "asked for"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: this CUDA device computes bf16 natively"
        return "fp32", "auto: this CUDA device has no bf16 (fp16 needs --precision fp16)"
    if device.type == "cpu":
        native = sorted(set(CPU_BF16_FLAGS) & (cpu_flags() if flags is None else flags))
        if native:
            # Faster (1.47x on the main job), but equal accuracy over seeds is not shown yet:
            # bench/RESULTS.md, "bf16 on the CPU".
            return "fp32", (f"auto: this CPU computes bf16 natively ({', '.join(native)}); "
                            f"--precision bf16 is faster, but fp32 stays the CPU default until "
                            f"bf16's MCC is shown equal over seeds")
        return "fp32", (f"auto: this CPU has none of {', '.join(CPU_BF16_FLAGS)}, so bf16 "
                        f"would be emulated and slower")
    return "fp32", f"auto: fp32 on {device.type}"


def autocast(device: torch.device, precision: str = "auto"):
    """A context manager for the forward pass. precision: auto | fp32 | bf16 | fp16."""
    precision, _ = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)
