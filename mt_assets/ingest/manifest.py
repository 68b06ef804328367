"""Which files are editions, and how to read them: the optional `editions.yaml` in the raw
directory, with defaults for files it does not mention.

```yaml
editions:
  - file: quran-ar-en.tsv        # relative to the raw directory
    name: quran-ar-en            # default: the file stem as a slug (see edition_name)
    description: ...
    link: https://...
    source_language: ar          # for rows whose source_language is empty or missing
    target_language: en          # default en
    delimiter: "\\t"             # default: tab for .tsv, comma for .csv
    quoting: none                # none | rfc4180; default none for .tsv, rfc4180 for .csv
    columns: {source_text: arabic, official_translate: english}   # seed name: header
    unify_letters: false         # see mt_assets.ingest.normalize
    remove_tatweel: false
```
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mt_assets import languages
from mt_assets.ingest.errors import FileError, ManifestError
from mt_assets.ingest.normalize import NormalizeOptions

MANIFEST = "editions.yaml"
SUFFIXES = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl"}
SEED_COLUMNS = ("source_text", "source_paragraph", "source_reference", "official_translate", "source_language")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class EditionSpec:
    name: str
    path: Path
    format: Literal["tsv", "csv", "jsonl"]
    delimiter: str
    quoting: Literal["none", "rfc4180"]
    columns: dict[str, str]  # seed column name -> name in this file
    description: str | None = None
    link: str | None = None
    source_language: str | None = None
    target_language: str = "en"
    normalize: NormalizeOptions = field(default_factory=NormalizeOptions)

    def options(self) -> dict[str, object]:
        """Every setting that decides which rows are read and how they are stored, with the
        defaults applied: recorded on the edition row, and (hashed) half of its identity, so
        that changing any of them in editions.yaml reloads the file. Description and link
        change no row and are not here."""
        return {
            "format": self.format,
            "delimiter": self.delimiter,
            "quoting": self.quoting,
            "columns": self.columns,
            "source_language": self.source_language,
            "target_language": self.target_language,
            **self.normalize.as_dict(),
        }


@dataclass(frozen=True)
class RawFile:
    spec: EditionSpec
    size: int
    sha256: str


@dataclass(frozen=True)
class Discovery:
    files: list[RawFile]
    problems: list[FileError]
    manifest: Path | None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    name: str | None = None
    description: str | None = None
    link: str | None = None
    source_language: str | None = None
    target_language: str = "en"
    delimiter: str | None = None
    quoting: Literal["none", "rfc4180"] | None = None
    columns: dict[str, str] = {}
    unify_letters: bool = False
    remove_tatweel: bool = False

    @field_validator("source_language", "target_language")
    @classmethod
    def _known_language(cls, code: str | None) -> str | None:
        if code is not None and not languages.is_known(code):
            raise ValueError(f"unknown language code {code!r}; known: {', '.join(sorted(languages.NAMES))}")
        return code

    @field_validator("columns")
    @classmethod
    def _seed_names(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(SEED_COLUMNS))
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(unknown)}; map these: {', '.join(SEED_COLUMNS)}")
        return columns

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, delimiter: str | None) -> str | None:
        if delimiter is not None and len(delimiter) != 1:
            raise ValueError(f"must be one character, got {delimiter!r}")
        return delimiter


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    editions: list[_Entry] = []


def read_manifest(path: Path) -> list[_Entry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ManifestError(f"{path}: cannot read: {' '.join(str(err).split())}") from None
    try:
        return _Manifest.model_validate(data or {}).editions
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in first["loc"]).replace(".[", "[")
        raise ManifestError(f"{path}: {where}: {first['msg']}") from None


def edition_name(stem: str) -> str:
    """A file stem as an edition name: lowercased, accents dropped (é -> e), and every run of
    other characters (`_`, spaces, dots, brackets, letters outside a-z, ...) turned into one
    `-`, none at either end: `My Corpus_v2 (fa)` -> `my-corpus-v2-fa`. Empty when the stem
    has no a-z or 0-9 character at all."""
    decomposed = unicodedata.normalize("NFKD", stem.lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_SLUG.sub("-", bare).strip("-")


def _origin(entry: _Entry | None) -> str:
    return "in editions.yaml" if entry is not None and entry.name is not None else "from the file name"


def _spec(path: Path, entry: _Entry | None) -> EditionSpec:
    fmt = SUFFIXES[path.suffix.lower()]
    entry = entry or _Entry(file=path.name)
    if entry.name is not None:
        name = entry.name
        if not _NAME.match(name):
            raise FileError(path, f"edition name {name!r} (in editions.yaml) must match [a-z0-9][a-z0-9-]*")
    else:
        name = edition_name(path.stem)
        if not name:
            raise FileError(
                path, f"the file name {path.name!r} gives no edition name (its stem has no letter a-z or digit); "
                "rename the file or give it a `name` in editions.yaml"
            )
    if fmt == "jsonl" and (entry.delimiter or entry.quoting):
        raise FileError(path, "delimiter and quoting do not apply to JSONL files (editions.yaml)")
    return EditionSpec(
        name=name,
        path=path,
        format=fmt,
        delimiter=entry.delimiter or ("," if fmt == "csv" else "\t"),
        quoting=entry.quoting or ("rfc4180" if fmt == "csv" else "none"),
        columns={seed: entry.columns.get(seed, seed) for seed in SEED_COLUMNS},
        description=entry.description,
        link=entry.link,
        source_language=entry.source_language,
        target_language=entry.target_language,
        normalize=NormalizeOptions(entry.unify_letters, entry.remove_tatweel),
    )


def _key(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fingerprint(raw_dir: Path) -> str | None:
    """A cheap digest of the raw files' names, sizes and modification times (and the
    manifest's), to notice changes without hashing contents; None when the directory is missing."""
    if not raw_dir.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(raw_dir.rglob("*")):
        relative = path.relative_to(raw_dir)
        wanted = path.suffix.lower() in SUFFIXES or relative == Path(MANIFEST)
        if wanted and path.is_file() and not any(part.startswith(".") for part in relative.parts):
            stat = path.stat()
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def discover(raw_dir: Path) -> Discovery:
    """Every .tsv/.csv/.jsonl file under raw_dir (hidden ones skipped), with its edition.

    Raises ManifestError for a bad editions.yaml; per-file problems are returned, so the
    other files still load."""
    if not raw_dir.is_dir():
        raise ManifestError(f"raw data directory {raw_dir} does not exist; set MT_RAW_DIR or run "
                            f"`mt-assets sample-data quran --out {raw_dir}`")
    manifest = raw_dir / MANIFEST
    entries = read_manifest(manifest) if manifest.exists() else []
    by_file: dict[Path, _Entry] = {}
    problems: list[FileError] = []
    for i, entry in enumerate(entries):
        path = _key(raw_dir / entry.file)
        if path.suffix.lower() not in SUFFIXES:
            raise ManifestError(f"{manifest}: editions[{i}].file: {entry.file!r} is not a .tsv, .csv or .jsonl file")
        if path in by_file:
            raise ManifestError(f"{manifest}: editions[{i}].file: {entry.file!r} is listed twice")
        if not path.is_file():
            problems.append(FileError(path, f"listed in {MANIFEST} but not found"))
        by_file[path] = entry
    paths = {
        _key(p) for p in raw_dir.rglob("*")
        if p.suffix.lower() in SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(raw_dir).parts)
    }
    paths.update(p for p in by_file if p.is_file())
    specs: list[EditionSpec] = []
    for path in sorted(paths):
        try:
            specs.append(_spec(path, by_file.get(path)))
        except FileError as err:
            problems.append(err)
    claims: dict[str, list[EditionSpec]] = {}
    for spec in specs:
        claims.setdefault(spec.name, []).append(spec)
    files: list[RawFile] = []
    for spec in specs:
        # Every file claiming a shared name is refused: which one would be the edition is a
        # choice the user has to make, not the sort order.
        rivals = [other for other in claims[spec.name] if other is not spec]
        if rivals:
            problems.append(FileError(spec.path, _collision(spec, rivals, by_file)))
            continue
        try:
            files.append(RawFile(spec, spec.path.stat().st_size, sha256_of(spec.path)))
        except OSError as err:
            problems.append(FileError(spec.path, f"unreadable: {err.strerror or err}"))
    return Discovery(files, problems, manifest if manifest.exists() else None)


def _collision(spec: EditionSpec, rivals: list[EditionSpec], by_file: dict[Path, _Entry]) -> str:
    others = ", ".join(f"{other.path} ({_origin(by_file.get(other.path))})" for other in rivals)
    return (
        f"edition name {spec.name!r} ({_origin(by_file.get(spec.path))}) is also the edition name of {others}; "
        "none of these files is loaded: rename one, or give each a distinct `name` in editions.yaml"
    )
