"""Paired bootstrap resampling of a system against a baseline, with sacrebleu's own test
(`sacrebleu.significance.PairedTest`, test_type "bs": Koehn 2004, as Moses'
bootstrap-hypothesis-difference-significance.pl)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sacrebleu.significance import PairedTest

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric, check_corpus, scorer

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345
# Below this the bootstrap has too few distinct resamples to estimate spread: with one
# segment every resample equals the sample and sacrebleu reports p = 1/(n+1) for any
# difference, and with 3 or 4 segments that all moved the same way it still reports p = 0.001.
MIN_TEST_SEGMENTS = 10
# The significance level of the gate, the style-only flag and `Significance.significant`.
DEFAULT_ALPHA = 0.05

Test = Literal["bootstrap", "randomization"]
# sacrebleu's names: paired bootstrap resampling, approximate randomization.
_TEST_TYPES = {"bootstrap": "bs", "randomization": "ar"}

_SEED_VARIABLE = "SACREBLEU_SEED"
_SEED_LOCK = threading.Lock()


@dataclass(frozen=True)
class Significance:
    metric: Metric
    baseline_score: float
    system_score: float
    # Not a two-sided probability. For the bootstrap: the share of resamples whose absolute
    # difference, less the resamples' mean absolute difference, exceeds the observed absolute
    # difference, (count + 1) / (n + 1) (see `paired_significances`). For randomization: the
    # share of random swaps of the two systems' segments giving an absolute difference above
    # the observed one, (count + 1) / (n + 1).
    p_value: float
    system_mean: float  # mean of the system's bootstrap resamples
    system_ci: float  # half-width of their 95% interval
    signature: str  # the metric's signature plus bs:N and seed:S
    segments: int

    def significant(self, alpha: float = DEFAULT_ALPHA) -> bool:
        return self.p_value < alpha

    def worse_than_baseline(self, alpha: float = DEFAULT_ALPHA) -> bool:
        if self.metric.higher_is_better:
            worse = self.system_score < self.baseline_score
        else:
            worse = self.system_score > self.baseline_score
        return worse and self.significant(alpha)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    # PairedTest takes its seed only from this variable (read in __init__ and again for the
    # baseline's confidence interval), and the signature it returns reports that value.
    with _SEED_LOCK:
        previous = os.environ.get(_SEED_VARIABLE)
        os.environ[_SEED_VARIABLE] = str(seed)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(_SEED_VARIABLE, None)
            else:
                os.environ[_SEED_VARIABLE] = previous


def paired_significances(
    baseline_hyps: Sequence[str],
    system_hyps: Sequence[str],
    references: Sequence[str],
    metrics: Sequence[Metric] = tuple(Metric),
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: Test = "bootstrap",
) -> dict[Metric, Significance]:
    """Segment i of both systems translates the same source and has references[i].

    `test` "bootstrap" is sacrebleu's paired bootstrap (test_type "bs"): with the observed
    difference d and n resampled differences d*_b on the same resampled segment indices for
    both systems, p = (#{b : |d*_b| - mean |d*| > |d|} + 1) / (n + 1), the share of the
    absolute resampled differences, shifted to mean zero as a stand-in for the null, that
    exceed |d|. It is neither signed (a loss and a gain of one size get one p) nor the
    textbook two-sided bootstrap p-value. "randomization" is sacrebleu's approximate
    randomization (test_type "ar", Riezler and Maxwell 2005): in each of n trials every
    segment's two outputs are swapped with probability 1/2, and p = (#{trials with
    |score difference| > |d|} + 1) / (n + 1), a two-sided permutation p-value. The signature
    says which (bs:N or ar:N)."""
    if test not in _TEST_TYPES:
        raise EvaluationError(f"unknown significance test {test!r}: use one of {', '.join(_TEST_TYPES)}")
    if n < 1:
        raise EvaluationError(f"the bootstrap needs at least one resample, got n={n}")
    if seed < 1:
        # sacrebleu treats a seed of 0 as "unseeded", which would make p-values unreproducible.
        raise EvaluationError(f"seed must be a positive integer, got {seed}")
    if not metrics:
        raise EvaluationError("no metrics to test")
    if len(references) < MIN_TEST_SEGMENTS:
        raise EvaluationError(
            f"{len(references)} segments are too few for a significance test (need {MIN_TEST_SEGMENTS})"
        )
    try:
        check_corpus(baseline_hyps, references)
    except EvaluationError as err:
        raise EvaluationError(f"baseline: {err}") from None
    try:
        check_corpus(system_hyps, references)
    except EvaluationError as err:
        raise EvaluationError(f"system: {err}") from None

    scorers = {metric: scorer(metric) for metric in metrics}
    metric_of = {id(obj): metric for metric, obj in scorers.items()}
    systems = [("baseline", list(baseline_hyps)), ("system", list(system_hyps))]
    with _seeded(seed):
        test = PairedTest(
            systems,
            {metric.value: obj for metric, obj in scorers.items()},
            [list(references)],
            test_type=_TEST_TYPES[test],
            n_samples=n,
            # the confidence interval of the system's score, by bootstrap, for either test
            n_ar_confidence=n if test == "randomization" else -1,
            n_jobs=1,
        )
        signatures, results = test()

    found: dict[Metric, Significance] = {}
    for name, obj in test.metrics.items():
        metric = metric_of[id(obj)]
        baseline, system = results[name]
        p_value = system.p_value
        if system.score == baseline.score:
            # No observed difference cannot be significant. sacrebleu's estimator counts
            # resampled differences strictly above the observed one, so identical systems
            # would otherwise get its smallest p-value, 1/(n+1).
            p_value = 1.0
        found[metric] = Significance(
            metric=metric,
            baseline_score=float(baseline.score),
            system_score=float(system.score),
            p_value=float(p_value),
            system_mean=float(system.mean),
            system_ci=float(system.ci),
            signature=str(signatures[name]),
            segments=len(references),
        )
    return {metric: found[metric] for metric in metrics}


def paired_significance(
    baseline_hyps: Sequence[str],
    system_hyps: Sequence[str],
    references: Sequence[str],
    metric: Metric,
    n: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: Test = "bootstrap",
) -> Significance:
    return paired_significances(baseline_hyps, system_hyps, references, (metric,), n, seed, test)[metric]


# Kocmi et al. 2024, "Navigating the Metrics Maze: Reconciling Score Magnitudes and Accuracies"
# (ACL), table of the metric delta at which a system-level difference agrees with human
# pairwise rankings with a given accuracy. chrF (and chrF++, which they treat alike here):
# 1.63 points -> 80%, 3.05 -> 90%; BLEU: 2.34 -> 80%. Largest threshold first.
_HUMAN_AGREEMENT: dict[Metric, tuple[tuple[float, str], ...]] = {
    Metric.CHRF: ((3.05, "90%"), (1.63, "80%")),
    Metric.BLEU: ((2.34, "80%"),),
}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of m p-values, in their given order: sorted ascending,
    p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j))."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def human_agreement(metric: Metric | str, delta: float) -> str | None:
    """How often humans would agree with a score difference of `delta` (either sign):
    "90%", "80%" or "<80%" for chrF/chrF++ and BLEU; None for a metric the paper gives no
    threshold for (TER). `metric` is a `Metric` or its value ("chrf++", "bleu", "ter";
    "chrf" is read as chrF++)."""
    if isinstance(metric, str) and not isinstance(metric, Metric):
        metric = Metric.CHRF if metric.lower() == "chrf" else Metric(metric.lower())
    thresholds = _HUMAN_AGREEMENT.get(metric)
    if thresholds is None:
        return None
    for threshold, agreement in thresholds:
        if abs(delta) >= threshold:
            return agreement
    return "<80%"
