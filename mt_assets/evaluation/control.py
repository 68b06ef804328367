"""The style control: how much of a score is meaning and how much is style.

A system's outputs are scored against the references permuted by a derangement (a permutation
with no fixed point, so no output meets its own reference): what it still scores there comes
from matching the references' style (length, frequent words, punctuation), not their meaning.
`CONTROL_SEEDS` fixes 10 derangements; the control is the mean of the 10 corpus scores and its
sample sd. The meaning margin is the true score minus the control (control minus score for
TER, where lower is better): a constant output keeps its whole score under the control
(margin 0), the references themselves keep almost none of it.

All scores come from sacrebleu's per-segment sufficient statistics
(`_extract_corpus_statistics`, summed and turned into a score by `_compute_score_from_stats`,
as sacrebleu's own paired tests do), so the bootstrap of the meaning gain re-scores resamples
without re-tokenising anything.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric, check_corpus, scorer
from mt_assets.evaluation.significance import DEFAULT_RESAMPLES, DEFAULT_SEED, MIN_TEST_SEGMENTS

CONTROL_SEEDS = tuple(range(1, 11))


def derangement(n: int, seed: int) -> tuple[int, ...]:
    """A permutation of range(n) with no fixed point, the same for the same (n, seed):
    Sattolo's algorithm, which draws a single n-cycle uniformly. Output i is scored against
    reference result[i]."""
    if n < 2:
        raise EvaluationError(f"a derangement needs at least 2 segments, got {n}")
    order = list(range(n))
    rng = random.Random(seed)
    for i in range(n - 1, 0, -1):
        # j < i (not <= i, as in Fisher-Yates): every element moves, so none stays in place.
        j = rng.randrange(i)
        order[i], order[j] = order[j], order[i]
    return tuple(order)


def _statistics(metric: Metric, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    sacre = scorer(metric)
    try:
        stats = sacre._extract_corpus_statistics(list(hypotheses), [list(references)])
    except Exception as err:  # sacrebleu raises bare exceptions; keep the cause, add the metric
        raise EvaluationError(f"{metric.label} statistics failed: {type(err).__name__}: {err}") from err
    return np.asarray(stats, dtype=np.float64)


def score_from_statistics(metric: Metric, summed: np.ndarray) -> float:
    """The corpus score of summed per-segment statistics (sacrebleu's own formula)."""
    return float(scorer(metric)._compute_score_from_stats(list(summed)).score)


def _scores(metric: Metric, summed: np.ndarray) -> np.ndarray:
    """Scores of a stack of summed statistics (..., k) -> (...)."""
    sacre = scorer(metric)
    flat = summed.reshape(-1, summed.shape[-1])
    return np.array([sacre._compute_score_from_stats(list(row)).score for row in flat]).reshape(summed.shape[:-1])


@dataclass(frozen=True)
class SystemStatistics:
    """One system's per-segment statistics for one metric: against the true references
    (segments, k) and against each control derangement's (seeds, segments, k)."""

    metric: Metric
    true: np.ndarray
    deranged: np.ndarray


def system_statistics(
    metric: Metric, hypotheses: Sequence[str], references: Sequence[str], seeds: Sequence[int] = CONTROL_SEEDS
) -> SystemStatistics:
    check_corpus(hypotheses, references)
    if len(references) < MIN_TEST_SEGMENTS:
        raise EvaluationError(
            f"{len(references)} segments are too few for the style control (need {MIN_TEST_SEGMENTS})"
        )
    deranged = []
    for seed in seeds:
        order = derangement(len(references), seed)
        deranged.append(_statistics(metric, hypotheses, [references[j] for j in order]))
    return SystemStatistics(metric, _statistics(metric, hypotheses, references), np.stack(deranged))


def margin(metric: Metric, score: float, control: float) -> float:
    """Score minus control, or control minus score where lower is better (TER)."""
    return score - control if metric.higher_is_better else control - score


@dataclass(frozen=True)
class Control:
    metric: Metric
    score: float  # against the true references
    control_score: float  # mean over the seeds against deranged references
    control_sd: float  # sample sd over the seeds
    seeds: int

    @property
    def meaning_margin(self) -> float:
        return margin(self.metric, self.score, self.control_score)


def control(stats: SystemStatistics) -> Control:
    deranged = [score_from_statistics(stats.metric, s.sum(0)) for s in stats.deranged]
    return Control(
        metric=stats.metric,
        score=score_from_statistics(stats.metric, stats.true.sum(0)),
        control_score=statistics.fmean(deranged),
        control_sd=statistics.stdev(deranged),
        seeds=len(deranged),
    )


@dataclass(frozen=True)
class MeaningGain:
    metric: Metric
    gain: float  # margin of the system minus margin of the base
    p_value: float
    resamples: int
    seed: int


def _margins(stats: SystemStatistics, weights: np.ndarray) -> np.ndarray:
    # weights (resamples, segments): how often each segment is drawn; weights @ stats sums a
    # resample's statistics for every resample at once.
    true = _scores(stats.metric, weights @ stats.true)
    deranged = _scores(stats.metric, np.einsum("rn,snk->rsk", weights, stats.deranged)).mean(axis=1)
    return margin(stats.metric, true, deranged)


def meaning_gain(
    system: SystemStatistics, base: SystemStatistics, n: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> MeaningGain:
    """The system's meaning margin minus the base's, with a paired-bootstrap p-value.

    Each of `n` resamples draws segment indices with replacement (the same indices for both
    systems, as numpy's default_rng(seed) does in sacrebleu), and recomputes both systems' true
    corpus score and their control (the mean over the seeds of the deranged corpus scores of
    the resampled segments), giving a sample gain g*_b. The p-value is sacrebleu's paired
    bootstrap estimator (`_paired_bs_test`, after Koehn 2004) applied to that statistic: with
    the observed gain g, p = (#{b : |g*_b| - mean_b |g*_b| > |g|} + 1) / (n + 1). That is, the
    absolute resampled gains, shifted to mean zero, stand in for the null distribution of |g|;
    p estimates how often that null exceeds the observed |g|. It is not a signed test (a loss
    and a gain of the same size get the same p) and not a textbook two-sided bootstrap p-value
    (it centres |g*| rather than g*). No observed gain gets p = 1, as in `significance.py`.
    """
    if system.metric is not base.metric:
        raise EvaluationError(f"cannot compare {system.metric.label} with {base.metric.label}")
    if system.true.shape[0] != base.true.shape[0] or system.deranged.shape[0] != base.deranged.shape[0]:
        raise EvaluationError("the two systems were not scored on the same segments and seeds")
    if n < 1:
        raise EvaluationError(f"the bootstrap needs at least one resample, got n={n}")
    segments = system.true.shape[0]
    observed = control(system).meaning_margin - control(base).meaning_margin
    idxs = np.random.default_rng(seed).choice(segments, size=(n, segments), replace=True)
    weights = np.zeros((n, segments))
    np.add.at(weights, (np.arange(n)[:, None], idxs), 1.0)
    sample = _margins(system, weights) - _margins(base, weights)
    absolute = np.abs(sample)
    count = int(np.sum(absolute - absolute.mean() > abs(observed)))
    p_value = 1.0 if observed == 0 else (count + 1) / (n + 1)
    return MeaningGain(system.metric, float(observed), float(p_value), n, seed)
