"""The floors as pure functions (translation/baselines.py): the translation memory returns the
reference of the closest train source of the same language, the constant is the train reference
that corpus chrF++ puts first against all train references (checked by brute force)."""

import pytest

from mt_assets.evaluation.metrics import Metric, corpus_score
from mt_assets.translation.baselines import Constant, TrainPair, constant, translation_memory

TRAIN = [
    TrainPair(1, "ar", "بسم الله الرحمن الرحيم", "In the name of God"),
    TrainPair(2, "ar", "الحمد لله رب العالمين", "Praise be to God, Lord of the worlds"),
    TrainPair(3, "fa", "الحمد لله رب العالمين", "Persian row: must not match an Arabic source"),
]


@pytest.mark.parametrize(
    ("source", "language", "expected_id"),
    [
        ("بسم الله الرحمن", "ar", 1),
        ("الحمد لله رب", "ar", 2),
        ("الحمد لله رب", "fa", 3),  # same text, other language: only the Persian train row counts
    ],
)
def test_translation_memory_returns_the_closest_train_source_of_the_same_language(source, language, expected_id):
    (match,) = translation_memory([(language, source)], TRAIN)
    assert match.dataset_id == expected_id
    assert match.text == next(p.reference for p in TRAIN if p.dataset_id == expected_id)
    assert 0 < match.score < 100


def test_translation_memory_without_train_rows_of_the_language_outputs_nothing():
    (match,) = translation_memory([("ur", "سلام")], TRAIN)
    assert (match.text, match.score, match.dataset_id) == ("", 0.0, None)


def test_constant_is_the_best_train_reference_by_brute_force():
    references = [
        "and God is the Knowing, the Wise",
        "and God is Forgiving, Merciful",
        "O you who believe",
        "They said: our Lord, and God is with the patient",
        "x",
        "And We gave Moses the Book, and God is the All-Hearing",
    ]
    best = max(
        references,
        key=lambda h: corpus_score(Metric.CHRF, [h] * len(references), references).score,
    )
    found = constant(references)
    assert found.text == best
    assert found.chrf == pytest.approx(corpus_score(Metric.CHRF, [best] * len(references), references).score)


def test_constant_without_train_references_outputs_nothing():
    assert constant([]) == Constant("", 0.0, 0)
