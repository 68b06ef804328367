"""Scores per method overall, per language and per edition; the paired evaluation of an
execution; segment-level chrF++ and the worst segments."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import CHRF

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import evaluate
from mt_assets.evaluation.metrics import Metric, corpus_scores
from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.scopes import Scope, ScopeKey, scores_by_scope
from mt_assets.evaluation.segments import score_segments, segment_chrf, worst_segments

SENTENCES = [
    # dataset id, language, edition, reference, base output, fine-tuned output
    (1, "ar", "quran", "In the name of God, the Merciful.", "In name God merciful.", "In the name of God, the Merciful."),
    (2, "ar", "quran", "Praise be to God, Lord of the worlds.", "Praise God lord world.", "Praise be to God, Lord of the worlds."),
    (3, "ar", "hadith", "Actions are judged by intentions.", "Deeds by intention.", "Actions are judged by intention."),
    (4, "fa", "quran", "The Most Gracious, the Most Merciful.", "Gracious merciful.", "The Most Gracious, the Merciful."),
    (5, "fa", "hadith", "Seek knowledge from the cradle to the grave.", "Knowledge cradle grave.", "Seek knowledge from cradle to grave."),
    (6, "fa", "hadith", "The ink of the scholar is holier.", "Ink scholar holy.", "The ink of the scholar is holier."),
]
# Twice over, so the whole set is large enough for a significance test and each language
# and edition (6 segments) is not.
SEGMENTS = [(dataset_id + 100 * copy, *rest) for copy in range(2) for dataset_id, *rest in SENTENCES]


def _rows(methods: tuple[str, ...] = ("base", "tuned")) -> list[TranslationRow]:
    rows = []
    for dataset_id, language, edition, ref, base, tuned in SEGMENTS:
        outputs = {"base": base, "tuned": tuned}
        for offset, method in enumerate(methods):
            rows.append(
                TranslationRow(10 * dataset_id + offset, dataset_id, method, language, edition, outputs[method], ref)
            )
    return rows


def _score(results, method: str, key: ScopeKey, metric: Metric) -> float:
    [result] = [r for r in results if r.method == method and r.key == key]
    return {s.metric: s.score for s in result.scores}[metric]


def test_scopes_cover_all_languages_and_editions() -> None:
    results = scores_by_scope(_rows())
    keys = [(r.method, str(r.key)) for r in results]
    expected_keys = ["all", "language=ar", "language=fa", "edition=hadith", "edition=quran"]
    assert keys == [("base", k) for k in expected_keys] + [("tuned", k) for k in expected_keys]
    segments = {(r.method, str(r.key)): r.scores[0].segments for r in results}
    assert segments[("tuned", "all")] == 12
    assert segments[("tuned", "language=ar")] == 6
    assert segments[("tuned", "edition=hadith")] == 6


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        (ScopeKey(Scope.ALL, ""), lambda s: True),
        (ScopeKey(Scope.LANGUAGE, "fa"), lambda s: s[1] == "fa"),
        (ScopeKey(Scope.EDITION, "quran"), lambda s: s[2] == "quran"),
    ],
)
@pytest.mark.parametrize("metric", list(Metric))
def test_scope_scores_equal_scoring_that_subset_directly(key: ScopeKey, wanted, metric: Metric) -> None:
    subset = [s for s in SEGMENTS if wanted(s)]
    direct = {s.metric: s.score for s in corpus_scores([s[4] for s in subset], [s[3] for s in subset])}
    assert _score(scores_by_scope(_rows()), "base", key, metric) == pytest.approx(direct[metric])


def test_a_scope_whose_outputs_are_all_empty_raises_naming_it() -> None:
    rows = [r if r.language != "fa" else TranslationRow(**{**r.__dict__, "hypothesis": ""}) for r in _rows()]
    with pytest.raises(EvaluationError, match=r"method 'base', language=fa: all 6 hypotheses are empty"):
        scores_by_scope(rows)


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([], "no translations to evaluate"),
        (_rows() + _rows()[:1], "translation 10 appears twice"),
        (_rows() + [TranslationRow(99, 1, "base", "ar", "quran", "x", "y")], "two translations of dataset row 1"),
        ([TranslationRow(1, 1, "base", "ar", "quran", "x", " ")], "dataset row 1 (translation 1) has an empty reference"),
    ],
)
def test_bad_rows_raise(rows: list[TranslationRow], reason: str) -> None:
    with pytest.raises(EvaluationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        scores_by_scope(rows)


def test_evaluate_tests_each_method_against_the_baseline() -> None:
    scores = evaluate(_rows(), baseline="base", n=200)
    assert len(scores) == 2 * 5 * 3
    for score in scores:
        if score.method == "tuned" and score.key.scope is Scope.ALL:
            assert 0 < score.p_value <= 1
            assert {"bs:200", "seed:12345", "nrefs:1"} <= set(score.signature.split("|"))
        else:
            # The baseline itself, and scopes of 6 segments: too few to test.
            assert score.p_value is None
            assert "bs:" not in score.signature
    [overall] = [s for s in scores if s.method == "tuned" and s.key.scope is Scope.ALL and s.metric is Metric.CHRF]
    assert overall.score == pytest.approx(_score(scores_by_scope(_rows()), "tuned", overall.key, Metric.CHRF))


def test_evaluate_without_baseline_has_no_p_values() -> None:
    assert all(s.p_value is None for s in evaluate(_rows(), baseline=None))


def test_evaluate_refuses_methods_that_translated_different_segments() -> None:
    rows = [r for r in _rows() if not (r.method == "tuned" and r.dataset_id in (2, 5))]
    with pytest.raises(EvaluationError, match=r"method 'tuned' has no translation for 2 of 12 segments \(dataset rows 2, 5\)"):
        evaluate(rows, baseline="base")


def test_evaluate_refuses_an_unknown_baseline() -> None:
    with pytest.raises(EvaluationError, match="baseline method 'zero-shot' has no translations here"):
        evaluate(_rows(), baseline="zero-shot")


def test_evaluate_refuses_rows_that_disagree_on_a_segment() -> None:
    rows = [r if r.translation_id != 31 else TranslationRow(**{**r.__dict__, "language": "fa"}) for r in _rows()]
    with pytest.raises(EvaluationError, match=r"dataset row 3: translations 30 and 31 disagree on its language, edition or reference"):
        evaluate(rows, baseline="base")


def test_segment_chrf_equals_sacrebleu_sentence_scores() -> None:
    hyps, refs = [s[4] for s in SEGMENTS], [s[3] for s in SEGMENTS]
    direct = [CHRF(word_order=2).sentence_score(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
    assert segment_chrf(hyps, refs) == pytest.approx(direct)
    assert segment_chrf(refs, refs) == pytest.approx([100.0] * len(refs))


def test_worst_segments_lists_the_lowest_scores_first() -> None:
    segments = score_segments(_rows())
    assert len(segments) == 24
    assert all("nw:2" in s.signature for s in segments)
    worst = worst_segments(segments, k=3)
    assert [s.score for s in worst] == sorted(s.score for s in segments)[:3]
    assert {s.row.method for s in worst} == {"base"}
    tuned = worst_segments(segments, k=10, method="tuned")
    assert len(tuned) == 10
    assert {s.row.method for s in tuned} == {"tuned"}
    assert [s.score for s in tuned] == sorted(s.score for s in segments if s.row.method == "tuned")[:10]
    assert worst_segments(segments, k=0) == []


def test_segment_scoring_refuses_an_empty_set() -> None:
    with pytest.raises(EvaluationError, match="no translations to score"):
        score_segments([])
    with pytest.raises(EvaluationError, match="no hypotheses"):
        segment_chrf([], [])
