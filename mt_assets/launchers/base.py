"""The launcher interface: run a TrainingJob somewhere, stream its events, return its result.

An implementation runs `python -m mt_assets.training JOB.json` (locally, over SSH, ...),
calls `on_event` for each event as it arrives, and returns the job's `result.json` with
`artefact_dir` pointing at a local copy of the trained artefact.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import dagster as dg

from mt_assets.training.spec import TrainingJob

Event = dict[str, Any]


class TrainingFailed(RuntimeError):
    """The training process ended without a result; the message says why."""


class TrainingLauncher(dg.ConfigurableResource, ABC):
    @abstractmethod
    def launch(
        self, context: dg.AssetExecutionContext, job: TrainingJob, on_event: Callable[[Event], None]
    ) -> dict[str, Any]: ...
