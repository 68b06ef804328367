"""The whole evaluation step for one execution, so the Dagster asset stays a thin wrapper:
read its translations, score and test them, store scores and segment chrF++ atomically."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import EvaluationScore, evaluate
from mt_assets.evaluation.report import scores_markdown, segments_markdown
from mt_assets.evaluation.segments import SegmentScore, score_segments, worst_segments
from mt_assets.evaluation.significance import DEFAULT_RESAMPLES, DEFAULT_SEED
from mt_assets.evaluation.store import baseline_method, load_rows, write_scores, write_segment_scores


@dataclass(frozen=True)
class EvaluationOutcome:
    execution_id: int
    baseline: str | None
    scores: tuple[EvaluationScore, ...]
    worst: tuple[SegmentScore, ...]  # of the methods other than the baseline, when there are any
    translations: int

    @property
    def scores_markdown(self) -> str:
        return scores_markdown(self.scores)

    @property
    def worst_markdown(self) -> str:
        return segments_markdown(self.worst)


def evaluate_execution(
    conn: psycopg.Connection,
    execution_id: int,
    k_worst: int = 10,
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> EvaluationOutcome:
    rows = load_rows(conn, execution_id)
    if not rows:
        raise EvaluationError(
            f"translation execution {execution_id} has no translations of test rows: run the translations step first"
        )
    baseline = baseline_method(conn, execution_id)
    # Everything is computed before anything is written: a failure leaves the old scores.
    scores = evaluate(rows, baseline, n=n, seed=seed)
    segments = score_segments(rows)
    with conn.transaction():
        write_scores(conn, execution_id, scores)
        write_segment_scores(conn, segments)
    candidates = [s for s in segments if s.row.method != baseline] or segments
    return EvaluationOutcome(
        execution_id=execution_id,
        baseline=baseline,
        scores=tuple(scores),
        worst=tuple(worst_segments(candidates, k=k_worst)),
        translations=len(rows),
    )
