"""Reading the entry points' output: one JSON event per line (`python -m mt_assets.training` and
`python -m mt_assets.translation` print them), mixed with other output such as warnings. Shared by
the local and SSH launchers, and free of heavy imports."""

from __future__ import annotations

import json
from typing import Any


def parse_event(line: str) -> dict[str, Any] | None:
    """The event on a line, or None for other output (warnings, tracebacks)."""
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "event" in event else None
