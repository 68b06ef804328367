"""Non-finite numbers stop training instead of being trained on.

- `require_finite_weights`: a base model whose parameters or buffers hold NaN or inf is refused
  before the first step, naming the model and the parameter (its outputs would be NaN whatever
  the data).
- `check_step`: a loss or gradient norm that is NaN or inf raises `DivergedError` at the optimizer
  step it appears in, before that step updates any weight, so the checkpoints already written stay
  finite. transformers' default `logging_nan_inf_filter` only leaves such losses out of the logged
  average (a NaN model logs a "perfect" loss), so the check is on every step's real value.
"""

from __future__ import annotations

import math
from typing import Any

import torch

_NAMED = 3  # non-finite tensors named in the message; the count covers the rest


class NonFiniteWeightsError(ValueError):
    """The base model's checkpoint holds NaN or inf."""


class DivergedError(ValueError):
    """Training produced a non-finite loss or gradient norm; `step` and `value` say where."""

    def __init__(self, step: int, quantity: str, value: float, learning_rate: float) -> None:
        self.step, self.quantity, self.value = step, quantity, value
        super().__init__(
            f"training diverged at step {step}: {quantity} is {value}; training stopped before this step "
            f"changed any weight. Lower training_args.learning_rate (currently {learning_rate:g}), keep "
            "max_grad_norm above 0, or train in fp32 rather than fp16"
        )


def check_step(quantity: str, value: torch.Tensor | float | None, step: int, learning_rate: float) -> None:
    """Raise DivergedError when `value` (one step's loss or gradient norm) is NaN or inf."""
    if value is None:
        return
    number = float(value)
    if not math.isfinite(number):
        raise DivergedError(step, quantity, number, learning_rate)


def require_finite_weights(model: Any, name: str) -> None:
    """Refuse a model any of whose floating-point parameters or buffers holds NaN or inf."""
    bad: list[str] = []
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for tensor_name, tensor in tensors:
        # 4-bit/8-bit quantized weights are integer-typed: nothing to check; meta tensors hold no data
        if not tensor.is_floating_point() or tensor.is_meta:
            continue
        finite = torch.isfinite(tensor.detach())
        if not bool(finite.all()):
            bad.append(f"{tensor_name} ({int((~finite).sum())} of {tensor.numel()} values)")
    if bad:
        more = f" and {len(bad) - _NAMED} more" if len(bad) > _NAMED else ""
        raise NonFiniteWeightsError(
            f"base model {name}: non-finite weights (NaN or inf) in {', '.join(bad[:_NAMED])}{more}; "
            "training it would give NaN losses. The checkpoint is damaged (a broken download or "
            "conversion, or weights saved from a diverged run): download or convert it again, or set "
            "llm_model to an intact copy"
        )
