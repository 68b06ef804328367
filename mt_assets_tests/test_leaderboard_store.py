"""The leaderboard read back from the real PostgreSQL: a method of each kind (base, fine_tuned,
system, baseline), its control columns and flags, ranked by the chrF++ meaning margin,
and `mt-assets leaderboard --json` printing the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from mt_assets.cli import main as cli
from mt_assets.db import urls
from mt_assets.evaluation.leaderboard import leaderboard_json, leaderboard_markdown, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard
from mt_assets.evaluation.metrics import Metric

CONFIG = "tiny-lora"
# method -> (kind, {metric: score}, p vs base, control chrF++, sd, margin, meaning gain, gain p, Holm p, flags);
# the control columns are written on the chrF++ row only, as `evaluate` writes the others' own.
METHODS = {
    f"{CONFIG}:base": ("base", {"bleu": 8.0, "chrf++": 30.0, "ter": 90.0}, None, 27.0, 0.5, 3.0, None, None, None, []),
    f"{CONFIG}:fine-tuned": (
        "fine_tuned", {"bleu": 12.0, "chrf++": 36.0, "ter": 80.0}, 0.01, 28.0, 0.7, 8.0, 5.0, 0.02, 0.03, []
    ),
    # outputs a user brought (sql/0016_external_systems.sql), no config
    "system:commercial": (
        "system", {"bleu": 10.0, "chrf++": 33.0, "ter": 85.0}, 0.2, 28.5, 0.6, 4.5, 1.5, 0.3, 0.4, ["style-only"]
    ),
    # a constant output: the best chrF++, all of it style
    "baseline:constant": (
        "baseline", {"bleu": 2.0, "chrf++": 40.0, "ter": 99.0}, 0.001, 40.0, 0.0, 0.0, -3.0, 0.001, 0.003,
        ["length-ratio"],
    ),
    # the control was skipped: no margin
    "baseline:copy-source": (
        "baseline", {"bleu": 0.5, "chrf++": 4.0, "ter": 100.0}, None, None, None, None, None, None, None,
        ["source-script", "length-ratio"],
    ),
}


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(urls.libpq(db_url)) as connection:
        yield connection


def _one(conn: psycopg.Connection, sql: str, params: tuple = ()) -> int:
    return conn.execute(sql + " returning id", params).fetchone()[0]


def _other(value: float | None, chrf: bool) -> float | None:
    """A BLEU or TER row's own control value: unlike the chrF++ one, so a row taking it shows."""
    return value if chrf or value is None else value - 5


@pytest.fixture
def stored(conn: psycopg.Connection) -> None:
    config = _one(
        conn,
        "insert into llm.tuning_configs (name, llm_model, tuning_methodology) values (%s, 'tiny/mt', 'lora')",
        (CONFIG,),
    )
    model = _one(
        conn,
        "insert into llm.fine_tuned_models (tuning_config_id, status, duration_seconds, split_sha256) "
        "values (%s, 'succeeded', 93, llm.split_sha256(%s))",
        (config, config),
    )
    run = _one(conn, "insert into llm.translation_execution (name, tuning_config_id) values (%s, %s)", (CONFIG, config))
    for name, (kind, scores, p, control, sd, margin, gain, gain_p, holm, flags) in METHODS.items():
        method = _one(
            conn,
            "insert into llm.translation_method (name, kind, tuning_config_id, fine_tuned_models_id) "
            "values (%s, %s, %s, %s)",
            (name, kind, config if kind in ("base", "fine_tuned") else None, model if kind == "fine_tuned" else None),
        )
        for metric, score in scores.items():
            chrf = metric == "chrf++"
            conn.execute(
                "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, metric, score, "
                "signature, segments, p_value, control_score, control_sd, control_seeds, meaning_margin, "
                "meaning_gain, meaning_gain_p, p_value_holm, flags) "
                "values (%s, %s, 'all', %s, %s, 'sig', 40, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (method, run, metric, score, p, _other(control, chrf), sd, None if control is None else 10,
                 _other(margin, chrf), gain if chrf else None, gain_p if chrf else None, holm if chrf else None,
                 flags),
            )
            for language in ("fa", "ar"):
                conn.execute(
                    "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, "
                    "scope_value, metric, score, signature, segments) values (%s, %s, 'language', %s, %s, %s, "
                    "'sig', 20)",
                    (method, run, language, metric, score),
                )
    conn.commit()


def test_every_kind_reads_back_with_its_control_and_flags(conn: psycopg.Connection, stored: None) -> None:
    records = load_leaderboard(conn)
    assert len(records) == len(METHODS) * 3
    assert {(r.method, r.method_kind) for r in records} == {(name, v[0]) for name, v in METHODS.items()}
    rows = {row.method: row for row in leaderboard_rows(records)}
    for name, (kind, scores, p, control, sd, margin, gain, gain_p, holm, flags) in METHODS.items():
        row = rows[name]
        assert row.method_kind == kind
        assert row.scores == {Metric(m): s for m, s in scores.items()}
        assert (row.p_value, row.control_score, row.control_sd, row.meaning_margin) == (p, control, sd, margin)
        assert (row.meaning_gain, row.meaning_gain_p, row.p_value_holm) == (gain, gain_p, holm)
        assert row.flags == tuple(flags)
        assert (row.execution, row.segments, row.languages) == (CONFIG, 40, ("ar", "fa"))
    tuned = rows[f"{CONFIG}:fine-tuned"]
    assert (tuned.model, tuned.tuning_methodology, tuned.training_seconds) == ("tiny/mt", "lora", 93)
    for no_config in ("baseline:constant", "system:commercial"):
        assert rows[no_config].model is None and rows[no_config].tuning_methodology is None


def test_the_constant_has_the_best_chrf_and_ranks_below_the_models(conn: psycopg.Connection, stored: None) -> None:
    board = leaderboard_rows(load_leaderboard(conn))
    assert [row.method for row in board] == [
        f"{CONFIG}:fine-tuned", "system:commercial", f"{CONFIG}:base", "baseline:constant", "baseline:copy-source"
    ]
    by_method = {row.method: row for row in board}
    assert by_method["baseline:constant"].delta_vs_base == 40.0 - 30.0
    assert by_method[f"{CONFIG}:fine-tuned"].delta_vs_base == 36.0 - 30.0
    assert by_method["system:commercial"].delta_vs_base == 33.0 - 30.0
    assert by_method[f"{CONFIG}:base"].delta_vs_base is None
    table = leaderboard_markdown(board)
    assert "| baseline:copy-source | — | 4.00 |" in table
    assert "source-script, length-ratio |" in table


def test_cli_json_prints_the_stored_rows(
    conn: psycopg.Connection, stored: None, mt_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli(["leaderboard", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == leaderboard_json(leaderboard_rows(load_leaderboard(conn)))
    assert {o["kind"] for o in printed} == {"base", "fine_tuned", "system", "baseline"}
    constant = next(o for o in printed if o["method"] == "baseline:constant")
    assert (constant["kind"], constant["meaning_margin"], constant["flags"]) == ("baseline", 0.0, ["length-ratio"])
    copy = next(o for o in printed if o["method"] == "baseline:copy-source")
    assert copy["control_chrf"] is None and copy["meaning_margin"] is None and copy["p_vs_base"] is None
    assert cli(["leaderboard"]) == 0
    assert capsys.readouterr().out == leaderboard_markdown(leaderboard_rows(load_leaderboard(conn)))
