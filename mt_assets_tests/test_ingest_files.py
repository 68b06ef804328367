"""File-level problems: the file loads nothing, one message names file, line and problem,
and the other files still load."""

from __future__ import annotations

import pytest

from mt_assets.ingest.errors import ManifestError
from mt_assets.ingest.manifest import discover
from mt_assets_tests.ingest_support import HEADER, load_dir, query, tsv, write

GOOD = tsv("سلام\t1\t1:1\tpeace\tfa")

CASES = [
    ("missing column", tsv("a\t1\t1\tb", header="source_text\tsource_paragraph\tsource_reference\tofficial_translate\n"),
     "bad.tsv, line 1: missing required column 'source_language'; the header has: source_text, "
     "source_paragraph, source_reference, official_translate"),
    ("undecodable bytes", (HEADER + "ok\t1\t1\tok\tfa\nbad\t2\t2\t").encode() + b"\xff\xfe!" + b"\tfa\n",
     "bad.tsv, line 3: undecodable bytes b'\\xff\\xfe!\\t' at byte 9 of the line: the file is not UTF-8"),
    ("utf-16", "\ufeffsource_text\n".encode("utf-16-le").join([b"\xff\xfe", b""]),
     "bad.tsv, line 1: file is UTF-16; save it as UTF-8"),
    ("empty file", b"", "bad.tsv: empty file: no header line"),
    ("header only", HEADER, "bad.tsv: no data rows"),
    ("duplicate header", tsv("a\ta\t1\t1\tb\tfa", header=HEADER.replace("\n", "\tsource_text\n")),
     "bad.tsv, line 1: column 'source_text' appears twice in the header"),
]


@pytest.mark.parametrize("label, content, message", CASES, ids=[c[0] for c in CASES])
def test_bad_file_loads_nothing_and_others_load(db_url, tmp_path, label, content, message):
    write(tmp_path, "bad.tsv", content)
    write(tmp_path, "good.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert problems == []
    by_name = {load.name: load for load in loads}
    assert by_name["good"].status == "loaded" and by_name["good"].rows_loaded == 1
    bad = by_name["bad"]
    assert bad.status == "failed"
    assert bad.error == f"{tmp_path / message}"
    assert query(db_url, "select name from llm.dataset_editions") == [("good",)]
    assert query(db_url, "select count(*) from llm.rejected_rows") == [(0,)]


def test_undecodable_bytes_late_in_a_file_roll_back_the_rows_before(db_url, tmp_path):
    rows = "".join(f"متن {i}\t{i}\t{i}\ttext {i}\tfa\n" for i in range(5000))
    write(tmp_path, "late.tsv", (HEADER + rows).encode() + b"\xc3(\t1\tx\tx\tfa\n")
    (load,), _ = load_dir(db_url, tmp_path)
    assert load.status == "failed" and ", line 5002: undecodable bytes" in load.error
    assert query(db_url, "select count(*) from llm.dataset") == [(0,)]
    assert query(db_url, "select count(*) from llm.dataset_editions") == [(0,)]


def test_file_listed_in_manifest_but_missing_is_reported(db_url, tmp_path):
    write(tmp_path, "editions.yaml", "editions:\n  - file: gone.tsv\n  - {file: good.tsv, name: kept}\n")
    write(tmp_path, "good.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert problems == [f"{tmp_path / 'gone.tsv'}: listed in editions.yaml but not found"]
    assert [(load.name, load.status) for load in loads] == [("kept", "loaded")]


def test_file_stem_that_is_not_an_edition_name(db_url, tmp_path):
    write(tmp_path, "My_Book.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert loads == []
    assert problems == [
        f"{tmp_path / 'My_Book.tsv'}: edition name 'my_book' (from the file name) must match "
        "[a-z0-9][a-z0-9-]*; rename the file or give it a `name` in editions.yaml"
    ]


def test_two_files_with_one_edition_name(db_url, tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "book.tsv", GOOD)
    write(tmp_path, "sub/book.csv", "source_text,source_reference,official_translate,source_language\nx,1,y,fa\n")
    loads, problems = load_dir(db_url, tmp_path)
    assert [load.name for load in loads] == ["book"]
    assert problems == [f"{tmp_path / 'sub/book.csv'}: edition name 'book' is already used by {tmp_path / 'book.tsv'}"]


def test_mapped_column_missing_names_the_mapping(db_url, tmp_path):
    write(tmp_path, "editions.yaml", "editions:\n  - file: b.tsv\n    columns: {source_text: arabic}\n")
    write(tmp_path, "b.tsv", GOOD)
    (load,), _ = load_dir(db_url, tmp_path)
    assert "missing required column 'arabic' (mapped from 'source_text' in editions.yaml)" in load.error


@pytest.mark.parametrize(
    "manifest, message",
    [
        ("editions: [{file: a.tsv, target_language: english}]", "editions[0].target_language: Value error, unknown language code 'english'"),
        ("editions: [{file: a.tsv, colums: {}}]", "editions[0].colums: Extra inputs are not permitted"),
        ("editions: [{file: a.tsv, columns: {text: x}}]", "editions[0].columns: Value error, unknown column(s) text"),
        ("editions: [{file: a.txt}]", "editions[0].file: 'a.txt' is not a .tsv, .csv or .jsonl file"),
        ("editions: [{file: a.tsv, delimiter: ';;'}]", "editions[0].delimiter: Value error, must be one character"),
        ("editions: [{file: a.tsv", "cannot read: while parsing a flow mapping"),
    ],
)
def test_bad_manifest_names_file_and_field(tmp_path, manifest, message):
    write(tmp_path, "editions.yaml", manifest)
    with pytest.raises(ManifestError) as err:
        discover(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'editions.yaml'}: ")
    assert message in str(err.value)
