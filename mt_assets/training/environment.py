"""What a training run ran on, recorded with its model so the run can be reproduced.

Training is deterministic for a given config on a given host (`trainer.seed_random` seeds before
PEFT draws LoRA's initial weights; SQL exports are totally ordered). What can still change the
numbers is what this module records: the library versions, the host's CPU or GPU, the thread
counts (a CPU matrix product sums in a different order with another thread count), the seeds, and
the environment variables that change numerics or scheduling.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

LIBRARIES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors", "numpy", "mt-assets")
# Set in the training process's environment, each changes threads, kernels or hashing.
NUMERIC_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_CBWR",
    "PYTHONHASHSEED",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_VISIBLE_DEVICES",
)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _gpus() -> dict[str, Any] | None:
    if not torch.cuda.is_available():
        return None
    return {
        "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
    }


def describe(seed: int, data_seed: int | None) -> dict[str, Any]:
    """The training host and settings as they are in this process now (call it after training)."""
    return {
        "seed": seed,
        "data_seed": data_seed if data_seed is not None else seed,  # Trainer samples with seed then
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "gpu": _gpus(),
        "platform": platform.platform(),
        "env": {name: os.environ[name] for name in NUMERIC_ENV if name in os.environ},
    }
