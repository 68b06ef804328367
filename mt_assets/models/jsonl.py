"""JSONL rows, the files a training or translation process reads its rows from: one JSON object
per line, blank lines skipped. `read_rows` checks every row has its required fields (present, and
a string field not blank) and raises `error` naming the file, line and field; `write_rows` writes
atomically (a temporary file, then renamed)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def read_rows(path: Path, required: Sequence[str], error: type[Exception] = ValueError) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: a row must be a JSON object")
        for field in required:
            value = row.get(field)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise error(f"{path}:{number}: field {field!r} is missing or empty")
        rows.append(row)
    return rows


def write_rows(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
