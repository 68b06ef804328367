"""Checksums of an artefact directory, so a registered model can be verified after a copy."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mt_assets.training.sources import sha256_file


def directory_sha256(root: Path) -> tuple[dict[str, str], str]:
    """(relative path -> sha256 per file, one sha256 over the sorted list of both)."""
    files = {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
    digest = hashlib.sha256("".join(f"{name}\t{sha}\n" for name, sha in sorted(files.items())).encode())
    return files, digest.hexdigest()
