"""Choosing where to run, the precision to compute in, and the autocast context for it.

Devices: cuda first, then Apple's mps, then cpu; or whatever the user names.

Precision (`--precision auto|fp32|bf16|fp16`): bf16 and fp16 run the forward pass under
torch.autocast, which computes the matrix products in the 16-bit type and keeps softmax,
LayerNorm and the losses in fp32 (PyTorch's own per-op lists). bf16 has fp32's exponent range,
so it needs no loss scaling; fp16 needs a GradScaler, which the training loops create when
asked. `auto` picks bf16 where the hardware computes it natively and fp32 everywhere else, and
says what it chose and why:
  * CUDA: bf16 on cards that compute it (torch.cuda.is_bf16_supported()), else fp32;
  * CPU: bf16 where the kernel's CPU flags (/proc/cpuinfo, Linux) list AVX512-BF16 or AMX;
    fp32 where they list neither (bf16 would be emulated, and slower than fp32) and wherever
    the flags cannot be read (macOS, Windows, a CPU whose cpuinfo has no `flags` line);
  * anything else (mps): fp32.
Fine-tuning in bf16 on a CPU scored within seed noise of fp32 over 5 seeds (bench/RESULTS.md,
"bf16 on the CPU"). Whatever must print the same numbers on every machine (the lessons, the
tests, the bench's MCC tables) asks for fp32 by name.

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


def pick_device(name: str | None = None, argument: str = "--device") -> torch.device:
    """The device `name` names (refused with DeviceError if this machine lacks it), or for
    None / "auto" the best one here. `argument` is how the caller spelt it: a command's flag,
    or a Python keyword such as "device" (shown as device='cuda:3')."""
    if name and name != "auto":
        shown = f"{argument} {name}" if argument.startswith("--") else f"{argument}={name!r}"
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DeviceError(f"{shown}: not a device; expected auto, cpu, cuda, "
                              f"cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"{shown}: CUDA is not available on this machine")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise DeviceError(f"{shown}: this machine has "
                              f"{torch.cuda.device_count()} CUDA device(s), numbered from 0")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError(f"{shown}: MPS is not available on this machine")
        if device.type not in ("cpu", "cuda", "mps"):
            raise DeviceError(f"{shown}: minibert runs on cpu, cuda or mps")
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
        flags = cpu_flags() if flags is None else flags
        native = sorted(set(CPU_BF16_FLAGS) & flags)
        if native:
            return "bf16", (f"auto: this CPU computes bf16 natively ({', '.join(native)}); "
                            f"--precision fp32 to compute in fp32")
        if not flags:
            return "fp32", ("auto: this CPU's flags are unknown (no `flags` line in "
                            "/proc/cpuinfo), so bf16 may be emulated and slower")
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
