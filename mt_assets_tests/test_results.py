"""mt_assets.results against the real PostgreSQL: planted methods, test and train rows, per-segment
outputs and scores, overall scores with controls; the DataFrames must be the leaderboard's JSON
row for row, each output beside its own source and reference, and the stored control values."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd
import psycopg
import pytest

from mt_assets import results
from mt_assets.db import urls
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.leaderboard import leaderboard_json, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard

CONFIG = "tiny-lora"
# method -> (kind, {metric: score}, control chrF++, sd, margin, meaning gain, gain p, Holm p, flags)
METHODS = {
    f"{CONFIG}:base": ("base", {"bleu": 8.0, "chrf++": 30.0, "ter": 90.0}, 27.0, 0.5, 3.0, None, None, None, []),
    f"{CONFIG}:fine-tuned": (
        "fine_tuned", {"bleu": 12.0, "chrf++": 36.0, "ter": 80.0}, 28.0, 0.7, 8.0, 5.0, 0.02, 0.03, []
    ),
    "baseline:constant": (
        "baseline", {"bleu": 2.0, "chrf++": 40.0, "ter": 99.0}, 40.0, 0.0, 0.0, -3.0, 0.001, 0.003, ["length-ratio"]
    ),
}
# dataset row -> (source, reference, split); the train row must never show in segments()
ROWS = [
    ("مرحبا", "hello", "test"),
    ("شكرا", "thank you", "test"),
    ("سلام", "peace", "test"),
    ("كتاب", "book", "train"),
]


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(urls.libpq(db_url)) as connection:
        yield connection


def _one(conn: psycopg.Connection, sql: str, params: tuple = ()) -> int:
    return conn.execute(sql + " returning id", params).fetchone()[0]


def _output(method: str, reference: str) -> str:
    """A distinct output per (method, row), so one put beside another row's source shows."""
    return f"{method} on {reference!r}"


def _chrf(method_index: int, row_index: int) -> float:
    return 10.0 * method_index + row_index + 0.5


@pytest.fixture
def stored(conn: psycopg.Connection) -> dict[str, int]:
    """Plants the rows; returns each reference's dataset id."""
    config = _one(
        conn,
        "insert into llm.tuning_configs (name, llm_model, tuning_methodology) values (%s, 'tiny/mt', 'lora')",
        (CONFIG,),
    )
    edition = _one(conn, "insert into llm.dataset_editions (name, source_language) values ('ed', 'ar')")
    dataset_ids, row_ids = {}, {}
    for i, (source, reference, split) in enumerate(ROWS):
        dataset_ids[reference] = _one(
            conn,
            "insert into llm.dataset (edition_id, source_text, official_translate, source_language, source_reference) "
            "values (%s, %s, %s, 'ar', %s)",
            (edition, source, reference, f"1:{i + 1}"),
        )
        row_ids[reference] = _one(
            conn,
            "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
            "values (%s, %s, %s)",
            (config, dataset_ids[reference], split),
        )
    # after the split rows: a model bound to the current split, so the leaderboard shows it
    model = _one(
        conn,
        "insert into llm.fine_tuned_models (tuning_config_id, status, split_sha256) "
        "values (%s, 'succeeded', llm.split_sha256(%s))",
        (config, config),
    )
    run = _one(conn, "insert into llm.translation_execution (name, tuning_config_id) values (%s, %s)", (CONFIG, config))
    for m, (name, (kind, scores, control, sd, margin, gain, gain_p, holm, flags)) in enumerate(METHODS.items()):
        method = _one(
            conn,
            "insert into llm.translation_method (name, kind, tuning_config_id, fine_tuned_models_id) "
            "values (%s, %s, %s, %s)",
            (name, kind, config if kind != "baseline" else None, model if kind == "fine_tuned" else None),
        )
        conn.execute(  # an execution's methods are its linked ones (evaluation.store.EXECUTION_TRANSLATIONS)
            "insert into llm.translation_execution_models (translation_execution_id, translation_method_id) "
            "values (%s, %s)",
            (run, method),
        )
        for r, (_source, reference, _split) in enumerate(ROWS):
            conn.execute(
                "insert into llm.translation (translation_method_id, tuning_dataset_distribution_id, "
                "translation_execution_id, translated_text, chrf_plus_plus) values (%s, %s, %s, %s, %s)",
                (method, row_ids[reference], run, _output(name, reference), _chrf(m, r)),
            )
        for metric, score in scores.items():
            conn.execute(
                "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, metric, score, "
                "signature, segments, control_score, control_sd, control_seeds, meaning_margin, "
                "meaning_gain, meaning_gain_p, p_value_holm, flags) "
                "values (%s, %s, 'all', %s, %s, 'sig', 3, %s, %s, 10, %s, %s, %s, %s, %s)",
                (method, run, metric, score, control, sd, margin, gain, gain_p, holm, flags),
            )
            # a per-language row with another score: controls() must not take it
            conn.execute(
                "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, scope_value, "
                "metric, score, signature, segments) values (%s, %s, 'language', 'ar', %s, %s, 'sig', 3)",
                (method, run, metric, score + 1),
            )
    conn.commit()
    return dataset_ids


def _plain(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as dicts, NaN read as None (what JSON's null becomes in pandas)."""
    return [
        {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
        for row in frame.to_dict("records")
    ]


def test_leaderboard_is_the_json_row_for_row(conn: psycopg.Connection, stored: dict[str, int], mt_env: dict) -> None:
    expected = leaderboard_json(leaderboard_rows(load_leaderboard(conn)))
    assert {row["method"] for row in expected} == set(METHODS)  # the fine-tuned model is not hidden
    board = results.leaderboard()  # no URL: the CLI's, MT_DATABASE_URL from mt_env
    assert list(board.columns) == list(expected[0])
    assert _plain(board) == expected


def test_segments_put_each_output_beside_its_source_and_reference(
    db_url: str, stored: dict[str, int]
) -> None:
    table = results.segments(CONFIG, db_url)
    methods = sorted(METHODS)
    assert list(table.columns) == [
        *results.SEGMENT_COLUMNS, *(f"{kind}:{m}" for m in methods for kind in ("output", "chrf"))
    ]
    tests = [(i, row) for i, row in enumerate(ROWS) if row[2] == "test"]
    assert list(table["dataset_id"]) == [stored[reference] for _, (_, reference, _) in tests]
    for (r, (source, reference, _split)), (_, row) in zip(tests, table.iterrows(), strict=True):
        assert (row["source"], row["reference"], row["language"]) == (source, reference, "ar")
        assert row["source_reference"] == f"1:{r + 1}"
        for m, method in enumerate(METHODS):
            assert row[f"output:{method}"] == _output(method, reference)
            assert row[f"chrf:{method}"] == _chrf(m, r)


def test_controls_are_the_overall_rows(db_url: str, stored: dict[str, int]) -> None:
    table = results.controls(db_url)
    assert list(table.columns) == results.CONTROL_COLUMNS
    assert len(table) == sum(len(v[1]) for v in METHODS.values())
    for row in _plain(table):
        kind, scores, control, sd, margin, gain, gain_p, holm, flags = METHODS[row["method"]]
        assert row["execution"] == CONFIG
        assert row["score"] == scores[row["metric"]]  # not the per-language row's score + 1
        assert (row["control_score"], row["control_sd"], row["control_seeds"]) == (control, sd, 10)
        assert (row["meaning_margin"], row["meaning_gain"], row["meaning_gain_p"]) == (margin, gain, gain_p)
        assert (row["p_value_holm"], row["flags"]) == (holm, flags)


def test_an_unknown_execution_names_the_ones_there_are(db_url: str, stored: dict[str, int]) -> None:
    with pytest.raises(LookupError, match=f"no translation execution named 'nope'; there are: {CONFIG}"):
        results.segments("nope", db_url)


def test_an_empty_database(conn: psycopg.Connection, db_url: str) -> None:
    with pytest.raises(EvaluationError, match="no scores yet"):
        results.leaderboard(db_url)
    empty = results.controls(db_url)
    assert list(empty.columns) == results.CONTROL_COLUMNS and empty.empty
    with pytest.raises(LookupError, match="there are: none yet"):
        results.segments(CONFIG, db_url)
    conn.execute("insert into llm.translation_execution (name) values (%s)", (CONFIG,))
    conn.commit()
    untranslated = results.segments(CONFIG, db_url)
    assert list(untranslated.columns) == results.SEGMENT_COLUMNS and untranslated.empty
