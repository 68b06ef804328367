"""Markdown tables for asset metadata (rendered by the Dagster UI)."""

from __future__ import annotations

from collections.abc import Sequence


def cell(value: object, width: int = 160, empty: str = "") -> str:
    """One line, pipes escaped, cut to `width` characters with an ellipsis."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text or empty


def table(header: Sequence[str], rows: Sequence[Sequence[object]], width: int = 160, empty: str = "") -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v, width, empty) for v in row) + " |" for row in rows]
    return "\n".join(lines)
