"""The stored results as pandas DataFrames, for notebooks (Colab above all):
`from mt_assets import results; results.leaderboard()`.

Every function takes an optional database URL; without one it uses the database the CLI uses
(`ready_database_url(Settings.from_env())`: MT_DATABASE_URL, else the embedded server, migrated).
A missing number is NaN.

- `leaderboard()`: exactly the rows and columns of `mt-assets leaderboard --json`
  (leaderboard.leaderboard_json), in its ranking order; with no scores stored it raises the
  leaderboard's own EvaluationError ("no scores yet: ..."), as the command does.
- `segments(execution)`: one row per test segment the execution scores (its methods on its rows
  config's test rows, `evaluation.store.EXECUTION_TRANSLATIONS`), ordered by dataset
  id: dataset_id, source_reference, language (the source language), source, reference, then for
  each method (by name) two adjacent columns `output:<method>` and `chrf:<method>` (its
  sentence-level chrF++, NaN until scored). A method with no output for a segment has None there.
  Flat column names, not a MultiIndex: `df["output:baseline:constant"]` indexes plainly and
  Colab's table viewer shows them as they are. An unknown execution is a LookupError naming the
  executions there are; one with no test translations gives the columns up to reference, no rows.
- `controls()`: one row per (execution, method, metric) overall score (scope 'all'), ordered so,
  with score, control_score, control_sd, control_seeds, meaning_margin, meaning_gain,
  meaning_gain_p, p_value_holm and flags (a list); no rows when nothing is scored.

segments() and controls() show every stored row, including the scores of a fine-tuned model
trained on another split than its config's current one, which the leaderboard hides (it says
why in `leaderboard_store.hidden_scores`).
"""

from __future__ import annotations

import pandas as pd

from mt_assets.db.connection import connect, ready_database_url
from mt_assets.evaluation.leaderboard import leaderboard_json, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard
from mt_assets.evaluation.scopes import Scope
from mt_assets.evaluation.store import EXECUTION_TRANSLATIONS
from mt_assets.settings import Settings

SEGMENT_COLUMNS = ["dataset_id", "source_reference", "language", "source", "reference"]
CONTROL_COLUMNS = [
    "execution", "method", "metric", "score", "control_score", "control_sd", "control_seeds",
    "meaning_margin", "meaning_gain", "meaning_gain_p", "p_value_holm", "flags",
]

_SEGMENTS = f"""
select d.id, d.source_reference, d.source_language, d.source_text, d.official_translate,
       m.name, t.translated_text, t.chrf_plus_plus
from llm.translation t
join llm.translation_method m on m.id = t.translation_method_id
join llm.tuning_dataset_distribution td on td.id = t.tuning_dataset_distribution_id
join llm.dataset d on d.id = td.dataset_record_id
{EXECUTION_TRANSLATIONS}
order by d.id, m.name
"""

_CONTROLS = """
select x.name, m.name, ev.metric, ev.score, ev.control_score, ev.control_sd, ev.control_seeds,
       ev.meaning_margin, ev.meaning_gain, ev.meaning_gain_p, ev.p_value_holm, ev.flags
from llm.evaluation ev
join llm.translation_method m on m.id = ev.translation_method_id
join llm.translation_execution x on x.id = ev.translation_execution_id
where ev.scope = %s
order by x.name, m.name, ev.metric
"""


def _url(url: str | None) -> str:
    return ready_database_url(Settings.from_env()) if url is None else url


def leaderboard(url: str | None = None) -> pd.DataFrame:
    """The leaderboard's rows, ranked, with the columns of `mt-assets leaderboard --json`."""
    with connect(_url(url)) as conn:
        records = load_leaderboard(conn)
    return pd.DataFrame(leaderboard_json(leaderboard_rows(records)))


def segments(execution: str, url: str | None = None) -> pd.DataFrame:
    """Each test segment of `execution` (a translation_execution name; a config's own is named
    after the config) with its source, reference and every method's output and chrF++."""
    with connect(_url(url)) as conn:
        found = conn.execute("select id from llm.translation_execution where name = %s", (execution,)).fetchone()
        if found is None:
            names = [name for (name,) in conn.execute("select name from llm.translation_execution order by name")]
            raise LookupError(
                f"no translation execution named {execution!r}; there are: {', '.join(names) or 'none yet'}"
            )
        rows = conn.execute(_SEGMENTS, {"x": found[0]}).fetchall()
    long = pd.DataFrame(rows, columns=[*SEGMENT_COLUMNS, "method", "output", "chrf"])
    # One row per segment: the segment's own columns once, then each method's pair beside them.
    table = long[SEGMENT_COLUMNS].drop_duplicates("dataset_id").set_index("dataset_id")
    for method, group in long.groupby("method", sort=True):
        by_segment = group.set_index("dataset_id")
        table[f"output:{method}"] = by_segment["output"]
        table[f"chrf:{method}"] = by_segment["chrf"].astype(float)
    return table.reset_index()


def controls(url: str | None = None) -> pd.DataFrame:
    """Every overall score with its style control, meaning margin and gain, Holm p and flags."""
    with connect(_url(url)) as conn:
        rows = conn.execute(_CONTROLS, (Scope.ALL.value,)).fetchall()
    return pd.DataFrame(rows, columns=CONTROL_COLUMNS)
