"""Corpus-level BLEU, chrF++ and TER with sacrebleu, each with its full signature.

Every metric is built in one place (`scorer`) so the tokenizer and variants cannot drift:
BLEU uses sacrebleu's default `13a` word tokenizer (never `char`, which scores character
n-grams and inflates BLEU), chrF++ is `CHRF(word_order=2)`, TER is sacrebleu's default.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric as SacreMetric
from sacrebleu.metrics.lib_ter import translation_edit_rate

from mt_assets.evaluation.errors import EvaluationError


class Metric(StrEnum):
    """Values are the ones the `llm.evaluation.metric` check constraint accepts."""

    BLEU = "bleu"
    CHRF = "chrf++"
    TER = "ter"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def higher_is_better(self) -> bool:
        # TER counts edits: lower is better.
        return self is not Metric.TER


_LABELS = {Metric.BLEU: "BLEU", Metric.CHRF: "chrF++", Metric.TER: "TER"}


# Room for a few test sets of thousands of segments; beyond that it only stops helping.
@functools.lru_cache(maxsize=20_000)
def _edits(hypothesis: tuple[str, ...], reference: tuple[str, ...]) -> tuple[float, float]:
    return translation_edit_rate(list(hypothesis), list(reference))


class _CachedTER(TER):
    """sacrebleu's TER with its per-segment edit distance memoised. Its shift search is by far
    the slowest part of an evaluation, and each segment is scored several times over: overall,
    per language, per edition, and again inside every paired test. Same numbers, same signature."""

    def _compute_segment_statistics(self, hypothesis: str, ref_kwargs: dict) -> list[float]:
        words = tuple(hypothesis.split())
        results = [_edits(words, tuple(ref)) for ref in ref_kwargs["ref_words"]]
        return [min(edits for edits, _ in results), sum(length for _, length in results) / len(results)]


def scorer(metric: Metric) -> SacreMetric:
    """A fresh sacrebleu metric object (they cache references, so never share one)."""
    if metric is Metric.BLEU:
        return BLEU(tokenize="13a")
    if metric is Metric.CHRF:
        return CHRF(word_order=2)
    if metric is Metric.TER:
        return _CachedTER()
    raise EvaluationError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class Score:
    metric: Metric
    score: float
    signature: str
    segments: int


def check_corpus(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    """Refuse inputs that sacrebleu would silently score as 0.0 or truncate."""
    if len(hypotheses) == 0:
        raise EvaluationError("no hypotheses to score: the translation set is empty")
    if len(hypotheses) != len(references):
        # sacrebleu zips the two and quietly drops the surplus.
        raise EvaluationError(
            f"{len(hypotheses)} hypotheses but {len(references)} references: every segment needs both"
        )
    for index, (hyp, ref) in enumerate(zip(hypotheses, references, strict=True)):
        if not isinstance(hyp, str):
            raise EvaluationError(f"hypothesis {index} is {type(hyp).__name__}, not text")
        if not isinstance(ref, str):
            raise EvaluationError(f"reference {index} is {type(ref).__name__}, not text")
        if not ref.strip():
            raise EvaluationError(f"reference {index} is empty: a score against it means nothing")
    if not any(hyp.strip() for hyp in hypotheses):
        raise EvaluationError(
            f"all {len(hypotheses)} hypotheses are empty: the translation step produced nothing"
        )


def corpus_score(metric: Metric, hypotheses: Sequence[str], references: Sequence[str]) -> Score:
    check_corpus(hypotheses, references)
    sacre = scorer(metric)
    try:
        result = sacre.corpus_score(list(hypotheses), [list(references)])
    except Exception as err:  # sacrebleu raises bare exceptions; keep the cause, add the metric
        raise EvaluationError(f"{metric.label} scoring failed: {type(err).__name__}: {err}") from err
    if not math.isfinite(result.score):
        raise EvaluationError(f"{metric.label} came out as {result.score}; refusing to record it")
    return Score(metric, float(result.score), str(sacre.get_signature()), len(hypotheses))


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> list[Score]:
    """BLEU, chrF++ and TER of one system over one reference set, in `Metric` order."""
    return [corpus_score(metric, hypotheses, references) for metric in Metric]
