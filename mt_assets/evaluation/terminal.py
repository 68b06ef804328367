"""The leaderboard in a terminal: what `mt-assets leaderboard` and the end of the demo print,
the stored overall scores of every config and method as one markdown table."""

from __future__ import annotations

import sys

from mt_assets.db.connection import connect
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.leaderboard import leaderboard_markdown, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard


def print_leaderboard(url: str) -> int:
    """Print the table; 1, with the reason on stderr, when the stored scores cannot be ranked."""
    with connect(url) as conn:
        records = load_leaderboard(conn)
    try:
        print(leaderboard_markdown(leaderboard_rows(records)), end="")
    except EvaluationError as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1
    return 0
