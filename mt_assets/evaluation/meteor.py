"""METEOR, offline: nltk's implementation with Debian's WordNet 3.0, and why not when it cannot run.

nltk (`nltk.translate.meteor_score`) matches words exactly, then by Porter stem, then by WordNet
synonym. Its WordNet reader wants the WordNet 3.0 database files plus `lexnames`, which Debian's
`wordnet-base` / `wordnet-sense-index` (under /usr/share/wordnet, or MT_WORDNET_DIR) do not
ship. `meteor_setup` builds
MT_HOME/nltk_data/corpora/wordnet/ (nltk's own layout): a copy of each Debian file (36 MB, kept
for the next run) plus the generated `lexnames`, parsed once per process (~4 s). Not links: nltk 3.10 resolves every file it
opens and refuses a symlink that lands outside the corpus root, and any file with more than one
hard link. That nltk_data directory is appended to nltk.data.path in this process
only, which nltk requires of any corpus root; the user's nltk configuration (~/nltk_data,
NLTK_DATA) is left alone, and nothing is downloaded.

Scores are on sacrebleu's 0-100 scale: the corpus METEOR is the mean of nltk's sentence scores
(nltk has no corpus-level METEOR) x 100, on segments tokenized with sacrebleu's 13a tokenizer
(the one BLEU uses; nltk's word_tokenize would need the punkt model). nltk's defaults
alpha 0.9, beta 3.0, gamma 0.5, lowercasing and the Porter stemmer; the signature says all of it.
Stored as metric `meteor` (sql/0017_meteor_metric.sql) over the whole test set, outside the
sacrebleu `Metric` enum: no per-language or per-edition score and no paired test. When WordNet or
nltk is missing the evaluation says so in one line and stores no METEOR row, never a 0.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mt_assets.settings import Settings

if TYPE_CHECKING:
    from mt_assets.evaluation.meteor_nltk import MeteorScorer

ENV = "MT_WORDNET_DIR"
DEBIAN_WORDNET = Path("/usr/share/wordnet")
PACKAGES = "wordnet-base wordnet-sense-index"
WORDNET_VERSION = "3.0"
ALPHA, BETA, GAMMA = 0.9, 3.0, 0.5  # nltk's defaults, stated so the signature cannot drift

# The files nltk's WordNetCorpusReader opens (its _FILES, less lexnames), all from Debian.
WORDNET_FILES = (
    "cntlist.rev", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)
# WordNet 3.0's 45 lexicographer files in file-number order, from its lexnames(5WN) man page
# (shipped by wordnet-base as /usr/share/man/man5/lexnames.5WN.gz).
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
# lexnames(5WN): the third field is the syntactic category, 1 noun, 2 verb, 3 adjective, 4 adverb.
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class MeteorMetric(StrEnum):
    """The `llm.evaluation.metric` value; `label` and `higher_is_better` as `Metric` has them."""

    METEOR = "meteor"

    @property
    def label(self) -> str:
        return "METEOR"

    @property
    def higher_is_better(self) -> bool:
        return True


METEOR = MeteorMetric.METEOR


def lexnames_text() -> str:
    """The lexnames file: "NN<TAB>name<TAB>category" per line, as lexnames(5WN) describes it."""
    return "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def default_nltk_data(environ: Mapping[str, str] | None = None) -> Path:
    return Settings.from_env(environ).home / "nltk_data"


def corpus_dir(nltk_data: Path) -> Path:
    """Where nltk looks for WordNet under an nltk_data root (its LazyCorpusLoader does too: the
    reader's OMW version mapping loads "corpora/wordnet" by name while it starts)."""
    return nltk_data / "corpora" / "wordnet"


def _place(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source`, atomically (a temporary name, then a rename), so
    concurrent builds (test workers) never see half a file; an equal-sized copy is kept."""
    if target.exists() and target.stat().st_size == source.stat().st_size:
        return
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(source, temporary)
    temporary.replace(target)


def build_corpus(wordnet_dir: Path, cache: Path) -> None:
    """Make `cache` an nltk WordNet corpus directory: `wordnet_dir`'s files and the generated lexnames."""
    missing = [name for name in WORDNET_FILES if not (wordnet_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{wordnet_dir} lacks {', '.join(missing)}")
    cache.mkdir(parents=True, exist_ok=True)
    for name in WORDNET_FILES:
        _place(wordnet_dir / name, cache / name)
    temporary = cache / f".lexnames.{os.getpid()}"
    temporary.write_text(lexnames_text(), encoding="utf-8")
    temporary.replace(cache / "lexnames")


@dataclass(frozen=True)
class MeteorSetup:
    scorer: MeteorScorer | None  # None: METEOR is skipped, `message` says why
    message: str  # the one log line: what happens with METEOR in this evaluation


def meteor_setup(
    wordnet_dir: Path | None = None, nltk_data: Path | None = None, environ: Mapping[str, str] | None = None
) -> MeteorSetup:
    """A METEOR scorer over WordNet from `wordnet_dir` (default MT_WORDNET_DIR, else Debian's
    /usr/share/wordnet), its nltk corpus built under `nltk_data` (default MT_HOME/nltk_data)."""
    env = os.environ if environ is None else environ
    source = wordnet_dir or Path(env.get(ENV) or DEBIAN_WORDNET)
    data = (nltk_data or default_nltk_data(env)).absolute()
    if not source.is_dir():
        return MeteorSetup(
            None, f"METEOR skipped: no WordNet at {source} (apt-get install {PACKAGES}, or set {ENV})"
        )
    # Imported here: nltk costs every process that loads the Dagster definitions half a second.
    from mt_assets.evaluation.meteor_nltk import MeteorScorer, reader_for

    try:
        reader = reader_for(source, data)
        version = reader.get_version()
    except Exception as err:  # nltk raises what its parsers hit; the line names it and the directory
        return MeteorSetup(
            None, f"METEOR skipped: WordNet at {source} did not load ({type(err).__name__}: {err})"
        )
    if version != WORDNET_VERSION:
        return MeteorSetup(
            None, f"METEOR skipped: {source} holds WordNet {version}; the lexnames built here are WordNet "
            f"{WORDNET_VERSION}'s"
        )
    scorer = MeteorScorer(reader, version)
    return MeteorSetup(scorer, f"METEOR scored with WordNet {version} from {source} ({scorer.signature})")



def __getattr__(name: str) -> Any:
    # `meteor.MeteorScorer` without importing nltk until it is asked for
    if name == "MeteorScorer":
        from mt_assets.evaluation.meteor_nltk import MeteorScorer

        return MeteorScorer
    raise AttributeError(name)
