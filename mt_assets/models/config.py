"""A model directory's config.json, read in one place: `read_config` gives it as a dict (no
transformers import, so the Dagster host can read it too), `position_limit` says from it how many
positions the model can embed. The model kind is decided from it in `models.kind`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_config(source: str | Path) -> dict[str, Any] | None:
    """config.json of `source` when it is a local directory: its JSON object, or {} when the file is
    missing or unreadable; None when `source` is no local directory (a hub id, gguf:, pypi:)."""
    path = Path(source).expanduser()
    if not path.is_dir():
        return None
    config = path / "config.json"
    try:
        loaded = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def position_limit(model_dir: Path) -> int | None:
    """How many positions the model can embed (`max_position_embeddings` of its text config, spelt
    `n_positions` by GPT-2-style configs), or None where its config does not say."""
    config = read_config(model_dir) or {}
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    limit = text.get("max_position_embeddings") or text.get("n_positions")
    return int(limit) if limit else None
