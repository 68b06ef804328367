"""One evaluation of an execution: corpus scores of every method in every scope, and each
method's paired significance against the baseline method on exactly the same segments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.rows import TranslationRow, check_rows
from mt_assets.evaluation.scopes import ScopeKey, group_by_scope, scores_by_scope
from mt_assets.evaluation.significance import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_TEST_SEGMENTS,
    paired_significances,
)


@dataclass(frozen=True)
class EvaluationScore:
    """One row of llm.evaluation (ids resolved by the store)."""

    method: str
    key: ScopeKey
    metric: Metric
    score: float
    signature: str
    segments: int
    p_value: float | None  # vs the baseline; None for the baseline itself and for small scopes


def check_coverage(rows: Sequence[TranslationRow]) -> None:
    """Every method must have translated the same segments, or its scores are not comparable."""
    segments: dict[str, set[int]] = {}
    for row in rows:
        segments.setdefault(row.method, set()).add(row.dataset_id)
    union = set().union(*segments.values())
    for method, covered in sorted(segments.items()):
        missing = sorted(union - covered)
        if missing:
            sample = ", ".join(map(str, missing[:5]))
            raise EvaluationError(
                f"method {method!r} has no translation for {len(missing)} of {len(union)} segments "
                f"(dataset rows {sample}{', ...' if len(missing) > 5 else ''}); finish the translations first"
            )


def evaluate(
    rows: Sequence[TranslationRow],
    baseline: str | None,
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[EvaluationScore]:
    """Score an execution's translations (`store.load_rows`) and test every method against
    `baseline` (`store.baseline_method`; None skips the tests). Raises EvaluationError rather
    than return a score it cannot stand behind."""
    check_rows(rows)
    check_coverage(rows)
    methods = {row.method for row in rows}
    if baseline is not None and baseline not in methods:
        raise EvaluationError(
            f"baseline method {baseline!r} has no translations here; methods: {', '.join(sorted(methods))}"
        )
    groups = group_by_scope(rows)
    evaluated = []
    for result in scores_by_scope(rows):
        p_values: dict[Metric, float] = {}
        signatures: dict[Metric, str] = {}
        segments = result.scores[0].segments
        # Small scopes (a rare language, a short edition) get scores but no p-value.
        if baseline is not None and result.method != baseline and segments >= MIN_TEST_SEGMENTS:
            # check_rows and check_coverage make these line up segment by segment.
            system = groups[(result.method, result.key)]
            base = groups[(baseline, result.key)]
            try:
                tests = paired_significances(
                    [r.hypothesis for r in base],
                    [r.hypothesis for r in system],
                    [r.reference for r in system],
                    metrics=[s.metric for s in result.scores],
                    n=n,
                    seed=seed,
                )
            except EvaluationError as err:
                raise EvaluationError(f"method {result.method!r} vs {baseline!r}, {result.key}: {err}") from None
            p_values = {metric: test.p_value for metric, test in tests.items()}
            signatures = {metric: test.signature for metric, test in tests.items()}
        for score in result.scores:
            evaluated.append(
                EvaluationScore(
                    method=result.method,
                    key=result.key,
                    metric=score.metric,
                    score=score.score,
                    # With a p-value, record how it was computed too (bs:N, seed:S).
                    signature=signatures.get(score.metric, score.signature),
                    segments=score.segments,
                    p_value=p_values.get(score.metric),
                )
            )
    return evaluated
