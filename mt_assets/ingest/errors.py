"""Problems with a whole file or with the manifest (row problems are rejection reasons)."""

from __future__ import annotations

from pathlib import Path


class FileError(Exception):
    """A file that loads nothing: unreadable, undecodable, missing a required column, ..."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None):
        self.path = str(path)
        self.problem = problem
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        return f"{where}: {self.problem}"


class ManifestError(ValueError):
    """editions.yaml is unreadable or invalid; nothing is loaded until it is fixed."""
