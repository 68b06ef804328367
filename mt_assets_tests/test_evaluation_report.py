"""The release gate (fine-tuned not significantly worse than base) and the evaluation
step's markdown."""

from __future__ import annotations

import random

import pytest

from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.evaluate import evaluate
from mt_assets.evaluation.gate import not_worse_than_baseline
from mt_assets.evaluation.report import (
    control_markdown,
    differences_markdown,
    scores_markdown,
    segments_markdown,
)
from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.segments import most_different, score_segments, worst_segments

WORDS = "the a cat dog sat ran on under mat house big small red old man woman".split()


def _rows(tuned_quality: float) -> list[TranslationRow]:
    """30 segments; base gets ~70% of words right, 'tuned' gets `tuned_quality`."""
    rng = random.Random(11)
    rows = []
    for i in range(30):
        ref = " ".join(rng.choice(WORDS) for _ in range(9)) + "."
        for offset, (method, quality) in enumerate((("base", 0.7), ("tuned", tuned_quality))):
            hyp = " ".join(w if rng.random() < quality else rng.choice(WORDS) for w in ref.split())
            rows.append(TranslationRow(2 * i + offset, i, method, "ar" if i % 2 else "fa", "quran", hyp, ref))
    return rows


def test_gate_passes_a_better_fine_tuned_method() -> None:
    result = not_worse_than_baseline(evaluate(_rows(0.95), "base", n=300), "tuned", "base")
    assert result.passed
    assert not result.worse
    assert result.method_score > result.baseline_score
    assert result.meaning_gain > 0
    assert "not significantly less meaning" in result.description


def test_gate_fails_a_planted_worse_fine_tuned_method() -> None:
    result = not_worse_than_baseline(evaluate(_rows(0.1), "base", n=300), "tuned", "base")
    assert result.worse
    assert result.p_value < 0.05
    assert not result.passed
    assert result.meaning_gain < 0 and result.meaning_gain_p < 0.05
    assert result.description.startswith("tuned carries significantly less meaning than base: meaning gain -")
    assert f"raw chrF++ {result.method_score:.2f} vs {result.baseline_score:.2f}" in result.description


def test_gate_fails_a_style_copy_that_wins_raw_chrf() -> None:
    rows = _rows(0.2)
    refs = {r.dataset_id: r.reference for r in rows}
    # 'tuned' outputs the reference of the next row: the style, none of the meaning
    rows = [r if r.method == "base" else TranslationRow(r.translation_id, r.dataset_id, r.method, r.language,
            r.edition, refs[(r.dataset_id + 1) % len(refs)], r.reference) for r in rows]
    rows = [r if r.method == "tuned" else TranslationRow(r.translation_id, r.dataset_id, r.method, r.language,
            r.edition, r.reference.split()[0], r.reference) for r in rows]
    result = not_worse_than_baseline(evaluate(rows, "base", n=300), "tuned", "base")
    assert result.method_score > result.baseline_score  # raw chrF++ would let it through
    assert not result.passed


def test_gate_tolerates_a_worse_score_that_is_not_significant() -> None:
    result = not_worse_than_baseline(evaluate(_rows(0.6), "base", n=300), "tuned", "base")
    assert result.worse
    assert result.p_value > 0.05
    assert result.passed
    strict = not_worse_than_baseline(evaluate(_rows(0.6), "base", n=300), "tuned", "base", alpha=0.5)
    assert not strict.passed


@pytest.mark.parametrize(
    ("method", "baseline", "reason"),
    [
        ("ghost", "base", "no overall chrF\\+\\+ score for method 'ghost'"),
        ("base", "tuned", "'tuned' was not the baseline"),
    ],
)
def test_gate_refuses_what_it_cannot_judge(method: str, baseline: str, reason: str) -> None:
    with pytest.raises(EvaluationError, match=reason):
        not_worse_than_baseline(evaluate(_rows(0.9), "base", n=100), method, baseline)


def test_scores_markdown_lists_every_method_and_scope() -> None:
    scores = evaluate(_rows(0.9), "base", n=100)
    table = scores_markdown(scores)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 2 * 4  # methods x (all, 2 languages, 1 edition)
    for s in scores:
        assert f"{s.score:.2f}" in table
        if s.p_value is not None:
            assert f"{s.p_value:.4f}" in table
    assert any(line.startswith("| tuned | language=fa |") for line in lines)


def test_segments_markdown_shows_the_worst_with_escaped_text() -> None:
    rows = _rows(0.9)
    rows[0] = TranslationRow(0, 0, "base", "fa", "quran", "a | b " + "x" * 300, rows[0].reference)
    worst = worst_segments(score_segments(rows), k=3)
    table = segments_markdown(worst)
    assert len(table.strip().splitlines()) == 2 + 3
    assert "a \\| b" in table
    assert "x" * 300 not in table and "…" in table
    for s in worst:
        assert f"| {s.row.translation_id} |" in table and f"{s.score:.2f}" in table


def test_control_and_differences_markdown() -> None:
    rows = _rows(0.9)
    scores = evaluate(rows, "base", n=100)
    table = control_markdown(scores)
    assert len(table.strip().splitlines()) == 2 + 2 * 3  # methods x metrics, scope 'all' only
    tuned = next(s for s in scores if s.method == "tuned" and s.key.scope.value == "all" and s.metric.value == "chrf++")
    assert f"{tuned.control_score:.2f} ± {tuned.control_sd:.2f}" in table
    assert f"({tuned.meaning_gain_p:.4f})" in table
    pairs = most_different(score_segments(rows), "tuned", "base", k=4)
    gaps = [abs(a.score - b.score) for a, b in pairs]
    assert len(pairs) == 4 and gaps == sorted(gaps, reverse=True)
    assert all(a.row.dataset_id == b.row.dataset_id for a, b in pairs)
    diff = differences_markdown(pairs)
    assert f"| {pairs[0][0].row.dataset_id} |" in diff and f"{pairs[0][0].score:.2f}" in diff
