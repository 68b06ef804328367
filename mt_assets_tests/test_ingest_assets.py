"""`raw_files` and `dataset` materialized by Dagster against a real database and instance."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from mt_assets.assets.ingest import INGEST_ASSETS, INGEST_CHECKS
from mt_assets.resources import DatabaseResource
from mt_assets_tests.ingest_support import HEADER, query, tsv, write


def materialize(instance, db_url, raise_on_error=True):
    return dg.materialize(
        [*INGEST_ASSETS, *INGEST_CHECKS], instance=instance, resources={"database": DatabaseResource(url=db_url)},
        raise_on_error=raise_on_error,
    )


def failure_message(result) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.error.message


def checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def metadata(result, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_materialize_loads_reports_and_checks(mt_env, db_url, pg_dagster_instance):
    raw = Path(mt_env["MT_RAW_DIR"])
    write(raw, "book.tsv", tsv("سلام دنیا\t1\t1:1\tHello world\tfa", "متن\t2\t1:1\tdup\tfa",
                               "بسیار بسیار بسیار بسیار طولانی\t3\t1:3\tx\tfa", "سلام دنیا\t4\t1:4\tHello again\tfa"))
    write(raw, "broken.tsv", HEADER.encode() + b"\xff\t1\t1\tx\tfa\n")
    write(raw, "my_corpus.tsv", tsv("متن دیگر\t1\t9:1\tother text\tfa"))  # loads as `my-corpus`
    write(raw, "all_rejected.tsv", tsv("\t1\t1\tone\tfa", "x\t2\t2\ttwo\tklingon"))
    write(raw, "Twin.tsv", tsv("الف\t1\t1\ta\tfa"))
    write(raw, "twin.csv", "source_text,source_reference,official_translate,source_language\nب,1,b,fa\n")

    # The run fails, naming each file that gave no rows and why, after loading and committing the others.
    result = materialize(pg_dagster_instance, db_url, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert "4 file(s) under MT_RAW_DIR gave no rows (the other files are loaded)" in message
    assert f"{raw / 'broken.tsv'}, line 2: undecodable bytes" in message
    assert (f"{raw / 'all_rejected.tsv'}: no row accepted, all 2 rejected (empty source_text 1, first on line 2; "
            "unknown language code 1, first on line 3); version 1 of edition 'all-rejected' is kept but never used") \
        in message
    assert f"{raw / 'Twin.tsv'}: edition name 'twin' (from the file name) is also the edition name of {raw / 'twin.csv'}" \
        in message
    assert f"{raw / 'twin.csv'}: edition name 'twin' (from the file name) is also the edition name of {raw / 'Twin.tsv'}" \
        in message
    assert query(db_url, "select e.name, count(*) from llm.current_dataset d join llm.dataset_editions e "
                 "on e.id = d.edition_id group by 1 order by 1") == [("book", 3), ("my-corpus", 1)]

    files = metadata(result, "raw_files")
    assert files["files"] == 4 and "book.tsv" in files["listing"]
    data = metadata(result, "dataset")
    assert (data["rows_read"], data["rows_loaded"], data["rows_rejected"]) == (7, 4, 3)
    assert (data["files_failed"], data["files_without_rows"]) == (3, 1)
    assert "broken.tsv, line 2: undecodable bytes" in data["file_errors"]
    assert "| book | 1 | loaded | 4 | 3 | 1 | fa 3 | duplicate source_reference 1 |" in data["editions"]
    assert "سلام دنیا" in data["preview"]
    assert data["book: loaded / rejected / read"] == "3 / 1 / 4"

    # The failed step records its own check; the data checks (a step after it) wait for a run that succeeds.
    (files_load,) = result.get_asset_check_evaluations()
    assert (files_load.check_name, files_load.passed, files_load.severity) == (
        "files_load", False, dg.AssetCheckSeverity.ERROR)
    assert files_load.metadata["failed_files"].value == 4

    # A re-run with the same files fails the same way: a file without rows is not forgotten once loaded.
    assert "all_rejected.tsv: no row accepted" in failure_message(materialize(pg_dagster_instance, db_url, False))

    # Fix the files, re-run: the good files are untouched, the fixed ones load, all checks pass but the warnings.
    write(raw, "broken.tsv", tsv("درست\t1\t1\tfixed\tfa"))
    write(raw, "all_rejected.tsv", tsv("x\t2\t2\ttwo\tfa"))
    (raw / "twin.csv").unlink()
    again = materialize(pg_dagster_instance, db_url)
    data = metadata(again, "dataset")
    assert (data["editions_loaded"], data["editions_unchanged"], data["files_failed"]) == (3, 2, 0)
    assert query(db_url, "select count(*) from llm.current_dataset") == [(7,)]
    found = checks(again)
    assert found["files_load"].passed
    assert found["accounting"].passed
    assert found["no_empty_texts"].passed
    assert not found["duplicate_source_texts"].passed
    assert found["duplicate_source_texts"].severity == dg.AssetCheckSeverity.WARN
    assert found["duplicate_source_texts"].metadata["duplicated_texts"].value == 1
    assert not found["length_ratio_outliers"].passed
    assert "1:3" in found["length_ratio_outliers"].metadata["per_edition"].value


def test_accounting_check_fails_when_stored_rows_disagree(mt_env, db_url, pg_dagster_instance):
    write(Path(mt_env["MT_RAW_DIR"]), "book.tsv", tsv("یک\t1\t1\tone\tfa", "دو\t2\t2\ttwo\tfa"))
    assert checks(materialize(pg_dagster_instance, db_url))["accounting"].passed
    with psycopg.connect(db_url) as conn:
        conn.execute("delete from llm.dataset where source_reference = '2'")
    result = materialize(pg_dagster_instance, db_url)
    accounting = checks(result)["accounting"]
    assert not accounting.passed
    assert "| book | 1 | book.tsv | 2 | 2 | 0 | 1 | 0 |" in accounting.metadata["unbalanced"].value


def test_no_files_is_a_clear_failure(mt_env, db_url):
    result = dg.materialize(INGEST_ASSETS[:1], resources={"database": DatabaseResource(url=db_url)},
                            raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert f"no .tsv, .csv or .jsonl files under {mt_env['MT_RAW_DIR']}" in message
    assert "mt-assets sample-data quran" in message


@pytest.mark.slow  # each CLI process and each Dagster step imports the whole code location
def test_dagster_cli_materializes_sample_data(tmp_path):
    """The acceptance path: sample data, `mt-assets env`, `dagster asset materialize`.
    (Re-runs are covered in-process above: each CLI step re-imports the code location.)"""
    home = Path(tempfile.mkdtemp(prefix="mt-home-", dir="/tmp"))
    home.chmod(0o755)
    bindir = str(Path(sys.executable).parent)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MT_", "DAGSTER_"))}
    env = {**clean, "MT_HOME": str(home), "PATH": f"{bindir}:{os.environ['PATH']}"}
    script = f"""
set -e
mt-assets sample-data quran --out {tmp_path}/raw
eval "$(mt-assets env)"
export MT_RAW_DIR={tmp_path}/raw
dagster asset materialize -m mt_assets --select raw_files,dataset
psql "${{MT_DAGSTER_DATABASE_URL/postgresql+psycopg2/postgresql}}" -Atc "select e.name || '=' || count(*) from llm.dataset d
    join llm.dataset_editions e on e.id = d.edition_id group by e.name order by 1"
"""
    try:
        out = subprocess.run(["bash", "-c", script], env=env, cwd=home, capture_output=True, text=True, timeout=400)
        assert out.returncode == 0, out.stderr[-3000:]
        counts = [line for line in out.stdout.splitlines() if line.startswith("quran-")]
        assert counts == ["quran-ar-en=6236", "quran-fa-en=6236"]
        assert "RUN_SUCCESS" in out.stderr
        assert "Asset check 'accounting' on 'dataset' passed" in out.stderr
    finally:
        subprocess.run([sys.executable, "-m", "mt_assets.cli", "db", "stop"], env=env, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("asset", ["raw_files", "dataset"])
def test_assets_are_in_the_definitions(asset):
    from mt_assets.definitions import defs

    assert defs.get_assets_def(asset) is not None


def test_sensor_requests_a_run_only_when_raw_files_change(mt_env):
    from mt_assets.assets.ingest import raw_files_sensor

    raw = Path(mt_env["MT_RAW_DIR"])
    write(raw, "book.tsv", tsv("یک\t1\t1\tone\tfa"))
    with dg.instance_for_test() as instance:
        first = dg.build_sensor_context(instance=instance)
        assert isinstance(raw_files_sensor(first), dg.RunRequest)
        unchanged = dg.build_sensor_context(instance=instance, cursor=first.cursor)
        assert isinstance(raw_files_sensor(unchanged), dg.SkipReason)

        write(raw, "book.tsv", tsv("یک\t1\t1\tone\tfa", "دو\t2\t2\ttwo\tfa"))
        changed = dg.build_sensor_context(instance=instance, cursor=first.cursor)
        request = raw_files_sensor(changed)
        assert isinstance(request, dg.RunRequest) and request.run_key == changed.cursor != first.cursor

        (raw / "notes.txt").write_text("not a data file")
        ignored = dg.build_sensor_context(instance=instance, cursor=changed.cursor)
        assert isinstance(raw_files_sensor(ignored), dg.SkipReason)
