"""The one place that decides the numeric precision a job computes in (`llm_tuning_configs.precision`).

A config asks for `auto`, `fp32`, `bf16` or `fp16`; the process that trains or translates resolves
that on its own host (`HostInfo.detect`, then the pure `resolve`) before any model loads, and records
what it resolved to with the model or the translations:

- `auto`: bf16 on CUDA with compute capability >= 8.0 (Ampere or newer), fp16 autocast on older CUDA,
  and fp32 on every CPU for now. CPU bf16 waits on the throughput/quality benchmark of issue 16
  (training >= 1.4x tokens/s and translation >= 1.8x of fp32, each with chrF++ not significantly
  worse), so `auto` does not change today's CPU numerics.
- `bf16`: CUDA with compute capability >= 8.0, or a CPU with amx_bf16 or avx512_bf16 (CPU autocast).
- `fp16`: CUDA only (CPU fp16 autocast is slow and overflows where bf16 would not).
- `fp32`: every host.
A host that cannot run what is asked raises `PrecisionError`, naming the host, what it lacks and what
to set instead: a decision before the model loads, never a silent change of numerics.

No torch at module level: the config validation and the registry import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Requested = Literal["auto", "fp32", "bf16", "fp16"]
Precision = Literal["fp32", "bf16", "fp16"]
REQUESTED: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
AUTO = "auto"
# The CPU flags (/proc/cpuinfo) that give fast bf16 matrix products: AMX tiles or AVX-512 BF16.
CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
CPU_AUTO_REASON = "auto: CPU; bf16 is opt-in on CPUs until the precision benchmarks meet their targets (docs/precision.md)"
FIELD = "llm_tuning_configs.precision"
# The TrainingArguments keys that set mixed precision: the trainer sets them from the resolved
# precision, so a config (or a job file) may not.
TRAINING_ARGS_KEYS = ("fp16", "bf16")


class PrecisionError(ValueError):
    """This host cannot compute in the precision asked for; the message says which host, what it
    lacks and what to set instead."""


@dataclass(frozen=True)
class HostInfo:
    cuda: bool
    capability: tuple[int, int] | None = None  # CUDA compute capability of device 0
    device: str = "CPU"
    cpu_bf16: bool = False  # the CPU has amx_bf16 or avx512_bf16

    @classmethod
    def detect(cls, cpuinfo: Path = Path("/proc/cpuinfo")) -> HostInfo:
        import torch

        cpu_bf16 = bool(cpu_flags(cpuinfo) & CPU_BF16_FLAGS)
        if not torch.cuda.is_available():
            return cls(cuda=False, device="CPU", cpu_bf16=cpu_bf16)
        major, minor = torch.cuda.get_device_capability()
        return cls(True, (major, minor), torch.cuda.get_device_name(), cpu_bf16)

    @property
    def ampere(self) -> bool:
        """CUDA with compute capability >= 8.0: bf16 and TF32 run natively."""
        return self.cuda and self.capability is not None and self.capability >= (8, 0)

    def describe(self) -> str:
        if self.cuda:
            cc = f"compute capability {self.capability[0]}.{self.capability[1]}" if self.capability else "CUDA"
            return f"{self.device} ({cc})"
        return "this CPU" + (" (amx_bf16/avx512_bf16)" if self.cpu_bf16 else " (no amx_bf16 or avx512_bf16)")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first `flags` line of /proc/cpuinfo; empty where there is none (not Linux, not x86)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


@dataclass(frozen=True)
class Resolved:
    precision: Precision
    reason: str

    def line(self) -> str:
        """The line a job logs at its start, e.g. `precision: fp32 (auto: CPU; ...)`."""
        return f"precision: {self.precision} ({self.reason})"

    def record(self) -> dict[str, str]:
        return {"precision": self.precision, "precision_reason": self.reason}


def resolve(requested: str, host: HostInfo) -> Resolved:
    """What `requested` computes in on `host`; PrecisionError where the host cannot."""
    if requested == "fp32":
        return Resolved("fp32", "asked for")
    if requested == AUTO:
        if host.ampere:
            return Resolved("bf16", f"auto: {host.describe()} has bf16")
        if host.cuda:
            return Resolved("fp16", f"auto: {host.describe()} lacks bf16 (needs 8.0), fp16 autocast")
        return Resolved("fp32", CPU_AUTO_REASON)
    if requested == "bf16":
        if host.ampere:
            return Resolved("bf16", f"asked for; {host.describe()} has it")
        if not host.cuda and host.cpu_bf16:
            return Resolved("bf16", "asked for; CPU autocast (amx_bf16/avx512_bf16)")
        needs = (
            "bf16 needs compute capability 8.0 (Ampere) or newer; set precision: fp16 (or auto)"
            if host.cuda
            else "bf16 on a CPU needs amx_bf16 or avx512_bf16; set precision: fp32 (or auto)"
        )
        raise PrecisionError(f"{FIELD}: bf16 cannot run on {host.describe()}: {needs}")
    if requested == "fp16":
        if host.cuda:
            return Resolved("fp16", f"asked for; {host.describe()}")
        hint = "bf16 (this CPU has it) or fp32" if host.cpu_bf16 else "fp32"
        raise PrecisionError(
            f"{FIELD}: fp16 needs a CUDA GPU, and {host.describe()} is not one; set precision: {hint} (or auto)"
        )
    raise PrecisionError(f"{FIELD}: {requested!r} is not one of {', '.join(REQUESTED)}")


def refusal(requested: str, host: HostInfo | None = None) -> str | None:
    """Why `host` (this one when None) cannot run `requested`, or None where `resolve` accepts it."""
    try:
        resolve(requested, host or HostInfo.detect())
    except PrecisionError as exc:
        return str(exc)
    return None


def torch_dtype(precision: Precision) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(resolved: Resolved, device_type: str) -> Any:
    """A context that computes in the resolved dtype (fp32: nothing changes)."""
    import contextlib

    import torch

    if resolved.precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=torch_dtype(resolved.precision))
