"""Floors computed from the data alone: three translation methods of kind `baseline` that need no
model, no torch and take seconds, written into every config's execution so evaluation scores them
like any method. A model that does not beat them has learned nothing worth its GPU hours.

- `baseline:copy-source`: the source text itself (what a system that does nothing outputs).
- `baseline:translation-memory`: for each test source, the reference of the most similar train
  source of the same config and the same source language, as a CAT tool's translation memory
  proposes it. The similarity is `rapidfuzz.fuzz.ratio` on the raw texts: the normalised Indel
  similarity of the two character sequences, 0-100, the kind of fuzzy-match percentage CAT tools
  show. Not `partial_ratio` (a short source inside a long one would score 100 and bring a long
  reference), not the token-set/sort scorers (they ignore word order, which a translation keeps),
  and no `default_process` (it turns Arabic and Persian diacritics, Unicode category Mn, into
  spaces). Ties go to the first train row in dataset-id order. The score is stored per row in
  llm.translation.match_score; a test row whose language has no train row gets "" and score 0.
- `baseline:constant`: one train reference output for every test row: the one whose corpus chrF++
  (`evaluation.metrics.scorer(Metric.CHRF)`, sacrebleu's CHRF(word_order=2)) against all of the
  config's train references is highest, i.e. the best a system that never reads its input could do.
  The search is exact over every distinct train reference, not a sample: for a constant hypothesis
  h, sacrebleu's corpus statistics summed over references r are, per n-gram order, hyp = |h| x (the
  references that have n-grams of that order), ref = sum of |r|, and match = sum over h's n-grams g
  of sum_{k <= count_h(g)} #{r : count_r(g) >= k} (since min(a, b) counts the k <= a with b >= k).
  One pass over the references builds those counts; each candidate then costs only its own
  n-grams, so 6,000 candidates take seconds instead of 36 million segment comparisons. The winner
  is re-scored with sacrebleu's own `corpus_score` and must agree. Ties go to the first in dataset-id
  order. A config without train rows gets "" (as the translation memory does for a language
  without train rows).

Each method is one global llm.translation_method row (tuning_config_id and llm_model NULL) whose
generation_config names what it does and the library versions; a changed definition (another
scorer, a new library version) drops its old outputs and scores, like a model method's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rapidfuzz
import sacrebleu
from rapidfuzz import fuzz, process
from sacrebleu.metrics.helpers import extract_all_char_ngrams, extract_word_ngrams

from mt_assets.evaluation.metrics import Metric, scorer
from mt_assets.translation.errors import TranslationError

BASELINE = "baseline"  # the llm.translation_method kind
COPY_SOURCE = "baseline:copy-source"
TRANSLATION_MEMORY = "baseline:translation-memory"
CONSTANT = "baseline:constant"


def definitions() -> dict[str, dict[str, Any]]:
    """Each baseline's stored definition (llm.translation_method.generation_config), in the order
    they are written."""
    chrf = scorer(Metric.CHRF)
    chrf.corpus_score(["x"], [["x"]])  # sacrebleu knows a signature's reference count only after scoring
    return {
        COPY_SOURCE: {"baseline": "copy-source"},
        TRANSLATION_MEMORY: {
            "baseline": "translation-memory",
            "scorer": "rapidfuzz.fuzz.ratio",
            "processor": None,
            "match": "most similar train source of the same config and source language",
            "rapidfuzz": rapidfuzz.__version__,
        },
        CONSTANT: {
            "baseline": "constant",
            "metric": str(chrf.get_signature()),
            "search": "exact, every distinct train reference against all train references",
            "sacrebleu": sacrebleu.__version__,
        },
    }


DESCRIPTIONS = {
    COPY_SOURCE: "floor: the source text itself",
    TRANSLATION_MEMORY: "floor: the reference of the most similar train source (rapidfuzz ratio)",
    CONSTANT: "floor: the one train reference with the best chrF++ against the train references, for every row",
}


@dataclass(frozen=True)
class TrainPair:
    dataset_id: int
    source_language: str
    source_text: str
    reference: str


@dataclass(frozen=True)
class Match:
    text: str  # the matched train row's reference ("" when none)
    score: float  # rapidfuzz.fuzz.ratio, 0-100
    dataset_id: int | None  # the matched train row


def translation_memory(tests: Sequence[tuple[str, str]], train: Sequence[TrainPair]) -> list[Match]:
    """For each (source language, source text), the closest train pair of that language."""
    by_language: dict[str, list[TrainPair]] = {}
    for pair in sorted(train, key=lambda p: p.dataset_id):
        by_language.setdefault(pair.source_language, []).append(pair)
    choices = {lang: [p.source_text for p in pairs] for lang, pairs in by_language.items()}
    out = []
    for language, source in tests:
        if language not in by_language:
            out.append(Match("", 0.0, None))
            continue
        _, score, index = process.extractOne(source, choices[language], scorer=fuzz.ratio)
        pair = by_language[language][index]
        out.append(Match(pair.reference, float(score), pair.dataset_id))
    return out


@dataclass(frozen=True)
class Constant:
    text: str
    chrf: float  # its corpus chrF++ against the train references
    candidates: int  # distinct train references searched


def _ngrams(chrf, text: str) -> list[Counter]:
    """sacrebleu CHRF's n-gram counters of one segment, one per order (chars, then words)."""
    text = chrf._preprocess_segment(text)
    orders = extract_all_char_ngrams(text, chrf.char_order, chrf.whitespace)
    words = chrf._remove_punctuation(text)
    return orders + [extract_word_ngrams(words, n) for n in range(1, chrf.word_order + 1)]


def constant(references: Sequence[str]) -> Constant:
    """The reference whose corpus chrF++ against all `references`, output for every one of them,
    is highest (exact; see the module docstring for how)."""
    if not references:
        return Constant("", 0.0, 0)  # no train rows: a system with no input and no data outputs nothing
    chrf = scorer(Metric.CHRF)
    grams = [_ngrams(chrf, r) for r in references]
    orders = chrf.char_order + chrf.word_order
    present = [0] * orders  # references with n-grams of the order (sacrebleu counts hyp n-grams only there)
    ref_total = [0] * orders
    at_least: list[dict[str, list[int]]] = [{} for _ in range(orders)]  # g -> [#refs with count >= k+1]
    for segment in grams:
        for i, counter in enumerate(segment):
            if counter:
                present[i] += 1
            ref_total[i] += sum(counter.values())
            table = at_least[i]
            for g, count in counter.items():
                levels = table.setdefault(g, [])
                if len(levels) < count:
                    levels.extend([0] * (count - len(levels)))
                for k in range(count):
                    levels[k] += 1
    best, best_score, seen = -1, -1.0, set()
    for index, (text, segment) in enumerate(zip(references, grams, strict=True)):
        if text in seen:
            continue
        seen.add(text)
        stats = []
        for i, counter in enumerate(segment):
            table = at_least[i]
            match = 0
            for g, count in counter.items():
                levels = table[g]  # every candidate is a reference, so each of its n-grams is there
                match += sum(levels[:count])
            stats += [sum(counter.values()) * present[i], ref_total[i], match]
        score = chrf._compute_f_score(stats)
        if score > best_score:
            best, best_score = index, score
    text = references[best]
    check = scorer(Metric.CHRF).corpus_score([text] * len(references), [list(references)]).score
    if abs(check - best_score) > 1e-6:
        raise TranslationError(
            f"baseline:constant: the sufficient-statistics chrF++ {best_score} disagrees with sacrebleu's "
            f"{check} (a sacrebleu version this code does not know?); report it"
        )
    return Constant(text, check, len(seen))


@dataclass(frozen=True)
class Outputs:
    events: tuple[dict[str, Any], ...]  # what TranslationWriter.add takes, one per row
    summary: str  # for the log line, e.g. ", mean match 41.2"


def outputs(name: str, pending: Sequence[dict[str, Any]], train: Sequence[TrainPair]) -> Outputs:
    """The baseline `name`'s outputs for `pending` (store.pending_rows of the config's test rows),
    drawn from the config's `train` pairs."""
    ids = [row["tuning_dataset_distribution_id"] for row in pending]
    if name == COPY_SOURCE:
        texts, scores, summary = [row["source_text"] for row in pending], [None] * len(pending), ""
    elif name == TRANSLATION_MEMORY:
        matches = translation_memory([(row["source_language"], row["source_text"]) for row in pending], train)
        texts, scores = [m.text for m in matches], [m.score for m in matches]
        unmatched = sum(m.dataset_id is None for m in matches)
        summary = f", mean match {sum(scores) / len(scores):.1f}" + (
            f", {unmatched} without a train row of their language (output empty)" if unmatched else ""
        )
    elif name == CONSTANT:
        best = constant([pair.reference for pair in train])
        texts, scores = [best.text] * len(pending), [None] * len(pending)
        shown = best.text if len(best.text) <= 60 else best.text[:57] + "..."
        summary = (
            f", {shown!r} (chrF++ {best.chrf:.2f} on the train references, best of {best.candidates})"
            if best.candidates
            else ", no train rows: output empty"
        )
    else:
        raise TranslationError(f"unknown baseline {name!r}; known: {', '.join(definitions())}")
    return Outputs(
        tuple(
            {"tuning_dataset_distribution_id": i, "translated_text": t, "match_score": s}
            for i, t, s in zip(ids, texts, scores, strict=True)
        ),
        summary,
    )
