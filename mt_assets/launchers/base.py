"""The launcher interface: run a job somewhere (this machine, a GPU host over SSH, ...) and
stream its events back as they happen.

- `train` trains: it runs `python -m mt_assets.training JOB.json`, calls `on_event` for each
  event as it arrives, and returns the job's `TrainingResult` (its RESULT_FILE) with
  `artefact_dir` pointing at a local copy of the trained artefact. It raises `TrainingFailed`
  (saying why) when the job ended without a result.
- `translate` translates: it runs `python -m mt_assets.translation JOB.json` and calls
  `on_event` for each event (`start`, `translation`, `progress`, `done`) as it arrives; every
  output row is a `translation` event, so nothing is downloaded at the end. It returns when the
  job has succeeded and raises `TranslationFailed` (saying why) otherwise; rows delivered to
  `on_event` before a failure stay delivered.

Both stop the job when the caller is interrupted (a run terminated from the UI) or `on_event`
raises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import dagster as dg

from mt_assets.training.spec import TrainingJob, TrainingResult
from mt_assets.translation.errors import TranslationError
from mt_assets.translation.spec import TranslationJob

Event = dict[str, Any]


class TrainingFailed(RuntimeError):
    """The training process ended without a result; the message says why."""


class TranslationFailed(TranslationError):
    """The translation process did not finish; the message says why (its `error` event or stderr)."""


class Launcher(dg.ConfigurableResource, ABC):
    @abstractmethod
    def train(
        self, context: dg.AssetExecutionContext, job: TrainingJob, on_event: Callable[[Event], None]
    ) -> TrainingResult: ...

    @abstractmethod
    def translate(
        self, context: dg.AssetExecutionContext, job: TranslationJob, on_event: Callable[[Event], None]
    ) -> None: ...
