"""The errors a training job reports: `python -m mt_assets.training` turns each of REPORTED_ERRORS
into an `error` event and exit status 2 rather than a traceback, and a launcher that runs the trainer
in its own process (the tests' InProcessLauncher) raises them as the subprocess launchers do.

Imports nothing, so the entry point can name them before torch loads."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """The job cannot train as configured; the message says why and what to change."""


class CheckpointError(RuntimeError):
    """The job's output directory holds checkpoints it may not resume from, or another process trains it."""


REPORTED_ERRORS: tuple[type[Exception], ...] = (TrainingError, CheckpointError, ValueError)
