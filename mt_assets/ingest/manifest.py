"""Which files are editions, and how to read them: the optional `editions.yaml` in the raw
directory, with defaults for files it does not mention.

```yaml
editions:
  - file: quran-ar-en.tsv        # relative to the raw directory
    name: quran-ar-en            # default: the file stem, lowercased
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
        """What is recorded on the edition row: everything that shaped the stored text."""
        return {
            "format": self.format,
            "delimiter": self.delimiter,
            "quoting": self.quoting,
            "columns": self.columns,
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


def _spec(path: Path, entry: _Entry | None) -> EditionSpec:
    fmt = SUFFIXES[path.suffix.lower()]
    entry = entry or _Entry(file=path.name)
    name = entry.name if entry.name is not None else path.stem.lower()
    if not _NAME.match(name):
        origin = "in editions.yaml" if entry.name is not None else "from the file name"
        raise FileError(
            path, f"edition name {name!r} ({origin}) must match [a-z0-9][a-z0-9-]*; "
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
    files: list[RawFile] = []
    names: dict[str, Path] = {}
    for path in sorted(paths):
        try:
            spec = _spec(path, by_file.get(path))
            if spec.name in names:
                raise FileError(path, f"edition name {spec.name!r} is already used by {names[spec.name]}")
            names[spec.name] = path
            files.append(RawFile(spec, path.stat().st_size, sha256_of(path)))
        except FileError as err:
            problems.append(err)
        except OSError as err:
            problems.append(FileError(path, f"unreadable: {err.strerror or err}"))
    return Discovery(files, problems, manifest if manifest.exists() else None)
