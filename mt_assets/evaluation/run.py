"""The whole evaluation step for one execution, so the Dagster asset stays a thin wrapper:
read its translations, score and test them (with the style control, `evaluate.py`), store
scores and segment chrF++ atomically."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import EvaluationScore, control_skipped, evaluate
from mt_assets.evaluation.meteor import MeteorSetup
from mt_assets.evaluation.report import (
    control_markdown,
    differences_markdown,
    scores_markdown,
    segments_markdown,
)
from mt_assets.evaluation.segments import SegmentScore, most_different, score_segments, worst_segments
from mt_assets.evaluation.significance import DEFAULT_RESAMPLES, DEFAULT_SEED, Test
from mt_assets.evaluation.store import (
    baseline_method,
    fine_tuned_methods,
    involved_executions,
    load_rows,
    write_scores,
    write_segment_scores,
)


@dataclass(frozen=True)
class EvaluationOutcome:
    execution_id: int
    baseline: str | None
    scores: tuple[EvaluationScore, ...]
    worst: tuple[SegmentScore, ...]  # of the methods other than the baseline, when there are any
    # (fine-tuned, base) segment pairs that differ most; empty without exactly one of each
    differences: tuple[tuple[SegmentScore, SegmentScore], ...]
    translations: int
    test: Test
    notes: tuple[str, ...]  # what was not computed, and why

    @property
    def scores_markdown(self) -> str:
        return scores_markdown(self.scores)

    @property
    def worst_markdown(self) -> str:
        return segments_markdown(self.worst)

    @property
    def control_markdown(self) -> str:
        return control_markdown(self.scores)

    @property
    def differences_markdown(self) -> str:
        return differences_markdown(self.differences)


def evaluate_execution(
    conn: psycopg.Connection,
    execution_id: int,
    k_worst: int = 10,
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: Test = "bootstrap",
    meteor: MeteorSetup | None = None,  # `meteor_setup()` scores METEOR too (evaluate.py)
) -> EvaluationOutcome:
    rows = load_rows(conn, execution_id)
    if not rows:
        raise EvaluationError(
            f"translation execution {execution_id} has no translations of test rows: run the translations step first"
        )
    baseline = baseline_method(conn, execution_id)
    # Everything is computed before anything is written: a failure leaves the old scores.
    scores = evaluate(rows, baseline, n=n, seed=seed, test=test, meteor=meteor)
    segments = score_segments(rows)
    with conn.transaction():
        write_scores(conn, execution_id, scores)
        write_segment_scores(conn, segments)
    candidates = [s for s in segments if s.row.method != baseline] or segments
    tuned = fine_tuned_methods(conn, execution_id)
    differences = (
        most_different(segments, tuned[0], baseline, k=k_worst) if len(tuned) == 1 and baseline is not None else []
    )
    skipped = control_skipped(rows)
    return EvaluationOutcome(
        execution_id=execution_id,
        baseline=baseline,
        scores=tuple(scores),
        worst=tuple(worst_segments(candidates, k=k_worst)),
        differences=tuple(differences),
        translations=len(rows),
        test=test,
        notes=() if skipped is None else (skipped,),
    )


def evaluate_involved_executions(
    conn: psycopg.Connection, config: str, test: Test = "bootstrap", meteor: MeteorSetup | None = None
) -> list[str]:
    """Score the user executions involving `config` (configs/executions/*.yaml, `store.
    involved_executions`), one line each: how many methods on how many segments, or
    "NAME: not scored: REASON" (e.g. not translated yet). Not gated: the gate is the config's
    own claim."""
    lines = []
    for other_id, name in involved_executions(conn, config):
        try:
            other = evaluate_execution(conn, other_id, test=test, meteor=meteor)
        except EvaluationError as err:
            lines.append(f"{name}: not scored: {err}")
            continue
        methods = sorted({s.method for s in other.scores})
        lines.append(f"{name}: {len(methods)} methods scored on {other.translations // max(len(methods), 1)} segments")
    return lines
