"""Idempotent re-runs, and a changed file or editions.yaml entry becoming a new edition
version; a version without accepted rows is never the current one."""

from __future__ import annotations

import json

import pytest

from mt_assets.db.connection import connect
from mt_assets.db.migrate import discover as migrations
from mt_assets.db.migrate import migrate
from mt_assets.ingest.manifest import discover
from mt_assets.tuning.config import DataConfig
from mt_assets.tuning.distribution import select_rows
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


# Reads under both delimiters: "," gives fields 1-4 (the 4th holds the ";" ones), ";" gives
# ("...,x", source_text, source_reference, official_translate). Row 2 is rejected either way.
BOTH_WAYS = (
    "source_text,source_reference,official_translate,x;source_text;source_reference;official_translate\n"
    "كتاب ـ يكى,1,one,x;كتاب;1;one\n"
    "متن,2,,x;متن;2;\n"
)
BASE = {"file": "book.csv", "source_language": "fa"}


def _manifest(tmp_path, **entry):
    write(tmp_path, "editions.yaml", json.dumps({"editions": [{**BASE, **entry}]}))


@pytest.mark.parametrize("change", [
    {"columns": {"source_reference": "x;source_text;source_reference;official_translate"}},
    {"delimiter": ";"},
    {"quoting": "none"},
    {"source_language": "ar"},
    {"target_language": "de"},
    {"unify_letters": True},
    {"remove_tatweel": True},
], ids=lambda change: next(iter(change)))
def test_changed_manifest_entry_reloads_an_unchanged_file(db_url, tmp_path, change):
    write(tmp_path, "book.csv", BOTH_WAYS)
    _manifest(tmp_path)
    (v1,), _ = load_dir(db_url, tmp_path)
    assert (v1.status, v1.version, v1.rows_loaded, v1.rows_rejected) == ("loaded", 1, 1, 1)

    _manifest(tmp_path, **change)
    (v2,), _ = load_dir(db_url, tmp_path)
    assert (v2.status, v2.version, v2.rows_loaded, v2.rows_rejected) == ("loaded", 2, 1, 1)
    # Each version keeps its own rejection, although both come from the same bytes and line.
    assert query(db_url, "select edition_id, line_number from llm.rejected_rows order by 1") == [
        (v1.edition_id, 3), (v2.edition_id, 3)]
    assert query(db_url, "select name, version from llm.current_dataset_editions") == [("book", 2)]

    (again,), _ = load_dir(db_url, tmp_path)
    assert (again.status, again.version) == ("unchanged", 2)


def test_manifest_edits_that_change_no_reading_option_do_not_reload(db_url, tmp_path):
    write(tmp_path, "book.csv", BOTH_WAYS)
    _manifest(tmp_path)
    load_dir(db_url, tmp_path)
    # Defaults spelled out, and fields that change no stored row.
    _manifest(tmp_path, delimiter=",", quoting="rfc4180", target_language="en", unify_letters=False,
              columns={"source_text": "source_text"}, description="the book", link="https://example.org")
    (again,), _ = load_dir(db_url, tmp_path)
    assert (again.status, again.version) == ("unchanged", 1)


def test_fixing_the_source_language_reloads_with_the_fixed_language(db_url, tmp_path):
    write(tmp_path, "book.csv", BOTH_WAYS)
    _manifest(tmp_path, source_language="ar")
    load_dir(db_url, tmp_path)
    _manifest(tmp_path, source_language="fa")
    load_dir(db_url, tmp_path)
    assert query(db_url, "select source_language from llm.current_dataset") == [("fa",)]


def test_versions_loaded_before_migration_0011_keep_their_identity(empty_db_url, tmp_path):
    """An upgrade does not reload every file: the old versions get the key the loader now computes."""
    before = tmp_path / "sql"
    before.mkdir()
    for m in migrations():
        if m.version < 11:
            (before / m.path.name).write_bytes(m.path.read_bytes())
    migrate(empty_db_url, before)
    raw = tmp_path / "raw"
    raw.mkdir()
    write(raw, "book.tsv", V1)
    (found,) = discover(raw).files
    old_options = {k: v for k, v in found.spec.options().items() if k not in ("source_language", "target_language")}
    query(empty_db_url, "insert into llm.dataset_editions (name, source_file, file_sha256, options, rows_read, "
          "rows_loaded, rows_rejected) values ('book', 'book.tsv', %s, %s, 4, 2, 2) returning id",
          (found.sha256, json.dumps(old_options)))
    migrate(empty_db_url)
    (again,), _ = load_dir(empty_db_url, raw)
    assert (again.status, again.version) == ("unchanged", 1)


def _select(db_url: str, edition: str) -> list[str]:
    with connect(db_url) as conn:
        data = DataConfig(editions=[edition], source_languages=["fa"], test_size=0.5)
        return sorted(row.source_reference for row in select_rows(conn, data))


def test_version_without_accepted_rows_never_becomes_current(db_url, tmp_path):
    write(tmp_path, "book.tsv", V1)
    (v1,), _ = load_dir(db_url, tmp_path)
    write(tmp_path, "book.tsv", tsv("\t1\t1\tone\tfa", "یک\t2\t2\tone\tklingon"))
    (v2,), _ = load_dir(db_url, tmp_path)
    assert (v2.status, v2.version, v2.rows_read, v2.rows_loaded, v2.rows_rejected) == ("loaded", 2, 2, 0, 2)
    # Its rejections stay visible ...
    assert query(db_url, "select line_number, reason from llm.rejected_rows where edition_id = %s order by 1",
                 (v2.edition_id,)) == [(2, "empty source_text"), (3, "unknown language code: 'klingon' "
                                       "(known: ar, de, en, es, fa, fr, ku, ps, tr, ur)")]
    # ... but the current version, and what a config splits, is still version 1.
    assert query(db_url, "select version from llm.current_dataset_editions") == [(1,)]
    assert _select(db_url, "book") == ["1", "2"]

    write(tmp_path, "book.tsv", tsv("سه\t3\t3\tthree\tfa"))
    (v3,), _ = load_dir(db_url, tmp_path)
    assert v3.version == 3 and _select(db_url, "book") == ["3"]


def test_edition_whose_only_version_has_no_rows_has_no_current_version(db_url, tmp_path):
    write(tmp_path, "book.tsv", tsv("\t1\t1\tone\tfa"))
    (load,), _ = load_dir(db_url, tmp_path)
    assert (load.status, load.rows_loaded, load.rows_rejected) == ("loaded", 0, 1)
    assert query(db_url, "select count(*) from llm.current_dataset_editions") == [(0,)]
