"""Each class of bad row goes to llm.rejected_rows with its line, raw content and reason;
the rest of the file loads and the counts add up."""

from __future__ import annotations

import pytest

from mt_assets_tests.ingest_support import HEADER, load_dir, rejected, stored, tsv, write

GOOD_1 = "سلام\t1\t1:1\tpeace\tfa"
GOOD_2 = "مرحبا\t2\t1:2\thello\tar"

CASES = [
    ("empty source_text", "  \t3\t1:3\tx\tfa", "empty source_text"),
    ("empty official_translate", "متن\t3\t1:3\t \tfa", "empty official_translate"),
    ("empty source_reference", "متن\t3\t\tx\tfa", "empty source_reference"),
    ("too few fields", "متن\t3\t1:3\tx", "wrong field count: expected 5, found 4"),
    ("too many fields", "متن\t3\t1:3\tx\tfa\textra", "wrong field count: expected 5, found 6"),
    ("unparseable paragraph", "متن\tthree\t1:3\tx\tfa", "unparseable source_paragraph: 'three' is not a whole number"),
    ("paragraph out of range", "متن\t99999999999\t1:3\tx\tfa", "unparseable source_paragraph: 99999999999 is out of range"),
    ("unknown language", "متن\t3\t1:3\tx\tfas", "unknown language code: 'fas'"),
    ("empty language", "متن\t3\t1:3\tx\t", "empty source_language"),
    ("NUL character", "مت\x00ن\t3\t1:3\tx\tfa", "NUL character: in source_text"),
    ("duplicate reference", "دیگر\t3\t1:1\tother\tfa", "duplicate source_reference: '1:1' (first kept: line 2)"),
]


@pytest.mark.parametrize("label, bad, reason", CASES, ids=[c[0] for c in CASES])
def test_bad_row_is_quarantined_and_the_rest_loads(db_url, tmp_path, label, bad, reason):
    write(tmp_path, "book.tsv", tsv(GOOD_1, bad, GOOD_2))
    loads, problems = load_dir(db_url, tmp_path)
    assert problems == []
    (load,) = loads
    assert (load.status, load.rows_read, load.rows_loaded, load.rows_rejected) == ("loaded", 3, 2, 1)
    ((line, stored_reason, raw),) = rejected(db_url)
    assert line == 3
    assert stored_reason.startswith(reason)
    assert raw == bad.replace("\x00", "\\x00")
    assert [r[0] for r in stored(db_url)] == ["1:1", "1:2"]
    assert stored(db_url)[0][2] == "سلام"  # the first occurrence of a duplicated reference is the one kept


def test_language_defaults_from_the_manifest_and_is_case_insensitive(db_url, tmp_path):
    write(tmp_path, "editions.yaml", "editions:\n  - {file: book.tsv, source_language: fa}\n")
    write(tmp_path, "book.tsv", tsv("یک\t1\t1\tone\t", "دو\t2\t2\ttwo\tAR", "سه\t3\t3\tthree\tzz"))
    (load,), _ = load_dir(db_url, tmp_path)
    assert [(r[0], r[4]) for r in stored(db_url)] == [("1", "fa"), ("2", "ar")]
    assert load.languages == {"ar": 1, "fa": 1}
    assert load.reasons == {"unknown language code": 1}


def test_jsonl_rows(db_url, tmp_path):
    lines = [
        '{"source_text": "یک", "source_paragraph": 1, "source_reference": "a", "official_translate": "one", "source_language": "fa"}',
        '{"source_text": "دو", "source_reference": "b", "official_translate": "two", "source_language": "fa"}',
        '{"source_text": "سه", "source_reference": "c", "official_translate": "three", "source_language": "fa"',
        '["not", "an", "object"]',
        '{"source_text": ["x"], "source_reference": "d", "official_translate": "x", "source_language": "fa"}',
        '{"source_text": "چهار", "source_paragraph": 1.5, "source_reference": "e", "official_translate": "4", "source_language": "fa"}',
        "",
        '{"source_reference": "f", "official_translate": "six", "source_language": "fa"}',
    ]
    write(tmp_path, "book.jsonl", "\n".join(lines) + "\n")
    (load,), _ = load_dir(db_url, tmp_path)
    assert [(r[0], r[1]) for r in stored(db_url)] == [("a", 1), ("b", None)]
    assert [(line, reason.split(":")[0]) for line, reason, _ in rejected(db_url)] == [
        (3, "invalid JSON"), (4, "a JSON object is expected, found list"), (5, "not text"),
        (6, "unparseable source_paragraph"), (8, "empty source_text"),
    ]
    assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (7, 2, 5)


def test_every_row_bad_still_records_the_edition(db_url, tmp_path):
    write(tmp_path, "bad.tsv", tsv("\t1\t1\tx\tfa", "y\t2\t2\t\tfa"))
    (load,), _ = load_dir(db_url, tmp_path)
    assert (load.status, load.rows_loaded, load.rows_rejected) == ("loaded", 0, 2)
    assert [r[0] for r in rejected(db_url)] == [2, 3]


def test_blank_lines_are_not_rows_but_keep_line_numbers(db_url, tmp_path):
    write(tmp_path, "book.tsv", HEADER + "\n" + GOOD_1 + "\n   \n" + "x\t1\t9\t\tfa\n")
    (load,), _ = load_dir(db_url, tmp_path)
    assert (load.rows_read, load.rows_loaded) == (2, 1)
    assert [r[0] for r in rejected(db_url)] == [5]


@pytest.mark.parametrize("reference", ["1:1", "it's", "a\\b", "o'\\'k", "۲:۲۵۵"])
def test_duplicate_reasons_quote_references_as_postgres_does(db_url, reference):
    import psycopg

    from mt_assets.ingest.load import quote_literal

    with psycopg.connect(db_url) as conn:
        (expected,) = conn.execute("select format('%%L', %s::text)", (reference,)).fetchone()
    assert quote_literal(reference) == expected


def test_a_reference_repeated_many_times_keeps_only_its_first_line(db_url, tmp_path):
    rows = [f"متن {i}\t{i}\t{'x' if i % 2 else i}\tt{i}\tfa" for i in range(1, 8)]
    write(tmp_path, "book.tsv", tsv(*rows))
    (load,), _ = load_dir(db_url, tmp_path)
    assert (load.rows_loaded, load.rows_rejected) == (4, 3)
    assert [r[0] for r in stored(db_url)] == ["x", "2", "4", "6"]
    assert [(line, reason) for line, reason, _ in rejected(db_url)] == [
        (line, "duplicate source_reference: 'x' (first kept: line 2)") for line in (4, 6, 8)
    ]
