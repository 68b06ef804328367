"""Idempotent re-runs, and a changed file becoming a new edition version."""

from __future__ import annotations

from mt_assets_tests.ingest_support import load_dir, query, tsv, write

V1 = tsv("یک\t1\t1\tone\tfa", "دو\t2\t2\ttwo\tfa", "\t3\t3\tthree\tfa", "دو\t4\t2\tdup\tfa")

COUNTS = """select (select count(*) from llm.dataset_editions), (select count(*) from llm.dataset),
                  (select count(*) from llm.rejected_rows)"""


def test_rerun_with_unchanged_files_writes_nothing(db_url, tmp_path):
    write(tmp_path, "book.tsv", V1)
    (first,), _ = load_dir(db_url, tmp_path)
    assert (first.status, first.rows_loaded, first.rows_rejected) == ("loaded", 2, 2)
    before = query(db_url, COUNTS)
    stamp = query(db_url, "select loaded_at from llm.dataset_editions")
    (again,), _ = load_dir(db_url, tmp_path)
    assert again.status == "unchanged"
    assert (again.edition_id, again.version, again.rows_read, again.rows_loaded, again.rows_rejected) == (
        first.edition_id, 1, 4, 2, 2)
    assert query(db_url, COUNTS) == before == [(1, 2, 2)]
    assert query(db_url, "select loaded_at from llm.dataset_editions") == stamp


def test_changed_file_becomes_a_new_version_and_old_rows_stay(db_url, tmp_path):
    write(tmp_path, "book.tsv", V1)
    (v1,), _ = load_dir(db_url, tmp_path)
    old_rows = query(db_url, "select id, source_reference, official_translate from llm.dataset order by id")

    write(tmp_path, "book.tsv", tsv("یک\t1\t1\tONE (revised)\tfa", "سه\t3\t3\tthree\tfa"))
    (v2,), _ = load_dir(db_url, tmp_path)
    assert (v2.status, v2.version, v2.rows_loaded) == ("loaded", 2, 2)
    assert v2.edition_id != v1.edition_id

    kept = query(db_url, "select id, source_reference, official_translate from llm.dataset where edition_id = %s "
                 "order by id", (v1.edition_id,))
    assert kept == old_rows
    assert query(db_url, "select name, version from llm.current_dataset_editions") == [("book", 2)]
    assert query(db_url, "select source_reference, official_translate from llm.current_dataset order by id") == [
        ("1", "ONE (revised)"), ("3", "three")]

    (v2_again,), _ = load_dir(db_url, tmp_path)
    assert v2_again.status == "unchanged" and v2_again.version == 2
    assert query(db_url, "select count(*) from llm.dataset_editions") == [(2,)]


def test_identical_content_under_a_second_name_is_refused(db_url, tmp_path):
    write(tmp_path, "a.tsv", V1)
    write(tmp_path, "b.tsv", V1)
    loads, _ = load_dir(db_url, tmp_path)
    assert [(load.name, load.status) for load in loads] == [("a", "loaded"), ("b", "failed")]
    assert "identical content is already loaded as edition 'a'" in loads[1].error
    assert query(db_url, COUNTS) == [(1, 2, 2)]
