"""One readable progress line per training log step — `step 20/150 (13%), loss 3.2067,
64 tokens/s, ETA 34 min` — for the run log (and so the demo's console), next to the raw events."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any


def total_steps(training_args: Mapping[str, Any], train_rows: int) -> int | None:
    """The optimizer steps the Trainer will run: `max_steps` when set (> 0), otherwise
    epochs x batches per epoch, with transformers' defaults (3 epochs, batch 8, no accumulation)."""
    max_steps = int(training_args.get("max_steps", -1) or -1)
    if max_steps > 0:
        return max_steps
    if train_rows <= 0:
        return None
    batch = int(training_args.get("per_device_train_batch_size", 8)) * int(
        training_args.get("gradient_accumulation_steps", 1)
    )
    return math.ceil(float(training_args.get("num_train_epochs", 3.0)) * math.ceil(train_rows / batch))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class TrainingProgress:
    """Turns training events into progress lines; the ETA is the pace since the first
    step seen in this process (so a resumed job is not credited with earlier steps)."""

    def __init__(self, total: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._clock = clock
        self._mark: tuple[float, int] | None = None

    def line(self, event: Mapping[str, Any]) -> str | None:
        kind = event.get("event")
        if kind == "start" and not event.get("resume_from"):
            self._mark = (self._clock(), 0)
            return None
        if kind != "log" or event.get("step") is None:
            return None
        step, now = int(event["step"]), self._clock()
        if self._mark is None:
            self._mark = (now, step)
        parts = [f"step {step}/{self.total} ({100 * step / self.total:.0f}%)" if self.total else f"step {step}"]
        if event.get("loss") is not None:
            parts.append(f"loss {event['loss']:.4f}")
        if event.get("eval_loss") is not None:
            parts.append(f"eval_loss {event['eval_loss']:.4f}")
        if event.get("tokens_per_second"):
            parts.append(f"{event['tokens_per_second']:.0f} tokens/s")
        then, first = self._mark
        if self.total and step > first and step < self.total:
            parts.append(f"ETA {_duration((now - then) / (step - first) * (self.total - step))}")
        return "training: " + ", ".join(parts)
