"""METEOR with Debian's WordNet: the same numbers as nltk's own function, a WordNet synonym
counts as a match, the style control leaves a constant output no margin, evaluate() stores one
METEOR row per method with its control, and without WordNet one line says it was skipped.

Needs Debian's wordnet-base and wordnet-sense-index (scripts/test installs them); without them
these tests fail rather than skip."""

from __future__ import annotations

import random
from pathlib import Path

import psycopg
import pytest
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.translate.meteor_score import single_meteor_score

from mt_assets.evaluation.evaluate import evaluate
from mt_assets.evaluation.leaderboard import details_markdown, leaderboard_json, leaderboard_rows
from mt_assets.evaluation.leaderboard_store import load_leaderboard
from mt_assets.evaluation.meteor import (
    DEBIAN_WORDNET,
    LEXNAMES,
    METEOR,
    WORDNET_FILES,
    MeteorScorer,
    MeteorSetup,
    corpus_dir,
    meteor_setup,
)
from mt_assets.evaluation.metrics import Metric
from mt_assets.evaluation.rows import TranslationRow
from mt_assets.evaluation.run import evaluate_execution
from mt_assets.evaluation.scopes import Scope
from mt_assets_tests.test_evaluation_store import conn, execution  # noqa: F401 (fixtures: a scored execution)

WORDS = "the a cat dog sat ran on under mat house big small red old man woman car road said went".split()
_rng = random.Random(11)
REFS = [" ".join(_rng.choice(WORDS) for _ in range(_rng.randint(6, 14))) + "." for _ in range(40)]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> MeteorScorer:
    setup = meteor_setup(DEBIAN_WORDNET, tmp_path_factory.mktemp("meteor") / "nltk_data")
    assert setup.scorer is not None, setup.message
    return setup.scorer


def test_the_corpus_is_built_in_nltk_layout_with_wordnet_30_lexnames(scorer: MeteorScorer) -> None:
    corpus = Path(scorer.wordnet.root.path)
    assert corpus == corpus_dir(corpus.parent.parent)
    assert all((corpus / name).stat().st_size == (DEBIAN_WORDNET / name).stat().st_size for name in WORDNET_FILES)
    lines = (corpus / "lexnames").read_text().splitlines()
    assert len(lines) == len(LEXNAMES) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"
    # The lexnames are WordNet's own: every synset's lexicographer file agrees with its part of speech.
    assert scorer.wordnet.synset("dog.n.01").lexname() == "noun.animal"
    assert scorer.wordnet.synset("run.v.01").lexname() == "verb.motion"
    assert scorer.wordnet_version == "3.0"
    assert "nltk:3.10." in scorer.signature and "wordnet:3.0" in scorer.signature
    assert "alpha:0.9|beta:3.0|gamma:0.5|tok:13a" in scorer.signature


def test_segment_scores_are_nltks_and_a_wordnet_synonym_counts(scorer: MeteorScorer) -> None:
    pairs = [
        ("The auto is red.", "The car is red."),
        ("the man went under the old road", "a woman ran on the road"),
        ("Dogs sat on mats.", "The dog sat on the mat."),
    ]
    ours = scorer.segment_scores([h for h, _ in pairs], [r for _, r in pairs])
    # nltk's function with its own default stemmer; the 13a tokenizer splits off the final period.
    direct = [
        100 * single_meteor_score(r.replace(".", " .").split(), h.replace(".", " .").split(), wordnet=scorer.wordnet)
        for h, r in pairs
    ]
    assert ours == pytest.approx(direct)
    # auto/car share a WordNet synset (no exact or stem match): the pair scores as the identical one.
    [synonym, identical, other] = scorer.segment_scores(
        ["The auto is red.", "The car is red.", "The cat is red."], ["The car is red."] * 3
    )
    assert synonym == pytest.approx(identical)
    assert other < synonym
    # The memoised synsets are nltk's own.
    for word in ("auto", "car", "dogs", "ran"):
        assert scorer.wordnet.synsets(word) == WordNetCorpusReader.synsets(scorer.wordnet, word)


def test_a_constant_output_keeps_no_margin_and_the_references_keep_one(scorer: MeteorScorer) -> None:
    constant = scorer.control(["the man said."] * len(REFS), REFS)
    # A derangement permutes the references; a constant's segment scores are merely reordered.
    assert constant.meaning_margin == pytest.approx(0.0, abs=1e-9)
    assert constant.control_sd == pytest.approx(0.0, abs=1e-9)
    references = scorer.control(REFS, REFS)
    assert references.score > 90
    assert references.meaning_margin > 30
    assert references.seeds == 10


def _rows(outputs: dict[str, list[str]]) -> list[TranslationRow]:
    rows, tid = [], 0
    for method, hyps in outputs.items():
        for i, (hyp, ref) in enumerate(zip(hyps, REFS, strict=True)):
            tid += 1
            rows.append(TranslationRow(tid, i, method, "ar", "ed", hyp, ref))
    return rows


def test_evaluate_adds_one_meteor_row_per_method_with_its_control(scorer: MeteorScorer) -> None:
    outputs = {"base": ["the man said."] * len(REFS), "references": list(REFS)}
    setup = MeteorSetup(scorer, "METEOR scored")
    scores = evaluate(_rows(outputs), "base", n=50, meteor=setup)
    meteor = {s.method: s for s in scores if s.metric is METEOR}
    assert sorted(meteor) == ["base", "references"]
    assert all(s.key.scope is Scope.ALL and s.p_value is None for s in meteor.values())
    base, true = meteor["base"], meteor["references"]
    assert base.score == pytest.approx(scorer.corpus_score(outputs["base"], REFS))
    assert base.meaning_margin == pytest.approx(0.0, abs=1e-9) and base.control_seeds == 10
    assert true.meaning_margin > 30 and true.control_score is not None
    assert true.meaning_gain == pytest.approx(true.meaning_margin - base.meaning_margin)
    assert base.meaning_gain is None
    assert true.signature == scorer.signature
    # The other metrics are unchanged by METEOR's presence; without a scorer there is no METEOR row.
    without = evaluate(_rows(outputs), "base", n=50, meteor=MeteorSetup(None, "METEOR skipped: test"))
    assert [s for s in scores if s.metric is not METEOR] == without == evaluate(_rows(outputs), "base", n=50)


def test_the_evaluation_step_stores_meteor_and_the_leaderboard_still_reads(
    conn: psycopg.Connection, execution: int, scorer: MeteorScorer  # noqa: F811 (the imported fixtures)
) -> None:
    evaluate_execution(conn, execution, n=50, meteor=MeteorSetup(scorer, "METEOR scored"))
    stored = conn.execute(
        "select m.name, ev.scope, ev.score, ev.control_score, ev.meaning_margin, ev.signature from llm.evaluation ev "
        "join llm.translation_method m on m.id = ev.translation_method_id where ev.metric = %s order by m.name",
        (METEOR.value,),
    ).fetchall()
    assert [(name, scope) for name, scope, *_ in stored] == [("tiny-lora-base", "all"), ("tiny-lora-fine-tuned", "all")]
    assert all(control is not None and margin is not None for *_, control, margin, _ in stored)
    assert stored[0][-1] == scorer.signature
    # The leaderboard's records are the sacrebleu metrics', each carrying its method's METEOR and margin.
    records = load_leaderboard(conn)
    assert {record.metric for record in records} == set(Metric)
    by_method = {name: (score, margin) for name, _, score, _, margin, _ in stored}
    for record in records:
        assert (record.meteor, record.meteor_margin) == by_method[record.method]
    (row, *_) = leaderboard_rows(records)
    assert f"{row.meteor:.2f} ({row.meteor_margin:+.2f})" in details_markdown([row])
    assert leaderboard_json([row])[0]["meteor"] == row.meteor


def test_without_wordnet_one_line_says_meteor_is_skipped(tmp_path: Path) -> None:
    empty = tmp_path / "wordnet"
    empty.mkdir()
    setup = meteor_setup(empty, tmp_path / "nltk_data")
    assert setup.scorer is None
    assert setup.message.startswith("METEOR skipped:") and str(empty) in setup.message
    assert "data.noun" in setup.message and "\n" not in setup.message
    absent = meteor_setup(tmp_path / "nowhere", tmp_path / "nltk_data")
    assert absent.scorer is None
    assert "apt-get install wordnet-base wordnet-sense-index" in absent.message
    # MT_WORDNET_DIR names the directory when no argument does.
    from_env = meteor_setup(nltk_data=tmp_path / "nltk_data", environ={"MT_WORDNET_DIR": str(empty)})
    assert from_env.scorer is None and str(empty) in from_env.message
