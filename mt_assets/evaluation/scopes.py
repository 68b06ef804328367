"""Corpus scores of each method overall, per source language and per edition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Score, corpus_scores
from mt_assets.evaluation.rows import TranslationRow, check_rows


class Scope(StrEnum):
    """Values are the ones the `llm.evaluation.scope` check constraint accepts."""

    ALL = "all"
    LANGUAGE = "language"
    EDITION = "edition"


@dataclass(frozen=True)
class ScopeKey:
    scope: Scope
    value: str  # '' for Scope.ALL, like llm.evaluation.scope_value's default

    def __str__(self) -> str:
        return self.scope.value if self.scope is Scope.ALL else f"{self.scope.value}={self.value}"


@dataclass(frozen=True)
class ScopeResult:
    method: str
    key: ScopeKey
    scores: tuple[Score, ...]


def scope_keys(row: TranslationRow) -> tuple[ScopeKey, ...]:
    return (
        ScopeKey(Scope.ALL, ""),
        ScopeKey(Scope.LANGUAGE, row.language),
        ScopeKey(Scope.EDITION, row.edition),
    )


def group_by_scope(rows: Sequence[TranslationRow]) -> dict[tuple[str, ScopeKey], list[TranslationRow]]:
    """(method, scope) -> its rows ordered by dataset row, so methods line up segment by segment."""
    check_rows(rows)
    groups: dict[tuple[str, ScopeKey], list[TranslationRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.method, r.dataset_id)):
        for key in scope_keys(row):
            groups[(row.method, key)].append(row)
    order = {Scope.ALL: 0, Scope.LANGUAGE: 1, Scope.EDITION: 2}
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], order[item[0][1].scope], item[0][1].value)))


def scores_by_scope(rows: Sequence[TranslationRow]) -> list[ScopeResult]:
    if not rows:
        raise EvaluationError("no translations to evaluate: run the translations step first")
    results = []
    for (method, key), group in group_by_scope(rows).items():
        try:
            scores = corpus_scores([r.hypothesis for r in group], [r.reference for r in group])
        except EvaluationError as err:
            raise EvaluationError(f"method {method!r}, {key}: {err}") from None
        results.append(ScopeResult(method, key, tuple(scores)))
    return results
