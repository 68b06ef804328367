"""Sentence-level chrF++ for every translation, so the worst segments, and those where two
methods differ most, can be listed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric, check_corpus, scorer
from mt_assets.evaluation.rows import TranslationRow, check_rows

SEGMENT_METRIC = Metric.CHRF


@dataclass(frozen=True)
class SegmentScore:
    row: TranslationRow
    metric: Metric
    score: float
    signature: str


def _sentence_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[float], str]:
    check_corpus(hypotheses, references)
    # One object is safe here: references are passed with every call, not cached.
    chrf = scorer(SEGMENT_METRIC)
    scores = []
    for index, (hyp, ref) in enumerate(zip(hypotheses, references, strict=True)):
        value = chrf.sentence_score(hyp, [ref]).score
        if not math.isfinite(value):
            raise EvaluationError(f"segment {index}: chrF++ came out as {value}")
        scores.append(float(value))
    # sacrebleu knows the reference count, part of the signature, only after scoring.
    return scores, str(chrf.get_signature())


def segment_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """chrF++ of each hypothesis against its reference (0-100)."""
    return _sentence_chrf(hypotheses, references)[0]


def score_segments(rows: Sequence[TranslationRow]) -> list[SegmentScore]:
    if not rows:
        raise EvaluationError("no translations to score: run the translations step first")
    check_rows(rows)
    by_method: dict[str, list[TranslationRow]] = {}
    for row in rows:
        by_method.setdefault(row.method, []).append(row)
    scored = []
    for method, group in sorted(by_method.items()):
        try:
            values, signature = _sentence_chrf([r.hypothesis for r in group], [r.reference for r in group])
        except EvaluationError as err:
            raise EvaluationError(f"method {method!r}: {err}") from None
        scored.extend(SegmentScore(r, SEGMENT_METRIC, v, signature) for r, v in zip(group, values, strict=True))
    return scored


def worst_segments(segments: Sequence[SegmentScore], k: int = 10, method: str | None = None) -> list[SegmentScore]:
    """The k lowest-scoring segments (of one method if given), ties broken by translation id."""
    if k < 0:
        raise EvaluationError(f"k must be >= 0, got {k}")
    chosen = [s for s in segments if method is None or s.row.method == method]
    return sorted(chosen, key=lambda s: (s.score, s.row.translation_id))[:k]


def most_different(
    segments: Sequence[SegmentScore], method: str, other: str, k: int = 10
) -> list[tuple[SegmentScore, SegmentScore]]:
    """The k segments where `method` and `other` differ most in sentence chrF++, as
    (method's, other's) pairs, the largest absolute difference first, ties by dataset row."""
    if k < 0:
        raise EvaluationError(f"k must be >= 0, got {k}")
    theirs = {s.row.dataset_id: s for s in segments if s.row.method == other}
    pairs = [(s, theirs[s.row.dataset_id]) for s in segments if s.row.method == method and s.row.dataset_id in theirs]
    return sorted(pairs, key=lambda p: (-abs(p[0].score - p[1].score), p[0].row.dataset_id))[:k]
