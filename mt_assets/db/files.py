"""Files shipped at the top of the repository (sql/, dagster.yaml), found both in a
checkout (editable install) and inside an installed wheel (mt_assets/_data)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def project_file(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} is missing from the mt-assets installation (looked in {_PACKAGE})")
