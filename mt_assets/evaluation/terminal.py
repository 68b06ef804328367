"""The leaderboard in a terminal: what `mt-assets leaderboard` and the end of the demo print,
the stored overall scores of every method in every execution as two markdown tables (ranking,
then details), or, with `as_json`, as a JSON array (leaderboard.leaderboard_json)."""

from __future__ import annotations

import json
import sys

from mt_assets.db.connection import connect
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.leaderboard import leaderboard_json, leaderboard_markdown, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard


def print_leaderboard(url: str, *, as_json: bool = False) -> int:
    """Print the tables (or the JSON); 1, with the reason on stderr, when the stored scores
    cannot be ranked."""
    with connect(url) as conn:
        records = load_leaderboard(conn)
    try:
        rows = leaderboard_rows(records)
    except EvaluationError as err:
        print(f"mt-assets: error: {err}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(leaderboard_json(rows), indent=2, ensure_ascii=False))
    else:
        print(leaderboard_markdown(rows), end="")
    return 0
