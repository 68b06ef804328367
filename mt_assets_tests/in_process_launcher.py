"""A launcher that runs a job's work in the test process: what `python -m mt_assets.training` and
`python -m mt_assets.translation` run (`trainer.run`, `run_translation`), its events passed to
`on_event` as they happen, its reported errors raised as the subprocess launchers raise them.

Why: every subprocess imports torch and transformers again (5-20 s on 2 busy cores), and a test
that runs many jobs through the assets (test_shipped_configs: 3 per config) would spend minutes
on imports. The subprocess transport itself is tested with LocalLauncher elsewhere
(test_training_asset, test_translation_launchers).
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from mt_assets.launchers.base import Event, Launcher, TrainingFailed, TranslationFailed
from mt_assets.training.errors import REPORTED_ERRORS
from mt_assets.training.spec import TrainingJob, TrainingResult
from mt_assets.translation.spec import TranslationJob


class _Forward:
    def __init__(self, on_event: Callable[[Event], None]) -> None:
        self.emit = on_event


class InProcessLauncher(Launcher):
    def train(
        self, context: dg.AssetExecutionContext, job: TrainingJob, on_event: Callable[[Event], None]
    ) -> TrainingResult:
        from mt_assets.training import trainer

        try:  # the errors `python -m mt_assets.training` reports (exit status 2)
            return trainer.run(job, _Forward(on_event))
        except REPORTED_ERRORS as exc:
            raise TrainingFailed(f"training job {job.job_id} failed: {exc}") from exc

    def translate(
        self, context: dg.AssetExecutionContext, job: TranslationJob, on_event: Callable[[Event], None]
    ) -> None:
        from mt_assets.models.sources import ModelSourceError, check
        from mt_assets.translation.errors import TranslationError
        from mt_assets.translation.generate import run_translation

        try:  # the errors `python -m mt_assets.translation` reports (exit status 2)
            check(job.llm_model)
            run_translation(job, on_event)
        except (TranslationError, ModelSourceError) as exc:
            raise TranslationFailed(f"translation {job.method} failed: {exc}") from exc
