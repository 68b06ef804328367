"""Scores in the real PostgreSQL: read translations, upsert llm.evaluation, segment chrF++,
read the leaderboard back."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from mt_assets.db import urls
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import evaluate
from mt_assets.evaluation.leaderboard import leaderboard_markdown, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import hidden_scores, load_leaderboard
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.run import evaluate_execution
from mt_assets.evaluation.scopes import Scope
from mt_assets.evaluation.segments import score_segments
from mt_assets.evaluation.store import (
    baseline_method,
    load_rows,
    write_scores,
    write_segment_scores,
)

SENTENCES = [
    ("ar", "In the name of God, the Merciful.", "In name God.", "In the name of God, the Merciful."),
    ("ar", "Praise be to God, Lord of the worlds.", "Praise God.", "Praise be to God, Lord of worlds."),
    ("fa", "Seek knowledge from the cradle to the grave.", "Knowledge grave.", "Seek knowledge to the grave."),
    ("fa", "The ink of the scholar is holier.", "Ink scholar.", "The ink of the scholar is holier."),
]
# Three numbered copies: 12 test segments in one edition, enough for the significance test
# (each language alone, 6 segments, gets scores without a p-value).
SEGMENTS = [
    (language, *(f"{text} {copy}" for text in texts)) for copy in range(3) for language, *texts in SENTENCES
]


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(urls.libpq(db_url)) as connection:
        yield connection


def _one(conn: psycopg.Connection, sql: str, params: tuple = ()) -> int:
    return conn.execute(sql + " returning id", params).fetchone()[0]


@pytest.fixture
def execution(conn: psycopg.Connection) -> int:
    """One config with a base and a fine-tuned method that translated a 4-row test split
    (plus one train row that must never be scored)."""
    edition = _one(conn, "insert into llm.dataset_editions (name) values ('sayings')")
    config = _one(
        conn,
        "insert into llm.tuning_configs (name, llm_model, tuning_methodology) values ('tiny-lora', 'tiny/mt', 'lora')",
    )
    model = _one(
        conn,
        "insert into llm.fine_tuned_models (tuning_config_id, status, duration_seconds) values (%s, 'succeeded', 93)",
        (config,),
    )
    base = _one(
        conn,
        "insert into llm.translation_method (name, kind, tuning_config_id) values ('tiny-lora-base', 'base', %s)",
        (config,),
    )
    tuned = _one(
        conn,
        "insert into llm.translation_method (name, kind, tuning_config_id, fine_tuned_models_id) "
        "values ('tiny-lora-fine-tuned', 'fine_tuned', %s, %s)",
        (config, model),
    )
    run = _one(conn, "insert into llm.translation_execution (name, tuning_config_id) values ('tiny-lora', %s)", (config,))
    for method in (base, tuned):
        conn.execute(
            "insert into llm.translation_execution_models (translation_execution_id, translation_method_id) "
            "values (%s, %s)",
            (run, method),
        )
    rows = [*SEGMENTS, ("ar", "Training row.", "Leaked.", "Leaked.")]
    for index, (language, ref, base_out, tuned_out) in enumerate(rows):
        dataset = _one(
            conn,
            "insert into llm.dataset (edition_id, source_text, official_translate, source_language, source_reference) "
            "values (%s, %s, %s, %s, %s)",
            (edition, f"source {index}", ref, language, f"1:{index}"),
        )
        split = "test" if index < len(SEGMENTS) else "train"
        distribution = _one(
            conn,
            "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) values (%s, %s, %s)",
            (config, dataset, split),
        )
        for method, text in ((base, base_out), (tuned, tuned_out)):
            conn.execute(
                "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
                "translation_execution_id, translated_text) values (%s, %s, %s, %s)",
                (method, distribution, run, text),
            )
    # trained on this split, as fine_tuned_model records it
    conn.execute(
        "update llm.fine_tuned_models set split_sha256 = llm.split_sha256(tuning_config_id) where id = %s", (model,)
    )
    conn.commit()
    return run


def test_load_rows_reads_the_test_split_only(conn: psycopg.Connection, execution: int) -> None:
    rows = load_rows(conn, execution)
    assert len(rows) == 2 * len(SEGMENTS)
    assert {r.method for r in rows} == {"tiny-lora-base", "tiny-lora-fine-tuned"}
    assert {r.edition for r in rows} == {"sayings"}
    assert "Leaked." not in {r.hypothesis for r in rows}
    assert baseline_method(conn, execution) == "tiny-lora-base"
    # Found from the translations too, when the execution's method list was not filled in.
    conn.execute("delete from llm.translation_execution_models")
    assert baseline_method(conn, execution) == "tiny-lora-base"
    assert load_rows(conn, execution + 1000) == []


def _stored(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select m.name, e.scope, e.scope_value, e.metric, e.score, e.signature, e.segments, e.p_value "
        "from llm.evaluation e join llm.translation_method m on m.id = e.translation_method_id "
        "order by 1, 2, 3, 4"
    ).fetchall()


def test_scores_are_stored_with_signatures_and_p_values(conn: psycopg.Connection, execution: int) -> None:
    scores = evaluate(load_rows(conn, execution), baseline_method(conn, execution), n=200)
    assert write_scores(conn, execution, scores) == len(scores) == 2 * 4 * 3
    stored = _stored(conn)
    assert len(stored) == len(scores)
    expected = {(s.method, s.key.scope.value, s.key.value, s.metric.value): s for s in scores}
    for method, scope, value, metric, score, signature, segments, p_value in stored:
        ours = expected[(method, scope, value, metric)]
        assert (score, signature, segments, p_value) == (ours.score, ours.signature, ours.segments, ours.p_value)
        assert "nrefs:1" in signature
        assert (p_value is not None) == (method == "tiny-lora-fine-tuned" and scope != "language")

    # Re-running replaces in place; a scope that disappeared loses its rows.
    assert write_scores(conn, execution, scores) == len(scores)
    assert _stored(conn) == stored
    overall = [s for s in scores if s.key.scope is Scope.ALL]
    write_scores(conn, execution, overall)
    assert {row[1] for row in _stored(conn)} == {"all"}
    assert len(_stored(conn)) == 2 * 3


def test_writing_an_unknown_method_changes_nothing(conn: psycopg.Connection, execution: int) -> None:
    scores = evaluate(load_rows(conn, execution), None)
    renamed = [type(s)(**{**s.__dict__, "method": "ghost"}) for s in scores[:1]]
    with pytest.raises(EvaluationError, match="unknown translation methods: ghost"):
        write_scores(conn, execution, scores + renamed)
    assert _stored(conn) == []


def test_segment_scores_land_on_the_translation_rows(conn: psycopg.Connection, execution: int) -> None:
    segments = score_segments(load_rows(conn, execution))
    assert write_segment_scores(conn, segments) == 2 * len(SEGMENTS)
    stored = dict(conn.execute("select id, chrf_plus_plus from llm.translation").fetchall())
    for segment in segments:
        assert stored[segment.row.translation_id] == pytest.approx(segment.score)
    assert sum(value is None for value in stored.values()) == 2  # the train row's translations
    worst = conn.execute(
        "select translated_text from llm.translation where chrf_plus_plus is not null order by chrf_plus_plus limit 1"
    ).fetchone()[0]
    assert worst == min(segments, key=lambda s: s.score).row.hypothesis


def test_segment_scores_for_missing_translations_roll_back(conn: psycopg.Connection, execution: int) -> None:
    segments = score_segments(load_rows(conn, execution))
    ghost = type(segments[0])(
        type(segments[0].row)(**{**segments[0].row.__dict__, "translation_id": 10**9}), Metric.CHRF, 50.0, "sig"
    )
    with pytest.raises(EvaluationError, match="1 of 25 scored translations are not in llm.translation"):
        write_segment_scores(conn, [*segments, ghost])
    assert conn.execute("select count(*) from llm.translation where chrf_plus_plus is not null").fetchone()[0] == 0


def test_database_refuses_an_impossible_segment_score(conn: psycopg.Connection, execution: int) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update llm.translation set chrf_plus_plus = 150")


def test_leaderboard_reads_back_what_was_written(conn: psycopg.Connection, execution: int) -> None:
    rows = load_rows(conn, execution)
    write_scores(conn, execution, evaluate(rows, "tiny-lora-base", n=200))
    records = load_leaderboard(conn)
    assert len(records) == 2 * 3
    board = leaderboard_rows(records)
    assert [(r.config, r.method_kind) for r in board] == [("tiny-lora", "fine_tuned"), ("tiny-lora", "base")]
    tuned, base = board
    assert tuned.languages == ("ar", "fa")
    assert tuned.training_seconds == 93
    assert (tuned.tuning_methodology, base.tuning_methodology) == ("lora", None)
    assert tuned.model == "tiny/mt"
    assert tuned.segments == len(SEGMENTS)
    assert base.p_value is None and 0 < tuned.p_value <= 1
    assert tuned.scores[Metric.CHRF] > base.scores[Metric.CHRF]
    table = leaderboard_markdown(board)
    assert f"{tuned.scores[Metric.BLEU]:.2f}" in table
    assert f"{tuned.p_value:.4f}" in table


def test_leaderboard_leaves_out_a_model_of_another_split(conn: psycopg.Connection, execution: int) -> None:
    write_scores(conn, execution, evaluate(load_rows(conn, execution), "tiny-lora-base", n=200))
    conn.commit()
    assert hidden_scores(conn) == []
    # a re-split: the model's train row is a validation row now
    conn.execute("update llm.tuning_dataset_distribution set split = 'validation' where split = 'train'")
    assert {r.method_kind for r in load_leaderboard(conn)} == {"base"}
    [line] = hidden_scores(conn)
    assert line.startswith("tiny-lora / tiny-lora-fine-tuned: fine_tuned_models.id ")
    assert "Materialize fine_tuned_model, translations and evaluation for partition 'tiny-lora'" in line


def test_evaluate_execution_stores_everything_and_reports_the_worst(
    conn: psycopg.Connection, execution: int
) -> None:
    outcome = evaluate_execution(conn, execution, k_worst=3, n=200)
    assert outcome.baseline == "tiny-lora-base"
    assert outcome.translations == 2 * len(SEGMENTS)
    assert len(_stored(conn)) == len(outcome.scores) == 2 * 4 * 3
    assert conn.execute("select count(chrf_plus_plus) from llm.translation").fetchone()[0] == 2 * len(SEGMENTS)
    assert len(outcome.worst) == 3
    assert {s.row.method for s in outcome.worst} == {"tiny-lora-fine-tuned"}
    lowest = conn.execute(
        "select min(t.chrf_plus_plus) from llm.translation t join llm.translation_method m "
        "on m.id = t.translation_method_id where m.kind = 'fine_tuned'"
    ).fetchone()[0]
    assert outcome.worst[0].score == pytest.approx(lowest)
    assert f"{outcome.worst[0].score:.2f}" in outcome.worst_markdown
    assert "| tiny-lora-fine-tuned | all |" in outcome.scores_markdown
    assert len(outcome.differences) == 3 and outcome.differences[0][0].row.source.startswith("source ")
    assert outcome.notes == () and "| tiny-lora-fine-tuned | chrF++ |" in outcome.control_markdown


def test_evaluate_execution_of_nothing_raises_and_writes_nothing(conn: psycopg.Connection, execution: int) -> None:
    conn.execute("update llm.translation set translated_text = ' ' where translation_method_id = "
                 "(select id from llm.translation_method where name = 'tiny-lora-fine-tuned')")
    conn.commit()
    with pytest.raises(EvaluationError, match="method 'tiny-lora-fine-tuned', all: all 12 hypotheses are empty"):
        evaluate_execution(conn, execution, n=100)
    assert _stored(conn) == []
    with pytest.raises(EvaluationError, match=f"translation execution {execution + 1000} has no translations"):
        evaluate_execution(conn, execution + 1000)


def test_the_control_meaning_gain_and_flags_are_stored(conn: psycopg.Connection, execution: int) -> None:
    scores = evaluate(load_rows(conn, execution), baseline_method(conn, execution), n=100)
    write_scores(conn, execution, scores)
    stored = conn.execute(
        "select m.name, e.scope, e.scope_value, e.metric, e.control_score, e.control_sd, e.control_seeds, "
        "e.meaning_margin, e.meaning_gain, e.meaning_gain_p, e.p_value_holm, e.flags "
        "from llm.evaluation e join llm.translation_method m on m.id = e.translation_method_id"
    ).fetchall()
    expected = {(s.method, s.key.scope.value, s.key.value, s.metric.value): s for s in scores}
    for method, scope, value, metric, *fields, flags in stored:
        ours = expected[(method, scope, value, metric)]
        assert fields == [ours.control_score, ours.control_sd, ours.control_seeds, ours.meaning_margin,
                          ours.meaning_gain, ours.meaning_gain_p, ours.p_value_holm]
        assert tuple(flags) == ours.flags
    tuned = expected[("tiny-lora-fine-tuned", "all", "", "chrf++")]
    assert tuned.control_seeds == 10 and tuned.meaning_gain_p is not None and tuned.p_value_holm is not None
