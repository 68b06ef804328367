"""COMET, the optional neural metric: whether it can run here, and why not when it cannot.

COMET needs the `unbabel-comet` package and a COMET checkpoint in a local directory named by
MT_COMET_MODEL (never downloaded by us). Its score would be stored in `llm.evaluation` as metric
`comet` (allowed by sql/0007_comet_metric.sql), outside the sacrebleu `Metric` enum, which holds
the metrics every evaluation computes. It is not scored: unbabel-comet 2.2.7, its newest release,
requires transformers<5 (and numpy<2, huggingface-hub<1) while this project requires
transformers 5, so no consistent install has both. The evaluation says so in its one COMET log
line rather than pretending to have scored.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

METRIC = "comet"  # the llm.evaluation.metric value
ENV = "MT_COMET_MODEL"
PACKAGE = "unbabel-comet"
MODULE = "comet"


@dataclass(frozen=True)
class CometSetup:
    model_dir: Path | None  # set only when the package is importable and the directory exists
    message: str  # the one log line: what happens with COMET in this evaluation, and why


def comet_setup(environ: Mapping[str, str] | None = None) -> CometSetup:
    env = os.environ if environ is None else environ
    configured = env.get(ENV, "").strip()
    if not configured:
        return CometSetup(None, f"COMET skipped: {ENV} is not set (a local directory holding a COMET checkpoint)")
    path = Path(configured).expanduser()
    if not path.is_dir():
        return CometSetup(None, f"COMET skipped: {ENV}={configured} is not a directory")
    if importlib.util.find_spec(MODULE) is None:
        return CometSetup(None, f"COMET skipped: {PACKAGE} is not installed (pip install {PACKAGE})")
    return CometSetup(
        path,
        f"COMET skipped: {PACKAGE} and {ENV}={configured} are present, but mt-assets does not score COMET: "
        f"{PACKAGE} releases up to 2.2.7 require transformers<5 and mt-assets runs on transformers 5; "
        "only BLEU, chrF++ and TER are scored",
    )
