import psycopg
import pytest

from mt_assets.db import DatabaseError
from mt_assets.db.migrate import discover, migrate

SEED_TABLES = {
    "dataset_editions", "dataset", "tuning_configs", "tuning_dataset_distribution", "fine_tuned_models",
    "translation_method", "translation_execution", "translation_execution_models", "translation",
}
ADDED_TABLES = {"rejected_rows", "training_logs", "evaluation", "schema_migrations"}
VIEWS = {"current_dataset_editions", "current_dataset"}


def _columns(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_name, column_name, data_type, is_nullable, column_default "
            "from information_schema.columns where table_schema = 'llm' order by table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[tuple]] = {}
    for table, *col in rows:
        out.setdefault(table, []).append(tuple(col))
    return out


def _constraints(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
                "where connamespace = 'llm'::regnamespace"
            ).fetchall()
        )


def test_migrations_create_every_table(empty_db_url):
    applied = migrate(empty_db_url)
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert set(_columns(empty_db_url)) == SEED_TABLES | ADDED_TABLES | VIEWS
    with psycopg.connect(empty_db_url) as conn:
        views = conn.execute("select table_name from information_schema.views where table_schema = 'llm'").fetchall()
    assert {v for (v,) in views} == VIEWS


def test_rerun_is_a_noop(empty_db_url):
    migrate(empty_db_url)
    before = (_columns(empty_db_url), _constraints(empty_db_url))
    assert migrate(empty_db_url) == []
    assert (_columns(empty_db_url), _constraints(empty_db_url)) == before


def test_one_by_one_equals_all_at_once(empty_db_url, db_url, tmp_path):
    """The template (all migrations in one call) equals applying them in separate runs."""
    steps = tmp_path / "sql"
    steps.mkdir()
    for m in discover():
        (steps / m.path.name).write_bytes(m.path.read_bytes())
        assert [x.version for x in migrate(empty_db_url, steps)] == [m.version]
    assert _columns(empty_db_url) == _columns(db_url)
    assert _constraints(empty_db_url) == _constraints(db_url)


def test_seed_column_names_are_kept(db_url):
    cols = {t: {c[0] for c in cs} for t, cs in _columns(db_url).items()}
    assert {"source_text", "source_paragraph", "source_reference", "official_translate", "source_language"} <= cols["dataset"]
    assert {"name", "llm_model", "tuning_methodology", "training_prompt_template", "llm_tuning_configs"} <= cols["tuning_configs"]
    assert {"tuning_config_id", "dataset_id", "split"} <= cols["tuning_dataset_distribution"]
    assert {"pretrained_model_dir_path", "status"} <= cols["fine_tuned_models"]
    assert {"translation_method_id", "tuning_dataset_distribution_id", "translated_text"} <= cols["translation"]


def test_metric_names_are_constrained(db_url):
    """A misspelled metric cannot be stored (the peer bug: a deploy gate on a typo)."""
    with psycopg.connect(db_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, metric, score, signature, segments) "
                "values (1, 1, 'all', 'chrf_plus', 1.0, 's', 1)"
            )


def test_failed_migration_rolls_back(db_url, tmp_path):
    steps = tmp_path / "sql"
    steps.mkdir()
    for m in discover():
        (steps / m.path.name).write_bytes(m.path.read_bytes())
    (steps / "9999_broken.sql").write_text(
        "create table llm.half_done (id int);\nselect no_such_function();\n"
    )
    with pytest.raises(DatabaseError, match=r"9999_broken.sql failed and was rolled back") as info:
        migrate(db_url, steps)
    assert "\n" not in str(info.value)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select to_regclass('llm.half_done')").fetchone() == (None,)
        assert conn.execute("select max(version) from llm.schema_migrations").fetchone()[0] < 9999


def test_edited_applied_migration_is_refused(db_url, tmp_path):
    steps = tmp_path / "sql"
    steps.mkdir()
    for m in discover():
        (steps / m.path.name).write_text(m.sql + "\n-- edited\n")
    with pytest.raises(DatabaseError, match="changed after it was applied"):
        migrate(db_url, steps)
