"""The shared body of the sensors that watch a directory: compare its fingerprint with the
cursor, request one run when it changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg


def on_directory_change(
    context: dg.SensorEvaluationContext,
    directory: Path,
    variable: str,
    fingerprint: Callable[[Path], str | None],
    run_key_prefix: str = "",
) -> dg.RunRequest | dg.SkipReason:
    current = fingerprint(directory)
    if current is None:
        return dg.SkipReason(f"{directory} ({variable}) does not exist")
    if current == context.cursor:
        return dg.SkipReason(f"no change under {directory}")
    context.update_cursor(current)
    return dg.RunRequest(run_key=run_key_prefix + current)
