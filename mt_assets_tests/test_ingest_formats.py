"""Encodings, line endings, quoting, and text stored exactly as given apart from the
documented normalisation (NFC, whitespace, optional letter unification / tatweel removal)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from mt_assets.ingest import normalize
from mt_assets_tests.ingest_support import HEADER, load_dir, query, rejected, stored, tsv, write

PERSIAN_ZWNJ = "می\u200cخواهم کتاب\u200cها را بخوانم"  # ZWNJ inside words: must survive byte for byte
ARABIC = "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ"


def test_bom_and_crlf(db_url, tmp_path):
    content = "\ufeff" + tsv("سلام\t1\t1:1\tpeace\tfa", "دنیا\t2\t1:2\tworld\tfa").replace("\n", "\r\n")
    write(tmp_path, "book.tsv", content)
    (load,), _ = load_dir(db_url, tmp_path)
    assert (load.rows_loaded, load.rows_rejected) == (2, 0)
    assert stored(db_url) == [("1:1", 1, "سلام", "peace", "fa"), ("1:2", 2, "دنیا", "world", "fa")]


def test_csv_quoted_fields_with_delimiters_quotes_and_line_breaks(db_url, tmp_path):
    content = (
        "source_reference,source_text,official_translate,source_language\r\n"
        'a,"متن، با ویرگول, and comma","He said ""stop"", then left",fa\r\n'
        'b,"سطر اول\r\nسطر دوم","line one\nline two",fa\r\n'
        'c,"unterminated ""quote"" here" oops,x,fa\r\n'
        "d,آخر,last,fa\r\n"
    )
    write(tmp_path, "book.csv", content)
    (load,), _ = load_dir(db_url, tmp_path)
    assert stored(db_url) == [
        ("a", None, "متن، با ویرگول, and comma", 'He said "stop", then left', "fa"),
        ("b", None, "سطر اول\nسطر دوم", "line one\nline two", "fa"),
        ("d", None, "آخر", "last", "fa"),
    ]
    # Record b spans lines 3-5 (two line breaks inside quotes), so c starts on line 6.
    ((line, reason, raw),) = rejected(db_url)
    assert (line, raw) == (6, 'c,"unterminated ""quote"" here" oops,x,fa')
    assert reason.startswith("malformed CSV quoting:")
    assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (4, 3, 1)


def test_tsv_quotes_are_plain_characters(db_url, tmp_path):
    write(tmp_path, "book.tsv", tsv('"قول"\t1\t1\t"Say," he said: ""no""\tfa'))
    load_dir(db_url, tmp_path)
    assert stored(db_url)[0][2:4] == ('"قول"', '"Say," he said: ""no""')


def test_rtl_text_and_zwnj_round_trip_byte_exact(db_url, tmp_path):
    write(tmp_path, "book.tsv", tsv(f"{PERSIAN_ZWNJ}\t1\t1\tI want to read the books\tfa", f"{ARABIC}\t2\t2\tIn the name\tar"))
    load_dir(db_url, tmp_path)
    texts = [r[2] for r in stored(db_url)]
    assert texts[0].encode() == PERSIAN_ZWNJ.encode()
    assert texts[1].encode() == unicodedata.normalize("NFC", ARABIC).encode()  # NFC reorders some marks
    assert texts[0].count("\u200c") == 2


def test_sql_metacharacters_are_stored_verbatim(db_url, tmp_path):
    nasty = "Robert'); drop table llm.dataset; -- \\N \\. $$ %s %(x)s \\\\ \\t"
    write(tmp_path, "book.tsv", tsv(f"{nasty}\t1\t'; --\t{nasty}\tfa"))
    load_dir(db_url, tmp_path)
    assert stored(db_url) == [("'; --", 1, nasty, nasty, "fa")]


def test_one_megabyte_field(db_url, tmp_path):
    big = ("کلمه\u200cای " * 150_000).strip()
    assert len(big.encode()) > 1_000_000
    write(tmp_path, "big-csv.csv", "source_text,source_reference,official_translate,source_language\n"
          f'"{big}",1,"{big[:10]}",fa\n')
    write(tmp_path, "big-tsv.tsv", tsv(f"{big}\t1\t1\tshort\tfa"))
    loads, _ = load_dir(db_url, tmp_path)
    assert [load.rows_loaded for load in loads] == [1, 1]
    assert query(db_url, "select count(*) from llm.dataset where source_text = %s", (big,)) == [(2,)]


def test_manifest_column_mapping_delimiter_and_letter_options(db_url, tmp_path):
    write(tmp_path, "editions.yaml", json.dumps({"editions": [{
        "file": "persian.csv", "name": "fa-book", "description": "d", "link": "https://example.org",
        "source_language": "fa", "target_language": "en", "delimiter": ";",
        "columns": {"source_text": "persian", "official_translate": "english", "source_reference": "ref"},
        "unify_letters": True, "remove_tatweel": True,
    }]}))
    write(tmp_path, "persian.csv", "ref;persian;english;extra\n1;كتاب يكى ـــ خوب;A book;x\n")
    (load,), _ = load_dir(db_url, tmp_path)
    assert load.name == "fa-book" and load.rows_loaded == 1
    assert stored(db_url) == [("1", None, "کتاب یکی خوب", "A book", "fa")]
    ((options, description, link, target, source_file),) = query(
        db_url, "select options, description, link, target_language, source_file from llm.dataset_editions")
    assert options["unify_letters"] is True and options["remove_tatweel"] is True
    assert options["columns"]["source_text"] == "persian" and options["delimiter"] == ";"
    assert (description, link, target, source_file) == ("d", "https://example.org", "en", "persian.csv")


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("  a \t b\u00a0 c  ", "a b c"),
        ("line one  \r\n  line two\rthree", "line one\nline two\nthree"),
        ("می\u200cخواهم", "می\u200cخواهم"),
        ("e\u0301", "\u00e9"),
        ("clean text", "clean text"),
        ("\u200c", "\u200c"),
    ],
)
def test_clean(raw, cleaned):
    assert normalize.clean(raw) == cleaned


def test_letter_options_are_off_by_default_and_language_aware():
    text = "كتاب يكى ـــ"
    assert normalize.source_text(text, "fa", normalize.NormalizeOptions()) == text
    assert normalize.source_text(text, "fa", normalize.NormalizeOptions(unify_letters=True)) == "کتاب یکی ـــ"
    arabic = "کتاب في ـ"
    assert normalize.source_text(arabic, "ar", normalize.NormalizeOptions(True, True)) == "كتاب في"
    # Persian yeh stays in Arabic text (ي or ى depends on the word); the kaf is unified.
    assert normalize.source_text("یک", "ar", normalize.NormalizeOptions(unify_letters=True)) == "یك"


def test_header_only_whitespace_variants(db_url, tmp_path):
    write(tmp_path, "book.tsv", HEADER.replace("source_text", " source_text ") + "x\t1\t1\ty\tfa\n")
    (load,), _ = load_dir(db_url, tmp_path)
    assert load.rows_loaded == 1


BLANKS = {  # data lines between and after blank or whitespace-only lines; one row has the wrong field count
    "tsv": ["سلام\t1\t1:1\tpeace\tfa", "", " \t ", "دنیا\t2\t1:2\tworld\tfa", "bad\t1:3", "", "  "],
    "csv": ["سلام,1,1:1,peace,fa", "", " \t ", "دنیا,2,1:2,world,fa", "bad,1:3", "", "  "],
    "jsonl": ['{"source_text": "سلام", "source_paragraph": 1, "source_reference": "1:1", "official_translate": "peace",'
              ' "source_language": "fa"}', "", " \t ",
              '{"source_text": "دنیا", "source_paragraph": 2, "source_reference": "1:2", "official_translate": "world",'
              ' "source_language": "fa"}', "[1]", "", "  "],
}


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("fmt", BLANKS)
def test_blank_and_whitespace_only_lines_are_not_rows(db_url, tmp_path, fmt, eol):
    header = {"tsv": HEADER.rstrip("\n"), "csv": HEADER.rstrip("\n").replace("\t", ","), "jsonl": None}[fmt]
    lines = ([header] if header else []) + BLANKS[fmt]
    write(tmp_path, f"book.{fmt}", eol.join(lines) + eol)
    (load,), problems = load_dir(db_url, tmp_path)
    assert problems == [] and load.error is None
    assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (3, 2, 1)
    assert [r[0] for r in stored(db_url)] == ["1:1", "1:2"]
    # The rejected row keeps its physical line number (the header, when there is one, is line 1).
    ((line, reason, _),) = rejected(db_url)
    assert line == 5 + (header is not None)
    assert reason.startswith(("wrong field count", "a JSON object is expected"))
