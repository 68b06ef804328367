"""Paired bootstrap resampling through sacrebleu: sensible p-values, reproducible, honest
about identical systems, and direction-aware for TER."""

from __future__ import annotations

import os
import random

import pytest
from sacrebleu.significance import PairedTest

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.metrics import Metric, scorer
from mt_assets.evaluation.significance import human_agreement, paired_significance, paired_significances

WORDS = "the a cat dog sat ran on under mat house big small red old man woman".split()


def _corpus(size: int = 40, seed: int = 3) -> tuple[list[str], list[str], list[str]]:
    """References, a system with about 70% of words right, and a copy of it that fixes two words."""
    rng = random.Random(seed)
    refs = [" ".join(rng.choice(WORDS) for _ in range(8)) + "." for _ in range(size)]
    system = [" ".join(w if rng.random() < 0.7 else rng.choice(WORDS) for w in r.split()) for r in refs]
    nudged = list(system)
    for index in (5, 17):
        words, ref_words = nudged[index].split(), refs[index].split()
        wrong = next(i for i, (w, r) in enumerate(zip(words, ref_words, strict=False)) if w != r)
        words[wrong] = ref_words[wrong]
        nudged[index] = " ".join(words)
    return refs, system, nudged


REFS, SYSTEM_A, SYSTEM_B = _corpus()
GARBAGE = ["zzz qqq xxx."] * len(REFS)


@pytest.mark.parametrize("metric", list(Metric))
def test_identical_systems_are_not_significantly_different(metric: Metric) -> None:
    result = paired_significance(SYSTEM_A, SYSTEM_A, REFS, metric, n=200)
    assert result.system_score == result.baseline_score
    assert result.p_value == 1.0
    assert not result.significant()


def test_sacrebleu_alone_calls_identical_systems_significant() -> None:
    # Why paired_significances overrides p for a zero difference: sacrebleu's raw estimate.
    _, results = PairedTest(
        [("a", SYSTEM_A), ("b", SYSTEM_A)], {"chrf": scorer(Metric.CHRF)}, [REFS], test_type="bs", n_samples=200
    )()
    assert results["chrF2++"][1].p_value == pytest.approx(1 / 201)


def test_sacrebleu_alone_calls_one_segment_significant() -> None:
    # Why paired_significances wants MIN_TEST_SEGMENTS: one slightly better segment, "p = 0.005".
    _, results = PairedTest(
        [("a", SYSTEM_A[5:6]), ("b", SYSTEM_B[5:6])], {"chrf": scorer(Metric.CHRF)}, [REFS[5:6]],
        test_type="bs", n_samples=200,
    )()
    assert results["chrF2++"][1].score != results["chrF2++"][0].score
    assert results["chrF2++"][1].p_value == pytest.approx(1 / 201)


@pytest.mark.parametrize("metric", list(Metric))
def test_perfect_system_beats_garbage(metric: Metric) -> None:
    result = paired_significance(GARBAGE, REFS, REFS, metric)
    assert result.p_value < 0.05
    assert result.significant()
    assert not result.worse_than_baseline()
    reverse = paired_significance(REFS, GARBAGE, REFS, metric)
    # TER is an error rate, so "worse" means higher there; the check must know.
    assert reverse.worse_than_baseline()


def test_similar_systems_are_not_significant() -> None:
    result = paired_significance(SYSTEM_A, SYSTEM_B, REFS, Metric.CHRF)
    assert result.system_score != result.baseline_score
    assert result.p_value > 0.05


def test_result_carries_scores_interval_and_signature() -> None:
    tests = paired_significances(SYSTEM_A, SYSTEM_B, REFS, n=150, seed=7)
    assert list(tests) == list(Metric)
    for metric, test in tests.items():
        assert test.metric is metric
        assert test.segments == len(REFS)
        assert abs(test.system_mean - test.system_score) < 3 * test.system_ci + 1
        assert test.system_ci > 0
        parts = test.signature.split("|")
        assert {"nrefs:1", "bs:150", "seed:7"} <= set(parts)


def test_seeded_and_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    first = paired_significance(SYSTEM_A, SYSTEM_B, REFS, Metric.BLEU, n=100, seed=99)
    again = paired_significance(SYSTEM_A, SYSTEM_B, REFS, Metric.BLEU, n=100, seed=99)
    other = paired_significance(SYSTEM_A, SYSTEM_B, REFS, Metric.BLEU, n=100, seed=100)
    assert first == again
    assert (first.p_value, first.system_mean) != (other.p_value, other.system_mean)
    assert "SACREBLEU_SEED" not in os.environ


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"n": 0}, "at least one resample"),
        ({"seed": 0}, "seed must be a positive integer"),
        ({"system_hyps": SYSTEM_A[:-1]}, "system: 39 hypotheses but 40 references"),
        ({"baseline_hyps": [""] * len(REFS)}, "baseline: all 40 hypotheses are empty"),
        (
            {"baseline_hyps": SYSTEM_A[:9], "system_hyps": SYSTEM_B[:9], "references": REFS[:9]},
            "9 segments are too few for a significance test",
        ),
    ],
)
def test_bad_inputs_raise(kwargs: dict, reason: str) -> None:
    args = {"baseline_hyps": SYSTEM_A, "system_hyps": SYSTEM_B, "references": REFS, "metric": Metric.CHRF}
    with pytest.raises(EvaluationError, match=reason):
        paired_significance(**{**args, **kwargs})


@pytest.mark.parametrize(
    ("metric", "delta", "expected"),
    [
        (Metric.CHRF, 3.05, "90%"),
        (Metric.CHRF, -3.2, "90%"),
        (Metric.CHRF, 3.04, "80%"),
        (Metric.CHRF, 1.63, "80%"),
        (Metric.CHRF, 1.62, "<80%"),
        ("chrf", 2.0, "80%"),
        (Metric.BLEU, 2.34, "80%"),
        (Metric.BLEU, -2.33, "<80%"),
        (Metric.BLEU, 10.0, "80%"),
        (Metric.TER, 50.0, None),
    ],
)
def test_human_agreement_follows_kocmi_2024(metric: Metric | str, delta: float, expected: str | None) -> None:
    assert human_agreement(metric, delta) == expected


def test_randomization_is_offered_and_signed_as_ar() -> None:
    result = paired_significance(GARBAGE, REFS, REFS, Metric.CHRF, n=200, test="randomization")
    assert result.p_value < 0.05 and "ar:200" in result.signature
    same = paired_significance(SYSTEM_A, SYSTEM_A, REFS, Metric.CHRF, n=200, test="randomization")
    assert same.p_value == 1.0
    with pytest.raises(EvaluationError, match="unknown significance test 'coin'"):
        paired_significance(SYSTEM_A, SYSTEM_B, REFS, Metric.CHRF, test="coin")  # type: ignore[arg-type]
