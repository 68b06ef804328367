import psycopg
import pytest

from mt_assets.db import DatabaseError, schema
from mt_assets.db.files import project_file
from mt_assets.db.migrate import SCHEMA_FILE, discover, migrate

SEED_TABLES = {
    "dataset_editions", "dataset", "tuning_configs", "tuning_dataset_distribution", "fine_tuned_models",
    "translation_method", "translation_execution", "translation_execution_models", "translation",
}
ADDED_TABLES = {"rejected_rows", "training_logs", "evaluation", "schema_migrations", "system_file", "system_output"}
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


# The seed diagram: its nine tables and every column it names. SQL a user wrote against the
# seed must run here, so each of these exists under exactly this name (we only add columns).
SEED_DIAGRAM = {
    "dataset_editions": {"id", "name", "description", "link", "source_language"},
    "dataset": {
        "id", "edition_id", "source_text", "source_paragraph", "source_reference", "official_translate",
        "source_language", "is_enable",
    },
    "tuning_configs": {
        "id", "name", "description", "llm_model", "tuning_methodology", "training_prompt_template",
        "llm_tuning_configs",
    },
    "tuning_dataset_distribution": {"id", "tuning_config_id", "dataset_record_id"},
    "fine_tuned_models": {"id", "tuning_config_id", "pretrained_model_dir_path", "created_at"},
    "translation_method": {"id", "name", "description", "llm_model", "fine_tuned_models_id"},
    "translation_execution": {"id", "name", "description", "created_at"},
    "translation_execution_models": {"id", "translation_execution_id", "translation_method_id"},
    "translation": {"id", "translation_method_id", "tuning_dataset_distribution_id"},
}


def test_schema_keeps_the_seed_diagrams_names(db_url):
    cols = {t: {c[0] for c in cs} for t, cs in _columns(db_url).items()}
    assert set(SEED_DIAGRAM) == SEED_TABLES
    missing = {t: sorted(names - cols.get(t, set())) for t, names in SEED_DIAGRAM.items()}
    assert {t: m for t, m in missing.items() if m} == {}
    assert "is_enable" in cols["current_dataset"]  # a view keeps its old names unless renamed too


def test_a_query_written_against_the_seed_runs(db_url):
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "select d.is_enable, td.dataset_record_id, m.fine_tuned_models_id from llm.dataset d "
            "join llm.tuning_dataset_distribution td on td.dataset_record_id = d.id "
            "join llm.translation t on t.tuning_dataset_distribution_id = td.id "
            "join llm.translation_method m on m.id = t.translation_method_id"
        ).fetchall()


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


def test_schema_sql_is_what_the_migrations_build(db_url):
    # After a new migration: python -m mt_assets.db.schema > sql/schema.sql
    assert schema.dump(db_url) == (project_file("sql") / SCHEMA_FILE).read_text(encoding="utf-8"), (
        "sql/schema.sql is out of date: python -m mt_assets.db.schema > sql/schema.sql"
    )


def test_a_database_built_from_schema_sql_equals_a_migrated_one(empty_db_url, db_url):
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute((project_file("sql") / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert _columns(empty_db_url) == _columns(db_url)
    assert _constraints(empty_db_url) == _constraints(db_url)
    assert schema.dump(empty_db_url) == schema.dump(db_url)
