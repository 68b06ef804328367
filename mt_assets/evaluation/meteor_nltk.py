"""The half of METEOR that needs nltk (`meteor.py` says what METEOR is here and when it is
skipped): a WordNet 3.0 reader built from the corpus `meteor.build_corpus` lays out, kept once
per process, and the scorer over it. Imported only by `meteor.meteor_setup`, so loading the
Dagster definitions never loads nltk."""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nltk.data
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.stem.api import StemmerI
from nltk.stem.porter import PorterStemmer
from nltk.translate.meteor_score import single_meteor_score
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from mt_assets.evaluation.control import CONTROL_SEEDS, Control, derangement
from mt_assets.evaluation.meteor import ALPHA, BETA, GAMMA, METEOR, build_corpus, corpus_dir
from mt_assets.evaluation.metrics import check_corpus


class _WordNet30(WordNetCorpusReader):
    """nltk's reader with synsets memoised per word: METEOR asks for the same words' synonyms
    in every derangement of the control. Same synsets, same scores."""

    def __init__(self, root: str) -> None:
        self._synonyms: dict[str, list] = {}
        super().__init__(root, None)

    def map_wn(self, version: str = "wordnet") -> None:
        # nltk maps the Open Multilingual Wordnet's 3.0 offsets to the loaded version by reading
        # index.sense twice (~6 s). There is no OMW here (omw_reader None) and this is 3.0.
        return None

    def synsets(self, lemma, pos=None, lang="eng", check_exceptions=True):
        if pos is not None or lang != "eng" or not check_exceptions:
            return super().synsets(lemma, pos, lang, check_exceptions)
        if lemma not in self._synonyms:
            self._synonyms[lemma] = super().synsets(lemma)
        return self._synonyms[lemma]


class _CachedPorter(StemmerI):
    """nltk's PorterStemmer (METEOR's default) memoised per word: stemming is most of METEOR's
    time, and the control stems every output ten times over."""

    def __init__(self) -> None:
        self._porter = PorterStemmer()
        self._stems: dict[str, str] = {}

    def stem(self, token: str) -> str:
        if token not in self._stems:
            self._stems[token] = self._porter.stem(token)
        return self._stems[token]


# Parsing WordNet's indices takes ~4 s: once per process and WordNet source directory, whichever
# MT_HOME asks again (each test has its own); the copy is made by the first.
_READERS: dict[Path, _WordNet30] = {}


def reader_for(source: Path, nltk_data: Path) -> _WordNet30:
    key = source.resolve()
    if key not in _READERS:
        build_corpus(source, corpus_dir(nltk_data))
        # nltk opens corpora only under a root in nltk.data.path: our nltk_data, after the user's own.
        if str(nltk_data) not in nltk.data.path:
            nltk.data.path.append(str(nltk_data))
        with warnings.catch_warnings():
            # "The multilingual functions are not available": we pass no Open Multilingual Wordnet.
            warnings.simplefilter("ignore", UserWarning)
            reader = _WordNet30(str(corpus_dir(nltk_data)))
        # nltk opens a data file at its first synset and keeps it open: open all four now, so the
        # reader no longer needs its directory (a test's MT_HOME may be gone by the next test).
        for pos in ("n", "v", "a", "r"):
            reader._data_file(pos)
        _READERS[key] = reader
    return _READERS[key]


@dataclass(frozen=True)
class MeteorScorer:
    """nltk's METEOR with one WordNet reader; every score on the 0-100 scale."""

    wordnet: WordNetCorpusReader
    wordnet_version: str
    stemmer: StemmerI = field(default_factory=_CachedPorter)

    @property
    def signature(self) -> str:
        return (
            f"nltk:{nltk.__version__}|wordnet:{self.wordnet_version}|alpha:{ALPHA}|beta:{BETA}|gamma:{GAMMA}"
            "|tok:13a|case:lc|stem:porter|corpus:mean-of-segments"
        )

    def segment_scores(self, hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
        tokenize = Tokenizer13a()
        return [
            100.0 * single_meteor_score(
                tokenize(ref).split(), tokenize(hyp).split(), stemmer=self.stemmer, wordnet=self.wordnet,
                alpha=ALPHA, beta=BETA, gamma=GAMMA,
            )
            for hyp, ref in zip(hypotheses, references, strict=True)
        ]

    def corpus_score(self, hypotheses: Sequence[str], references: Sequence[str]) -> float:
        check_corpus(hypotheses, references)
        return statistics.fmean(self.segment_scores(hypotheses, references))

    def control(
        self, hypotheses: Sequence[str], references: Sequence[str], seeds: Sequence[int] = CONTROL_SEEDS
    ) -> Control:
        """The style control of `control.py` for METEOR: the corpus score against the references
        permuted by each seed's derangement; mean and sample sd over the seeds."""
        check_corpus(hypotheses, references)
        deranged = []
        for seed in seeds:
            order = derangement(len(references), seed)
            deranged.append(self.corpus_score(hypotheses, [references[j] for j in order]))
        return Control(
            metric=METEOR,
            score=self.corpus_score(hypotheses, references),
            control_score=statistics.fmean(deranged),
            control_sd=statistics.stdev(deranged),
            seeds=len(deranged),
        )
