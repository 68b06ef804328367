"""Training events: one JSON object per log step, through Dagster Pipes when launched by
Dagster, as JSON lines on stdout otherwise (the SSH launcher reads those)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from transformers import TrainerCallback

Event = dict[str, Any]


class Reporter(Protocol):
    def emit(self, event: Event) -> None: ...


class StdoutReporter:
    def emit(self, event: Event) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


class PipesReporter:
    def __init__(self, pipes: Any) -> None:
        self._pipes = pipes

    def emit(self, event: Event) -> None:
        self._pipes.log.debug(json.dumps(event))  # the asset logs a readable line per step
        self._pipes.report_custom_message(event)


@contextmanager
def open_reporter() -> Iterator[Reporter]:
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    if PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as pipes:
            yield PipesReporter(pipes)
    else:
        yield StdoutReporter()


class TokenCounter:
    """Real (non-padding) tokens seen in training batches; the trainer adds to it."""

    def __init__(self) -> None:
        self.total = 0


class EventCallback(TrainerCallback):
    """Turns each Trainer log into one event with tokens/s since the previous log."""

    def __init__(self, reporter: Reporter, tokens: TokenCounter) -> None:
        self.reporter = reporter
        self.tokens = tokens
        self._mark = (time.perf_counter(), 0)

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark = (time.perf_counter(), self.tokens.total)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "train_runtime" in logs:  # the end-of-training summary goes into result.json
            return
        now, tokens = time.perf_counter(), self.tokens.total
        then, before = self._mark
        tps = None
        if "loss" in logs and now > then:
            tps = (tokens - before) / (now - then)
            self._mark = (now, tokens)
        self.reporter.emit(
            {
                "event": "log",
                "step": state.global_step,
                "epoch": state.epoch,
                "loss": logs.get("loss"),
                "learning_rate": logs.get("learning_rate"),
                "grad_norm": logs.get("grad_norm"),
                "eval_loss": logs.get("eval_loss"),
                "tokens_per_second": tps,
            }
        )

    def on_save(self, args, state, control, **kwargs):
        self.reporter.emit({"event": "checkpoint", "step": state.global_step})
