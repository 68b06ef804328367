"""Corpus metrics: values agree with sacrebleu called directly and with a hand computation,
BLEU is word-level, signatures are complete, failures raise instead of scoring 0.0."""

from __future__ import annotations

import random
import re

import psycopg
import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, TER

from mt_assets.db import urls
from mt_assets.evaluation import comet
from mt_assets.evaluation.errors import EvaluationError
from mt_assets.evaluation.meteor import METEOR
from mt_assets.evaluation.metrics import Metric, corpus_score, corpus_scores, scorer
from mt_assets.evaluation.scopes import Scope

HYPS = ["The cat sat on the mat.", "a b c d"]
REFS = ["The cat is on the mat.", "a b c e"]

DOCS_HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
DOCS_REFS = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]


def test_bleu_matches_a_hand_count_of_word_ngrams() -> None:
    # 13a tokens: "The cat sat on the mat ." (7) and "a b c d" (4).
    # Matching 1..4-grams: 9/11, 6/9, 3/7, 1/5; same length, so no brevity penalty.
    expected = 100 * (9 / 11 * 6 / 9 * 3 / 7 * 1 / 5) ** 0.25
    assert corpus_score(Metric.BLEU, HYPS, REFS).score == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("metric", "direct"),
    [
        (Metric.BLEU, lambda h, r: sacrebleu.corpus_bleu(h, [r])),
        (Metric.CHRF, lambda h, r: sacrebleu.corpus_chrf(h, [r], word_order=2)),
        (Metric.TER, lambda h, r: sacrebleu.corpus_ter(h, [r])),
    ],
)
@pytest.mark.parametrize(("hyps", "refs"), [(HYPS, REFS), (DOCS_HYPS, DOCS_REFS)])
def test_scores_equal_sacrebleu_called_directly(metric, direct, hyps, refs) -> None:
    ours = {s.metric: s for s in corpus_scores(hyps, refs)}[metric]
    assert ours.score == pytest.approx(direct(hyps, refs).score, abs=1e-9)
    assert ours.segments == len(hyps)


def test_memoised_ter_equals_sacrebleu_ter_segment_by_segment() -> None:
    rng = random.Random(5)
    words = "The cat dog sat ran on under mat house big red, old man.".split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 25))) for _ in range(60)]
    # Shuffled chunks and substitutions make TER search for shifts; repeats hit the memo.
    hyps = [" ".join(sorted(r.split(), key=lambda _: rng.random())[: rng.randint(1, 25)]) for r in refs]
    hyps += hyps[:10]
    refs += refs[:10]
    ter = scorer(Metric.TER)
    assert type(ter) is not TER
    for hyp, ref in zip(hyps, refs, strict=True):
        assert ter.sentence_score(hyp, [ref]).score == TER().sentence_score(hyp, [ref]).score
    plain = TER()
    expected = plain.corpus_score(hyps, [refs])
    ours = corpus_score(Metric.TER, hyps, refs)
    assert (ours.score, ours.signature) == (expected.score, str(plain.get_signature()))


def test_bleu_is_word_level_never_characters() -> None:
    ours = corpus_score(Metric.BLEU, HYPS, REFS)
    by_chars = BLEU(tokenize="char").corpus_score(HYPS, [REFS]).score
    # Character n-grams forgive a wrong word ("sat" vs "is" still share letters): higher BLEU.
    assert by_chars > ours.score + 10
    assert "tok:13a" in ours.signature
    assert "tok:char" not in ours.signature


@pytest.mark.parametrize(
    ("metric", "parts"),
    [
        (Metric.BLEU, ["nrefs:1", "tok:13a", "smooth:exp", "case:mixed"]),
        (Metric.CHRF, ["nrefs:1", "nc:6", "nw:2"]),
        (Metric.TER, ["nrefs:1", "tok:tercom"]),
    ],
)
def test_signatures_are_complete(metric: Metric, parts: list[str]) -> None:
    signature = corpus_score(metric, HYPS, REFS).signature
    for part in [*parts, f"version:{sacrebleu.__version__}"]:
        assert part in signature.split("|")


@pytest.mark.parametrize(
    ("hyps", "refs", "reason"),
    [
        ([], [], "no hypotheses"),
        (["a b"], ["a b", "c d"], "1 hypotheses but 2 references"),
        (["a b", "c d"], ["a b"], "2 hypotheses but 1 references"),
        (["", "  "], ["a b", "c d"], "all 2 hypotheses are empty"),
        (["a b", None], ["a b", "c d"], "hypothesis 1 is NoneType"),
        (["a b", "c d"], ["a b", " "], "reference 1 is empty"),
    ],
)
@pytest.mark.parametrize("metric", list(Metric))
def test_failures_raise_instead_of_scoring_zero(hyps, refs, reason: str, metric: Metric) -> None:
    with pytest.raises(EvaluationError, match=re.escape(reason)):
        corpus_score(metric, hyps, refs)


def test_a_bad_but_real_translation_may_score_zero() -> None:
    scores = {s.metric: s.score for s in corpus_scores(["zzz qqq"], ["The cat sat."])}
    assert scores[Metric.BLEU] == 0.0
    assert scores[Metric.TER] == 100.0


def test_one_empty_hypothesis_is_scored_not_refused() -> None:
    with_empty = corpus_score(Metric.CHRF, ["The cat sat on the mat.", ""], ["The cat sat on the mat.", "a b"])
    assert 0 < with_empty.score < 100


def _check_values(conn: psycopg.Connection, name: str) -> set[str]:
    definition = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = %s", (name,)
    ).fetchone()
    assert definition is not None, f"constraint {name} not found"
    return set(re.findall(r"'([^']*)'::text", definition[0]))


def test_enums_match_the_database_constraints(db_url: str) -> None:
    with psycopg.connect(urls.libpq(db_url)) as conn:
        # the sacrebleu metrics every evaluation computes, plus the optional neural one and METEOR
        assert _check_values(conn, "evaluation_metric_check") == {m.value for m in Metric} | {comet.METRIC, METEOR}
        assert _check_values(conn, "evaluation_scope_check") == {s.value for s in Scope}
