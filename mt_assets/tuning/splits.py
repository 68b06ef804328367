"""The split: a pure function of (stable row key, seed, sizes).

1. Every row gets a number u in [0, 1): the first 8 bytes of
   sha256(f"{seed}:{edition}:{source_reference}") read as an integer / 2**64. The key is
   the edition *name* and the row's reference, never a database id, so re-loading a file
   or a new version of an edition with the same references gives the same u.
   (A row without a reference is keyed by its normalised source text instead.)
2. A stratum is (source language, edition). Each stratum of n rows asks for
   round(n * test_size) test rows and round(n * validation_size) validation rows
   (round half up).
3. Rows whose normalised source text (NFKC, casefolded, whitespace collapsed) is equal form a
   group that is assigned as one unit, so no text is in two splits. Groups are taken in
   order of their smallest u; a group goes to test if it fits the test quota of every
   stratum it touches, else to validation if it fits there, else to train. With no
   repeated texts this is exactly "the round(n * test_size) rows with the smallest u are
   test, the next round(n * validation_size) are validation". A group too large for the
   remaining quota goes to a later split: leak-freedom wins over exact counts, and the
   size check reports any deviation.
4. `max_train_rows` keeps the train rows with the smallest u and drops the rest; test and
   validation are unaffected, so a capped config is still comparable with an uncapped one.

Two configs that select the same rows with the same seed and sizes get the same test rows.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
Stratum = tuple[str, str]  # (source_language, edition)


@dataclass(frozen=True)
class Row:
    dataset_id: int
    edition: str
    source_reference: str | None
    source_language: str
    source_text: str

    @property
    def stratum(self) -> Stratum:
        return (self.source_language, self.edition)

    @property
    def stable_key(self) -> str:
        if self.source_reference:
            return f"{self.edition}:{self.source_reference}"
        return f"{self.edition}:text:{normalise(self.source_text)}"


@dataclass(frozen=True)
class Quota:
    rows: int
    test: int
    validation: int


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def unit(seed: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def quota_count(rows: int, size: float) -> int:
    # Round half up (Python's round() is half-to-even, which surprises in a spec).
    return math.floor(rows * size + 0.5)


def quotas(rows: Iterable[Row], test_size: float, validation_size: float) -> dict[Stratum, Quota]:
    counts = Counter(row.stratum for row in rows)
    return {
        stratum: Quota(n, quota_count(n, test_size), quota_count(n, validation_size))
        for stratum, n in sorted(counts.items())
    }


def assign(
    rows: Iterable[Row],
    *,
    test_size: float,
    validation_size: float,
    seed: int,
    max_train_rows: int | None = None,
) -> dict[int, Split]:
    """dataset_id -> split for every row kept (all rows unless `max_train_rows` caps train)."""
    # dataset_id only breaks ties between rows with equal keys (no reference, same text).
    ranked = sorted((unit(seed, key := row.stable_key), key, row.dataset_id, row) for row in rows)
    limits = quotas((row for *_, row in ranked), test_size, validation_size)
    # Insertion order = order of each group's first member, i.e. of its smallest u.
    groups: dict[str, list[Row]] = {}
    for *_, row in ranked:
        groups.setdefault(normalise(row.source_text), []).append(row)

    quota = {
        "test": {s: q.test for s, q in limits.items()},
        "validation": {s: q.validation for s, q in limits.items()},
    }
    result: dict[int, Split] = {}
    for members in groups.values():
        per_stratum = Counter(row.stratum for row in members) if len(members) > 1 else {members[0].stratum: 1}
        split: Split = "train"
        for candidate in ("test", "validation"):
            left = quota[candidate]
            if all(n <= left[s] for s, n in per_stratum.items()):
                split = candidate
                for s, n in per_stratum.items():
                    left[s] -= n
                break
        for row in members:
            result[row.dataset_id] = split

    if max_train_rows is not None:
        train = [row.dataset_id for *_, row in ranked if result[row.dataset_id] == "train"]
        for dataset_id in train[max_train_rows:]:
            del result[dataset_id]
    return result


def overlapping_texts(rows: Iterable[Row], assignment: Mapping[int, Split]) -> dict[str, set[Split]]:
    """Normalised source texts found in more than one split (a leak when one of them is test)."""
    seen: dict[str, set[Split]] = defaultdict(set)
    for row in rows:
        if row.dataset_id in assignment:
            seen[normalise(row.source_text)].add(assignment[row.dataset_id])
    return {text: splits for text, splits in seen.items() if len(splits) > 1}
