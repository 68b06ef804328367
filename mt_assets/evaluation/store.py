"""Reading translations and writing scores in PostgreSQL (psycopg 3).

Each write runs in one transaction: with a connection that has no transaction open it is
committed at the end; inside the caller's transaction it becomes a savepoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import EvaluationScore
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.segments import SegmentScore

# The translations execution %(x)s scores (t: llm.translation, td: its tuning_dataset_distribution
# row): its linked methods' outputs for its rows config's test rows, whichever execution stored
# them. Every reader of an execution's outputs uses this (evaluation, mt_assets.results).
EXECUTION_TRANSLATIONS = """
join llm.translation_execution x on x.id = %(x)s
where td.split = 'test'  -- a score over training rows would flatter the model
  and case
    when x.tuning_config_id is not null then td.tuning_config_id = x.tuning_config_id
      and t.translation_method_id in (
        select translation_method_id from llm.translation_execution_models where translation_execution_id = x.id)
    else t.translation_execution_id = x.id  -- an execution registered before it named its rows
  end
"""

_ROWS = f"""
select t.id, d.id, m.name, d.source_language, e.name, t.translated_text, d.official_translate, d.source_text
from llm.translation t
join llm.translation_method m on m.id = t.translation_method_id
join llm.tuning_dataset_distribution td on td.id = t.tuning_dataset_distribution_id
join llm.dataset d on d.id = td.dataset_record_id
join llm.dataset_editions e on e.id = d.edition_id
{EXECUTION_TRANSLATIONS}
order by m.name, d.id
"""

_UPSERT = """
insert into llm.evaluation
    (translation_method_id, translation_execution_id, scope, scope_value, metric, score, signature, segments, p_value,
     control_score, control_sd, control_seeds, meaning_margin, meaning_gain, meaning_gain_p, p_value_holm, flags)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
on conflict on constraint evaluation_key do update set
    score = excluded.score, signature = excluded.signature, segments = excluded.segments,
    p_value = excluded.p_value, control_score = excluded.control_score, control_sd = excluded.control_sd,
    control_seeds = excluded.control_seeds, meaning_margin = excluded.meaning_margin,
    meaning_gain = excluded.meaning_gain, meaning_gain_p = excluded.meaning_gain_p,
    p_value_holm = excluded.p_value_holm, flags = excluded.flags, created_at = now()
returning id
"""

def load_rows(conn: psycopg.Connection, execution_id: int) -> list[TranslationRow]:
    """The execution's translations of test rows with their references, ordered by method and row:
    its linked methods' outputs for the test rows of its rows config (translation_execution.
    tuning_config_id), so a user execution shares the outputs a config's own execution stored."""
    return [TranslationRow(*row) for row in conn.execute(_ROWS, {"x": execution_id}).fetchall()]


def execution_id(conn: psycopg.Connection, name: str) -> int | None:
    """The id of the translation execution named `name` (a config's own is named after it), or None."""
    row = conn.execute("select id from llm.translation_execution where name = %s", (name,)).fetchone()
    return None if row is None else row[0]


def involved_executions(conn: psycopg.Connection, config: str) -> list[tuple[int, str]]:
    """(id, name) of the executions other than the config's own that involve it: on its test
    rows, or with one of its methods (the user executions of `translation/executions.py`)."""
    return conn.execute(
        "select x.id, x.name from llm.translation_execution x "
        "left join llm.tuning_configs r on r.id = x.tuning_config_id "
        "where x.name <> %(c)s and (r.name = %(c)s or exists ("
        "  select 1 from llm.translation_execution_models l join llm.translation_method m "
        "  on m.id = l.translation_method_id join llm.tuning_configs mc on mc.id = m.tuning_config_id "
        "  where l.translation_execution_id = x.id and mc.name = %(c)s)) order by x.name",
        {"c": config},
    ).fetchall()


def fine_tuned_methods(conn: psycopg.Connection, execution_id: int) -> list[str]:
    """The names of the fine-tuned methods registered with the execution."""
    return [
        name
        for (name,) in conn.execute(
            "select m.name from llm.translation_method m join llm.translation_execution_models x "
            "on x.translation_method_id = m.id where x.translation_execution_id = %s and m.kind = 'fine_tuned'",
            (execution_id,),
        )
    ]


def baseline_method(conn: psycopg.Connection, execution_id: int) -> str | None:
    """The execution's one `base` method (registered with it or translating in it), or None
    when it has none or several."""
    names = conn.execute(
        "select m.name from llm.translation_method m where m.kind = 'base' and m.id in ("
        "  select translation_method_id from llm.translation_execution_models where translation_execution_id = %s"
        "  union"
        "  select translation_method_id from llm.translation where translation_execution_id = %s"
        ") order by m.name",
        (execution_id, execution_id),
    ).fetchall()
    return names[0][0] if len(names) == 1 else None


def _method_ids(conn: psycopg.Connection, names: set[str]) -> dict[str, int]:
    found = dict(conn.execute("select name, id from llm.translation_method where name = any(%s)", (list(names),)))
    missing = sorted(names - set(found))
    if missing:
        raise EvaluationError(f"unknown translation methods: {', '.join(missing)}")
    return found


def write_scores(conn: psycopg.Connection, execution_id: int, scores: Sequence[EvaluationScore]) -> int:
    """Replace the execution's scores of the methods in `scores` (upsert, then drop the rest:
    a scope that is gone, e.g. a language no longer in the test set, loses its old rows)."""
    if not scores:
        raise EvaluationError("no scores to write")
    method_ids = _method_ids(conn, {s.method for s in scores})
    with conn.transaction():
        kept = []
        for s in scores:
            row = conn.execute(
                _UPSERT,
                (method_ids[s.method], execution_id, s.key.scope.value, s.key.value, s.metric.value,
                 s.score, s.signature, s.segments, s.p_value, s.control_score, s.control_sd, s.control_seeds,
                 s.meaning_margin, s.meaning_gain, s.meaning_gain_p, s.p_value_holm, list(s.flags)),
            ).fetchone()
            kept.append(row[0])
        conn.execute(
            "delete from llm.evaluation where translation_execution_id = %s "
            "and translation_method_id = any(%s) and id <> all(%s)",
            (execution_id, list(method_ids.values()), kept),
        )
    return len(kept)


def write_segment_scores(conn: psycopg.Connection, segments: Sequence[SegmentScore]) -> int:
    """Store each translation's sentence-level chrF++ (llm.translation.chrf_plus_plus)."""
    wrong = [s for s in segments if s.metric is not Metric.CHRF]
    if wrong:
        raise EvaluationError(f"llm.translation stores chrF++ per segment, not {wrong[0].metric.label}")
    ids = [s.row.translation_id for s in segments]
    if len(set(ids)) != len(ids):
        raise EvaluationError("a translation has two segment scores")
    with conn.transaction():
        updated = conn.execute(
            "update llm.translation t set chrf_plus_plus = s.score "
            "from unnest(%s::bigint[], %s::double precision[]) as s(id, score) where t.id = s.id",
            (ids, [s.score for s in segments]),
        ).rowcount
        if updated != len(ids):
            # Raising inside the block rolls the partial update back.
            raise EvaluationError(f"{len(ids) - updated} of {len(ids)} scored translations are not in llm.translation")
    return updated
