"""Checksums of files and artefact directories, so a registered model, an uploaded bundle or a
downloaded copy can be verified: `sha256_file` of one file, `directory_sha256` of a tree (per file,
and one digest over the sorted list). Standard library only."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_sha256(root: Path) -> tuple[dict[str, str], str]:
    """(relative path -> sha256 per file, one sha256 over the sorted list of both)."""
    files = {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
    digest = hashlib.sha256("".join(f"{name}\t{sha}\n" for name, sha in sorted(files.items())).encode())
    return files, digest.hexdigest()
