"""The style control, the meaning gain and the flags: a derangement moves every segment, a
style-only system is caught, the references keep a large margin, a constant keeps none."""

from __future__ import annotations

import random

import pytest

from mt_assets.evaluation.control import derangement
from mt_assets.evaluation.evaluate import evaluate
from mt_assets.evaluation.flags import LENGTH_RATIO, SOURCE_SCRIPT, STYLE_ONLY, output_flags, style_only
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.scopes import Scope
from mt_assets.evaluation.significance import holm

WORDS = "the a cat dog sat ran on under mat house big small red old man woman lord earth said unto".split()
_rng = random.Random(7)
REFS = [" ".join(_rng.choice(WORDS) for _ in range(_rng.randint(6, 14))) + "." for _ in range(60)]


def _rows(outputs: dict[str, list[str]], language: str = "ar") -> list[TranslationRow]:
    rows, tid = [], 0
    for method, hyps in outputs.items():
        for i, (hyp, ref) in enumerate(zip(hyps, REFS, strict=True)):
            tid += 1
            rows.append(TranslationRow(tid, i, method, language, "ed", hyp, ref))
    return rows


@pytest.mark.parametrize("n", [2, 3, 10, 97])
@pytest.mark.parametrize("seed", [1, 2, 10])
def test_a_derangement_moves_every_segment_and_is_reproducible(n: int, seed: int) -> None:
    order = derangement(n, seed)
    assert sorted(order) == list(range(n))
    assert all(order[i] != i for i in range(n))
    assert derangement(n, seed) == order


def _overall(scores, method: str, metric: Metric = Metric.CHRF):
    [row] = [s for s in scores if s.method == method and s.key.scope is Scope.ALL and s.metric is metric]
    return row


def test_style_only_is_flagged_and_the_references_keep_a_large_margin() -> None:
    outputs = {
        "base": ["zz qq the."] * len(REFS),
        # each output is the reference of another row: the references' style, none of their meaning
        "style": [REFS[(i + 1) % len(REFS)] for i in range(len(REFS))],
        "references": list(REFS),
        "constant": [REFS[0]] * len(REFS),
    }
    scores = evaluate(_rows(outputs), "base", n=300)
    style, true, constant = (_overall(scores, m) for m in ("style", "references", "constant"))
    assert style.score > _overall(scores, "base").score and style.p_value < 0.05
    assert style.meaning_gain_p >= 0.05
    assert STYLE_ONLY in style.flags
    assert true.meaning_margin >= 30 and true.meaning_gain_p < 0.05
    assert STYLE_ONLY not in true.flags
    assert constant.meaning_margin == pytest.approx(0, abs=1e-9)
    assert constant.control_sd == pytest.approx(0, abs=1e-9) and constant.control_seeds == 10
    # a constant that beats the base on chrF++ with less meaning is style-only too
    assert constant.score > _overall(scores, "base").score and constant.p_value < 0.05
    assert STYLE_ONLY in constant.flags
    # BLEU gets the control and a meaning gain without p; TER no control (too slow); every
    # metric row of scope 'all' carries the flags
    bleu = _overall(scores, "references", Metric.BLEU)
    assert bleu.meaning_margin > 30 and bleu.meaning_gain is not None and bleu.meaning_gain_p is None
    ter = _overall(scores, "references", Metric.TER)
    assert ter.control_score is None and ter.meaning_margin is None and ter.flags == true.flags
    assert _overall(scores, "style", Metric.BLEU).flags == style.flags
    assert all(s.control_score is None and s.flags == () for s in scores if s.key.scope is not Scope.ALL)
    assert true.p_value_holm is not None and _overall(scores, "base").p_value_holm is None


@pytest.mark.parametrize(
    ("gain", "p_value", "meaning_gain", "meaning_gain_p", "flagged"),
    [
        (3.0, 0.01, 0.5, 0.40, True),  # more chrF++, no significant meaning gain
        (5.13, 0.001, -4.06, 0.001, True),  # the demo's constant floor: more chrF++, significantly less meaning
        (3.36, 0.001, 3.49, 0.001, False),  # the demo's fine-tuned model: significantly more meaning too
        (3.0, 0.20, -1.0, 0.01, False),  # a chrF++ gain that is not significant claims nothing
        (-2.0, 0.01, -1.0, 0.30, False),  # worse on chrF++ is not a style gain
        (3.0, 0.01, None, None, False),  # no control: not decided
    ],
)
def test_style_only_rule(gain, p_value, meaning_gain, meaning_gain_p, flagged) -> None:
    assert style_only(gain, p_value, meaning_gain, meaning_gain_p) is flagged


def test_too_few_segments_get_no_control() -> None:
    rows = [r for r in _rows({"base": ["zz."] * len(REFS), "other": list(REFS)}) if r.dataset_id < 9]
    scores = evaluate(rows, "base", n=50)
    assert all(s.control_score is None and s.meaning_margin is None for s in scores)


def test_holm_matches_a_hand_computed_example() -> None:
    # sorted 0.01, 0.02, 0.04, 0.30 -> 4*0.01, 3*0.02, max(0.06, 2*0.04), max(0.08, 1*0.30)
    assert holm([0.04, 0.01, 0.30, 0.02]) == pytest.approx([0.08, 0.04, 0.30, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


@pytest.mark.parametrize(
    ("outputs", "language", "expected"),
    [
        (list(REFS), "ar", []),
        ([r if i % 10 else "قال " + r for i, r in enumerate(REFS)], "ar", [SOURCE_SCRIPT]),  # 10% Arabic
        ([r if i else "قال " + r for i, r in enumerate(REFS)], "fa", []),  # 1 of 60: under 5%
        (["قال " + r for r in REFS], "de", []),  # no script listed for the source language
        ([r[: len(r) // 2] for r in REFS], "ar", [LENGTH_RATIO]),
        ([r + " " + r for r in REFS], "ar", [LENGTH_RATIO]),
    ],
)
def test_source_script_and_length_ratio_flags(outputs: list[str], language: str, expected: list[str]) -> None:
    assert output_flags(_rows({"m": outputs}, language)) == expected
