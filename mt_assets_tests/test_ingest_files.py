"""File-level problems: the file loads nothing, one message names file, line and problem,
and the other files still load."""

from __future__ import annotations

import pytest

from mt_assets.ingest.errors import ManifestError
from mt_assets.ingest.manifest import discover, edition_name
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


@pytest.mark.parametrize("stem, name", [
    ("my_corpus", "my-corpus"),
    ("My Corpus_v2 (fa)", "my-corpus-v2-fa"),
    ("Café__Livre", "cafe-livre"),
    ("_quran-ar-en.", "quran-ar-en"),
    ("قرآن fa", "fa"),
    ("قرآن", ""),
])
def test_edition_name_slug_rule(stem, name):
    assert edition_name(stem) == name


def test_file_with_underscores_loads_under_its_slug(db_url, tmp_path):
    write(tmp_path, "my_corpus.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert problems == []
    assert [(load.name, load.status, load.rows_loaded) for load in loads] == [("my-corpus", "loaded", 1)]
    assert query(db_url, "select name, source_file from llm.dataset_editions") == [("my-corpus", "my_corpus.tsv")]


def test_stem_that_slugs_to_nothing_is_refused(db_url, tmp_path):
    write(tmp_path, "قرآن.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert loads == []
    assert problems == [
        f"{tmp_path / 'قرآن.tsv'}: the file name 'قرآن.tsv' gives no edition name (its stem has no letter a-z "
        "or digit); rename the file or give it a `name` in editions.yaml"
    ]


def test_invalid_name_in_the_manifest_is_refused(db_url, tmp_path):
    write(tmp_path, "editions.yaml", "editions: [{file: a.tsv, name: My_Book}]")
    write(tmp_path, "a.tsv", GOOD)
    loads, problems = load_dir(db_url, tmp_path)
    assert loads == []
    assert problems == [f"{tmp_path / 'a.tsv'}: edition name 'My_Book' (in editions.yaml) must match [a-z0-9][a-z0-9-]*"]


def test_files_with_one_edition_name_are_all_refused_naming_each_other(db_url, tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "my_book.tsv", GOOD)
    write(tmp_path, "sub/My Book.csv", "source_text,source_reference,official_translate,source_language\nx,1,y,fa\n")
    write(tmp_path, "other.tsv", GOOD.replace("peace", "salam"))
    write(tmp_path, "editions.yaml", "editions: [{file: other.tsv, name: my-book}]")
    loads, problems = load_dir(db_url, tmp_path)
    assert loads == []
    a, b, c = tmp_path / "my_book.tsv", tmp_path / "other.tsv", tmp_path / "sub/My Book.csv"
    tail = "none of these files is loaded: rename one, or give each a distinct `name` in editions.yaml"
    assert problems == [
        f"{a}: edition name 'my-book' (from the file name) is also the edition name of {b} (in editions.yaml), "
        f"{c} (from the file name); {tail}",
        f"{b}: edition name 'my-book' (in editions.yaml) is also the edition name of {a} (from the file name), "
        f"{c} (from the file name); {tail}",
        f"{c}: edition name 'my-book' (from the file name) is also the edition name of {a} (from the file name), "
        f"{b} (in editions.yaml); {tail}",
    ]
    assert query(db_url, "select count(*) from llm.dataset_editions") == [(0,)]


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
