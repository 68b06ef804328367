"""Reading the leaderboard back from PostgreSQL (psycopg 3): every method's overall scores in
every execution (with each metric row's style control, meaning margin and gain, Holm p and
flags), and the lines saying which scores are hidden because their model is stale."""

from __future__ import annotations

import psycopg

from mt_assets.evaluation.leaderboard import METEOR_METRIC, LeaderboardRecord
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.scopes import Scope

# A fine-tuned method's scores count only while its model is bound to its config's current split
# (translation/methods.py, check_split): after a re-split its training rows may be test rows.
_STALE_MODEL = (
    "m.kind = 'fine_tuned' and f.split_sha256 is distinct from llm.split_sha256(m.tuning_config_id)"
)

_LEADERBOARD = f"""
select x.name, coalesce(c.name, m.name), m.name, m.kind, ev.metric, ev.score, ev.p_value, ev.segments,
       coalesce(m.llm_model, c.llm_model),
       case when m.kind = 'fine_tuned' then coalesce(f.tuning_methodology, c.tuning_methodology) end,
       (select array_agg(distinct l.scope_value order by l.scope_value)
          from llm.evaluation l
         where l.translation_method_id = ev.translation_method_id
           and l.translation_execution_id = ev.translation_execution_id
           and l.scope = %(language)s and l.metric = ev.metric),
       f.duration_seconds, ev.control_score, ev.control_sd, ev.meaning_margin, ev.meaning_gain,
       ev.meaning_gain_p, ev.p_value_holm, ev.flags, mt.score, mt.meaning_margin, f.replicate
from llm.evaluation ev
join llm.translation_method m on m.id = ev.translation_method_id
-- METEOR (evaluation/meteor.py, outside the Metric enum) rides on each metric row of its method
left join llm.evaluation mt on mt.translation_method_id = ev.translation_method_id
  and mt.translation_execution_id = ev.translation_execution_id and mt.scope = %(all)s and mt.metric = %(meteor)s
join llm.translation_execution x on x.id = ev.translation_execution_id
left join llm.tuning_configs c on c.id = m.tuning_config_id
left join llm.fine_tuned_models f on f.id = m.fine_tuned_models_id
where ev.scope = %(all)s and ev.metric = any(%(metrics)s) and not ({_STALE_MODEL})
order by x.name, m.name, ev.metric
"""

_HIDDEN = f"""
select distinct x.name, m.name, f.id, coalesce(c.name, m.name)
from llm.evaluation ev
join llm.translation_method m on m.id = ev.translation_method_id
join llm.translation_execution x on x.id = ev.translation_execution_id
left join llm.tuning_configs c on c.id = m.tuning_config_id
left join llm.fine_tuned_models f on f.id = m.fine_tuned_models_id
where {_STALE_MODEL}
order by 1, 2
"""


def load_leaderboard(conn: psycopg.Connection) -> list[LeaderboardRecord]:
    """Every method's overall scores in every execution, but those of a fine-tuned model trained
    on another split than its config's current one (`hidden_scores` lists them)."""
    rows = conn.execute(
        _LEADERBOARD,
        {"language": Scope.LANGUAGE.value, "all": Scope.ALL.value, "metrics": [m.value for m in Metric],
         "meteor": METEOR_METRIC},
    ).fetchall()
    return [
        LeaderboardRecord(
            execution=execution, config=config, method=method, method_kind=kind, metric=Metric(metric),
            score=score, p_value=p_value, segments=segments, model=model, tuning_methodology=tuning_methodology,
            languages=tuple(languages or ()), training_seconds=seconds, control_score=control_score,
            control_sd=control_sd, meaning_margin=meaning_margin, meaning_gain=meaning_gain,
            meaning_gain_p=meaning_gain_p, p_value_holm=p_value_holm, flags=tuple(flags),
            meteor=meteor, meteor_margin=meteor_margin, replicate=replicate,
        )
        for (execution, config, method, kind, metric, score, p_value, segments, model, tuning_methodology,
             languages, seconds, control_score, control_sd, meaning_margin, meaning_gain, meaning_gain_p,
             p_value_holm, flags, meteor, meteor_margin, replicate) in rows
    ]


def hidden_scores(conn: psycopg.Connection) -> list[str]:
    """One line per (execution, method) whose scores `load_leaderboard` leaves out, saying why
    and what to run."""
    return [
        f"{execution} / {method}: fine_tuned_models.id {model} was trained on another split than "
        f"{config!r} has now; its training rows may be test rows. Materialize fine_tuned_model, "
        f"translations and evaluation for partition {config!r}"
        for execution, method, model, config in conn.execute(_HIDDEN).fetchall()
    ]
